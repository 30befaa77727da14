package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/lease"
	"github.com/remoting-go/remoting/passivation"
)

// recordSchema is the schema number of record in the store.
const recordSchema = 1

// record is what a passivated object's entry in the store holds: enough
// to bring it back for its owner in another server.
type record struct {
	_         struct{} `cbor:",toarray"`
	Owner     remoting.ObjectID
	Interface string
	State     []byte
}

// depState is where a client-dependent object is in its lifecycle.
type depState uint8

const (
	depLive       depState = iota // inst holds the instance
	depPassivated                 // the state is in the store, inst is nil
	depEnded                      // released, expired or abandoned: for good
	depClosed                     // the server closed; a saved state stays in the store
)

// dependent is the strategy of one client-dependent object: an instance a
// remote factory made for one client. It is made by a Dependents, which keeps
// its lease and its idle deadline.
//
// Passivation must never drop an instance that a call is using. A call
// counts itself in calls and then loads inst; the passivator stores nil in
// inst and then reads calls. Go's atomics are sequentially consistent, so
// either the passivator sees the call and puts the instance back, or the
// call sees nil and waits, in acquireSlow, for the passivation to end.
type dependent struct {
	m     *Dependents
	pol   *policyState // nil: the default policy
	b     Binding
	owner remoting.ObjectID

	inst    atomic.Pointer[instance]
	calls   atomic.Int64 // calls between Acquire and Return (passivating policies only)
	last    atomic.Int64 // when the last call ended, on m's clock (passivating policies only)
	renewed atomic.Int64 // when a call last renewed the lease, on m's clock

	mu      sync.Mutex
	state   depState
	busy    *attempt     // the passivation or reactivation in progress
	version uint64       // the version of the stored state; zero if none
	why     lease.Reason // why the object ended
}

type instance struct{ v any }

var _ Strategy = (*dependent)(nil)

func (d *dependent) passivates() bool { return d.pol != nil && d.pol.passivates() }

// ttl returns the time to live of the object's lease; zero for none.
func (d *dependent) ttl() time.Duration {
	if d.pol == nil {
		return 0
	}
	return time.Duration(d.pol.ttl.Load())
}

// Bind is called by the Dependents, not by a registry: see Dependents.Export.
func (d *dependent) Bind(b Binding) error {
	d.b = b
	return nil
}

// start makes impl, fresh from a factory, the object's instance; the
// Dependents reports it as activated once the object is registered.
func (d *dependent) start(impl any) error {
	if impl == nil {
		return remoting.Errorf(remoting.CodeInvalidArgument, "instance of %s is nil", d.b.Interface)
	}
	if err := d.b.Check(impl); err != nil {
		return err
	}
	if d.passivates() {
		if err := canPassivate(&d.b, impl); err != nil {
			return err
		}
		d.last.Store(d.m.clock())
	}
	d.inst.Store(&instance{v: impl})
	return nil
}

func (d *dependent) Acquire(ctx context.Context) (any, error) {
	pass := d.passivates()
	if pass {
		d.calls.Add(1)
	}
	in := d.inst.Load()
	if in == nil {
		v, err := d.acquireSlow(ctx)
		if err != nil {
			if pass {
				d.calls.Add(-1)
			}
			return nil, err
		}
		in = &instance{v: v}
	}
	if d.pol != nil && d.pol.renewal == RenewOnCall && d.ttl() > 0 {
		d.renewOnCall()
	}
	return in.v, nil
}

// renewOnCall renews the lease unless a call did within the last
// sixteenth of its time to live: a call then costs a clock read, and the
// lease never has less than 15/16 of its time to live left after a call.
func (d *dependent) renewOnCall() {
	now := d.m.clock()
	if last := d.renewed.Load(); now-last < int64(d.ttl()/16) || !d.renewed.CompareAndSwap(last, now) {
		return
	}
	d.renew()
}

// renew extends the lease and reports it.
func (d *dependent) renew() error {
	leases := d.m.leaseManager()
	if leases == nil {
		return ErrClosed
	}
	ttl := d.ttl()
	if ttl == 0 {
		ttl = lease.Forever
	}
	if _, err := leases.RenewFor(d.b.ID, ttl); err != nil {
		return err
	}
	d.b.emit(remoting.EventLeaseRenewed, 0, nil)
	return nil
}

// Name returns [NameClientDependent], whether or not the object has a
// lease or passivates.
func (d *dependent) Name() string { return NameClientDependent }

func (d *dependent) Return(any) {
	if d.passivates() {
		d.last.Store(d.m.clock())
		d.calls.Add(-1)
	}
}

// acquireSlow runs when the object has no instance: it waits for a
// passivation or reactivation in progress, or reactivates the object.
func (d *dependent) acquireSlow(ctx context.Context) (any, error) {
	for {
		d.mu.Lock()
		if in := d.inst.Load(); in != nil {
			d.mu.Unlock()
			return in.v, nil
		}
		if d.state == depEnded || d.state == depClosed {
			err := d.goneErr()
			d.mu.Unlock()
			return nil, err
		}
		a := d.busy
		if a == nil {
			// Passivated, and nobody reactivates it yet: this call does.
			a = &attempt{done: make(chan struct{})}
			d.busy = a
			d.mu.Unlock()
			return d.reactivate(ctx, a)
		}
		d.mu.Unlock()
		select {
		case <-a.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("lifecycle: waiting for %s %v to be reactivated: %w", d.b.Interface, d.b.ID, ctx.Err())
		}
		if a.err != nil && !(a.abandoned && ctx.Err() == nil) {
			return nil, a.err
		}
		// Passivated, reactivated, or abandoned by a caller that gave up:
		// look again.
	}
}

// goneErr is the error of a call that finds the object ended. d.mu is
// held.
func (d *dependent) goneErr() error {
	switch {
	case d.state == depClosed:
		return ErrClosed
	case d.why == lease.ReasonReleased:
		return remoting.Errorf(remoting.CodeNotFound, "object %s not found", d.b.ID)
	}
	return expiredErr(d.b.ID, d.b.Interface, d.why, d.ttl(), d.m.grace)
}

// expiredErr is the error of a call to an object whose lease ran out.
func expiredErr(id remoting.ObjectID, iface string, why lease.Reason, ttl, grace time.Duration) error {
	msg := fmt.Sprintf("object %s of %s: lease expired: not renewed within its time to live of %v", id, iface, ttl)
	if why == lease.ReasonOwnerGone {
		msg = fmt.Sprintf("object %s of %s: lease expired: its client was disconnected for longer than the grace period of %v", id, iface, grace)
	}
	return &remoting.Error{Code: remoting.CodeFailedPrecondition, Message: msg, Cause: lease.ErrExpired}
}

// reactivate runs attempt a on the caller's goroutine: it loads the
// object's state and restores it into a new instance.
func (d *dependent) reactivate(ctx context.Context, a *attempt) (any, error) {
	v, err := d.restore(ctx)
	d.mu.Lock()
	d.busy = nil
	if err == nil {
		d.state = depLive
		d.last.Store(d.m.clock())
		d.inst.Store(&instance{v: v})
	}
	a.err, a.abandoned = err, err != nil && ctx.Err() != nil
	d.mu.Unlock()
	close(a.done)
	d.b.emit(remoting.EventReactivated, 0, err)
	if err != nil {
		return nil, err
	}
	d.m.scheduleIdle(d, d.pol.idleAfter())
	return v, nil
}

// restore makes an instance from the stored state.
func (d *dependent) restore(ctx context.Context) (any, error) {
	p := d.pol
	rec, err := p.store.Load(ctx, d.b.ID)
	if err != nil {
		return nil, remoting.Errorf(remoting.CodeUnavailable, "reactivate %s %v: %w", d.b.Interface, d.b.ID, err)
	}
	var r record
	if _, err := passivation.Decode(rec.Data, &r); err != nil {
		return nil, remoting.Errorf(remoting.CodeInternal, "reactivate %s %v: %w", d.b.Interface, d.b.ID, err)
	}
	var v any
	err = guard(&d.b, "constructor", func() (err error) {
		v, err = p.newFn(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lifecycle: reactivate %s %v: %w", d.b.Interface, d.b.ID, err)
	}
	if p.checkEach {
		if err := d.b.Check(v); err != nil {
			return nil, remoting.Errorf(remoting.CodeInternal, "the constructor of %s returned an instance of the wrong type: %w", d.b.Interface, err)
		}
		if err := canPassivate(&d.b, v); err != nil {
			return nil, err
		}
	}
	if err := guard(&d.b, "RestoreState", func() error { return v.(StateRestorer).RestoreState(ctx, r.State) }); err != nil {
		return nil, fmt.Errorf("lifecycle: restore the state of %s %v: %w", d.b.Interface, d.b.ID, err)
	}
	if a, ok := v.(Activator); ok {
		if err := guard(&d.b, "Activate", func() error { return a.Activate(ctx) }); err != nil {
			return nil, fmt.Errorf("lifecycle: activate %s %v: %w", d.b.Interface, d.b.ID, err)
		}
	}
	return v, nil
}

// passivateIfIdle runs on the idle goroutine when the object's idle
// deadline is due. It passivates the object if it has been idle for the
// policy's After, and otherwise returns when to look again; zero means
// never (the object is passivated or gone).
func (d *dependent) passivateIfIdle(ctx context.Context) (again time.Duration) {
	after := d.pol.idleAfter()
	d.mu.Lock()
	if d.state != depLive || d.busy != nil {
		d.mu.Unlock()
		return 0
	}
	if idle := time.Duration(d.m.clock() - d.last.Load()); idle < after {
		d.mu.Unlock()
		return after - idle
	}
	in := d.inst.Swap(nil)
	if d.calls.Load() > 0 {
		d.inst.Store(in)
		d.mu.Unlock()
		return after
	}
	a := &attempt{done: make(chan struct{})}
	d.busy = a
	version := d.version
	d.mu.Unlock()

	version, err := d.save(ctx, in.v, version)
	d.mu.Lock()
	d.busy = nil
	if err != nil {
		d.inst.Store(in)
	} else {
		d.state, d.version = depPassivated, version
	}
	d.mu.Unlock()
	close(a.done)
	if err != nil {
		d.b.emit(remoting.EventPassivated, 0, err)
		return after
	}
	deactivate(ctx, &d.b, in.v)
	d.b.emit(remoting.EventPassivated, 0, nil)
	return 0
}

// save stores v's state over the stored version and returns the new
// version.
func (d *dependent) save(ctx context.Context, v any, version uint64) (uint64, error) {
	var state []byte
	err := guard(&d.b, "SaveState", func() (err error) {
		state, err = v.(StateSaver).SaveState(ctx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("lifecycle: save the state of %s %v: %w", d.b.Interface, d.b.ID, err)
	}
	data, err := passivation.Encode(recordSchema, record{Owner: d.owner, Interface: d.b.Interface, State: state})
	if err != nil {
		return 0, fmt.Errorf("lifecycle: save the state of %s %v: %w", d.b.Interface, d.b.ID, err)
	}
	version, err = d.pol.store.Save(ctx, d.b.ID, data, version)
	if err != nil {
		return 0, fmt.Errorf("lifecycle: save the state of %s %v: %w", d.b.Interface, d.b.ID, err)
	}
	return version, nil
}

// settle waits for the passivation or reactivation in progress and
// returns with d.mu held.
func (d *dependent) settle() {
	d.mu.Lock()
	for d.busy != nil {
		a := d.busy
		d.mu.Unlock()
		<-a.done
		d.mu.Lock()
	}
}

// end ends the object for good: its instance, if it has one, is
// deactivated and closed, and its stored state deleted. The Dependents has
// already dropped it from its table.
func (d *dependent) end(ctx context.Context, why lease.Reason) error {
	d.settle()
	if d.state == depEnded || d.state == depClosed {
		d.mu.Unlock()
		return nil
	}
	d.state, d.why = depEnded, why
	in := d.inst.Swap(nil)
	version := d.version
	d.version = 0
	d.mu.Unlock()

	var err error
	if in != nil {
		err = finish(ctx, &d.b, in.v)
	}
	if version != 0 {
		if derr := d.pol.store.Delete(ctx, d.b.ID, version); derr != nil {
			err = errors.Join(err, fmt.Errorf("lifecycle: delete the state of %s %v: %w", d.b.Interface, d.b.ID, derr))
		}
	}
	return err
}

// Close ends the object's service when the server closes. A passivating
// object that has an instance is passivated first, after the calls using
// the instance have returned (or ctx has ended), so that a server that
// starts on the same store brings it back; an object that is passivated
// stays so.
func (d *dependent) Close(ctx context.Context) error {
	d.settle()
	if d.state == depEnded || d.state == depClosed {
		d.mu.Unlock()
		return nil
	}
	d.state = depClosed
	in := d.inst.Swap(nil)
	version := d.version
	d.mu.Unlock()
	if in == nil {
		return nil
	}
	if !d.passivates() {
		return finish(ctx, &d.b, in.v)
	}
	// New calls now fail with ErrClosed; wait for those running.
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for d.calls.Load() > 0 {
		select {
		case <-ctx.Done():
			err := fmt.Errorf("lifecycle: passivate %s %v at close: calls still running: %w", d.b.Interface, d.b.ID, ctx.Err())
			d.b.emit(remoting.EventPassivated, 0, err)
			return errors.Join(err, deactivate(ctx, &d.b, in.v))
		case <-tick.C:
		}
	}
	_, err := d.save(ctx, in.v, version)
	d.b.emit(remoting.EventPassivated, 0, err)
	return errors.Join(err, deactivate(ctx, &d.b, in.v))
}

// finish deactivates an instance that ends, and then calls its
// Close(context.Context) error, if it has one, as Static does.
func finish(ctx context.Context, b *Binding, v any) error {
	err := deactivate(ctx, b, v)
	if c, ok := v.(interface{ Close(context.Context) error }); ok {
		if cerr := guard(b, "Close", func() error { return c.Close(ctx) }); cerr != nil {
			err = errors.Join(err, fmt.Errorf("lifecycle: close %s %v: %w", b.Interface, b.ID, cerr))
		}
	}
	return err
}
