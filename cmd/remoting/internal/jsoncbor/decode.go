package jsoncbor

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/wire"
)

// decMode decodes bodies into generic values, with the wire's limits.
var decMode = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		MaxNestedLevels:  wire.MaxNestedLevels,
		MaxArrayElements: wire.MaxArrayElements,
		MaxMapPairs:      wire.MaxMapPairs,
		IndefLength:      cbor.IndefLengthForbidden,
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		DefaultMapType:   reflect.TypeFor[map[any]any](),
	}.DecMode()
	if err != nil {
		panic(fmt.Sprintf("jsoncbor: cbor decode options: %v", err))
	}
	return dm
}()

// DecodeResults returns the results of m, a method of d, from the CBOR
// result array body, as a value that encoding/json writes: the result
// itself for a method with one result, an object of the results by name
// for a method with several, and nil for one with none.
func DecodeResults(d *wire.Description, m *wire.MethodDesc, body []byte) (any, error) {
	if len(m.Results) == 0 {
		return nil, nil
	}
	var arr []any
	if err := decMode.Unmarshal(body, &arr); err != nil {
		return nil, remoting.Errorf(remoting.CodeInternal, "results of %s: %v", m.Wire, err)
	}
	if len(arr) != len(m.Results) {
		return nil, remoting.Errorf(remoting.CodeInternal, "results of %s: got %d, the description has %d", m.Wire, len(arr), len(m.Results))
	}
	obj := make(Object, len(arr))
	for i, r := range m.Results {
		v, err := convert(d, r.Type, arr[i], r.Name, 0)
		if err != nil {
			return nil, remoting.Errorf(remoting.CodeInternal, "results of %s: result %v", m.Wire, err)
		}
		obj[i] = Member{Name: r.Name, Value: v}
	}
	if len(obj) == 1 {
		return obj[0].Value, nil
	}
	return obj, nil
}

// Decode returns the CBOR value b of type typ of d as a value that
// encoding/json writes.
func Decode(d *wire.Description, typ int, b []byte) (any, error) {
	var v any
	if err := decMode.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return convert(d, typ, v, "value", 0)
}

// Object is a JSON object whose members keep their order.
type Object []Member

// Member is one member of an Object.
type Member struct {
	Name  string
	Value any
}

// MarshalJSON writes the members in order.
func (o Object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(m.Name)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(m.Value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// convert turns v, decoded from CBOR, into the JSON form of type typ.
func convert(d *wire.Description, typ int, v any, path string, depth int) (any, error) {
	if depth > wire.MaxNestedLevels {
		return nil, &pathError{path, "nests too deep"}
	}
	t := &d.Types[typ]
	bad := func() error {
		return &pathError{path, fmt.Sprintf("got %s for %s", cborKind(v), t.Name)}
	}
	if v == nil {
		switch t.Kind {
		case wire.TypeTime:
			return time.Time{}.Format(time.RFC3339Nano), nil
		case wire.TypeBytes, wire.TypeSlice, wire.TypeMap, wire.TypePointer, wire.TypeOpaque:
			return nil, nil
		}
		return nil, bad()
	}
	switch t.Kind {
	case wire.TypeBool:
		if _, ok := v.(bool); !ok {
			return nil, bad()
		}
		return v, nil
	case wire.TypeInt, wire.TypeUint:
		switch n := v.(type) {
		case uint64:
			if t.Name == "time.Duration" && n <= math.MaxInt64 {
				return time.Duration(n).String(), nil
			}
			return json.Number(strconv.FormatUint(n, 10)), nil
		case int64:
			if t.Name == "time.Duration" {
				return time.Duration(n).String(), nil
			}
			return json.Number(strconv.FormatInt(n, 10)), nil
		case big.Int:
			return json.Number(n.String()), nil
		}
		return nil, bad()
	case wire.TypeFloat:
		f, ok := v.(float64)
		if !ok {
			return nil, bad()
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return strconv.FormatFloat(f, 'g', -1, 64), nil // JSON has no NaN or infinity
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, t.Bits)), nil
	case wire.TypeString:
		if _, ok := v.(string); !ok {
			return nil, bad()
		}
		return v, nil
	case wire.TypeBytes:
		b, ok := v.([]byte)
		if !ok {
			return nil, bad()
		}
		return base64.StdEncoding.EncodeToString(b), nil
	case wire.TypeTime:
		switch tm := v.(type) {
		case time.Time:
			return tm.Format(time.RFC3339Nano), nil
		case cbor.Tag: // an untagged time is the string alone
			if s, ok := tm.Content.(string); ok && tm.Number == 0 {
				return s, nil
			}
		case string:
			return tm, nil
		}
		return nil, bad()
	case wire.TypeStruct:
		return convertStruct(d, t, v, path, depth)
	case wire.TypeSlice, wire.TypeArray:
		a, ok := v.([]any)
		if !ok {
			return nil, bad()
		}
		out := make([]any, len(a))
		for i, x := range a {
			var err error
			if out[i], err = convert(d, t.Elem, x, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	case wire.TypeMap:
		m, ok := v.(map[any]any)
		if !ok {
			return nil, bad()
		}
		out := make(Object, 0, len(m))
		for k, x := range m {
			key := fmt.Sprint(k)
			if b, ok := k.([]byte); ok {
				key = base64.StdEncoding.EncodeToString(b)
			}
			val, err := convert(d, t.Elem, x, fmt.Sprintf("%s[%q]", path, key), depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, Member{Name: key, Value: val})
		}
		slices.SortFunc(out, func(a, b Member) int { return compareKeys(a.Name, b.Name) })
		return out, nil
	case wire.TypePointer:
		return convert(d, t.Elem, v, path, depth+1)
	case wire.TypeRef:
		b, err := cbor.Marshal(v) // back to CBOR, to decode as the Ref it is
		if err != nil {
			return nil, &pathError{path, err.Error()}
		}
		var ref remoting.Ref
		if err := wire.Unmarshal(b, &ref); err != nil {
			return nil, &pathError{path, fmt.Sprintf("not a reference: %v", err)}
		}
		if ref.ID.IsZero() {
			return nil, nil
		}
		return ref.String(), nil
	}
	return generic(v, depth), nil
}

// compareKeys orders map keys as numbers where both are, else as strings.
func compareKeys(a, b string) int {
	x, errA := strconv.ParseFloat(a, 64)
	y, errB := strconv.ParseFloat(b, 64)
	if errA == nil && errB == nil && x != y {
		if x < y {
			return -1
		}
		return 1
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// convertStruct turns an array (ToArray) or a map into an Object of the
// fields in order. Map entries the description does not know, from a
// newer peer, are left out.
func convertStruct(d *wire.Description, t *wire.TypeDesc, v any, path string, depth int) (any, error) {
	out := make(Object, 0, len(t.Fields))
	if t.ToArray {
		a, ok := v.([]any)
		if !ok || len(a) != len(t.Fields) {
			return nil, &pathError{path, fmt.Sprintf("got %s for %s, want an array of %d fields", cborKind(v), t.Name, len(t.Fields))}
		}
		for i, f := range t.Fields {
			x, err := convert(d, f.Type, a[i], path+"."+JSONName(f), depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, Member{Name: JSONName(f), Value: x})
		}
		return out, nil
	}
	m, ok := v.(map[any]any)
	if !ok {
		return nil, &pathError{path, fmt.Sprintf("got %s for %s, want a map", cborKind(v), t.Name)}
	}
	for _, f := range t.Fields {
		var x any
		var found bool
		for k, val := range m {
			if fieldKeyIs(f, k) {
				x, found = val, true
				break
			}
		}
		if !found {
			continue
		}
		j, err := convert(d, f.Type, x, path+"."+JSONName(f), depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, Member{Name: JSONName(f), Value: j})
	}
	return out, nil
}

// fieldKeyIs reports whether the decoded map key k is the key of f.
func fieldKeyIs(f wire.FieldDesc, k any) bool {
	if !f.KeyAsInt {
		s, ok := k.(string)
		return ok && s == f.Key
	}
	switch n := k.(type) {
	case uint64:
		return strconv.FormatUint(n, 10) == f.Key
	case int64:
		return strconv.FormatInt(n, 10) == f.Key
	}
	return false
}

// generic turns a value of a type the description does not detail into
// JSON as best it can: byte strings in base64, map keys as text.
func generic(v any, depth int) any {
	if depth > wire.MaxNestedLevels {
		return nil
	}
	switch v := v.(type) {
	case []byte:
		return base64.StdEncoding.EncodeToString(v)
	case time.Time:
		return v.Format(time.RFC3339Nano)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return strconv.FormatFloat(v, 'g', -1, 64)
		}
	case big.Int:
		return json.Number(v.String())
	case cbor.Tag:
		return Object{{Name: "tag", Value: v.Number}, {Name: "content", Value: generic(v.Content, depth+1)}}
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = generic(x, depth+1)
		}
		return out
	case map[any]any:
		out := make(Object, 0, len(v))
		for k, x := range v {
			out = append(out, Member{Name: fmt.Sprint(generic(k, depth+1)), Value: generic(x, depth+1)})
		}
		slices.SortFunc(out, func(a, b Member) int { return compareKeys(a.Name, b.Name) })
		return out
	}
	return v
}

// cborKind names the kind of a decoded CBOR value, for messages.
func cborKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a bool"
	case uint64, int64, big.Int:
		return "an integer"
	case float64:
		return "a float"
	case string:
		return "a text string"
	case []byte:
		return "a byte string"
	case time.Time:
		return "a time"
	case []any:
		return "an array"
	case map[any]any:
		return "a map"
	case cbor.Tag:
		return "a tag"
	}
	return fmt.Sprintf("%T", v)
}
