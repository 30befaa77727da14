package lifecycle

import (
	"context"
	"reflect"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/passivation"
)

// DefaultPassivateAfter is the default of [PassivationOptions.After]: how
// long an object sits idle before it is passivated.
const DefaultPassivateAfter = 5 * time.Minute

// Renewal says what renews the lease of a client-dependent object. The
// values are explicit so that they stay the same when kinds are added.
type Renewal uint8

const (
	// RenewOnCall: every call of the object renews its lease, and so does
	// the renewer of the client that holds it. The default.
	RenewOnCall Renewal = 0
	// RenewByClient: only the client's renewer renews the lease, so that
	// an object its client no longer holds ends after its time to live
	// even if someone else still has its reference and calls it.
	RenewByClient Renewal = 1
)

// ClientDependentOptions configure [ClientDependent]. The zero value is
// ready to use: objects with neither lease nor passivation, which live
// until their client releases them or has been disconnected for longer
// than the server's grace period.
type ClientDependentOptions struct {
	// TTL is the time to live of each object's lease (Leasing): an object
	// whose lease is not renewed within TTL ends, as if released, and a
	// later call gets a FailedPrecondition error that says "lease
	// expired". Calls renew the lease (see Renewal; a call renews it
	// unless another did within the last sixteenth of the TTL), and so
	// does the renewer of the client that holds the object's proxy, at a
	// third of the TTL. With Passivation, an idle object is passivated
	// after Passivation's idle time and keeps its lease; it ends, and its
	// stored state is deleted, only when the lease runs out. Default zero:
	// no lease.
	TTL time.Duration

	// Renewal says what renews the lease. Default RenewOnCall.
	Renewal Renewal

	// Passivation, if set, stores the state of objects that sat idle and
	// drops their instances, until the next call; see [Passivate]. Default
	// nil: instances stay in memory while their objects live.
	Passivation *Passivation
}

// Policy is the lifecycle of the objects that remote factories create,
// for their callers, of one remote interface: the Client-Dependent
// Instance pattern, optionally with Leasing and Passivation. A Policy is
// an immutable value, registered for an interface with
// invoker.Server.Policy; objects of interfaces without one live as the
// zero Policy says.
//
// Every such object belongs to the client (its id) that called the
// factory: another client gets NotFound, as for an id that never existed.
// The object ends when its client releases it, when its lease runs out,
// or when its client has been disconnected for longer than the server's
// grace period (a client that reconnects within it keeps its objects). Its
// instance is then deactivated (its Deactivate, if it is a [Deactivator],
// then its Close(context.Context) error, if it has one), and its stored
// state, if it was passivated, deleted.
type Policy struct {
	ttl     time.Duration
	renewal Renewal
	pass    *Passivation
	err     error // an option that cannot work, reported at registration
}

// ClientDependent returns the policy opts describe. An option that cannot
// work (a negative TTL, an unknown Renewal) makes the registration of the
// policy fail with InvalidArgument.
func ClientDependent(opts ClientDependentOptions) Policy {
	p := Policy{ttl: opts.TTL, renewal: opts.Renewal, pass: opts.Passivation}
	switch {
	case opts.TTL < 0:
		p.err = remoting.Errorf(remoting.CodeInvalidArgument, "client-dependent: negative TTL %v", opts.TTL)
	case opts.Renewal > RenewByClient:
		p.err = remoting.Errorf(remoting.CodeInvalidArgument, "client-dependent: unknown Renewal %d", opts.Renewal)
	case opts.Passivation != nil && opts.Passivation.err != nil:
		p.err = opts.Passivation.err
	}
	return p
}

// TTL returns the time to live of the policy's leases; zero for none.
func (p Policy) TTL() time.Duration { return p.ttl }

// PassivationOptions configure [Passivate]. The zero value is ready to
// use.
type PassivationOptions struct {
	// After is how long an object must sit idle (no call running, none
	// made) before it is passivated. Default [DefaultPassivateAfter], 5
	// minutes.
	After time.Duration

	// Store keeps the state of passivated objects, with the owner and the
	// interface of each, so that a server that starts on the same store
	// (such as a file of package passivation/bolt) brings them back when the
	// policy is registered. Several policies may share a store. The server
	// does not close a store given here: close it after the server.
	// Default: a passivation.MemoryStore of the policy's own, which saves
	// memory but does not outlive the server.
	Store passivation.Store
}

// Passivation configures the Passivation of client-dependent objects; see
// [Passivate]. It is immutable.
type Passivation struct {
	after time.Duration
	store passivation.Store
	newFn func(context.Context) (any, error)
	// checkType checks T against the interface at registration, and says
	// whether each instance must be checked instead.
	checkType func(b *Binding) (checkEach bool, err error)
	err       error
}

// Passivate returns the Passivation of client-dependent objects for
// [ClientDependentOptions]: an object that sat idle for opts.After has its
// state saved to opts.Store by its instance's [StateSaver] and its instance
// dropped (after the instance's Deactivate, if it is a [Deactivator]). The
// next call reactivates it: newFn makes an empty instance, which gets the
// state through its [StateRestorer] and then its Activate, if it is an
// [Activator]. However many calls arrive at a passivated object together,
// it is reactivated once; they wait for it, each until its own context
// ends.
//
// The state stays in the store while the object lives, also after it is
// reactivated (a crash brings the object back with the state it was last
// passivated with), and is deleted when the object ends. When the server
// shuts down, every object that is not passivated is passivated, so that
// the next server on the store loses none.
//
// Passivation and Leasing compose: a passivated object keeps its lease,
// which its client's renewer still renews, and its state is deleted only
// when the lease runs out or the object is released.
//
// T is the type of the instances, typically the same pointer type the
// factory returns; it must implement the remote interface and both
// StateSaver and StateRestorer. For a concrete T this is checked when the
// policy is registered; for an interface type, on each instance. An
// instance that a factory returns without the hooks fails the factory's
// call with an Internal error.
func Passivate[T any](newFn func(ctx context.Context) (T, error), opts PassivationOptions) *Passivation {
	p := &Passivation{after: opts.After, store: opts.Store}
	if p.after <= 0 {
		p.after = DefaultPassivateAfter
	}
	if newFn == nil {
		p.err = remoting.Errorf(remoting.CodeInvalidArgument, "passivation: nil constructor")
		return p
	}
	p.newFn = func(ctx context.Context) (any, error) { return newFn(ctx) }
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Interface {
		for _, hook := range []reflect.Type{reflect.TypeFor[StateSaver](), reflect.TypeFor[StateRestorer]()} {
			if !t.Implements(hook) {
				p.err = remoting.Errorf(remoting.CodeInvalidArgument, "passivation: %v does not implement %v", t, hook)
				return p
			}
		}
	}
	p.checkType = checkType[T]
	return p
}

// canPassivate returns an error if v lacks the hooks of passivation.
func canPassivate(b *Binding, v any) error {
	if _, ok := v.(StateSaver); !ok {
		return remoting.Errorf(remoting.CodeInternal, "%T, an instance of %s, cannot be passivated: it does not implement lifecycle.StateSaver", v, b.Interface)
	}
	if _, ok := v.(StateRestorer); !ok {
		return remoting.Errorf(remoting.CodeInternal, "%T, an instance of %s, cannot be passivated: it does not implement lifecycle.StateRestorer", v, b.Interface)
	}
	return nil
}
