package wire

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/fxamacker/cbor/v2"
)

// Limits of the decoder. They bound the work and memory one body can cost
// before the frame size limit applies.
const (
	// MaxNestedLevels bounds the nesting depth of arrays, maps and tags.
	MaxNestedLevels = 32
	// MaxArrayElements bounds the elements of one array.
	MaxArrayElements = 1 << 20
	// MaxMapPairs bounds the pairs of one map.
	MaxMapPairs = 1 << 18
)

// The one encode mode and the one decode mode, built once and immutable.
var (
	encMode cbor.UserBufferEncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	encMode, err = cbor.EncOptions{
		Time:          cbor.TimeRFC3339Nano, // keeps nanoseconds and the zone offset
		TimeTag:       cbor.EncTagRequired,
		IndefLength:   cbor.IndefLengthForbidden,
		NilContainers: cbor.NilContainerAsNull, // nil and empty slices and maps stay apart
		ByteArray:     cbor.ByteArrayToByteSlice,
		BigIntConvert: cbor.BigIntConvertShortest,
	}.UserBufferEncMode()
	if err != nil {
		panic(fmt.Sprintf("wire: cbor encode options: %v", err))
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		TimeTag:          cbor.DecTagOptional,
		MaxNestedLevels:  MaxNestedLevels,
		MaxArrayElements: MaxArrayElements,
		MaxMapPairs:      MaxMapPairs,
		IndefLength:      cbor.IndefLengthForbidden,
		// Interfaces are never decoded from the wire, but should a user type
		// contain one, it gets plain maps, never a type chosen by the sender.
		DefaultMapType:        reflect.TypeFor[map[string]any](),
		UnrecognizedTagToAny:  cbor.UnrecognizedTagContentToAny,
		DefaultByteStringType: reflect.TypeFor[[]byte](),
	}.DecMode()
	if err != nil {
		panic(fmt.Sprintf("wire: cbor decode options: %v", err))
	}
	modeDecMode = newModeDecMode()
}

// Marshal encodes v, a generated argument or result struct, with the one
// encode mode, or with the type's plan, which makes the same bytes.
func Marshal(v any) ([]byte, error) {
	if _, p, pl := valuePlan(v); pl != nil {
		if b, ok := pl.enc(nil, p); ok {
			return b, nil
		}
	}
	return encMode.Marshal(v)
}

// Unmarshal decodes data into v, which must point to a concrete generated
// type: wire data is never decoded into an interface chosen by the sender.
// Trailing bytes after the one CBOR item are an error. The type's plan
// decodes what it accepts; the decode mode decodes the rest, and is the
// one that reports errors.
func Unmarshal(data []byte, v any) error { return unmarshal(data, v, nil) }

// A Holder reserves memory on a peer's behalf: Hold reserves n more bytes,
// or refuses them with an error.
type Holder interface {
	Hold(n int64) error
}

// UnmarshalHeld is Unmarshal that reserves from h what decoding the body
// makes, before it is made, and fails with h's error if h refuses: what a
// body decodes to can be far larger than the body (see sizer). A
// body that cannot decode to more than QuickSize, whatever it holds, is
// decoded without a reservation, which would cost more than it saves. A
// larger one decoded by the plans reserves what they make as they go, a
// chunk of QuickSize bytes or more at a time; one left to the decode mode
// is walked first, and what the walk counts is reserved. What was
// reserved stays so: the caller gives it back once the value is released.
func UnmarshalHeld(data []byte, v any, h Holder) error { return unmarshal(data, v, h) }

func unmarshal(data []byte, v any, h Holder) error {
	t, p, pl := valuePlan(v)
	var s *sizer
	if h != nil && t != nil {
		if s = sizerOf(t); s.amp <= QuickSize/max(int64(len(data)), 1) {
			h = nil // small whatever the body holds: not counted
		}
	}
	// The plan decodes into a zero value only: the mode keeps the fields
	// of a value that the body does not mention, and so must see it as it
	// was should the plan give up.
	if pl != nil && isZero(t, p) {
		// The decoders are pooled: the plans' function values hide from
		// escape analysis that none keeps it, so a local one would cost an
		// allocation per body.
		d := decoderPool.Get().(*decoder)
		*d = decoder{data: data, hold: h}
		ok := pl.dec(d, p) && d.off == len(data)
		err := d.err
		*d = decoder{}
		decoderPool.Put(d)
		if ok {
			return nil
		}
		reflect.NewAt(t, p).Elem().SetZero() // what the plan wrote
		if err != nil {
			return err
		}
	}
	if h != nil && s != nil {
		w := walker{data: data, limit: noLimit}
		w.walk(s)
		if err := h.Hold(w.total); err != nil {
			return err
		}
	}
	return decMode.Unmarshal(data, v)
}

// bufPool holds encode buffers; see GetBuffer.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuffer is the largest buffer kept for reuse; larger ones (a
// rare multi-megabyte body) go to the garbage collector.
const maxPooledBuffer = 64 << 10

// MarshalBuffer encodes v into a pooled buffer and returns it; the caller
// uses buf.Bytes() and then hands the buffer back with PutBuffer. It saves
// the allocation of the encoded body on the call path.
func MarshalBuffer(v any) (*bytes.Buffer, error) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	if _, p, pl := valuePlan(v); pl != nil {
		if b, ok := pl.enc(buf.AvailableBuffer(), p); ok {
			if cap(b) > buf.Available() {
				// The encoding outgrew the buffer and was moved: keep
				// it where it is rather than copy it back.
				*buf = *bytes.NewBuffer(b)
			} else {
				buf.Write(b)
			}
			return buf, nil
		}
	}
	if err := encMode.MarshalToBuffer(v, buf); err != nil {
		PutBuffer(buf)
		return nil, err
	}
	return buf, nil
}

// PutBuffer returns a buffer from MarshalBuffer for reuse. The caller must
// not touch it, or bytes taken from it, afterwards.
func PutBuffer(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledBuffer {
		bufPool.Put(buf)
	}
}

// A plan is the encoder and decoder of one Go type, prepared once from
// its reflect.Type: a fast path for the types that generated argument and
// result structs and users' plain structs are made of. It produces the
// same bytes as the encode mode and the same values as the decode mode,
// for the inputs it accepts: the decoder accepts only the definite-length,
// well-typed input an encoder of this package produces (with fields of a
// map in any order), within the decoding limits, and anything else (an
// unknown or duplicate field, another type of item, a limit approached,
// malformed or trailing data) makes Unmarshal decode the whole body again
// with the decode mode, which then decides. The encoder likewise leaves to
// the encode mode what it does not encode itself (NaN and infinite
// floats, times outside years 0 to 9999).
//
// Plans cover booleans, integers, floats, strings, byte slices, times,
// slices, pointers (to anything but a pointer), maps with string or
// integer keys, and structs, whose fields are named and omitted as the
// modes name and omit them: by the cbor tag, else the json tag, with "-"
// and omitempty followed, unexported fields left out and the fields of
// embedded structs promoted. Interfaces, arrays, math/big and cbor types,
// types with methods that the encode or decode mode would call
// (cbor.Marshaler, encoding.BinaryMarshaler and their Unmarshalers), and
// structs that embed a pointer, have fields of one name at two depths or
// use the tag options keyasint, omitzero or toarray on a field have no
// plan: a struct field of such a type is encoded and decoded by the modes
// on its own (see modePlan), and the rest of the struct keeps its plan.
type plan struct {
	enc func(dst []byte, p unsafe.Pointer) ([]byte, bool)
	dec func(d *decoder, p unsafe.Pointer) bool
	// encN and decN, if set, do what enc and dec do for n values in a
	// row from p: a slice of integers costs no call per element.
	encN func(dst []byte, p unsafe.Pointer, n int) ([]byte, bool)
	decN func(d *decoder, p unsafe.Pointer, n int) bool
}

// plans caches the plan of each type Marshal or Unmarshal was given a
// pointer to; a nil *plan says the type has none.
var plans sync.Map // reflect.Type -> *plan

func planOf(t reflect.Type) *plan {
	if p, ok := plans.Load(t); ok {
		return p.(*plan)
	}
	p := newPlan(t, make(map[reflect.Type]*plan))
	plans.Store(t, p)
	return p
}

// valuePlan returns the type and data pointer of v, a non-nil pointer,
// and the plan of the type it points to, or nil.
func valuePlan(v any) (reflect.Type, unsafe.Pointer, *plan) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, nil, nil
	}
	t := rv.Type().Elem()
	return t, rv.UnsafePointer(), planOf(t)
}

// The limits of the fast decoder: it leaves to the decode mode any body
// that comes near the decoding limits, so that the mode's checks apply.
const (
	fastMaxDepth = MaxNestedLevels / 2
)

var (
	timeType = reflect.TypeFor[time.Time]()
	// The interfaces through which the modes would encode or decode a
	// type themselves.
	customTypes = []reflect.Type{
		reflect.TypeFor[cbor.Marshaler](), reflect.TypeFor[cbor.Unmarshaler](),
		reflect.TypeFor[encoding.BinaryMarshaler](), reflect.TypeFor[encoding.BinaryUnmarshaler](),
	}
)

func isCustom(t reflect.Type) bool {
	for _, it := range customTypes {
		if t.Implements(it) || reflect.PointerTo(t).Implements(it) {
			return true
		}
	}
	return false
}

// newPlan builds the plan of t; seen holds the plans being built, so that
// a recursive type refers to its own plan.
func newPlan(t reflect.Type, seen map[reflect.Type]*plan) *plan {
	if p, ok := seen[t]; ok {
		return p
	}
	if t == timeType {
		return &plan{enc: encodeTimeFast, dec: decodeTimeFast}
	}
	if t.Kind() == reflect.Pointer {
		// The modes follow a pointer before they look for methods.
		return ptrPlan(t, seen)
	}
	if special(t) {
		return nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return &plan{
			enc: func(dst []byte, p unsafe.Pointer) ([]byte, bool) {
				if *(*bool)(p) {
					return append(dst, 0xf5), true
				}
				return append(dst, 0xf4), true
			},
			dec: func(d *decoder, p unsafe.Pointer) bool {
				switch d.peek() {
				case 0xf4:
					*(*bool)(p) = false
				case 0xf5:
					*(*bool)(p) = true
				default:
					return false
				}
				d.off++
				return true
			},
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return intPlan(t.Kind(), t.Bits())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return uintPlan(t.Kind(), t.Bits())
	case reflect.Float64:
		return &plan{enc: encodeFloat64Fast, dec: decodeFloat64Fast, encN: encodeFloat64s, decN: decodeFloat64s}
	case reflect.Float32:
		return &plan{enc: encodeFloat32Fast, dec: decodeFloat32Fast}
	case reflect.String:
		return &plan{enc: encodeStringFast, dec: decodeStringFast}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			if isCustom(t.Elem()) {
				return nil
			}
			return &plan{enc: encodeBytesFast, dec: decodeBytesFast}
		}
		return slicePlan(t, seen)
	case reflect.Struct:
		return structPlan(t, seen)
	case reflect.Map:
		return mapPlan(t, seen)
	}
	return nil
}

func intPlan(k reflect.Kind, bits int) *plan {
	switch k {
	case reflect.Int8:
		return signedPlan[int8](bits)
	case reflect.Int16:
		return signedPlan[int16](bits)
	case reflect.Int32:
		return signedPlan[int32](bits)
	case reflect.Int64:
		return signedPlan[int64](bits)
	}
	return signedPlan[int](bits)
}

// signedPlan is the plan of a signed integer type of the given bits, made
// for each type, so that a value costs no switch on its kind. Its runs
// (encN, decN) call enc and dec, closures of this function, which the
// compiler inlines there; one helper for all the number plans, taking
// them as function values, made encoding a slice 1.8 times slower.
func signedPlan[T int | int8 | int16 | int32 | int64](bits int) *plan {
	lim := uint64(1)<<(bits-1) - 1 // the largest value; the smallest is -1-lim
	enc := func(dst []byte, v int64) []byte {
		if v < 0 {
			return AppendHead(dst, 0x20, uint64(-(v + 1)))
		}
		return AppendHead(dst, 0x00, uint64(v))
	}
	dec := func(d *decoder, p *T) bool {
		major, n, ok := d.head()
		if !ok || n > lim {
			return false
		}
		switch major {
		case 0x00:
			*p = T(n)
		case 0x20:
			*p = T(-1 - int64(n))
		default:
			return false
		}
		return true
	}
	return &plan{
		enc: func(dst []byte, p unsafe.Pointer) ([]byte, bool) { return enc(dst, int64(*(*T)(p))), true },
		dec: func(d *decoder, p unsafe.Pointer) bool { return dec(d, (*T)(p)) },
		encN: func(dst []byte, p unsafe.Pointer, n int) ([]byte, bool) {
			for _, v := range unsafe.Slice((*T)(p), n) {
				dst = enc(dst, int64(v))
			}
			return dst, true
		},
		decN: func(d *decoder, p unsafe.Pointer, n int) bool {
			s := unsafe.Slice((*T)(p), n)
			for i := range s {
				if !dec(d, &s[i]) {
					return false
				}
			}
			return true
		},
	}
}

func uintPlan(k reflect.Kind, bits int) *plan {
	switch k {
	case reflect.Uint8:
		return unsignedPlan[uint8](bits)
	case reflect.Uint16:
		return unsignedPlan[uint16](bits)
	case reflect.Uint32:
		return unsignedPlan[uint32](bits)
	case reflect.Uint64:
		return unsignedPlan[uint64](bits)
	}
	return unsignedPlan[uint](bits)
}

// unsignedPlan is signedPlan for an unsigned integer type.
func unsignedPlan[T uint | uint8 | uint16 | uint32 | uint64](bits int) *plan {
	lim := uint64(1)<<(bits-1) - 1 + uint64(1)<<(bits-1)
	dec := func(d *decoder, p *T) bool {
		major, n, ok := d.head()
		if !ok || major != 0x00 || n > lim {
			return false
		}
		*p = T(n)
		return true
	}
	return &plan{
		enc: func(dst []byte, p unsafe.Pointer) ([]byte, bool) {
			return AppendHead(dst, 0x00, uint64(*(*T)(p))), true
		},
		dec: func(d *decoder, p unsafe.Pointer) bool { return dec(d, (*T)(p)) },
		encN: func(dst []byte, p unsafe.Pointer, n int) ([]byte, bool) {
			for _, v := range unsafe.Slice((*T)(p), n) {
				dst = AppendHead(dst, 0x00, uint64(v))
			}
			return dst, true
		},
		decN: func(d *decoder, p unsafe.Pointer, n int) bool {
			s := unsafe.Slice((*T)(p), n)
			for i := range s {
				if !dec(d, &s[i]) {
					return false
				}
			}
			return true
		},
	}
}

// partPlans builds the plans of the parts of t, whose plan p is being
// built: p stands for t meanwhile, so that a recursive type refers to its
// own plan. ok is false if a part has no plan, and then t has none either.
func partPlans(t reflect.Type, p *plan, seen map[reflect.Type]*plan, parts ...reflect.Type) (_ []*plan, ok bool) {
	seen[t] = p
	plans := make([]*plan, len(parts))
	for i, pt := range parts {
		if plans[i] = newPlan(pt, seen); plans[i] == nil {
			delete(seen, t)
			return nil, false
		}
	}
	return plans, true
}

func slicePlan(t reflect.Type, seen map[reflect.Type]*plan) *plan {
	p := &plan{}
	parts, ok := partPlans(t, p, seen, t.Elem())
	if !ok {
		return nil
	}
	elem := parts[0]
	size := t.Elem().Size()
	p.enc = func(dst []byte, ptr unsafe.Pointer) ([]byte, bool) {
		s := (*sliceHeader)(ptr)
		if s.data == nil {
			return append(dst, 0xf6), true // NilContainerAsNull
		}
		dst = AppendHead(dst, 0x80, uint64(s.len))
		if elem.encN != nil {
			return elem.encN(dst, s.data, s.len)
		}
		var ok bool
		for i := range s.len {
			if dst, ok = elem.enc(dst, unsafe.Add(s.data, uintptr(i)*size)); !ok {
				return dst, false
			}
		}
		return dst, true
	}
	p.dec = func(d *decoder, ptr unsafe.Pointer) bool {
		if d.null() {
			return true // nil
		}
		major, n, ok := d.head()
		// Every element takes a byte at least: a longer count is
		// malformed, and is not allocated for.
		if !ok || major != 0x80 || n > MaxArrayElements || n > uint64(len(d.data)-d.off) || !d.enter() {
			return false
		}
		// Grow on the field itself allocates the elements alone, where
		// MakeSlice would allocate a slice header as well.
		if n == 0 {
			// Empty, not nil, as the mode decodes it.
			*(*sliceHeader)(ptr) = sliceHeader{data: unsafe.Pointer(&emptyArray)}
			d.depth--
			return true
		}
		if !d.take(sliceItem + mul(int64(n), int64(size))) {
			return false
		}
		v := reflect.NewAt(t, ptr).Elem()
		v.Grow(int(n))
		v.SetLen(int(n))
		data := v.UnsafePointer()
		if elem.decN != nil {
			ok := elem.decN(d, data, int(n))
			d.depth--
			return ok
		}
		for i := range int(n) {
			if !elem.dec(d, unsafe.Add(data, uintptr(i)*size)) {
				return false
			}
		}
		d.depth--
		return true
	}
	return p
}

// emptyArray is where empty slices point.
var emptyArray [0]byte

// sliceHeader is the layout of a slice.
type sliceHeader struct {
	data     unsafe.Pointer
	len, cap int
}

// field is one encoded field of a struct plan.
type field struct {
	name   string // as the modes name it: the cbor or json tag's name, or the Go name
	key    []byte // name as an encoded text string
	offset uintptr
	typ    reflect.Type
	empty  func(p unsafe.Pointer) bool // for an omitempty field: whether the value is omitted; else nil
	plan   *plan
}

func structPlan(t reflect.Type, seen map[reflect.Type]*plan) *plan {
	toArray := false
	if t.NumField() > 0 {
		sf := t.Field(0)
		toArray = sf.Name == "_" && sf.Type == reflect.TypeFor[struct{}]() && sf.Tag == `cbor:",toarray"`
	}
	fields, ok := structFields(t, 0, toArray, nil)
	if !ok || !toArray && len(fields) > 64 {
		return nil // a map's fields are tracked in one word by the decoder
	}
	omits := false
	for _, f := range fields {
		omits = omits || f.empty != nil
	}
	p := &plan{}
	seen[t] = p
	// A field of a type without a plan of its own is left to the modes,
	// and only that field: the rest of the struct keeps the fast path.
	for i := range fields {
		if fields[i].plan = newPlan(fields[i].typ, seen); fields[i].plan == nil {
			fields[i].plan = modePlan(fields[i].typ)
		}
	}
	var head byte = 0xa0
	if toArray {
		head = 0x80
	}
	p.enc = func(dst []byte, ptr unsafe.Pointer) ([]byte, bool) {
		n := len(fields)
		if omits {
			for i := range fields {
				if f := &fields[i]; f.empty != nil && f.empty(unsafe.Add(ptr, f.offset)) {
					n--
				}
			}
		}
		dst = AppendHead(dst, head, uint64(n))
		var ok bool
		for i := range fields {
			f := &fields[i]
			if omits && f.empty != nil && f.empty(unsafe.Add(ptr, f.offset)) {
				continue // omitempty, as the encode mode omits it
			}
			if !toArray {
				dst = append(dst, f.key...)
			}
			if dst, ok = f.plan.enc(dst, unsafe.Add(ptr, f.offset)); !ok {
				return dst, false
			}
		}
		return dst, true
	}
	if toArray {
		p.dec = func(d *decoder, ptr unsafe.Pointer) bool {
			major, n, ok := d.head()
			if !ok || major != 0x80 || n != uint64(len(fields)) || !d.enter() {
				return false
			}
			for i := range fields {
				if !fields[i].plan.dec(d, unsafe.Add(ptr, fields[i].offset)) {
					return false
				}
			}
			d.depth--
			return true
		}
		return p
	}
	p.dec = func(d *decoder, ptr unsafe.Pointer) bool {
		if d.null() {
			return true // null leaves the struct as it is
		}
		major, n, ok := d.head()
		if !ok || major != 0xa0 || n > uint64(len(fields)) || !d.enter() {
			return false // a longer map has a field this end does not know
		}
		var found uint64
		for k := range int(n) {
			key, ok := d.key()
			if !ok {
				return false
			}
			i := findField(fields, key, k)
			if i < 0 || found&(1<<i) != 0 {
				return false // an unknown field, or a duplicate: the mode decides
			}
			found |= 1 << i
			if !fields[i].plan.dec(d, unsafe.Add(ptr, fields[i].offset)) {
				return false
			}
		}
		d.depth--
		return true
	}
	return p
}

// findField returns the index of the field named key exactly, or -1. The
// k-th key of a map is tried against the k-th field first: an encoder of
// this package writes them in that order.
// structFields appends the fields of struct t, at offset base in the
// value, to fields in the order and with the names the modes encode them:
// the fields of an embedded struct (not a pointer to one, and with no
// name in its tag) in its place, as if they were t's. ok is false for a
// struct the plans leave to the modes: a field named "_" other than the
// toarray marker, a tag option they do not follow, omitempty on a type
// whose emptiness they leave to the modes or in a toarray struct, two
// fields of one name (the modes drop both or pick one by rules of their
// own), an embedded pointer or special type, or embedding in a toarray
// struct.
func structFields(t reflect.Type, base uintptr, toArray bool, fields []field) (_ []field, ok bool) {
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Name == "_" {
			if i == 0 && base == 0 && toArray {
				continue
			}
			return nil, false
		}
		name, named, omitEmpty, ok := fieldTag(sf)
		if !ok {
			return nil, false
		}
		if sf.Anonymous && name != "" && !named {
			// Embedded, and not named by its tag: a struct's fields
			// are promoted, and another type is a field named after
			// its type.
			et := sf.Type
			if et.Kind() == reflect.Struct {
				if toArray || special(et) {
					return nil, false
				}
				if fields, ok = structFields(et, base+sf.Offset, false, fields); !ok {
					return nil, false
				}
				continue
			}
			if et.Kind() == reflect.Pointer {
				return nil, false // skipped when nil, made when decoded: left to the modes
			}
		}
		if !sf.IsExported() || name == "" {
			continue // unexported or tagged "-": the modes skip it as well
		}
		f := field{name: name, key: appendText(nil, name), offset: base + sf.Offset, typ: sf.Type}
		if omitEmpty {
			if toArray {
				return nil, false
			}
			if f.empty = emptyFunc(sf.Type); f.empty == nil {
				return nil, false
			}
		}
		for _, g := range fields {
			if g.name == name {
				return nil, false
			}
		}
		fields = append(fields, f)
	}
	return fields, true
}

func findField(fields []field, key []byte, k int) int {
	if k < len(fields) && fields[k].name == string(key) {
		return k
	}
	for i := range fields {
		if fields[i].name == string(key) {
			return i
		}
	}
	return -1
}

func encodeFloat64Fast(dst []byte, p unsafe.Pointer) ([]byte, bool) {
	f := *(*float64)(p)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, false // converted to half precision by the mode
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xfb), math.Float64bits(f)), true
}

// encodeFloat64s and decodeFloat64s are the float64 plan's encN and decN.
func encodeFloat64s(dst []byte, p unsafe.Pointer, n int) ([]byte, bool) {
	for _, f := range unsafe.Slice((*float64)(p), n) {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return dst, false
		}
		dst = binary.BigEndian.AppendUint64(append(dst, 0xfb), math.Float64bits(f))
	}
	return dst, true
}

func decodeFloat64s(d *decoder, p unsafe.Pointer, n int) bool {
	for i := range n {
		if !decodeFloat64Fast(d, unsafe.Add(p, uintptr(i)*8)) {
			return false
		}
	}
	return true
}

func decodeFloat64Fast(d *decoder, p unsafe.Pointer) bool {
	switch d.peek() {
	case 0xfb:
		if len(d.data)-d.off < 9 {
			return false
		}
		*(*float64)(p) = math.Float64frombits(binary.BigEndian.Uint64(d.data[d.off+1:]))
		d.off += 9
		return true
	case 0xfa:
		if len(d.data)-d.off < 5 {
			return false
		}
		*(*float64)(p) = float64(math.Float32frombits(binary.BigEndian.Uint32(d.data[d.off+1:])))
		d.off += 5
		return true
	}
	return false
}

func encodeStringFast(dst []byte, p unsafe.Pointer) ([]byte, bool) {
	return appendText(dst, *(*string)(p)), true
}

func decodeStringFast(d *decoder, p unsafe.Pointer) bool {
	b, ok := d.text()
	if !ok {
		return false
	}
	*(*string)(p) = d.str(b)
	return true
}

// Short strings of one body share chunks of arenaChunk bytes (or of what
// is left of the body, if less): a struct's handful of short strings cost
// one allocation rather than one each. A string kept from them keeps its
// chunk alive, at most arenaChunk bytes.
const (
	arenaChunk     = 256
	maxArenaString = 64
)

// str returns a copy of b, which the body holds, as a string.
func (d *decoder) str(b []byte) string {
	n := len(b)
	if n == 0 {
		return ""
	}
	d.used += int64(n) // no more than the body's bytes: counted, not checked
	if n > maxArenaString {
		return string(b)
	}
	if cap(d.arena)-len(d.arena) < n {
		// What is left of the body, this string included, bounds the
		// strings still to come.
		d.arena = make([]byte, 0, max(n, min(arenaChunk, len(d.data)-d.off+n)))
	}
	start := len(d.arena)
	d.arena = append(d.arena, b...)
	return unsafe.String(&d.arena[start], n)
}

func encodeBytesFast(dst []byte, p unsafe.Pointer) ([]byte, bool) {
	b := *(*[]byte)(p)
	if b == nil {
		return append(dst, 0xf6), true
	}
	return append(AppendHead(dst, 0x40, uint64(len(b))), b...), true
}

func decodeBytesFast(d *decoder, p unsafe.Pointer) bool {
	if d.null() {
		return true
	}
	major, n, ok := d.head()
	if !ok || major != 0x40 || n > uint64(len(d.data)-d.off) {
		return false
	}
	d.used += int64(n)
	b := make([]byte, n)
	copy(b, d.data[d.off:])
	d.off += int(n)
	*(*[]byte)(p) = b
	return true
}

// zoneSize is what a location made for a time's zone offset costs.
const zoneSize = 192

// rfc3339Max is the longest time text: RFC 3339 with nanoseconds and an
// offset.
const rfc3339Max = len("2006-01-02T15:04:05.999999999-07:00")

// encodeTimeFast encodes as the mode does: the zero time as null,
// another as tag 0 and RFC 3339 text with nanoseconds and the offset.
func encodeTimeFast(dst []byte, p unsafe.Pointer) ([]byte, bool) {
	t := *(*time.Time)(p)
	if t.IsZero() {
		return append(dst, 0xf6), true
	}
	if y := t.Year(); y < 0 || y > 9999 {
		return dst, false
	}
	start := len(dst)
	dst = append(dst, 0xc0, 0x78, 0)
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	n := len(dst) - start - 3
	if n < 24 { // a one-byte head
		dst[start+1] = 0x60 | byte(n)
		copy(dst[start+2:], dst[start+3:])
		return dst[:len(dst)-1], true
	}
	dst[start+2] = byte(n)
	return dst, true
}

// decodeTimeFast takes tag 0 with RFC 3339 text, or the text alone (the
// tag is optional), or null for the zero time.
func decodeTimeFast(d *decoder, p unsafe.Pointer) bool {
	switch d.peek() {
	case 0xf6:
		d.off++
		return true
	case 0xc0:
		d.off++
	}
	b, ok := d.text()
	if !ok || len(b) > rfc3339Max {
		return false
	}
	t, err := time.Parse(time.RFC3339, unsafe.String(unsafe.SliceData(b), len(b)))
	if err != nil {
		return false // the error, which holds the text, comes from the mode
	}
	if _, off := t.Zone(); off%3600 != 0 || off < -12*3600 || off > 14*3600 {
		// A location was made for the offset: the time package keeps
		// those of whole hours only. Counted after, as it is small.
		if !d.take(zoneSize) {
			return false
		}
	}
	*(*time.Time)(p) = t
	return true
}

// zeros is compared with the memory of a value to tell a zero value fast.
var zeros [512]byte

// isZero reports whether the value of type t at p is the zero value. A
// value whose bytes are all zero is; one with a byte set may still be
// (padding, say), and is reported as not zero, which only costs it the
// fast path.
func isZero(t reflect.Type, p unsafe.Pointer) bool {
	n := t.Size()
	if n > uintptr(len(zeros)) {
		return reflect.NewAt(t, p).Elem().IsZero()
	}
	return string(unsafe.Slice((*byte)(p), n)) == string(zeros[:n])
}

var decoderPool = sync.Pool{New: func() any { return new(decoder) }}

// decoder reads one body for the fast path.
type decoder struct {
	data  []byte
	off   int
	depth int
	arena []byte // the chunk short strings are copied into; see str

	// What the plans make, and what was reserved for it (see take).
	hold       Holder // nil: nothing is reserved
	used, held int64
	err        error // hold's refusal
}

// holdChunk is the least a decoder reserves at a time.
const holdChunk = QuickSize

// take counts n bytes that the plan is about to make, and reserves them
// from the decoder's Holder, if it has one, a chunk at a time. It reports
// false if the Holder refuses.
func (d *decoder) take(n int64) bool {
	d.used = min(d.used+min(n, maxCount), maxCount)
	if d.hold == nil || d.used <= d.held {
		return true
	}
	chunk := max(d.used-d.held, holdChunk)
	if err := d.hold.Hold(chunk); err != nil {
		d.err = err
		return false
	}
	d.held += chunk
	return true
}

func (d *decoder) peek() byte {
	if d.off < len(d.data) {
		return d.data[d.off]
	}
	return 0xff // a break: never accepted
}

// null reads a null, if one comes next, and reports whether it did.
func (d *decoder) null() bool {
	if d.peek() == 0xf6 {
		d.off++
		return true
	}
	return false
}

// enter counts one more level of nesting, and reports false near the
// limit.
func (d *decoder) enter() bool {
	d.depth++
	return d.depth <= fastMaxDepth
}

// head reads a definite head: its major type (in the top three bits) and
// its argument.
func (d *decoder) head() (major byte, n uint64, ok bool) {
	if d.off >= len(d.data) {
		return 0, 0, false
	}
	b := d.data[d.off]
	major, info := b&0xe0, b&0x1f
	rest := d.data[d.off+1:]
	switch {
	case info < 24:
		d.off++
		return major, uint64(info), true
	case info == 24 && len(rest) >= 1:
		d.off += 2
		return major, uint64(rest[0]), true
	case info == 25 && len(rest) >= 2:
		d.off += 3
		return major, uint64(binary.BigEndian.Uint16(rest)), true
	case info == 26 && len(rest) >= 4:
		d.off += 5
		return major, uint64(binary.BigEndian.Uint32(rest)), true
	case info == 27 && len(rest) >= 8:
		d.off += 9
		return major, binary.BigEndian.Uint64(rest), true
	}
	return 0, 0, false
}

// text reads a definite text string of valid UTF-8 and returns its bytes,
// which alias the body.
func (d *decoder) text() ([]byte, bool) {
	major, n, ok := d.head()
	if !ok || major != 0x60 || n > uint64(len(d.data)-d.off) {
		return nil, false
	}
	b := d.data[d.off : d.off+int(n)]
	if !utf8.Valid(b) {
		return nil, false
	}
	d.off += int(n)
	return b, true
}

// key reads a definite text string like text, but leaves its UTF-8
// unchecked: a key is used only if it equals the name of a field, which
// is valid UTF-8.
func (d *decoder) key() ([]byte, bool) {
	major, n, ok := d.head()
	if !ok || major != 0x60 || n > uint64(len(d.data)-d.off) {
		return nil, false
	}
	b := d.data[d.off : d.off+int(n)]
	d.off += int(n)
	return b, true
}

// AppendHead appends the head of a CBOR data item: major is the major
// type in the top three bits (0x60 for a text string), n the argument.
// cmd/remoting encodes with it too.
func AppendHead(dst []byte, major byte, n uint64) []byte {
	switch {
	case n < 24:
		return append(dst, major|byte(n))
	case n <= math.MaxUint8:
		return append(dst, major|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, major|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, major|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(dst, major|27), n)
}

func appendText(dst []byte, s string) []byte {
	return append(AppendHead(dst, 0x60, uint64(len(s))), s...)
}
