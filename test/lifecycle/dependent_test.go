package lifecycle_test

import (
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/lifecycle/tally"
)

// Client-dependent objects: a Maker, registered as "maker", makes a Tally
// per call for its caller, which lives by the Policy registered for Tally.

// events records lifecycle events, for waiting on them.
type events struct {
	mu  sync.Mutex
	all []remoting.Event
}

func (e *events) Observe(ev remoting.Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
}

// count returns how many events of kind the object id had (any object if
// id is zero), counting those with an error apart.
func (e *events) count(kind remoting.EventKind, id remoting.ObjectID) (ok, failed int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.all {
		if ev.Kind == kind && (id.IsZero() || ev.ObjectID == id) {
			if ev.Err != nil {
				failed++
			} else {
				ok++
			}
		}
	}
	return ok, failed
}

// wait waits until the object id had n events of kind without an error.
func (e *events) wait(t *testing.T, kind remoting.EventKind, id remoting.ObjectID, n int) {
	t.Helper()
	require.Eventually(t, func() bool { ok, _ := e.count(kind, id); return ok >= n }, 10*time.Second, time.Millisecond,
		"%d %v events of %v", n, kind, id)
}

// depServer starts a server with a Maker named "maker" whose Tallies live
// by p.
func depServer(t testing.TB, tr *tally.Tracker, p lifecycle.Policy, opts invoker.Options) *server {
	t.Helper()
	srv := startServer(t, opts)
	require.NoError(t, srv.Policy(tally.TallyInvoker(), p), "Policy")
	_, err := srv.Register("maker", tally.MakerInvoker(), lifecycle.Static(tr.Maker()))
	require.NoError(t, err, "Register(maker)")
	return srv
}

// maker looks up the Maker through c.
func maker(t testing.TB, c remoting.Caller, endpoint string) *tally.MakerProxy {
	t.Helper()
	ref := remoting.Ref{Endpoint: endpoint, ID: remoting.NameID("maker"), Interface: tally.MakerInterface}
	return tally.NewMakerProxy(c, ref)
}

// unheld calls through a Client but is no remoting.Holder: the proxies
// it makes for factory results are not held, so nothing renews their
// leases but calls.
type unheld struct{ remoting.Caller }

// newTally makes a Tally through m.
func newTally(t testing.TB, m *tally.MakerProxy, start int64) (tally.Tally, remoting.ObjectID) {
	t.Helper()
	tl, err := m.NewTally(ctxT(t), start)
	require.NoError(t, err, "NewTally(%d)", start)
	require.NotNil(t, tl, "NewTally(%d)", start)
	return tl, tl.(*tally.TallyProxy).Ref().ID
}

func TestLeaseRenewedByCalls(t *testing.T) {
	ev := new(events)
	tr := new(tally.Tracker)
	const ttl = 300 * time.Millisecond
	srv := depServer(t, tr, lifecycle.ClientDependent(lifecycle.ClientDependentOptions{TTL: ttl}),
		invoker.Options{Observers: []remoting.Observer{ev}})
	c := srv.dial(t)
	tl, id := newTally(t, maker(t, unheld{c}, c.Endpoint()), 0)

	ctx := ctxT(t)
	start := time.Now()
	for i := 1; time.Since(start) < 4*ttl; i++ {
		n, err := tl.Add(ctx, 1)
		require.NoError(t, err, "Add after %v", time.Since(start))
		assert.EqualValues(t, i, n, "Add")
		time.Sleep(ttl / 4)
	}
	renewed, _ := ev.count(remoting.EventLeaseRenewed, id)
	assert.Positive(t, renewed, "LeaseRenewed events")
	expired, _ := ev.count(remoting.EventLeaseExpired, id)
	assert.Zero(t, expired, "LeaseExpired events")
	assert.Zero(t, c.Held(), "objects the client holds through an unheld caller")
}

func TestLeaseIdleObjectExpires(t *testing.T) {
	ev := new(events)
	tr := new(tally.Tracker)
	const ttl = 200 * time.Millisecond
	srv := depServer(t, tr, lifecycle.ClientDependent(lifecycle.ClientDependentOptions{TTL: ttl}),
		invoker.Options{Observers: []remoting.Observer{ev}})
	c := srv.dial(t)
	tl, id := newTally(t, maker(t, unheld{c}, c.Endpoint()), 7)
	objects := srv.Stats().Objects

	start := time.Now()
	ev.wait(t, remoting.EventLeaseExpired, id, 1)
	assert.GreaterOrEqual(t, time.Since(start), ttl*3/4, "time to expiry")
	ev.wait(t, remoting.EventDeactivated, id, 1)
	assert.EqualValues(t, 1, tr.Deactivated.Load(), "Deactivate calls")
	assert.EqualValues(t, 1, tr.Closed.Load(), "Close calls")
	assert.Equal(t, objects-1, srv.Stats().Objects, "objects registered after the expiry")

	_, err := tl.Get(ctxT(t))
	require.Error(t, err, "Get after the expiry")
	assert.ErrorIs(t, err, remoting.ErrFailedPrecondition, "Get after the expiry")
	assert.ErrorContains(t, err, "lease expired", "Get after the expiry")
	assert.ErrorContains(t, err, id.String(), "the error names the object")
	assert.ErrorContains(t, err, tally.TallyInterface, "the error names the interface")
}

func TestLeaseReleaseEndsAtOnce(t *testing.T) {
	ev := new(events)
	tr := new(tally.Tracker)
	srv := depServer(t, tr, lifecycle.ClientDependent(lifecycle.ClientDependentOptions{TTL: time.Minute}),
		invoker.Options{Observers: []remoting.Observer{ev}})
	c := srv.dial(t)
	tl, id := newTally(t, maker(t, c, c.Endpoint()), 1)
	assert.Equal(t, 1, c.Held(), "objects the client holds")

	require.NoError(t, c.Release(ctxT(t), tl.(*tally.TallyProxy).Ref()), "Release")
	assert.EqualValues(t, 1, tr.Deactivated.Load(), "Deactivate calls when Release returns")
	ok, _ := ev.count(remoting.EventDeactivated, id)
	assert.Equal(t, 1, ok, "Deactivated events when Release returns")
	assert.Zero(t, c.Held(), "objects the client holds after Release")
	expired, _ := ev.count(remoting.EventLeaseExpired, id)
	assert.Zero(t, expired, "LeaseExpired events")

	_, err := tl.Get(ctxT(t))
	assert.ErrorIs(t, err, remoting.ErrNotFound, "Get after Release")
	assert.NoError(t, c.Release(ctxT(t), tl.(*tally.TallyProxy).Ref()), "second Release")
}

func TestRenewerKeepsHeldObjectAlive(t *testing.T) {
	ev := new(events)
	tr := new(tally.Tracker)
	const ttl = 300 * time.Millisecond
	srv := depServer(t, tr, lifecycle.ClientDependent(lifecycle.ClientDependentOptions{TTL: ttl, Renewal: lifecycle.RenewByClient}),
		invoker.Options{Observers: []remoting.Observer{ev}})
	c := srv.dial(t)
	tl, id := newTally(t, maker(t, c, c.Endpoint()), 3)

	time.Sleep(4 * ttl) // no call: only the renewer keeps it
	n, err := tl.Get(ctxT(t))
	require.NoError(t, err, "Get after four times the TTL without a call")
	assert.EqualValues(t, 3, n, "Get")
	renewed, _ := ev.count(remoting.EventLeaseRenewed, id)
	assert.GreaterOrEqual(t, renewed, 6, "LeaseRenewed events: about three per TTL")

	require.NoError(t, c.Release(ctxT(t), tl.(*tally.TallyProxy).Ref()), "Release")
	assert.Zero(t, c.Held(), "objects the client holds after Release")
	all, _ := ev.count(remoting.EventLeaseRenewed, remoting.ObjectID{})
	time.Sleep(ttl)
	after, _ := ev.count(remoting.EventLeaseRenewed, remoting.ObjectID{})
	assert.Equal(t, all, after, "LeaseRenewed events after Release")
}

func TestRenewerStopsWhenProxyCollected(t *testing.T) {
	ev := new(events)
	tr := new(tally.Tracker)
	const ttl = 300 * time.Millisecond
	srv := depServer(t, tr, lifecycle.ClientDependent(lifecycle.ClientDependentOptions{TTL: ttl}),
		invoker.Options{Observers: []remoting.Observer{ev}})
	c := srv.dial(t)
	m := maker(t, c, c.Endpoint())
	kept, keptID := newTally(t, m, 1)
	id := func() remoting.ObjectID {
		_, id := newTally(t, m, 2) // the proxy is unreachable once this returns
		return id
	}()
	assert.Equal(t, 2, c.Held(), "objects the client holds")

	require.Eventually(t, func() bool { runtime.GC(); return c.Held() == 1 }, 10*time.Second, 10*time.Millisecond,
		"the collected proxy's object is no longer held")
	ev.wait(t, remoting.EventLeaseExpired, id, 1)
	expired, _ := ev.count(remoting.EventLeaseExpired, keptID)
	assert.Zero(t, expired, "LeaseExpired events of the object whose proxy is kept")
	_, err := kept.Get(ctxT(t))
	assert.NoError(t, err, "Get on the kept proxy")
	runtime.KeepAlive(kept)
}

func TestOtherClientRefused(t *testing.T) {
	ev := new(events)
	tr := new(tally.Tracker)
	const ttl = 200 * time.Millisecond
	srv := depServer(t, tr, lifecycle.ClientDependent(lifecycle.ClientDependentOptions{TTL: ttl}),
		invoker.Options{Observers: []remoting.Observer{ev}})
	a, b := srv.dial(t), srv.dial(t)
	tl, id := newTally(t, maker(t, unheld{a}, a.Endpoint()), 5)
	ctx := ctxT(t)

	// b has a's reference, and the id of an object that never existed.
	ref := tl.(*tally.TallyProxy).Ref()
	stolen := tally.NewTallyProxy(b, ref)
	unknown := remoting.NewObjectID()
	bogus := tally.NewTallyProxy(b, remoting.Ref{ID: unknown, Interface: tally.TallyInterface})
	noHint := func(err error, of remoting.ObjectID) string {
		return strings.ReplaceAll(err.Error(), of.String(), "<id>")
	}
	_, errStolen := stolen.Add(ctx, 1)
	_, errBogus := bogus.Add(ctx, 1)
	assert.ErrorIs(t, errStolen, remoting.ErrNotFound, "another client's object")
	assert.Equal(t, noHint(errBogus, unknown), noHint(errStolen, id), "another client's object looks like one that does not exist")
	require.NoError(t, b.Release(ctx, ref), "Release by another client: not found, so no error")

	n, err := tl.Get(ctx)
	require.NoError(t, err, "Get by the owner")
	assert.EqualValues(t, 5, n, "the other client changed nothing")

	// After the expiry the owner hears why; the other client still
	// learns nothing.
	ev.wait(t, remoting.EventLeaseExpired, id, 1)
	_, err = tl.Get(ctx)
	assert.ErrorIs(t, err, remoting.ErrFailedPrecondition, "Get by the owner after the expiry")
	_, errStolen = stolen.Get(ctx)
	assert.ErrorIs(t, errStolen, remoting.ErrNotFound, "Get by another client after the expiry")
	assert.Equal(t, noHint(errBogus, unknown), noHint(errStolen, id), "another client's expired object looks like one that does not exist")
}

func TestDisconnectedClientObjectsEndAfterGrace(t *testing.T) {
	ev := new(events)
	tr := new(tally.Tracker)
	const grace = 300 * time.Millisecond
	// No lease: only the grace period ends the objects.
	srv := depServer(t, tr, lifecycle.ClientDependent(lifecycle.ClientDependentOptions{}),
		invoker.Options{Observers: []remoting.Observer{ev}, OwnerGrace: grace})
	r := newRelay(t, srv.endpoint)
	ctx := ctxT(t)
	c, err := requestor.Dial(ctx, r.endpoint(), requestor.Options{RedialBackoff: 10 * time.Millisecond, MaxRedialBackoff: 10 * time.Millisecond})
	require.NoError(t, err, "Dial")
	t.Cleanup(func() { c.Close() })
	tl, id := newTally(t, maker(t, c, c.Endpoint()), 9)

	// Cut off for less than the grace period: the object survives. The
	// client, which redials at once, cannot get through until the network
	// is back, so the server sees it gone.
	r.cut()
	require.Eventually(t, func() bool { return srv.Stats().Connections == 0 }, 5*time.Second, time.Millisecond, "the server saw the client go")
	time.Sleep(grace / 2)
	r.restore()
	// The first calls may find the client between two redials (10 ms
	// apart); one gets through well within the grace period.
	var n int64
	require.Eventually(t, func() bool {
		n, err = tl.Get(ctx) // reconnects
		return err == nil
	}, grace/3, 2*time.Millisecond, "Get after reconnecting within the grace period")
	assert.EqualValues(t, 9, n, "Get")
	time.Sleep(grace)
	_, err = tl.Get(ctx)
	require.NoError(t, err, "Get more than the grace period after the reconnection")

	// Gone for good: the object ends after the grace period.
	gone := time.Now()
	require.NoError(t, c.Close(), "Close")
	ev.wait(t, remoting.EventLeaseExpired, id, 1)
	assert.GreaterOrEqual(t, time.Since(gone), grace*3/4, "time to the end")
	ev.wait(t, remoting.EventDeactivated, id, 1)
	assert.EqualValues(t, 1, tr.Deactivated.Load(), "Deactivate calls")
}

// relay forwards TCP connections to a server and can cut them, to play a
// network that breaks.
type relay struct {
	lis    net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	down   bool // cut, and refusing new connections until restore
	wg     sync.WaitGroup
}

func newRelay(t *testing.T, target string) *relay {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r := &relay{lis: lis, target: strings.TrimPrefix(target, "tcp://")}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(func() {
		lis.Close()
		r.cut()
		r.wg.Wait()
	})
	return r
}

func (r *relay) endpoint() string { return "tcp://" + r.lis.Addr().String() }

func (r *relay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.lis.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		down := r.down
		r.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", r.target)
		if err != nil {
			c.Close()
			continue
		}
		r.mu.Lock()
		if r.down {
			r.mu.Unlock()
			c.Close()
			s.Close()
			continue
		}
		r.conns = append(r.conns, c, s)
		r.mu.Unlock()
		r.wg.Add(2)
		go r.pipe(c, s)
		go r.pipe(s, c)
	}
}

func (r *relay) pipe(dst, src net.Conn) {
	defer r.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			dst.Close()
			return
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			src.Close()
			return
		}
	}
}

// cut closes every relayed connection and refuses new ones until
// restore: the network is down.
func (r *relay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = true
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

// restore lets connections through again.
func (r *relay) restore() {
	r.mu.Lock()
	r.down = false
	r.mu.Unlock()
}
