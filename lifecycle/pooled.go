package lifecycle

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/pool"
)

// DefaultDeadlineMargin is the default of [PoolOptions.DeadlineMargin].
const DefaultDeadlineMargin = 5 * time.Millisecond

// PoolOptions configure [Pooled]. The zero value is ready to use.
type PoolOptions struct {
	// Min is the number of instances the pool keeps when they are idle.
	// Instances are created on demand, so fewer may exist. Default 0.
	Min int

	// Max bounds the instances that exist at once. Default
	// [pool.DefaultMax], or Min if that is larger; see [pool.Options].
	Max int

	// IdleTimeout is how long an instance above Min may stay idle before
	// it is deactivated and destroyed. Default [pool.DefaultIdleTimeout],
	// one minute; a negative value keeps idle instances forever.
	IdleTimeout time.Duration

	// DeadlineMargin is how long before the call's deadline a call that
	// waits for an instance gives up, so that its ResourceExhausted reply
	// reaches the caller before the caller's own deadline passes (and the
	// caller learns that the pool was exhausted, rather than only that time
	// ran out). It is at most half the time the call has left when it
	// starts waiting. Default [DefaultDeadlineMargin], 5ms, enough for a
	// loopback or LAN round trip; a negative value waits until the
	// deadline itself.
	DeadlineMargin time.Duration
}

// Pooled returns the Pooling strategy: calls are served by a bounded pool
// of interchangeable instances that newFn creates, each serving one call at
// a time, so that an instance need not be safe for concurrent use and the
// cost of creating one is paid once per instance, not once per call. It is
// built on [pool.Pool].
//
// Acquire borrows an idle instance, or creates one with newFn (and its
// Activate, if it is an [Activator]) on the call's goroutine if fewer than
// Max exist, or else waits in line. A call whose context ends while it
// waits (see PoolOptions.DeadlineMargin) fails with a [*remoting.Error]
// with [remoting.CodeResourceExhausted]. Return gives the instance back:
// its Reset, if it is a [Resetter], cleans it before it serves again. An
// instance is deactivated (its Deactivate, if it is a [Deactivator]) when
// the pool destroys it: after a failed Reset, after idling past
// IdleTimeout, or at Close.
//
// The pool is made at the first call, which starts the pool's reaper
// goroutine (unless IdleTimeout is negative); Close stops it, after
// waiting, until its context ends, for borrowed instances to come back.
//
// The strategy is a [pool.Sizer]: [PooledStrategy.Resize] and
// [PooledStrategy.Stats] serve configuration reloads
// (config.Targets.Pools), adaptive sizing ([pool.NewAdaptive]) and
// introspection (admin.Options.Pools).
//
// T may be the remote interface, a concrete type or another interface; see
// [Lazy] for how it is checked.
func Pooled[T any](newFn func(ctx context.Context) (T, error), opts PoolOptions) *PooledStrategy[T] {
	margin := opts.DeadlineMargin
	if margin == 0 {
		margin = DefaultDeadlineMargin
	}
	return &PooledStrategy[T]{
		newFn:  newFn,
		margin: margin,
		opts:   pool.Options[T]{Min: opts.Min, Max: opts.Max, IdleTimeout: opts.IdleTimeout},
	}
}

// PooledStrategy is the [Strategy] that [Pooled] returns: the Pooling
// pattern over a [pool.Pool] of instances of T, which it makes at the
// first call. Besides the Strategy's methods it has Resize and Stats, for
// whatever steers or shows the pool. Its methods are safe for concurrent
// use.
type PooledStrategy[T any] struct {
	newFn  func(context.Context) (T, error)
	margin time.Duration // DeadlineMargin, with its default
	b      Binding
	check  bool

	pool atomic.Pointer[pool.Pool[T]] // nil until the first call

	mu     sync.Mutex // guards closed, and opts until the pool exists
	closed bool
	// opts is what the pool is made with. Its bounds are the pool's until
	// the pool exists, and are then neither read nor written: the pool
	// keeps its bounds itself.
	opts pool.Options[T]
}

var (
	_ Strategy   = (*PooledStrategy[any])(nil)
	_ pool.Sizer = (*PooledStrategy[any])(nil)
)

// Bind implements [Strategy.Bind]: it checks the constructor, the bounds
// and T.
func (s *PooledStrategy[T]) Bind(b Binding) error {
	if s.newFn == nil {
		return remoting.Errorf(remoting.CodeInvalidArgument, "pooled %s: nil constructor", b.Interface)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := pool.CheckBounds(s.opts.Bounds()); err != nil {
		return fmt.Errorf("lifecycle: pooled %s: %w", b.Interface, err)
	}
	check, err := checkType[T](&b)
	if err != nil {
		return err
	}
	s.b, s.check = b, check
	bp := &s.b
	s.opts.Reset = func(v T) error {
		r, ok := any(v).(Resetter)
		if !ok {
			return nil
		}
		return guard(bp, "Reset", func() error { return r.Reset(context.Background()) })
	}
	s.opts.Destroy = func(v T) { deactivate(context.Background(), bp, v) }
	if bp.Observe != nil {
		s.opts.Observe = func(e pool.Event) {
			switch e.Kind {
			case pool.EventBorrow:
				bp.emit(remoting.EventPoolBorrow, e.Wait, nil)
			case pool.EventReturn:
				bp.emit(remoting.EventPoolReturn, 0, nil)
			case pool.EventExhausted:
				bp.emit(remoting.EventPoolExhausted, e.Wait, nil)
			}
			// Creation and destruction are reported by newInstance and
			// deactivate, as Activated and Deactivated.
		}
	}
	return nil
}

// start makes the pool, once.
func (s *PooledStrategy[T]) start() (*pool.Pool[T], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if p := s.pool.Load(); p != nil {
		return p, nil
	}
	p, err := pool.New(func(ctx context.Context) (T, error) {
		return newInstance(ctx, &s.b, s.check, s.newFn)
	}, s.opts)
	if err != nil {
		return nil, fmt.Errorf("lifecycle: pooled %s: %w", s.b.Interface, err)
	}
	s.pool.Store(p)
	return p, nil
}

// Acquire implements [Strategy.Acquire]: it borrows an instance from the
// pool, making the pool at the first call.
func (s *PooledStrategy[T]) Acquire(ctx context.Context) (any, error) {
	p := s.pool.Load()
	if p == nil {
		var err error
		if p, err = s.start(); err != nil {
			return nil, err
		}
	}
	if d, ok := ctx.Deadline(); ok && s.margin > 0 {
		margin := min(s.margin, time.Until(d)/2)
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-margin))
		defer cancel()
	}
	v, err := p.Borrow(ctx)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// Name returns [NamePooled].
func (s *PooledStrategy[T]) Name() string { return NamePooled }

// Return implements [Strategy.Return]: it gives the instance back to the
// pool, which resets it.
func (s *PooledStrategy[T]) Return(instance any) {
	s.pool.Load().Return(instance.(T))
}

// Resize changes the pool's bounds: at once if the pool exists (see
// [pool.Pool.Resize]), otherwise for the pool the first call makes. It
// fails with an error matching [remoting.ErrInvalidArgument] for invalid
// bounds (see [pool.CheckBounds]), and with [ErrClosed] after Close.
func (s *PooledStrategy[T]) Resize(min, max int) error {
	if err := pool.CheckBounds(min, max); err != nil {
		return fmt.Errorf("lifecycle: pooled %s: resize: %w", s.b.Interface, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	p := s.pool.Load()
	if p == nil {
		s.opts.Min, s.opts.Max = min, max
	}
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	if err := p.Resize(min, max); err != nil {
		return fmt.Errorf("lifecycle: pooled %s: %w", s.b.Interface, err)
	}
	return nil
}

// Stats returns the pool's occupancy and counters; before the first call,
// only the bounds the pool will be made with.
func (s *PooledStrategy[T]) Stats() pool.Stats {
	if p := s.pool.Load(); p != nil {
		return p.Stats()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.pool.Load(); p != nil {
		return p.Stats()
	}
	min, max := s.opts.Bounds()
	return pool.Stats{Min: min, Max: max}
}

// Close implements [Strategy.Close]: it shuts the pool down, waiting
// until ctx ends for borrowed instances to come back, and deactivates the
// instances.
func (s *PooledStrategy[T]) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	p := s.pool.Load()
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	if err := p.Shutdown(ctx); err != nil {
		return fmt.Errorf("lifecycle: close pooled %s: %w", s.b.Interface, err)
	}
	return nil
}
