package wire

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"runtime/metrics"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decodeSize returns the bound of what Unmarshal(data, v) allocates, as
// UnmarshalHeld counts it: for a body whose length times its type's amp
// stays within QuickSize, that product; for another, what the walk
// counts, or a number above limit once that passes it. A body that does
// not parse is counted as far as it parses, which is as far as a decoder
// allocates for it.
func decodeSize(data []byte, v any, limit int64) int64 {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		return int64(len(data))
	}
	s := sizerOf(t.Elem())
	if n := int64(len(data)); s.amp <= QuickSize/max(n, 1) {
		return n * s.amp
	}
	w := walker{data: data, limit: min(limit, noLimit)}
	w.walk(s)
	return w.total
}

// allocated returns the bytes f allocates. The runtime counts a span of
// small objects as allocated when a thread takes it to allocate from,
// hence the slack the tests allow.
func allocated(f func()) int64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	f()
	metrics.Read(s)
	return int64(s[0].Value.Uint64() - before)
}

// leastAllocated is allocated's least of three runs of f, and of fewer
// if one is within bound: another goroutine of the test binary may
// allocate meanwhile (the fuzzing engine's, for one).
func leastAllocated(bound int64, f func()) int64 {
	least := int64(math.MaxInt64)
	for range 3 {
		if least = min(least, allocated(f)); least <= bound {
			break
		}
	}
	return least
}

// allocSlack is what allocated may count beyond what a decoder makes: the
// spans it counts whole, the decoders' pools.
const allocSlack = 256 << 10

// repeated is a CBOR array of n copies of item, as the field of a toarray
// argument struct.
func repeated(n int, item ...byte) []byte {
	b := AppendHead([]byte{0x81}, 0x80, uint64(n))
	for range n {
		b = append(b, item...)
	}
	return b
}

// sizeArgs are generated argument structs, each of one parameter.
type (
	recordsArgs struct {
		_ struct{} `cbor:",toarray"`
		R []record
	}
	nestedArgs struct {
		_ struct{} `cbor:",toarray"`
		N [][]string
	}
	pointersArgs struct {
		_ struct{} `cbor:",toarray"`
		P []*record
	}
	anysArgs struct {
		_ struct{} `cbor:",toarray"`
		A []any
	}
	mapArgs struct {
		_ struct{} `cbor:",toarray"`
		M map[string]int64
	}
	bigArgs struct {
		_ struct{} `cbor:",toarray"`
		B []struct{ Buf [4096]byte }
	}
)

// TestDecodeSize checks that DecodeSize bounds what both decoders
// allocate, for the bodies that cost most for their size (nulls and
// empty containers that decode to whole zero elements) and for bodies of
// real values, whose bound must stay near what they cost.
func TestDecodeSize(t *testing.T) {
	many := 1 << 20
	records := make([]record, 2000)
	for i := range records {
		records[i] = sampleRecord().R
		records[i].ID = fmt.Sprint("order-", i)
	}
	real, err := Marshal(&recordsArgs{R: records})
	require.NoError(t, err)
	keys := []byte{0x81}
	keys = AppendHead(keys, 0xa0, 1<<16)
	for i := range 1 << 16 {
		keys = appendText(keys, fmt.Sprintf("k%05d", i))
		keys = append(keys, 0x01)
	}
	for _, c := range []struct {
		name  string
		body  []byte
		into  func() any
		least int64 // what the bound must be at least
		real  bool  // a body of real values: the bound stays near the cost
	}{
		{"nulls into []record", repeated(many, 0xf6), func() any { return new(recordsArgs) }, int64(many) * 80, false},
		{"empty maps into []record", repeated(many, 0xa0), func() any { return new(recordsArgs) }, int64(many) * 80, false},
		{"tagged nulls into []record", append([]byte{0x81, 0xd8, 0x63}, repeated(many, 0xf6)[1:]...), func() any { return new(recordsArgs) }, int64(many) * 80, false},
		{"empty arrays into [][]string", repeated(many, 0x80), func() any { return new(nestedArgs) }, int64(many) * 24, false},
		{"empty maps into []*record", repeated(1<<18, 0xa0), func() any { return new(pointersArgs) }, 1 << 18 * 88, false},
		{"empty maps into []any", repeated(1<<18, 0xa0), func() any { return new(anysArgs) }, 1 << 18 * 16, false},
		{"empty maps into a slice of 4 KiB structs", repeated(1<<10, 0xa0), func() any { return new(bigArgs) }, 1 << 22, false},
		{"distinct keys into map[string]int64", keys, func() any { return new(mapArgs) }, 1 << 16 * 24, false},
		{"2000 records", real, func() any { return new(recordsArgs) }, 2000 * 80, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			bound := decodeSize(c.body, c.into(), math.MaxInt64)
			assert.GreaterOrEqual(t, bound, c.least, "DecodeSize of %d bytes", len(c.body))
			for _, dec := range []struct {
				name string
				dec  func([]byte, any) error
			}{{"plans", Unmarshal}, {"mode", decMode.Unmarshal}} {
				require.NoError(t, dec.dec(c.body, c.into()), "%s: warm-up", dec.name) // types and plans are built once
				var err error
				cost := allocated(func() { err = dec.dec(c.body, c.into()) })
				require.NoError(t, err, dec.name)
				assert.LessOrEqual(t, cost, bound+allocSlack, "%s allocates more than DecodeSize's bound", dec.name)
				if c.real {
					assert.LessOrEqual(t, bound, 4*cost, "%s: DecodeSize's bound is far above the cost of real values", dec.name)
				}
			}
			if bound > 1<<20 {
				assert.Greater(t, decodeSize(c.body, c.into(), 1<<20), int64(1<<20), "DecodeSize with a limit below the bound")
			}
		})
	}
}

// TestDecodeSizeQuick: a small body is not walked, and its bound is its
// length times what a byte of its type may cost.
func TestDecodeSizeQuick(t *testing.T) {
	in := sampleRecord()
	b, err := Marshal(&in)
	require.NoError(t, err)
	amp := sizerOf(reflect.TypeFor[recordArgs]()).amp
	assert.Equal(t, int64(len(b))*amp, decodeSize(b, &in, math.MaxInt64))
	assert.Less(t, amp, int64(256), "amplification of a record")
	assert.Equal(t, int64(len(b)), decodeSize(b, in, math.MaxInt64), "not a pointer")
	assert.Zero(t, decodeSize(nil, &in, math.MaxInt64))
}

// TestDecodeSizeTypes covers the types a walk meets: recursive ones,
// pointer cycles, fields matched but for case, fields of one name at two
// depths, keyasint, and items that do not fit the type.
func TestDecodeSizeTypes(t *testing.T) {
	type node struct {
		Next *node
		Kids []node
	}
	type cycle *cycle
	type deep struct {
		Name []record
	}
	type holder struct {
		deep
		Name []int64  // shadows deep.Name
		K    []record `cbor:"7,keyasint"`
		Ѕ    []record // a Cyrillic capital letter dze
		Long []record `json:"ſhort"`
	}
	for _, c := range []struct {
		name  string
		into  any
		body  []byte
		least int64
	}{
		{"recursive", new(node), bytes.Repeat([]byte{0xa1, 0x64, 'K', 'i', 'd', 's', 0x81}, 8), 8 * int64(reflect.TypeFor[node]().Size())},
		{"unknown", new(holder), append([]byte{0xa1, 0x64, 'k', 'I', 'd', 'S'}, repeated(1000, 0xf6)[1:]...), 0},
		{"shadowed", new(holder), append([]byte{0xa1, 0x64, 'N', 'a', 'm', 'e'}, repeated(1000, 0xf6)[1:]...), 1000 * 8},
		{"keyasint", new(holder), append([]byte{0xa1, 0x07}, repeated(1000, 0xf6)[1:]...), 1000 * 80},
		{"folded", new(holder), append([]byte{0xa1, 0x64, 'n', 'A', 'M', 'E'}, repeated(1000, 0xf6)[1:]...), 1000 * 8},
		{"folded beyond ASCII", new(holder), append([]byte{0xa1, 0x65, 'S', 'H', 'O', 'R', 'T'}, repeated(1000, 0xf6)[1:]...), 1000 * 80},
		{"mismatched", new(holder), append([]byte{0xa1, 0x61, 'K'}, repeated(1000, 0x61, 'x')[1:]...), 0},
		{"truncated", new(recordsArgs), repeated(1000, 0xf6)[:500], 0},
		{"raw", new(cbor.RawMessage), repeated(1<<16, 0xa0), 1 << 16},
	} {
		t.Run(c.name, func(t *testing.T) {
			bound := decodeSize(c.body, c.into, math.MaxInt64)
			assert.GreaterOrEqual(t, bound, c.least)
			var err error
			cost := allocated(func() { err = Unmarshal(c.body, c.into) })
			assert.LessOrEqual(t, cost, bound+allocSlack, "Unmarshal (err %v) allocates more than DecodeSize's bound", err)
		})
	}
	// The decode mode never returns for such a type; the walk does.
	assert.LessOrEqual(t, decodeSize(bytes.Repeat([]byte{0xa0}, 1<<16), new(cycle), math.MaxInt64), int64(2<<16), "pointer cycle")
	assert.Equal(t, string(fold(nil, []byte("ſhort"))), string(fold(nil, []byte("SHORT"))), "fold")
	assert.Equal(t, string(fold(nil, []byte("\u212aey"))), string(fold(nil, []byte("kEY"))), "fold")
}

// holder is a Holder of a limit that counts what it reserved.
type holder struct {
	limit, held int64
	calls       int
}

var errRefused = errors.New("refused")

func (h *holder) Hold(n int64) error {
	h.calls++
	if n > h.limit-h.held {
		return errRefused
	}
	h.held += n
	return nil
}

// TestUnmarshalHeld: what UnmarshalHeld reserves bounds what it makes, by
// the plans, by the walk and the mode, and by both for a struct some of
// whose fields the plans leave to the modes; a body that would make more
// than the Holder grants is refused with its error, having made no more
// than a chunk beyond it.
func TestUnmarshalHeld(t *testing.T) {
	type anys struct {
		_ struct{} `cbor:",toarray"`
		A []any
		I []int
	}
	type mixed struct {
		_ struct{} `cbor:",toarray"`
		R []record
		A any
	}
	records := make([]record, 2000)
	for i := range records {
		records[i] = sampleRecord().R
	}
	real, err := Marshal(&recordsArgs{R: records})
	require.NoError(t, err)
	small, err := Marshal(&recordsArgs{R: records[:1]})
	require.NoError(t, err)
	// 2,000 records and one with a duplicate field, which makes the plan
	// give up at the end and the mode report it.
	dup := AppendHead([]byte{0x81}, 0x80, uint64(len(records)+1))
	dup = append(dup, real[len(dup):]...)
	dup = append(dup, 0xa2, 0x62, 'I', 'D', 0x60, 0x62, 'I', 'D', 0x60)
	const (
		granted = iota // decoded, within what was reserved
		refused        // the Holder's error, having made no more than it granted
		failed         // another error, within what was reserved
	)
	for _, c := range []struct {
		name  string
		body  []byte
		into  func() any
		want  int
		tight bool // what was reserved stays near what was made
	}{
		{"plans, refused", repeated(1<<20, 0xf6), func() any { return new(recordsArgs) }, refused, false},
		{"plans, granted", real, func() any { return new(recordsArgs) }, granted, true},
		{"mode, refused", append(append([]byte{0x82}, repeated(1<<18, 0xa0)[1:]...), 0x80), func() any { return new(anys) }, refused, false},
		{"mode, granted", append(append([]byte{0x82}, repeated(1<<10, 0xa0)[1:]...), 0x80), func() any { return new(anys) }, granted, false},
		{"a field left to the modes, refused", append([]byte{0x82, 0x80}, repeated(1<<18, 0xa0)[1:]...), func() any { return new(mixed) }, refused, false},
		{"the plan gives up", dup, func() any { return new(recordsArgs) }, failed, false},
		{"small", small, func() any { return new(recordsArgs) }, granted, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.NoError(t, Unmarshal(real, new(recordsArgs)))
			h := &holder{limit: 8 << 20}
			var err error
			cost := allocated(func() { err = UnmarshalHeld(c.body, c.into(), h) })
			switch c.want {
			case refused:
				require.ErrorIs(t, err, errRefused)
				assert.LessOrEqual(t, cost, h.limit+allocSlack, "made before the refusal")
				return
			case failed:
				require.Error(t, err, "the mode reports the duplicate")
				require.NotErrorIs(t, err, errRefused)
			default:
				require.NoError(t, err)
			}
			assert.LessOrEqual(t, cost, h.held+allocSlack, "made beyond what was reserved")
			if c.tight {
				assert.LessOrEqual(t, h.held, 2*cost+holdChunk, "reserved far beyond what was made")
			}
		})
	}
	if h := (&holder{limit: 8 << 20}); assert.Error(t, UnmarshalHeld(dup, new(recordsArgs), h)) {
		assert.Greater(t, h.calls, 1, "the plan reserved as it went, then the walk for the mode")
	}
}

// FuzzDecodeSize decodes arbitrary bytes into the type with every kind of
// field: the walk never panics, its bound (decodeSize) bounds what the
// decoders allocate, and UnmarshalHeld reserves what it makes and decodes
// what Unmarshal decodes.
func FuzzDecodeSize(f *testing.F) {
	addPlannedSeeds(f)
	f.Add(repeated(1000, 0xf6))
	f.Fuzz(func(t *testing.T, in []byte) {
		var v planned
		bound := decodeSize(in, &v, math.MaxInt64)
		if bound < 0 {
			t.Fatalf("decodeSize(%x) = %d", in, bound)
		}
		for _, dec := range []func([]byte, any) error{Unmarshal, decMode.Unmarshal} {
			if cost := leastAllocated(bound+allocSlack, func() { _ = dec(in, new(planned)) }); cost > bound+allocSlack {
				t.Fatalf("decoding %x allocates %d bytes, decodeSize's bound is %d", in, cost, bound)
			}
		}
	})
}

// BenchmarkUnmarshalHeld measures UnmarshalHeld against Unmarshal, on a
// record (its bound reserved at once) and on twenty (counted by the
// plans as they decode).
func BenchmarkUnmarshalHeld(b *testing.B) {
	one := sampleRecord()
	twenty := recordsArgs{R: make([]record, 20)}
	for i := range twenty.R {
		twenty.R[i] = one.R
	}
	for _, c := range []struct {
		name string
		v    any
		into func() any
	}{{"record", &one, func() any { return new(recordArgs) }}, {"records-20", &twenty, func() any { return new(recordsArgs) }}} {
		body, err := Marshal(c.v)
		require.NoError(b, err)
		h := &holder{limit: math.MaxInt64}
		for _, held := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/held=%v", c.name, held), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					var err error
					if held {
						err = UnmarshalHeld(body, c.into(), h)
					} else {
						err = Unmarshal(body, c.into())
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
