package wire

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/remoting-go/remoting"
)

// FuzzReadFrame feeds arbitrary bytes to the frame reader: it must never
// panic, and a frame it accepts must encode back to a frame that reads the
// same.
func FuzzReadFrame(f *testing.F) {
	for _, fr := range sampleFrames() {
		f.Add(AppendFrame(nil, fr))
	}
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in), 1<<16)
		for {
			fr, err := r.ReadFrame()
			if err != nil {
				return
			}
			again, err := NewReader(bytes.NewReader(AppendFrame(nil, &fr)), 1<<16).ReadFrame()
			if err != nil {
				t.Fatalf("re-encoded frame does not read: %v", err)
			}
			if again.Kind != fr.Kind || again.ID != fr.ID || again.Method != fr.Method || again.Deadline != fr.Deadline ||
				again.Object != fr.Object || again.Key != fr.Key || again.Flags != fr.Flags || !bytes.Equal(again.Body, fr.Body) || len(again.Meta) != len(fr.Meta) {
				t.Fatalf("round trip changed the frame: %+v -> %+v", fr, again)
			}
		}
	})
}

// FuzzDecodeError: any error body decodes to some *remoting.Error without
// panicking.
func FuzzDecodeError(f *testing.F) {
	f.Add(EncodeError(bytes.ErrTooLarge))
	f.Add([]byte{0x84, 0x0d, 0x61, 'x', 0x60, 0x40})
	f.Fuzz(func(t *testing.T, in []byte) {
		if DecodeError(in) == nil {
			t.Fatal("nil error")
		}
	})
}

// FuzzDecodeHello decodes arbitrary bytes as the body of a handshake hello
// (or welcome), as a server does with a new connection's first frame: no
// panic, and a hello that decodes and checks encodes to one that decodes
// and checks the same.
func FuzzDecodeHello(f *testing.F) {
	for _, h := range []Hello{
		{Magic: Magic, Version: ProtocolVersion, MaxFrameSize: DefaultMaxFrameSize},
		{Magic: Magic, Version: ProtocolVersion, MaxFrameSize: 1 << 10, ID: remoting.NameID("peer")},
		{Magic: "grpc", Version: ProtocolVersion + 1},
	} {
		b, err := Marshal(&h)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0xff, 0x00, 0x13})
	f.Fuzz(func(t *testing.T, in []byte) {
		var h Hello
		if Unmarshal(in, &h) != nil || h.Check() != nil {
			return
		}
		b, err := Marshal(&h)
		if err != nil {
			t.Fatalf("Marshal of a decoded hello: %v", err)
		}
		var again Hello
		if err := Unmarshal(b, &again); err != nil {
			t.Fatalf("re-encoded hello does not decode: %v", err)
		}
		if again.Check() != nil || again.MaxFrameSize != h.MaxFrameSize || again.ID != h.ID {
			t.Fatalf("round trip changed the hello: %+v -> %+v", h, again)
		}
	})
}

// FuzzUnmarshalPlan decodes arbitrary bytes through the plans and through
// the decode mode alone: both must fail, or both must give the same value.
func FuzzUnmarshalPlan(f *testing.F) {
	addPlannedSeeds(f)
	r := sampleRecord()
	b, err := Marshal(&r)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		var viaMode, viaPlan planned
		wantErr := decMode.Unmarshal(in, &viaMode)
		gotErr := Unmarshal(in, &viaPlan)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("Unmarshal(%x): error %v, the mode's %v", in, gotErr, wantErr)
		}
		if wantErr == nil && !samePlanned(t, viaMode, viaPlan) {
			t.Fatalf("Unmarshal(%x) = %+v, the mode's %+v", in, viaPlan, viaMode)
		}
	})
}

// addPlannedSeeds adds the encodings of samplePlanned to f's corpus.
func addPlannedSeeds(f *testing.F) {
	for _, in := range samplePlanned() {
		// A 70 kB byte string makes every execution and every
		// minimization that starts from it slow; 300 bytes still takes
		// the two-byte length header. TestPlanBytes covers the long one.
		if len(in.Bytes) > 300 {
			in.Bytes = in.Bytes[:300]
		}
		b, err := Marshal(&in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// sampleDescription is a description with every kind of type, a
// recursive one among them.
func sampleDescription() Description {
	return Description{
		Interface: "example.com/shop.Cart",
		Methods: []MethodDesc{
			{Name: "Add", Wire: "Cart.Add", Doc: "Add adds.", Params: []ValueDesc{{Name: "sku", Type: 0}, {Name: "tags", Type: 3}}, Variadic: true},
			{Name: "Items", Wire: "Cart.Items", Results: []ValueDesc{{Name: "r0", Type: 4}}, ReadOnly: true},
		},
		Types: []TypeDesc{
			0: {Kind: TypeString, Name: "string"},
			1: {Kind: TypeInt, Name: "int", Bits: 64},
			2: {Kind: TypeTime, Name: "time.Time"},
			3: {Kind: TypeSlice, Name: "[]string", Elem: 0},
			4: {Kind: TypeStruct, Name: "shop.Node", Fields: []FieldDesc{
				{Name: "N", Key: "1", KeyAsInt: true, Type: 1},
				{Name: "At", Key: "at", OmitEmpty: true, Type: 2},
				{Name: "Kids", Key: "Kids", Type: 5},
				{Name: "Attrs", Key: "Attrs", Type: 6},
				{Name: "Raw", Key: "Raw", Type: 7},
				{Name: "Sum", Key: "Sum", Type: 8},
				{Name: "Peer", Key: "Peer", Type: 9},
			}},
			5:  {Kind: TypeSlice, Name: "[]*shop.Node", Elem: 10},
			6:  {Kind: TypeMap, Name: "map[string]int", Key: 0, Elem: 1},
			7:  {Kind: TypeBytes, Name: "[16]byte", Len: 16},
			8:  {Kind: TypeArray, Name: "[2]float32", Elem: 11, Len: 2},
			9:  {Kind: TypeRef, Name: "shop.Observer", Interface: "example.com/shop.Observer"},
			10: {Kind: TypePointer, Name: "*shop.Node", Elem: 4},
			11: {Kind: TypeFloat, Name: "float32", Bits: 32},
		},
	}
}

// FuzzDecodeDescription decodes arbitrary bytes as the reply of
// remoting.Describe, as cmd/remoting does, and checks it: no panic, and
// a description that decodes and checks encodes to one that decodes to
// the same and checks too.
func FuzzDecodeDescription(f *testing.F) {
	d := sampleDescription()
	if err := d.Check(); err != nil {
		f.Fatalf("sample description: %v", err)
	}
	b, err := Marshal(&d)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte{0xa1, 0x03, 0x81, 0xa1, 0x01, 0x09}) // a slice without an element type
	f.Fuzz(func(t *testing.T, in []byte) {
		var d Description
		if Unmarshal(in, &d) != nil || d.Check() != nil {
			return
		}
		for _, m := range d.Methods {
			d.Method(m.Name)
		}
		b, err := Marshal(&d)
		if err != nil {
			t.Fatalf("Marshal of a decoded description: %v", err)
		}
		var again Description
		if err := Unmarshal(b, &again); err != nil {
			t.Fatalf("re-encoded description does not decode: %v", err)
		}
		if err := again.Check(); err != nil || !reflect.DeepEqual(normalDesc(d), normalDesc(again)) {
			t.Fatalf("round trip changed the description (%v): %+v -> %+v", err, d, again)
		}
	})
}

// normalDesc returns d encoded and decoded once: empty and nil slices,
// which omitempty does not tell apart, become the same.
func normalDesc(d Description) Description {
	b, _ := Marshal(&d)
	var n Description
	Unmarshal(b, &n)
	return n
}

// FuzzDecodeList decodes arbitrary bytes as the reply of remoting.List.
func FuzzDecodeList(f *testing.F) {
	l := ListReply{
		Objects: []ListedObject{{Name: "cart", ID: remoting.NameID("cart"), Interface: "example.com/shop.Cart", Methods: []string{"Add"}}},
		Keyed:   []ListedInterface{{Interface: "example.com/bank.Account", Methods: []string{"Balance", "Deposit"}}},
	}
	b, err := Marshal(&l)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		var l ListReply
		if Unmarshal(in, &l) != nil {
			return
		}
		if _, err := Marshal(&l); err != nil {
			t.Fatalf("Marshal of a decoded list: %v", err)
		}
	})
}

// samePlanned reports whether a and b encode alike, their maps sorted and
// their floats bit for bit: reflect.DeepEqual finds a NaN unequal to
// itself, and one may hide in any float of the struct.
func samePlanned(t *testing.T, a, b planned) bool {
	ea, errA := sameMode.Marshal(&a)
	eb, errB := sameMode.Marshal(&b)
	if errA != nil || errB != nil {
		t.Fatalf("encode to compare: %v, %v", errA, errB)
	}
	return bytes.Equal(ea, eb)
}

// sameMode encodes for samePlanned.
var sameMode = func() cbor.EncMode {
	em, err := cbor.EncOptions{
		Sort:          cbor.SortCoreDeterministic,
		Time:          cbor.TimeRFC3339Nano,
		TimeTag:       cbor.EncTagRequired,
		NilContainers: cbor.NilContainerAsNull,
		NaNConvert:    cbor.NaNConvertNone,
		InfConvert:    cbor.InfConvertNone,
		BigIntConvert: cbor.BigIntConvertNone,
	}.EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()
