// Package bolt is a passivation store in one file on go.etcd.io/bbolt:
// the embedded default of the Passivation pattern (Völter, Kircher, Zdun),
// which needs no server. [Open] returns a [*Store], which implements
// passivation.Store and is what a user passes to lifecycle.Passivate:
//
//	store, err := bolt.Open("/var/lib/svc/state.db", bolt.Options{})
//	...
//	defer store.Close() // after the server
//	lifecycle.Passivate(newCart, lifecycle.PassivationOptions{Store: store})
//
// It lives apart from package passivation so that only the programs that
// use it link bbolt. For users: [Open], [Options], [Store] and [ErrLocked];
// the rest of what a Store does is the contract of passivation.Store.
//
// # Versioned writes
//
// Every [Store.Save] and [Store.Delete] checks, in the same write
// transaction as the write itself, that the record's version is the one
// the caller expects, and fails with an error matching
// passivation.ErrConflict otherwise. Versions come from one counter per
// file, so a version is never given twice, even after a Delete or a
// reopen.
//
// # File format
//
// The file is a bbolt database with one bucket, "passivation". Its keys
// are the 16 bytes of the Object IDs. Each value is the record's version
// (8 bytes, big-endian) followed by the record's data. The bucket's
// sequence is the last version given.
//
// # Crash safety
//
// Each Save and Delete is one bbolt write transaction, which is on disk
// (fsync) when the call returns: a crash, even SIGKILL in the middle of a
// write, loses no acknowledged write and tears no record, because bbolt
// writes new pages and then switches its meta page. Writes are
// serialised and each costs an fsync, so the store suits passivation
// rates of hundreds of objects per second, not a write per invocation.
// The file is locked (flock) while it is open: one Store, in one process,
// has it at a time, and another Open waits for [Options.LockTimeout] and
// then fails with [ErrLocked].
//
// # Goroutines
//
// The package starts no goroutines: every call runs on its caller's. A
// Store is safe for concurrent use.
package bolt
