// Package lease implements the Leasing pattern of the Remoting Patterns
// (Völter, Kircher, Zdun): a client-dependent object lives only as long as
// its lease, which its client extends by renewing it (explicitly, or by
// calling the object), so that a server reclaims the objects of clients
// that crashed or forgot them.
//
// A [Manager] keeps the leases of many objects, each identified by its
// [remoting.ObjectID] and carrying its own time to live. [Manager.Renew]
// extends a lease by its time to live, [Manager.Release] ends it at once,
// and a lease that is not renewed in time expires. A lease may name an
// owner, such as the connection of the client that holds it: when the
// owner goes away, [Manager.OwnerGone] gives its leases a grace period
// within which [Manager.Adopt] (the client reconnected) or a renewal keeps
// them. Every lease that ends is reported exactly once to
// [Options.OnEnd], with the [Reason] it ended.
//
// For users: all of it, when leasing something of their own. A server's
// client-dependent objects get their leases from lifecycle.Manager, which
// uses this package; an application configures them there
// (lifecycle.ClientDependentOptions.TTL), not here.
//
// # Goroutines
//
// [NewManager] starts one goroutine, the sweeper, which sleeps until the
// earliest deadline, ends the leases that ran out and calls
// [Options.OnEnd] for them, one at a time in deadline order.
// [Manager.Close] stops it and waits for it. Every other call runs on its
// caller's goroutine.
//
// # Cost
//
// The sweeper finds due leases with a binary heap ordered by deadline, so
// a sweep costs O(log n) per lease it ends, however many leases there are.
// [Manager.Renew] costs O(1) and does not touch the heap: a renewed lease
// keeps its place until its old deadline comes up, and the sweeper then
// moves it to its new deadline. That is at most one heap step per lease
// per time to live, however often the lease is renewed. A lease costs
// about 130 bytes of memory (see BenchmarkManager100kLeases).
package lease
