package wire

import (
	"bytes"
	"reflect"
	"testing"
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
				again.Object != fr.Object || !bytes.Equal(again.Body, fr.Body) || len(again.Meta) != len(fr.Meta) {
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

// FuzzUnmarshalPlan decodes arbitrary bytes through the plans and through
// the decode mode alone: both must fail, or both must give the same value.
func FuzzUnmarshalPlan(f *testing.F) {
	for _, in := range samplePlanned() {
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
		if wantErr == nil && !reflect.DeepEqual(viaMode, viaPlan) {
			t.Fatalf("Unmarshal(%x) = %+v, the mode's %+v", in, viaPlan, viaMode)
		}
	})
}
