package lifecycle_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/passivation"
	"github.com/remoting-go/remoting/passivation/bolt"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/lifecycle/tally"
)

// passivating returns a policy that passivates Tallies idle for after to
// store.
func passivating(tr *tally.Tracker, after time.Duration, store passivation.Store, ttl time.Duration) lifecycle.Policy {
	return lifecycle.ClientDependent(lifecycle.ClientDependentOptions{
		TTL:         ttl,
		Passivation: lifecycle.Passivate(tr.New, lifecycle.PassivationOptions{After: after, Store: store}),
	})
}

// openBolt opens a store in path; the test closes it.
func openBolt(t *testing.T, path string) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(path, bolt.Options{})
	require.NoError(t, err, "bolt.Open(%s)", path)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPassivateIdleThenReactivate(t *testing.T) {
	ev := new(events)
	tr := new(tally.Tracker)
	store := openBolt(t, filepath.Join(t.TempDir(), "state.db"))
	srv := depServer(t, tr, passivating(tr, 100*time.Millisecond, store, 0), invoker.Options{Observers: []remoting.Observer{ev}})
	c := srv.dial(t)
	tl, id := newTally(t, maker(t, c, c.Endpoint()), 10)
	ctx := ctxT(t)
	_, err := tl.Add(ctx, 5)
	require.NoError(t, err, "Add")

	ev.wait(t, remoting.EventPassivated, id, 1)
	assert.EqualValues(t, 1, tr.Saves.Load(), "SaveState calls")
	assert.EqualValues(t, 1, tr.Deactivated.Load(), "Deactivate calls: the instance is gone")
	assert.Zero(t, tr.Closed.Load(), "Close calls: the object lives on")
	rec, err := store.Load(ctx, id)
	require.NoError(t, err, "the store has the state")
	assert.NotEmpty(t, rec.Data, "the stored state")
	assert.Zero(t, tr.News.Load(), "instances made for reactivation before the next call")

	n, err := tl.Get(ctx)
	require.NoError(t, err, "Get after passivation")
	assert.EqualValues(t, 15, n, "the state after reactivation")
	assert.EqualValues(t, 1, tr.News.Load(), "instances made for reactivation")
	assert.EqualValues(t, 1, tr.Restores.Load(), "RestoreState calls")
	assert.EqualValues(t, 1, tr.Activated.Load(), "Activate calls")
	ok, _ := ev.count(remoting.EventReactivated, id)
	assert.Equal(t, 1, ok, "Reactivated events")

	// It passivates again when idle again, over the same record.
	_, err = tl.Add(ctx, 1)
	require.NoError(t, err, "Add")
	ev.wait(t, remoting.EventPassivated, id, 2)
	n, err = tl.Get(ctx)
	require.NoError(t, err, "Get after the second passivation")
	assert.EqualValues(t, 16, n, "the state after the second reactivation")

	// Release deletes the state.
	require.NoError(t, c.Release(ctx, tl.(*tally.TallyProxy).Ref()), "Release")
	_, err = store.Load(ctx, id)
	assert.ErrorIs(t, err, passivation.ErrNotFound, "the store after Release")
}

func TestReactivateOnceUnderThousandCalls(t *testing.T) {
	ev := new(events)
	tr := &tally.Tracker{RestoreDelay: 50 * time.Millisecond}
	// The idle time is long enough that the thousand calls, on a loaded
	// machine, never leave the object idle for it between them: one
	// reactivation is the point, not a second passivation.
	srv := depServer(t, tr, passivating(tr, 300*time.Millisecond, nil, 0), invoker.Options{Observers: []remoting.Observer{ev}})
	c := srv.dial(t)
	tl, id := newTally(t, maker(t, c, c.Endpoint()), 42)
	ev.wait(t, remoting.EventPassivated, id, 1)

	const calls = 1000
	ctx := ctxT(t)
	got, errs := make([]int64, calls), make([]error, calls)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			<-start
			got[i], errs[i] = tl.Get(ctx)
		})
	}
	close(start)
	wg.Wait()
	for i := range calls {
		require.NoError(t, errs[i], "call %d", i)
		require.EqualValues(t, 42, got[i], "call %d", i)
	}
	assert.EqualValues(t, 1, tr.News.Load(), "instances made for reactivation")
	assert.EqualValues(t, 1, tr.Restores.Load(), "RestoreState calls")
	ok, failed := ev.count(remoting.EventReactivated, id)
	assert.Equal(t, 1, ok, "Reactivated events")
	assert.Zero(t, failed, "failed Reactivated events")
}

func TestRestartOnSameBoltFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	tr := new(tally.Tracker)
	const after = 100 * time.Millisecond
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()

	// The first server: one tally passivates when idle, the other is live
	// when the server shuts down, which passivates it.
	ev1 := new(events)
	store1, err := bolt.Open(path, bolt.Options{})
	require.NoError(t, err)
	srv1 := newServerOn(t, lis, tr, passivating(tr, after, store1, 0), ev1)
	ctx := ctxT(t)
	c, err := requestor.Dial(ctx, "tcp://"+addr, requestor.Options{RedialBackoff: 10 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	m := maker(t, c, c.Endpoint())
	idle, idleID := newTally(t, m, 100)
	ev1.wait(t, remoting.EventPassivated, idleID, 1)
	busy, busyID := newTally(t, m, 200)
	_, err = busy.Add(ctx, 1)
	require.NoError(t, err)
	require.NoError(t, srv1.Shutdown(ctx), "Shutdown")
	ok, _ := ev1.count(remoting.EventPassivated, busyID)
	assert.Equal(t, 1, ok, "Passivated events of the live tally at shutdown")
	require.NoError(t, store1.Close())

	// The second server on the same file and address brings both back
	// for the same client.
	ev2 := new(events)
	store2 := openBolt(t, path)
	lis2, err := net.Listen("tcp", addr)
	require.NoError(t, err, "listen again on %s", addr)
	srv2 := newServerOn(t, lis2, tr, passivating(tr, after, store2, 0), ev2)
	assert.Equal(t, 3, srv2.Stats().Objects, "objects registered: the maker and two tallies")
	news := tr.News.Load()
	for _, tc := range []struct {
		tl   tally.Tally
		id   remoting.ObjectID
		want int64
	}{{idle, idleID, 100}, {busy, busyID, 201}} {
		var n int64
		require.Eventually(t, func() bool { n, err = tc.tl.Get(ctx); return err == nil }, 5*time.Second, 10*time.Millisecond,
			"Get of %v on the new server: %v", tc.id, err)
		assert.Equal(t, tc.want, n, "Get of %v on the new server", tc.id)
		ok, _ := ev2.count(remoting.EventReactivated, tc.id)
		assert.Equal(t, 1, ok, "Reactivated events of %v", tc.id)
	}
	assert.EqualValues(t, news+2, tr.News.Load(), "instances made for reactivation by the new server")

	// Another client gets nothing of them.
	other := srvDial(t, "tcp://"+addr)
	_, err = tally.NewTallyProxy(other, idle.(*tally.TallyProxy).Ref()).Get(ctx)
	assert.ErrorIs(t, err, remoting.ErrNotFound, "Get by another client")
}

// newServerOn serves on lis a server with a Maker whose Tallies live by
// p; the test closes it.
func newServerOn(t *testing.T, lis net.Listener, tr *tally.Tracker, p lifecycle.Policy, ev *events) *invoker.Server {
	t.Helper()
	srv := invoker.NewServer(invoker.Options{Observers: []remoting.Observer{ev}})
	require.NoError(t, srv.Policy(tally.TallyInvoker(), p), "Policy")
	_, err := srv.Register("maker", tally.MakerInvoker(), lifecycle.Static(tr.Maker()))
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Close()
		<-served
	})
	return srv
}

func srvDial(t *testing.T, endpoint string) *requestor.Client {
	t.Helper()
	c, err := requestor.Dial(ctxT(t), endpoint, requestor.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// failingStore is a store whose Save fails while fail is set.
type failingStore struct {
	passivation.Store
	mu   sync.Mutex
	fail bool
}

var errDisk = errors.New("disk full")

func (s *failingStore) Save(ctx context.Context, id remoting.ObjectID, data []byte, expected uint64) (uint64, error) {
	s.mu.Lock()
	fail := s.fail
	s.mu.Unlock()
	if fail {
		return 0, errDisk
	}
	return s.Store.Save(ctx, id, data, expected)
}

func (s *failingStore) setFail(v bool) {
	s.mu.Lock()
	s.fail = v
	s.mu.Unlock()
}

func TestSaveFailureKeepsInstance(t *testing.T) {
	ev := new(events)
	tr := new(tally.Tracker)
	store := &failingStore{Store: passivation.NewMemoryStore(), fail: true}
	t.Cleanup(func() { store.Close() })
	srv := depServer(t, tr, passivating(tr, 50*time.Millisecond, store, 0), invoker.Options{Observers: []remoting.Observer{ev}})
	c := srv.dial(t)
	tl, id := newTally(t, maker(t, c, c.Endpoint()), 1)
	ctx := ctxT(t)

	// Saves fail, twice: the instance stays and serves with its state.
	require.Eventually(t, func() bool { _, failed := ev.count(remoting.EventPassivated, id); return failed >= 2 },
		5*time.Second, time.Millisecond, "failed Passivated events")
	ev.mu.Lock()
	for _, e := range ev.all {
		if e.Kind == remoting.EventPassivated {
			assert.ErrorIs(t, e.Err, errDisk, "the Err of a failed Passivated event")
		}
	}
	ev.mu.Unlock()
	assert.Zero(t, tr.Deactivated.Load(), "Deactivate calls")
	n, err := tl.Add(ctx, 1)
	require.NoError(t, err, "Add after failed passivations")
	assert.EqualValues(t, 2, n, "the state after failed passivations")
	assert.Zero(t, tr.News.Load(), "instances made for reactivation")

	// SaveState failing is no different.
	tr.FailSaves.Store(true)
	store.setFail(false)
	failed0 := func() int { _, f := ev.count(remoting.EventPassivated, id); return f }()
	require.Eventually(t, func() bool { _, failed := ev.count(remoting.EventPassivated, id); return failed > failed0 },
		5*time.Second, time.Millisecond, "failed Passivated events with SaveState failing")
	n, err = tl.Get(ctx)
	require.NoError(t, err, "Get")
	assert.EqualValues(t, 2, n, "the state")

	// Once the store works, the object passivates.
	tr.FailSaves.Store(false)
	ev.wait(t, remoting.EventPassivated, id, 1)
	n, err = tl.Get(ctx)
	require.NoError(t, err, "Get after the passivation")
	assert.EqualValues(t, 2, n, "the state after the passivation")
}

func TestLeasedPassivatedExpiresAtTTL(t *testing.T) {
	ev := new(events)
	tr := new(tally.Tracker)
	store := passivation.NewMemoryStore()
	t.Cleanup(func() { store.Close() })
	const after, ttl = 50 * time.Millisecond, 2 * time.Second
	srv := depServer(t, tr, passivating(tr, after, store, ttl), invoker.Options{Observers: []remoting.Observer{ev}})
	c := srv.dial(t)
	start := time.Now()
	tl, id := newTally(t, maker(t, unheld{c}, c.Endpoint()), 8)
	ctx := ctxT(t)

	ev.wait(t, remoting.EventPassivated, id, 1)
	assert.Less(t, time.Since(start), ttl/2, "time to passivation")
	_, err := store.Load(ctx, id)
	require.NoError(t, err, "the stored state before the TTL")
	expired, _ := ev.count(remoting.EventLeaseExpired, id)
	assert.Zero(t, expired, "LeaseExpired events before the TTL")

	ev.wait(t, remoting.EventLeaseExpired, id, 1)
	assert.GreaterOrEqual(t, time.Since(start), ttl*3/4, "time to expiry")
	require.Eventually(t, func() bool { _, err := store.Load(ctx, id); return errors.Is(err, passivation.ErrNotFound) },
		5*time.Second, time.Millisecond, "the stored state is deleted at expiry")
	assert.EqualValues(t, 1, tr.Deactivated.Load(), "Deactivate calls: once, at passivation")
	assert.Zero(t, tr.News.Load(), "instances made for reactivation")
	_, err = tl.Get(ctx)
	assert.ErrorIs(t, err, remoting.ErrFailedPrecondition, "Get after the expiry")
	assert.ErrorContains(t, err, "lease expired", "Get after the expiry")
}
