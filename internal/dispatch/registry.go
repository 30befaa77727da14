package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/peer"
	"github.com/remoting-go/remoting/internal/wire"
)

// Instances is where the instances that serve an object's calls come
// from: a lifecycle strategy on a server, one fixed instance for a
// callback object a client exports.
type Instances interface {
	// Acquire returns the instance that serves one call.
	Acquire(ctx context.Context) (any, error)
	// Return gives back an instance Acquire returned, once its call ended.
	Return(inst any)
	// Close ends the object's instances; it is called once.
	Close(ctx context.Context) error
}

// fixed is the Instances of an object served by one instance for its
// whole life.
type fixed struct{ impl any }

func (f fixed) Acquire(context.Context) (any, error) { return f.impl, nil }
func (fixed) Return(any)                             {}
func (fixed) Close(context.Context) error            { return nil }

// Fixed returns the Instances of an object served by impl alone.
func Fixed(impl any) Instances { return fixed{impl} }

// Object is one entry of the table.
type Object struct {
	ID        remoting.ObjectID
	Name      string // empty for an anonymous object
	Invoker   *Invoker
	Instances Instances
	// Owner is the id of the only end that may call the object (the end
	// that created it, or exported it); zero for objects anyone may call.
	Owner remoting.ObjectID
	// Key is the key of a keyed object (see RegisterKeys); empty for
	// others.
	Key string

	keys   Keys      // the lifecycle of a keyed object; nil for others (a keyed object not yet entered has nil Instances)
	commit Committer // Instances, if they save after each call
}

// Owners keeps the objects that the other ends own: on a server, the
// objects remote factories create, with their leases and passivation. A
// Registry without Owners (a client's) serves owned objects by one fixed
// instance until they are ended, their owner is gone, or it closes.
type Owners interface {
	// Export makes the new object obj, owned by obj.Owner, for impl: it
	// sets obj.Instances and enters obj with insert.
	Export(obj Object, impl any, insert func(Object) error) error
	// End ends the owned object id at once.
	End(id remoting.ObjectID) error
	// Gone returns the error for a call from caller to id, which the
	// table does not hold: nil for a plain NotFound, or a more telling
	// error (an expired lease).
	Gone(caller, id remoting.ObjectID) error
	// Renew renews the leases of ids for caller and returns each one's
	// time to live: positive, 0 for an object without a lease, negative
	// for one that is gone.
	Renew(caller remoting.ObjectID, ids []remoting.ObjectID) []time.Duration
	// Close ends every owned object, passivating those that passivate.
	Close(ctx context.Context) error
}

// ErrClosed is returned by a Registry that is closed.
var ErrClosed = errors.New("closed")

// Registry is the table of objects that one end of a connection serves,
// and the dispatch of the requests the other end sends to them: a server
// has one for its objects, a requestor.Client one for the callback objects
// it exports. It is safe for concurrent use.
type Registry struct {
	logger  *slog.Logger
	owners  Owners // nil: owned objects are fixed, tracked in owned
	closed  error  // returned by registrations after Close
	objects objectTable
	chain   Chain
	// callbacks is the chain of the calls this end makes back to the
	// objects the other end exported (Args.Caller); nil: none.
	callbacks Chain
	keys      keyKinds
	// describe says how the naming service answers remoting.List and
	// remoting.Describe.
	describe Describing

	mu       sync.Mutex
	owned    map[remoting.ObjectID]map[remoting.ObjectID]struct{} // owner -> ids, without owners
	isClosed bool
}

// NewRegistry returns an empty registry. It logs panics of user code to
// logger (nil: discard); owners, if not nil, keeps the objects other ends
// own; registrations after Close fail with closed.
func NewRegistry(logger *slog.Logger, owners Owners, closed error) *Registry {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if closed == nil {
		closed = ErrClosed
	}
	return &Registry{logger: logger, owners: owners, closed: closed, owned: make(map[remoting.ObjectID]map[remoting.ObjectID]struct{})}
}

// Describing says how a Registry's naming service answers the requests
// that list its objects and describe their interfaces.
type Describing int

const (
	// DescribeNone answers them NotFound, as a naming service that
	// predates them does: the registry of a client's callback objects.
	DescribeNone Describing = iota
	// DescribeDenied answers them PermissionDenied: a server that turned
	// them off.
	DescribeDenied
	// DescribeServed answers them.
	DescribeServed
)

// SetDescribing sets how the naming service answers remoting.List and
// remoting.Describe; call it before the registry serves.
func (r *Registry) SetDescribing(d Describing) { r.describe = d }

// Insert enters obj, whose Instances are ready, into the table.
func (r *Registry) Insert(obj Object) error {
	if err := obj.Invoker.check(); err != nil {
		return err
	}
	if obj.Instances == nil {
		return remoting.Errorf(remoting.CodeInvalidArgument, "no instances for object %s", obj.ID)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.isClosed {
		return r.closed
	}
	o := obj
	if _, dup := r.objects.LoadOrStore(obj.ID, &o); dup {
		return remoting.Errorf(remoting.CodeInvalidArgument, "object %s already registered", obj.ID)
	}
	if !obj.Owner.IsZero() && r.owners == nil {
		ids := r.owned[obj.Owner]
		if ids == nil {
			ids = make(map[remoting.ObjectID]struct{})
			r.owned[obj.Owner] = ids
		}
		ids[obj.ID] = struct{}{}
	}
	return nil
}

// Drop removes an object that its Owners ended; it does not close it.
func (r *Registry) Drop(id remoting.ObjectID) { r.objects.LoadAndDelete(id) }

// Export makes impl reachable as a new anonymous object that only owner
// may call, and returns its reference. It is how objects a method returns
// (remote factories) and callback objects passed as arguments become
// remote. With Owners the object lives as they say; without, it is served
// by impl until it is ended, its owner has been gone for long enough, or
// the registry closes. A nil impl exports nothing and returns the zero
// Ref.
func (r *Registry) Export(owner remoting.ObjectID, inv *Invoker, impl any) (remoting.Ref, error) {
	if impl == nil {
		return remoting.Ref{}, nil
	}
	if err := inv.check(); err != nil {
		return remoting.Ref{}, fmt.Errorf("export: %w", err)
	}
	obj := Object{ID: remoting.NewObjectID(), Invoker: inv, Owner: owner}
	var err error
	if r.owners == nil {
		obj.Instances = fixed{impl}
		err = r.Insert(obj)
	} else {
		err = r.owners.Export(obj, impl, r.Insert)
	}
	if err != nil {
		return remoting.Ref{}, fmt.Errorf("export %s: %w", inv.Interface, err)
	}
	return remoting.Ref{ID: obj.ID, Interface: inv.Interface}, nil
}

// Unregister removes an object: later calls get NotFound. Calls already
// running finish. Its instances are closed with ctx; an object another end
// owns ends as if that end released it.
func (r *Registry) Unregister(ctx context.Context, id remoting.ObjectID) error {
	if obj, ok := r.objects.Load(id); ok && r.owners != nil && !obj.Owner.IsZero() {
		return r.owners.End(id)
	}
	obj, ok := r.objects.LoadAndDelete(id)
	if !ok {
		return remoting.Errorf(remoting.CodeNotFound, "object %s not found", id)
	}
	if !obj.Owner.IsZero() {
		r.mu.Lock()
		if ids := r.owned[obj.Owner]; ids != nil {
			delete(ids, id)
			if len(ids) == 0 {
				delete(r.owned, obj.Owner)
			}
		}
		r.mu.Unlock()
	}
	return obj.Instances.Close(ctx)
}

// EndOwner ends every object owner owns, when the end that owned them has
// gone, and returns how many it ended. It is for a registry without
// Owners (a client's): Owners end the objects of a vanished client after
// their own grace period.
func (r *Registry) EndOwner(ctx context.Context, owner remoting.ObjectID) int {
	r.mu.Lock()
	ids := r.owned[owner]
	delete(r.owned, owner)
	r.mu.Unlock()
	for id := range ids {
		if obj, ok := r.objects.LoadAndDelete(id); ok {
			obj.Instances.Close(ctx)
		}
	}
	return len(ids)
}

// Len returns the number of objects in the table.
func (r *Registry) Len() int {
	n := 0
	r.objects.Range(func(*Object) bool { n++; return true })
	return n
}

// Range calls f for each object, in no particular order, until f returns
// false.
func (r *Registry) Range(f func(Object) bool) {
	r.objects.Range(func(o *Object) bool { return f(*o) })
}

// Close refuses further registrations and closes every object's
// instances, first those of the objects other ends own, which may
// passivate; then it closes every Keys.
func (r *Registry) Close(ctx context.Context) error {
	r.mu.Lock()
	r.isClosed = true
	r.mu.Unlock()
	var errs []error
	if r.owners != nil {
		errs = append(errs, r.owners.Close(ctx))
	}
	r.objects.Range(func(o *Object) bool {
		if err := o.Instances.Close(ctx); err != nil {
			errs = append(errs, err)
		}
		return true
	})
	errs = append(errs, r.closeKeys(ctx)...)
	return errors.Join(errs...)
}

// SetInterceptors replaces the interceptor chain (first outermost)
// atomically: calls in flight finish on the chain they started with, later
// calls take the new one, and the call path takes no lock. The chain runs
// after the object and method are found and before an instance is
// acquired, so a call an interceptor refuses activates nothing.
func (r *Registry) SetInterceptors(interceptors ...remoting.Interceptor) {
	r.chain.Set(interceptors...)
}

// SetCallbackInterceptors replaces, as SetInterceptors does, the chain of
// the calls this end makes to objects the other end exported (the Caller
// of Args.Caller): a client-side chain, first outermost.
func (r *Registry) SetCallbackInterceptors(interceptors ...remoting.Interceptor) {
	r.callbacks.Set(interceptors...)
}

// Dispatch serves one request: the naming service for the zero object id,
// otherwise it finds the object and method (an object owned by another end
// is not found, with no hint that it exists), runs the interceptor chain,
// accepts the request, acquires an instance and calls the method through
// the object's Invoker. A panic in user code becomes an Internal error for
// that caller. It implements peer.Dispatcher.
func (r *Registry) Dispatch(ctx context.Context, req *peer.Request) (reply any, err error) {
	f := req.Frame
	caller := req.Peer.Session().RemoteID()
	args := Args{body: f.Body, reg: r, req: req}
	if f.Object.IsZero() {
		switch {
		case f.Method == wire.LookupMethod:
			req.Accept()
			return r.lookup(args)
		case f.Method == wire.RenewMethod && r.owners != nil:
			req.Accept()
			return r.renew(caller, args)
		case (f.Method == wire.ListMethod || f.Method == wire.DescribeMethod) && r.describe != DescribeNone:
			if r.describe == DescribeDenied {
				return nil, remoting.Errorf(remoting.CodePermissionDenied, "%s is turned off on this server (invoker.Options.DisableDescribe)", f.Method)
			}
			req.Accept()
			if f.Method == wire.ListMethod {
				return r.list(args)
			}
			return r.describeInterface(args)
		}
		return nil, remoting.Errorf(remoting.CodeNotFound, "method %q not found on the naming service", f.Method)
	}
	obj, ok := r.objects.Load(f.Object)
	if f.Flags&wire.FlagKey != 0 {
		switch {
		case !ok:
			var err error
			if obj, err = r.keyed(f); err != nil {
				return nil, err
			}
			ok = true
		case obj.Key != f.Key:
			return nil, remoting.Errorf(remoting.CodeNotFound, "object %s not found: it is not the object of key %q", f.Object, f.Key)
		}
	}
	if !ok || (!obj.Owner.IsZero() && obj.Owner != caller) {
		if r.owners != nil {
			if err := r.owners.Gone(caller, f.Object); err != nil {
				return nil, err
			}
		}
		return nil, remoting.Errorf(remoting.CodeNotFound, "object %s not found", f.Object)
	}
	if f.Method == wire.ReleaseMethod {
		if obj.Owner.IsZero() {
			return nil, remoting.Errorf(remoting.CodePermissionDenied, "object %s is not owned by a client and cannot be released remotely", f.Object)
		}
		req.Accept()
		if err := r.Unregister(ctx, f.Object); err != nil && remoting.CodeOf(err) != remoting.CodeNotFound {
			return nil, err
		}
		return nil, nil
	}
	m, ok := obj.Invoker.Methods[f.Method]
	if !ok {
		return nil, remoting.Errorf(remoting.CodeNotFound, "method %q not found on %s", f.Method, obj.Invoker.Interface)
	}
	ctx = remoting.NewServerContext(ctx, remoting.ServerInfo{Caller: caller, Remote: req.Peer.Remote(), Deadline: f.Deadline}, f.Meta)
	if chain := r.chain.Load(); chain != nil {
		return r.intercepted(ctx, chain, req, obj, m, args)
	}
	return r.call(ctx, req, obj, m, f.Method, args)
}

// intercepted runs the call through the interceptor chain. It is a
// function of its own so that the closure's captures do not make the
// uninterrupted path allocate.
func (r *Registry) intercepted(ctx context.Context, chain remoting.Interceptor, req *peer.Request, obj *Object, m Method, args Args) (any, error) {
	f := req.Frame
	inv := &remoting.Invocation{
		Target: remoting.Ref{ID: obj.ID, Interface: obj.Invoker.Interface, Key: obj.Key},
		Method: f.Method,
		Meta:   f.Meta,
		Mode:   wire.ModeOf(f.Flags),
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
// acquires an instance and runs the method on it, and then commits the
// instance's state if the object saves after each call; a panic in user
// code becomes an Internal error.
func (r *Registry) call(ctx context.Context, req *peer.Request, obj *Object, m Method, method string, args Args) (reply any, err error) {
	req.Accept()
	if obj.Instances == nil { // a keyed object the table does not hold yet
		if obj, err = r.enterKeyed(&keyKind{inv: obj.Invoker, keys: obj.keys}, obj.ID, obj.Key); err != nil {
			return nil, err
		}
	}
	inst, err := obj.Instances.Acquire(ctx)
	if err != nil {
		if obj.keys == nil || !obj.keys.Left(err) {
			return nil, err
		}
		if obj, inst, err = r.reacquire(ctx, obj); err != nil {
			return nil, err
		}
	}
	defer obj.Instances.Return(inst)
	defer func() {
		if p := recover(); p != nil {
			r.logger.Error("remoting: panic in remote method", "method", method, "object", obj.ID, "panic", p, "stack", string(debug.Stack()))
			reply, err = nil, remoting.Errorf(remoting.CodeInternal, "panic in %s: %v", method, p)
			if obj.commit != nil {
				obj.commit.Discard(inst)
			}
		}
	}()
	reply, err = m(ctx, inst, args)
	if obj.commit != nil && !obj.Invoker.ReadOnly[method] {
		if cerr := obj.commit.Commit(ctx, inst); cerr != nil {
			return nil, cerr
		}
	}
	return reply, err
}

// renew serves the renewal of leases: the caller's renewer sends the ids
// of the objects it holds.
func (r *Registry) renew(caller remoting.ObjectID, args Args) (any, error) {
	var a wire.RenewArgs
	if err := args.Decode(&a); err != nil {
		return nil, err
	}
	ttls := r.owners.Renew(caller, a.IDs)
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
	obj, ok := r.objects.Load(remoting.NameID(a.Name))
	if !ok || obj.Name != a.Name {
		return nil, remoting.Errorf(remoting.CodeNotFound, "no object named %q", a.Name)
	}
	return &wire.LookupReply{ID: obj.ID, Interface: obj.Invoker.Interface}, nil
}

var _ peer.Dispatcher = (*Registry)(nil)
