package main

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/remoting-go/remoting/cmd/remoting/internal/jsoncbor"
	"github.com/remoting-go/remoting/internal/wire"
)

// printer writes descriptions for people.
type printer struct {
	w   io.Writer
	d   *wire.Description
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

// iface writes the interface of t and each of its methods.
func (p *printer) iface(t *target) {
	if t.keyed {
		p.printf("%s (keyed: call with -k <key>)\n", p.d.Interface)
	} else {
		p.printf("%s %s (id %s)\n", t.name, p.d.Interface, t.ref.ID)
	}
	for i := range p.d.Methods {
		p.printf("\n")
		p.method(&p.d.Methods[i], false)
	}
	p.printf("\ninvocation modes: sync, oneway, syncwithserver, async (-mode)\n")
}

// synthetic matches the names a description gives unnamed parameters and
// results.
var synthetic = regexp.MustCompile(`^[ar][0-9]+$`)

// method writes the signature of m and its doc; with detail, its
// arguments and results one per line, with their JSON forms.
func (p *printer) method(m *wire.MethodDesc, detail bool) {
	var params, results []string
	for i, v := range m.Params {
		t := p.d.Types[v.Type].Name
		if m.Variadic && i == len(m.Params)-1 {
			t = "..." + strings.TrimPrefix(t, "[]")
		}
		params = append(params, v.Name+" "+t)
	}
	named := false
	for _, v := range m.Results {
		named = named || !synthetic.MatchString(v.Name)
	}
	for _, v := range m.Results {
		if named {
			results = append(results, v.Name+" "+p.d.Types[v.Type].Name)
		} else {
			results = append(results, p.d.Types[v.Type].Name)
		}
	}
	if named {
		results = append(results, "err error")
	} else {
		results = append(results, "error")
	}
	res := strings.Join(results, ", ")
	if len(results) > 1 {
		res = "(" + res + ")"
	}
	p.printf("%s(%s) %s\n", m.Name, strings.Join(params, ", "), res)
	if m.Doc != "" {
		for line := range strings.SplitSeq(m.Doc, "\n") {
			p.printf("    %s\n", line)
		}
	}
	if m.ReadOnly {
		p.printf("    read-only (//remoting:readonly): a keyed object that saves every call does not save after it\n")
	}
	if !detail {
		return
	}
	p.printf("\nwire name %s; invocation modes: sync, oneway, syncwithserver, async (-mode)\n", m.Wire)
	p.values("arguments (a JSON object by name, or an array in this order)", m.Params)
	p.values("results (one is printed as itself, several as an object by name)", m.Results)
}

func (p *printer) values(title string, vs []wire.ValueDesc) {
	p.printf("\n%s:\n", title)
	if len(vs) == 0 {
		p.printf("  none\n")
		return
	}
	tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
	for _, v := range vs {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, p.d.Types[v.Type].Name, jsonForm(p.d, v.Type))
	}
	if err := tw.Flush(); err != nil && p.err == nil {
		p.err = err
	}
}

// types writes the structs that m's parameters and results use, each
// once, with their fields.
func (p *printer) types(m *wire.MethodDesc) {
	seen := map[int]bool{}
	var order []int
	var walk func(i int)
	walk = func(i int) {
		if seen[i] {
			return
		}
		seen[i] = true
		t := &p.d.Types[i]
		switch t.Kind {
		case wire.TypeStruct:
			order = append(order, i)
			for _, f := range t.Fields {
				walk(f.Type)
			}
		case wire.TypeSlice, wire.TypeArray, wire.TypePointer:
			walk(t.Elem)
		case wire.TypeMap:
			walk(t.Key)
			walk(t.Elem)
		}
	}
	for _, v := range append(append([]wire.ValueDesc(nil), m.Params...), m.Results...) {
		walk(v.Type)
	}
	for _, i := range order {
		t := &p.d.Types[i]
		p.printf("\n%s: struct, a JSON object (unknown fields are refused, missing ones are zero):\n", t.Name)
		tw := tabwriter.NewWriter(p.w, 0, 4, 2, ' ', 0)
		for _, f := range t.Fields {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", jsoncbor.JSONName(f), p.d.Types[f.Type].Name, jsonForm(p.d, f.Type))
		}
		if err := tw.Flush(); err != nil && p.err == nil {
			p.err = err
		}
	}
}

// jsonForm says how a value of type i is written in JSON, where the type
// name does not say it.
func jsonForm(d *wire.Description, i int) string {
	t := &d.Types[i]
	switch t.Kind {
	case wire.TypeBytes:
		if t.Len > 0 {
			return fmt.Sprintf("base64 string of %d bytes", t.Len)
		}
		return "base64 string, or null"
	case wire.TypeTime:
		return `RFC 3339 string, "2026-01-02T15:04:05+01:00"`
	case wire.TypeInt:
		if t.Name == "time.Duration" {
			return `duration string, "1.5s", or nanoseconds`
		}
		return fmt.Sprintf("integer, %d bits", t.Bits)
	case wire.TypeUint:
		return fmt.Sprintf("unsigned integer, %d bits", t.Bits)
	case wire.TypeFloat:
		return fmt.Sprintf("number, %d bits", t.Bits)
	case wire.TypeSlice:
		return "array, or null"
	case wire.TypeArray:
		return fmt.Sprintf("array of %d", t.Len)
	case wire.TypeMap:
		return "object, or null"
	case wire.TypePointer:
		return jsonForm(d, t.Elem) + ", or null"
	case wire.TypeRef:
		return "remote object " + t.Interface + ": only null from JSON"
	case wire.TypeOpaque:
		return "encodes itself: cannot be built from JSON"
	case wire.TypeStruct:
		return "object"
	case wire.TypeString:
		return "string"
	case wire.TypeBool:
		return "true or false"
	}
	return ""
}
