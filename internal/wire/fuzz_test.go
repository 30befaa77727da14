package wire

import (
	"bytes"
	"math"
	"reflect"
	"slices"
	"testing"

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
		if wantErr == nil && !samePlanned(viaMode, viaPlan) {
			t.Fatalf("Unmarshal(%x) = %+v, the mode's %+v", in, viaPlan, viaMode)
		}
	})
}

// samePlanned reports whether a and b are deeply equal, their floats
// compared bit for bit: reflect.DeepEqual finds a NaN unequal to itself.
func samePlanned(a, b planned) bool {
	bits := math.Float64bits
	if bits(a.F) != bits(b.F) || bits(a.R.Score) != bits(b.R.Score) || len(a.Records) != len(b.Records) {
		return false
	}
	a.F, b.F, a.R.Score, b.R.Score = 0, 0, 0, 0
	a.Records, b.Records = slices.Clone(a.Records), slices.Clone(b.Records) // nil stays nil
	for i := range a.Records {
		if bits(a.Records[i].Score) != bits(b.Records[i].Score) {
			return false
		}
		a.Records[i].Score, b.Records[i].Score = 0, 0
	}
	return reflect.DeepEqual(a, b)
}
