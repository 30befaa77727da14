// Package cluster spreads keyed objects over many servers, on etcd: each
// object is active on at most one node at any time, a node that dies has
// its objects activated elsewhere from their shared store, and clients
// find an object wherever it is. This package is the client side and the
// shared vocabulary; package cluster/node makes an invoker.Server a node.
// A plain client or server links neither, nor etcd.
//
// # Membership
//
// A node joins with a lease of Options.TTL (default 5 s), which it renews
// every TTL/4, and publishes its member key, bound to the lease, with its
// endpoint and its load (the number of keyed objects it hosts). A node
// whose lease ends, because it died, was cut off or was stopped, is out:
// etcd deletes its member key and everything else bound to its lease.
// Clients and nodes watch the member keys.
//
// # One activation per object
//
// Before a keyed object activates on a node, the node claims it: one etcd
// transaction creates the object's directory key, objects/<object id>,
// bound to the node's lease, only if the key does not exist
// (CreateRevision == 0); otherwise it reads who has it. Only the
// transaction that creates the key lets its node activate the object, so
// of any number of nodes that race for it one wins, and the others answer
// their calls "moved" to it. The key lives as long as the object is
// active there: the node deletes it when the object passivates or is
// evicted, after the object's state is saved, and before the key can
// activate anew on that node; and etcd deletes it with the lease when the
// node is gone.
//
// A node that cannot renew its lease must stop serving before etcd can
// have ended the lease and let another node claim its objects. It does
// so on its own clock (self-fencing): a renewal sent at t and granted for
// TTL keeps the lease alive until at least t+TTL on etcd's clock, so the
// node serves its objects until t+TTL less a margin (TTL/5, at least
// 500 ms) for clock rate differences and is fenced from then on: every
// call of a keyed object first checks that time (one clock read and one
// atomic load), and objects are dropped unsaved. A node that wakes up
// after a long pause (SIGSTOP, a stalled VM) fails that check before it
// runs anything; a call that passed it just before the pause is not saved
// after it (with lifecycle.SaveEveryCall the save after a call checks
// again, and the call fails with Unavailable), and a save already on its
// way meets the store's versioned write, which refuses to overwrite the
// newer state the object's new node saved. An object is served only under
// the lease its claim was made under. If its lease is gone, the node ends
// every object activated under it, takes a new lease and rejoins.
//
// The cost: a first activation pays one etcd transaction (one raft round
// and one fsync on the etcd leader, about 1-5 ms on loopback) before the
// store read; a passivation pays one more to delete the key. A call of an
// active object pays nothing in etcd: no read, no write, no lease check
// beyond the local clock.
//
// # Placement and location
//
// A reference to a keyed object (remoting.KeyRef, <Interface>ByKey) names
// the interface and the key, not a node, so it stays valid while nodes
// come and go. The [Client] keeps a directory cache from object to node,
// filled by the calls it makes and the moved answers it gets, and emptied
// of a node's entries when the node leaves the member set. On a miss it
// sends the call where its [Placement] says: [Hash] (rendezvous hashing
// over the live members, the default), [Local] (the caller's own node) or
// [LeastLoaded]. The node that receives a call for an object it does not
// host claims it; if another node has it, it answers Unavailable with a
// [Moved] cause naming that node (the Location Forwarder), and the Client
// sends the call there. The method runs only on the node that hosts the
// object, so following a moved answer never runs a call twice. A call
// follows at most [ClientOptions.MaxHops] (default 3) moved answers: one
// for a stale cache entry, one for a placement that lost a race for the
// claim, one spare.
//
// One-way and sync-with-server calls cannot follow a moved answer, as
// their caller never hears of it: on a cache miss the Client reads the
// directory key first (one etcd read), and a one-way call that still
// meets a moved node is lost, as a one-way call to a dead server is.
// Async calls (futures, result callbacks) follow moved answers in their
// completion.
//
// # Node loss and leaving
//
// When a node dies, calls in flight on it fail with Unavailable and are
// not sent again: it may have run them. Its objects' directory keys stay
// until its lease ends (at most TTL after its last renewal), so calls of
// them fail with Unavailable until then; the next call after that
// activates each object on a live node from the shared store. With
// lifecycle.SaveEveryCall, every acknowledged call's state is in the
// store, so none is lost.
//
// A node that leaves (node.Node.Leave, or Shutdown on SIGTERM) first
// deletes its member key, so that clients place no new object on it, and
// refuses new activations with a moved answer; then it saves and releases
// each active object once the call running on it returns. A call that
// arrives meanwhile for an object already released is answered "moved"
// and placed on another node, which loads the state just saved. Shutdown
// then keeps the server serving for node.Options.LeaveGrace (1 s), so
// that a client that has not yet seen the member key go is told where to
// go rather than refused; a call that finds the node's port closed all
// the same was not sent, and the Client places it on another node. A
// rolling restart thus fails no call that had not started on the node
// that stopped.
//
// # Singletons
//
// A cluster singleton (node.Node.Singleton) is a named object registered
// on exactly one node: the leader of an etcd election (go.etcd.io/etcd's
// concurrency.Election) campaigned for under each candidate's lease. When
// the leader dies, its election key goes with its lease and the next
// candidate takes over within the TTL. [Client.Lookup] returns a
// reference with no endpoint that follows the leader.
//
// # Scale
//
// etcd holds one directory key per active object (about 250 bytes with
// etcd's index and revision), one member key per node, and the lease
// renewals of the nodes (at 100 nodes and a 5 s TTL, 80 renewals/s). Its
// write load is two transactions per activation (claim and release);
// reads happen only on client cache misses of one-way calls. At 100
// nodes and 10 million keyed objects the binding figure is the active
// set: if 1 million are active at once the directory is about 250 MB in
// etcd (within its default 2 GB quota) and an activation rate of 3,000/s
// is 6,000 transactions/s, which one etcd cluster on SSDs sustains; with
// all 10 million active at once it is about 2.5 GB, past the default
// quota and near etcd's suggested 8 GB ceiling, and a node's death would
// have etcd delete its 100,000 keys in one lease revocation. Getting
// there needs what Orleans and Akka sharding do: claim partitions (a few
// thousand shards of the key space, each owned by one node under its
// lease) instead of single objects, so that etcd holds thousands of keys
// whatever the number of objects, and a node's claims are a few dozen
// keys. The client cache is bounded ([ClientOptions.MaxCached]) so that a
// client that calls millions of objects keeps a bounded memory.
package cluster
