package passivation_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/passivation"
)

// cart is the state of an object, as a type would save it.
type cart struct {
	Owner   string
	Items   map[string]int
	Notes   []string
	Blob    []byte
	Total   int64
	Updated time.Time
	Nested  *cart
}

// cartV1 is an older layout of cart.
type cartV1 struct {
	Owner string
	Count int
}

func TestEncodeDecode(t *testing.T) {
	when := time.Date(2024, 5, 1, 12, 30, 0, 123456789, time.FixedZone("X", 3600))
	tests := []struct {
		name   string
		schema uint32
		in     any
		out    func() any // a pointer to decode into
	}{
		{"struct", 2, cart{Owner: "ann", Items: map[string]int{"sku-1": 2}, Notes: []string{"a", ""}, Blob: []byte{0, 1}, Total: -7, Updated: when, Nested: &cart{Owner: "inner"}}, func() any { return new(cart) }},
		{"empty containers stay apart from nil", 0, cart{Items: map[string]int{}, Notes: []string{}}, func() any { return new(cart) }},
		{"pointer", 1, &cartV1{Owner: "bob", Count: 3}, func() any { return new(cartV1) }},
		{"int", 9, 42, func() any { return new(int) }},
		{"string", 1 << 31, "state", func() any { return new(string) }},
		{"object id", 3, remoting.NameID("x"), func() any { return new(remoting.ObjectID) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := passivation.Encode(tc.schema, tc.in)
			require.NoError(t, err, "Encode(%d, %v)", tc.schema, tc.in)
			out := tc.out()
			schema, err := passivation.Decode(data, out)
			require.NoError(t, err, "Decode(%x)", data)
			assert.Equal(t, tc.schema, schema, "Decode(%x) schema", data)
			want := tc.in
			if p, ok := want.(*cartV1); ok {
				want = *p
			}
			got := deref(out)
			if c, ok := got.(cart); ok {
				assert.True(t, c.Updated.Equal(want.(cart).Updated), "Decode(%x).Updated", data)
				c.Updated = want.(cart).Updated
				got = c
			}
			assert.Equal(t, want, got, "Decode(%x)", data)
			schema, err = passivation.Schema(data)
			require.NoError(t, err, "Schema(%x)", data)
			assert.Equal(t, tc.schema, schema, "Schema(%x)", data)
		})
	}
}

func deref(p any) any {
	switch p := p.(type) {
	case *cart:
		return *p
	case *cartV1:
		return *p
	case *int:
		return *p
	case *string:
		return *p
	case *remoting.ObjectID:
		return *p
	}
	panic(fmt.Sprintf("deref %T", p))
}

// TestDecodeMigration reads state saved under an old schema: Schema picks
// the type, and fields the new type lacks are ignored.
func TestDecodeMigration(t *testing.T) {
	data, err := passivation.Encode(1, cartV1{Owner: "ann", Count: 2})
	require.NoError(t, err, "Encode")
	schema, err := passivation.Schema(data)
	require.NoError(t, err, "Schema")
	require.Equal(t, uint32(1), schema, "Schema")

	var c cart
	schema, err = passivation.Decode(data, &c)
	require.NoError(t, err, "Decode of an old layout into the new type")
	assert.Equal(t, uint32(1), schema, "Decode schema")
	assert.Equal(t, cart{Owner: "ann"}, c, "Decode of an old layout into the new type")
}

func TestDecodeErrors(t *testing.T) {
	valid, err := passivation.Encode(1, cart{Owner: "x"})
	require.NoError(t, err, "Encode")
	deep := []byte{0x82, 0x01}
	for range 40 {
		deep = append(deep, 0x81) // [[[[...
	}
	deep = append(deep, 0x01)
	tests := []struct {
		name string
		data []byte
		into any
	}{
		{"nil pointer", valid, (*cart)(nil)},
		{"not a pointer", valid, cart{}},
		{"pointer to interface", valid, new(any)},
		{"empty", nil, new(cart)},
		{"not an array", []byte{0x01}, new(cart)},
		{"array of three", []byte{0x83, 0x01, 0x01, 0x01}, new(cart)},
		{"trailing bytes", append(valid[:len(valid):len(valid)], 0x00), new(cart)},
		{"truncated", valid[:len(valid)-1], new(cart)},
		{"state of another type", valid, new(int)},
		{"nested too deep", deep, new(cart)},
		{"indefinite length", []byte{0x9f, 0x01, 0x01, 0xff}, new(cart)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := passivation.Decode(tc.data, tc.into)
			assert.Error(t, err, "Decode(%x, %T)", tc.data, tc.into)
		})
	}
	_, err = passivation.Schema([]byte{0xff})
	assert.Error(t, err, "Schema(ff)")
	_, err = passivation.Encode(1, make(chan int))
	assert.Error(t, err, "Encode(chan)")
}

// FuzzDecode feeds the decoder arbitrary bytes, seeded with real Encode
// output: it must never panic, and what it accepts must encode and decode
// to the same value again.
func FuzzDecode(f *testing.F) {
	seeds := []struct {
		schema uint32
		v      any
	}{
		{1, cart{Owner: "ann", Items: map[string]int{"a": 1}, Notes: []string{"n"}, Blob: []byte{1}, Total: 3, Nested: &cart{}}},
		{2, cart{}},
		{0, cartV1{Owner: "bob", Count: 1}},
		{7, "not a struct"},
	}
	for _, s := range seeds {
		data, err := passivation.Encode(s.schema, s.v)
		require.NoError(f, err, "Encode")
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c cart
		schema, err := passivation.Decode(data, &c)
		if err != nil {
			return
		}
		again, err := passivation.Encode(schema, c)
		require.NoError(t, err, "Encode of a decoded value")
		var c2 cart
		schema2, err := passivation.Decode(again, &c2)
		require.NoError(t, err, "Decode(Encode(Decode(%x)))", data)
		assert.Equal(t, schema, schema2, "schema")
		// Times keep their instant, not their *time.Location.
		for a, b := &c, &c2; a != nil && b != nil; a, b = a.Nested, b.Nested {
			assert.True(t, a.Updated.Equal(b.Updated), "Updated")
			a.Updated, b.Updated = time.Time{}, time.Time{}
		}
		assert.Equal(t, c, c2, "Decode(Encode(Decode(%x)))", data)
	})
}

func Example() {
	type counter struct {
		Name  string
		Count int
	}
	store := passivation.NewMemoryStore()
	defer store.Close()
	id := remoting.NameID("counter")

	// Passivate: save the state of an idle object.
	data, err := passivation.Encode(1, counter{Name: "hits", Count: 41})
	if err != nil {
		panic(err)
	}
	version, err := store.Save(ctx, id, data, 0)
	if err != nil {
		panic(err)
	}

	// Reactivate: load it on the object's next call.
	rec, err := store.Load(ctx, id)
	if err != nil {
		panic(err)
	}
	var c counter
	schema, err := passivation.Decode(rec.Data, &c)
	if err != nil {
		panic(err)
	}
	c.Count++
	fmt.Println(c.Name, c.Count, "schema", schema, "same version", rec.Version == version)

	// A write from a stale version fails.
	_, err = store.Save(ctx, id, data, 0)
	fmt.Println(err != nil)
	// Output:
	// hits 42 schema 1 same version true
	// true
}
