package stubgen

import (
	"bytes"
	"fmt"
	"go/types"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// typeTable is the table of types of one interface's description: each
// type once, so that a recursive type refers back to itself by index.
type typeTable struct {
	g     *generator
	index map[string]int // by the type's spelling with package paths
	list  []typeDesc
}

// typeDesc is one entry of the table, as the generated literal spells it.
type typeDesc struct {
	kind      string // the codegen constant, "TypeStruct"
	name      string
	bits      int
	elem, key int
	len       int
	fields    []fieldDesc
	toArray   bool
	iface     string
}

type fieldDesc struct {
	name, key           string
	keyAsInt, omitEmpty bool
	typ                 int
}

// of returns the index of t in the table, adding t (and the types it is
// made of) if it is not there.
func (tt *typeTable) of(t types.Type) int {
	id := types.TypeString(t, func(p *types.Package) string { return p.Path() })
	if i, ok := tt.index[id]; ok {
		return i
	}
	i := len(tt.list)
	tt.index[id] = i
	tt.list = append(tt.list, typeDesc{name: types.TypeString(t, func(p *types.Package) string { return p.Name() })})
	d := tt.describe(t)
	d.name = tt.list[i].name
	tt.list[i] = d
	return i
}

// describe returns the entry of t; the types it refers to are entered
// first, which is safe for t itself because of has entered its index.
func (tt *typeTable) describe(t types.Type) typeDesc {
	if tn := tt.g.remote(t); tn != nil {
		return typeDesc{kind: "TypeRef", iface: tn.Pkg().Path() + "." + tn.Name()}
	}
	switch u := types.Unalias(t).(type) {
	case *types.Named:
		obj := u.Obj()
		if obj.Pkg() != nil && obj.Pkg().Path() == "time" && obj.Name() == "Time" {
			return typeDesc{kind: "TypeTime"}
		}
		ms := types.NewMethodSet(types.NewPointer(u))
		if ms.Lookup(nil, "MarshalCBOR") != nil || obj.Pkg() != nil && obj.Pkg().Path() == "math/big" {
			return typeDesc{kind: "TypeOpaque"}
		}
		if ms.Lookup(nil, "MarshalBinary") != nil {
			return typeDesc{kind: "TypeBytes"} // a BinaryMarshaler travels as a byte string
		}
		return tt.describe(u.Underlying())
	case *types.Basic:
		return basicDesc(u)
	case *types.Pointer:
		return typeDesc{kind: "TypePointer", elem: tt.of(u.Elem())}
	case *types.Slice:
		if isByte(u.Elem()) {
			return typeDesc{kind: "TypeBytes"}
		}
		return typeDesc{kind: "TypeSlice", elem: tt.of(u.Elem())}
	case *types.Array:
		if isByte(u.Elem()) {
			return typeDesc{kind: "TypeBytes", len: int(u.Len())}
		}
		return typeDesc{kind: "TypeArray", elem: tt.of(u.Elem()), len: int(u.Len())}
	case *types.Map:
		return typeDesc{kind: "TypeMap", key: tt.of(u.Key()), elem: tt.of(u.Elem())}
	case *types.Struct:
		return tt.structDesc(u)
	}
	return typeDesc{kind: "TypeOpaque"} // the checker refuses the rest
}

// isByte reports whether t's underlying type is uint8 (byte), whose
// slices and arrays travel as byte strings.
func isByte(t types.Type) bool {
	b, ok := t.Underlying().(*types.Basic)
	return ok && b.Kind() == types.Uint8
}

func basicDesc(b *types.Basic) typeDesc {
	switch b.Kind() {
	case types.Bool, types.UntypedBool:
		return typeDesc{kind: "TypeBool"}
	case types.Int, types.Int64:
		return typeDesc{kind: "TypeInt", bits: 64}
	case types.Int8:
		return typeDesc{kind: "TypeInt", bits: 8}
	case types.Int16:
		return typeDesc{kind: "TypeInt", bits: 16}
	case types.Int32:
		return typeDesc{kind: "TypeInt", bits: 32}
	case types.Uint, types.Uint64:
		return typeDesc{kind: "TypeUint", bits: 64}
	case types.Uint8:
		return typeDesc{kind: "TypeUint", bits: 8}
	case types.Uint16:
		return typeDesc{kind: "TypeUint", bits: 16}
	case types.Uint32:
		return typeDesc{kind: "TypeUint", bits: 32}
	case types.Float32:
		return typeDesc{kind: "TypeFloat", bits: 32}
	case types.Float64:
		return typeDesc{kind: "TypeFloat", bits: 64}
	case types.String:
		return typeDesc{kind: "TypeString"}
	}
	return typeDesc{kind: "TypeOpaque"}
}

// structField is a field of a struct as the CBOR encoder sees it.
type structField struct {
	fieldDesc
	path   []int // indexes from the outer struct, through embedded structs
	tagged bool
	t      types.Type
}

// structDesc describes s as the CBOR library encodes it (the rules of
// encoding/json): the exported fields, and the fields of embedded structs
// without a name in their tag as if they were the outer struct's; a name
// that several fields have goes to the shallowest, then to the one whose
// tag names it, and otherwise to none. The struct option toarray comes
// from the tag of a field named "_".
func (tt *typeTable) structDesc(s *types.Struct) typeDesc {
	d := typeDesc{kind: "TypeStruct"}
	for i := range s.NumFields() {
		if s.Field(i).Name() == "_" {
			tag := reflect.StructTag(s.Tag(i)).Get("cbor")
			d.toArray = slices.Contains(strings.Split(tag, ","), "toarray")
		}
	}
	var all []structField
	visited := map[string]bool{}
	type level struct {
		s    *types.Struct
		path []int
	}
	next := []level{{s, nil}}
	for len(next) > 0 {
		cur := next
		next = nil
		count := map[string]int{} // embedded struct types at this level
		for _, l := range cur {
			for i := range l.s.NumFields() {
				if f := l.s.Field(i); f.Embedded() {
					if _, ok := embeddedStruct(f.Type()); ok && tagName(l.s.Tag(i)) == "" {
						count[types.TypeString(f.Type(), nil)]++
					}
				}
			}
		}
		for _, l := range cur {
			for i := range l.s.NumFields() {
				f := l.s.Field(i)
				path := append(slices.Clone(l.path), i)
				tag := reflect.StructTag(l.s.Tag(i))
				ct, ok := tag.Lookup("cbor")
				if !ok || ct == "" {
					ct = tag.Get("json")
				}
				if ct == "-" {
					continue
				}
				es, isStruct := embeddedStruct(f.Type())
				if !f.Exported() && !(f.Embedded() && isStruct) {
					continue
				}
				parts := strings.Split(ct, ",")
				name := parts[0]
				if f.Embedded() && isStruct && name == "" {
					id := types.TypeString(types.Unalias(f.Type()), nil)
					if count[id] > 1 || visited[id] {
						continue
					}
					visited[id] = true
					next = append(next, level{es, path})
					continue
				}
				sf := structField{path: path, tagged: ct != "", t: f.Type()}
				sf.name, sf.key = f.Name(), name
				if sf.key == "" {
					sf.key = f.Name()
				}
				for _, o := range parts[1:] {
					switch o {
					case "omitempty", "omitzero":
						sf.omitEmpty = true
					case "keyasint":
						sf.keyAsInt = true
					}
				}
				if sf.keyAsInt {
					if n, err := strconv.Atoi(sf.key); err == nil {
						sf.key = strconv.Itoa(n)
					}
				}
				all = append(all, sf)
			}
		}
	}
	// Keep the visible fields.
	var kept []structField
	for _, f := range all {
		best := true
		for _, o := range all {
			if o.key != f.key || o.keyAsInt != f.keyAsInt || slices.Equal(o.path, f.path) {
				continue
			}
			if len(o.path) < len(f.path) || len(o.path) == len(f.path) && (o.tagged || !f.tagged) {
				best = false
			}
		}
		if best {
			kept = append(kept, f)
		}
	}
	slices.SortFunc(kept, func(a, b structField) int { return slices.Compare(a.path, b.path) })
	for _, f := range kept {
		f.typ = tt.of(f.t)
		d.fields = append(d.fields, f.fieldDesc)
	}
	return d
}

// embeddedStruct returns the struct of an embedded field's type, through
// one pointer.
func embeddedStruct(t types.Type) (*types.Struct, bool) {
	t = types.Unalias(t)
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	s, ok := t.Underlying().(*types.Struct)
	return s, ok
}

// tagName returns the name a struct tag gives its field for CBOR.
func tagName(tag string) string {
	st := reflect.StructTag(tag)
	ct, ok := st.Lookup("cbor")
	if !ok || ct == "" {
		ct = st.Get("json")
	}
	name, _, _ := strings.Cut(ct, ",")
	return name
}

// valueNames returns the names of a description's parameters or results:
// the declared ones, and prefix with the position for the others.
func valueNames(vs []*types.Var, prefix string) []string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.Name()
		if names[i] == "" || names[i] == "_" {
			names[i] = fmt.Sprintf("%s%d", prefix, i)
		}
	}
	return names
}

// description writes the Interface Description of in.
func (e *emitter) description(b *bytes.Buffer, in *iface) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	tt := &typeTable{g: e.g, index: map[string]int{}}
	type value struct {
		name string
		typ  int
	}
	params := make([][]value, len(in.methods))
	results := make([][]value, len(in.methods))
	for i, m := range in.methods {
		for j, n := range valueNames(m.params, "a") {
			params[i] = append(params[i], value{n, tt.of(m.params[j].Type())})
		}
		for j, n := range valueNames(m.results, "r") {
			results[i] = append(results[i], value{n, tt.of(m.results[j].Type())})
		}
	}
	values := func(vs []value) string {
		var s []string
		for _, v := range vs {
			s = append(s, fmt.Sprintf("{Name: %q, Type: %d}", v.name, v.typ))
		}
		return "[]" + e.codegen + ".ValueDesc{" + strings.Join(s, ", ") + "}"
	}

	w("\n// ---- %s: Interface Description ----\n\n", in.name)
	w("// %s describes %s to clients that ask the server (remoting.Describe): the methods,\n", in.descVar, in.name)
	w("// their parameters and results, and the types they use, which refer to each other by index in Types.\n")
	w("var %s = &%s.Description{\n", in.descVar, e.codegen)
	w("\tInterface: %s,\n", in.constName)
	w("\tMethods: []%s.MethodDesc{\n", e.codegen)
	for i, m := range in.methods {
		w("\t\t{\n\t\t\tName: %q,\n\t\t\tWire: %q,\n", m.name, m.wire)
		if m.doc != "" {
			w("\t\t\tDoc: %q,\n", m.doc)
		}
		if len(params[i]) > 0 {
			w("\t\t\tParams: %s,\n", values(params[i]))
		}
		if len(results[i]) > 0 {
			w("\t\t\tResults: %s,\n", values(results[i]))
		}
		if m.variadic {
			w("\t\t\tVariadic: true,\n")
		}
		if m.readOnly {
			w("\t\t\tReadOnly: true,\n")
		}
		w("\t\t},\n")
	}
	w("\t},\n")
	w("\tTypes: []%s.TypeDesc{\n", e.codegen)
	for i, t := range tt.list {
		parts := []string{"Kind: " + e.codegen + "." + t.kind, fmt.Sprintf("Name: %q", t.name)}
		if t.bits != 0 {
			parts = append(parts, fmt.Sprintf("Bits: %d", t.bits))
		}
		switch t.kind {
		case "TypeSlice", "TypePointer", "TypeArray":
			parts = append(parts, fmt.Sprintf("Elem: %d", t.elem))
		case "TypeMap":
			parts = append(parts, fmt.Sprintf("Key: %d", t.key), fmt.Sprintf("Elem: %d", t.elem))
		}
		if t.len != 0 {
			parts = append(parts, fmt.Sprintf("Len: %d", t.len))
		}
		if t.toArray {
			parts = append(parts, "ToArray: true")
		}
		if t.iface != "" {
			parts = append(parts, fmt.Sprintf("Interface: %q", t.iface))
		}
		if t.kind != "TypeStruct" {
			w("\t\t%d: {%s},\n", i, strings.Join(parts, ", "))
			continue
		}
		w("\t\t%d: {%s, Fields: []%s.FieldDesc{\n", i, strings.Join(parts, ", "), e.codegen)
		for _, f := range t.fields {
			fp := []string{fmt.Sprintf("Name: %q", f.name), fmt.Sprintf("Key: %q", f.key)}
			if f.keyAsInt {
				fp = append(fp, "KeyAsInt: true")
			}
			if f.omitEmpty {
				fp = append(fp, "OmitEmpty: true")
			}
			fp = append(fp, fmt.Sprintf("Type: %d", f.typ))
			w("\t\t\t{%s},\n", strings.Join(fp, ", "))
		}
		w("\t\t}},\n")
	}
	w("\t},\n}\n")
}
