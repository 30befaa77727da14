package pool_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/pool"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// instance is what the tests pool.
type instance struct {
	n      int64
	resets atomic.Int64
}

// counter makes instances and tracks how many exist at once.
type counter struct {
	next      atomic.Int64
	live      atomic.Int64
	peak      atomic.Int64
	destroyed atomic.Int64
	fail      atomic.Int64 // the factory fails this many more times
}

var errFactory = errors.New("factory failed")

func (c *counter) factory(ctx context.Context) (*instance, error) {
	if c.fail.Load() > 0 && c.fail.Add(-1) >= 0 {
		return nil, errFactory
	}
	n := c.live.Add(1)
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			break
		}
	}
	return &instance{n: c.next.Add(1)}, nil
}

func (c *counter) destroy(*instance) {
	c.live.Add(-1)
	c.destroyed.Add(1)
}

func newPool(t *testing.T, c *counter, opts pool.Options[*instance]) *pool.Pool[*instance] {
	t.Helper()
	opts.Destroy = c.destroy
	p, err := pool.New(c.factory, opts)
	require.NoError(t, err, "New")
	t.Cleanup(func() { p.Close() })
	return p
}

func TestNewOptions(t *testing.T) {
	factory := func(context.Context) (int, error) { return 0, nil }
	tests := []struct {
		name     string
		opts     pool.Options[int]
		wantErr  bool
		min, max int
	}{
		{name: "zero value", max: 8},
		{name: "min above default max", opts: pool.Options[int]{Min: 10}, min: 10, max: 10},
		{name: "explicit", opts: pool.Options[int]{Min: 1, Max: 2}, min: 1, max: 2},
		{name: "negative min", opts: pool.Options[int]{Min: -1}, wantErr: true},
		{name: "negative max", opts: pool.Options[int]{Max: -1}, wantErr: true},
		{name: "min above max", opts: pool.Options[int]{Min: 3, Max: 2}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := pool.New(factory, tc.opts)
			if tc.wantErr {
				assert.ErrorIs(t, err, remoting.ErrInvalidArgument, "New(%+v)", tc.opts)
				return
			}
			require.NoError(t, err, "New(%+v)", tc.opts)
			defer p.Close()
			s := p.Stats()
			assert.Equal(t, tc.min, s.Min, "Stats().Min")
			assert.Equal(t, tc.max, s.Max, "Stats().Max")
		})
	}
	_, err := pool.New[int](nil, pool.Options[int]{})
	assert.ErrorIs(t, err, remoting.ErrInvalidArgument, "New(nil factory)")
}

func TestMaxUnderContention(t *testing.T) {
	var c counter
	var resets atomic.Int64
	p := newPool(t, &c, pool.Options[*instance]{Max: 4, Reset: func(*instance) error {
		resets.Add(1)
		return nil
	}})

	const borrowers, rounds = 64, 40
	var wg sync.WaitGroup
	var returned, discarded atomic.Int64
	for i := range borrowers {
		wg.Go(func() {
			for r := range rounds {
				v, err := p.Borrow(context.Background())
				if !assert.NoError(t, err, "Borrow") {
					return
				}
				if (i+r)%17 == 0 {
					p.Discard(v)
					discarded.Add(1)
					continue
				}
				p.Return(v)
				returned.Add(1)
			}
		})
	}
	wg.Wait()

	assert.LessOrEqual(t, c.peak.Load(), int64(4), "instances alive at once")
	assert.Equal(t, returned.Load(), resets.Load(), "Reset calls")
	s := p.Stats()
	assert.Equal(t, uint64(borrowers*rounds), s.Borrows, "Stats().Borrows")
	assert.Equal(t, uint64(c.next.Load()), s.Created, "Stats().Created")
	assert.Equal(t, uint64(c.destroyed.Load()), s.Destroyed, "Stats().Destroyed")
	assert.Equal(t, discarded.Load(), c.destroyed.Load(), "destroyed instances")
	assert.Equal(t, int(c.live.Load()), s.Live, "Stats().Live")
	assert.Equal(t, s.Live, s.Idle, "Stats(): every live instance is idle")
	assert.Zero(t, s.InUse, "Stats().InUse")
	assert.Zero(t, s.Waiters, "Stats().Waiters")
}

func TestResetBeforeReuse(t *testing.T) {
	var c counter
	p := newPool(t, &c, pool.Options[*instance]{Max: 1, Reset: func(v *instance) error {
		v.resets.Add(1)
		return nil
	}})
	ctx := context.Background()
	first, err := p.Borrow(ctx)
	require.NoError(t, err, "Borrow")
	for i := 1; i <= 5; i++ {
		p.Return(first)
		v, err := p.Borrow(ctx)
		require.NoError(t, err, "Borrow")
		assert.Same(t, first, v, "Borrow reuses the idle instance")
		assert.Equal(t, int64(i), v.resets.Load(), "Reset calls before reuse %d", i)
	}
	p.Return(first)
	assert.Equal(t, int64(1), c.next.Load(), "instances created")
}

func TestResetFailureDestroys(t *testing.T) {
	var c counter
	errReset := errors.New("dirty")
	var events []pool.Event
	var mu sync.Mutex
	p := newPool(t, &c, pool.Options[*instance]{
		Max:     1,
		Reset:   func(*instance) error { return errReset },
		Observe: func(e pool.Event) { mu.Lock(); events = append(events, e); mu.Unlock() },
	})
	ctx := context.Background()
	v, err := p.Borrow(ctx)
	require.NoError(t, err, "Borrow")
	p.Return(v)
	assert.Equal(t, int64(1), c.destroyed.Load(), "instances destroyed after a failed Reset")
	w, err := p.Borrow(ctx)
	require.NoError(t, err, "Borrow")
	assert.NotSame(t, v, w, "Borrow after a failed Reset")
	p.Discard(w)

	mu.Lock()
	defer mu.Unlock()
	var destroyErr error
	for _, e := range events {
		if e.Kind == pool.EventDestroy && e.Err != nil {
			destroyErr = e.Err
		}
	}
	assert.ErrorIs(t, destroyErr, errReset, "EventDestroy.Err")
}

func TestWaiterDeadline(t *testing.T) {
	var c counter
	p := newPool(t, &c, pool.Options[*instance]{Max: 1})
	v, err := p.Borrow(context.Background())
	require.NoError(t, err, "Borrow")
	defer p.Return(v)

	const timeout = 50 * time.Millisecond
	start := time.Now() // before the context, whose deadline counts from its creation
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err = p.Borrow(ctx)
	elapsed := time.Since(start)

	require.Error(t, err, "Borrow from an exhausted pool")
	assert.ErrorIs(t, err, remoting.ErrResourceExhausted, "Borrow")
	assert.ErrorIs(t, err, context.DeadlineExceeded, "Borrow")
	assert.Equal(t, remoting.CodeResourceExhausted, remoting.CodeOf(err), "CodeOf(Borrow)")
	assert.Contains(t, err.Error(), "pool exhausted", "Borrow error")
	assert.GreaterOrEqual(t, elapsed, timeout, "Borrow returned before the deadline")
	assert.Less(t, elapsed, timeout+500*time.Millisecond, "Borrow returned long after the deadline")
	s := p.Stats()
	assert.Equal(t, uint64(1), s.Exhausted, "Stats().Exhausted")
	assert.Zero(t, s.Waiters, "Stats().Waiters")

	// A context that has already ended fails at once.
	done, cancelDone := context.WithCancel(context.Background())
	cancelDone()
	_, err = p.Borrow(done)
	assert.ErrorIs(t, err, remoting.ErrResourceExhausted, "Borrow(canceled ctx)")
	assert.ErrorIs(t, err, context.Canceled, "Borrow(canceled ctx)")
}

// waitFor waits until p has n waiters.
func waitFor[T any](t *testing.T, p *pool.Pool[T], n int) {
	t.Helper()
	require.Eventually(t, func() bool { return p.Stats().Waiters == n }, 5*time.Second, time.Millisecond, "waiters")
}

func TestWaitersFIFO(t *testing.T) {
	var c counter
	p := newPool(t, &c, pool.Options[*instance]{Max: 1})
	ctx := context.Background()
	v, err := p.Borrow(ctx)
	require.NoError(t, err, "Borrow")

	const n = 5
	order := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			w, err := p.Borrow(ctx)
			if !assert.NoError(t, err, "Borrow of waiter %d", i) {
				return
			}
			order <- i
			p.Return(w)
		})
		waitFor(t, p, i+1) // queue the waiters in a known order
	}
	p.Return(v)
	wg.Wait()
	close(order)
	var got []int
	for i := range order {
		got = append(got, i)
	}
	assert.Equal(t, []int{0, 1, 2, 3, 4}, got, "order in which waiters got the instance")
	assert.Equal(t, int64(1), c.next.Load(), "instances created")
}

func TestIdleShrinkToMin(t *testing.T) {
	var c counter
	p := newPool(t, &c, pool.Options[*instance]{Min: 1, Max: 4, IdleTimeout: 20 * time.Millisecond})
	ctx := context.Background()
	var borrowed []*instance
	for range 4 {
		v, err := p.Borrow(ctx)
		require.NoError(t, err, "Borrow")
		borrowed = append(borrowed, v)
	}
	for _, v := range borrowed {
		p.Return(v)
	}
	assert.Equal(t, 4, p.Stats().Idle, "Stats().Idle after Return")
	require.Eventually(t, func() bool { return p.Stats().Live == 1 }, 5*time.Second, 5*time.Millisecond, "shrink to Min")
	s := p.Stats()
	assert.Equal(t, 1, s.Idle, "Stats().Idle after shrink")
	assert.Equal(t, uint64(3), s.Destroyed, "Stats().Destroyed after shrink")
	assert.Equal(t, int64(1), c.live.Load(), "instances alive after shrink")

	// The instance kept is the one returned last: the pool reuses the
	// warmest instance and shrinks the coldest.
	v, err := p.Borrow(ctx)
	require.NoError(t, err, "Borrow")
	assert.Same(t, borrowed[3], v, "instance kept")
	p.Return(v)
}

func TestResize(t *testing.T) {
	ctx := context.Background()
	t.Run("shrink", func(t *testing.T) {
		var c counter
		p := newPool(t, &c, pool.Options[*instance]{Max: 4, IdleTimeout: -1})
		var vs []*instance
		for range 4 {
			v, err := p.Borrow(ctx)
			require.NoError(t, err, "Borrow")
			vs = append(vs, v)
		}
		p.Return(vs[0])
		p.Return(vs[1])
		require.NoError(t, p.Resize(0, 1), "Resize(0, 1)")
		s := p.Stats()
		assert.Equal(t, 2, s.Live, "Stats().Live: idle surplus destroyed at once")
		assert.Zero(t, s.Idle, "Stats().Idle")
		p.Return(vs[2])
		assert.Equal(t, 1, p.Stats().Live, "Stats().Live: surplus destroyed on Return")
		p.Return(vs[3])
		s = p.Stats()
		assert.Equal(t, 1, s.Live, "Stats().Live")
		assert.Equal(t, 1, s.Idle, "Stats().Idle")
		assert.Equal(t, int64(1), c.live.Load(), "instances alive")
	})
	t.Run("grow wakes waiters", func(t *testing.T) {
		var c counter
		p := newPool(t, &c, pool.Options[*instance]{Max: 1})
		v, err := p.Borrow(ctx)
		require.NoError(t, err, "Borrow")
		got := make(chan *instance)
		go func() {
			w, err := p.Borrow(ctx)
			assert.NoError(t, err, "Borrow of the waiter")
			got <- w
		}()
		waitFor(t, p, 1)
		require.NoError(t, p.Resize(0, 2), "Resize(0, 2)")
		w := <-got
		assert.NotSame(t, v, w, "waiter gets a new instance")
		assert.Equal(t, 2, p.Stats().Live, "Stats().Live")
		p.Return(v)
		p.Return(w)
	})
	t.Run("invalid", func(t *testing.T) {
		var c counter
		p := newPool(t, &c, pool.Options[*instance]{})
		for _, b := range [][2]int{{0, 0}, {-1, 1}, {2, 1}} {
			assert.ErrorIs(t, p.Resize(b[0], b[1]), remoting.ErrInvalidArgument, "Resize(%d, %d)", b[0], b[1])
		}
		assert.Equal(t, 8, p.Stats().Max, "Stats().Max after invalid Resize")
	})
}

func TestCloseWithBorrowed(t *testing.T) {
	var c counter
	p := newPool(t, &c, pool.Options[*instance]{Max: 2})
	ctx := context.Background()
	a, err := p.Borrow(ctx)
	require.NoError(t, err, "Borrow")
	b, err := p.Borrow(ctx)
	require.NoError(t, err, "Borrow")
	p.Return(b) // idle

	c2, err := p.Borrow(ctx)
	require.NoError(t, err, "Borrow")
	waiterErr := make(chan error)
	go func() {
		_, err := p.Borrow(ctx)
		waiterErr <- err
	}()
	waitFor(t, p, 1)

	require.NoError(t, p.Close(), "Close")
	err = <-waiterErr
	assert.ErrorIs(t, err, pool.ErrClosed, "Borrow of a waiter during Close")
	assert.ErrorIs(t, err, remoting.ErrUnavailable, "Borrow of a waiter during Close")
	_, err = p.Borrow(ctx)
	assert.ErrorIs(t, err, pool.ErrClosed, "Borrow after Close")
	assert.ErrorIs(t, p.Resize(0, 1), pool.ErrClosed, "Resize after Close")
	assert.ErrorIs(t, p.Fill(ctx), pool.ErrClosed, "Fill after Close")
	assert.Equal(t, int64(2), c.live.Load(), "borrowed instances outlive Close")

	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	err = p.Shutdown(short)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "Shutdown with instances borrowed")

	p.Return(a)
	p.Discard(c2)
	assert.Zero(t, c.live.Load(), "instances alive after they came back")
	assert.NoError(t, p.Shutdown(ctx), "Shutdown after every instance came back")
	assert.NoError(t, p.Close(), "second Close")
	assert.Zero(t, p.Stats().Live, "Stats().Live")
}

func TestFailingFactory(t *testing.T) {
	ctx := context.Background()
	t.Run("borrower", func(t *testing.T) {
		var c counter
		p := newPool(t, &c, pool.Options[*instance]{Max: 1})
		c.fail.Store(1)
		_, err := p.Borrow(ctx)
		assert.ErrorIs(t, err, errFactory, "Borrow with a failing factory")
		assert.Zero(t, p.Stats().Live, "Stats().Live: the slot is free again")
		v, err := p.Borrow(ctx)
		require.NoError(t, err, "Borrow after the factory recovered")
		p.Return(v)
	})
	t.Run("waiter", func(t *testing.T) {
		var c counter
		p := newPool(t, &c, pool.Options[*instance]{Max: 1})
		v, err := p.Borrow(ctx)
		require.NoError(t, err, "Borrow")
		waiterErr := make(chan error)
		go func() {
			_, err := p.Borrow(ctx)
			waiterErr <- err
		}()
		waitFor(t, p, 1)
		c.fail.Store(1)
		p.Discard(v) // frees the slot: the waiter creates, and fails
		assert.ErrorIs(t, <-waiterErr, errFactory, "Borrow of the waiter")
		assert.Zero(t, p.Stats().Live, "Stats().Live")
	})
	t.Run("panic", func(t *testing.T) {
		p, err := pool.New(func(context.Context) (int, error) { panic("boom") }, pool.Options[int]{Max: 1})
		require.NoError(t, err, "New")
		defer p.Close()
		assert.Panics(t, func() { p.Borrow(ctx) }, "Borrow with a panicking factory")
		assert.Zero(t, p.Stats().Live, "Stats().Live after the factory panicked")
	})
}

func TestFill(t *testing.T) {
	var c counter
	p := newPool(t, &c, pool.Options[*instance]{Min: 3, Max: 4})
	require.NoError(t, p.Fill(context.Background()), "Fill")
	s := p.Stats()
	assert.Equal(t, 3, s.Live, "Stats().Live")
	assert.Equal(t, 3, s.Idle, "Stats().Idle")
	assert.Zero(t, s.InUse, "Stats().InUse")

	c.fail.Store(1)
	require.NoError(t, p.Resize(4, 4), "Resize")
	assert.ErrorIs(t, p.Fill(context.Background()), errFactory, "Fill with a failing factory")
	assert.Equal(t, 3, p.Stats().Live, "Stats().Live")
}

func TestObserve(t *testing.T) {
	var mu sync.Mutex
	var kinds []pool.EventKind
	var c counter
	p := newPool(t, &c, pool.Options[*instance]{Max: 1, Observe: func(e pool.Event) {
		mu.Lock()
		kinds = append(kinds, e.Kind)
		mu.Unlock()
	}})
	ctx := context.Background()
	v, err := p.Borrow(ctx)
	require.NoError(t, err, "Borrow")
	short, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	_, err = p.Borrow(short)
	require.Error(t, err, "Borrow")
	p.Return(v)
	p.Close()

	mu.Lock()
	defer mu.Unlock()
	want := []pool.EventKind{pool.EventCreate, pool.EventBorrow, pool.EventExhausted, pool.EventReturn, pool.EventDestroy}
	assert.Equal(t, want, kinds, "events")
	assert.Equal(t, "Exhausted", pool.EventExhausted.String(), "EventExhausted.String()")
	assert.Equal(t, "EventKind(9)", pool.EventKind(9).String(), "EventKind(9).String()")
}

func TestGiveBackUnborrowedPanics(t *testing.T) {
	var c counter
	p := newPool(t, &c, pool.Options[*instance]{})
	assert.Panics(t, func() { p.Return(&instance{}) }, "Return without Borrow")
	assert.Panics(t, func() { p.Discard(&instance{}) }, "Discard without Borrow")
}

func Example() {
	type conn struct{ id int }
	var next int
	p, err := pool.New(func(ctx context.Context) (*conn, error) {
		next++ // the factory runs on one borrower at a time here
		return &conn{id: next}, nil
	}, pool.Options[*conn]{Max: 2})
	if err != nil {
		panic(err)
	}
	defer p.Close()

	ctx := context.Background()
	c, _ := p.Borrow(ctx)
	fmt.Println("borrowed", c.id)
	p.Return(c)
	c, _ = p.Borrow(ctx)
	fmt.Println("borrowed", c.id, "again")
	p.Return(c)
	s := p.Stats()
	fmt.Println("live", s.Live, "idle", s.Idle, "borrows", s.Borrows)
	// Output:
	// borrowed 1
	// borrowed 1 again
	// live 1 idle 1 borrows 2
}
