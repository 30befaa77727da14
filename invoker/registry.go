package invoker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/peer"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/wire"
)

// Registry is the table of objects that one end of a connection serves,
// and the Invoker that dispatches requests to them. A Server has one; a
// requestor.Client has one for the callback objects it exports to its
// server. It is safe for concurrent use.
type Registry struct {
	logger  *slog.Logger
	objects objectTable
	chain   atomic.Pointer[remoting.Interceptor] // nil: no interceptors

	mu     sync.Mutex
	owned  map[remoting.ObjectID]map[remoting.ObjectID]struct{} // owner -> ids
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
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrServerClosed
	}
	if _, dup := r.objects.LoadOrStore(obj.id, obj); dup {
		return remoting.Errorf(remoting.CodeInvalidArgument, "object %s already registered", obj.id)
	}
	if !obj.owner.IsZero() {
		ids := r.owned[obj.owner]
		if ids == nil {
			ids = make(map[remoting.ObjectID]struct{})
			r.owned[obj.owner] = ids
		}
		ids[obj.id] = struct{}{}
	}
	return nil
}

// Export makes impl reachable as a new anonymous object that only owner
// may call, and returns its reference. It is how objects a method returns
// (remote factories) and callback objects passed as arguments become
// remote. The object serves with the Static Instance strategy until it is
// released, its owner goes away, or the registry closes. A nil impl
// exports nothing and returns the zero Ref.
func (r *Registry) Export(owner remoting.ObjectID, sk *Skeleton, impl any) (remoting.Ref, error) {
	if impl == nil {
		return remoting.Ref{}, nil
	}
	id := remoting.NewObjectID()
	obj := &object{id: id, skeleton: sk, strategy: lifecycle.Static(impl), owner: owner}
	b := lifecycle.Binding{ID: id, Interface: sk.Interface, Implements: sk.Implements}
	if err := r.add(obj, b); err != nil {
		return remoting.Ref{}, fmt.Errorf("invoker: export %s: %w", sk.Interface, err)
	}
	return remoting.Ref{ID: id, Interface: sk.Interface}, nil
}

// Unregister removes an object: later calls get NotFound. Calls already
// running finish. The strategy is closed with ctx.
func (r *Registry) Unregister(ctx context.Context, id remoting.ObjectID) error {
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
// peer that owned them has gone. It returns how many it released.
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

// Close refuses further registrations and closes every object's strategy.
func (r *Registry) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	var errs []error
	r.objects.Range(func(k, v any) bool {
		if err := v.(*object).strategy.Close(ctx); err != nil {
			errs = append(errs, err)
		}
		return true
	})
	return errors.Join(errs...)
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
		if f.Method != wire.LookupMethod {
			return nil, remoting.Errorf(remoting.CodeNotFound, "method %q not found on the naming service", f.Method)
		}
		req.Accept()
		return r.lookup(args)
	}
	v, ok := r.objects.Load(f.Object)
	if !ok || (!v.(*object).owner.IsZero() && v.(*object).owner != caller) {
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
	req.Accept()
	ctx = remoting.NewServerContext(ctx, remoting.ServerInfo{Peer: caller, Remote: remoteAddr(req), Deadline: f.Deadline}, f.Meta)
	chain := r.chain.Load()
	if chain == nil {
		return r.call(ctx, obj, m, f.Method, args)
	}
	inv := &remoting.Invocation{
		Target: remoting.Ref{ID: obj.id, Interface: obj.skeleton.Interface},
		Method: f.Method,
		Meta:   f.Meta,
		Mode:   modeOf(f.Flags),
	}
	err = (*chain)(ctx, inv, func(ctx context.Context, inv *remoting.Invocation) error {
		var err error
		reply, err = r.call(ctx, obj, m, f.Method, args)
		inv.Reply = reply
		return err
	})
	if err != nil {
		return nil, err
	}
	return reply, nil
}

// call gets an instance from the object's lifecycle strategy and runs the
// method on it; a panic in user code becomes an Internal error.
func (r *Registry) call(ctx context.Context, obj *object, m Method, method string, args Args) (reply any, err error) {
	inst, err := obj.strategy.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer obj.strategy.Release(inst)
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

func remoteAddr(req *peer.Request) string {
	if a := req.Peer.Session().RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

var _ peer.Dispatcher = (*Registry)(nil)
