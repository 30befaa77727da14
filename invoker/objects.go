package invoker

import (
	"context"
	"fmt"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/dispatch"
	"github.com/remoting-go/remoting/lifecycle"
)

// owners gives the server's object table the lifecycle manager of the
// objects that remote factories create for clients.
type owners struct{ s *Server }

func (o owners) Export(obj dispatch.Object, impl any, insert func(dispatch.Object) error) error {
	b := lifecycle.Binding{ID: obj.ID, Interface: obj.Invoker.Interface, Implements: obj.Invoker.Implements, Observe: o.s.observe}
	return o.s.mgr.Export(obj.Owner, b, impl, func(st lifecycle.Strategy) error {
		obj.Instances = st
		return insert(obj)
	})
}

func (o owners) End(id remoting.ObjectID) error          { return o.s.mgr.End(id) }
func (o owners) Gone(caller, id remoting.ObjectID) error { return o.s.mgr.Gone(caller, id) }
func (o owners) Close(ctx context.Context) error         { return o.s.mgr.Close(ctx) }
func (o owners) Renew(caller remoting.ObjectID, ids []remoting.ObjectID) []time.Duration {
	return o.s.mgr.Renew(caller, ids)
}

var _ dispatch.Owners = owners{}

// ObjectInfo describes one registered object, for introspection.
type ObjectInfo struct {
	ID        remoting.ObjectID
	Name      string // empty for objects without a name
	Interface string
	// Strategy names the lifecycle strategy: lifecycle.NameStatic
	// ("static"), NameLazy, NamePerRequest, NamePooled,
	// NameClientDependent, NameKeyed, the Name of a strategy of the application's
	// own that has one, or else its Go type.
	Strategy string
	// Owner is the id of the client the object belongs to; zero for
	// objects any client may call.
	Owner remoting.ObjectID
	// Key is the key of a keyed object (Strategy lifecycle.NameKeyed);
	// empty for others.
	Key string
}

// Objects lists the server's registered objects, named and created, in no
// particular order.
func (s *Server) Objects() []ObjectInfo {
	var out []ObjectInfo
	s.reg.Range(func(o dispatch.Object) bool {
		st := o.Instances.(lifecycle.Strategy)
		out = append(out, ObjectInfo{ID: o.ID, Name: o.Name, Interface: o.Invoker.Interface, Strategy: strategyName(st), Owner: o.Owner, Key: o.Key})
		return true
	})
	return out
}

// strategyName is the strategy's own Name, or else its Go type.
func strategyName(s lifecycle.Strategy) string {
	if n, ok := s.(interface{ Name() string }); ok {
		return n.Name()
	}
	return fmt.Sprintf("%T", s)
}
