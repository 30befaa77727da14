// Package jsoncbor converts between JSON, as a person types it, and the
// CBOR bodies of remote calls, guided by an Interface Description
// (wire.Description) instead of Go types: JSON arguments become the
// argument array a generated Invoker decodes, and a result array becomes
// JSON. It is cmd/remoting's codec, so that a program that only calls
// and serves links none of it.
//
// The JSON forms: numbers for integers and floats (an integer that does
// not fit its type is refused), base64 strings for byte strings, RFC 3339
// strings for time.Time (the zone offset is kept), "1.5s" strings or
// nanoseconds for time.Duration, objects for structs (by the field's wire
// key or Go name; unknown fields are refused, missing ones are zero) and
// maps, arrays for slices and arrays, null for nil pointers, slices,
// maps and references.
//
// Goroutines: none.
package jsoncbor

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/wire"
)

// EncodeArgs returns the CBOR argument array of a call of m, a method of
// d, from args: a JSON object with one member per parameter, by name, or
// a JSON array of the arguments in order. Empty args stand for no
// arguments. Arguments that do not fit are an InvalidArgument error that
// names the argument and says why.
func EncodeArgs(d *wire.Description, m *wire.MethodDesc, args []byte) ([]byte, error) {
	if len(bytes.TrimSpace(args)) == 0 {
		args = []byte("[]")
	}
	v, err := parseJSON(args)
	if err != nil {
		return nil, remoting.Errorf(remoting.CodeInvalidArgument, "arguments of %s: %v", m.Wire, err)
	}
	names := make([]string, len(m.Params))
	for i, p := range m.Params {
		names[i] = p.Name
	}
	var vals []any
	switch v := v.(type) {
	case []any:
		if len(v) != len(m.Params) {
			return nil, remoting.Errorf(remoting.CodeInvalidArgument, "arguments of %s: got %d, want %d (%s)", m.Wire, len(v), len(m.Params), strings.Join(names, ", "))
		}
		vals = v
	case map[string]any:
		vals = make([]any, len(m.Params))
		for i, p := range m.Params {
			a, ok := v[p.Name]
			if !ok {
				return nil, remoting.Errorf(remoting.CodeInvalidArgument, "arguments of %s: argument %s is missing (want %s)", m.Wire, p.Name, strings.Join(names, ", "))
			}
			vals[i] = a
		}
		for k := range v {
			if !slices.Contains(names, k) {
				return nil, remoting.Errorf(remoting.CodeInvalidArgument, "arguments of %s: unknown argument %q (want %s)", m.Wire, k, strings.Join(names, ", "))
			}
		}
	default:
		return nil, remoting.Errorf(remoting.CodeInvalidArgument, "arguments of %s: want a JSON object by parameter name or an array, got %s", m.Wire, jsonKind(v))
	}
	e := &encoder{d: d}
	e.buf = appendHead(e.buf, majorArray, uint64(len(vals)))
	for i, p := range m.Params {
		if err := e.encode(p.Type, vals[i], p.Name); err != nil {
			return nil, remoting.Errorf(remoting.CodeInvalidArgument, "arguments of %s: argument %v", m.Wire, err)
		}
	}
	return e.buf, nil
}

// Encode returns the CBOR of the JSON value v as type typ of d.
func Encode(d *wire.Description, typ int, v []byte) ([]byte, error) {
	x, err := parseJSON(v)
	if err != nil {
		return nil, remoting.Errorf(remoting.CodeInvalidArgument, "%v", err)
	}
	e := &encoder{d: d}
	if err := e.encode(typ, x, "value"); err != nil {
		return nil, remoting.Errorf(remoting.CodeInvalidArgument, "%v", err)
	}
	return e.buf, nil
}

// parseJSON decodes one JSON value, numbers as json.Number, and refuses
// trailing data.
func parseJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("invalid JSON: more than one value")
	}
	return v, nil
}

// pathError is a value that does not fit, with where it is.
type pathError struct {
	path string
	msg  string
}

func (e *pathError) Error() string { return e.path + ": " + e.msg }

type encoder struct {
	d   *wire.Description
	buf []byte
}

func (e *encoder) fail(path, format string, args ...any) error {
	return &pathError{path: path, msg: fmt.Sprintf(format, args...)}
}

// encode appends v as the type of index typ; path names v for errors.
func (e *encoder) encode(typ int, v any, path string) error {
	t := &e.d.Types[typ]
	if v == nil {
		switch t.Kind {
		case wire.TypeBytes:
			if t.Len > 0 {
				return e.fail(path, "want %d bytes in base64 for %s, got null", t.Len, t.Name)
			}
			fallthrough
		case wire.TypeSlice, wire.TypeMap, wire.TypePointer, wire.TypeTime:
			e.buf = append(e.buf, cborNull)
			return nil
		case wire.TypeRef:
			b, err := wire.Marshal(&remoting.Ref{})
			if err != nil {
				return e.fail(path, "%v", err)
			}
			e.buf = append(e.buf, b...)
			return nil
		}
		return e.fail(path, "want %s for %s, got null", want(t), t.Name)
	}
	switch t.Kind {
	case wire.TypeBool:
		b, ok := v.(bool)
		if !ok {
			return e.fail(path, "want true or false for %s, got %s", t.Name, jsonKind(v))
		}
		if b {
			e.buf = append(e.buf, cborTrue)
		} else {
			e.buf = append(e.buf, cborFalse)
		}
	case wire.TypeInt:
		if s, ok := v.(string); ok && t.Name == "time.Duration" {
			d, err := time.ParseDuration(s)
			if err != nil {
				return e.fail(path, "want a duration such as \"1.5s\" or nanoseconds for time.Duration: %v", err)
			}
			e.buf = appendInt(e.buf, int64(d))
			return nil
		}
		n, ok := v.(json.Number)
		if !ok {
			return e.fail(path, "want an integer for %s, got %s", t.Name, jsonKind(v))
		}
		i, err := strconv.ParseInt(n.String(), 10, t.Bits)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return e.fail(path, "%s overflows %s (%d bits)", n, t.Name, t.Bits)
			}
			return e.fail(path, "want an integer for %s, got %s", t.Name, n)
		}
		e.buf = appendInt(e.buf, i)
	case wire.TypeUint:
		n, ok := v.(json.Number)
		if !ok {
			return e.fail(path, "want an unsigned integer for %s, got %s", t.Name, jsonKind(v))
		}
		u, err := strconv.ParseUint(n.String(), 10, t.Bits)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return e.fail(path, "%s overflows %s (%d bits)", n, t.Name, t.Bits)
			}
			return e.fail(path, "want an unsigned integer for %s, got %s", t.Name, n)
		}
		e.buf = appendHead(e.buf, majorUint, u)
	case wire.TypeFloat:
		n, ok := v.(json.Number)
		if !ok {
			return e.fail(path, "want a number for %s, got %s", t.Name, jsonKind(v))
		}
		f, err := strconv.ParseFloat(n.String(), t.Bits)
		if err != nil {
			return e.fail(path, "%s does not fit %s (%d bits)", n, t.Name, t.Bits)
		}
		if t.Bits == 32 {
			e.buf = binary.BigEndian.AppendUint32(append(e.buf, 0xfa), math.Float32bits(float32(f)))
		} else {
			e.buf = binary.BigEndian.AppendUint64(append(e.buf, 0xfb), math.Float64bits(f))
		}
	case wire.TypeString:
		s, ok := v.(string)
		if !ok {
			return e.fail(path, "want a string for %s, got %s", t.Name, jsonKind(v))
		}
		e.buf = appendText(e.buf, s)
	case wire.TypeBytes:
		s, ok := v.(string)
		if !ok {
			return e.fail(path, "want a base64 string for %s, got %s", t.Name, jsonKind(v))
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return e.fail(path, "want a base64 string for %s: %v", t.Name, err)
		}
		if t.Len > 0 && len(b) != t.Len {
			return e.fail(path, "want %d bytes for %s, got %d", t.Len, t.Name, len(b))
		}
		e.buf = append(appendHead(e.buf, majorBytes, uint64(len(b))), b...)
	case wire.TypeTime:
		s, ok := v.(string)
		if !ok {
			return e.fail(path, "want an RFC 3339 time string for %s, got %s", t.Name, jsonKind(v))
		}
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return e.fail(path, "want an RFC 3339 time such as \"2026-01-02T15:04:05+01:00\": %v", err)
		}
		if tm.IsZero() {
			e.buf = append(e.buf, cborNull)
			return nil
		}
		e.buf = appendText(appendHead(e.buf, majorTag, 0), tm.Format(time.RFC3339Nano))
	case wire.TypeStruct:
		return e.structValue(t, v, path)
	case wire.TypeSlice, wire.TypeArray:
		a, ok := v.([]any)
		if !ok {
			return e.fail(path, "want an array for %s, got %s", t.Name, jsonKind(v))
		}
		if t.Kind == wire.TypeArray && len(a) != t.Len {
			return e.fail(path, "want %d elements for %s, got %d", t.Len, t.Name, len(a))
		}
		e.buf = appendHead(e.buf, majorArray, uint64(len(a)))
		for i, x := range a {
			if err := e.encode(t.Elem, x, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case wire.TypeMap:
		m, ok := v.(map[string]any)
		if !ok {
			return e.fail(path, "want an object for %s, got %s", t.Name, jsonKind(v))
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		e.buf = appendHead(e.buf, majorMap, uint64(len(keys)))
		for _, k := range keys {
			if err := e.mapKey(t.Key, k, path); err != nil {
				return err
			}
			if err := e.encode(t.Elem, m[k], fmt.Sprintf("%s[%q]", path, k)); err != nil {
				return err
			}
		}
	case wire.TypePointer:
		return e.encode(t.Elem, v, path)
	case wire.TypeRef:
		return e.fail(path, "%s is a remote interface: an object cannot be passed by reference from JSON, pass null", t.Name)
	default:
		return e.fail(path, "%s encodes itself and cannot be built from JSON", t.Name)
	}
	return nil
}

// mapKey appends the key k of a JSON object as a map key of type typ:
// a string, or an integer written in decimal.
func (e *encoder) mapKey(typ int, k, path string) error {
	t := &e.d.Types[typ]
	switch t.Kind {
	case wire.TypeString:
		e.buf = appendText(e.buf, k)
		return nil
	case wire.TypeInt, wire.TypeUint, wire.TypeBool, wire.TypeFloat:
		x := any(json.Number(k))
		if t.Kind == wire.TypeBool {
			b, err := strconv.ParseBool(k)
			if err != nil {
				return e.fail(path, "map key %q is not a bool for %s", k, t.Name)
			}
			x = b
		}
		return e.encode(typ, x, fmt.Sprintf("%s key %q", path, k))
	}
	return e.fail(path, "a map keyed by %s cannot be written in JSON", t.Name)
}

// structValue appends the JSON object v as the struct t: an array of
// every field (missing ones zero) if t is ToArray, else a map of the
// fields given.
func (e *encoder) structValue(t *wire.TypeDesc, v any, path string) error {
	obj, ok := v.(map[string]any)
	if !ok {
		return e.fail(path, "want an object for %s, got %s", t.Name, jsonKind(v))
	}
	vals := make([]any, len(t.Fields))
	given := make([]bool, len(t.Fields))
	for k, x := range obj {
		i := fieldIndex(t.Fields, k)
		if i < 0 {
			var names []string
			for _, f := range t.Fields {
				names = append(names, JSONName(f))
			}
			return e.fail(path, "unknown field %q of %s (it has %s)", k, t.Name, strings.Join(names, ", "))
		}
		if given[i] {
			return e.fail(path, "field %s of %s given twice", JSONName(t.Fields[i]), t.Name)
		}
		vals[i], given[i] = x, true
	}
	n := len(t.Fields)
	if !t.ToArray {
		n = 0
		for _, g := range given {
			if g {
				n++
			}
		}
		e.buf = appendHead(e.buf, majorMap, uint64(n))
	} else {
		e.buf = appendHead(e.buf, majorArray, uint64(n))
	}
	for i, f := range t.Fields {
		fpath := path + "." + JSONName(f)
		switch {
		case !t.ToArray && !given[i]:
			continue
		case !t.ToArray && f.KeyAsInt:
			k, err := strconv.ParseInt(f.Key, 10, 64)
			if err != nil {
				return e.fail(fpath, "the description gives an integer key %q that is none", f.Key)
			}
			e.buf = appendInt(e.buf, k)
		case !t.ToArray:
			e.buf = appendText(e.buf, f.Key)
		}
		if !given[i] {
			if err := e.zero(f.Type, fpath, 0); err != nil {
				return err
			}
			continue
		}
		if err := e.encode(f.Type, vals[i], fpath); err != nil {
			return err
		}
	}
	return nil
}

// zero appends the zero value of type typ.
func (e *encoder) zero(typ int, path string, depth int) error {
	if depth > wire.MaxNestedLevels {
		return e.fail(path, "the zero value of %s nests too deep", e.d.Types[typ].Name)
	}
	t := &e.d.Types[typ]
	switch t.Kind {
	case wire.TypeBool:
		e.buf = append(e.buf, cborFalse)
	case wire.TypeInt, wire.TypeUint:
		e.buf = append(e.buf, 0)
	case wire.TypeFloat:
		return e.encode(typ, json.Number("0"), path)
	case wire.TypeString:
		e.buf = appendText(e.buf, "")
	case wire.TypeBytes:
		if t.Len > 0 {
			e.buf = append(appendHead(e.buf, majorBytes, uint64(t.Len)), make([]byte, t.Len)...)
			return nil
		}
		e.buf = append(e.buf, cborNull)
	case wire.TypeStruct:
		if !t.ToArray {
			e.buf = appendHead(e.buf, majorMap, 0)
			return nil
		}
		e.buf = appendHead(e.buf, majorArray, uint64(len(t.Fields)))
		for _, f := range t.Fields {
			if err := e.zero(f.Type, path+"."+JSONName(f), depth+1); err != nil {
				return err
			}
		}
	case wire.TypeArray:
		e.buf = appendHead(e.buf, majorArray, uint64(t.Len))
		for range t.Len {
			if err := e.zero(t.Elem, path, depth+1); err != nil {
				return err
			}
		}
	case wire.TypeRef:
		return e.encode(typ, nil, path)
	case wire.TypeOpaque:
		return e.fail(path, "%s encodes itself and cannot be built from JSON; give the field", t.Name)
	default: // time, slices, maps, pointers
		e.buf = append(e.buf, cborNull)
	}
	return nil
}

// JSONName is the name of a struct field in JSON: its wire key, or its Go
// name where the key is an integer.
func JSONName(f wire.FieldDesc) string {
	if f.KeyAsInt || f.Key == "" {
		return f.Name
	}
	return f.Key
}

// fieldIndex returns the field that the JSON member k names: by JSON
// name, Go name, integer key, or else by JSON name regardless of case if
// only one field matches so; -1 if none.
func fieldIndex(fields []wire.FieldDesc, k string) int {
	for i, f := range fields {
		if JSONName(f) == k || f.Name == k || f.KeyAsInt && f.Key == k {
			return i
		}
	}
	found := -1
	for i, f := range fields {
		if strings.EqualFold(JSONName(f), k) {
			if found >= 0 {
				return -1
			}
			found = i
		}
	}
	return found
}

// want names the JSON a type takes, for messages.
func want(t *wire.TypeDesc) string {
	switch t.Kind {
	case wire.TypeBool:
		return "true or false"
	case wire.TypeInt, wire.TypeUint:
		return "an integer"
	case wire.TypeFloat:
		return "a number"
	case wire.TypeString:
		return "a string"
	case wire.TypeStruct:
		return "an object"
	case wire.TypeArray:
		return "an array"
	}
	return "a value"
}

// jsonKind names the kind of a parsed JSON value, for messages.
func jsonKind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "a bool"
	case json.Number:
		return "the number " + v.String()
	case string:
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return "the string " + strconv.Quote(v)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// CBOR major types and simple values.
const (
	majorUint  = 0
	majorNeg   = 1
	majorBytes = 2
	majorText  = 3
	majorArray = 4
	majorMap   = 5
	majorTag   = 6

	cborFalse = 0xf4
	cborTrue  = 0xf5
	cborNull  = 0xf6
)

// appendHead appends a CBOR head of the major type (0 to 7) and
// argument n.
func appendHead(dst []byte, major byte, n uint64) []byte {
	return wire.AppendHead(dst, major<<5, n)
}

func appendInt(dst []byte, i int64) []byte {
	if i < 0 {
		return appendHead(dst, majorNeg, uint64(-(i + 1)))
	}
	return appendHead(dst, majorUint, uint64(i))
}

func appendText(dst []byte, s string) []byte {
	return append(appendHead(dst, majorText, uint64(len(s))), s...)
}
