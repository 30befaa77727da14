package remoting

import (
	"fmt"

	"github.com/google/uuid"
)

// ObjectID identifies one remote object inside a server. Objects created at
// run time (for example by a remote factory) get a random UUID v4 from
// [NewObjectID]; objects registered under a well-known name get the stable id
// [NameID] derives from the name, so that a reference to a named object stays
// valid across server restarts.
//
// The zero ObjectID addresses the server's naming service (Lookup).
type ObjectID [16]byte

// nameSpace is the UUID namespace of [NameID].
var nameSpace = uuid.MustParse("5b1f4c2e-8d0a-4b39-9a77-3c6e2f0d9a41")

// NewObjectID returns a new random (version 4) ObjectID.
func NewObjectID() ObjectID { return ObjectID(uuid.New()) }

// NameID returns the stable ObjectID of the object registered under name: a
// version 5 (SHA-1, name-based) UUID in a namespace of this package.
func NameID(name string) ObjectID { return ObjectID(uuid.NewSHA1(nameSpace, []byte(name))) }

// ParseObjectID parses the canonical textual form produced by
// [ObjectID.String].
func ParseObjectID(s string) (ObjectID, error) {
	u, err := uuid.Parse(s)
	if err != nil {
		return ObjectID{}, fmt.Errorf("remoting: parse object id %q: %w", s, err)
	}
	return ObjectID(u), nil
}

// String returns the canonical form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.
func (id ObjectID) String() string { return uuid.UUID(id).String() }

// IsZero reports whether id is the zero ObjectID.
func (id ObjectID) IsZero() bool { return id == ObjectID{} }

// MarshalText implements [encoding.TextMarshaler].
func (id ObjectID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler].
func (id *ObjectID) UnmarshalText(b []byte) error {
	v, err := ParseObjectID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}
