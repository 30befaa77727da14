package requestor

import (
	"context"
	"sync"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/peer"
	"github.com/remoting-go/remoting/internal/wire"
)

const (
	// renewBatch bounds the ids one remoting.Renew call carries (16 bytes
	// each).
	renewBatch = 4096
	// renewRetry is the longest wait before a failed renewal is tried
	// again; a lease with a shorter time to live is retried sooner.
	renewRetry = time.Second
	// renewTimeout bounds one renewal call.
	renewTimeout = 10 * time.Second
)

// holds is the set of objects the client's proxies hold, which the renewer
// keeps alive.
type holds struct {
	mu      sync.Mutex
	refs    map[remoting.ObjectID]*held
	running bool          // the renewer was started
	kick    chan struct{} // wakes the renewer: there are new objects to renew
}

// held is one held object.
type held struct {
	n   int           // proxies that hold it
	at  int           // the index of the endpoint of the server that has it
	ttl time.Duration // zero: not known yet; positive: its lease's; negative: it has no lease
	due time.Time     // when to renew it next, if ttl is not negative
}

// Hold implements codegen.Holder: generated proxies of objects that
// remote factories return call it (through codegen.Hold), and the client
// renews the leases of the objects it holds until each is released by all
// its proxies (they were garbage collected), by Release, or by Close.
//
// The renewer is one goroutine, started by the first Hold and stopped by
// Close. It renews a new object at once, which tells it the lease's time
// to live, and then every object at a third of its time to live, in
// batches (one remoting.Renew call for up to 4096 objects). It stops
// renewing an object that the server says has no lease or no longer
// exists. A failed renewal (the server is unreachable) is tried again
// within a second, and reconnects the client, so that a client that comes
// back within the server's grace period keeps its objects.
//
// An object is renewed only on the endpoint of the connection the client
// had when Hold was first called for it: the one the factory's reply came
// on, unless the client failed over in between. While the client is
// connected to another endpoint of its Failover list, the object's
// renewals are not sent, so its server ends it when its lease or the
// client's grace period runs out; if the client gets back to that
// endpoint first, the renewals resume.
func (c *Client) Hold(ref remoting.Ref) (release func()) {
	if ref.ID.IsZero() {
		return func() {}
	}
	c.mu.Lock()
	at := c.last
	c.mu.Unlock()
	h := &c.holds
	h.mu.Lock()
	if h.refs == nil {
		h.refs = make(map[remoting.ObjectID]*held)
		h.kick = make(chan struct{}, 1)
	}
	e := h.refs[ref.ID]
	fresh := e == nil
	if fresh {
		e = &held{at: at}
		h.refs[ref.ID] = e
	}
	e.n++
	start := !h.running
	h.running = true
	h.mu.Unlock()

	if start {
		c.mu.Lock()
		if !c.closed {
			c.wg.Add(1)
			go c.renewer()
		}
		c.mu.Unlock()
	}
	if fresh {
		select {
		case h.kick <- struct{}{}:
		default:
		}
	}
	var once sync.Once
	return func() { once.Do(func() { c.unhold(ref.ID, e) }) }
}

// unhold ends one proxy's hold of e.
func (c *Client) unhold(id remoting.ObjectID, e *held) {
	h := &c.holds
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.refs[id] != e {
		return // released, or gone on the server
	}
	if e.n--; e.n <= 0 {
		delete(h.refs, id)
	}
}

// forgetHold stops renewing id, whoever holds it.
func (c *Client) forgetHold(id remoting.ObjectID) {
	c.holds.mu.Lock()
	delete(c.holds.refs, id)
	c.holds.mu.Unlock()
}

// Held returns the number of remote objects the client's proxies hold and
// the client keeps alive (see Hold).
func (c *Client) Held() int {
	c.holds.mu.Lock()
	defer c.holds.mu.Unlock()
	return len(c.holds.refs)
}

// renewer is the renewer goroutine.
func (c *Client) renewer() {
	defer c.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		ids, wait := c.holds.due(time.Now())
		if len(ids) > 0 {
			c.renewDue(ids)
			continue // the replies moved the due times
		}
		if wait > 0 {
			timer.Reset(wait)
		}
		select {
		case <-c.life.Done():
			return
		case <-c.holds.kick:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// dueID is an object to renew now, and the index of its server's endpoint.
type dueID struct {
	id remoting.ObjectID
	at int
}

// due returns the objects to renew now, or if there are none, how long to
// wait before looking again (negative: until kicked). An object whose
// renewal is due within half the shortest renewal interval goes with
// those due now, so that objects are renewed in few calls.
func (h *holds) due(now time.Time) (ids []dueID, wait time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var interval time.Duration
	for _, e := range h.refs {
		if e.ttl > 0 && (interval == 0 || e.ttl/3 < interval) {
			interval = e.ttl / 3
		}
	}
	horizon := now.Add(interval / 2)
	var next time.Time
	for id, e := range h.refs {
		switch {
		case e.ttl < 0:
		case !e.due.After(horizon):
			ids = append(ids, dueID{id, e.at})
			e.due = now.Add(renewRetry) // until the reply says better
		case next.IsZero() || e.due.Before(next):
			next = e.due
		}
	}
	if next.IsZero() {
		return ids, -1
	}
	return ids, max(next.Sub(now), time.Millisecond)
}

// renewDue renews, on the connection new calls use (dialing one if there
// is none), the due objects whose server is at that connection's
// endpoint. The others are put off, as failed renewals are, until the
// client is connected to theirs again.
func (c *Client) renewDue(due []dueID) {
	ctx, cancel := context.WithTimeout(c.life, renewTimeout)
	defer cancel()
	sent := time.Now()
	ids := make([]remoting.ObjectID, 0, len(due))
	cn, err := c.conn(ctx)
	cancel()
	if err != nil {
		for _, d := range due {
			ids = append(ids, d.id)
		}
		c.renewFailed(ids, sent, err)
		return
	}
	c.mu.Lock()
	at, live := c.conns[cn]
	c.mu.Unlock()
	var later []remoting.ObjectID
	for _, d := range due {
		if live && d.at == at {
			ids = append(ids, d.id)
		} else {
			later = append(later, d.id)
		}
	}
	c.holds.retry(later, sent)
	for len(ids) > 0 {
		n := min(len(ids), renewBatch)
		c.renew(cn, ids[:n])
		ids = ids[n:]
	}
}

// renew renews ids on cn and records what the reply says of each.
func (c *Client) renew(cn *peer.Peer, ids []remoting.ObjectID) {
	ctx, cancel := context.WithTimeout(c.life, renewTimeout)
	defer cancel()
	sent := time.Now()
	var reply wire.RenewReply
	inv := &remoting.Invocation{Method: wire.RenewMethod, Args: &wire.RenewArgs{IDs: ids}, Reply: &reply}
	// Through the client's interceptors, but on cn only: on another
	// connection the ids would name objects of another server.
	on := func(ctx context.Context, inv *remoting.Invocation) error {
		return peer.Send(ctx, inv, func(context.Context, *remoting.Invocation) (*peer.Peer, error) { return cn, nil }, nil)
	}
	var err error
	if chain := c.chain.Load(); chain != nil {
		err = chain(ctx, inv, on)
	} else {
		err = on(ctx, inv)
	}
	if err == nil && len(reply.TTLs) != len(ids) {
		err = remoting.Errorf(remoting.CodeInternal, "renew: %d ttls for %d ids", len(reply.TTLs), len(ids))
	}
	if err != nil {
		c.renewFailed(ids, sent, err)
		return
	}
	h := &c.holds
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, id := range ids {
		e := h.refs[id]
		if e == nil {
			continue
		}
		switch ttl := reply.TTLs[i]; {
		case ttl > 0:
			e.ttl = time.Duration(ttl) * time.Microsecond
			e.due = sent.Add(e.ttl / 3)
		case ttl == wire.RenewNoLease:
			e.ttl = -1
		default:
			delete(h.refs, id)
		}
	}
}

// renewFailed schedules ids, whose renewal sent at sent failed with err,
// to be tried again soon.
func (c *Client) renewFailed(ids []remoting.ObjectID, sent time.Time, err error) {
	c.holds.retry(ids, sent)
	c.opts.Logger.Info("remoting: lease renewal failed; retrying", "endpoints", c.names, "objects", len(ids), "err", err)
}

// retry schedules the renewal of ids, which was not done at sent, again
// within renewRetry, and sooner for a lease of under six times that.
func (h *holds) retry(ids []remoting.ObjectID, sent time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ids {
		if e := h.refs[id]; e != nil && e.ttl > 0 {
			e.due = sent.Add(min(renewRetry, e.ttl/6))
		}
	}
}
