package remoting

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// MaxKeyLen is the longest key, in bytes, that names a keyed object (see
// [KeyID]). Longer keys are refused with [CodeInvalidArgument].
const MaxKeyLen = 256

// keySpace is the UUID namespace of [KeyID], apart from that of [NameID]
// so that a key can never name the object registered under the same name.
var keySpace = uuid.MustParse("0c9e7f3a-4b2d-5e61-8a90-6d2f41b7c3e8")

// KeyID returns the stable ObjectID of the keyed object of the interface
// iface (fully qualified, as in [Ref.Interface]) named by key: a version 5
// UUID over iface, a NUL byte and key, in a namespace of its own. The same
// interface and key give the same id in every process, so a reference to
// a keyed object stays valid across restarts and servers. The id is a
// one-way hash: a request for a keyed object carries the key too, so that
// a server can activate an object it has never seen.
func KeyID(iface, key string) ObjectID {
	b := make([]byte, 0, len(iface)+1+len(key))
	b = append(append(append(b, iface...), 0), key...)
	return ObjectID(uuid.NewSHA1(keySpace, b))
}

// CheckKey returns an error with [CodeInvalidArgument] if key cannot name
// a keyed object: empty, longer than [MaxKeyLen] bytes, or not valid UTF-8.
func CheckKey(key string) error {
	switch {
	case key == "":
		return Errorf(CodeInvalidArgument, "empty key: a keyed object needs a key of 1 to %d bytes", MaxKeyLen)
	case len(key) > MaxKeyLen:
		return Errorf(CodeInvalidArgument, "key of %d bytes: the limit is %d", len(key), MaxKeyLen)
	case !utf8.ValidString(key):
		return Errorf(CodeInvalidArgument, "key %q is not valid UTF-8", key)
	}
	return nil
}

// KeyRef returns the reference of the keyed object of iface named by key,
// computed without a round trip: ID is KeyID(iface, key). The Endpoint is
// empty, which means the connection of the Caller that uses the reference.
// The generated <Interface>ByKey functions call it. It fails as
// [CheckKey] does.
func KeyRef(iface, key string) (Ref, error) {
	if err := CheckKey(key); err != nil {
		return Ref{}, err
	}
	return Ref{ID: KeyID(iface, key), Interface: iface, Key: key}, nil
}

// keySuffix is what follows the interface in the textual form of a Ref
// to a keyed object.
const keySuffix = "?key="

// appendKey appends the textual form of a key to a Ref's string.
func appendKey(s, key string) string {
	if key == "" {
		return s
	}
	return s + keySuffix + url.QueryEscape(key)
}

// cutKey splits the part of a Ref's string after '#' into the interface
// and the key. Interface names cannot contain '?' (Go package paths and
// identifiers do not), so the first '?' starts the key.
func cutKey(s string) (iface, key string, err error) {
	iface, escaped, ok := strings.Cut(s, keySuffix)
	if !ok {
		return s, "", nil
	}
	if key, err = url.QueryUnescape(escaped); err != nil {
		return "", "", fmt.Errorf("key: %w", err)
	}
	return iface, key, nil
}
