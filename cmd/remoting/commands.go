package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/fxamacker/cbor/v2"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/cmd/remoting/internal/jsoncbor"
	"github.com/remoting-go/remoting/internal/wire"
)

// list prints the named objects, with their interfaces and methods, and
// the keyed interfaces.
func list(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cn conn
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	cn.flags(fs)
	asJSON := fs.Bool("json", false, "print the listing as JSON")
	rest, err := parse(fs, args, stderr, 1, 1, "<endpoint>")
	if err != nil {
		return err
	}
	ctx, done, err := cn.dial(ctx, rest[0])
	if err != nil {
		return err
	}
	defer done()
	l, err := cn.list(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, l)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tINTERFACE\tMETHODS")
	for _, o := range l.Objects {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", o.Name, o.Interface, strings.Join(o.Methods, " "))
	}
	for _, k := range l.Keyed {
		fmt.Fprintf(tw, "(keyed)\t%s\t%s\n", k.Interface, strings.Join(k.Methods, " "))
	}
	return tw.Flush()
}

// describe prints an interface, or one method of it.
func describe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cn conn
	fs := flag.NewFlagSet("describe", flag.ContinueOnError)
	cn.flags(fs)
	asJSON := fs.Bool("json", false, "print the Interface Description as JSON")
	rest, err := parse(fs, args, stderr, 2, 2, "<endpoint> <name>[.<Method>]")
	if err != nil {
		return err
	}
	ctx, done, err := cn.dial(ctx, rest[0])
	if err != nil {
		return err
	}
	defer done()
	name, method := rest[1], ""
	t, err := cn.resolve(ctx, name, false)
	if remoting.CodeOf(err) == remoting.CodeNotFound && strings.Contains(name, ".") {
		i := strings.LastIndexByte(name, '.')
		name, method = name[:i], name[i+1:]
		t, err = cn.resolve(ctx, name, false)
	}
	if err != nil {
		return err
	}
	var m *wire.MethodDesc
	if method != "" {
		if m, err = t.method(method); err != nil {
			return err
		}
	}
	if *asJSON {
		if m != nil {
			return printJSON(stdout, m)
		}
		return printJSON(stdout, t.desc)
	}
	p := &printer{w: stdout, d: t.desc}
	if m != nil {
		p.method(m, true)
		p.types(m)
		return p.err
	}
	p.iface(t)
	return p.err
}

// call calls one method with JSON arguments and prints its results.
func call(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cn conn
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	cn.flags(fs)
	mode := fs.String("mode", "sync", "invocation `mode`: sync, oneway, syncwithserver or async")
	var key string
	fs.StringVar(&key, "k", "", "call the keyed object that `key` names; the target is <interface>.<Method>")
	fs.StringVar(&key, "key-of", "", "the same as -k")
	meta := remoting.Metadata{}
	fs.Func("H", "invocation metadata `key=value`, repeatable", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return fmt.Errorf("want key=value, got %q", s)
		}
		meta[k] = v
		return nil
	})
	rest, err := parse(fs, args, stderr, 2, 3, "<endpoint> <name>.<Method> ['<json args>']")
	if err != nil {
		return err
	}
	m, ok := modes[*mode]
	if !ok {
		fmt.Fprintf(stderr, "remoting call: -mode %q: want sync, oneway, syncwithserver or async\n", *mode)
		return errUsage
	}
	i := strings.LastIndexByte(rest[1], '.')
	if i <= 0 || i == len(rest[1])-1 {
		fmt.Fprintf(stderr, "remoting call: %q: want <name>.<Method>\n", rest[1])
		return errUsage
	}
	name, method := rest[1][:i], rest[1][i+1:]
	var jsonArgs []byte
	if len(rest) == 3 {
		jsonArgs = []byte(rest[2])
	}

	ctx, done, err := cn.dial(ctx, rest[0])
	if err != nil {
		return err
	}
	defer done()
	t, err := cn.resolve(ctx, name, key != "")
	if err != nil {
		return err
	}
	switch {
	case key != "":
		if t.ref, err = remoting.KeyRef(t.desc.Interface, key); err != nil {
			return err
		}
	case t.keyed:
		return remoting.Errorf(remoting.CodeInvalidArgument, "%s is an interface of keyed objects: name the object with -k <key>", t.desc.Interface)
	}
	md, err := t.method(method)
	if err != nil {
		return err
	}
	body, err := jsoncbor.EncodeArgs(t.desc, md, jsonArgs)
	if err != nil {
		return err
	}
	if len(meta) == 0 {
		meta = nil
	}
	var reply cbor.RawMessage
	inv := &remoting.Invocation{Target: t.ref, Method: md.Wire, Args: cbor.RawMessage(body), Meta: meta, Mode: m}
	if len(md.Results) > 0 {
		inv.Reply = &reply // a method whose only result is error replies with no body
	}
	switch m {
	case remoting.ModeAsync:
		outcome := make(chan error, 1)
		inv.Done = func(err error) { outcome <- err }
		if err := cn.c.Invoke(ctx, inv); err != nil {
			return err
		}
		err = <-outcome
	case remoting.ModeOneway:
		if err := cn.c.Invoke(ctx, inv); err != nil {
			return err
		}
		// The request is queued; a round trip on the same stream after it
		// returns once the server has read it, so that closing the
		// connection as the command exits cannot lose it.
		_, err = cn.c.Lookup(ctx, "", "")
		if remoting.CodeOf(err) == remoting.CodeNotFound {
			err = nil
		}
		if err == nil {
			fmt.Fprintf(stderr, "oneway: %s sent\n", md.Wire)
		}
		return err
	case remoting.ModeSyncWithServer:
		if err := cn.c.Invoke(ctx, inv); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "syncwithserver: %s accepted\n", md.Wire)
		return nil
	default:
		err = cn.c.Invoke(ctx, inv)
	}
	if err != nil {
		return err
	}
	results, err := jsoncbor.DecodeResults(t.desc, md, reply)
	if err != nil || len(md.Results) == 0 {
		return err
	}
	return printJSON(stdout, results)
}

// modes are the invocation modes by their names on the command line.
var modes = map[string]remoting.Mode{
	"sync":           remoting.ModeSync,
	"oneway":         remoting.ModeOneway,
	"syncwithserver": remoting.ModeSyncWithServer,
	"async":          remoting.ModeAsync,
}

func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return remoting.Errorf(remoting.CodeInternal, "write JSON: %v", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
