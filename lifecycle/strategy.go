package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/remoting-go/remoting"
)

// ErrClosed is returned by Acquire once a strategy is closed. It is a
// [*remoting.Error] with [remoting.CodeUnavailable], so it also matches
// [remoting.ErrUnavailable].
var ErrClosed error = &remoting.Error{Code: remoting.CodeUnavailable, Message: "object closed"}

// Strategy decides which instance serves each invocation of one registered
// object. Implementations are safe for concurrent use: Acquire and Return
// are called from many invocations at once.
type Strategy interface {
	// Bind is called once, when the object is registered. It may refuse
	// the registration, for example when an instance does not implement
	// the interface.
	Bind(b Binding) error
	// Acquire returns the instance that serves one invocation of b.ID.
	// Its error goes to the caller; use a *remoting.Error to choose the
	// code.
	Acquire(ctx context.Context) (any, error)
	// Return gives back an instance that Acquire returned, when the
	// invocation has ended; it is the strategy's to keep, reuse or end.
	// (Ending an object for good is another verb: Manager.Release.)
	Return(instance any)
	// Close ends the strategy's instances; the server calls it at shutdown
	// and when the object is unregistered. Close is idempotent, and
	// Acquire fails with ErrClosed after it.
	Close(ctx context.Context) error
}

// The names of the strategies of this package, as their Name methods
// return them. Introspection (invoker.Server.Objects, and through it the
// admin endpoint's /debug/remoting) shows a strategy by its Name() string
// method, if it has one; every strategy of this package has.
const (
	NameStatic          = "static"
	NameLazy            = "lazy"
	NamePerRequest      = "perrequest"
	NamePooled          = "pooled"
	NameClientDependent = "clientdependent" // also with a lease or passivation
)

// Binding describes the registered object a Strategy serves.
type Binding struct {
	// ID is the object's id.
	ID remoting.ObjectID
	// Name is the name the object is registered under; empty for an
	// anonymous object.
	Name string
	// Interface is the fully qualified name of the remote interface.
	Interface string
	// Key is the key of a keyed object (see [Keyed]); empty for others.
	Key string
	// Implements reports whether a value implements the interface.
	Implements func(instance any) bool
	// Observe, if set, is told of the object's lifecycle events (see
	// [remoting.EventKind]), on the goroutine that caused each. The server
	// sets it from its observers with [Fanout]; it must be safe for
	// concurrent use and fast.
	Observe func(remoting.Event)
}

// Check returns an InvalidArgument error if instance does not implement
// the bound interface.
func (b Binding) Check(instance any) error {
	if b.Implements != nil && !b.Implements(instance) {
		return remoting.Errorf(remoting.CodeInvalidArgument, "%T does not implement %s", instance, b.Interface)
	}
	return nil
}

// Static returns the Static Instance strategy: impl serves every
// invocation, concurrently, from registration until shutdown. impl must be
// safe for concurrent use.
//
// Static creates nothing, so it calls no Activate: impl is ready when it
// is registered. It reports a [remoting.EventActivated] when it is bound.
// At Close it calls impl's Deactivate, if impl is a [Deactivator], and then
// impl's Close(context.Context) error, if it has one.
func Static(impl any) Strategy { return &static{impl: impl} }

type static struct {
	impl   any
	b      Binding
	closed atomic.Bool
}

func (s *static) Bind(b Binding) error {
	if s.impl == nil {
		return remoting.Errorf(remoting.CodeInvalidArgument, "static instance of %s is nil", b.Interface)
	}
	if err := b.Check(s.impl); err != nil {
		return err
	}
	s.b = b
	s.b.emit(remoting.EventActivated, 0, nil)
	return nil
}

func (s *static) Acquire(context.Context) (any, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	return s.impl, nil
}

func (s *static) Return(any) {}

// Name returns [NameStatic].
func (s *static) Name() string { return NameStatic }

func (s *static) Close(ctx context.Context) error {
	if s.closed.Swap(true) {
		return nil
	}
	err := deactivate(ctx, &s.b, s.impl)
	if c, ok := s.impl.(interface{ Close(context.Context) error }); ok {
		if cerr := c.Close(ctx); cerr != nil {
			err = errors.Join(err, fmt.Errorf("lifecycle: close static instance: %w", cerr))
		}
	}
	return err
}
