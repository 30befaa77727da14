package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/requestor"
)

// DefaultMaxHops is the default of [ClientOptions.MaxHops].
const DefaultMaxHops = 3

// DefaultMaxCached is the default of [ClientOptions.MaxCached]: at about
// 100 bytes an entry, 100 MB.
const DefaultMaxCached = 1 << 20

// ClientOptions configure [Dial].
type ClientOptions struct {
	Options
	// Placement chooses the node of an object active nowhere. Default
	// Hash.
	Placement Placement
	// Requestor configures the connection to each node.
	Requestor requestor.Options
	// MaxHops is how many times one call follows a "moved" answer before
	// it fails with Unavailable. Default [DefaultMaxHops], 3: one hop
	// for a stale cache entry, one for a placement that lost a race, one
	// spare.
	MaxHops int
	// MaxCached bounds the directory cache: past it, an entry is dropped
	// for each one added (the call of a dropped object pays a miss, and
	// perhaps a hop). Default [DefaultMaxCached].
	MaxCached int
	// Local, if set, is the node the client runs on and a Caller that
	// reaches it without a socket: calls routed to Local.ID go through
	// Local.Caller. cluster/node.Node.Client sets it.
	Local *LocalNode
}

// LocalNode is the node a Client runs on; see [ClientOptions.Local].
type LocalNode struct {
	ID     string
	Caller remoting.Resolver
}

// Client calls the objects of a cluster, wherever they are active: it
// implements [remoting.Caller] and [remoting.Resolver], so the generated
// <Interface>ByKey and Lookup<Interface> functions take it. A keyed
// object's call goes to the node its directory cache names; on a miss,
// to the node its Placement chooses, which activates the object or,
// if another node has it, answers "moved" with that node, and the Client
// follows (at most MaxHops times; the method runs once, on the node that
// hosts the object). The cache is filled by calls and moved answers and
// emptied of a node's entries when the node leaves the member set, which
// the Client watches in etcd. The Client keeps one connection per node it
// calls.
//
// A call in flight on a node that dies fails with Unavailable and is not
// sent again: the node may have run it. A call that failed because its
// node could not be reached is not sent again either; the next call of
// the key goes where the directory then says.
type Client struct {
	o       ClientOptions
	cli     *clientv3.Client
	ownCli  bool
	members *Members
	ctx     context.Context
	stop    context.CancelFunc

	mu       sync.Mutex
	conns    map[string]*nodeConn   // by endpoint
	retiring map[string]*time.Timer // connections to nodes that left, by endpoint: closed when the timer fires
	ready    sync.Map               // endpoint -> *requestor.Client: the connected of conns, read without the lock
	dir      sync.Map               // remoting.ObjectID -> string, the node an object was last found on
	nDir     atomic.Int64           // entries in dir, about

	singletons sync.Map // remoting.ObjectID -> *singleton

	hits, misses, forwards atomic.Uint64
}

type nodeConn struct {
	ready chan struct{}
	c     *requestor.Client
	err   error
}

var (
	_ remoting.Resolver = (*Client)(nil)
)

// Dial connects to the cluster's etcd and reads its member set; it
// connects to nodes as calls need them.
func Dial(ctx context.Context, opts ClientOptions) (*Client, error) {
	o, err := opts.Options.WithDefaults()
	if err != nil {
		return nil, err
	}
	opts.Options = o
	if opts.Placement == nil {
		opts.Placement = Hash
	}
	if opts.MaxHops <= 0 {
		opts.MaxHops = DefaultMaxHops
	}
	if opts.MaxCached <= 0 {
		opts.MaxCached = DefaultMaxCached
	}
	cli, own, err := o.Connect()
	if err != nil {
		return nil, err
	}
	c := &Client{o: opts, cli: cli, ownCli: own, conns: make(map[string]*nodeConn), retiring: make(map[string]*time.Timer)}
	c.ctx, c.stop = context.WithCancel(context.Background())
	c.members = WatchMembers(c.ctx, cli, o, c.memberGone)
	if err := c.members.Wait(ctx); err != nil {
		c.Close()
		return nil, Unavailable("read the members", err)
	}
	return c, nil
}

// Members returns the cluster's members as the client sees them.
func (c *Client) Members() []Member { return c.members.Live() }

// ClientStats are a Client's counts.
type ClientStats struct {
	// CacheHits and CacheMisses count the keyed calls that found their
	// node in the directory cache, and those that did not.
	CacheHits, CacheMisses uint64
	// Forwards counts the moved answers followed.
	Forwards uint64
	// Cached is the number of objects in the directory cache.
	Cached int
	// Connections is the number of nodes the client is connected to.
	Connections int
}

// Stats returns the client's counts.
func (c *Client) Stats() ClientStats {
	n := int(c.nDir.Load())
	c.mu.Lock()
	conns := len(c.conns)
	c.mu.Unlock()
	return ClientStats{CacheHits: c.hits.Load(), CacheMisses: c.misses.Load(), Forwards: c.forwards.Load(), Cached: n, Connections: conns}
}

// Close closes the connections to the nodes and the watch.
func (c *Client) Close() error {
	c.stop()
	c.mu.Lock()
	conns := c.conns
	c.conns = map[string]*nodeConn{}
	c.ready.Clear()
	for ep, t := range c.retiring {
		t.Stop()
		delete(c.retiring, ep)
	}
	c.mu.Unlock()
	for _, nc := range conns {
		<-nc.ready
		if nc.c != nil {
			nc.c.Close()
		}
	}
	<-c.members.Done()
	if c.ownCli {
		return c.cli.Close()
	}
	return nil
}

// memberGone forgets what the client knew of a node that left. Its
// connection stays for retireAfter, so that calls on their way to it end
// as it answers them (a leaving node still answers "moved" for a while),
// and is then closed unless the node is back.
func (c *Client) memberGone(m Member) {
	id := m.ID
	c.mu.Lock()
	if _, ok := c.conns[m.Endpoint]; ok && c.retiring[m.Endpoint] == nil && c.ctx.Err() == nil {
		c.retiring[m.Endpoint] = time.AfterFunc(retireAfter, func() { c.retire(m.Endpoint) })
	}
	c.mu.Unlock()
	c.dir.Range(func(k, v any) bool {
		if v.(string) == id {
			c.uncache(k.(remoting.ObjectID), id)
		}
		return true
	})
	c.singletons.Range(func(_, v any) bool {
		v.(*singleton).forget(id)
		return true
	})
}

// Invoke sends inv to the node that hosts its target: for a keyed object
// (Ref.Key set) the node the directory names, for a cluster singleton
// (a Ref from Lookup) the node that leads its election, and for any other
// reference the node of its Endpoint.
func (c *Client) Invoke(ctx context.Context, inv *remoting.Invocation) error {
	t := inv.Target
	switch {
	case t.Key != "":
		err := c.invokeKeyed(ctx, inv, 0, "")
		if err != nil && inv.Mode == remoting.ModeAsync {
			inv.Done(err)
			return nil
		}
		return err
	case t.Endpoint == "":
		if v, ok := c.singletons.Load(t.ID); ok {
			err := c.invokeSingleton(ctx, inv, v.(*singleton))
			if err != nil && inv.Mode == remoting.ModeAsync {
				inv.Done(err)
				return nil
			}
			return err
		}
		return remoting.Errorf(remoting.CodeInvalidArgument, "cluster: reference %s names no node: only keyed objects and singletons may be called without an endpoint", t)
	}
	nc, err := c.connect(ctx, t.Endpoint)
	if err != nil {
		return err
	}
	return nc.Invoke(ctx, inv)
}

// route returns the node a keyed call goes to: the cached one, or the
// Placement's over the members other than not.
func (c *Client) route(ctx context.Context, inv *remoting.Invocation, not string) (Member, error) {
	id := inv.Target.ID
	if v, ok := c.dir.Load(id); ok {
		if m, ok := c.members.Get(v.(string)); ok && m.ID != not {
			c.hits.Add(1)
			return m, nil
		}
		c.uncache(id, v.(string))
	}
	c.misses.Add(1)
	// A call whose failure the caller never hears of (one-way, or
	// acknowledged before it runs) cannot follow a moved answer: read the
	// directory first.
	if inv.Mode == remoting.ModeOneway || inv.Mode == remoting.ModeSyncWithServer {
		resp, err := get(ctx, c.cli, c.o.ObjectKey(id))
		if err != nil {
			return Member{}, Unavailable("read the directory", err)
		}
		if len(resp.Kvs) > 0 {
			if node, endpoint := OwnerOf(resp.Kvs[0].Value); endpoint != "" {
				return Member{ID: node, Endpoint: endpoint}, nil
			}
		}
	}
	members := c.members.Live()
	if not != "" {
		kept := make([]Member, 0, len(members))
		for _, m := range members {
			if m.ID != not {
				kept = append(kept, m)
			}
		}
		members = kept
	}
	if len(members) == 0 {
		return Member{}, remoting.Errorf(remoting.CodeUnavailable, "cluster %s has no live node", c.o.Name)
	}
	local := ""
	if c.o.Local != nil {
		local = c.o.Local.ID
	}
	return c.o.Placement.Place(id, inv.Target.Key, members, local), nil
}

// invokeKeyed sends a keyed call, following moved answers; hop counts
// those followed so far, and not is a node that said it may not host the
// object.
func (c *Client) invokeKeyed(ctx context.Context, inv *remoting.Invocation, hop int, not string) error {
	m, err := c.route(ctx, inv, not)
	if err != nil {
		return err
	}
	return c.sendKeyed(ctx, inv, m, hop)
}

func (c *Client) sendKeyed(ctx context.Context, inv *remoting.Invocation, m Member, hop int) error {
	caller, err := c.callerOf(ctx, m)
	if err != nil {
		c.uncache(inv.Target.ID, m.ID)
		if next, ok := c.unreachable(ctx, inv, m, err, hop); ok {
			return c.sendKeyed(ctx, inv, next, hop+1)
		}
		return err
	}
	if inv.Mode == remoting.ModeAsync {
		call := *inv
		done := inv.Done
		call.Done = func(err error) {
			if next, ok := c.moved(inv, m, err, hop); ok {
				err = c.sendKeyed(ctx, inv, next, hop+1)
				if err == nil {
					return // the next hop's Done reports
				}
			}
			done(err)
		}
		return caller.Invoke(ctx, &call)
	}
	err = caller.Invoke(ctx, inv)
	if next, ok := c.moved(inv, m, err, hop); ok {
		return c.sendKeyed(ctx, inv, next, hop+1)
	}
	if next, ok := c.unreachable(ctx, inv, m, err, hop); ok {
		return c.sendKeyed(ctx, inv, next, hop+1)
	}
	return err
}

// unreachable returns the node to send a keyed call to next if err says
// that the call could not reach m at all (a connection to it could not
// be made, so nothing was sent) and hops are left: a node that left a
// moment ago, before the client saw it go.
func (c *Client) unreachable(ctx context.Context, inv *remoting.Invocation, m Member, err error, hop int) (Member, bool) {
	var op *net.OpError
	if hop >= c.o.MaxHops || !errors.As(err, &op) || op.Op != "dial" || ctx.Err() != nil {
		return Member{}, false
	}
	c.forwards.Add(1)
	next, err := c.route(ctx, inv, m.ID)
	return next, err == nil && next.ID != m.ID
}

// moved looks at the outcome err of a keyed call sent to m: it returns
// the node to send the call to next if m answered that the object is
// elsewhere and hops are left, and otherwise notes in the cache what err
// says of m.
func (c *Client) moved(inv *remoting.Invocation, m Member, err error, hop int) (Member, bool) {
	id := inv.Target.ID
	var mv *Moved
	switch {
	case err == nil || !errors.As(err, &mv):
		if remoting.CodeOf(err) == remoting.CodeUnavailable {
			c.uncache(id, m.ID)
		} else {
			c.cache(id, m.ID)
		}
		return Member{}, false
	case hop >= c.o.MaxHops:
		c.uncache(id, m.ID)
		return Member{}, false
	}
	c.forwards.Add(1)
	if mv.Node != "" && mv.Node != m.ID && mv.Endpoint != "" {
		c.cache(id, mv.Node)
		return Member{ID: mv.Node, Endpoint: mv.Endpoint}, true
	}
	c.uncache(id, m.ID)
	next, err := c.route(context.Background(), inv, m.ID)
	if err != nil {
		return Member{}, false
	}
	return next, true
}

// cache notes that object id is on node, keeping the cache bounded.
func (c *Client) cache(id remoting.ObjectID, node string) {
	if v, ok := c.dir.Load(id); ok && v.(string) == node {
		return // the common case, a call to the node cached: no write
	}
	if _, loaded := c.dir.Swap(id, node); loaded {
		return
	}
	if c.nDir.Add(1) <= int64(c.o.MaxCached) {
		return
	}
	c.dir.Range(func(k, _ any) bool {
		if k != id {
			if _, ok := c.dir.LoadAndDelete(k); ok {
				c.nDir.Add(-1)
			}
			return false
		}
		return true
	})
}

// uncache forgets that object id is on node.
func (c *Client) uncache(id remoting.ObjectID, node string) {
	if c.dir.CompareAndDelete(id, node) {
		c.nDir.Add(-1)
	}
}

// retireAfter is how long a client keeps its connection to a node that
// left the cluster.
const retireAfter = 30 * time.Second

// retire closes the connection to endpoint unless a member serves there
// again.
func (c *Client) retire(endpoint string) {
	for _, m := range c.members.Live() {
		if m.Endpoint == endpoint {
			c.mu.Lock()
			delete(c.retiring, endpoint)
			c.mu.Unlock()
			return
		}
	}
	c.mu.Lock()
	delete(c.retiring, endpoint)
	nc, ok := c.conns[endpoint]
	if ok {
		delete(c.conns, endpoint)
		c.ready.Delete(endpoint)
	}
	c.mu.Unlock()
	if ok {
		<-nc.ready
		if nc.c != nil {
			nc.c.Close()
		}
	}
}

// callerOf returns the Caller that reaches member m.
func (c *Client) callerOf(ctx context.Context, m Member) (remoting.Caller, error) {
	if l := c.o.Local; l != nil && l.ID == m.ID {
		return l.Caller, nil
	}
	return c.connect(ctx, m.Endpoint)
}

// connect returns the client of the node at endpoint, dialing it if the
// Client has none.
func (c *Client) connect(ctx context.Context, endpoint string) (*requestor.Client, error) {
	if v, ok := c.ready.Load(endpoint); ok {
		return v.(*requestor.Client), nil // the common case: no lock on the call path
	}
	c.mu.Lock()
	if c.ctx.Err() != nil {
		c.mu.Unlock()
		return nil, remoting.Errorf(remoting.CodeUnavailable, "cluster: client closed")
	}
	nc, ok := c.conns[endpoint]
	if !ok {
		nc = &nodeConn{ready: make(chan struct{})}
		c.conns[endpoint] = nc
	}
	c.mu.Unlock()
	if !ok {
		nc.c, nc.err = requestor.Dial(ctx, endpoint, c.o.Requestor)
		c.mu.Lock()
		switch {
		case nc.err != nil:
			if c.conns[endpoint] == nc {
				delete(c.conns, endpoint)
			}
		case c.conns[endpoint] == nc:
			c.ready.Store(endpoint, nc.c)
		}
		c.mu.Unlock()
		close(nc.ready)
	}
	select {
	case <-nc.ready:
	case <-ctx.Done():
		return nil, remoting.Errorf(remoting.CodeUnavailable, "cluster: connect to %s: %v", endpoint, ctx.Err())
	}
	if nc.err != nil {
		return nil, nc.err
	}
	return nc.c, nil
}

// DirectoryValue returns the value of the directory entry of an object
// active on node id, serving at endpoint, under lease.
func DirectoryValue(node string, lease clientv3.LeaseID, endpoint string) string {
	return fmt.Sprintf("%s %x %s", node, int64(lease), endpoint)
}

// OwnerOf returns the node id and endpoint a directory entry's value
// names.
func OwnerOf(v []byte) (node, endpoint string) {
	f := strings.SplitN(string(v), " ", 3)
	if len(f) < 3 {
		return f[0], ""
	}
	return f[0], f[2]
}
