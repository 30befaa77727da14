// Package node makes an invoker.Server a node of a cluster on etcd: its
// keyed objects become the cluster's, each active on at most one node at
// any time, and it can host cluster singletons. Clients call them
// through package cluster. See package cluster for the design.
package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/cluster"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
)

// Options configure [Join].
type Options struct {
	cluster.Options
	// Endpoint is where the node's server serves calls, as clients dial
	// it ("tcp://10.0.0.5:7000"). Required.
	Endpoint string
	// Server is the node's server: it serves the keyed objects whose
	// lifecycle.KeyedOptions.Directory is the Node, the singletons, and
	// the calls of the node's own Client, in process. Required.
	Server *invoker.Server
	// ID is the node's id in the cluster, unique among its live nodes.
	// Default: a new random id, so that a restarted node is a new member.
	ID string
	// Placement is the placement of the node's own Client. Default
	// cluster.Hash.
	Placement cluster.Placement
	// Requestor configures the connections of the node's own Client to the
	// other nodes.
	Requestor requestor.Options
	// LeaveGrace is how long Shutdown keeps the server serving after the
	// node has left, answering the calls of clients that have not yet
	// seen it go with "moved", before it shuts the server down. Default 1 s.
	LeaveGrace time.Duration
	// OnFence, if set, is called with true when the node stops serving
	// its keyed objects because it could not renew its lease in time, and
	// with false when it serves again (admin.Handler.SetFenced fits).
	OnFence func(fenced bool)
}

// Node is a server's membership of a cluster: its lease, its member key,
// its claims on keyed objects, and its singletons. It implements
// lifecycle.Directory: give it as lifecycle.KeyedOptions.Directory of
// every keyed interface the node serves. Its methods are safe for
// concurrent use.
type Node struct {
	o         Options
	cli       *clientv3.Client
	ownCli    bool
	members   *cluster.Members
	ctx       context.Context // ends when the node closes
	stop      context.CancelFunc
	done      sync.WaitGroup
	started   time.Time
	margin    time.Duration // how long before its lease could end the node stops serving
	client    *cluster.Client
	localConn *requestor.Client
	clientMu  sync.Mutex

	cur     atomic.Pointer[grant] // the node's lease
	claimed sync.Map              // remoting.ObjectID -> *grant: the lease each object active here was claimed under
	serveBy atomic.Int64          // monotonic ns (since processStart) until which claims may be served
	fenced  atomic.Bool
	leaving atomic.Bool

	mu         sync.Mutex
	objs       []*lifecycle.KeyedObjects
	singletons []*singleton
	fenceTimer *time.Timer

	claims, claimConflicts, releases, fences, evicted atomic.Uint64
}

var _ lifecycle.Directory = (*Node)(nil)

// grant is one lease of the node's, and the value of the directory keys
// of the objects claimed under it.
type grant struct {
	lease clientv3.LeaseID
	value string
}

var processStart = time.Now()

func now() int64 { return int64(time.Since(processStart)) }

// Join makes the server in opts a node of the cluster: it takes a lease
// of opts.TTL in etcd, publishes the node's member key under it, and
// renews it in the background until Leave or Close. The server should
// be serving opts.Endpoint already, or start to right after.
func Join(ctx context.Context, opts Options) (*Node, error) {
	co, err := opts.Options.WithDefaults()
	if err != nil {
		return nil, err
	}
	opts.Options = co
	switch {
	case opts.Endpoint == "":
		return nil, fmt.Errorf("cluster node: Options.Endpoint is required")
	case opts.Server == nil:
		return nil, fmt.Errorf("cluster node: Options.Server is required")
	}
	if opts.ID == "" {
		opts.ID = remoting.NewObjectID().String()[:13]
	}
	if opts.LeaveGrace <= 0 {
		opts.LeaveGrace = time.Second
	}
	cli, own, err := co.Connect()
	if err != nil {
		return nil, err
	}
	n := &Node{o: opts, cli: cli, ownCli: own, started: time.Now()}
	n.margin = max(co.TTL/5, 500*time.Millisecond)
	n.ctx, n.stop = context.WithCancel(context.Background())
	n.fenceTimer = time.AfterFunc(time.Hour, n.fenceDue)
	if err := n.grant(ctx); err != nil {
		n.stop()
		n.fenceTimer.Stop()
		if own {
			cli.Close()
		}
		return nil, err
	}
	n.members = cluster.WatchMembers(n.ctx, cli, co, nil)
	if err := n.members.Wait(ctx); err != nil {
		n.Close()
		return nil, cluster.Unavailable("read the members", err)
	}
	n.done.Go(n.renew)
	return n, nil
}

// ID returns the node's id.
func (n *Node) ID() string { return n.o.ID }

// Endpoint returns where the node serves calls.
func (n *Node) Endpoint() string { return n.o.Endpoint }

// Members returns the members of the cluster as the node sees them.
func (n *Node) Members() []cluster.Member { return n.members.Live() }

func (n *Node) leaseID() clientv3.LeaseID { return n.cur.Load().lease }

// Fenced reports whether the node has stopped serving its keyed objects
// because it could not renew its lease in time.
func (n *Node) Fenced() bool { return n.fenced.Load() }

// grant takes a new lease, publishes the member key under it, and lets
// the node serve until the lease could end.
func (n *Node) grant(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, n.o.TTL)
	defer cancel()
	t0 := now()
	resp, err := n.cli.Grant(ctx, int64(n.o.TTL/time.Second))
	if err != nil {
		return cluster.Unavailable("grant the node's lease", err)
	}
	n.cur.Store(&grant{lease: resp.ID, value: cluster.DirectoryValue(n.o.ID, resp.ID, n.o.Endpoint)})
	if err := n.publish(ctx); err != nil {
		return err
	}
	n.extend(t0, time.Duration(resp.TTL)*time.Second)
	return nil
}

// publish writes the member key with the node's load.
func (n *Node) publish(ctx context.Context) error {
	m := cluster.Member{ID: n.o.ID, Endpoint: n.o.Endpoint, Load: n.load(), Started: n.started}
	if _, err := n.cli.Put(ctx, n.o.MemberKey(n.o.ID), string(cluster.EncodeMember(m)), clientv3.WithLease(n.leaseID())); err != nil {
		return cluster.Unavailable("publish the node", err)
	}
	return nil
}

func (n *Node) load() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	l := 0
	for _, k := range n.objs {
		l += k.Len()
	}
	return l
}

// extend lets the node serve its claims until ttl after t0, less the
// margin: a renewal sent at t0 that etcd granted for ttl keeps the lease
// alive at least until t0+ttl on etcd's clock, which runs no faster than
// ours by more than the margin allows for.
func (n *Node) extend(t0 int64, ttl time.Duration) {
	by := t0 + int64(ttl-n.margin)
	n.serveBy.Store(by)
	n.mu.Lock()
	n.fenceTimer.Reset(time.Duration(by - now()))
	n.mu.Unlock()
	if n.fenced.CompareAndSwap(true, false) {
		n.o.Logger.Info("remoting: cluster: node serves again", "node", n.o.ID)
		if n.o.OnFence != nil {
			n.o.OnFence(false)
		}
	}
}

// renew keeps the lease alive: it renews it every TTL/4, and takes a new
// one once etcd says the old one is gone.
func (n *Node) renew() {
	every := n.o.TTL / 4
	t := time.NewTicker(every)
	defer t.Stop()
	lastLoad := -1
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		if n.leaving.Load() {
			continue
		}
		t0 := now()
		ctx, cancel := context.WithTimeout(n.ctx, every)
		resp, err := n.cli.KeepAliveOnce(ctx, n.leaseID())
		cancel()
		switch {
		case err == nil && resp.TTL > 0:
			n.extend(t0, time.Duration(resp.TTL)*time.Second)
			if l := n.load(); l != lastLoad {
				ctx, cancel := context.WithTimeout(n.ctx, every)
				if n.publish(ctx) == nil {
					lastLoad = l
				}
				cancel()
			}
		case errors.Is(err, rpctypes.ErrLeaseNotFound) || err == nil:
			// The lease is gone: so are this node's claims and member key.
			// Every object activated under it ends before a new lease lets
			// the node claim again.
			n.fence("lease lost")
			n.evictAll(n.ctx, false)
			ctx, cancel := context.WithTimeout(n.ctx, n.o.TTL)
			err := n.grant(ctx)
			cancel()
			if err != nil {
				n.o.Logger.Warn("remoting: cluster: rejoining failed; retrying", "node", n.o.ID, "err", err)
			} else {
				n.o.Logger.Info("remoting: cluster: node rejoined with a new lease", "node", n.o.ID)
				lastLoad = -1
			}
		default:
			if n.ctx.Err() == nil {
				n.o.Logger.Warn("remoting: cluster: renewing the lease failed", "node", n.o.ID, "err", err, "serving for", max(0, time.Duration(n.serveBy.Load()-now())))
			}
		}
	}
}

// fenceDue runs when the time the node may serve its claims is up.
func (n *Node) fenceDue() {
	if now() >= n.serveBy.Load() && !n.leaving.Load() && n.ctx.Err() == nil {
		n.fence("lease not renewed in time")
		n.done.Go(func() { n.evictAll(n.ctx, false) })
	}
}

// fence stops serving the claims: the objects are dropped unsaved.
func (n *Node) fence(why string) {
	n.serveBy.Store(0)
	if !n.fenced.CompareAndSwap(false, true) {
		return
	}
	n.fences.Add(1)
	n.o.Logger.Warn("remoting: cluster: node fenced: it serves no keyed object until it renews its lease", "node", n.o.ID, "why", why)
	if n.o.OnFence != nil {
		n.o.OnFence(true)
	}
}

// errNotHere fails the calls of keyed objects this node may not serve:
// it is fenced or leaving, or the object was claimed under a lease of
// the node's that has ended since (its directory key went with the
// lease). The client places the call anew.
var errNotHere = cluster.MovedError(&cluster.Moved{})

// serving returns nil while the node's lease is surely alive.
func (n *Node) serving() error {
	if now() < n.serveBy.Load() {
		return nil
	}
	return errNotHere
}

// Hosting implements lifecycle.Directory: nil while the node's lease is
// surely alive and object id was claimed under it.
func (n *Node) Hosting(id remoting.ObjectID) error {
	if err := n.serving(); err != nil {
		return err
	}
	if g, ok := n.claimed.Load(id); !ok || g.(*grant) != n.cur.Load() {
		return errNotHere
	}
	return nil
}

// Claim implements lifecycle.Directory: it enters the object in the
// cluster's directory as active on this node, in one etcd transaction
// that succeeds only if no node has it, under the node's lease. If
// another node has it, the error names that node.
func (n *Node) Claim(ctx context.Context, id remoting.ObjectID, _, _ string) error {
	if n.leaving.Load() {
		return errNotHere
	}
	if err := n.serving(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	g := n.cur.Load()
	key, value := n.o.ObjectKey(id), g.value
	resp, err := n.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, value, clientv3.WithLease(g.lease))).
		Else(clientv3.OpGet(key)).
		Commit()
	if err != nil {
		return cluster.Unavailable("claim the object", err)
	}
	if resp.Succeeded {
		n.claims.Add(1)
		n.claimed.Store(id, g)
		return nil
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	if len(kvs) == 0 {
		return remoting.Errorf(remoting.CodeUnavailable, "cluster: claim the object: its entry went away meanwhile; try again")
	}
	if string(kvs[0].Value) == value {
		n.claimed.Store(id, g) // claimed before, not released
		return nil
	}
	n.claimConflicts.Add(1)
	owner, endpoint := cluster.OwnerOf(kvs[0].Value)
	if owner == n.o.ID {
		return remoting.Errorf(remoting.CodeUnavailable, "cluster: object held by a former lease of this node until it ends; try again")
	}
	return cluster.MovedError(&cluster.Moved{Node: owner, Endpoint: endpoint})
}

// Release implements lifecycle.Directory: it deletes the object's
// directory entry if it is this node's.
func (n *Node) Release(ctx context.Context, id remoting.ObjectID) {
	v, ok := n.claimed.LoadAndDelete(id)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	key := n.o.ObjectKey(id)
	_, err := n.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.Value(key), "=", v.(*grant).value)).
		Then(clientv3.OpDelete(key)).
		Commit()
	if err == nil {
		n.releases.Add(1)
	}
}

// Attach implements lifecycle.Directory.
func (n *Node) Attach(objs *lifecycle.KeyedObjects) {
	n.mu.Lock()
	n.objs = append(n.objs, objs)
	n.mu.Unlock()
}

// evictAll ends every keyed object active here.
func (n *Node) evictAll(ctx context.Context, save bool) error {
	n.mu.Lock()
	objs := append([]*lifecycle.KeyedObjects(nil), n.objs...)
	n.mu.Unlock()
	var errs []error
	for _, k := range objs {
		ended, err := k.Evict(ctx, save)
		n.evicted.Add(uint64(ended))
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Leave takes the node out of the cluster gracefully: new activations
// here stop (their calls are answered "moved", and clients place the
// objects on other nodes), the member key goes, each keyed object active
// here is saved and released once the call running on it returns, the
// singletons resign, and the lease is revoked. Calls of the keyed objects
// that arrive meanwhile follow them to their new nodes, so none fails.
// Leave does not shut the server down: Shutdown does both.
func (n *Node) Leave(ctx context.Context) error {
	if !n.leaving.CompareAndSwap(false, true) {
		return nil
	}
	var errs []error
	if _, err := n.cli.Delete(ctx, n.o.MemberKey(n.o.ID)); err != nil {
		errs = append(errs, cluster.Unavailable("delete the member key", err))
	}
	n.stopSingletons()
	if err := n.evictAll(ctx, true); err != nil {
		errs = append(errs, err)
	}
	if _, err := n.cli.Revoke(ctx, n.leaseID()); err != nil {
		errs = append(errs, cluster.Unavailable("revoke the lease", err))
	}
	n.serveBy.Store(0)
	return errors.Join(errs...)
}

// Shutdown leaves the cluster (Leave), keeps serving for
// Options.LeaveGrace so that clients that still send calls here are told
// where to go, shuts the server down (invoker.Server.Shutdown), and
// closes the node (Close), in that order: a node's graceful stop, for
// SIGTERM.
func (n *Node) Shutdown(ctx context.Context) error {
	errLeave := n.Leave(ctx)
	sleep(ctx, n.o.LeaveGrace)
	errShut := n.o.Server.Shutdown(ctx)
	return errors.Join(errLeave, errShut, n.Close())
}

// Close stops the node's background work and closes its client and its
// etcd connection, without leaving: its lease ends after TTL, and with
// it its claims. Use Leave (or Shutdown) for a graceful stop.
func (n *Node) Close() error {
	n.stop()
	n.mu.Lock()
	n.fenceTimer.Stop()
	n.mu.Unlock()
	n.clientMu.Lock()
	c, local := n.client, n.localConn
	n.clientMu.Unlock()
	var err error
	if c != nil {
		err = errors.Join(c.Close(), local.Close())
	}
	n.stopSingletons()
	n.done.Wait()
	if n.members != nil {
		<-n.members.Done()
	}
	if n.ownCli {
		err = errors.Join(err, n.cli.Close())
	}
	return err
}
