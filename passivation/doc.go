// Package passivation provides the storage of the Passivation pattern of
// the Remoting Patterns (Völter, Kircher, Zdun): the state of a remote
// object that sat idle is saved and the instance dropped, and on its next
// invocation it is reactivated from the saved state. Deciding when to
// passivate is the lifecycle manager's business; this package keeps the
// state.
//
// A [Store] maps each [remoting.ObjectID] to a [Record]: opaque bytes and a
// version. Writes are versioned (optimistic concurrency): [Store.Save] and
// [Store.Delete] name the version they expect to replace and fail with
// [ErrConflict] if another write came first, so that two servers sharing a
// store cannot silently overwrite each other. [Store.List] walks every
// record, to reactivate or clean up objects after a restart.
//
// The package holds [MemoryStore], for tests and single-process use. The
// stores that need a dependency live in packages of their own, so that
// only the programs that use one link it: passivation/bolt is a
// crash-safe file on go.etcd.io/bbolt that needs no server. Other backends
// (a cluster store) implement [Store], use [Conflict] for the error of a
// version mismatch, and check themselves with passivation/storetest.
//
// For users: [Store], [Record], [MemoryStore], the sentinels, and
// [Encode] and [Decode]. [Conflict] is for implementations of Store.
//
// [Encode] and [Decode] wrap an object's state in a small CBOR envelope
// that carries a schema number chosen by the object's type, so that state
// saved by an older version of a type can be recognised and migrated.
//
// # Goroutines
//
// The package starts no goroutines. Stores are safe for concurrent use.
package passivation
