package wire

import (
	"bytes"
	"fmt"
	"reflect"
	"sync"

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
}

// Marshal encodes v, a generated argument or result struct, with the one
// encode mode.
func Marshal(v any) ([]byte, error) { return encMode.Marshal(v) }

// Unmarshal decodes data into v, which must point to a concrete generated
// type: wire data is never decoded into an interface chosen by the sender.
// Trailing bytes after the one CBOR item are an error.
func Unmarshal(data []byte, v any) error { return decMode.Unmarshal(data, v) }

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
