package lifecycle

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/remoting-go/remoting"
)

// Lazy returns the Lazy Acquisition strategy: newFn creates the one
// instance when the first call arrives, and that instance then serves
// every call, concurrently, until Close. The instance must be safe for
// concurrent use.
//
// However many calls arrive before the instance exists, newFn runs once at
// a time: the first call runs it (and the instance's Activate, if it is an
// [Activator]) on its own goroutine with its own context, and the calls
// that arrive meanwhile wait for that attempt, each until its own context
// ends. If the attempt fails, every call that waited for it gets the
// error and the next call starts a new attempt. A constructor error
// reaches the callers as a method's error does: a [*remoting.Error] keeps
// its code, any other error arrives with [remoting.CodeApplication]. A
// waiting call does not take the error of an attempt that failed only
// because the first call's context ended: it starts a new attempt.
//
// Once the instance exists, Acquire costs one atomic load. Close calls
// the instance's Deactivate, if it is a [Deactivator], with Close's
// context.
//
// T may be the remote interface, a concrete type or another interface.
// For a concrete T, Bind refuses the registration if T does not implement
// the interface. Otherwise that can only be known from an instance, so
// each created instance is checked, and a wrong one fails its attempt with
// [remoting.CodeInternal].
func Lazy[T any](newFn func(ctx context.Context) (T, error)) Strategy {
	return &lazy[T]{newFn: newFn}
}

type lazy[T any] struct {
	newFn func(context.Context) (T, error)
	b     Binding
	check bool // check each instance against the interface

	inst atomic.Pointer[lazyInstance] // set once created; nil again after Close

	mu      sync.Mutex
	pending *attempt // the creation in progress, or nil
	closed  bool
}

type lazyInstance struct{ v any }

// attempt is one run of the constructor that calls wait for.
type attempt struct {
	done chan struct{} // closed when err and abandoned are set
	err  error
	// abandoned says that the attempt failed while its runner's context
	// had ended, so the failure may say nothing about the constructor.
	abandoned bool
}

func (l *lazy[T]) Bind(b Binding) error {
	if l.newFn == nil {
		return remoting.Errorf(remoting.CodeInvalidArgument, "lazy %s: nil constructor", b.Interface)
	}
	check, err := checkType[T](&b)
	if err != nil {
		return err
	}
	l.b, l.check = b, check
	return nil
}

func (l *lazy[T]) Acquire(ctx context.Context) (any, error) {
	if p := l.inst.Load(); p != nil {
		return p.v, nil
	}
	return l.acquireSlow(ctx)
}

// acquireSlow runs before the instance exists: it joins the attempt in
// progress or starts one.
func (l *lazy[T]) acquireSlow(ctx context.Context) (any, error) {
	for {
		l.mu.Lock()
		if p := l.inst.Load(); p != nil {
			l.mu.Unlock()
			return p.v, nil
		}
		if l.closed {
			l.mu.Unlock()
			return nil, ErrClosed
		}
		a := l.pending
		if a == nil {
			a = &attempt{done: make(chan struct{})}
			l.pending = a
			l.mu.Unlock()
			return l.create(ctx, a)
		}
		l.mu.Unlock()
		select {
		case <-a.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("lifecycle: waiting for %s to be created: %w", l.b.Interface, ctx.Err())
		}
		if a.err != nil && !(a.abandoned && ctx.Err() == nil) {
			return nil, a.err
		}
		// Created (the loop finds it, or finds the strategy closed), or
		// abandoned by a caller that gave up: try again.
	}
}

// create runs attempt a on the caller's goroutine and publishes its
// outcome.
func (l *lazy[T]) create(ctx context.Context, a *attempt) (any, error) {
	v, err := newInstance(ctx, &l.b, l.check, l.newFn)
	inst := any(v)
	l.mu.Lock()
	l.pending = nil
	// If Close ran while the instance was being created, the instance is
	// ours to end.
	orphan := err == nil && l.closed
	if orphan {
		err = ErrClosed
	} else if err == nil {
		l.inst.Store(&lazyInstance{v: inst})
	}
	a.err, a.abandoned = err, err != nil && ctx.Err() != nil
	l.mu.Unlock()
	close(a.done)
	if orphan {
		deactivate(context.WithoutCancel(ctx), &l.b, inst)
	}
	if err != nil {
		return nil, err
	}
	return inst, nil
}

func (l *lazy[T]) Return(any) {}

// Name returns [NameLazy].
func (l *lazy[T]) Name() string { return NameLazy }

func (l *lazy[T]) Close(ctx context.Context) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	p := l.inst.Swap(nil)
	l.mu.Unlock()
	if p == nil {
		return nil
	}
	return deactivate(ctx, &l.b, p.v)
}
