package wire

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// What a body decodes to. A body's bytes are bounded by the frame limit,
// but the value they decode to can be far larger: a null, one byte, is a
// whole zero element of a slice, and a body of a million nulls sent for a
// []T makes a million Ts, in the plans as in the decode mode, which
// allocates an array's elements at its head. A sizer bounds, for one Go
// type, what one byte of a body can cost (its amp), and walks a body, item
// by item as the decoders would read it, counting the elements, pointers,
// maps and strings they would make. UnmarshalHeld reserves what a body
// decodes to with them before it is made.

// QuickSize is the bound below which a body is not walked, and what it
// decodes to not counted (see UnmarshalHeld): a connection serves at most
// its MaxConcurrentCalls of them at once, 32 MiB at the default of 1024.
const QuickSize = 32 << 10

// The costs the walk counts, in bytes, beyond the sizes of the Go values
// the decoders make.
const (
	// mapEntry is the cost of one map entry beyond four times its key's
	// and value's sizes, which a map's tables may take for each entry as
	// they grow: their control bytes and spare slots, and the tables
	// they replaced.
	mapEntry = 32
	// sliceItem is the cost of making a slice beyond its elements: the
	// decode mode boxes its header.
	sliceItem = 32
	// mapHeader is the cost of a map's header and first bucket.
	mapHeader = 64
	// opaqueItem and opaqueByte are the cost of a value that a decoder
	// hands to code of its own (a time, a big.Int, a type with its own
	// unmarshaling method): per item, and per byte of it. A time with a
	// zone offset, of 27 bytes, makes a location of about 200.
	opaqueItem = 16
	opaqueByte = 8
	// anyByte bounds the cost of one byte of a body decoded into an
	// interface: a boxed value, a slot of a []any, an entry of a
	// map[string]any.
	anyByte = 4*(16+16) + mapEntry + opaqueItem + opaqueByte + 32
)

// sizeKind is what a sizer counts for one Go type.
type sizeKind uint8

const (
	sizeScalar  sizeKind = iota // inline: booleans, numbers
	sizeString                  // a string: its bytes
	sizeBytes                   // a []byte: its bytes
	sizeSlice                   // a slice: its elements
	sizeArray                   // an array: inline elements
	sizePointer                 // a pointer: a new element
	sizeMap                     // a map: its entries
	sizeStruct                  // a struct: its fields
	sizeAny                     // an interface: what a value of any type costs
	sizeOpaque                  // decoded by code of its own: a multiple of its bytes
	sizeRaw                     // a cbor.RawMessage: a copy of its bytes
	sizeNone                    // never decoded (a chan, a func): skipped
)

// A sizer counts the bytes that decoding an item into one Go type
// allocates. Sizers of recursive types refer to each other.
type sizer struct {
	kind sizeKind
	// elem is a slice's, array's or pointer's element, or a map's value;
	// key is a map's key.
	elem, key *sizer
	// each is what a slice allocates per element, a pointer for its
	// element, a map per entry; self is what a map allocates for itself.
	each, self int64
	// The fields of a struct, by name, by keyasint number and in order
	// (for toarray); a name may stand for more than one field, of
	// different depths (see dearest).
	fields map[string][]*sizer
	named  []namedSizers       // the fields' names in order, as keys mostly come
	folded map[string][]*sizer // by the names folded for case (see fold)
	byInt  map[int64][]*sizer
	order  []*sizer
	// amp bounds what one byte of a body costs when decoded into this
	// type: a body of n bytes costs at most n*amp.
	amp int64
}

// namedSizers are the fields of one name.
type namedSizers struct {
	name   string
	fields []*sizer
}

var (
	sizers  sync.Map // reflect.Type -> *sizer
	rawType = reflect.TypeFor[cbor.RawMessage]()
)

func sizerOf(t reflect.Type) *sizer {
	if s, ok := sizers.Load(t); ok {
		return s.(*sizer)
	}
	seen := make(map[reflect.Type]*sizer)
	s := newSizer(t, seen)
	for _, n := range seen {
		n.amp = amplification(n)
	}
	v, _ := sizers.LoadOrStore(t, s)
	return v.(*sizer)
}

func newSizer(t reflect.Type, seen map[reflect.Type]*sizer) *sizer {
	if s, ok := seen[t]; ok {
		return s
	}
	s := &sizer{}
	seen[t] = s
	switch {
	case t.Kind() == reflect.Pointer:
		if pointerCycle(t) {
			s.kind = sizeNone // such as type P *P: no decoder makes one
			return s
		}
		s.kind, s.each, s.elem = sizePointer, int64(t.Elem().Size()), newSizer(t.Elem(), seen)
		return s
	case t == rawType:
		s.kind = sizeRaw
		return s
	case t == timeType || special(t):
		s.kind = sizeOpaque
		return s
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		s.kind = sizeScalar
	case reflect.String:
		s.kind = sizeString
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			s.kind = sizeBytes
			break
		}
		s.kind, s.each, s.elem = sizeSlice, int64(t.Elem().Size()), newSizer(t.Elem(), seen)
	case reflect.Array:
		s.kind, s.elem = sizeArray, newSizer(t.Elem(), seen)
	case reflect.Map:
		s.kind = sizeMap
		s.each = mul(4, int64(t.Key().Size()+t.Elem().Size())) + mapEntry
		s.self = mapHeader + int64(t.Key().Size()+t.Elem().Size()) // and a key and a value to decode into
		s.key, s.elem = newSizer(t.Key(), seen), newSizer(t.Elem(), seen)
	case reflect.Struct:
		s.kind = sizeStruct
		s.fields, s.folded, s.byInt = make(map[string][]*sizer), make(map[string][]*sizer), make(map[int64][]*sizer)
		sizeFields(s, t, 0, seen)
		for _, f := range s.order {
			for name, fs := range s.fields {
				if fs[0] == f {
					s.named = append(s.named, namedSizers{name, fs})
				}
			}
		}
	case reflect.Interface:
		s.kind = sizeAny
	default:
		s.kind = sizeNone
	}
	return s
}

// sizeFields adds the fields of struct t, and those of the structs it
// embeds, to s. A field reached through an embedded pointer costs the
// pointer's element as well (extra), which the decoders make for it. The
// names are read as leniently as the decode mode might read them: every
// field that some item could be decoded into is counted.
func sizeFields(s *sizer, t reflect.Type, extra int64, seen map[reflect.Type]*sizer) {
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("cbor")
		if tag == "" {
			tag = sf.Tag.Get("json")
		}
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" {
			et, cost := sf.Type, extra
			if et.Kind() == reflect.Pointer {
				et, cost = et.Elem(), extra+int64(et.Elem().Size())
			}
			if et.Kind() == reflect.Struct && !special(et) {
				sizeFields(s, et, cost, seen)
				continue
			}
		}
		if !sf.IsExported() && !sf.Anonymous {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		fs := newSizer(sf.Type, seen)
		if extra > 0 {
			fs = &sizer{kind: sizePointer, each: extra, elem: fs}
		}
		s.fields[name] = append(s.fields[name], fs)
		folded := string(fold(nil, []byte(name)))
		s.folded[folded] = append(s.folded[folded], fs)
		if strings.Contains(","+opts+",", ",keyasint,") {
			if k, err := strconv.ParseInt(name, 10, 64); err == nil {
				s.byInt[k] = append(s.byInt[k], fs)
			}
		}
		s.order = append(s.order, fs)
	}
}

// pointerCycle reports whether t is a pointer to pointers that lead back
// to t.
func pointerCycle(t reflect.Type) bool {
	for e := t.Elem(); e.Kind() == reflect.Pointer; e = e.Elem() {
		if e == t {
			return true
		}
	}
	return false
}

// fold appends b with each rune replaced by the least rune of its case
// folding orbit, so that two names are equal under strings.EqualFold if
// and only if they fold to the same bytes.
func fold(dst, b []byte) []byte {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		if r < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			if r != 'k' && r != 's' { // whose orbits hold runes beyond ASCII
				dst = append(dst, byte(r))
				continue
			}
		}
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		dst = utf8.AppendRune(dst, least)
	}
	return dst
}

// mul returns a*b for non-negative a and b, or maxCount if that is less:
// a few such counts add up without overflow.
func mul(a, b int64) int64 {
	if a != 0 && b > maxCount/a {
		return maxCount
	}
	return min(a*b, maxCount)
}

// maxCount is more than any memory, and far from overflow; noLimit is a
// walk's limit when there is none, which a few counts added to it do not
// overflow either.
const (
	maxCount = math.MaxInt64 / 8
	noLimit  = 4 * maxCount
)

// amplification bounds what one byte of a body costs when decoded into
// the type of s. Every item of a body has a head byte of its own, and an
// item costs at most what the container it is in allocates for each of
// its items (a slice's element, a map's entry) plus what it allocates
// for itself (a pointer's element, a slice's header, an opaque value's
// overhead); beyond that, strings cost a byte for each of theirs, and
// opaque values opaqueByte.
func amplification(s *sizer) int64 {
	var each, self, perByte int64 = 0, 0, 1
	seen := make(map[*sizer]bool)
	var visit func(*sizer)
	visit = func(s *sizer) {
		if s == nil || seen[s] {
			return
		}
		seen[s] = true
		switch s.kind {
		case sizeSlice, sizeMap:
			each = max(each, s.each)
		case sizeAny:
			each = max(each, anyByte)
		}
		if s.kind == sizeOpaque || s.kind == sizeAny {
			perByte = opaqueByte
		}
		self = max(self, itemSelf(s))
		visit(s.elem)
		visit(s.key)
		for _, f := range s.order {
			visit(f)
		}
	}
	visit(s)
	if each > math.MaxInt64/4 || self > math.MaxInt64/4 {
		return math.MaxInt64 / 2
	}
	return each + self + perByte
}

// itemSelf is what one item decoded into the type of s allocates for
// itself: a pointer's element, and what that element's item allocates
// (a pointer never leads back to itself without a container between).
func itemSelf(s *sizer) int64 {
	switch s.kind {
	case sizePointer:
		return min(s.each+itemSelf(s.elem), math.MaxInt64/4)
	case sizeSlice:
		return sliceItem
	case sizeMap:
		return s.self
	case sizeOpaque:
		return opaqueItem
	case sizeAny:
		return anyByte
	}
	return 0
}

// walker walks one body, counting what decoding it allocates.
type walker struct {
	data  []byte
	off   int
	depth int
	total int64
	limit int64
	buf   []byte // a folded key
}

// add counts n bytes, and reports false once the count passes the limit.
func (w *walker) add(n int64) bool {
	if n > w.limit-w.total {
		w.total = w.limit + 1
		return false
	}
	w.total += n
	return w.total <= w.limit
}

// head reads an item's head: its major type and argument. It reports
// false for a truncated head, an indefinite length, or reserved bits.
func (w *walker) head() (major byte, n uint64, ok bool) {
	if w.off >= len(w.data) {
		return 0, 0, false
	}
	b := w.data[w.off]
	major, info := b&0xe0, b&0x1f
	if info < 24 {
		w.off++
		return major, uint64(info), true
	}
	d := decoder{data: w.data, off: w.off}
	major, n, ok = d.head()
	w.off = d.off
	return major, n, ok
}

// pass moves past n bytes of a string, and reports false if the body
// does not hold them.
func (w *walker) pass(n uint64) bool {
	if n > uint64(len(w.data)-w.off) {
		return false
	}
	w.off += int(n)
	return true
}

// items walks the n items of a container into s (nil: skipped) or, if
// any, as values of an interface; the container's head was read.
func (w *walker) items(n uint64, s *sizer, any bool) bool {
	if !w.enter() {
		return false
	}
	for range n {
		ok := false
		if any {
			ok = w.any()
		} else {
			ok = w.item(s)
		}
		if !ok {
			return false
		}
	}
	w.depth--
	return true
}

// count reads a container's head of n items of at least min bytes each,
// and reports false if the body cannot hold them.
func (w *walker) count(n uint64, min int) bool {
	return n <= MaxArrayElements && n <= uint64(len(w.data)-w.off)/uint64(min)
}

// enter counts a level of nesting; past the decoders' limit the body is
// refused by them before anything more is made.
func (w *walker) enter() bool {
	w.depth++
	return w.depth <= MaxNestedLevels
}

// walk counts the next item decoded into the type of s, and moves past
// it. It reports false once the count passes the limit or the body does
// not parse; an item of a type that does not match s is skipped, as the
// decoders skip it.
func (w *walker) walk(s *sizer) bool {
	if w.off >= len(w.data) {
		return false
	}
	switch b := w.data[w.off]; {
	case b == 0xf6 || b == 0xf7: // null, undefined: nothing is made
		w.off++
		return true
	case s.kind == sizeAny:
		return w.any()
	case s.kind == sizeOpaque || s.kind == sizeNone || s.kind == sizeRaw:
		start := w.off
		if !w.skip() {
			return false
		}
		switch s.kind {
		case sizeNone:
			return true
		case sizeRaw:
			return w.add(int64(w.off - start))
		}
		return w.add(opaqueItem + opaqueByte*int64(w.off-start))
	case s.kind == sizePointer:
		return w.add(s.each) && w.walk(s.elem)
	case w.data[w.off]&0xe0 == 0xc0:
		// A tag the type has no use for: the decode mode decodes its
		// content into the type.
		if _, _, ok := w.head(); !ok || !w.enter() || !w.walk(s) {
			return false
		}
		w.depth--
		return true
	}
	start := w.off
	major, n, ok := w.head()
	if !ok {
		return false
	}
	switch {
	case major == 0x40 || major == 0x60: // a string of n bytes
		if !w.pass(n) {
			return false
		}
		if s.kind == sizeString || s.kind == sizeBytes {
			return w.add(int64(n))
		}
		return true
	case major == 0x80 && (s.kind == sizeSlice || s.kind == sizeBytes || s.kind == sizeArray || s.kind == sizeStruct):
		if !w.count(n, 1) {
			return false
		}
		switch s.kind {
		case sizeSlice:
			if !w.add(sliceItem) || !w.add(mul(int64(n), s.each)) {
				return false
			}
		case sizeBytes:
			if !w.add(int64(n)) {
				return false
			}
		case sizeStruct: // toarray: its fields in order
			if !w.enter() {
				return false
			}
			for i := range n {
				var f *sizer
				if i < uint64(len(s.order)) {
					f = s.order[i]
				}
				if !w.item(f) {
					return false
				}
			}
			w.depth--
			return true
		}
		return w.items(n, s.elem, false) // a []byte's elem is nil: skipped
	case major == 0xa0 && (s.kind == sizeMap || s.kind == sizeStruct):
		if !w.count(n, 2) || !w.enter() {
			return false
		}
		if s.kind == sizeMap {
			if !w.add(s.self) || !w.add(mul(int64(n), s.each)) {
				return false
			}
			for range n {
				if !w.walk(s.key) || !w.walk(s.elem) {
					return false
				}
			}
			w.depth--
			return true
		}
		for k := range int(n) {
			fields, ok := w.fieldsOf(s, k)
			if !ok || !w.dearest(fields) {
				return false
			}
		}
		w.depth--
		return true
	}
	// Any other item, or one that does not fit the type: the decoders
	// skip it.
	w.off = start
	return w.skip()
}

// item walks an item into s, or skips it if s is nil.
func (w *walker) item(s *sizer) bool {
	if s == nil {
		return w.skip()
	}
	return w.walk(s)
}

// fieldsOf reads the key of the k-th entry of a struct's map and returns
// the fields it may be decoded into: the fields of that name, or else
// those whose name matches it but for case, as the decode mode matches
// them, or those of a keyasint number.
func (w *walker) fieldsOf(s *sizer, k int) ([]*sizer, bool) {
	start := w.off
	major, n, ok := w.head()
	if !ok {
		return nil, false
	}
	switch major {
	case 0x60:
		start := w.off
		if !w.pass(n) {
			return nil, false
		}
		key := w.data[start:w.off]
		if k < len(s.named) && s.named[k].name == string(key) {
			return s.named[k].fields, true
		}
		if fs, ok := s.fields[string(key)]; ok {
			return fs, true
		}
		w.buf = fold(w.buf[:0], key)
		return s.folded[string(w.buf)], true
	case 0x00:
		if n <= math.MaxInt64 {
			return s.byInt[int64(n)], true
		}
		return nil, true
	case 0x20:
		if n <= math.MaxInt64 {
			return s.byInt[-1-int64(n)], true
		}
		return nil, true
	}
	w.off = start
	return nil, w.skip()
}

// dearest walks the next item as the one field it is decoded into, skips
// it if there is none, and counts it at the dearest of their
// amplifications if there are several: walking it as each in turn would
// cost, nested, a power of their number.
func (w *walker) dearest(fields []*sizer) bool {
	switch len(fields) {
	case 0:
		return w.skip()
	case 1:
		return w.walk(fields[0])
	}
	var amp int64
	for _, f := range fields {
		amp = max(amp, f.amp)
	}
	start := w.off
	return w.skip() && w.add(mul(int64(w.off-start), amp))
}

// any counts the next item decoded into an interface: boxed numbers and
// strings, []any and map[string]any, times, big.Ints and cbor.Tags.
func (w *walker) any() bool {
	start := w.off
	major, n, ok := w.head()
	if !ok {
		return false
	}
	switch major {
	case 0x40, 0x60:
		return w.pass(n) && w.add(24+int64(n))
	case 0x80:
		return w.count(n, 1) && w.add(24+16*int64(n)) && w.items(n, nil, true)
	case 0xa0:
		return w.count(n, 2) && w.add(mapHeader+32+int64(n)*(4*(16+16)+mapEntry)) && w.items(2*n, nil, true)
	case 0xc0:
		if !w.enter() || !w.add(opaqueItem) {
			return false
		}
		if n <= 3 { // a time or a big number: opaque
			w.off = start
			if !w.skip() {
				return false
			}
			w.depth--
			return w.add(opaqueByte * int64(w.off-start))
		}
		if !w.any() {
			return false
		}
		w.depth--
		return true
	}
	return w.add(16)
}

// skip moves past the next item, allocating nothing.
func (w *walker) skip() bool {
	major, n, ok := w.head()
	if !ok {
		return false
	}
	switch major {
	case 0x40, 0x60:
		return w.pass(n)
	case 0x80:
		return w.count(n, 1) && w.items(n, nil, false)
	case 0xa0:
		return w.count(n, 2) && w.items(2*n, nil, false)
	case 0xc0:
		if !w.enter() || !w.skip() {
			return false
		}
		w.depth--
	}
	return true
}
