package dispatch

import (
	"context"
	"fmt"
	"sync"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/wire"
)

// Keys is the lifecycle of the keyed objects of one interface (on a
// server, a lifecycle.KeyedObjects): objects named by a key, which the
// table holds only while they are in use. A call that carries a key and
// finds no object under its id gets one from Keys, which the table
// enters.
type Keys interface {
	// Object returns the Instances of the object of key, whose id is id
	// (remoting.KeyID of the interface and key). It must be cheap: it is
	// called before the interceptors, and its Instances activate the
	// object at their first Acquire. If they implement Committer, the
	// table calls Commit after each call that may have changed the state.
	Object(id remoting.ObjectID, key string) Instances
	// Left reports whether err, from the Acquire of Instances that Object
	// returned, says that the object passivated and left the table since
	// the call found it: the call then looks the object up anew.
	Left(err error) bool
	// Close stops the Keys' own work (its idle goroutine) once the table
	// has closed the objects.
	Close(ctx context.Context) error
}

// Committer is implemented by the Instances of objects whose state is
// saved after every call that may have changed it. The table checks for
// it once, when it enters the object.
type Committer interface {
	// Commit runs after a method that is not read-only (Invoker.ReadOnly)
	// returned, with or without an error, and before its reply is sent,
	// on inst, which Acquire returned and Return has not yet been given.
	// Its error fails the call.
	Commit(ctx context.Context, inst any) error
	// Discard runs instead of Commit when the method panicked: inst's
	// state cannot be trusted.
	Discard(inst any)
}

// keyKind is one interface whose objects are keyed.
type keyKind struct {
	inv  *Invoker
	keys Keys
}

// keyKinds are the keyed interfaces of a registry, by the wire names of
// their methods, so that a request finds the kinds it could be for
// without hashing its key for each.
type keyKinds struct {
	mu       sync.Mutex
	byMethod map[string][]*keyKind
	all      []*keyKind
}

// RegisterKeys makes the objects of the interface inv serves keyed: a
// call with a key and an id that is the key's (remoting.KeyID) gets its
// object from keys when the table has none. It fails if the interface is
// registered keyed already.
func (r *Registry) RegisterKeys(inv *Invoker, keys Keys) error {
	if err := inv.check(); err != nil {
		return err
	}
	r.mu.Lock()
	closed := r.isClosed
	r.mu.Unlock()
	if closed {
		return r.closed
	}
	k := &r.keys
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, kk := range k.all {
		if kk.inv.Interface == inv.Interface {
			return remoting.Errorf(remoting.CodeInvalidArgument, "%s is keyed already", inv.Interface)
		}
	}
	kind := &keyKind{inv: inv, keys: keys}
	k.all = append(k.all, kind)
	if k.byMethod == nil {
		k.byMethod = make(map[string][]*keyKind)
	}
	for m := range inv.Methods {
		k.byMethod[m] = append(k.byMethod[m], kind)
	}
	return nil
}

// kindOf returns the keyed interface that has the method called and whose
// key id for key is id, or nil.
func (r *Registry) kindOf(id remoting.ObjectID, key, method string) *keyKind {
	k := &r.keys
	k.mu.Lock()
	kinds := k.byMethod[method]
	k.mu.Unlock()
	for _, kind := range kinds {
		if remoting.KeyID(kind.inv.Interface, key) == id {
			return kind
		}
	}
	return nil
}

// keyed returns the object a request with a key calls, which the table
// did not hold, not yet entered (its Instances are nil): call enters it
// once the interceptors let the call through, so that a refused call
// leaves nothing in the table.
func (r *Registry) keyed(f *wire.Frame) (*Object, error) {
	if err := remoting.CheckKey(f.Key); err != nil {
		return nil, err
	}
	kind := r.kindOf(f.Object, f.Key, f.Method)
	if kind == nil {
		return nil, remoting.Errorf(remoting.CodeNotFound, "object %s not found: no keyed interface with method %q has key %q under that id", f.Object, f.Method, f.Key)
	}
	return &Object{ID: f.Object, Key: f.Key, Invoker: kind.inv, keys: kind.keys}, nil
}

// enterKeyed enters a new object of kind under id, unless the table holds
// one, and returns the object the table holds.
func (r *Registry) enterKeyed(kind *keyKind, id remoting.ObjectID, key string) (*Object, error) {
	if got, ok := r.objects.Load(id); ok {
		return keyMatch(got, key)
	}
	o := &Object{ID: id, Key: key, Invoker: kind.inv, Instances: kind.keys.Object(id, key), keys: kind.keys}
	o.commit, _ = o.Instances.(Committer)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.isClosed {
		return nil, r.closed
	}
	got, _ := r.objects.LoadOrStore(id, o)
	return keyMatch(got, key)
}

// keyMatch returns obj if it is the object of key.
func keyMatch(obj *Object, key string) (*Object, error) {
	if obj.Key != key {
		return nil, remoting.Errorf(remoting.CodeNotFound, "object %s not found: it is not the object of key %q", obj.ID, key)
	}
	return obj, nil
}

// LeaveKeyed removes the keyed object id from the table if its Instances
// are inst: the object passivated. A later call of its key enters a new
// one.
func (r *Registry) LeaveKeyed(id remoting.ObjectID, inst Instances) {
	r.objects.CompareAndDelete(id, func(o *Object) bool { return o.Instances == inst })
}

// reacquire is the Acquire of a call whose keyed object obj left the
// table while the call was on its way to it: it finds or enters the
// object anew and acquires an instance of it, until ctx ends.
func (r *Registry) reacquire(ctx context.Context, obj *Object) (*Object, any, error) {
	kind := &keyKind{inv: obj.Invoker, keys: obj.keys}
	for {
		r.LeaveKeyed(obj.ID, obj.Instances)
		next, err := r.enterKeyed(kind, obj.ID, obj.Key)
		if err != nil {
			return nil, nil, err
		}
		inst, err := next.Instances.Acquire(ctx)
		if err == nil {
			return next, inst, nil
		}
		if !obj.keys.Left(err) {
			return nil, nil, err
		}
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("keyed object %s: %w", obj.ID, ctx.Err())
		}
		obj = next
	}
}

// closeKeys stops the work of every Keys.
func (r *Registry) closeKeys(ctx context.Context) []error {
	var errs []error
	for _, kind := range r.keyKindList() {
		if err := kind.keys.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
