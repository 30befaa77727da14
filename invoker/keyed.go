package invoker

import (
	"context"
	"fmt"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/codegen"
	"github.com/remoting-go/remoting/internal/dispatch"
	"github.com/remoting-go/remoting/lifecycle"
)

// Keyed makes the objects of the interface inv serves (stubgen's
// <Interface>Invoker()) keyed objects, which live as k says (see
// lifecycle.Keyed): an object per key, which any client calls through
// the generated <Interface>ByKey, activated by its first call, from the
// state k's store keeps for it, and passivated when idle.
//
//	err := srv.Keyed(bank.AccountInvoker(), lifecycle.Keyed(newAccount, lifecycle.KeyedOptions{Store: store}))
//
// Interceptors, every invocation mode, lifecycle events and Objects work
// for keyed objects as for the others; Objects lists those that have an
// instance, with their keys. Keyed fails if the interface is keyed
// already, if k is bound to another server or interface, or if an option
// of k cannot work.
func (s *Server) Keyed(inv *codegen.Invoker, k *lifecycle.KeyedObjects) error {
	if s.shuttingDown() {
		return ErrServerClosed
	}
	if err := dispatch.Check(inv); err != nil {
		return fmt.Errorf("invoker: keyed: %w", err)
	}
	if k == nil {
		return remoting.Errorf(remoting.CodeInvalidArgument, "keyed %s: nil lifecycle.KeyedObjects", inv.Interface)
	}
	b := lifecycle.Binding{Interface: inv.Interface, Implements: inv.Implements, Observe: s.observe}
	leave := func(id remoting.ObjectID, st lifecycle.Strategy) { s.reg.LeaveKeyed(id, st) }
	if err := k.Bind(b, leave); err != nil {
		return fmt.Errorf("invoker: keyed %s: %w", inv.Interface, err)
	}
	if err := s.reg.RegisterKeys(inv, keys{k}); err != nil {
		k.Close()
		return fmt.Errorf("invoker: keyed %s: %w", inv.Interface, err)
	}
	return nil
}

// keys gives the server's object table the lifecycle of one keyed
// interface.
type keys struct{ k *lifecycle.KeyedObjects }

func (k keys) Object(id remoting.ObjectID, key string) dispatch.Instances { return k.k.Object(id, key) }
func (k keys) Left(err error) bool                                        { return k.k.Left(err) }
func (k keys) Close(context.Context) error                                { return k.k.Close() }

var _ dispatch.Keys = keys{}
