package lifecycle

import (
	"context"
	"fmt"

	"github.com/remoting-go/remoting"
)

// Strategy decides which instance serves each invocation of one registered
// object. Implementations are safe for concurrent use: Acquire and Release
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
	// Release gives back an instance that Acquire returned, when the
	// invocation has ended.
	Release(instance any)
	// Close ends the strategy's instances; the server calls it at shutdown.
	Close(ctx context.Context) error
}

// Binding describes the registered object a Strategy serves.
type Binding struct {
	// ID is the object's id.
	ID remoting.ObjectID
	// Name is the name the object is registered under; empty for an
	// anonymous object.
	Name string
	// Interface is the fully qualified name of the remote interface.
	Interface string
	// Implements reports whether a value implements the interface.
	Implements func(instance any) bool
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
// safe for concurrent use. If impl implements io.Closer-like
// interface{ Close(context.Context) error }, it is closed at shutdown.
func Static(impl any) Strategy { return &static{impl: impl} }

type static struct{ impl any }

func (s *static) Bind(b Binding) error {
	if s.impl == nil {
		return remoting.Errorf(remoting.CodeInvalidArgument, "static instance of %s is nil", b.Interface)
	}
	return b.Check(s.impl)
}

func (s *static) Acquire(context.Context) (any, error) { return s.impl, nil }

func (s *static) Release(any) {}

func (s *static) Close(ctx context.Context) error {
	if c, ok := s.impl.(interface{ Close(context.Context) error }); ok {
		if err := c.Close(ctx); err != nil {
			return fmt.Errorf("lifecycle: close static instance: %w", err)
		}
	}
	return nil
}
