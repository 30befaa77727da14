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

// defaultDeadlineMargin is the default of [PoolOptions.DeadlineMargin].
const defaultDeadlineMargin = 5 * time.Millisecond

// PoolOptions configure [Pooled]. The zero value is ready to use.
type PoolOptions struct {
	// Min is the number of instances the pool keeps when they are idle.
	// Instances are created on demand, so fewer may exist. Default 0.
	Min int

	// Max bounds the instances that exist at once. Default 8, or Min if
	// that is larger; see [pool.Options].
	Max int

	// IdleTimeout is how long an instance above Min may stay idle before
	// it is deactivated and destroyed. Default one minute; a negative
	// value keeps idle instances forever.
	IdleTimeout time.Duration

	// DeadlineMargin is how long before the call's deadline a call that
	// waits for an instance gives up, so that its ResourceExhausted reply
	// reaches the caller before the caller's own deadline passes (and the
	// caller learns that the pool was exhausted, rather than only that time
	// ran out). It is at most half the time the call has left when it
	// starts waiting. Default 5ms, enough for a loopback or LAN round trip;
	// a negative value waits until the deadline itself.
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
// The Strategy that Pooled returns also has the methods
//
//	Resize(min, max int) error // change the bounds at run time, as pool.Pool.Resize does
//	Stats() pool.Stats         // the pool's occupancy and counters
//
// for configuration reloads, adaptive sizing ([pool.NewAdaptive]) and
// introspection; reach them through an interface of your own, such as
// [pool.Sizer]. Before the first call they change and report the bounds
// the pool will be made with.
//
// T may be the remote interface, a concrete type or another interface; see
// [Lazy] for how it is checked.
func Pooled[T any](newFn func(ctx context.Context) (T, error), opts PoolOptions) Strategy {
	return &pooled[T]{newFn: newFn, opts: opts}
}

type pooled[T any] struct {
	newFn func(context.Context) (T, error)
	opts  PoolOptions
	b     Binding
	check bool

	pool atomic.Pointer[pool.Pool[T]] // nil until the first call

	resize sync.Mutex // orders Resize calls, so that the last one wins in both opts and pool
	mu     sync.Mutex // guards closed and opts.Min, opts.Max
	closed bool
}

func (s *pooled[T]) Bind(b Binding) error {
	if s.newFn == nil {
		return remoting.Errorf(remoting.CodeInvalidArgument, "lifecycle: pooled %s: nil constructor", b.Interface)
	}
	if o := s.opts; o.Min < 0 || o.Max < 0 || (o.Max > 0 && o.Min > o.Max) {
		return remoting.Errorf(remoting.CodeInvalidArgument, "lifecycle: pooled %s: bounds min %d, max %d: want 0 <= min <= max", b.Interface, o.Min, o.Max)
	}
	check, err := checkType[T](&b)
	if err != nil {
		return err
	}
	s.b, s.check = b, check
	if s.opts.DeadlineMargin == 0 {
		s.opts.DeadlineMargin = defaultDeadlineMargin
	}
	return nil
}

// start makes the pool, once.
func (s *pooled[T]) start() (*pool.Pool[T], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if p := s.pool.Load(); p != nil {
		return p, nil
	}
	b := &s.b
	opts := pool.Options[T]{
		Min:         s.opts.Min,
		Max:         s.opts.Max,
		IdleTimeout: s.opts.IdleTimeout,
		Reset: func(v T) error {
			r, ok := any(v).(Resetter)
			if !ok {
				return nil
			}
			return guard(b, "Reset", func() error { return r.Reset(context.Background()) })
		},
		Destroy: func(v T) { deactivate(context.Background(), b, v) },
	}
	if b.Observe != nil {
		opts.Observe = func(e pool.Event) {
			switch e.Kind {
			case pool.EventBorrow:
				b.emit(EventPoolBorrow, e.Wait, nil)
			case pool.EventReturn:
				b.emit(EventPoolReturn, 0, nil)
			case pool.EventExhausted:
				b.emit(EventPoolExhausted, e.Wait, nil)
			}
			// Creation and destruction are reported by newInstance and
			// deactivate, as Activated and Deactivated.
		}
	}
	p, err := pool.New(func(ctx context.Context) (T, error) {
		return newInstance(ctx, b, s.check, s.newFn)
	}, opts)
	if err != nil {
		return nil, fmt.Errorf("lifecycle: pooled %s: %w", b.Interface, err)
	}
	s.pool.Store(p)
	return p, nil
}

func (s *pooled[T]) Acquire(ctx context.Context) (any, error) {
	p := s.pool.Load()
	if p == nil {
		var err error
		if p, err = s.start(); err != nil {
			return nil, err
		}
	}
	if d, ok := ctx.Deadline(); ok && s.opts.DeadlineMargin > 0 {
		margin := min(s.opts.DeadlineMargin, time.Until(d)/2)
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
func (s *pooled[T]) Name() string { return NamePooled }

func (s *pooled[T]) Return(instance any) {
	s.pool.Load().Return(instance.(T))
}

// Resize changes the pool's bounds: at once if the pool exists (see
// pool.Pool.Resize), otherwise for the pool the first call makes. It
// fails with an error matching remoting.ErrInvalidArgument for invalid
// bounds, and with ErrClosed after Close.
func (s *pooled[T]) Resize(min, max int) error {
	if min < 0 || max < 1 || min > max {
		return remoting.Errorf(remoting.CodeInvalidArgument, "lifecycle: pooled %s: resize to min %d, max %d: want 0 <= min <= max and max >= 1", s.b.Interface, min, max)
	}
	s.resize.Lock()
	defer s.resize.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.opts.Min, s.opts.Max = min, max
	p := s.pool.Load()
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
func (s *pooled[T]) Stats() pool.Stats {
	if p := s.pool.Load(); p != nil {
		return p.Stats()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.pool.Load(); p != nil {
		return p.Stats()
	}
	mx := s.opts.Max
	if mx == 0 {
		mx = max(8, s.opts.Min) // pool.Options' default
	}
	return pool.Stats{Min: s.opts.Min, Max: mx}
}

func (s *pooled[T]) Close(ctx context.Context) error {
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
