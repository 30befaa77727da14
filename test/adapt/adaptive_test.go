package adapt_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/pool"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/adapt/svc"
)

// TestAdaptivePoolOverLoopback steers a Pooled strategy with an adaptive
// controller fed by the server's lifecycle events, under a step of load
// from remote clients: the size rises within a bounded number of control
// periods, falls back once the load drops, and stays within [Min, Max].
func TestAdaptivePoolOverLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("drives load for about two seconds")
	}
	const (
		period   = 40 * time.Millisecond
		lo, hi   = 1, 12
		callers  = 12
		hold     = 5 * time.Millisecond
		riseBy   = 12 // control periods
		fallBy   = 30
		settleAt = 9 // "risen" once the size reaches this
	)
	var ctl atomic.Pointer[pool.Adaptive]
	waits := remoting.ObserverFunc(func(e remoting.Event) {
		if e.Interface != svc.WorkerInterface || (e.Kind != remoting.EventPoolBorrow && e.Kind != remoting.EventPoolExhausted) {
			return
		}
		if a := ctl.Load(); a != nil {
			a.ObserveWait(e.Wait)
		}
	})
	srv := startServer(t, invoker.Options{Observers: []remoting.Observer{waits}})
	workers := lifecycle.Pooled(srv.serials.NewWorker, lifecycle.PoolOptions{Max: 1, IdleTimeout: -1})
	srv.register(t, "worker", svc.WorkerInvoker(), workers)

	var mu sync.Mutex
	var sizes []int
	a, err := pool.NewAdaptive(workers, pool.AdaptiveOptions{
		Min: lo, Max: hi, TargetWait: time.Millisecond, Period: period, ShrinkAfter: 2,
		OnDecision: func(d pool.Decision) {
			mu.Lock()
			defer mu.Unlock()
			if assert.NoError(t, d.Err) {
				sizes = append(sizes, d.To)
			}
		},
	})
	require.NoError(t, err)
	ctl.Store(a)
	t.Cleanup(func() { a.Close() })
	got := func() []int {
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), sizes...)
	}

	c := dial(t, srv.endpoint, requestor.Options{})
	w := worker(t, c, "worker")
	load := func(n int) (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					if _, err := w.Work(ctxT(t), hold); err != nil {
						assert.NoError(t, err, "Work")
						return
					}
				}
			}()
		}
		return func() { cancel(); wg.Wait() }
	}
	periodsUntil := func(limit int, cond func(size int) bool) (int, bool) {
		start := a.Stats().Periods
		for {
			n := int(a.Stats().Periods - start)
			if cond(a.Size()) {
				return n, true
			}
			if n > limit {
				return n, false
			}
			time.Sleep(period / 4)
		}
	}

	stop := load(callers)
	n, ok := periodsUntil(riseBy, func(size int) bool { return size >= settleAt })
	stop()
	require.True(t, ok, "under %d callers the size reached %d after %d periods; decisions %v", callers, a.Size(), n, got())
	t.Logf("rose to %d in %d periods", a.Size(), n)
	assert.GreaterOrEqual(t, workers.Stats().Max, settleAt, "the strategy's pool follows")

	stop = load(1)
	n, ok = periodsUntil(fallBy, func(size int) bool { return size <= 3 })
	stop()
	require.True(t, ok, "under 1 caller the size is still %d after %d periods; decisions %v", a.Size(), n, got())
	t.Logf("fell to %d in %d periods; sizes %v", a.Size(), n, got())

	require.NoError(t, a.Close())
	for _, s := range got() {
		assert.True(t, s >= lo && s <= hi, "size %d outside [%d, %d]", s, lo, hi)
	}
	assert.Equal(t, a.Size(), workers.Stats().Max)
}
