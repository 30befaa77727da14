// Package postgres is a [passivation.Store] in a PostgreSQL table, on
// github.com/jackc/pgx/v5: the storage of the Passivation pattern of the
// Remoting Patterns (Völter, Kircher, Zdun) for servers that share their
// objects' state, or that must not lose it with a machine.
//
//	store, err := postgres.Open("postgres://app@db/app", postgres.Options{})
//	...
//	defer store.Close()
//
// # Schema
//
// Each record is one row, keyed by the Object ID; versions come from a
// sequence, so that a version is never given twice, not to two objects and
// not after a Delete, and not by two servers that share the table. The
// store creates the table and the sequence on first use, if they do not
// exist (under an advisory lock, so that servers starting together do not
// race). Whoever prefers to create them beforehand, and to run the store
// with [Options.SkipCreate] under a role that may not create tables, runs
// this migration (for the default [Options.Table]; other names follow the
// same pattern, the sequence named after the table with _version added):
//
//	CREATE SEQUENCE IF NOT EXISTS remoting_passivation_version AS bigint;
//	CREATE TABLE IF NOT EXISTS remoting_passivation (
//		id      uuid   PRIMARY KEY,
//		version bigint NOT NULL CHECK (version > 0),
//		data    bytea  NOT NULL
//	);
//
// The role then needs SELECT, INSERT, UPDATE and DELETE on the table, and
// USAGE on the sequence.
//
// # Statements
//
// Every Save and Delete is one statement, a compare-and-set that the
// server runs atomically: an INSERT ... ON CONFLICT DO NOTHING for a new
// record, and an UPDATE or DELETE ... WHERE version = expected otherwise.
// Of any number of concurrent writers that expect the same version,
// exactly one wins; the others get [passivation.ErrConflict].
//
// A call's context bounds it on both ends: when the context has a
// deadline, the statement runs with a statement_timeout of the time left
// (set for that statement only), so that the server gives up on it too,
// and pgx gives up waiting for the answer when the context ends.
//
// # Errors
//
// A server that is down, refuses connections (for any reason, a wrong
// password or too many clients included: the cause says which), is
// starting up or shutting down, runs out of resources, or does not answer
// before the call's deadline makes the call fail
// with a [*remoting.Error] of code [remoting.CodeUnavailable] whose cause
// is the error of pgx (and [context.DeadlineExceeded] where the deadline
// passed), so that [remoting.CodeOf] and [errors.Is] with
// [remoting.ErrUnavailable] or the cause all work. The store recovers by
// itself: pgxpool drops broken connections and dials new ones, so the first
// calls after the server is back succeed. A call whose context was
// canceled fails with an error that matches [context.Canceled].
//
// A Save or Delete that failed with Unavailable may or may not have been
// committed (the connection can break after the commit and before the
// answer). Load tells which.
//
// # Durability
//
// A Save or Delete that returned nil is committed. With PostgreSQL's
// defaults (fsync = on, synchronous_commit = on) the server has flushed the
// commit's WAL to disk before it answers, so the write survives a crash of
// the server, of the operating system and a loss of power (on a disk that
// honours flushes). With synchronous_commit = off (for the server, the
// database, the role, or in the connection string as
// options=-c%20synchronous_commit%3Doff) a crash of the operating system or
// a loss of power can lose the writes of the last moments (up to three
// times wal_writer_delay, 600 ms by default), though never tear one; a
// crash of the server process alone loses nothing. Replicas are as durable
// as PostgreSQL's replication is configured to be: a failover to an
// asynchronous standby can lose acknowledged writes, one to a synchronous
// standby (synchronous_commit = on or remote_apply) cannot.
//
// # Goroutines
//
// [Open] makes a pgxpool.Pool, which runs a health-check goroutine and
// dials connections in goroutines of its own; [Store.Close] closes the
// pool, which waits for the connections in use to be returned. A store
// made by [New] on the caller's pool starts no goroutines and leaves the
// pool open. Stores are safe for concurrent use.
package postgres
