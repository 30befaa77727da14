package jsoncbor_test

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/cmd/remoting/internal/jsoncbor"
	"github.com/remoting-go/remoting/codegen"
	"github.com/remoting-go/remoting/internal/dispatch"
	"github.com/remoting-go/remoting/internal/testservice"
	"github.com/remoting-go/remoting/internal/wire"
	"github.com/remoting-go/remoting/test/e2e/shapes"
)

// shapesImpl echoes, as the Shapes interface says.
type shapesImpl struct{}

func (shapesImpl) Basics(_ context.Context, b bool, i int, i8 int8, u16 uint16, u64 uint64, f32 float32, f64 float64, r rune, s string) (bool, int, int8, uint16, uint64, float32, float64, rune, string, error) {
	return b, i, i8, u16, u64, f32, f64, r, s, nil
}
func (shapesImpl) Bytes(_ context.Context, b []byte) ([]byte, error)      { return b, nil }
func (shapesImpl) Slices(_ context.Context, s []string) ([]string, error) { return s, nil }
func (shapesImpl) Maps(_ context.Context, m map[string][]int) (map[string][]int, error) {
	return m, nil
}
func (shapesImpl) Pointer(_ context.Context, p *shapes.Point) (*shapes.Point, error) { return p, nil }
func (shapesImpl) Arrays(_ context.Context, a [3]shapes.Point) ([3]shapes.Point, error) {
	return [3]shapes.Point{a[2], a[1], a[0]}, nil
}
func (shapesImpl) Struct(_ context.Context, l shapes.Line) (shapes.Line, error) { return l, nil }
func (shapesImpl) Named(_ context.Context, k shapes.Kind) (shapes.Kind, error)  { return k + 1, nil }
func (shapesImpl) Generic(_ context.Context, p shapes.Pair[string, []shapes.Point]) (shapes.Pair[string, []shapes.Point], error) {
	return p, nil
}
func (shapesImpl) Time(_ context.Context, at time.Time, d time.Duration) (time.Time, error) {
	return at.Add(d), nil
}
func (shapesImpl) Addr(_ context.Context, a netip.Addr, port uint16) (netip.AddrPort, error) {
	return netip.AddrPortFrom(a, port), nil
}
func (shapesImpl) Join(_ context.Context, sep string, parts ...string) (string, int, error) {
	return strings.Join(parts, sep), len(parts), nil
}
func (shapesImpl) Unnamed(_ context.Context, s string, n int) (string, error) {
	return strings.Repeat(s, n), nil
}
func (shapesImpl) Nothing(context.Context) error { return nil }
func (shapesImpl) Fail(_ context.Context, m string) error {
	return remoting.Errorf(remoting.CodeApplication, "%s", m)
}

// call encodes args as a call of method, runs it on impl through the
// generated Invoker, as a server would, and returns the results as JSON.
func call(t *testing.T, inv *codegen.Invoker, impl any, method, args string) (string, error) {
	t.Helper()
	d := inv.Description
	require.NoError(t, d.Check(), "Check(%s)", d.Interface)
	m, ok := d.Method(method)
	require.True(t, ok, "Method(%s)", method)
	body, err := jsoncbor.EncodeArgs(d, m, []byte(args))
	if err != nil {
		return "", err
	}
	reply, err := inv.Methods[m.Wire](context.Background(), impl, dispatch.NewArgs(body))
	if err != nil {
		return "", err
	}
	if reply == nil {
		return "", nil
	}
	out, err := wire.Marshal(reply)
	require.NoError(t, err, "Marshal of the reply of %s", method)
	v, err := jsoncbor.DecodeResults(d, m, out)
	require.NoError(t, err, "DecodeResults(%s)", method)
	js, err := json.Marshal(v)
	require.NoError(t, err, "json.Marshal of the results of %s", method)
	return string(js), nil
}

func TestRoundTrip(t *testing.T) {
	echo, sh := testservice.EchoInvoker(), shapes.ShapesInvoker()
	tests := []struct {
		name   string
		inv    *codegen.Invoker
		impl   any
		method string
		args   string
		want   string
	}{
		{"string by name", echo, &testservice.Impl{}, "Echo", `{"s": "héllo"}`, `"héllo"`},
		{"string by position", echo, &testservice.Impl{}, "Echo", `["x"]`, `"x"`},
		{"struct with time, bytes, slice and map", echo, &testservice.Impl{}, "Round",
			`{"p": {"Name": "n", "Seq": -7, "Tags": ["a", "b"], "Attrs": {"k": 1}, "When": "2026-03-04T05:06:07.123456789+05:30", "Data": "AAEC/w=="}}`,
			`{"Name":"n","Seq":-7,"Tags":["a","b"],"Attrs":{"k":1},"When":"2026-03-04T05:06:07.123456789+05:30","Data":"AAEC/w=="}`},
		{"missing fields are zero, field names in any case", echo, &testservice.Impl{}, "Round", `{"p": {"name": "only"}}`,
			`{"Name":"only","Seq":0,"Tags":null,"Attrs":null,"When":"0001-01-01T00:00:00Z","Data":null}`},
		{"negative zone offset", sh, shapesImpl{}, "Time", `{"at": "2026-01-02T03:04:05-08:00", "d": "90m"}`, `"2026-01-02T04:34:05-08:00"`},
		{"duration in nanoseconds", sh, shapesImpl{}, "Time", `{"at": "2026-01-02T03:04:05Z", "d": 1000000000}`, `"2026-01-02T03:04:06Z"`},
		{"basics", sh, shapesImpl{}, "Basics",
			`{"b": true, "i": -9007199254740993, "i8": -128, "u16": 65535, "u64": 18446744073709551615, "f32": 0.1, "f64": 1e300, "r": 955, "s": ""}`,
			`{"r0":true,"r1":-9007199254740993,"r2":-128,"r3":65535,"r4":18446744073709551615,"r5":0.1,"r6":1e+300,"r7":955,"r8":""}`},
		{"nil and empty bytes", sh, shapesImpl{}, "Bytes", `{"b": null}`, `null`},
		{"empty bytes", sh, shapesImpl{}, "Bytes", `{"b": ""}`, `""`},
		{"nested struct with pointer, slice and map", sh, shapesImpl{}, "Struct",
			`{"l": {"From": {"X": 1, "Y": 2}, "To": {"X": -1.5}, "Label": "lbl", "Tags": [], "Meta": {"a": 1, "b": 2}}}`,
			`{"From":{"X":1,"Y":2},"To":{"X":-1.5,"Y":0},"Label":"lbl","Tags":[],"Meta":{"a":1,"b":2}}`},
		{"nil pointer", sh, shapesImpl{}, "Pointer", `{"p": null}`, `null`},
		{"array", sh, shapesImpl{}, "Arrays", `{"a": [{"X": 1}, {"X": 2}, {"X": 3}]}`, `[{"X":3,"Y":0},{"X":2,"Y":0},{"X":1,"Y":0}]`},
		{"map of slices", sh, shapesImpl{}, "Maps", `{"m": {"b": [2], "a": [1, 1]}}`, `{"a":[1,1],"b":[2]}`},
		{"named and generic", sh, shapesImpl{}, "Generic", `{"p": {"Key": "k", "Value": [{"X": 1, "Y": 1}]}}`, `{"Key":"k","Value":[{"X":1,"Y":1}]}`},
		{"named int", sh, shapesImpl{}, "Named", `{"k": 41}`, `42`},
		{"variadic", sh, shapesImpl{}, "Join", `{"sep": "-", "parts": ["a", "b"]}`, `{"r0":"a-b","r1":2}`},
		{"unnamed parameters", sh, shapesImpl{}, "Unnamed", `["ab", 2]`, `"abab"`},
		{"no arguments", sh, shapesImpl{}, "Nothing", ``, ``},
		{"a BinaryMarshaler", sh, shapesImpl{}, "Addr", `{"a": "fwAAAQ==", "port": 80}`, `"fwAAAVAA"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := call(t, tc.inv, tc.impl, tc.method, tc.args)
			require.NoError(t, err, "call %s(%s)", tc.method, tc.args)
			assert.Equal(t, tc.want, got, "call %s(%s)", tc.method, tc.args)
		})
	}
}

func TestRefusals(t *testing.T) {
	echo, sh := testservice.EchoInvoker(), shapes.ShapesInvoker()
	tests := []struct {
		name   string
		inv    *codegen.Invoker
		method string
		args   string
		want   []string // in the message
	}{
		{"invalid JSON", echo, "Echo", `{"s": `, []string{"invalid JSON"}},
		{"trailing data", echo, "Echo", `{"s": "a"} {}`, []string{"more than one value"}},
		{"unknown argument", echo, "Echo", `{"s": "a", "t": 1}`, []string{`unknown argument "t"`, "want s"}},
		{"missing argument", echo, "Fail", `{"code": 1}`, []string{"argument msg is missing"}},
		{"too many positional", echo, "Echo", `["a", "b"]`, []string{"got 2, want 1"}},
		{"not an object", echo, "Echo", `"a"`, []string{"want a JSON object"}},
		{"string for int", echo, "Blob", `{"n": "12"}`, []string{"argument n", "want an integer for int", `the string "12"`}},
		{"float for int", echo, "Blob", `{"n": 1.5}`, []string{"argument n", "want an integer"}},
		{"int8 overflow", sh, "Basics", `{"b": true, "i": 0, "i8": 128, "u16": 0, "u64": 0, "f32": 0, "f64": 0, "r": 0, "s": ""}`, []string{"argument i8", "128 overflows int8"}},
		{"uint16 overflow", sh, "Basics", `{"b": true, "i": 0, "i8": 0, "u16": 65536, "u64": 0, "f32": 0, "f64": 0, "r": 0, "s": ""}`, []string{"argument u16", "overflows uint16"}},
		{"int overflow", echo, "Blob", `{"n": 9223372036854775808}`, []string{"overflows int"}},
		{"negative unsigned", sh, "Basics", `{"b": true, "i": 0, "i8": 0, "u16": -1, "u64": 0, "f32": 0, "f64": 0, "r": 0, "s": ""}`, []string{"argument u16", "want an unsigned integer"}},
		{"float32 overflow", sh, "Basics", `{"b": true, "i": 0, "i8": 0, "u16": 0, "u64": 0, "f32": 1e39, "f64": 0, "r": 0, "s": ""}`, []string{"argument f32", "does not fit float32"}},
		{"unknown field", echo, "Round", `{"p": {"Name": "n", "Nmae": "x"}}`, []string{"argument p", `unknown field "Nmae" of testservice.Payload`, "Name, Seq, Tags"}},
		{"nested unknown field", sh, "Struct", `{"l": {"From": {"Z": 1}}}`, []string{"argument l.From", `unknown field "Z" of shapes.Point`}},
		{"bad base64", echo, "Round", `{"p": {"Data": "!!"}}`, []string{"argument p.Data", "base64"}},
		{"bad time", echo, "Round", `{"p": {"When": "yesterday"}}`, []string{"argument p.When", "RFC 3339"}},
		{"time without zone", echo, "Round", `{"p": {"When": "2026-01-02T03:04:05"}}`, []string{"argument p.When", "RFC 3339"}},
		{"bad duration", echo, "Sleep", `{"d": "soon"}`, []string{"argument d", "duration"}},
		{"wrong array length", sh, "Arrays", `{"a": [{}, {}]}`, []string{"argument a", "want 3 elements"}},
		{"slice element", sh, "Slices", `{"s": ["a", 1]}`, []string{"argument s[1]", "want a string"}},
		{"map value", sh, "Maps", `{"m": {"k": [1, "x"]}}`, []string{`argument m["k"][1]`, "want an integer"}},
		{"null struct", sh, "Struct", `{"l": null}`, []string{"argument l", "want an object for shapes.Line, got null"}},
		{"bool", sh, "Basics", `{"b": 1, "i": 0, "i8": 0, "u16": 0, "u64": 0, "f32": 0, "f64": 0, "r": 0, "s": ""}`, []string{"argument b", "want true or false"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := call(t, tc.inv, shapesImpl{}, tc.method, tc.args)
			require.Error(t, err, "call %s(%s)", tc.method, tc.args)
			assert.Equal(t, remoting.CodeInvalidArgument, remoting.CodeOf(err), "code of %v", err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w, "call %s(%s)", tc.method, tc.args)
			}
		})
	}
}

// TestRefParameter: an object cannot be passed from JSON, but null (no
// object) can.
func TestRefParameter(t *testing.T) {
	d := shapes.FactoryInvoker().Description
	m, ok := d.Method("Visit")
	require.True(t, ok)
	_, err := jsoncbor.EncodeArgs(d, m, []byte(`{"v": "x", "n": 1}`))
	assert.ErrorContains(t, err, "cannot be passed by reference", "EncodeArgs with an object")
	body, err := jsoncbor.EncodeArgs(d, m, []byte(`{"v": null, "n": 1}`))
	require.NoError(t, err, "EncodeArgs with null")
	f := &factory{}
	_, err = shapes.FactoryInvoker().Methods[m.Wire](context.Background(), f, dispatch.NewArgs(body))
	require.NoError(t, err)
	assert.True(t, f.gotNil, "the method got a nil Visitor")
}

type factory struct{ gotNil bool }

func (*factory) NewCounter(context.Context, int) (shapes.Counter, error) { return nil, nil }
func (*factory) Nil(context.Context) (shapes.Counter, error)             { return nil, nil }
func (f *factory) Visit(_ context.Context, v shapes.Visitor, n int) (int, error) {
	f.gotNil = v == nil
	return -1, nil
}

// TestDecodeKeyAsInt reads a struct whose fields have integer keys, as
// remoting.Ref's do, and one of an unknown newer field.
func TestDecodeKeyAsInt(t *testing.T) {
	d := &wire.Description{Types: []wire.TypeDesc{
		0: {Kind: wire.TypeStruct, Name: "x.T", Fields: []wire.FieldDesc{{Name: "A", Key: "1", KeyAsInt: true, Type: 1}, {Name: "B", Key: "b", Type: 1}}},
		1: {Kind: wire.TypeString, Name: "string"},
	}}
	require.NoError(t, d.Check())
	body, err := jsoncbor.Encode(d, 0, []byte(`{"A": "x", "b": "y"}`))
	require.NoError(t, err)
	assert.Equal(t, []byte{0xa2, 0x01, 0x61, 'x', 0x61, 'b', 0x61, 'y'}, body, "Encode")
	v, err := jsoncbor.Decode(d, 0, append([]byte{0xa3}, append(body[1:], 0x61, 'z', 0x01)...))
	require.NoError(t, err)
	js, _ := json.Marshal(v)
	assert.Equal(t, `{"A":"x","b":"y"}`, string(js), "Decode leaves out the field it does not know")
}
