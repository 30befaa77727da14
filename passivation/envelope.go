package passivation

import (
	"fmt"
	"reflect"

	"github.com/fxamacker/cbor/v2"

	"github.com/remoting-go/remoting/internal/wire"
)

// State and envelope are encoded with the wire package's one encode and
// decode mode, so that a state type encodes the same in a record as in a
// call, under the same decoder limits (a store may be shared, or its file
// tampered with).

// envelope is the encoding of a record's data: a CBOR array of the schema
// number and the state. A later layout would be an array of another
// length, which this version rejects rather than misreads.
type envelope struct {
	_      struct{} `cbor:",toarray"`
	Schema uint32
	State  cbor.RawMessage
}

// Encode returns v's state, encoded with CBOR, in an envelope that carries
// schema: a number the caller chooses for the layout of v's type and
// changes when the layout changes in a way that needs migration. The
// exported fields of a struct are encoded by name, and `cbor` struct tags
// (such as `cbor:",toarray"` or `cbor:"n,omitempty"`) apply.
func Encode(schema uint32, v any) ([]byte, error) {
	state, err := wire.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("passivation: encode %T: %w", v, err)
	}
	data, err := wire.Marshal(envelope{Schema: schema, State: state})
	if err != nil {
		return nil, fmt.Errorf("passivation: encode %T: %w", v, err)
	}
	return data, nil
}

// Decode decodes the state in data, made by [Encode], into v, and returns
// the schema it was saved with. v must be a non-nil pointer to a concrete
// type, not to an interface: the data never chooses what type is made.
// Fields of the data that v's type lacks are ignored, and fields of v that
// the data lacks are left as they are, so a type may gain and lose fields
// without a new schema number.
func Decode(data []byte, v any) (schema uint32, err error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return 0, fmt.Errorf("passivation: decode into %T: want a non-nil pointer", v)
	}
	if rv.Elem().Kind() == reflect.Interface {
		return 0, fmt.Errorf("passivation: decode into %T: want a pointer to a concrete type", v)
	}
	var env envelope
	if err := wire.Unmarshal(data, &env); err != nil {
		return 0, fmt.Errorf("passivation: decode envelope: %w", err)
	}
	if err := wire.Unmarshal(env.State, v); err != nil {
		return env.Schema, fmt.Errorf("passivation: decode state of schema %d into %T: %w", env.Schema, v, err)
	}
	return env.Schema, nil
}

// Schema returns the schema number of data made by [Encode], without
// decoding the state: a type that changed its layout reads it to choose
// the type to decode into.
func Schema(data []byte) (uint32, error) {
	var env envelope
	if err := wire.Unmarshal(data, &env); err != nil {
		return 0, fmt.Errorf("passivation: decode envelope: %w", err)
	}
	return env.Schema, nil
}
