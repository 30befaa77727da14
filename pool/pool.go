package pool

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/remoting-go/remoting"
)

// Defaults of [Options].
const (
	// DefaultMax is the default of [Options.Max] (unless Min is larger): a
	// fixed number rather than one derived from the machine, so that a
	// service behaves alike on every machine.
	DefaultMax = 8
	// DefaultIdleTimeout is the default of [Options.IdleTimeout].
	DefaultIdleTimeout = time.Minute
)

// ErrClosed is returned by [Pool.Borrow], [Pool.Fill] and [Pool.Resize]
// once the pool is closed, and handed to the borrowers that were waiting
// when it closed. It is a [*remoting.Error] with
// [remoting.CodeUnavailable], so it also matches [remoting.ErrUnavailable].
var ErrClosed error = &remoting.Error{Code: remoting.CodeUnavailable, Message: "pool closed"}

// Options configure a [Pool]. The zero value is ready to use.
type Options[T any] struct {
	// Min is the number of instances the pool keeps when they are idle:
	// the idle shrink never goes below it. The pool creates instances on
	// demand; [Pool.Fill] creates Min of them ahead of demand. Default 0.
	Min int

	// Max bounds the instances that exist at once, counting those being
	// created and destroyed. Default [DefaultMax], or Min if that is
	// larger; size it to what one instance costs.
	Max int

	// IdleTimeout is how long an instance may stay idle before the pool
	// destroys it, as long as more than Min instances exist. Default
	// [DefaultIdleTimeout], one minute; a negative value keeps idle
	// instances forever and starts no reaper goroutine.
	IdleTimeout time.Duration

	// Reset, if set, cleans an instance that was returned before the pool
	// hands it out again. It runs on the goroutine that calls
	// [Pool.Return]. An instance whose Reset fails is destroyed, never
	// reused.
	Reset func(T) error

	// Destroy, if set, releases an instance the pool is done with: one
	// that was discarded, failed its Reset, idled past IdleTimeout, was
	// surplus after [Pool.Resize], or was left when the pool closed.
	Destroy func(T)

	// Observe, if set, is told of every event, on the goroutine that
	// caused it and without the pool's lock held. It must be safe for
	// concurrent use and should be fast: it runs on the invocation path.
	Observe func(Event)
}

// Stats is a snapshot of a pool's state and counters.
type Stats struct {
	Min, Max int // the current bounds

	Live    int // instances that exist, counting those being created or destroyed
	Idle    int // instances waiting to be borrowed
	InUse   int // instances borrowed, or being created or reset for a borrower
	Waiters int // borrowers waiting in line

	Borrows   uint64 // successful borrows
	Exhausted uint64 // borrows that failed because the caller's context ended while waiting
	Created   uint64 // instances the factory created
	Destroyed uint64 // instances destroyed
}

// Sizer is a pool whose bounds can change at run time and whose occupancy
// can be read: a [*Pool], or the *lifecycle.PooledStrategy that
// lifecycle.Pooled returns. It is the one interface of that capability:
// an [Adaptive] controller steers a Sizer, config.Targets resizes Sizers
// on a reload, and admin.Options shows their Stats.
type Sizer interface {
	// Resize changes the bounds, as [Pool.Resize] does.
	Resize(min, max int) error
	// Stats returns the bounds, occupancy and counters.
	Stats() Stats
}

var _ Sizer = (*Pool[int])(nil)

// Pool is a bounded pool of instances of T. Its methods are safe for
// concurrent use.
//
// Every instance that [Pool.Borrow] hands out must be given back exactly
// once, with [Pool.Return] if it can serve again or [Pool.Discard] if it
// is broken. The pool counts instances rather than tracking them, so it
// cannot tell which instance comes back: giving back a value that was not
// borrowed, or giving one back twice, breaks the bound on instances (and
// panics when more come back than are borrowed).
type Pool[T any] struct {
	factory     func(context.Context) (T, error)
	reset       func(T) error
	destroy     func(T)
	observe     func(Event)
	idleTimeout time.Duration

	mu         sync.Mutex
	min, max   int
	live       int // instances that exist, are being created or are being destroyed
	inUse      int // instances borrowed, being created for a borrower or being reset
	destroying int // instances being destroyed (counted in live)
	idle       []idleInstance[T]
	waiters    waitQueue[T]
	closed     bool
	drained    chan struct{} // closed once the pool is closed and live is zero
	isDrained  bool

	borrows, exhausted, created, destroyed atomic.Uint64

	closeOnce  sync.Once
	stop       chan struct{} // closed by Close; stops the reaper
	reaperDone chan struct{}
}

type idleInstance[T any] struct {
	v     T
	since time.Time
}

// New returns a pool that creates instances with factory, which is called
// with the context of the [Pool.Borrow] (or [Pool.Fill]) that needs one.
// It creates no instance itself. Unless opts.IdleTimeout is negative, New
// starts the reaper goroutine; [Pool.Close] stops it.
//
// New fails with an error matching [remoting.ErrInvalidArgument] if factory
// is nil or the bounds are invalid (negative, or Min above Max).
func New[T any](factory func(ctx context.Context) (T, error), opts Options[T]) (*Pool[T], error) {
	if factory == nil {
		return nil, remoting.Errorf(remoting.CodeInvalidArgument, "nil factory")
	}
	opts.Min, opts.Max = opts.Bounds()
	if err := CheckBounds(opts.Min, opts.Max); err != nil {
		return nil, err
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	p := &Pool[T]{
		factory:     factory,
		reset:       opts.Reset,
		destroy:     opts.Destroy,
		observe:     opts.Observe,
		idleTimeout: opts.IdleTimeout,
		min:         opts.Min,
		max:         opts.Max,
		drained:     make(chan struct{}),
		stop:        make(chan struct{}),
		reaperDone:  make(chan struct{}),
	}
	if p.idleTimeout > 0 {
		go p.reap()
	} else {
		close(p.reaperDone)
	}
	return p, nil
}

// Bounds returns the bounds a pool made with o starts with: Min, and Max
// or, if Max is zero, its default ([DefaultMax], or Min if that is
// larger). It does not check them; see [CheckBounds].
func (o Options[T]) Bounds() (int, int) {
	if o.Max == 0 {
		return o.Min, max(DefaultMax, o.Min)
	}
	return o.Min, o.Max
}

// CheckBounds returns the error that [New] and [Pool.Resize] return for
// the bounds min and max, one that matches [remoting.ErrInvalidArgument],
// or nil if a pool can have them: 0 <= min <= max and max >= 1. It is for
// those who hold bounds for a pool they have not made yet.
func CheckBounds(min, max int) error {
	if min < 0 || max < 1 || min > max {
		return remoting.Errorf(remoting.CodeInvalidArgument, "bounds min %d, max %d: want 0 <= min <= max and max >= 1", min, max)
	}
	return nil
}

// Borrow returns an instance for the caller's exclusive use until it gives
// it back with [Pool.Return] or [Pool.Discard]. It takes the most recently
// returned idle instance; if there is none and fewer than Max instances
// exist, it creates one with the factory on the caller's goroutine, and an
// error of the factory is returned (wrapped) with its slot freed. Otherwise
// Borrow waits in line behind earlier borrowers until an instance comes
// back or ctx ends. In the latter case it returns a [*remoting.Error] with
// [remoting.CodeResourceExhausted] that says how long it waited and wraps
// ctx's error, so that both [remoting.ErrResourceExhausted] and
// [context.DeadlineExceeded] (or [context.Canceled]) match it.
//
// Borrow returns [ErrClosed] once the pool is closed.
func (p *Pool[T]) Borrow(ctx context.Context) (T, error) {
	var zero T
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return zero, fmt.Errorf("pool: borrow: %w", ErrClosed)
	}
	if n := len(p.idle); n > 0 {
		v := p.idle[n-1].v
		p.idle[n-1] = idleInstance[T]{}
		p.idle = p.idle[:n-1]
		p.inUse++
		p.mu.Unlock()
		p.borrowed(0)
		return v, nil
	}
	if p.live < p.max {
		p.live++
		p.inUse++
		p.mu.Unlock()
		return p.create(ctx, 0)
	}
	if err := ctx.Err(); err != nil {
		p.mu.Unlock()
		return zero, p.exhaust(0, err)
	}
	w := &waiter[T]{ch: make(chan grant[T], 1)}
	p.waiters.push(w)
	p.mu.Unlock()

	start := time.Now()
	select {
	case g := <-w.ch:
		return p.take(ctx, g, time.Since(start))
	case <-ctx.Done():
	}
	p.mu.Lock()
	if w.queued {
		p.waiters.remove(w)
		p.mu.Unlock()
		return zero, p.exhaust(time.Since(start), ctx.Err())
	}
	p.mu.Unlock()
	// The grant was sent before the context ended was noticed: take an
	// instance, but pass on a permission to create one rather than call the
	// factory with a context that has ended.
	g := <-w.ch
	if g.create {
		p.mu.Lock()
		p.live--
		p.inUse--
		p.slotFreedLocked()
		p.mu.Unlock()
		return zero, p.exhaust(time.Since(start), ctx.Err())
	}
	return p.take(ctx, g, time.Since(start))
}

// take finishes a Borrow that waited and received g.
func (p *Pool[T]) take(ctx context.Context, g grant[T], waited time.Duration) (T, error) {
	switch {
	case g.err != nil:
		var zero T
		return zero, fmt.Errorf("pool: borrow: %w", g.err)
	case g.create:
		return p.create(ctx, waited)
	}
	p.borrowed(waited)
	return g.v, nil
}

func (p *Pool[T]) borrowed(waited time.Duration) {
	p.borrows.Add(1)
	p.emit(Event{Kind: EventBorrow, Wait: waited})
}

func (p *Pool[T]) exhaust(waited time.Duration, cause error) error {
	p.exhausted.Add(1)
	p.emit(Event{Kind: EventExhausted, Wait: waited})
	p.mu.Lock()
	n := p.max
	p.mu.Unlock()
	return remoting.Errorf(remoting.CodeResourceExhausted,
		"pool exhausted: all %d instances stayed in use for the %v the caller waited: %w", n, roundWait(waited), cause)
}

func roundWait(d time.Duration) time.Duration {
	if d >= time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}

// create calls the factory for a slot that the caller has reserved (live
// and inUse already count it) and hands the instance to a borrower.
func (p *Pool[T]) create(ctx context.Context, waited time.Duration) (T, error) {
	v, err := p.newInstance(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	p.mu.Lock()
	if p.closed {
		p.inUse--
		p.destroying++
		p.mu.Unlock()
		p.destroyInstance(v, nil)
		var zero T
		return zero, fmt.Errorf("pool: borrow: %w", ErrClosed)
	}
	p.mu.Unlock()
	p.borrowed(waited)
	return v, nil
}

// newInstance calls the factory for a reserved slot, and frees the slot if
// the factory fails or panics.
func (p *Pool[T]) newInstance(ctx context.Context) (v T, err error) {
	ok := false
	defer func() {
		if ok {
			return
		}
		p.mu.Lock()
		p.live--
		p.inUse--
		p.slotFreedLocked()
		p.mu.Unlock()
	}()
	v, err = p.factory(ctx)
	if err != nil {
		p.emit(Event{Kind: EventCreate, Err: err})
		return v, fmt.Errorf("pool: create instance: %w", err)
	}
	ok = true
	p.created.Add(1)
	p.emit(Event{Kind: EventCreate})
	return v, nil
}

// Return gives back a borrowed instance that can serve again. Return calls
// [Options.Reset] on the caller's goroutine, then hands the instance to the
// first waiting borrower or keeps it idle. The instance is destroyed
// instead if Reset fails, if the pool holds more instances than Max after
// [Pool.Resize], or if the pool is closed.
func (p *Pool[T]) Return(v T) {
	p.emit(Event{Kind: EventReturn})
	if p.reset != nil {
		if err := p.reset(v); err != nil {
			p.release(v, err)
			return
		}
	}
	p.put(v)
}

// Discard gives back a borrowed instance that is broken: the pool destroys
// it on the caller's goroutine and frees its slot for a new instance.
func (p *Pool[T]) Discard(v T) {
	p.release(v, nil)
}

// release destroys a borrowed instance; cause is the Reset error, if any.
func (p *Pool[T]) release(v T, cause error) {
	p.mu.Lock()
	p.checkBorrowedLocked()
	p.inUse--
	p.destroying++
	p.mu.Unlock()
	p.destroyInstance(v, cause)
}

func (p *Pool[T]) checkBorrowedLocked() {
	if p.inUse == 0 {
		p.mu.Unlock()
		panic("pool: an instance was given back that was not borrowed")
	}
}

// put gives v, which counts in inUse, to the first waiter, makes it idle,
// or destroys it if the pool is closed or holds too many instances.
func (p *Pool[T]) put(v T) {
	p.mu.Lock()
	p.checkBorrowedLocked()
	if p.closed || p.live-p.destroying > p.max {
		p.inUse--
		p.destroying++
		p.mu.Unlock()
		p.destroyInstance(v, nil)
		return
	}
	if w := p.waiters.pop(); w != nil {
		w.ch <- grant[T]{v: v} // buffered, and sent once
		p.mu.Unlock()
		return
	}
	p.inUse--
	p.idle = append(p.idle, idleInstance[T]{v: v, since: time.Now()})
	p.mu.Unlock()
}

// destroyInstance destroys v, which counts in live and destroying, and
// then frees its slot: the slot stays taken while Destroy runs, so that
// no more than Max instances ever exist.
func (p *Pool[T]) destroyInstance(v T, cause error) {
	defer func() {
		p.mu.Lock()
		p.destroying--
		p.live--
		p.slotFreedLocked()
		p.mu.Unlock()
	}()
	if p.destroy != nil {
		p.destroy(v)
	}
	p.destroyed.Add(1)
	p.emit(Event{Kind: EventDestroy, Err: cause})
}

// slotFreedLocked runs with p.mu held after live went down: it lets the
// first waiter create an instance in the slot, or notes that a closed pool
// has drained.
func (p *Pool[T]) slotFreedLocked() {
	if p.closed {
		if p.live == 0 && !p.isDrained {
			p.isDrained = true
			close(p.drained)
		}
		return
	}
	p.grantCreatesLocked()
}

// grantCreatesLocked lets waiters create instances while there is room.
func (p *Pool[T]) grantCreatesLocked() {
	for p.live < p.max {
		w := p.waiters.pop()
		if w == nil {
			return
		}
		p.live++
		p.inUse++
		w.ch <- grant[T]{create: true}
	}
}

// Fill creates instances until Min exist (or Max, if that is lower) and
// keeps them idle, or gives them to waiting borrowers. It stops at the
// first factory error and returns it. Fill runs the factory on the
// caller's goroutine with ctx.
func (p *Pool[T]) Fill(ctx context.Context) error {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return fmt.Errorf("pool: fill: %w", ErrClosed)
		}
		if p.live-p.destroying >= p.min || p.live >= p.max {
			p.mu.Unlock()
			return nil
		}
		p.live++
		p.inUse++
		p.mu.Unlock()
		v, err := p.newInstance(ctx)
		if err != nil {
			return err
		}
		p.put(v)
	}
}

// Resize changes the bounds at run time. Idle instances above the new Max
// are destroyed at once, on the caller's goroutine; borrowed instances
// above it are destroyed when they come back, so the pool may hold more
// than Max instances until they do. A larger Max lets waiting borrowers
// create instances at once. Resize creates no instance for a larger Min
// (call [Pool.Fill] for that).
//
// Resize fails with an error matching [remoting.ErrInvalidArgument] for
// invalid bounds (max must be at least 1), and with [ErrClosed] once the
// pool is closed.
func (p *Pool[T]) Resize(min, max int) error {
	if err := CheckBounds(min, max); err != nil {
		return err
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return fmt.Errorf("pool: resize: %w", ErrClosed)
	}
	p.min, p.max = min, max
	var surplus []T
	for p.live-p.destroying > p.max && len(p.idle) > 0 {
		surplus = append(surplus, p.popOldestLocked())
	}
	p.grantCreatesLocked()
	p.mu.Unlock()
	for _, v := range surplus {
		p.destroyInstance(v, nil)
	}
	return nil
}

// popOldestLocked removes the instance that has been idle longest and
// counts it as being destroyed.
func (p *Pool[T]) popOldestLocked() T {
	v := p.idle[0].v
	p.idle[0] = idleInstance[T]{}
	p.idle = p.idle[1:]
	p.destroying++
	return v
}

// reap is the reaper goroutine: it destroys instances idle for longer than
// the idle timeout while more than Min exist. It sleeps until the oldest
// idle instance reaches the timeout, or a whole timeout when none does.
func (p *Pool[T]) reap() {
	defer close(p.reaperDone)
	t := time.NewTimer(p.idleTimeout)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		now := time.Now()
		var expired []T
		p.mu.Lock()
		for len(p.idle) > 0 && p.live-p.destroying > p.min && now.Sub(p.idle[0].since) >= p.idleTimeout {
			expired = append(expired, p.popOldestLocked())
		}
		next := p.idleTimeout
		if len(p.idle) > 0 && p.live-p.destroying > p.min {
			next = p.idle[0].since.Add(p.idleTimeout).Sub(now)
		}
		p.mu.Unlock()
		for _, v := range expired {
			p.destroyInstance(v, nil)
		}
		t.Reset(next)
	}
}

// Stats returns a snapshot of the pool's state and counters.
func (p *Pool[T]) Stats() Stats {
	p.mu.Lock()
	s := Stats{
		Min:     p.min,
		Max:     p.max,
		Live:    p.live,
		Idle:    len(p.idle),
		InUse:   p.inUse,
		Waiters: p.waiters.n,
	}
	p.mu.Unlock()
	s.Borrows = p.borrows.Load()
	s.Exhausted = p.exhausted.Load()
	s.Created = p.created.Load()
	s.Destroyed = p.destroyed.Load()
	return s
}

// Close closes the pool: borrowers that are waiting get [ErrClosed], as do
// later calls to Borrow, idle instances are destroyed on the caller's
// goroutine, and borrowed instances are destroyed as they come back.
// Close stops the reaper goroutine and waits for it, but not for borrowed
// instances: [Pool.Shutdown] does. Close is idempotent and always returns
// nil.
func (p *Pool[T]) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		idle := make([]T, 0, len(p.idle))
		for len(p.idle) > 0 {
			idle = append(idle, p.popOldestLocked())
		}
		for w := p.waiters.pop(); w != nil; w = p.waiters.pop() {
			w.ch <- grant[T]{err: ErrClosed}
		}
		if p.live == 0 {
			p.isDrained = true
			close(p.drained)
		}
		p.mu.Unlock()
		close(p.stop)
		for _, v := range idle {
			p.destroyInstance(v, nil)
		}
	})
	<-p.reaperDone
	return nil
}

// Shutdown closes the pool as [Pool.Close] does, then waits until every
// borrowed instance has come back and been destroyed, or ctx ends. In the
// latter case it returns an error that wraps ctx's error; instances that
// come back later are still destroyed.
func (p *Pool[T]) Shutdown(ctx context.Context) error {
	p.Close()
	select {
	case <-p.drained:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		n := p.live
		p.mu.Unlock()
		return fmt.Errorf("pool: shutdown: %d instances not yet given back: %w", n, ctx.Err())
	}
}

func (p *Pool[T]) emit(e Event) {
	if p.observe != nil {
		p.observe(e)
	}
}

// grant is what a waiting borrower receives: an instance, permission to
// create one in a reserved slot, or an error.
type grant[T any] struct {
	v      T
	create bool
	err    error
}

// waiter is a borrower waiting in line.
type waiter[T any] struct {
	ch         chan grant[T] // buffered: receives exactly one grant
	prev, next *waiter[T]
	queued     bool
}

// waitQueue is a FIFO of waiters that can remove one from the middle in
// constant time (when its context ends).
type waitQueue[T any] struct {
	head, tail *waiter[T]
	n          int
}

func (q *waitQueue[T]) push(w *waiter[T]) {
	w.prev, w.next, w.queued = q.tail, nil, true
	if q.tail == nil {
		q.head = w
	} else {
		q.tail.next = w
	}
	q.tail = w
	q.n++
}

func (q *waitQueue[T]) pop() *waiter[T] {
	w := q.head
	if w != nil {
		q.remove(w)
	}
	return w
}

func (q *waitQueue[T]) remove(w *waiter[T]) {
	if w.prev == nil {
		q.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		q.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	w.prev, w.next, w.queued = nil, nil, false
	q.n--
}
