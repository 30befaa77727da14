package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/fxamacker/cbor/v2"
)

// The plans of pointers, maps and float32, the struct tags the plans
// follow, and the plan of a field that is left to the modes.

var (
	bigIntType = reflect.TypeFor[big.Int]()
	cborPkg    = reflect.TypeFor[cbor.Tag]().PkgPath()
)

// special reports whether the modes encode or decode values of t in a way
// of their own, which the plans leave to them: the types with methods the
// modes call, math/big's Int, and the cbor package's own types.
func special(t reflect.Type) bool {
	return isCustom(t) || t == bigIntType || t.PkgPath() == cborPkg
}

// fieldTag reads a struct field's tag as the modes do: the cbor tag, or
// else the json tag, names the field (named reports whether it does; the
// name is the Go name if not), "-" leaves it out (name ""), and the
// omitempty option omits an empty value. ok is false for the options the
// plans leave to the modes (keyasint, omitzero, toarray) and for a name
// that is not valid UTF-8; other options, such as json's string, the modes
// ignore, and so do the plans.
func fieldTag(sf reflect.StructField) (name string, named, omitEmpty, ok bool) {
	tag := sf.Tag.Get("cbor")
	if tag == "" {
		tag = sf.Tag.Get("json")
	}
	if tag == "-" {
		return "", false, false, true
	}
	name, opts, _ := strings.Cut(tag, ",")
	for opts != "" {
		var opt string
		opt, opts, _ = strings.Cut(opts, ",")
		switch opt {
		case "omitempty":
			omitEmpty = true
		case "keyasint", "omitzero", "toarray":
			return "", false, false, false
		}
	}
	if named = name != ""; !named {
		name = sf.Name
	}
	return name, named, omitEmpty, utf8.ValidString(name)
}

// emptyFunc returns whether a value of t counts as empty for omitempty, as
// the encode mode counts it, or nil for the types whose emptiness the
// plans leave to the mode (structs, arrays, special types).
func emptyFunc(t reflect.Type) func(p unsafe.Pointer) bool {
	if t == timeType {
		return func(unsafe.Pointer) bool { return false } // never omitted
	}
	if t.Kind() == reflect.Pointer {
		return func(p unsafe.Pointer) bool { return *(*unsafe.Pointer)(p) == nil } // whatever it points to
	}
	if special(t) {
		return nil
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n := t.Size() // all its bits zero: false or 0
		return func(p unsafe.Pointer) bool { return string(unsafe.Slice((*byte)(p), n)) == string(zeros[:n]) }
	case reflect.Float32:
		return func(p unsafe.Pointer) bool { return *(*float32)(p) == 0 } // -0 too
	case reflect.Float64:
		return func(p unsafe.Pointer) bool { return *(*float64)(p) == 0 }
	case reflect.String:
		return func(p unsafe.Pointer) bool { return len(*(*string)(p)) == 0 }
	case reflect.Slice:
		return func(p unsafe.Pointer) bool { return (*sliceHeader)(p).len == 0 }
	case reflect.Interface:
		return func(p unsafe.Pointer) bool { return *(*any)(p) == nil } // nil, as an empty interface: its type word
	case reflect.Map:
		return func(p unsafe.Pointer) bool { return reflect.NewAt(t, p).Elem().Len() == 0 }
	}
	return nil
}

// modeDecMode decodes a field that a struct's plan leaves to the modes.
// The plan's decoder is never deeper than fastMaxDepth, so this mode's
// nesting limit keeps the whole body within MaxNestedLevels; a field that
// nests deeper makes the plan give up, and the decode mode, seeing the
// whole body, decides.
var modeDecMode cbor.DecMode

// newModeDecMode builds modeDecMode from the decode mode.
func newModeDecMode() cbor.DecMode {
	opts := decMode.DecOptions()
	opts.MaxNestedLevels = MaxNestedLevels - fastMaxDepth
	dm, err := opts.DecMode()
	if err != nil {
		panic(fmt.Sprintf("wire: cbor decode options for fields: %v", err))
	}
	return dm
}

// modePlan is the plan of a struct field whose type has no plan (an
// interface, an array, a map of other keys, a type with its own
// marshaling methods, a struct that embeds a pointer): the field alone is
// encoded and decoded by the modes, which make of it the same bytes and
// the same value as they do within the whole struct.
func modePlan(t reflect.Type) *plan {
	var size *sizer // built on first use: t may be a part of a type whose plan is being built
	var once sync.Once
	return &plan{
		enc: func(dst []byte, p unsafe.Pointer) ([]byte, bool) {
			b, err := encMode.Marshal(reflect.NewAt(t, p).Interface())
			if err != nil {
				return dst, false // the mode reports it for the whole body
			}
			return append(dst, b...), true
		},
		dec: func(d *decoder, p unsafe.Pointer) bool {
			once.Do(func() { size = sizerOf(t) })
			w := walker{data: d.data, off: d.off, limit: noLimit}
			if !w.walk(size) || !d.take(w.total) {
				return false
			}
			rest, err := modeDecMode.UnmarshalFirst(d.data[d.off:], reflect.NewAt(t, p).Interface())
			if err != nil {
				return false
			}
			d.off = len(d.data) - len(rest)
			return true
		},
	}
}

// ptrPlan is the plan of a pointer to a type with a plan: nil is null,
// and a value is decoded into a new one.
func ptrPlan(t reflect.Type, seen map[reflect.Type]*plan) *plan {
	if t.Elem().Kind() == reflect.Pointer {
		return nil
	}
	p := &plan{}
	parts, ok := partPlans(t, p, seen, t.Elem())
	if !ok {
		return nil
	}
	elem, et := parts[0], t.Elem()
	p.enc = func(dst []byte, ptr unsafe.Pointer) ([]byte, bool) {
		v := *(*unsafe.Pointer)(ptr)
		if v == nil {
			return append(dst, 0xf6), true
		}
		return elem.enc(dst, v)
	}
	p.dec = func(d *decoder, ptr unsafe.Pointer) bool {
		if d.null() {
			return true // nil, as it was
		}
		if !d.take(int64(et.Size())) {
			return false
		}
		v := reflect.New(et).UnsafePointer()
		if !elem.dec(d, v) {
			return false
		}
		*(*unsafe.Pointer)(ptr) = v
		return true
	}
	return p
}

// mapPlan is the plan of a map with string or integer keys and values of
// a type with a plan. Its entries are encoded in the map's order, as the
// encode mode, which does not sort, encodes them; a key that comes twice
// makes the plan give up, and the decode mode reports it.
func mapPlan(t reflect.Type, seen map[reflect.Type]*plan) *plan {
	kt, vt := t.Key(), t.Elem()
	if special(kt) {
		return nil
	}
	switch kt.Kind() {
	case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
	default:
		return nil
	}
	if kt.Kind() == reflect.String && vt.Kind() == reflect.String && !special(vt) {
		// Strings to strings, as labels and metadata are: the map is
		// used as the map[string]string it is laid out as.
		return &plan{enc: encodeStringMapFast, dec: decodeStringMapFast}
	}
	p := &plan{}
	parts, ok := partPlans(t, p, seen, kt, vt)
	if !ok {
		return nil
	}
	key, val := parts[0], parts[1]
	// What the map makes per entry, and for itself with the key and
	// value it decodes into: as its sizer counts them.
	each := mul(4, int64(kt.Size()+vt.Size())) + mapEntry
	self := mapHeader + int64(kt.Size()+vt.Size())
	p.enc = func(dst []byte, ptr unsafe.Pointer) ([]byte, bool) {
		m := reflect.NewAt(t, ptr).Elem()
		if m.IsNil() {
			return append(dst, 0xf6), true // NilContainerAsNull
		}
		dst = AppendHead(dst, 0xa0, uint64(m.Len()))
		kp, vp := reflect.New(kt), reflect.New(vt)
		k, v := kp.Elem(), vp.Elem()
		var it reflect.MapIter
		it.Reset(m)
		var ok bool
		for it.Next() {
			k.SetIterKey(&it)
			v.SetIterValue(&it)
			if dst, ok = key.enc(dst, kp.UnsafePointer()); !ok {
				return dst, false
			}
			if dst, ok = val.enc(dst, vp.UnsafePointer()); !ok {
				return dst, false
			}
		}
		return dst, true
	}
	p.dec = func(d *decoder, ptr unsafe.Pointer) bool {
		if d.null() {
			return true // nil
		}
		n, ok := d.mapHead()
		if !ok {
			return false
		}
		if !d.take(self + mul(int64(n), each)) {
			return false
		}
		m := reflect.MakeMapWithSize(t, min(n, mapHint))
		kp, vp := reflect.New(kt), reflect.New(vt)
		k, v := kp.Elem(), vp.Elem()
		for range n {
			k.SetZero()
			v.SetZero()
			if !key.dec(d, kp.UnsafePointer()) || m.MapIndex(k).IsValid() {
				return false // malformed, or a duplicate key
			}
			if !val.dec(d, vp.UnsafePointer()) {
				return false
			}
			m.SetMapIndex(k, v)
		}
		reflect.NewAt(t, ptr).Elem().Set(m)
		d.depth--
		return true
	}
	return p
}

// mapHint bounds the size a map is made with before its entries are
// read: a body that claims more entries than it holds costs no more than
// this before the plan gives up, and a larger map grows as it fills.
const mapHint = 1024

// mapHead reads the head of a definite map and enters it. Every entry
// takes two bytes at least: a longer count is malformed, and is not
// allocated for.
func (d *decoder) mapHead() (n int, ok bool) {
	major, c, ok := d.head()
	if !ok || major != 0xa0 || c > MaxMapPairs || c > uint64(len(d.data)-d.off)/2 || !d.enter() {
		return 0, false
	}
	return int(c), true
}

func encodeStringMapFast(dst []byte, p unsafe.Pointer) ([]byte, bool) {
	m := *(*map[string]string)(p)
	if m == nil {
		return append(dst, 0xf6), true
	}
	dst = AppendHead(dst, 0xa0, uint64(len(m)))
	for k, v := range m {
		dst = appendText(appendText(dst, k), v)
	}
	return dst, true
}

func decodeStringMapFast(d *decoder, p unsafe.Pointer) bool {
	if d.null() {
		return true
	}
	n, ok := d.mapHead()
	if !ok {
		return false
	}
	if !d.take(mapHeader + int64(n)*(4*32+mapEntry)) {
		return false
	}
	m := make(map[string]string, min(n, mapHint))
	for range n {
		kb, ok := d.text()
		if !ok {
			return false
		}
		if _, dup := m[string(kb)]; dup {
			return false
		}
		vb, ok := d.text()
		if !ok {
			return false
		}
		m[d.str(kb)] = d.str(vb)
	}
	*(*map[string]string)(p) = m
	d.depth--
	return true
}

// float32 values are encoded in single precision, as the encode mode
// encodes them; NaN and the infinities it converts are left to it. The
// decoder takes single precision alone, and leaves NaN to the decode mode,
// which makes a signaling NaN quiet.
func encodeFloat32Fast(dst []byte, p unsafe.Pointer) ([]byte, bool) {
	f := *(*float32)(p)
	if f != f || math.IsInf(float64(f), 0) {
		return dst, false
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xfa), math.Float32bits(f)), true
}

func decodeFloat32Fast(d *decoder, p unsafe.Pointer) bool {
	if d.peek() != 0xfa || len(d.data)-d.off < 5 {
		return false
	}
	f := math.Float32frombits(binary.BigEndian.Uint32(d.data[d.off+1:]))
	if f != f {
		return false
	}
	*(*float32)(p) = f
	d.off += 5
	return true
}
