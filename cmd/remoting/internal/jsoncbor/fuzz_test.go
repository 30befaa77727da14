package jsoncbor_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/remoting-go/remoting/cmd/remoting/internal/jsoncbor"
	"github.com/remoting-go/remoting/internal/dispatch"
	"github.com/remoting-go/remoting/internal/wire"
	"github.com/remoting-go/remoting/test/e2e/shapes"
)

// FuzzDecodeResults reads arbitrary bytes as the results of each method
// of Shapes, as the command-line client reads a server's reply: no panic,
// and what it accepts is JSON.
func FuzzDecodeResults(f *testing.F) {
	d := shapes.ShapesInvoker().Description
	for _, tc := range []struct{ method, args string }{
		{"Struct", `{"l": {"From": {"X": 1}, "Label": "x", "Tags": ["a"], "Meta": {"k": 1}}}`},
		{"Time", `{"at": "2026-01-02T03:04:05+01:00", "d": "1s"}`},
		{"Maps", `{"m": {"a": [1, 2]}}`},
		{"Basics", `[true, -1, 2, 3, 4, 0.5, 1e10, 65, "s"]`},
	} {
		m, _ := d.Method(tc.method)
		body, err := jsoncbor.EncodeArgs(d, m, []byte(tc.args))
		if err != nil {
			f.Fatal(err)
		}
		reply, err := shapes.ShapesInvoker().Methods[m.Wire](context.Background(), shapesImpl{}, dispatch.NewArgs(body))
		if err != nil {
			f.Fatal(err)
		}
		out, err := wire.Marshal(reply)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tc.method, out)
	}
	f.Fuzz(func(t *testing.T, method string, body []byte) {
		m, ok := d.Method(method)
		if !ok {
			return
		}
		v, err := jsoncbor.DecodeResults(d, m, body)
		if err != nil {
			return
		}
		if _, err := json.Marshal(v); err != nil {
			t.Fatalf("DecodeResults(%s, %x) gave a value that is not JSON: %v", method, body, err)
		}
	})
}

// FuzzEncodeArgs builds the arguments of Shapes.Struct from arbitrary
// JSON: no panic, and what it accepts the generated Invoker decodes.
func FuzzEncodeArgs(f *testing.F) {
	d := shapes.ShapesInvoker().Description
	f.Add(`{"l": {"From": {"X": 1}, "Label": "x", "Tags": ["a"], "Meta": {"k": 1}}}`)
	f.Add(`[{"To": {"Y": -2}}]`)
	f.Add(`{"l": {"Meta": {"k": 1e400}}}`)
	m, _ := d.Method("Struct")
	f.Fuzz(func(t *testing.T, args string) {
		body, err := jsoncbor.EncodeArgs(d, m, []byte(args))
		if err != nil {
			return
		}
		if _, err := shapes.ShapesInvoker().Methods[m.Wire](context.Background(), shapesImpl{}, dispatch.NewArgs(body)); err != nil {
			t.Fatalf("EncodeArgs(%s) = %x, which the Invoker refuses: %v", args, body, err)
		}
	})
}
