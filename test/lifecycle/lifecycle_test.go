package lifecycle_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/lifecycle/svc"
)

// callMany runs n calls of fn at once, spread over conns clients, and
// returns their results and errors in call order.
func callMany(t *testing.T, srv *server, ref remoting.Ref, conns, n int, fn func(context.Context, *svc.ProbeProxy) (int64, error)) ([]int64, []error) {
	t.Helper()
	proxies := make([]*svc.ProbeProxy, conns)
	for i := range proxies {
		proxies[i] = probe(srv.dial(t), ref)
	}
	ctx := ctxT(t)
	got, errs := make([]int64, n), make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			got[i], errs[i] = fn(ctx, proxies[i%conns])
		})
	}
	close(start)
	wg.Wait()
	return got, errs
}

func who(ctx context.Context, p *svc.ProbeProxy) (int64, error) { return p.Who(ctx) }

func TestLazyThousandFirstCallsActivateOnce(t *testing.T) {
	counts := new(remoting.EventCounts)
	srv := startServer(t, invoker.Options{Observers: []remoting.Observer{counts}})
	tr := &svc.Tracker{Delay: 50 * time.Millisecond}
	ref := srv.register(t, "lazy", lifecycle.Lazy(tr.New))
	assert.Zero(t, tr.News.Load(), "constructor calls before the first call")

	got, errs := callMany(t, srv, ref, 4, 1000, who)
	for i := range got {
		require.NoError(t, errs[i], "call %d", i)
		require.EqualValues(t, 1, got[i], "instance that served call %d", i)
	}
	assert.EqualValues(t, 1, tr.News.Load(), "constructor calls")
	assert.EqualValues(t, 1, tr.Activated.Load(), "Activate calls")
	assert.EqualValues(t, 1000, tr.Calls.Load(), "calls served")
	assert.EqualValues(t, 1, counts.Get(svc.ProbeInterface, remoting.EventActivated), "Activated events")

	require.NoError(t, srv.Shutdown(ctxT(t)))
	assert.EqualValues(t, 1, tr.Deactivated.Load(), "Deactivate calls after Shutdown")
	assert.EqualValues(t, 1, counts.Get(svc.ProbeInterface, remoting.EventDeactivated), "Deactivated events")
}

func TestLazyFailedConstructorRetries(t *testing.T) {
	counts := new(remoting.EventCounts)
	srv := startServer(t, invoker.Options{Observers: []remoting.Observer{counts}})
	tr := &svc.Tracker{Delay: 50 * time.Millisecond}
	tr.FailNext.Store(1)
	ref := srv.register(t, "lazy", lifecycle.Lazy(tr.New))

	_, errs := callMany(t, srv, ref, 2, 100, who)
	for i, err := range errs {
		require.Error(t, err, "call %d during the failing attempt", i)
		assert.ErrorIs(t, err, remoting.ErrApplication, "call %d", i)
		assert.ErrorContains(t, err, svc.ErrNew.Error(), "call %d", i)
	}
	assert.EqualValues(t, 1, tr.News.Load(), "constructor calls: the waiting calls shared one attempt")

	p := probe(srv.dial(t), ref)
	n, err := p.Who(ctxT(t))
	require.NoError(t, err, "the call after the failure tries again")
	assert.EqualValues(t, 1, n)
	assert.EqualValues(t, 2, tr.News.Load(), "constructor calls")
	assert.EqualValues(t, 1, counts.Failed(svc.ProbeInterface, remoting.EventActivated), "failed Activated events")
	assert.EqualValues(t, 1, counts.Get(svc.ProbeInterface, remoting.EventActivated), "Activated events")
}

func TestPooledBoundedUnderLoad(t *testing.T) {
	counts := new(remoting.EventCounts)
	srv := startServer(t, invoker.Options{Observers: []remoting.Observer{counts}})
	tr := &svc.Tracker{}
	ref := srv.register(t, "pooled", lifecycle.Pooled(tr.New, lifecycle.PoolOptions{Max: 4}))

	const callers, each = 64, 8
	_, errs := callMany(t, srv, ref, 4, callers, func(ctx context.Context, p *svc.ProbeProxy) (int64, error) {
		for range each {
			if _, err := p.Hold(ctx, 500*time.Microsecond); err != nil {
				return 0, err
			}
		}
		return 0, nil
	})
	for i, err := range errs {
		require.NoError(t, err, "caller %d", i)
	}
	const calls = callers * each
	assert.EqualValues(t, calls, tr.Calls.Load(), "calls served")
	assert.LessOrEqual(t, tr.Peak.Load(), int64(4), "instances live at once")
	assert.LessOrEqual(t, tr.Created.Load(), int64(4), "instances created")
	assert.Zero(t, tr.Overlaps.Load(), "calls that shared an instance")
	assert.Positive(t, tr.Reused.Load(), "calls served by a reused instance")
	assert.Zero(t, tr.Unreset.Load(), "calls served by an instance that was not Reset after its last call")
	require.Eventually(t, func() bool { return tr.Resets.Load() == calls }, 5*time.Second, time.Millisecond,
		"Reset calls: one per returned instance")
	assert.EqualValues(t, calls, counts.Get(svc.ProbeInterface, remoting.EventPoolBorrow), "PoolBorrow events")
	assert.EqualValues(t, calls, counts.Get(svc.ProbeInterface, remoting.EventPoolReturn), "PoolReturn events")

	require.NoError(t, srv.Shutdown(ctxT(t)))
	assert.Zero(t, tr.Live.Load(), "instances live after Shutdown")
	assert.Equal(t, tr.Activated.Load(), tr.Deactivated.Load(), "Deactivate calls after Shutdown")
}

func TestPooledExhaustedAtDeadline(t *testing.T) {
	counts := new(remoting.EventCounts)
	srv := startServer(t, invoker.Options{Observers: []remoting.Observer{counts}})
	tr := &svc.Tracker{}
	const margin = 25 * time.Millisecond
	ref := srv.register(t, "pooled", lifecycle.Pooled(tr.New, lifecycle.PoolOptions{Max: 4, DeadlineMargin: margin}))
	p := probe(srv.dial(t), ref)

	// Four calls hold every instance until they are canceled.
	holdCtx, stopHolding := context.WithCancel(ctxT(t))
	var holders sync.WaitGroup
	for range 4 {
		holders.Go(func() { p.Hold(holdCtx, time.Minute) })
	}
	require.Eventually(t, func() bool { return tr.Live.Load() == 4 && tr.Calls.Load() == 4 }, 5*time.Second, time.Millisecond,
		"four holders served")

	const deadline = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(ctxT(t), deadline)
	defer cancel()
	start := time.Now()
	_, err := p.Who(ctx)
	took := time.Since(start)
	assert.ErrorIs(t, err, remoting.ErrResourceExhausted, "call on an exhausted pool")
	assert.Equal(t, remoting.CodeResourceExhausted, remoting.CodeOf(err))
	assert.Less(t, took, deadline, "the reply arrives before the caller's deadline")
	assert.Greater(t, took, deadline-2*margin, "the call waits until near its deadline")
	assert.EqualValues(t, 1, counts.Get(svc.ProbeInterface, remoting.EventPoolExhausted), "PoolExhausted events")

	stopHolding()
	holders.Wait()
	n, err := p.Who(ctxT(t))
	require.NoError(t, err, "a call after the holders returned")
	assert.Positive(t, n)
	assert.EqualValues(t, 4, tr.Created.Load(), "instances created")
	assert.LessOrEqual(t, tr.Peak.Load(), int64(4), "instances live at once")

	require.NoError(t, srv.Shutdown(ctxT(t)))
	assert.Zero(t, tr.Live.Load(), "instances live after Shutdown")
}

func TestPerRequestFreshInstances(t *testing.T) {
	counts := new(remoting.EventCounts)
	srv := startServer(t, invoker.Options{Observers: []remoting.Observer{counts}})
	tr := &svc.Tracker{}
	ref := srv.register(t, "perrequest", lifecycle.PerRequest(tr.New))
	p := probe(srv.dial(t), ref)

	seen := map[int64]bool{}
	for i := range 10 {
		n, err := p.Who(ctxT(t))
		require.NoError(t, err, "call %d", i)
		assert.False(t, seen[n], "call %d got instance %d, which served before", i, n)
		seen[n] = true
		require.Eventually(t, func() bool { return tr.Deactivated.Load() == int64(i+1) }, 5*time.Second, time.Millisecond,
			"Deactivate calls after call %d", i)
	}

	got, errs := callMany(t, srv, ref, 2, 64, who)
	for i := range got {
		require.NoError(t, errs[i], "concurrent call %d", i)
		assert.False(t, seen[got[i]], "concurrent call %d got instance %d, which served before", i, got[i])
		seen[got[i]] = true
	}
	const calls = 10 + 64
	require.Eventually(t, func() bool { return tr.Deactivated.Load() == calls }, 5*time.Second, time.Millisecond,
		"every instance deactivated")
	assert.EqualValues(t, calls, tr.Activated.Load(), "Activate calls")
	assert.Zero(t, tr.Live.Load(), "instances live")
	assert.Zero(t, tr.Overlaps.Load(), "calls that shared an instance")
	assert.Zero(t, tr.Reused.Load(), "calls served by a reused instance")
	assert.EqualValues(t, calls, counts.Get(svc.ProbeInterface, remoting.EventActivated), "Activated events")
	assert.EqualValues(t, calls, counts.Get(svc.ProbeInterface, remoting.EventDeactivated), "Deactivated events")
}

// recorder keeps the events of each registered name.
type recorder struct {
	mu     sync.Mutex
	byName map[string][]remoting.EventKind
}

func (r *recorder) Observe(e remoting.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byName == nil {
		r.byName = map[string][]remoting.EventKind{}
	}
	r.byName[e.Name] = append(r.byName[e.Name], e.Kind)
}

func (r *recorder) tally(name string) map[remoting.EventKind]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[remoting.EventKind]int{}
	for _, k := range r.byName[name] {
		out[k]++
	}
	return out
}

// Every observer sees the events of every strategy, and Counts tallies
// them per interface.
func TestEventsObservedAndCounted(t *testing.T) {
	rec, counts := new(recorder), new(remoting.EventCounts)
	srv := startServer(t, invoker.Options{Observers: []remoting.Observer{rec, counts}})
	trs := map[string]*svc.Tracker{"static": {}, "lazy": {}, "perrequest": {}, "pooled": {}}
	static, err := trs["static"].New(context.Background())
	require.NoError(t, err)
	refs := map[string]remoting.Ref{
		"static":     srv.register(t, "static", lifecycle.Static(static)),
		"lazy":       srv.register(t, "lazy", lifecycle.Lazy(trs["lazy"].New)),
		"perrequest": srv.register(t, "perrequest", lifecycle.PerRequest(trs["perrequest"].New)),
		"pooled":     srv.register(t, "pooled", lifecycle.Pooled(trs["pooled"].New, lifecycle.PoolOptions{Max: 2})),
	}
	c := srv.dial(t)
	const calls = 3
	for name, ref := range refs {
		p := probe(c, ref)
		for range calls {
			_, err := p.Echo(ctxT(t), 7)
			require.NoError(t, err, "%s.Echo", name)
		}
	}
	require.NoError(t, srv.Shutdown(ctxT(t)))

	A, D, B, R := remoting.EventActivated, remoting.EventDeactivated, remoting.EventPoolBorrow, remoting.EventPoolReturn
	want := map[string]map[remoting.EventKind]int{
		"static":     {A: 1, D: 1},
		"lazy":       {A: 1, D: 1},
		"perrequest": {A: calls, D: calls},
		"pooled":     {A: 1, D: 1, B: calls, R: calls},
	}
	for name, w := range want {
		assert.Equal(t, w, rec.tally(name), "events of %s", name)
	}
	assert.Equal(t, []remoting.EventCount{
		{Interface: svc.ProbeInterface, Kind: A, N: 1 + 1 + calls + 1},
		{Interface: svc.ProbeInterface, Kind: D, N: 1 + 1 + calls + 1},
		{Interface: svc.ProbeInterface, Kind: B, N: calls},
		{Interface: svc.ProbeInterface, Kind: R, N: calls},
	}, counts.Snapshot(), "Counts")
}

// A strategy whose instance does not implement the interface is refused
// at registration.
func TestRegisterRefusesWrongType(t *testing.T) {
	srv := startServer(t, invoker.Options{})
	newWrong := func(context.Context) (*requestor.Client, error) { return nil, nil }
	for name, st := range map[string]lifecycle.Strategy{
		"lazy":       lifecycle.Lazy(newWrong),
		"perrequest": lifecycle.PerRequest(newWrong),
		"pooled":     lifecycle.Pooled(newWrong, lifecycle.PoolOptions{}),
	} {
		_, err := srv.Register(name, svc.ProbeInvoker(), st)
		assert.ErrorIs(t, err, remoting.ErrInvalidArgument, "Register(%q)", name)
	}
}
