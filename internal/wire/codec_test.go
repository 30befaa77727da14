package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// record is a user's struct as a generated argument struct carries it: no
// CBOR tags, so it travels as a map keyed by field name.
type record struct {
	ID    string
	Count int64
	Score float64
	At    time.Time
	Tags  []string
}

// recordArgs is a generated argument struct.
type recordArgs struct {
	_ struct{} `cbor:",toarray"`
	R record
}

func sampleRecord() recordArgs {
	return recordArgs{R: record{
		ID: "order-004711", Count: 1_234_567_890_123, Score: 0.8125,
		At:   time.Date(2026, 12, 1, 9, 30, 15, 123456789, time.FixedZone("", 3600)),
		Tags: []string{"priority", "express", "gift-wrapped"},
	}}
}

// TestRecordRoundTrip checks what the wire promises for a user's struct:
// nanoseconds and the zone offset survive, and a field this end does not
// know is ignored.
func TestRecordRoundTrip(t *testing.T) {
	in := sampleRecord()
	buf, err := MarshalBuffer(&in)
	require.NoError(t, err, "MarshalBuffer")
	defer PutBuffer(buf)
	var out recordArgs
	require.NoError(t, Unmarshal(buf.Bytes(), &out), "Unmarshal(%x)", buf.Bytes())
	assert.True(t, in.R.At.Equal(out.R.At), "Unmarshal(%x): At %v, want %v", buf.Bytes(), out.R.At, in.R.At)
	_, off := out.R.At.Zone()
	assert.Equal(t, 3600, off, "Unmarshal(%x): zone offset", buf.Bytes())
	out.R.At = in.R.At
	assert.Equal(t, in, out, "Unmarshal(%x)", buf.Bytes())

	type newerRecord struct {
		ID    string
		Count int64
		Score float64
		At    time.Time
		Tags  []string
		Extra map[string]int
	}
	type newerArgs struct {
		_ struct{} `cbor:",toarray"`
		R newerRecord
	}
	newer, err := Marshal(&newerArgs{R: newerRecord{ID: in.R.ID, Count: in.R.Count, Extra: map[string]int{"x": 1}}})
	require.NoError(t, err, "Marshal")
	var old recordArgs
	require.NoError(t, Unmarshal(newer, &old), "Unmarshal(%x) into the older type", newer)
	assert.Equal(t, in.R.ID, old.R.ID, "Unmarshal(%x) into the older type", newer)
}

func BenchmarkMarshalRecord(b *testing.B) { benchMarshal(b, sampleRecord(), false) }

func BenchmarkUnmarshalRecord(b *testing.B) { benchUnmarshal(b, sampleRecord(), false) }

// planned holds the types the plans cover, nested, with every kind of
// field they support.
type planned struct {
	_       struct{} `cbor:",toarray"`
	B       bool
	I       int
	I8      int8
	I16     int16
	I32     int32
	I64     int64
	U       uint
	U8      uint8
	U16     uint16
	U32     uint32
	U64     uint64
	F       float64
	S       string
	Bytes   []byte
	T       time.Time
	Records []record
	R       record
	Nested  [][]string
	F32     float32
	P       *record
	PNil    *int
	M       map[string]int64
	MR      map[string]record
	MI      map[int32]string
	Tagged  tagged
	Ints    []int64
	Small   []int8
	Us      []uint16
	Is      []int
	Fs      []float64
	// Left to the modes, each field alone.
	Any any
	Arr [2]int
	Op  opaque
	Big *big.Int
	Emb embedding
}

// tagged is a user's struct with the tags the plans follow: names from
// the cbor tag or else the json tag, "-", omitempty, options the modes
// ignore, and an unexported field, which is not encoded.
type tagged struct {
	ID     string            `json:"id"`
	Note   string            `json:"note,omitempty"`
	N      int               `cbor:"n,omitempty" json:"ignored"`
	Skip   string            `json:"-"`
	Dash   string            `json:"-,"`
	Opts   []string          `json:",omitempty"`
	When   time.Time         `json:"when,omitempty"`
	Ptr    *record           `json:"ptr,omitempty"`
	PT     *time.Time        `json:"pt,omitempty"`
	PO     *opaque           `json:"po,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	Ratio  float64           `json:"ratio,omitempty,string"`
	hidden int
}

// opaque has marshaling methods of its own, as an id type often has.
type opaque [4]byte

func (o opaque) MarshalBinary() ([]byte, error) { return o[:], nil }

func (o *opaque) UnmarshalBinary(b []byte) error {
	if len(b) != len(o) {
		return errors.New("opaque: not 4 bytes")
	}
	copy(o[:], b)
	return nil
}

// embedding embeds structs, whose fields the modes promote unless the
// tag names the embedded field, and a type that is not a struct.
type embedding struct {
	record
	Extra string
	inner `json:",omitempty"`
	Named inner `json:"named"`
	Level
}

type inner struct {
	Deep  int64
	Later string `json:"later,omitempty"`
}

// Level is embedded as a field named Level.
type Level int

func samplePlanned() []planned {
	r := sampleRecord().R
	return []planned{
		{},
		{B: true, I: -1, I8: -128, I16: 32767, I32: -1 << 31, I64: -1 << 63, U: 1 << 40, U8: 255, U16: 65535,
			U32: 1<<32 - 1, U64: 1<<64 - 1, F: -0.1, S: "héllo", Bytes: []byte{}, T: r.At,
			Records: []record{r, {}, {Tags: []string{}}}, R: r, Nested: [][]string{nil, {}, {"a"}},
			F32: -1.5, P: &r, PNil: nil, M: map[string]int64{"a": -1}, MR: map[string]record{"r": r}, MI: map[int32]string{-7: "x"},
			Tagged: tagged{ID: "t", Note: "n", N: 3, Skip: "not sent", Dash: "d", Opts: []string{"o"}, When: r.At,
				Ptr: &record{}, PT: &r.At, PO: &opaque{5}, Labels: map[string]string{"k": "v"}, Ratio: 0.5, hidden: 1},
			Any: map[string]any{"k": []any{uint64(1), "two"}}, Arr: [2]int{1, -2}, Op: opaque{1, 2, 3, 4},
			Big:  new(big.Int).Lsh(big.NewInt(1), 100),
			Emb:  embedding{record: r, Extra: "e", inner: inner{Deep: 7, Later: "l"}, Named: inner{Deep: -1}, Level: 3},
			Ints: []int64{0, -1, 23, 24, -25, 1 << 40, -1 << 63, 1<<63 - 1}, Small: []int8{-128, 127, 0}, Us: []uint16{0, 65535, 300}, Is: []int{},
			Fs: []float64{0, -0.5, 1e300, 5e-324}},
		{I: 23, I64: 24, U: 255, U16: 256, S: string(make([]byte, 300)), Bytes: make([]byte, 70000),
			T: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Records: []record{},
			M: map[string]int64{}, MR: map[string]record{}, Tagged: tagged{Opts: []string{}, Labels: map[string]string{}, hidden: 2},
			Any: int64(-1), Big: big.NewInt(-5)},
		{T: time.Date(1, 1, 1, 0, 0, 0, 1, time.FixedZone("", -(3*3600+30*60))), Fs: []float64{1, math.Inf(-1)}},
	}
}

// TestPlanBytes checks that the plans encode as the encode mode does, and
// decode what they encoded as the decode mode does.
func TestPlanBytes(t *testing.T) {
	for i, in := range samplePlanned() {
		want, err := encMode.Marshal(&in)
		require.NoError(t, err, "encMode.Marshal(sample %d)", i)
		got, err := Marshal(&in)
		require.NoError(t, err, "Marshal(sample %d)", i)
		assert.Equal(t, want, got, "Marshal(sample %d)", i)

		var viaMode, viaPlan planned
		require.NoError(t, decMode.Unmarshal(want, &viaMode), "decMode.Unmarshal(%x)", want)
		require.NoError(t, Unmarshal(want, &viaPlan), "Unmarshal(%x)", want)
		assert.Equal(t, viaMode, viaPlan, "Unmarshal(%x)", want)
	}
}

// TestPlanMaps: maps with several entries, whose order the encoders do
// not fix, decode through the plans as through the decode mode.
func TestPlanMaps(t *testing.T) {
	in := planned{
		M:  map[string]int64{"a": 1, "b": -2, "c": 1 << 40},
		MR: map[string]record{"x": sampleRecord().R, "y": {}},
		MI: map[int32]string{1: "one", -2: "minus two", 1 << 30: ""},
	}
	body := must(t)(Marshal(&in))
	var viaMode, viaPlan planned
	require.NoError(t, decMode.Unmarshal(body, &viaMode), "decMode.Unmarshal(%x)", body)
	require.NoError(t, Unmarshal(body, &viaPlan), "Unmarshal(%x)", body)
	assert.Equal(t, viaMode, viaPlan, "Unmarshal(%x)", body)
	assert.Equal(t, in.M, viaPlan.M)
	assert.Equal(t, in.MI, viaPlan.MI)
}

// TestPlanFieldFallback: what the plans of maps, pointers and the fields
// left to the modes do not take is decided by the decode mode, as for
// the rest of a body.
func TestPlanFieldFallback(t *testing.T) {
	type deep struct{ A []any }
	nested := func(n int) []byte {
		b := append([]byte{0xa1, 0x61, 'A'}, bytes.Repeat([]byte{0x81}, n)...)
		return append(b, 0x01)
	}
	text := func(s string) []byte { return appendText(nil, s) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name string
		in   []byte
		into func() any
	}{
		{"duplicate map key", cat([]byte{0xa1}, text("labels"), []byte{0xa2}, text("k"), text("v"), text("k"), text("w")), func() any { return new(tagged) }},
		{"int key for a string key", cat([]byte{0xa1}, text("labels"), []byte{0xa1, 0x01}, text("v")), func() any { return new(tagged) }},
		{"map count past the body", cat([]byte{0xa1}, text("labels"), []byte{0xba, 0xff, 0xff, 0xff, 0xff}), func() any { return new(tagged) }},
		{"undefined pointer", cat([]byte{0xa1}, text("ptr"), []byte{0xf7}), func() any { return new(tagged) }},
		{"null pointer", cat([]byte{0xa1}, text("ptr"), []byte{0xf6}), func() any { return new(tagged) }},
		{"skipped field named", cat([]byte{0xa1}, text("Skip"), text("x")), func() any { return new(tagged) }},
		{"go name of a tagged field", cat([]byte{0xa1}, text("ID"), text("x")), func() any { return new(tagged) }},
		{"nesting the field's mode takes", nested(10), func() any { return new(deep) }},
		{"nesting only the whole mode takes", nested(20), func() any { return new(deep) }},
		{"nesting past the limit", nested(40), func() any { return new(deep) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { assertSameDecode(t, tc.in, tc.into(), tc.into()) })
	}
}

// TestPlanNaN: NaNs decode to the bits the decode mode gives them, which
// makes a signaling NaN of single precision quiet.
func TestPlanNaN(t *testing.T) {
	type f32 struct {
		_ struct{} `cbor:",toarray"`
		F float32
	}
	type f64 struct {
		_ struct{} `cbor:",toarray"`
		F float64
	}
	for _, bits := range []uint32{0x7f800001, 0x7fc00001, 0xffc00000} {
		in := binary.BigEndian.AppendUint32([]byte{0x81, 0xfa}, bits)
		var viaMode, viaPlan f32
		require.NoError(t, decMode.Unmarshal(in, &viaMode), "decMode.Unmarshal(%x)", in)
		require.NoError(t, Unmarshal(in, &viaPlan), "Unmarshal(%x)", in)
		assert.Equal(t, math.Float32bits(viaMode.F), math.Float32bits(viaPlan.F), "Unmarshal(%x)", in)
	}
	for _, bits := range []uint64{0x7ff0000000000001, 0x7ff8000000000001} {
		in := binary.BigEndian.AppendUint64([]byte{0x81, 0xfb}, bits)
		var viaMode, viaPlan f64
		require.NoError(t, decMode.Unmarshal(in, &viaMode), "decMode.Unmarshal(%x)", in)
		require.NoError(t, Unmarshal(in, &viaPlan), "Unmarshal(%x)", in)
		assert.Equal(t, math.Float64bits(viaMode.F), math.Float64bits(viaPlan.F), "Unmarshal(%x)", in)
	}
}

// TestPlanCoverage: the types users' structs are made of have plans, and
// a field of a type without one leaves the rest of its struct planned.
func TestPlanCoverage(t *testing.T) {
	for _, v := range []any{planned{}, tagged{}, recordArgs{}, map[string][]*record{}, new(time.Time), embedding{}} {
		assert.NotNil(t, planOf(reflect.TypeOf(v)), "plan of %T", v)
	}
	for _, v := range []any{[2]int{}, opaque{}, new(opaque), big.Int{}, new(big.Int), new(any), struct {
		A int `cbor:"1,keyasint"`
	}{}, struct{ *record }{}, struct {
		record
		ID int // the modes pick the outer ID
	}{}} {
		assert.Nil(t, planOf(reflect.TypeOf(v)), "plan of %T", v)
	}
}

// TestPlanFallback checks that what the plans do not take is left to the
// modes, with their outcome.
func TestPlanFallback(t *testing.T) {
	r := sampleRecord()
	good, err := Marshal(&r)
	require.NoError(t, err, "Marshal")
	enc := func(v any) []byte {
		b, err := encMode.Marshal(v)
		require.NoError(t, err, "encMode.Marshal(%v)", v)
		return b
	}
	tests := []struct {
		name string
		in   []byte
	}{
		{"trailing bytes", append(append([]byte{}, good...), 0)},
		{"truncated", good[:len(good)-1]},
		{"duplicate field", enc([]any{map[string]any{"ID": "a", "Count": 1}})[:0]},
		{"unknown field", enc([]any{map[string]any{"ID": "a", "Extra": []int{1}}})},
		{"int where a string goes", enc([]any{map[string]any{"ID": 1}})},
		{"float where an int goes", enc([]any{map[string]any{"Count": 1.5}})},
		{"int for a float", enc([]any{map[string]any{"Score": 2}})},
		{"epoch time", enc([]any{map[string]any{"At": cbor.Tag{Number: 1, Content: 1700000000}}})},
		{"bad time text", enc([]any{map[string]any{"At": cbor.Tag{Number: 0, Content: "yesterday"}}})},
		{"invalid UTF-8", append([]byte{0x81, 0xa1, 0x62, 'I', 'D', 0x61}, 0xff)},
		{"indefinite array", []byte{0x9f, 0xa0, 0xff}},
		{"lowercase field", enc([]any{map[string]any{"id": "a"}})},
		{"too many elements", []byte{0x82, 0xa0, 0xa0}},
		{"deep nesting", append(bytes.Repeat([]byte{0x81}, 40), 0xa0)},
	}
	// A map with the same key twice, which no encoder of this package makes.
	tests[2].in = []byte{0x81, 0xa2, 0x62, 'I', 'D', 0x61, 'a', 0x62, 'I', 'D', 0x61, 'b'}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { assertSameDecode(t, tc.in, new(recordArgs), new(recordArgs)) })
	}

	t.Run("not a zero value", func(t *testing.T) {
		in := enc([]any{map[string]any{"ID": "a", "Extra": 1}})
		viaMode := recordArgs{R: record{Count: 7}}
		viaPlan := viaMode
		require.NoError(t, decMode.Unmarshal(in, &viaMode), "decMode.Unmarshal(%x)", in)
		require.NoError(t, Unmarshal(in, &viaPlan), "Unmarshal(%x)", in)
		assert.Equal(t, viaMode, viaPlan, "Unmarshal(%x)", in)
	})
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		in := planned{F: f}
		want, got := enc(&in), must(t)(Marshal(&in))
		assert.Equal(t, want, got, "Marshal(%v)", f)
	}
	far := planned{T: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	_, wantErr := encMode.Marshal(&far)
	_, gotErr := Marshal(&far)
	assert.Equal(t, wantErr, gotErr, "Marshal(year 10000)")
}

// assertSameDecode decodes in into viaMode with the decode mode and into
// viaPlan with Unmarshal: both must fail with the same error, or give the
// same value.
func assertSameDecode(t *testing.T, in []byte, viaMode, viaPlan any) {
	t.Helper()
	wantErr := decMode.Unmarshal(in, viaMode)
	gotErr := Unmarshal(in, viaPlan)
	if wantErr != nil {
		require.Error(t, gotErr, "Unmarshal(%x)", in)
		assert.Equal(t, wantErr.Error(), gotErr.Error(), "Unmarshal(%x)", in)
		return
	}
	require.NoError(t, gotErr, "Unmarshal(%x)", in)
	assert.Equal(t, viaMode, viaPlan, "Unmarshal(%x)", in)
}

func must(t *testing.T) func([]byte, error) []byte {
	return func(b []byte, err error) []byte {
		t.Helper()
		require.NoError(t, err)
		return b
	}
}

// The Mode benchmarks measure the encode and decode modes alone, without
// the plans, for comparison.
func BenchmarkMarshalRecordMode(b *testing.B) { benchMarshal(b, sampleRecord(), true) }

func BenchmarkUnmarshalRecordMode(b *testing.B) { benchUnmarshal(b, sampleRecord(), true) }

// TestPlanStrings: the short strings of a body, copied into shared chunks,
// keep their values after the body is overwritten and another body is
// decoded; long strings and empty ones decode too.
func TestPlanStrings(t *testing.T) {
	long := string(bytes.Repeat([]byte("x"), maxArenaString+1))
	in := recordArgs{R: record{ID: "order-1", Tags: []string{"a", "", "gift-wrapped", long}}}
	body, err := Marshal(&in)
	require.NoError(t, err)
	var got recordArgs
	require.NoError(t, Unmarshal(body, &got))
	for i := range body {
		body[i] = 0
	}
	other, err := Marshal(&recordArgs{R: record{ID: "order-2", Tags: []string{"b", "c"}}})
	require.NoError(t, err)
	var next recordArgs
	require.NoError(t, Unmarshal(other, &next))
	assert.Equal(t, in, got, "Unmarshal(%x) after the body was overwritten", body)
	assert.Equal(t, []string{"b", "c"}, next.R.Tags)
	n := testing.AllocsPerRun(100, func() {
		var r recordArgs
		_ = Unmarshal(other, &r)
	})
	assert.LessOrEqual(t, n, 3.0, "one allocation for the value, one for the tags slice, one for the three strings")
}

// taggedArgs is a generated argument struct that carries a user's struct
// with json tags, a map and a pointer.
type taggedArgs struct {
	_ struct{} `cbor:",toarray"`
	T tagged
}

func sampleTagged() taggedArgs {
	r := sampleRecord().R
	return taggedArgs{T: tagged{ID: "order-004711", Note: "leave at the door", N: 3, Opts: []string{"express", "gift-wrapped"},
		When: r.At, Ptr: &r, Labels: map[string]string{"region": "eu-west"}, Ratio: 0.25}}
}

// The Tagged benchmarks measure such a struct through the plans and, as
// Mode, through the modes alone.
func BenchmarkMarshalTagged(b *testing.B)       { benchMarshal(b, sampleTagged(), false) }
func BenchmarkMarshalTaggedMode(b *testing.B)   { benchMarshal(b, sampleTagged(), true) }
func BenchmarkUnmarshalTagged(b *testing.B)     { benchUnmarshal(b, sampleTagged(), false) }
func BenchmarkUnmarshalTaggedMode(b *testing.B) { benchUnmarshal(b, sampleTagged(), true) }

func benchMarshal[T any](b *testing.B, in T, mode bool) {
	b.ReportAllocs()
	for b.Loop() {
		if mode {
			buf := bufPool.Get().(*bytes.Buffer)
			buf.Reset()
			if err := encMode.MarshalToBuffer(&in, buf); err != nil {
				b.Fatal(err)
			}
			PutBuffer(buf)
			continue
		}
		buf, err := MarshalBuffer(&in)
		if err != nil {
			b.Fatal(err)
		}
		PutBuffer(buf)
	}
}

func benchUnmarshal[T any](b *testing.B, in T, mode bool) {
	data, err := Marshal(&in)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var out T
		if mode {
			err = decMode.Unmarshal(data, &out)
		} else {
			err = Unmarshal(data, &out)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// TestMarshalBufferGrows: an encoding that outgrows the pooled buffer is
// kept where the plan put it, and is the same as Marshal's; the buffer
// stays usable for small encodings after it.
func TestMarshalBufferGrows(t *testing.T) {
	type blob struct {
		ID   string
		Data []byte
	}
	for _, n := range []int{0, 100, 70 << 10, 1 << 20} {
		in := blob{ID: "b", Data: bytes.Repeat([]byte{0xab}, n)}
		want, err := Marshal(&in)
		require.NoError(t, err)
		buf, err := MarshalBuffer(&in)
		require.NoError(t, err)
		assert.Equal(t, want, buf.Bytes(), "%d bytes of data", n)
		buf.WriteByte(1) // the buffer is a working bytes.Buffer
		assert.Equal(t, len(want)+1, buf.Len(), "%d bytes of data", n)
		PutBuffer(buf)
	}
}

// seriesArgs is a generated argument struct that carries a time series: a
// name, a time, and 256 samples as floats and as counts.
type seriesArgs struct {
	_ struct{} `cbor:",toarray"`
	S series
}

type series struct {
	Name   string
	At     time.Time
	Values []float64
	Counts []int64
}

func sampleSeries() seriesArgs {
	s := series{Name: "cpu.load", At: sampleRecord().R.At, Values: make([]float64, 256), Counts: make([]int64, 256)}
	for i := range 256 {
		s.Values[i] = float64(i) * 1.5
		s.Counts[i] = int64(i * i * 31)
	}
	return seriesArgs{S: s}
}

// The Series benchmarks measure slices of numbers through the plans and,
// as Mode, through the modes alone.
func BenchmarkMarshalSeries(b *testing.B)       { benchMarshal(b, sampleSeries(), false) }
func BenchmarkMarshalSeriesMode(b *testing.B)   { benchMarshal(b, sampleSeries(), true) }
func BenchmarkUnmarshalSeries(b *testing.B)     { benchUnmarshal(b, sampleSeries(), false) }
func BenchmarkUnmarshalSeriesMode(b *testing.B) { benchUnmarshal(b, sampleSeries(), true) }
