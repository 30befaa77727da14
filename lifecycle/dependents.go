package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/lease"
	"github.com/remoting-go/remoting/passivation"
)

// DefaultGrace is the default of [DependentsOptions.Grace], and so of
// invoker.Options.OwnerGrace.
const DefaultGrace = 30 * time.Second

// DependentsOptions configure a [Dependents]. The zero value is ready to use.
type DependentsOptions struct {
	// Grace is how long the objects of a client outlive the last of its
	// connections: a client that reconnects within it keeps them, and
	// their leases start anew. Default [DefaultGrace], 30 seconds.
	Grace time.Duration

	// OnEnd, if set, is told of every object that ends for good (released,
	// its lease expired, its client gone), so that the owner of the table
	// of objects drops it. It runs before the object's instance is
	// deactivated, on the goroutine that ends the object: End's, or
	// the lease goroutine's for expiries. It must be fast and must not
	// call the Dependents.
	OnEnd func(id remoting.ObjectID)

	// Logger receives what cannot reach a caller: records of a store that
	// cannot be read when a policy is registered, and errors of instances
	// that end in the background. Default: discard.
	Logger *slog.Logger
}

// Dependents is the part of the Lifecycle Manager that keeps the objects
// remote factories create for clients: client-dependent objects. A server
// has one; it makes each exported object's [Strategy] by the [Policy]
// registered for its interface, keeps the objects' leases, passivates
// idle objects and ends the objects of clients that went away. Its
// methods are safe for concurrent use.
//
// # Goroutines
//
// A Dependents starts its goroutines when first needed, not when it is made:
// the lease goroutine (a [lease.Manager]'s sweeper) at the first Export,
// which ends the objects whose lease ran out or whose client stayed away
// past the grace period; and the idle goroutine (a second lease.Manager,
// keyed by idle deadline) when the first passivating policy is set, which
// passivates idle objects one at a time. Each keeps its deadlines in a
// heap, so that its work is proportional to the objects due, not to all
// objects, and a call costs no lock: it stamps the time, and the idle
// goroutine, when an object's old deadline comes up, moves it to its new
// one. Close stops both and waits for them.
type Dependents struct {
	grace  time.Duration
	onEnd  func(remoting.ObjectID)
	logger *slog.Logger
	base   time.Time

	objects sync.Map // remoting.ObjectID -> *dependent
	tombs   tombstones

	// ctx is canceled by Close, for the work of the idle goroutine.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	leases   *lease.Manager // nil until needed
	idle     *lease.Manager // nil until needed
	policies map[string]*policyState
	stores   []passivation.Store // the default stores, made and closed here
	closed   bool

	presence sync.Mutex                // serialises the connection counts and the calls they make
	present  map[remoting.ObjectID]int // connections per client
}

// policyState is a Policy registered for an interface, as the Dependents
// keeps it. The lease time to live and the passivation idle time, which
// SetLeaseTTL and SetPassivateAfter change, are kept here and nowhere else: the
// Policy they came from is not kept.
type policyState struct {
	renewal   Renewal
	ttl       atomic.Int64                       // the lease time to live; zero for none
	after     atomic.Int64                       // the passivation idle time (passivating policies only)
	newFn     func(context.Context) (any, error) // passivation's constructor; nil if the policy does not passivate
	store     passivation.Store
	checkEach bool
}

// passivates reports whether the policy passivates idle objects.
func (ps *policyState) passivates() bool { return ps.newFn != nil }

// idleAfter is how long an object of the policy may be idle before it is
// passivated.
func (ps *policyState) idleAfter() time.Duration { return time.Duration(ps.after.Load()) }

// NewDependents returns a Dependents. It starts no goroutines until it needs
// them; Close stops them.
func NewDependents(opts DependentsOptions) *Dependents {
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Dependents{
		grace:    opts.Grace,
		onEnd:    opts.OnEnd,
		logger:   opts.Logger,
		base:     time.Now(),
		ctx:      ctx,
		cancel:   cancel,
		policies: make(map[string]*policyState),
		present:  make(map[remoting.ObjectID]int),
	}
}

// clock returns the time since the Dependents was made, on the monotonic
// clock.
func (m *Dependents) clock() int64 { return int64(time.Since(m.base)) }

// ownerKey is the owner of a lease: the client's id.
func ownerKey(owner remoting.ObjectID) string { return string(owner[:]) }

// leaseManager returns the lease manager, starting it if need be; nil
// after Close.
func (m *Dependents) leaseManager() *lease.Manager {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.leaseManagerLocked()
}

func (m *Dependents) leaseManagerLocked() *lease.Manager {
	if m.leases == nil && !m.closed {
		m.leases = lease.NewManager(lease.Options{OnEnd: m.leaseEnded})
	}
	return m.leases
}

// SetPolicy registers p for the objects that remote factories create of
// the interface b names (b.Interface, b.Implements and b.Observe are
// used). If p passivates, the records its store keeps for that interface
// are brought back: each becomes a passivated object that belongs to its
// original client, and add is called with it, to enter it into the
// caller's table of objects. A record that cannot be read is logged and
// left alone. The objects' leases start anew, and so does the grace
// period of a client that is not connected.
//
// SetPolicy fails if the interface has a policy already, if an option of
// p cannot work, if the policy's instance type does not implement the
// interface, or if the store cannot be listed.
func (m *Dependents) SetPolicy(b Binding, p Policy, add func(id, owner remoting.ObjectID, s Strategy) error) error {
	if p.err != nil {
		return p.err
	}
	ps := &policyState{renewal: p.renewal}
	ps.ttl.Store(int64(p.ttl))
	if p.pass != nil {
		check, err := p.pass.checkType(&b)
		if err != nil {
			return err
		}
		ps.after.Store(int64(p.pass.after))
		ps.newFn, ps.store, ps.checkEach = p.pass.newFn, p.pass.store, check
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	if _, dup := m.policies[b.Interface]; dup {
		m.mu.Unlock()
		return remoting.Errorf(remoting.CodeInvalidArgument, "%s has a policy already", b.Interface)
	}
	if p.pass != nil {
		if ps.store == nil {
			ps.store = passivation.NewMemoryStore()
			m.stores = append(m.stores, ps.store)
		}
		if m.idle == nil {
			m.idle = lease.NewManager(lease.Options{OnEnd: m.idleEnded})
		}
	}
	m.policies[b.Interface] = ps
	leases := m.leaseManagerLocked()
	m.mu.Unlock()
	if p.pass == nil {
		return nil
	}
	return m.recover(b, ps, leases, add)
}

// recover brings back the objects of ps's interface that its store keeps.
func (m *Dependents) recover(b Binding, ps *policyState, leases *lease.Manager, add func(id, owner remoting.ObjectID, s Strategy) error) error {
	err := ps.store.List(m.ctx, func(id remoting.ObjectID, rec passivation.Record) error {
		if schema, err := passivation.Schema(rec.Data); err == nil && schema == keyedRecordSchema {
			return nil // a keyed object's, which its calls activate
		}
		var r record
		schema, err := passivation.Decode(rec.Data, &r)
		if err != nil || schema != recordSchema {
			m.logger.Warn("remoting: passivated record not brought back: unreadable", "object", id, "schema", schema, "err", err)
			return nil
		}
		if r.Interface != b.Interface {
			return nil
		}
		if _, dup := m.objects.Load(id); dup {
			return nil
		}
		d := &dependent{m: m, pol: ps, owner: r.Owner, state: depPassivated, version: rec.Version}
		d.b = b
		d.b.ID = id
		m.objects.Store(id, d)
		if err := add(id, r.Owner, d); err != nil {
			m.objects.Delete(id)
			m.logger.Warn("remoting: passivated object not brought back", "object", id, "interface", r.Interface, "err", err)
			return nil
		}
		if err := m.grant(leases, d); err != nil {
			return err
		}
		m.presence.Lock()
		if m.present[r.Owner] == 0 {
			leases.Orphan(id, m.grace)
		}
		m.presence.Unlock()
		return nil
	})
	if err != nil {
		return fmt.Errorf("lifecycle: bring back the passivated objects of %s: %w", b.Interface, err)
	}
	return nil
}

// grant gives d its lease: the policy's time to live, or Forever.
func (m *Dependents) grant(leases *lease.Manager, d *dependent) error {
	ttl := d.ttl()
	if ttl == 0 {
		ttl = lease.Forever
	}
	d.renewed.Store(m.clock())
	if _, err := leases.Grant(d.b.ID, ownerKey(d.owner), ttl); err != nil {
		m.objects.Delete(d.b.ID)
		if m.onEnd != nil {
			m.onEnd(d.b.ID)
		}
		return err
	}
	return nil
}

// Export makes impl, which a remote factory returned for the client
// owner, a client-dependent object with the id b.ID, and returns the
// Strategy that serves it. Its lifecycle is the Policy registered for
// b.Interface, or the zero Policy. add is called with the strategy, to
// enter the object into the caller's table, before the object's lease
// starts. If the client has no connection (it went away during the
// factory's call), the object's grace period starts at once.
func (m *Dependents) Export(owner remoting.ObjectID, b Binding, impl any, add func(s Strategy) error) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	ps := m.policies[b.Interface]
	leases := m.leaseManagerLocked()
	m.mu.Unlock()

	d := &dependent{m: m, pol: ps, owner: owner, b: b}
	if err := d.start(impl); err != nil {
		return err
	}
	m.objects.Store(b.ID, d)
	if err := add(d); err != nil {
		m.objects.Delete(b.ID)
		return err
	}
	d.b.emit(remoting.EventActivated, 0, nil)
	if err := m.grant(leases, d); err != nil {
		d.end(context.Background(), lease.ReasonReleased)
		return err
	}
	if d.passivates() {
		m.scheduleIdle(d, ps.idleAfter())
	}
	m.presence.Lock()
	if m.present[owner] == 0 {
		leases.Orphan(b.ID, m.grace)
	}
	m.presence.Unlock()
	return nil
}

// scheduleIdle has the idle goroutine look at d after d's policy's After.
func (m *Dependents) scheduleIdle(d *dependent, after time.Duration) {
	m.mu.Lock()
	idle := m.idle
	m.mu.Unlock()
	if idle != nil {
		idle.Grant(d.b.ID, "", after) // fails only once closed
	}
}

// idleEnded is the idle goroutine's OnEnd: an object's idle deadline is
// due.
func (m *Dependents) idleEnded(id remoting.ObjectID, reason lease.Reason) {
	if reason == lease.ReasonReleased {
		return // the object ended
	}
	v, ok := m.objects.Load(id)
	if !ok {
		return
	}
	d := v.(*dependent)
	if again := d.passivateIfIdle(m.ctx); again > 0 {
		m.scheduleIdle(d, again)
	}
}

// leaseEnded is the lease manager's OnEnd: an object is released, or its
// lease ran out.
func (m *Dependents) leaseEnded(id remoting.ObjectID, reason lease.Reason) {
	v, ok := m.objects.LoadAndDelete(id)
	if !ok {
		return
	}
	d := v.(*dependent)
	if reason != lease.ReasonReleased {
		m.tombs.add(id, tomb{owner: d.owner, iface: d.b.Interface, why: reason, ttl: d.ttl()}, m.clock())
		d.b.emit(remoting.EventLeaseExpired, 0, nil)
	}
	if m.onEnd != nil {
		m.onEnd(id)
	}
	m.mu.Lock()
	idle := m.idle
	m.mu.Unlock()
	if idle != nil && d.passivates() {
		idle.Release(id) // its idle deadline, if it has one now
	}
	if err := d.end(m.ctx, reason); err != nil {
		m.logger.Warn("remoting: an object that ended failed to deactivate", "object", id, "interface", d.b.Interface, "reason", reason, "err", err)
	}
}

// End ends the object id at once, as its client asked: its instance
// is deactivated and its stored state deleted before Release returns. It
// returns an error matching [remoting.ErrNotFound] if the Dependents has no
// such object.
func (m *Dependents) End(id remoting.ObjectID) error {
	if _, ok := m.objects.Load(id); !ok {
		return remoting.Errorf(remoting.CodeNotFound, "object %s not found", id)
	}
	leases := m.leaseManager()
	if leases == nil {
		return ErrClosed
	}
	if err := leases.Release(id); err != nil && !errors.Is(err, lease.ErrNotFound) && !errors.Is(err, lease.ErrExpired) {
		return err
	}
	return nil
}

// Renew renews the leases of the objects ids that owner owns and returns,
// for each, the time to live it was renewed for: zero for an object that
// has no lease, and a negative duration for an id that owner has no
// object under (unknown, ended, or another client's).
func (m *Dependents) Renew(owner remoting.ObjectID, ids []remoting.ObjectID) []time.Duration {
	out := make([]time.Duration, len(ids))
	for i, id := range ids {
		v, ok := m.objects.Load(id)
		if !ok || v.(*dependent).owner != owner {
			out[i] = -1
			continue
		}
		d := v.(*dependent)
		ttl := d.ttl()
		if ttl > 0 && d.renew() != nil {
			ttl = -1
		}
		out[i] = ttl
	}
	return out
}

// SetLeaseTTL changes the lease time to live of the objects of iface: objects
// created from now on get it, and live ones move to it at their next
// renewal (by a call or by their client's renewer, whose interval follows
// the time to live the renewal reports). Zero means no lease. It fails
// for an interface without a client-dependent policy, or a negative ttl.
func (m *Dependents) SetLeaseTTL(iface string, ttl time.Duration) error {
	if ttl < 0 {
		return remoting.Errorf(remoting.CodeInvalidArgument, "negative TTL %v", ttl)
	}
	m.mu.Lock()
	ps := m.policies[iface]
	m.mu.Unlock()
	if ps == nil {
		return remoting.Errorf(remoting.CodeNotFound, "%s has no client-dependent policy", iface)
	}
	ps.ttl.Store(int64(ttl))
	return nil
}

// SetPassivateAfter changes how long the objects of iface may sit idle
// before they are passivated; each live object takes it at its next idle
// check. It fails for an interface without a passivating policy, or a
// time that is not positive.
func (m *Dependents) SetPassivateAfter(iface string, after time.Duration) error {
	if after <= 0 {
		return remoting.Errorf(remoting.CodeInvalidArgument, "passivation idle time %v is not positive", after)
	}
	m.mu.Lock()
	ps := m.policies[iface]
	m.mu.Unlock()
	if ps == nil || !ps.passivates() {
		return remoting.Errorf(remoting.CodeNotFound, "%s has no passivating policy", iface)
	}
	ps.after.Store(int64(after))
	// Look at the live objects again after the new time, rather than at
	// the deadlines the old one gave them.
	m.mu.Lock()
	idle := m.idle
	m.mu.Unlock()
	if idle != nil {
		m.objects.Range(func(_, v any) bool {
			if d := v.(*dependent); d.pol == ps {
				idle.RenewFor(d.b.ID, after) // fails for objects passivated already: nothing to do
			}
			return true
		})
	}
	return nil
}

// Gone returns the error for a call by caller to the object id that the
// Dependents no longer has: a FailedPrecondition that says "lease expired" if
// the object belonged to caller and its lease ran out recently, or nil
// (the caller answers NotFound, giving no hint that the object existed).
func (m *Dependents) Gone(caller, id remoting.ObjectID) error {
	t, ok := m.tombs.get(id, m.clock())
	if !ok || t.owner != caller {
		return nil
	}
	return expiredErr(id, t.iface, t.why, t.ttl, m.grace)
}

// Connected records a new connection of the client owner: while it has
// one, its objects do not end for its absence, and its first connection
// takes back the objects that were waiting out their grace period.
func (m *Dependents) Connected(owner remoting.ObjectID) {
	m.presence.Lock()
	defer m.presence.Unlock()
	m.present[owner]++
	if m.present[owner] == 1 {
		if leases := m.currentLeases(); leases != nil {
			leases.Adopt(ownerKey(owner))
		}
	}
}

// Disconnected records the end of a connection of the client owner; when
// it was the last, the client's objects end after the grace period unless
// it comes back.
func (m *Dependents) Disconnected(owner remoting.ObjectID) {
	m.presence.Lock()
	defer m.presence.Unlock()
	n := m.present[owner] - 1
	if n > 0 {
		m.present[owner] = n
		return
	}
	delete(m.present, owner)
	if leases := m.currentLeases(); leases != nil {
		leases.OwnerGone(ownerKey(owner), m.grace)
	}
}

// currentLeases returns the lease manager without starting it.
func (m *Dependents) currentLeases() *lease.Manager {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.leases
}

// Len returns the number of client-dependent objects.
func (m *Dependents) Len() int {
	n := 0
	m.objects.Range(func(any, any) bool { n++; return true })
	return n
}

// Close stops the Dependents's goroutines, then closes every object's
// strategy with ctx: instances that passivate are passivated (see
// [Passivate]) and the others deactivated; stored states stay. Then it
// closes the stores it made. Close is idempotent; Export and SetPolicy
// fail with ErrClosed after it.
func (m *Dependents) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	leases, idle := m.leases, m.idle
	stores := m.stores
	m.mu.Unlock()
	if idle != nil {
		idle.Close() // waits for a passivation in progress
	}
	if leases != nil {
		leases.Close()
	}
	var errs []error
	m.objects.Range(func(_, v any) bool {
		errs = append(errs, v.(*dependent).Close(ctx))
		return true
	})
	m.cancel()
	for _, s := range stores {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// Tombstones: recent expiries, so that a late call hears why the object
// is gone.
const (
	tombstoneAge = 10 * time.Minute
	maxTombs     = 1 << 16
)

// tomb is what is remembered of an object whose lease ran out.
type tomb struct {
	owner remoting.ObjectID
	iface string
	why   lease.Reason
	ttl   time.Duration
	at    int64 // on the Dependents's clock
}

// tombstones remembers the objects whose lease ran out, for tombstoneAge
// and at most maxTombs of them, the oldest forgotten first.
type tombstones struct {
	mu    sync.Mutex
	byID  map[remoting.ObjectID]tomb
	order []remoting.ObjectID // oldest first, from head
	head  int
}

func (ts *tombstones) add(id remoting.ObjectID, t tomb, now int64) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.byID == nil {
		ts.byID = make(map[remoting.ObjectID]tomb)
	}
	t.at = now
	ts.byID[id] = t
	ts.order = append(ts.order, id)
	ts.pruneLocked(now)
}

func (ts *tombstones) get(id remoting.ObjectID, now int64) (tomb, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t, ok := ts.byID[id]
	if ok && now-t.at > int64(tombstoneAge) {
		ts.pruneLocked(now)
		return tomb{}, false
	}
	return t, ok
}

// pruneLocked forgets the tombs that are too old or too many.
func (ts *tombstones) pruneLocked(now int64) {
	for ts.head < len(ts.order) {
		id := ts.order[ts.head]
		t := ts.byID[id]
		if len(ts.byID) <= maxTombs && now-t.at <= int64(tombstoneAge) {
			break
		}
		delete(ts.byID, id)
		ts.order[ts.head] = remoting.ObjectID{}
		ts.head++
	}
	if ts.head > len(ts.order)/2 && ts.head > 64 {
		ts.order = append(ts.order[:0], ts.order[ts.head:]...)
		ts.head = 0
	}
}
