package passivation

import (
	"context"
	"fmt"

	"github.com/remoting-go/remoting"
)

// Record is the saved state of one object.
type Record struct {
	// Data is the state, typically made by [Encode]. It belongs to the
	// caller: stores copy it on the way in and out.
	Data []byte

	// Version identifies this write of the record. Versions are never
	// zero, and a store never gives the same version twice, even to
	// different objects or after a Delete.
	Version uint64
}

// Store keeps the state of passivated objects, keyed by Object ID, with
// versioned writes. Implementations are safe for concurrent use and may be
// shared by several servers; every method but Close fails with an error
// that matches [ErrClosed] once the store is closed.
type Store interface {
	// Load returns the record saved for id, or an error that matches
	// [ErrNotFound] if there is none.
	Load(ctx context.Context, id remoting.ObjectID) (Record, error)

	// Save stores data for id if the record's current version is
	// expected, and returns the record's new version. An expected version
	// of zero means that id must have no record yet. If the version does
	// not match, Save changes nothing and returns an error that matches
	// [ErrConflict]. Once Save returns nil the record is durable to the
	// degree the store promises (for the store of package
	// passivation/bolt: on disk).
	Save(ctx context.Context, id remoting.ObjectID, data []byte, expected uint64) (uint64, error)

	// Delete removes id's record if its current version is expected, and
	// otherwise returns an error that matches [ErrConflict]. An expected
	// version of zero removes the record whatever its version, and is not
	// an error if there is none.
	Delete(ctx context.Context, id remoting.ObjectID, expected uint64) error

	// List calls fn for every record, in no particular order, and stops at
	// the first error fn returns, which it returns. List is not a
	// snapshot: a record written during List may or may not be seen, but
	// every record seen is one that was saved. fn may call the store.
	List(ctx context.Context, fn func(id remoting.ObjectID, rec Record) error) error

	// Close releases the store. It is idempotent.
	Close() error
}

// Errors of a [Store]. ErrNotFound, ErrConflict and ErrClosed are each a
// [*remoting.Error], so that they keep their code when the invoker sends
// them to a client, and match both themselves and the sentinel of their
// code with [errors.Is].
var (
	// ErrNotFound is returned by Load for an object without a record. Its
	// code is [remoting.CodeNotFound].
	ErrNotFound error = &remoting.Error{Code: remoting.CodeNotFound, Message: "no passivated state"}

	// ErrConflict is returned by Save and Delete when the record's version
	// is not the one expected: another write came first. Its code is
	// [remoting.CodeFailedPrecondition].
	ErrConflict error = &remoting.Error{Code: remoting.CodeFailedPrecondition, Message: "passivated state version conflict"}

	// ErrClosed is returned by a store's methods after Close. Its code is
	// [remoting.CodeUnavailable].
	ErrClosed error = &remoting.Error{Code: remoting.CodeUnavailable, Message: "passivation store closed"}
)

// Conflict returns the error of a store's Save or Delete (op, "save" or
// "delete") of id that expected the version expected and found found (zero
// for no record): it wraps [ErrConflict] and names both versions. It is
// for implementations of [Store], so that every store words a conflict
// alike.
func Conflict(op string, id remoting.ObjectID, expected, found uint64) error {
	return fmt.Errorf("passivation: %s %v: expected %s, found %s: %w", op, id, versionText(expected), versionText(found), ErrConflict)
}

func versionText(v uint64) string {
	if v == 0 {
		return "no record"
	}
	return fmt.Sprintf("version %d", v)
}
