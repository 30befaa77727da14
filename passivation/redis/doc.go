// Package redis is a [passivation.Store] in Redis, on
// github.com/redis/go-redis/v9: the storage of the Passivation pattern of
// the Remoting Patterns (Völter, Kircher, Zdun) for servers that share
// their objects' state and want it served from memory.
//
//	store, err := redis.Open("redis://localhost:6379/0", redis.Options{})
//	...
//	defer store.Close()
//
// # Keys
//
// Each record is a hash at <prefix>r:<object id> with the fields v (the
// version, in decimal) and d (the data). Versions come from one counter,
// the string at <prefix>version, which INCR advances, so that a version is
// never given twice, not to two objects, not after a Delete, and not by two
// servers that share the Redis. The default prefix is [DefaultPrefix].
// Nothing else may write these keys; deleting the counter restarts
// versions at 1 and breaks the promise. The store needs a single Redis
// (standalone, or a primary that Sentinel manages); it does not work on
// Redis Cluster, where the record and the counter live on different nodes.
//
// # Scripts
//
// Save, and Delete of an expected version, are each one Lua script that
// Redis runs atomically: it compares the record's version with the one
// expected and, only if they are equal, takes a new version from the
// counter and writes the record (or deletes it). Of any number of
// concurrent writers that expect the same version, exactly one wins; the
// others get [passivation.ErrConflict]. go-redis sends the script by its
// digest (EVALSHA) and by its text when the server does not know it (after
// a restart, for example).
//
// List walks the keys with SCAN over the prefix and reads each batch of
// records in one pipeline; a key that SCAN returns twice (which it may,
// while Redis resizes its table) is reported once.
//
// # Errors
//
// A server that is down, refuses connections, is loading its data set, is
// out of memory, refuses writes (a replica, or a primary whose snapshots
// fail: MISCONF), is busy with a script, or does not answer before the
// call's deadline makes the call fail with a [*remoting.Error] of code
// [remoting.CodeUnavailable] whose cause is the error of go-redis (and
// [context.DeadlineExceeded] where the deadline passed). The store
// recovers by itself: go-redis discards broken connections and dials new
// ones. Once as many dials in a row have failed as the pool has
// connections, go-redis fails calls at once with the last dial error and
// probes the server once a second, so service resumes within about a
// second of the server coming back. A call whose context was canceled
// fails with an error that matches [context.Canceled].
//
// A Save or Delete that failed with Unavailable may or may not have been
// applied (the connection can break after Redis ran the script and before
// the answer arrived). Load tells which. For the same reason [Open] turns
// off go-redis's retries: resending a compare-and-set whose answer was lost
// would report a conflict with the caller's own write.
//
// # Durability
//
// A Save or Delete that returned nil has been applied in Redis's memory.
// What survives a failure after that depends only on the server's
// persistence settings, which the store neither sets nor checks:
//
//   - appendonly yes, appendfsync always: Redis writes the command to the
//     append-only file and fsyncs it before it answers. An acknowledged
//     write survives a crash of Redis, of the operating system and a loss
//     of power (on a disk that honours fsync). Each write waits for an
//     fsync.
//   - appendonly yes, appendfsync everysec (Redis's default when the
//     append-only file is on): Redis writes the command to the file
//     (write(2), into the kernel's page cache) before it answers, and a
//     background thread fsyncs once a second. An acknowledged write
//     survives a crash of Redis (SIGKILL included), except in one case:
//     when the disk is so slow that the previous fsync is still running,
//     Redis holds writes back in its own memory for up to 2 seconds while
//     it answers, and a crash in that window loses them. A crash of the
//     operating system or a loss of power loses about the last 1 to 2
//     seconds of acknowledged writes.
//   - appendonly yes, appendfsync no: as everysec for a crash of Redis
//     (the command is in the page cache before the answer); a crash of the
//     operating system or a loss of power loses whatever the kernel had not
//     written back yet, on Linux typically up to 30 seconds (the dirty
//     page expiry).
//   - RDB snapshots only (appendonly no, Redis's default, with save rules):
//     a crash of Redis, of the operating system or a loss of power loses
//     every write since the last completed snapshot: with the default
//     rules (save 3600 1 300 100 60 10000) from a minute to an hour of
//     writes. A clean shutdown (SHUTDOWN, SIGTERM) saves a snapshot first
//     and loses nothing.
//   - No persistence (appendonly no, save ""): a restart loses everything.
//
// Measured on Linux with redis-server 7.0 on a local disk, on a machine of
// 2 cores that other work kept busy: keyed objects saving every call
// (lifecycle.SaveEveryCall) under 64 callers, Redis killed with SIGKILL
// after about 2,000 acknowledged writes and started again from its files
// (TestKeyedRedisKilledUnderLoad in test/lifecycle; TestKillLoss here, for
// the store alone under 16 callers, adds appendfsync no):
//
//	persistence           keyed, 64 callers       store, 16 callers
//	appendfsync always    0 lost in 7 runs        0 lost in 2 runs
//	appendfsync everysec  0 lost in 6 runs;       0 lost in 2 runs
//	                      51 of 2,016 in 1 run
//	appendfsync no        -                       0 lost in 2 runs
//	RDB snapshots only    all lost in each run    all lost in 2 runs
//
// (With snapshots only, no snapshot was due in the second of load.) The
// loss under everysec is consistent with the case described above, in
// which Redis holds writes back while an fsync is slow and answers all the
// same: a kill of Redis under everysec loses acknowledged writes rarely,
// not never. A kill of the process says nothing of a crash of the
// operating system or a loss of power, through which only appendfsync
// always keeps every acknowledged write.
//
// With replicas, replication is asynchronous: a failover can lose
// acknowledged writes that had not reached the replica, whatever the
// settings above. After a loss the version counter can be behind versions
// that callers were given; a caller holding such a version can then see its
// compare-and-set succeed against a record written later with the same
// version, so a store that lost writes should be treated as new by its
// users.
//
// # Goroutines
//
// [Open] makes a go-redis client, which runs goroutines of its own for its
// connection pool; [Store.Close] closes the client. A store made by [New]
// on the caller's client starts no goroutines and leaves the client open.
// Stores are safe for concurrent use.
package redis
