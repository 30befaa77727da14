package lease_test

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/lease"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// ending is one call of OnEnd.
type ending struct {
	id     remoting.ObjectID
	reason lease.Reason
}

// recorder records the calls of OnEnd.
type recorder struct {
	mu   sync.Mutex
	ends []ending
}

func (r *recorder) onEnd(id remoting.ObjectID, reason lease.Reason) {
	r.mu.Lock()
	r.ends = append(r.ends, ending{id, reason})
	r.mu.Unlock()
}

func (r *recorder) get() []ending {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ends)
}

func (r *recorder) waitLen(t *testing.T, n int) []ending {
	t.Helper()
	require.Eventually(t, func() bool { return len(r.get()) >= n }, 5*time.Second, time.Millisecond, "%d leases to end", n)
	return r.get()
}

func newManager(t *testing.T, opts lease.Options) *lease.Manager {
	t.Helper()
	m := lease.NewManager(opts)
	t.Cleanup(func() { m.Close() })
	return m
}

// fakeManager returns a manager on a fake clock.
func fakeManager(t *testing.T, ttl time.Duration) (*lease.Manager, *fakeClock, *recorder) {
	t.Helper()
	clock := newFakeClock()
	var rec recorder
	m := newManager(t, lease.Options{TTL: ttl, Now: clock.Now, OnEnd: rec.onEnd})
	return m, clock, &rec
}

func TestRenewExtends(t *testing.T) {
	var rec recorder
	m := newManager(t, lease.Options{OnEnd: rec.onEnd})
	id := remoting.NewObjectID()
	const ttl = 80 * time.Millisecond
	first, err := m.Grant(id, "", ttl)
	require.NoError(t, err, "Grant")

	// Renewing every half TTL keeps the lease alive well past its first
	// deadline.
	for range 4 {
		time.Sleep(ttl / 2)
		_, err := m.Renew(id)
		require.NoError(t, err, "Renew")
	}
	assert.True(t, time.Now().After(first), "the test outlived the first deadline")
	exp, err := m.Expiry(id)
	require.NoError(t, err, "Expiry")
	assert.True(t, exp.After(first), "Expiry() = %v, not after the first deadline %v", exp, first)
	assert.Empty(t, rec.get(), "OnEnd of a renewed lease")
	assert.Equal(t, 1, m.Len(), "Len()")
}

func TestIdleExpiresOnce(t *testing.T) {
	var rec recorder
	m := newManager(t, lease.Options{OnEnd: rec.onEnd})
	id := remoting.NewObjectID()
	const ttl = 20 * time.Millisecond
	start := time.Now()
	_, err := m.Grant(id, "", ttl)
	require.NoError(t, err, "Grant")

	ends := rec.waitLen(t, 1)
	assert.GreaterOrEqual(t, time.Since(start), ttl, "the lease ended before its deadline")
	assert.Equal(t, []ending{{id, lease.ReasonExpired}}, ends, "OnEnd calls")
	assert.Zero(t, m.Len(), "Len() after expiry")

	time.Sleep(3 * ttl) // past the time the ended lease is remembered
	assert.Len(t, rec.get(), 1, "OnEnd calls, later")
}

func TestRenewAfterExpiry(t *testing.T) {
	m, clock, rec := fakeManager(t, time.Second)
	id := remoting.NewObjectID()
	_, err := m.Grant(id, "", 0)
	require.NoError(t, err, "Grant")

	clock.Advance(time.Second)
	for name, call := range map[string]func() error{
		"Renew":  func() error { _, err := m.Renew(id); return err },
		"Expiry": func() error { _, err := m.Expiry(id); return err },
	} {
		err := call()
		assert.ErrorIs(t, err, lease.ErrExpired, "%s at the deadline, before the sweep", name)
		assert.ErrorIs(t, err, remoting.ErrFailedPrecondition, "%s at the deadline, before the sweep", name)
		assert.Equal(t, remoting.CodeFailedPrecondition, remoting.CodeOf(err), "CodeOf(%s)", name)
	}

	m.Sweep()
	rec.waitLen(t, 1)
	_, err = m.Renew(id)
	assert.ErrorIs(t, err, lease.ErrExpired, "Renew after the sweep")
	assert.ErrorIs(t, m.Release(id), lease.ErrExpired, "Release after the sweep")
	assert.Contains(t, err.Error(), "lease expired", "Renew error")

	// An ended lease is remembered for a TTL, then forgotten.
	clock.Advance(time.Second)
	m.Sweep()
	require.Eventually(t, func() bool {
		_, err = m.Renew(id)
		return errors.Is(err, lease.ErrNotFound)
	}, time.Second, time.Millisecond, "forget the ended lease")
	assert.ErrorIs(t, err, remoting.ErrNotFound, "Renew of a forgotten lease")
	assert.Len(t, rec.get(), 1, "OnEnd calls")

	// The id can have a lease again.
	_, err = m.Grant(id, "", 0)
	assert.NoError(t, err, "Grant after expiry")
}

func TestRelease(t *testing.T) {
	var rec recorder
	var released atomic.Bool
	m := newManager(t, lease.Options{OnEnd: func(id remoting.ObjectID, reason lease.Reason) {
		rec.onEnd(id, reason)
		released.Store(true)
	}})
	id := remoting.NewObjectID()
	const ttl = 20 * time.Millisecond
	_, err := m.Grant(id, "", ttl)
	require.NoError(t, err, "Grant")

	require.NoError(t, m.Release(id), "Release")
	assert.True(t, released.Load(), "OnEnd ran before Release returned")
	assert.Zero(t, m.Len(), "Len() after Release")
	_, err = m.Renew(id)
	assert.ErrorIs(t, err, lease.ErrNotFound, "Renew after Release")
	assert.ErrorIs(t, m.Release(id), lease.ErrNotFound, "second Release")
	assert.ErrorIs(t, m.Release(remoting.NewObjectID()), remoting.ErrNotFound, "Release of an unknown id")

	time.Sleep(3 * ttl)
	assert.Equal(t, []ending{{id, lease.ReasonReleased}}, rec.get(), "OnEnd calls")
}

func TestOwnerGone(t *testing.T) {
	const ttl, grace = 10 * time.Second, 2 * time.Second
	tests := []struct {
		name   string
		grace  time.Duration
		before func(t *testing.T, m *lease.Manager, a, b remoting.ObjectID) // runs after OwnerGone
		want   map[int]lease.Reason                                         // which of a (0) and b (1) end, and why
		adopt  int                                                          // what Adopt returns after the grace period
	}{
		{
			name: "grace runs out",
			want: map[int]lease.Reason{0: lease.ReasonOwnerGone, 1: lease.ReasonOwnerGone},
		},
		{
			name: "owner adopts",
			before: func(t *testing.T, m *lease.Manager, a, b remoting.ObjectID) {
				assert.Equal(t, 2, m.Adopt("conn-1"), "Adopt")
			},
			want: map[int]lease.Reason{},
		},
		{
			name: "a renewal keeps one lease",
			before: func(t *testing.T, m *lease.Manager, a, b remoting.ObjectID) {
				_, err := m.Renew(a)
				assert.NoError(t, err, "Renew")
			},
			want: map[int]lease.Reason{1: lease.ReasonOwnerGone},
		},
		{
			name:  "grace longer than what was left",
			grace: 3 * ttl,
			want:  map[int]lease.Reason{},
			adopt: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, clock, rec := fakeManager(t, ttl)
			a, b, other := remoting.NewObjectID(), remoting.NewObjectID(), remoting.NewObjectID()
			for _, id := range []remoting.ObjectID{a, b} {
				_, err := m.Grant(id, "conn-1", 0)
				require.NoError(t, err, "Grant")
			}
			_, err := m.Grant(other, "conn-2", 0)
			require.NoError(t, err, "Grant")

			g := cmp.Or(tc.grace, grace)
			assert.Equal(t, 2, m.OwnerGone("conn-1", g), "OwnerGone")
			if tc.before != nil {
				tc.before(t, m, a, b)
			}
			clock.Advance(grace)
			m.Sweep()
			if len(tc.want) > 0 {
				rec.waitLen(t, len(tc.want))
			} else {
				time.Sleep(10 * time.Millisecond) // a sweep that should end nothing
			}
			got := map[int]lease.Reason{}
			for _, e := range rec.get() {
				switch e.id {
				case a:
					got[0] = e.reason
				case b:
					got[1] = e.reason
				default:
					t.Errorf("lease of another owner ended: %v", e)
				}
			}
			assert.Equal(t, tc.want, got, "leases ended after the grace period")
			assert.Equal(t, 3-len(tc.want), m.Len(), "Len()")
			assert.Equal(t, tc.adopt, m.Adopt("conn-1"), "Adopt after the grace period")
		})
	}
}

func TestDeadlineOrder(t *testing.T) {
	const n = 10_000
	m, clock, rec := fakeManager(t, time.Minute)
	rng := rand.New(rand.NewPCG(1, 2))
	deadlines := make(map[remoting.ObjectID]time.Time, n)
	ids := make([]remoting.ObjectID, n)
	for i := range ids {
		ids[i] = remoting.NewObjectID()
		exp, err := m.Grant(ids[i], "", time.Duration(1+rng.IntN(10_000))*time.Millisecond)
		require.NoError(t, err, "Grant")
		deadlines[ids[i]] = exp
	}
	// Renew a third of them halfway, so that the sweeper has to move
	// leases whose first deadline passed.
	clock.Advance(500 * time.Millisecond)
	m.Sweep()
	for _, id := range ids[:n/3] {
		if exp, err := m.Renew(id); err == nil {
			deadlines[id] = exp
		}
	}
	clock.Advance(time.Minute)
	m.Sweep()
	ends := rec.waitLen(t, n)

	require.Len(t, ends, n, "OnEnd calls")
	seen := make(map[remoting.ObjectID]bool, n)
	for i, e := range ends {
		assert.False(t, seen[e.id], "OnEnd called twice for %v", e.id)
		seen[e.id] = true
		assert.Equal(t, lease.ReasonExpired, e.reason, "reason")
		if i > 0 && deadlines[e.id].Before(deadlines[ends[i-1].id]) {
			t.Fatalf("lease %d (deadline %v) ended after one with the later deadline %v", i, deadlines[e.id], deadlines[ends[i-1].id])
		}
	}
	assert.Zero(t, m.Len(), "Len()")
}

func TestRealTimeOrder(t *testing.T) {
	var rec recorder
	m := newManager(t, lease.Options{OnEnd: rec.onEnd})
	const n = 200
	ttl := func(i int) time.Duration { return time.Duration(5+(i*7919)%n) * time.Millisecond / 4 }
	ids := make([]remoting.ObjectID, n)
	deadlines := make(map[remoting.ObjectID]time.Time)
	for i := range ids {
		ids[i] = remoting.NewObjectID()
		exp, err := m.Grant(ids[i], "", ttl(i))
		require.NoError(t, err, "Grant")
		deadlines[ids[i]] = exp
	}
	ends := rec.waitLen(t, n)
	for i := 1; i < len(ends); i++ {
		assert.False(t, deadlines[ends[i].id].Before(deadlines[ends[i-1].id]), "lease %d ended out of deadline order", i)
	}
}

func TestGrant(t *testing.T) {
	m, clock, _ := fakeManager(t, 7*time.Second)
	id := remoting.NewObjectID()
	exp, err := m.Grant(id, "", 0)
	require.NoError(t, err, "Grant")
	assert.Equal(t, clock.Now().Add(7*time.Second), exp, "Grant with ttl 0 uses Options.TTL")
	got, err := m.Expiry(id)
	require.NoError(t, err, "Expiry")
	assert.Equal(t, exp, got, "Expiry")

	_, err = m.Grant(id, "", time.Second)
	assert.ErrorIs(t, err, lease.ErrExists, "Grant of a leased id")
	assert.ErrorIs(t, err, remoting.ErrFailedPrecondition, "Grant of a leased id")
	assert.NotErrorIs(t, err, lease.ErrExpired, "Grant of a leased id")
	_, err = m.Grant(remoting.NewObjectID(), "", -time.Second)
	assert.ErrorIs(t, err, remoting.ErrInvalidArgument, "Grant with a negative ttl")

	clock.Advance(3 * time.Second)
	exp, err = m.Renew(id)
	require.NoError(t, err, "Renew")
	assert.Equal(t, clock.Now().Add(7*time.Second), exp, "Renew extends by the lease's TTL from now")

	_, err = m.Renew(remoting.NewObjectID())
	assert.ErrorIs(t, err, lease.ErrNotFound, "Renew of an unknown id")
}

func TestClose(t *testing.T) {
	var rec recorder
	m := lease.NewManager(lease.Options{OnEnd: rec.onEnd})
	id := remoting.NewObjectID()
	_, err := m.Grant(id, "", 10*time.Millisecond)
	require.NoError(t, err, "Grant")
	require.NoError(t, m.Close(), "Close")
	require.NoError(t, m.Close(), "second Close")

	_, err = m.Grant(remoting.NewObjectID(), "", 0)
	assert.ErrorIs(t, err, lease.ErrClosed, "Grant after Close")
	_, err = m.Renew(id)
	assert.ErrorIs(t, err, lease.ErrClosed, "Renew after Close")
	assert.ErrorIs(t, m.Release(id), lease.ErrClosed, "Release after Close")
	assert.ErrorIs(t, m.Release(id), remoting.ErrUnavailable, "Release after Close")
	time.Sleep(30 * time.Millisecond)
	assert.Empty(t, rec.get(), "OnEnd after Close")
}

func TestObserve(t *testing.T) {
	var mu sync.Mutex
	var events []lease.Event
	clock := newFakeClock()
	var rec recorder
	m := newManager(t, lease.Options{TTL: time.Second, Now: clock.Now, OnEnd: rec.onEnd, Observe: func(e lease.Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}})
	a, b := remoting.NewObjectID(), remoting.NewObjectID()
	_, err := m.Grant(a, "c", 0)
	require.NoError(t, err, "Grant")
	_, err = m.Grant(b, "c", 0)
	require.NoError(t, err, "Grant")
	_, err = m.Renew(a)
	require.NoError(t, err, "Renew")
	require.NoError(t, m.Release(a), "Release")
	clock.Advance(time.Second)
	m.Sweep()
	rec.waitLen(t, 2)

	mu.Lock()
	defer mu.Unlock()
	var kinds []string
	for _, e := range events {
		kinds = append(kinds, fmt.Sprintf("%v %v %s", e.Kind, e.Reason, e.Owner))
	}
	assert.Equal(t, []string{
		"Granted Reason(0) c",
		"Granted Reason(0) c",
		"Renewed Reason(0) c",
		"Released Released c",
		"Expired Expired c",
	}, kinds, "events")
	assert.Equal(t, "OwnerGone", lease.ReasonOwnerGone.String(), "ReasonOwnerGone.String()")
	assert.Equal(t, "EventKind(9)", lease.EventKind(9).String(), "EventKind(9).String()")
}

// TestConcurrent grants, renews and releases overlapping ids from many
// goroutines while short leases expire, and checks that every lease
// granted ended exactly once.
func TestConcurrent(t *testing.T) {
	var ended sync.Map
	var ends, grants atomic.Int64
	m := newManager(t, lease.Options{OnEnd: func(id remoting.ObjectID, reason lease.Reason) {
		ends.Add(1)
		ended.Store(id, reason)
	}})
	ids := make([]remoting.ObjectID, 64)
	for i := range ids {
		ids[i] = remoting.NewObjectID()
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range 2000 {
				id := ids[rng.IntN(len(ids))]
				switch rng.IntN(4) {
				case 0:
					if _, err := m.Grant(id, fmt.Sprint("owner-", w%3), time.Duration(1+rng.IntN(5))*time.Millisecond); err == nil {
						grants.Add(1)
					}
				case 1:
					m.Renew(id)
				case 2:
					m.Release(id)
				case 3:
					if rng.IntN(50) == 0 {
						m.OwnerGone(fmt.Sprint("owner-", rng.IntN(3)), time.Millisecond)
					} else {
						m.Expiry(id)
						m.Len()
					}
				}
			}
		})
	}
	wg.Wait()
	require.Eventually(t, func() bool { return m.Len() == 0 }, 5*time.Second, time.Millisecond, "every lease to end")
	require.Eventually(t, func() bool { return ends.Load() == grants.Load() }, 5*time.Second, time.Millisecond, "OnEnd calls")
	assert.Equal(t, grants.Load(), ends.Load(), "OnEnd calls for %d grants", grants.Load())
}

func Example() {
	ended := make(chan string, 1)
	m := lease.NewManager(lease.Options{
		TTL: 20 * time.Millisecond,
		OnEnd: func(id remoting.ObjectID, reason lease.Reason) {
			ended <- reason.String()
		},
	})
	defer m.Close()

	id := remoting.NewObjectID()
	if _, err := m.Grant(id, "conn-1", 0); err != nil {
		panic(err)
	}
	_, err := m.Renew(id) // a client's call renews its object's lease
	fmt.Println("renewed:", err == nil)

	m.OwnerGone("conn-1", 5*time.Millisecond) // the client's connection broke
	fmt.Println("ended:", <-ended)
	_, err = m.Renew(id)
	fmt.Println("expired:", errors.Is(err, lease.ErrExpired))
	// Output:
	// renewed: true
	// ended: OwnerGone
	// expired: true
}

// BenchmarkManager100kLeases grants 100,000 leases and reports the memory
// they take, in bytes per lease.
func BenchmarkManager100kLeases(b *testing.B) {
	const n = 100_000
	ids := make([]remoting.ObjectID, n)
	for i := range ids {
		ids[i] = remoting.NewObjectID()
	}
	var perLease float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		m := lease.NewManager(lease.Options{TTL: time.Hour})
		for i, id := range ids {
			if _, err := m.Grant(id, fmt.Sprint("conn-", i%100), 0); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perLease = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(m)
		m.Close()
	}
	b.ReportMetric(perLease, "bytes/lease")
}

// BenchmarkRenew renews leases among 100,000 from parallel goroutines.
func BenchmarkRenew(b *testing.B) {
	const n = 100_000
	m := lease.NewManager(lease.Options{TTL: time.Hour})
	defer m.Close()
	ids := make([]remoting.ObjectID, n)
	for i := range ids {
		ids[i] = remoting.NewObjectID()
		if _, err := m.Grant(ids[i], "", 0); err != nil {
			b.Fatal(err)
		}
	}
	var seed atomic.Uint64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(seed.Add(1), 0))
		for pb.Next() {
			if _, err := m.Renew(ids[rng.IntN(n)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// A Forever lease survives any time without renewal, ends by its owner's
// grace period when the owner goes away, and is kept by Adopt.
func TestForever(t *testing.T) {
	m, clock, rec := fakeManager(t, time.Second)
	kept, gone := remoting.NewObjectID(), remoting.NewObjectID()
	_, err := m.Grant(kept, "conn-1", lease.Forever)
	require.NoError(t, err, "Grant(kept, Forever)")
	_, err = m.Grant(gone, "conn-2", lease.Forever)
	require.NoError(t, err, "Grant(gone, Forever)")

	clock.Advance(1000 * time.Hour)
	m.Sweep()
	_, err = m.Renew(kept)
	require.NoError(t, err, "Renew(kept) after 1000 hours")

	assert.Equal(t, 1, m.OwnerGone("conn-1", time.Second), "OwnerGone(conn-1)")
	assert.Equal(t, 1, m.OwnerGone("conn-2", time.Second), "OwnerGone(conn-2)")
	assert.Equal(t, 1, m.Adopt("conn-1"), "Adopt(conn-1)")
	clock.Advance(2 * time.Second)
	m.Sweep()
	assert.Equal(t, []ending{{gone, lease.ReasonOwnerGone}}, rec.waitLen(t, 1), "OnEnd")
	exp, err := m.Expiry(kept)
	require.NoError(t, err, "Expiry(kept)")
	assert.Greater(t, exp.Sub(clock.Now()), 100*365*24*time.Hour, "Expiry(kept) after Adopt")
	assert.Equal(t, 1, m.Len(), "Len()")

	// The ended lease is forgotten after the default time to live.
	assert.ErrorIs(t, m.Release(gone), lease.ErrExpired, "Release(gone) at once")
	clock.Advance(2 * time.Second)
	m.Sweep()
	require.Eventually(t, func() bool { return errors.Is(m.Release(gone), lease.ErrNotFound) }, 5*time.Second, time.Millisecond,
		"Release(gone) once forgotten")
}

// Orphan puts one lease on grace, which Adopt or a renewal takes back.
func TestOrphan(t *testing.T) {
	m, clock, rec := fakeManager(t, time.Minute)
	kept, gone := remoting.NewObjectID(), remoting.NewObjectID()
	for _, id := range []remoting.ObjectID{kept, gone} {
		_, err := m.Grant(id, "conn-1", lease.Forever)
		require.NoError(t, err, "Grant")
		require.NoError(t, m.Orphan(id, time.Second), "Orphan")
	}
	_, err := m.Renew(kept)
	require.NoError(t, err, "Renew(kept)")
	clock.Advance(2 * time.Second)
	m.Sweep()
	assert.Equal(t, []ending{{gone, lease.ReasonOwnerGone}}, rec.waitLen(t, 1), "OnEnd")
	assert.ErrorIs(t, m.Orphan(remoting.NewObjectID(), time.Second), lease.ErrNotFound, "Orphan of an unknown id")
	assert.Zero(t, m.Adopt("conn-1"), "Adopt: the renewed lease was not on grace")
}
