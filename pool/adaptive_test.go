package pool

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
)

// controller returns an Adaptive whose loop does not run, to drive decide
// by hand.
func controller(t *testing.T, size int, opts AdaptiveOptions) *Adaptive {
	t.Helper()
	opts, err := opts.withDefaults(size)
	require.NoError(t, err)
	return &Adaptive{opts: opts, size: size}
}

func TestAdaptiveDecide(t *testing.T) {
	ms := time.Millisecond
	opts := AdaptiveOptions{Min: 2, Max: 20, TargetWait: 10 * ms, ShrinkAfter: 2, Cooldown: 1}
	type step struct {
		s    Sample
		want int // the size after the step
	}
	busy := func(waiters, inUse float64, wait time.Duration) Sample {
		return Sample{Wait: wait, Waiters: waiters, InUse: inUse}
	}
	for _, tc := range []struct {
		name  string
		size  int
		steps []step
	}{
		{"inside the dead band: hold", 4, []step{
			{busy(0, 3, 14*ms), 4}, {busy(0, 1, 6*ms), 4}, {busy(0, 1, 6*ms), 4},
		}},
		{"grow to the demand, then cool down", 4, []step{
			{busy(2, 4, 20*ms), 6},    // demand 6
			{busy(9, 6, 50*ms), 6},    // cooldown
			{busy(9, 6, 50*ms), 12},   // demand 15, at most doubled
			{busy(0, 9, 1*ms), 12},    // cooldown
			{busy(30, 12, 90*ms), 20}, // capped at Max
			{busy(30, 20, 90*ms), 20},
			{busy(30, 20, 90*ms), 20}, // at Max: hold
		}},
		{"grow by at least one", 4, []step{{busy(0.2, 3.9, 16*ms), 5}}},
		{"shrink after quiet periods, by at most half", 16, []step{
			{busy(0, 1, 0), 16}, // quiet 1
			{busy(0, 1, 0), 8},  // quiet 2: shrink, at most to half
			{busy(0, 1, 0), 8},  // cooldown
			{busy(0, 1, 0), 8},  // quiet 1
			{busy(0, 1, 0), 4},
			{busy(0, 1, 0), 4},
			{busy(0, 1, 0), 4},
			{busy(0, 1, 0), 2}, // 1 in use fills 2 to 50%: ceil(1/0.75) = 2
			{busy(0, 0, 0), 2},
			{busy(0, 0, 0), 2},
			{busy(0, 0, 0), 2}, // never below Min
		}},
		{"a busy period resets the quiet count", 8, []step{
			{busy(0, 1, 0), 8},
			{busy(0, 7, 0), 8}, // utilization 7/8: not oversized
			{busy(0, 1, 0), 8},
			{busy(0, 1, 0), 4},
		}},
		{"shrink no further than the load needs", 8, []step{
			{busy(0, 3.5, 0), 8},
			{busy(0, 3.5, 0), 5}, // ceil(3.5/0.75) = 5
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := controller(t, tc.size, opts)
			for i, st := range tc.steps {
				st.s.Size = a.size
				st.s.Utilization = st.s.InUse / float64(a.size)
				if d, ok := a.decide(st.s); ok {
					assert.Equal(t, a.size, d.From, "step %d: From", i)
					assert.NotEmpty(t, d.Reason, "step %d: Reason", i)
					a.size = d.To
					a.cooldown = a.opts.Cooldown
				}
				assert.Equal(t, st.want, a.size, "step %d: size after decide(%+v)", i, st.s)
			}
		})
	}
}

func TestAdaptiveOptions(t *testing.T) {
	p, err := New(func(context.Context) (int, error) { return 0, nil }, Options[int]{Max: 3, IdleTimeout: -1})
	require.NoError(t, err)
	defer p.Close()
	for _, o := range []AdaptiveOptions{{Min: 5, Max: 4}, {Min: -1}, {Tolerance: 1}, {ShrinkUtilization: 2}} {
		_, err := NewAdaptive(p, o)
		assert.ErrorIs(t, err, remoting.ErrInvalidArgument, "NewAdaptive(%+v)", o)
	}
	// A pool outside the bounds is brought into them.
	a, err := NewAdaptive(p, AdaptiveOptions{Min: 4, Max: 6})
	require.NoError(t, err)
	defer a.Close()
	assert.Equal(t, 4, a.Size())
	assert.Equal(t, 4, p.Stats().Max)
	st := a.Stats()
	assert.Equal(t, 4, st.Min)
	assert.Equal(t, 6, st.Max)
	assert.Equal(t, 5*time.Millisecond, st.TargetWait, "default TargetWait")
	require.NoError(t, a.Close())
	require.NoError(t, a.Close(), "Close again")
}

// TestAdaptiveFollowsLoad drives a real pool with a step of load up and
// then down: the size rises within a bounded number of control periods,
// falls back after the load drops, and never leaves [Min, Max].
func TestAdaptiveFollowsLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("drives load for about two seconds")
	}
	for _, measured := range []bool{true, false} {
		name := "estimated waits"
		if measured {
			name = "measured waits"
		}
		t.Run(name, func(t *testing.T) { followLoad(t, measured) })
	}
}

func followLoad(t *testing.T, measured bool) {
	const (
		period = 25 * time.Millisecond
		hold   = 4 * time.Millisecond // one borrow's work
		lo, hi = 1, 16
		busy   = 16 // borrowers under load
	)
	var ctl atomic.Pointer[Adaptive]
	opts := Options[int]{Max: 2, IdleTimeout: -1}
	if measured {
		opts.Observe = func(e Event) {
			if a := ctl.Load(); a != nil {
				a.Observe(e)
			}
		}
	}
	p, err := New(func(context.Context) (int, error) { return 0, nil }, opts)
	require.NoError(t, err)
	defer p.Close()

	var mu sync.Mutex
	var sizes []int
	a, err := NewAdaptive(p, AdaptiveOptions{
		Min: lo, Max: hi, TargetWait: time.Millisecond, Period: period, Samples: 10, ShrinkAfter: 2,
		OnDecision: func(d Decision) {
			mu.Lock()
			defer mu.Unlock()
			if assert.NoError(t, d.Err, "Resize") {
				sizes = append(sizes, d.To)
			}
		},
	})
	require.NoError(t, err)
	ctl.Store(a)
	defer a.Close()

	got := func() []int {
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), sizes...)
	}

	// borrowers runs n goroutines that borrow, work and return until stop
	// is closed.
	borrowers := func(n int, stop chan struct{}) *sync.WaitGroup {
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					v, err := p.Borrow(context.Background())
					if !assert.NoError(t, err) {
						return
					}
					time.Sleep(hold)
					p.Return(v)
				}
			}()
		}
		return &wg
	}
	// waitFor waits up to limit periods for cond, and returns how many it took.
	waitFor := func(limit int, cond func(int) bool) (int, bool) {
		start := a.Stats().Periods
		for {
			n := int(a.Stats().Periods - start)
			if cond(a.Size()) {
				return n, true
			}
			if n > limit {
				return n, false
			}
			time.Sleep(period / 5)
		}
	}

	stop := make(chan struct{})
	wg := borrowers(busy, stop)
	n, ok := waitFor(12, func(size int) bool { return size >= busy*3/4 })
	assert.True(t, ok, "under load of %d the size reached only %d in %d periods; decisions %v", busy, a.Size(), n, got())
	t.Logf("%s: rose to %d in %d periods", map[bool]string{true: "measured", false: "estimated"}[measured], a.Size(), n)
	close(stop)
	wg.Wait()

	stop = make(chan struct{})
	wg = borrowers(1, stop)
	n, ok = waitFor(30, func(size int) bool { return size <= 3 })
	assert.True(t, ok, "under load of 1 the size fell only to %d in %d periods; decisions %v", a.Size(), n, got())
	t.Logf("fell to %d in %d periods; sizes %v", a.Size(), n, got())
	close(stop)
	wg.Wait()

	require.NoError(t, a.Close())
	mu.Lock()
	defer mu.Unlock()
	for _, s := range sizes {
		assert.True(t, s >= lo && s <= hi, "size %d outside [%d, %d]", s, lo, hi)
	}
	assert.Equal(t, a.Size(), p.Stats().Max, "the pool's Max is the controller's size")
	assert.NotEmpty(t, a.Decisions(), "Decisions")
}
