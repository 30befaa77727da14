package invoker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/peer"
	"github.com/remoting-go/remoting/internal/wire"
	"github.com/remoting-go/remoting/lifecycle"
)

// Registry is the table of objects that one end of a connection serves,
// and the Invoker that dispatches requests to them. A Server has one; a
// requestor.Client has one for the callback objects it exports to its
// server. It is safe for concurrent use.
type Registry struct {
	logger  *slog.Logger
	objects objectTable
	chain   atomic.Pointer[remoting.Interceptor] // nil: no interceptors

	// mgr keeps the objects peers own, their leases and passivation; a
	// Server's registry has one. Without it (a client's registry), owned
	// objects are static and ReleaseOwner ends them.
	mgr     *lifecycle.Manager
	observe func(remoting.Event) // the server's observers, for exported objects

	mu     sync.Mutex
	owned  map[remoting.ObjectID]map[remoting.ObjectID]struct{} // owner -> ids, without mgr
	closed bool
}

// object is one registered object.
type object struct {
	id       remoting.ObjectID
	name     string
	skeleton *Skeleton
	strategy lifecycle.Strategy
	// owner is the peer id of the only peer that may call the object (the
	// client that created it); zero for objects anyone may call.
	owner remoting.ObjectID
}

// NewRegistry returns an empty registry that logs panics of user code to
// logger (nil: discard).
func NewRegistry(logger *slog.Logger) *Registry {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Registry{logger: logger, owned: make(map[remoting.ObjectID]map[remoting.ObjectID]struct{})}
}

// checkSkeleton refuses skeletons that cannot serve.
func checkSkeleton(sk *Skeleton) error {
	if sk == nil || sk.Interface == "" || len(sk.Methods) == 0 || sk.Implements == nil {
		return remoting.Errorf(remoting.CodeInvalidArgument, "incomplete skeleton")
	}
	return nil
}

// add binds the strategy and enters the object into the table.
func (r *Registry) add(obj *object, b lifecycle.Binding) error {
	if err := checkSkeleton(obj.skeleton); err != nil {
		return err
	}
	if obj.strategy == nil {
		return remoting.Errorf(remoting.CodeInvalidArgument, "nil lifecycle strategy")
	}
	if err := obj.strategy.Bind(b); err != nil {
		return err
	}
	return r.insert(obj)
}

// insert enters an object whose strategy is bound into the table.
func (r *Registry) insert(obj *object) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrServerClosed
	}
	if _, dup := r.objects.LoadOrStore(obj.id, obj); dup {
		return remoting.Errorf(remoting.CodeInvalidArgument, "object %s already registered", obj.id)
	}
	if !obj.owner.IsZero() && r.mgr == nil {
		ids := r.owned[obj.owner]
		if ids == nil {
			ids = make(map[remoting.ObjectID]struct{})
			r.owned[obj.owner] = ids
		}
		ids[obj.id] = struct{}{}
	}
	return nil
}

// drop removes an object that its lifecycle manager ended.
func (r *Registry) drop(id remoting.ObjectID) { r.objects.LoadAndDelete(id) }

// Export makes impl reachable as a new anonymous object that only owner
// may call, and returns its reference. It is how objects a method returns
// (remote factories) and callback objects passed as arguments become
// remote. In a Server's registry the object lives by the lifecycle.Policy
// registered for its interface (see Server.Policy); by default, and in a
// client's registry, it serves as a Static Instance until it is released,
// its owner has been gone for the grace period, or the registry closes. A
// nil impl exports nothing and returns the zero Ref.
func (r *Registry) Export(owner remoting.ObjectID, sk *Skeleton, impl any) (remoting.Ref, error) {
	if impl == nil {
		return remoting.Ref{}, nil
	}
	if err := checkSkeleton(sk); err != nil {
		return remoting.Ref{}, fmt.Errorf("invoker: export: %w", err)
	}
	id := remoting.NewObjectID()
	b := lifecycle.Binding{ID: id, Interface: sk.Interface, Implements: sk.Implements, Observe: r.observe}
	var err error
	if r.mgr == nil {
		err = r.add(&object{id: id, skeleton: sk, strategy: lifecycle.Static(impl), owner: owner}, b)
	} else {
		err = r.mgr.Export(owner, b, impl, func(st lifecycle.Strategy) error {
			return r.insert(&object{id: id, skeleton: sk, strategy: st, owner: owner})
		})
	}
	if err != nil {
		return remoting.Ref{}, fmt.Errorf("invoker: export %s: %w", sk.Interface, err)
	}
	return remoting.Ref{ID: id, Interface: sk.Interface}, nil
}

// Unregister removes an object: later calls get NotFound. Calls already
// running finish. The strategy is closed with ctx; an object a peer owns
// ends as if that peer released it.
func (r *Registry) Unregister(ctx context.Context, id remoting.ObjectID) error {
	if v, ok := r.objects.Load(id); ok && r.mgr != nil && !v.(*object).owner.IsZero() {
		return r.mgr.Release(id)
	}
	v, ok := r.objects.LoadAndDelete(id)
	if !ok {
		return remoting.Errorf(remoting.CodeNotFound, "invoker: unregister: object %s not found", id)
	}
	obj := v.(*object)
	if !obj.owner.IsZero() {
		r.mu.Lock()
		if ids := r.owned[obj.owner]; ids != nil {
			delete(ids, id)
			if len(ids) == 0 {
				delete(r.owned, obj.owner)
			}
		}
		r.mu.Unlock()
	}
	return obj.strategy.Close(ctx)
}

// ReleaseOwner unregisters every object owner owns, for example when the
// peer that owned them has gone, and returns how many it released. It is
// for a registry without a lifecycle manager (a client's): a Server's
// registry ends the objects of a vanished client after its grace period.
func (r *Registry) ReleaseOwner(ctx context.Context, owner remoting.ObjectID) int {
	r.mu.Lock()
	ids := r.owned[owner]
	delete(r.owned, owner)
	r.mu.Unlock()
	for id := range ids {
		if v, ok := r.objects.LoadAndDelete(id); ok {
			v.(*object).strategy.Close(ctx)
		}
	}
	return len(ids)
}

// Len returns the number of registered objects.
func (r *Registry) Len() int {
	n := 0
	r.objects.Range(func(any, any) bool { n++; return true })
	return n
}

// Close refuses further registrations and closes every object's strategy,
// first those of the objects peers own, which may passivate (see
// lifecycle.Manager.Close).
func (r *Registry) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	var errs []error
	if r.mgr != nil {
		errs = append(errs, r.mgr.Close(ctx))
	}
	r.objects.Range(func(k, v any) bool {
		if err := v.(*object).strategy.Close(ctx); err != nil {
			errs = append(errs, err)
		}
		return true
	})
	return errors.Join(errs...)
}

// renew serves the renewal of leases: the caller's renewer sends the ids
// of the objects it holds.
func (r *Registry) renew(caller remoting.ObjectID, args Args) (any, error) {
	var a wire.RenewArgs
	if err := args.Decode(&a); err != nil {
		return nil, err
	}
	ttls := r.mgr.Renew(caller, a.IDs)
	reply := &wire.RenewReply{TTLs: make([]int64, len(ttls))}
	for i, ttl := range ttls {
		switch {
		case ttl > 0:
			reply.TTLs[i] = max(ttl.Microseconds(), 1)
		case ttl == 0:
			reply.TTLs[i] = wire.RenewNoLease
		default:
			reply.TTLs[i] = wire.RenewGone
		}
	}
	return reply, nil
}

// lookup serves the naming service.
func (r *Registry) lookup(args Args) (any, error) {
	var a wire.LookupArgs
	if err := args.Decode(&a); err != nil {
		return nil, err
	}
	v, ok := r.objects.Load(remoting.NameID(a.Name))
	if !ok || v.(*object).name != a.Name {
		return nil, remoting.Errorf(remoting.CodeNotFound, "no object named %q", a.Name)
	}
	obj := v.(*object)
	return &wire.LookupReply{ID: obj.id, Interface: obj.skeleton.Interface}, nil
}

// Dispatch is the Invoker. It finds the object and method (an object owned
// by another peer is not found, with no hint that it exists), accepts the
// request, gets an instance from the object's lifecycle strategy and calls
// the method through the skeleton. A panic in user code becomes an
// Internal error for that caller. For the runtime's connections.
func (r *Registry) Dispatch(ctx context.Context, req *peer.Request) (reply any, err error) {
	f := req.Frame
	caller := req.Peer.Session().PeerID()
	args := Args{body: f.Body, reg: r, peer: req.Peer}
	if f.Object.IsZero() {
		switch {
		case f.Method == wire.LookupMethod:
			req.Accept()
			return r.lookup(args)
		case f.Method == wire.RenewMethod && r.mgr != nil:
			req.Accept()
			return r.renew(caller, args)
		}
		return nil, remoting.Errorf(remoting.CodeNotFound, "method %q not found on the naming service", f.Method)
	}
	v, ok := r.objects.Load(f.Object)
	if !ok || (!v.(*object).owner.IsZero() && v.(*object).owner != caller) {
		if r.mgr != nil {
			if err := r.mgr.Ended(caller, f.Object); err != nil {
				return nil, err
			}
		}
		return nil, remoting.Errorf(remoting.CodeNotFound, "object %s not found", f.Object)
	}
	obj := v.(*object)
	if f.Method == wire.ReleaseMethod {
		if obj.owner.IsZero() {
			return nil, remoting.Errorf(remoting.CodePermissionDenied, "object %s is not owned by a client and cannot be released remotely", f.Object)
		}
		req.Accept()
		if err := r.Unregister(ctx, f.Object); err != nil && remoting.CodeOf(err) != remoting.CodeNotFound {
			return nil, err
		}
		return nil, nil
	}
	m, ok := obj.skeleton.Methods[f.Method]
	if !ok {
		return nil, remoting.Errorf(remoting.CodeNotFound, "method %q not found on %s", f.Method, obj.skeleton.Interface)
	}
	ctx = remoting.NewServerContext(ctx, remoting.ServerInfo{Peer: caller, Remote: req.Peer.Remote(), Deadline: f.Deadline}, f.Meta)
	if chain := r.chain.Load(); chain != nil {
		return r.intercepted(ctx, *chain, req, obj, m, args)
	}
	return r.call(ctx, req, obj, m, f.Method, args)
}

// intercepted runs the call through the interceptor chain. It is a
// function of its own so that the closure's captures do not make the
// uninterrupted path allocate.
func (r *Registry) intercepted(ctx context.Context, chain remoting.Interceptor, req *peer.Request, obj *object, m Method, args Args) (any, error) {
	f := req.Frame
	inv := &remoting.Invocation{
		Target: remoting.Ref{ID: obj.id, Interface: obj.skeleton.Interface},
		Method: f.Method,
		Meta:   f.Meta,
		Mode:   modeOf(f.Flags),
	}
	err := chain(ctx, inv, func(ctx context.Context, inv *remoting.Invocation) error {
		reply, err := r.call(ctx, req, obj, m, inv.Method, args)
		inv.Reply = reply
		return err
	})
	if err != nil {
		return nil, err
	}
	return inv.Reply, nil
}

// call accepts the request (a Sync-with-Server caller gets its ack only
// once the interceptors let the call through, so it learns of a refusal),
// gets an instance from the object's lifecycle strategy and runs the
// method on it; a panic in user code becomes an Internal error.
func (r *Registry) call(ctx context.Context, req *peer.Request, obj *object, m Method, method string, args Args) (reply any, err error) {
	req.Accept()
	inst, err := obj.strategy.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer obj.strategy.Return(inst)
	defer func() {
		if p := recover(); p != nil {
			r.logger.Error("remoting: panic in remote method", "method", method, "object", obj.id, "panic", p, "stack", string(debug.Stack()))
			reply, err = nil, remoting.Errorf(remoting.CodeInternal, "panic in %s: %v", method, p)
		}
	}()
	return m(ctx, inst, args)
}

// SetInterceptors replaces the server-side interceptor chain (first
// outermost) atomically: calls in flight finish on the chain they started
// with, later calls take the new one, and the call path takes no lock.
// The chain runs after the object and method are found and before the
// lifecycle strategy is asked for an instance, so a call an interceptor
// refuses activates nothing.
func (r *Registry) SetInterceptors(interceptors ...remoting.Interceptor) {
	ic := remoting.Chain(interceptors...)
	if ic == nil {
		r.chain.Store(nil)
		return
	}
	r.chain.Store(&ic)
}

func modeOf(fl wire.Flags) remoting.Mode {
	switch {
	case fl&wire.FlagAck != 0:
		return remoting.ModeSyncWithServer
	case fl&wire.FlagNoReply != 0:
		return remoting.ModeOneway
	}
	return remoting.ModeSync
}

var _ peer.Dispatcher = (*Registry)(nil)

// ObjectInfo describes one registered object, for introspection.
type ObjectInfo struct {
	ID        remoting.ObjectID
	Name      string // empty for objects without a name
	Interface string
	// Strategy names the lifecycle strategy: "static", "lazy",
	// "perrequest", "pooled", "clientdependent", or the Go type of a
	// strategy of the application's own.
	Strategy string
	// Owner is the peer id of the client the object belongs to; zero for
	// objects any client may call.
	Owner remoting.ObjectID
}

// Objects lists the registered objects, in no particular order.
func (r *Registry) Objects() []ObjectInfo {
	var out []ObjectInfo
	r.objects.Range(func(_, v any) bool {
		o := v.(*object)
		out = append(out, ObjectInfo{ID: o.id, Name: o.name, Interface: o.skeleton.Interface, Strategy: strategyName(o.strategy), Owner: o.owner})
		return true
	})
	return out
}

// strategyName is the strategy's type name without package and pointer,
// lower case: lifecycle.Static's *static is "static".
func strategyName(s lifecycle.Strategy) string {
	if n, ok := s.(interface{ Name() string }); ok {
		return n.Name()
	}
	name := fmt.Sprintf("%T", s)
	name = strings.TrimPrefix(name, "*")
	if i := strings.LastIndexByte(name, '.'); i >= 0 && strings.HasPrefix(name, "lifecycle.") {
		name = name[i+1:]
		if j := strings.IndexByte(name, '['); j >= 0 {
			name = name[:j] // generic strategies: lazy[...]
		}
		return strings.ToLower(name)
	}
	return name
}
