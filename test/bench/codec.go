package bench

import "github.com/fxamacker/cbor/v2"

// echoMsg is the byte-slice message the grpc and drpc rows carry. It is encoded with
// CBOR as an array, as the middleware's generated argument structs are, so
// that those rows compare transports rather than codecs.
type echoMsg struct {
	_ struct{} `cbor:",toarray"`
	P []byte
}

// cborCodec is the CBOR codec in grpc's terms (encoding.Codec).
type cborCodec struct{}

var (
	// Times are encoded as the middleware encodes them: RFC 3339 text with
	// nanoseconds and the zone offset, under tag 0.
	cborEnc, _ = cbor.EncOptions{Time: cbor.TimeRFC3339Nano, TimeTag: cbor.EncTagRequired}.EncMode()
	cborDec, _ = cbor.DecOptions{}.DecMode()
)

// Name is the grpc content-subtype: "application/grpc+cbor".
func (cborCodec) Name() string { return "cbor" }

func (cborCodec) Marshal(v any) ([]byte, error) { return cborEnc.Marshal(v) }

func (cborCodec) Unmarshal(data []byte, v any) error { return cborDec.Unmarshal(data, v) }
