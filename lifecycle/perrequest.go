package lifecycle

import (
	"context"
	"sync/atomic"

	"github.com/remoting-go/remoting"
)

// PerRequest returns the Per-Request Instance strategy: every call gets a
// fresh instance from newFn, which serves that call alone and is dropped
// after it. The instance need not be safe for concurrent use, and no state
// passes from one call to the next.
//
// Acquire runs newFn and the instance's Activate, if it is an [Activator],
// on the call's goroutine with the call's context; their errors go to the
// caller as a method's errors do. Return, after the call, runs the
// instance's Deactivate, if it is a [Deactivator], on the same goroutine.
// Return has no context of its own, so Deactivate gets
// context.Background(): bound its work yourself if it can block.
//
// The strategy adds nothing to a call but newFn itself, the hooks and one
// atomic load, so a cheap constructor costs about as much as a Static
// Instance.
//
// T may be the remote interface, a concrete type or another interface; see
// [Lazy] for how it is checked.
func PerRequest[T any](newFn func(ctx context.Context) (T, error)) Strategy {
	return &perRequest[T]{newFn: newFn}
}

type perRequest[T any] struct {
	newFn  func(context.Context) (T, error)
	b      Binding
	check  bool
	closed atomic.Bool
}

func (s *perRequest[T]) Bind(b Binding) error {
	if s.newFn == nil {
		return remoting.Errorf(remoting.CodeInvalidArgument, "per-request %s: nil constructor", b.Interface)
	}
	check, err := checkType[T](&b)
	if err != nil {
		return err
	}
	s.b, s.check = b, check
	return nil
}

func (s *perRequest[T]) Acquire(ctx context.Context) (any, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	v, err := newInstance(ctx, &s.b, s.check, s.newFn)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// Name returns [NamePerRequest].
func (s *perRequest[T]) Name() string { return NamePerRequest }

func (s *perRequest[T]) Return(instance any) {
	deactivate(context.Background(), &s.b, instance)
}

// Close makes later calls fail; instances serving calls still end with
// those calls.
func (s *perRequest[T]) Close(context.Context) error {
	s.closed.Store(true)
	return nil
}
