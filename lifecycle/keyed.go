package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/lease"
	"github.com/remoting-go/remoting/passivation"
)

// NameKeyed is the Name of the strategy of every keyed object: see
// [Keyed].
const NameKeyed = "keyed"

// Durability says when the state of a keyed object is saved to its
// store. The values are explicit so that they stay the same when kinds
// are added.
type Durability uint8

const (
	// SaveOnPassivation saves the state when the object passivates, and
	// when the server closes. A server that dies without closing (a crash,
	// kill -9) loses what the calls since the last passivation did,
	// although they were acknowledged. The default.
	SaveOnPassivation Durability = 0
	// SaveEveryCall saves the state after every call of a method that is
	// not read-only (see the //remoting:readonly directive of stubgen),
	// before the call's reply is sent, with the store's versioned write: an
	// acknowledged call is as durable as the store makes a Save. A save
	// that fails fails the call with Unavailable and drops the instance,
	// so that the next call reloads the last state saved: the object never
	// runs ahead of its store.
	SaveEveryCall Durability = 1
	// SaveEveryInterval saves the state of an object that a call may have
	// changed at most KeyedOptions.SaveInterval after the change, on the
	// saver goroutine, as well as when it passivates and when the server
	// closes: a crash loses at most the last interval's calls, and a call
	// costs no write. A save that fails is tried again an interval later.
	SaveEveryInterval Durability = 2
)

// String returns the name of d as in the documentation.
func (d Durability) String() string {
	switch d {
	case SaveOnPassivation:
		return "on passivation"
	case SaveEveryCall:
		return "every call"
	case SaveEveryInterval:
		return "every interval"
	}
	return fmt.Sprintf("Durability(%d)", uint8(d))
}

// KeyedOptions configure [Keyed]. The zero value is ready to use.
type KeyedOptions struct {
	// Store keeps the objects' states, under their ids (remoting.KeyID),
	// with the interface and the key of each. Any passivation.Store
	// serves; several servers may share one, and several keyed interfaces
	// and client-dependent policies may too. The server does not close a
	// Store given here: close it after the server. Default: a
	// passivation.MemoryStore of the objects' own, which does not outlive
	// the server.
	Store passivation.Store

	// PassivateAfter is how long an object must sit idle (no call running)
	// before its state is saved and its instance dropped. Default
	// [DefaultPassivateAfter], 5 minutes.
	PassivateAfter time.Duration

	// Durability says when the state is saved. Default SaveOnPassivation.
	Durability Durability

	// SaveInterval is the longest a changed state waits to be saved with
	// SaveEveryInterval. Default [DefaultSaveInterval], 1 second.
	SaveInterval time.Duration

	// Directory, if set, decides whether an object may be active on this
	// server: a cluster's (package cluster) makes sure that each keyed
	// object is active on at most one server of many. Default: none, every
	// object may be active here.
	Directory Directory
}

// A Directory decides where keyed objects may be active. The objects
// call it around each activation and before each call; package cluster
// implements it on etcd, so that each object is active on at most one
// server of a cluster at any time. Its methods must be safe for
// concurrent use.
type Directory interface {
	// Claim is called before the object of key, whose id is id, activates
	// here, with the object's turn held (no call of the key runs here).
	// nil lets it activate; an error fails the call with it, before the
	// method runs, and the object leaves the table, so that the next call
	// of the key claims it anew. A cluster's error names the server that
	// hosts the object.
	Claim(ctx context.Context, id remoting.ObjectID, iface, key string) error
	// Hosting returns nil while the object id, claimed here, may be
	// served, and the error to fail its calls with once it may not (the
	// server lost its claims, or the claim was made under a lease that has
	// ended since). It is called after each activation and before each
	// call of a live object, and must be cheap. An object that finds
	// Hosting failing is dropped without being saved: its claim may be
	// another server's by now, and the store keeps what was saved before.
	Hosting(id remoting.ObjectID) error
	// Release is called when an object activated here has been saved (as
	// its Durability says) and is about to be dropped (it passivated, it
	// was evicted, the server closed, or a save failed), with its turn
	// held, so that no new activation of its key starts here before it
	// returns. Its error is logged by no one: a claim Release could not
	// give up is still this server's, and a later Claim here takes it.
	Release(ctx context.Context, id remoting.ObjectID)
	// Attach is called once, when the objects are bound to their
	// interface, so that the directory can evict them (see
	// [KeyedObjects.Evict]) when the server leaves or loses its claims.
	Attach(objs *KeyedObjects)
}

// DefaultSaveInterval is the default of [KeyedOptions.SaveInterval].
const DefaultSaveInterval = time.Second

// Keyed returns the lifecycle of the keyed objects of one remote
// interface, for invoker.Server.Keyed: objects named by a key (an account
// number, a room name) that any client may call through the generated
// <Interface>ByKey, that exist logically forever, and that live in memory
// only while they are used (Lazy Acquisition and Passivation, per key).
//
// The first call of a key activates its object, exactly once however
// many calls arrive together: newFn(ctx, key) makes an empty instance,
// which gets the state the store keeps for the key, if any, through its
// [StateRestorer], and then its Activate, if it is an [Activator]. A
// constructor, restore or store error goes to that call, and the next call
// tries again. An object that sat idle for opts.PassivateAfter is
// passivated: its state is saved through its [StateSaver], its
// Deactivate runs, and the instance is dropped, until the next call of
// the key activates it anew, in this server or in another on the same
// store. When the server closes, each live object is saved (with
// SaveOnPassivation) and deactivated.
//
// An object serves one call at a time, as an actor does: a call waits for
// the one running to return (and, with SaveEveryCall, for its save), so
// an instance needs no locking of its own, and each save holds exactly the
// effect of the calls acknowledged before it. Calls of different keys run
// in parallel. Waiting calls take their turn in no set order: a one-way
// call can reach the object after a call its client sent later. A server
// with invoker.Options.MaxConcurrentCalls = 1 runs each connection's calls
// in the order sent, keys included.
//
// T must implement the remote interface, StateSaver and StateRestorer. For
// a concrete T this is checked when the interface is registered; for an
// interface type, on each instance.
func Keyed[T any](newFn func(ctx context.Context, key string) (T, error), opts KeyedOptions) *KeyedObjects {
	k := &KeyedObjects{store: opts.Store, durability: opts.Durability, interval: opts.SaveInterval, dir: opts.Directory}
	if k.interval <= 0 {
		k.interval = DefaultSaveInterval
	}
	after := opts.PassivateAfter
	if after <= 0 {
		after = DefaultPassivateAfter
	}
	k.after.Store(int64(after))
	switch {
	case newFn == nil:
		k.err = remoting.Errorf(remoting.CodeInvalidArgument, "keyed: nil constructor")
		return k
	case opts.Durability > SaveEveryInterval:
		k.err = remoting.Errorf(remoting.CodeInvalidArgument, "keyed: unknown Durability %d", opts.Durability)
		return k
	}
	k.newFn = func(ctx context.Context, key string) (any, error) { return newFn(ctx, key) }
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Interface {
		for _, hook := range []reflect.Type{reflect.TypeFor[StateSaver](), reflect.TypeFor[StateRestorer]()} {
			if !t.Implements(hook) {
				k.err = remoting.Errorf(remoting.CodeInvalidArgument, "keyed: %v does not implement %v", t, hook)
				return k
			}
		}
	}
	k.checkType = checkType[T]
	return k
}

// keyedRecordSchema is the schema number of keyedRecord in the store; the
// records of client-dependent objects have recordSchema.
const keyedRecordSchema = 2

// keyedRecord is what a keyed object's entry in the store holds.
type keyedRecord struct {
	_         struct{} `cbor:",toarray"`
	Interface string
	Key       string
	State     []byte
}

// KeyedRecord returns the id and the record data under which a keyed
// object of the interface iface (the name on the wire, as in the
// generated <I>Interface constant) and key keeps state in its store, as
// [Keyed] writes them; state is what the object's SaveState returns. It
// is for loading many objects' states into a store without activating
// each one: an import from another database, or a store prepared for a
// test. The caller saves data under id with the store's Save (or the
// store's own bulk path, for stores that document their layout).
func KeyedRecord(iface, key string, state []byte) (remoting.ObjectID, []byte, error) {
	data, err := encodeKeyed(iface, key, state)
	if err != nil {
		return remoting.ObjectID{}, nil, fmt.Errorf("lifecycle: keyed record of %s %q: %w", iface, key, err)
	}
	return remoting.KeyID(iface, key), data, nil
}

// encodeKeyed returns the record data of a keyed object's state.
func encodeKeyed(iface, key string, state []byte) ([]byte, error) {
	return passivation.Encode(keyedRecordSchema, keyedRecord{Interface: iface, Key: key, State: state})
}

// KeyedObjects keeps the keyed objects of one interface: it makes each
// object's strategy when the object is first called, keeps the live ones,
// and passivates those that sit idle. [Keyed] makes one; the server binds
// it with Bind and calls it. Its methods are safe for concurrent use.
//
// # Goroutines
//
// Bind starts the idle goroutine (a [lease.Manager]'s sweeper, keyed by
// idle deadline), which passivates idle objects one at a time, and with
// SaveEveryInterval the saver goroutine (another, keyed by save
// deadline), which saves changed objects; constructors, restores and
// saves after calls run on the goroutines of the calls. Close stops both
// and waits for them.
type KeyedObjects struct {
	newFn      func(context.Context, string) (any, error)
	checkType  func(*Binding) (bool, error)
	store      passivation.Store
	durability Durability
	interval   time.Duration // SaveEveryInterval's
	dir        Directory     // nil: every object may be active here
	after      atomic.Int64  // the idle time before passivation
	err        error         // an option that cannot work, reported by Bind

	// Set by Bind.
	b        Binding // Interface, Implements, Observe
	check    bool    // check each instance against the interface
	ownStore bool    // store was made here, and is closed here
	leave    func(id remoting.ObjectID, s Strategy)
	idle     *lease.Manager
	saver    *lease.Manager  // SaveEveryInterval's: deadlines of the changed objects' saves
	ctx      context.Context // canceled by Close, for the idle goroutine's work
	cancel   context.CancelFunc

	live sync.Map // remoting.ObjectID -> *keyedObject, the objects with an instance

	mu     sync.Mutex
	bound  bool
	closed bool
}

// Bind binds the objects to the interface b names (b.Interface,
// b.Implements and b.Observe are used; b.ID and b.Name are not) and
// starts the idle goroutine. leave is called when an object leaves the
// server's table of objects (see Object), with the strategy Object
// returned for it, on the goroutine of the call or passivation that made
// it leave; it must be fast. Bind fails if an
// option cannot work, if the instance type does not implement the
// interface, or if the objects are bound already.
func (k *KeyedObjects) Bind(b Binding, leave func(id remoting.ObjectID, s Strategy)) error {
	if k.err != nil {
		return k.err
	}
	check, err := k.checkType(&b)
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.bound || k.closed {
		return remoting.Errorf(remoting.CodeInvalidArgument, "keyed objects of %s: bound already; make a lifecycle.Keyed per interface", b.Interface)
	}
	k.bound = true
	b.ID, b.Name = remoting.ObjectID{}, ""
	k.b, k.check, k.leave = b, check, leave
	if k.store == nil {
		k.store, k.ownStore = passivation.NewMemoryStore(), true
	}
	k.ctx, k.cancel = context.WithCancel(context.Background())
	k.idle = lease.NewManager(lease.Options{OnEnd: k.idleEnded})
	if k.durability == SaveEveryInterval {
		k.saver = lease.NewManager(lease.Options{OnEnd: k.saveDue})
	}
	if k.dir != nil {
		k.dir.Attach(k)
	}
	return nil
}

// Object returns the strategy of the object of key, whose id is id
// (remoting.KeyID of the interface and key), for the server's table: it
// makes no instance and reads nothing until its first Acquire. The server
// calls it when a call finds no object under id, and enters the strategy
// unless another call entered one first. The object leaves the table
// (through Bind's leave) when it passivates, when its activation fails,
// and when a save after a call fails or a method panics (SaveEveryCall);
// its Acquire then fails with an error for which Left reports true, and
// the call looks the object up again.
func (k *KeyedObjects) Object(id remoting.ObjectID, key string) Strategy {
	o := &keyedObject{k: k, key: key, turn: make(chan struct{}, 1)}
	o.b = k.b
	o.b.ID, o.b.Key = id, key
	o.self = o
	switch k.durability {
	case SaveEveryCall:
		o.self = &savingObject{o}
	case SaveEveryInterval:
		o.self = &markingObject{o}
	}
	return o.self
}

// errLeft is the error of an Acquire on an object that has passivated and
// left the table; see Left.
var errLeft = errors.New("keyed object passivated")

// Left reports whether err, returned by the Acquire of a strategy Object
// made, says that the object has passivated and left the server's table
// since the call found it there.
func (k *KeyedObjects) Left(err error) bool { return err == errLeft }

// Len returns the number of objects that have an instance now.
func (k *KeyedObjects) Len() int {
	n := 0
	k.live.Range(func(any, any) bool { n++; return true })
	return n
}

// PassivateAfter returns how long an object may sit idle before it is
// passivated.
func (k *KeyedObjects) PassivateAfter() time.Duration { return time.Duration(k.after.Load()) }

// SetPassivateAfter changes how long an object may sit idle before it is
// passivated; each live object takes it at its next idle check. It fails
// for a time that is not positive.
func (k *KeyedObjects) SetPassivateAfter(after time.Duration) error {
	if after <= 0 {
		return remoting.Errorf(remoting.CodeInvalidArgument, "passivation idle time %v is not positive", after)
	}
	k.after.Store(int64(after))
	return nil
}

// Durability returns when the objects' states are saved.
func (k *KeyedObjects) Durability() Durability { return k.durability }

// Close stops the idle and saver goroutines and waits for them, including
// a passivation or save in progress, and then closes the store if it made it (no
// Store was given). The objects themselves are closed by the server,
// through their strategies, before it calls Close. Close is idempotent.
func (k *KeyedObjects) Close() error {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return nil
	}
	k.closed = true
	idle, saver, bound := k.idle, k.saver, k.bound
	k.mu.Unlock()
	if !bound {
		return nil
	}
	idle.Close()
	if saver != nil {
		saver.Close()
	}
	k.cancel()
	if k.ownStore {
		return k.store.Close()
	}
	return nil
}

// idleEnded is the idle goroutine's OnEnd: an object's idle deadline is
// due.
func (k *KeyedObjects) idleEnded(id remoting.ObjectID, reason lease.Reason) {
	if reason == lease.ReasonReleased {
		return
	}
	v, ok := k.live.Load(id)
	if !ok {
		return
	}
	if again := v.(*keyedObject).passivateIfIdle(k.ctx); again > 0 {
		k.idle.Grant(id, "", again) // fails only once closed
	}
}

// keyedState is where a keyed object is in its lifecycle.
type keyedState uint8

const (
	keyedEmpty  keyedState = iota // new: the first call activates it
	keyedLive                     // inst holds the instance
	keyedLeft                     // gone from the table (passivated, or its instance failed): for good
	keyedClosed                   // the server closed, or the object was unregistered
)

// keyedObject is the strategy of one keyed object. Its turn is taken by
// each call from Acquire to Return, by a passivation and by Close, so
// that everything that touches the instance happens one at a time; the
// fields below are guarded by the turn.
type keyedObject struct {
	k    *KeyedObjects
	b    Binding // with the object's ID
	key  string
	self Strategy      // o, or the savingObject around it: what the table holds
	turn chan struct{} // capacity 1: full while someone has the turn
	last atomic.Int64  // when the last call ended, on the clock of k.idle's base

	state   keyedState
	inst    any
	version uint64 // the version of the stored record; zero if none
	dirty   bool   // SaveEveryInterval: a call may have changed the state since the last save
}

var _ Strategy = (*keyedObject)(nil)

// Bind is called by no one: the KeyedObjects binds its objects.
func (o *keyedObject) Bind(Binding) error { return nil }

// Name returns [NameKeyed].
func (o *keyedObject) Name() string { return NameKeyed }

// Key returns the object's key.
func (o *keyedObject) Key() string { return o.key }

// take waits for the turn, until ctx ends.
func (o *keyedObject) take(ctx context.Context) error {
	select {
	case o.turn <- struct{}{}:
		return nil
	default:
	}
	select {
	case o.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("lifecycle: waiting for the call before this one on %s %q: %w", o.b.Interface, o.key, ctx.Err())
	}
}

func (o *keyedObject) give() { <-o.turn }

// Acquire takes the object's turn and returns its instance, activating
// the object first if it has no instance. The turn is given back by
// Return, or here if Acquire fails.
func (o *keyedObject) Acquire(ctx context.Context) (any, error) {
	if err := o.take(ctx); err != nil {
		return nil, err
	}
	switch o.state {
	case keyedLive:
		if o.k.dir != nil {
			if err := o.k.dir.Hosting(o.b.ID); err != nil {
				o.drop(context.WithoutCancel(ctx), keyedLeft)
				o.give()
				return nil, err
			}
		}
		return o.inst, nil
	case keyedLeft:
		o.give()
		return nil, errLeft
	case keyedClosed:
		o.give()
		return nil, ErrClosed
	}
	v, err := o.activate(ctx)
	if err != nil {
		// The object leaves the table, so that a key whose activation
		// fails leaves nothing behind; the next call of the key enters it
		// anew and tries again.
		o.state = keyedLeft
		o.leaveTable()
		o.give()
		return nil, err
	}
	return v, nil
}

// leaveTable takes the object out of the server's table, with the turn
// held and the state keyedLeft.
func (o *keyedObject) leaveTable() {
	if o.k.leave != nil {
		o.k.leave(o.b.ID, o.self)
	}
}

// Return ends the call's turn.
func (o *keyedObject) Return(any) {
	o.last.Store(o.k.clock())
	o.give()
}

// clock returns the time on the monotonic clock, in nanoseconds since an
// arbitrary base.
func (k *KeyedObjects) clock() int64 { return int64(time.Since(processStart)) }

var processStart = time.Now()

// activate makes the object's instance from its stored state, if it has
// one, with the turn held.
func (o *keyedObject) activate(ctx context.Context) (v any, err error) {
	restored := false
	defer func() {
		kind := remoting.EventActivated
		if restored {
			kind = remoting.EventReactivated
		}
		o.b.emit(kind, 0, err)
	}()
	k := o.k
	if k.dir != nil {
		if err := k.dir.Claim(ctx, o.b.ID, o.b.Interface, o.key); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				k.dir.Release(context.WithoutCancel(ctx), o.b.ID)
			}
		}()
	}
	var r keyedRecord
	var version uint64
	rec, err := k.store.Load(ctx, o.b.ID)
	switch {
	case err == nil:
		schema, derr := passivation.Decode(rec.Data, &r)
		if derr == nil && schema != keyedRecordSchema {
			derr = fmt.Errorf("schema %d, want %d", schema, keyedRecordSchema)
		}
		if derr != nil {
			return nil, remoting.Errorf(remoting.CodeInternal, "activate %s %q: stored record: %w", o.b.Interface, o.key, derr)
		}
		if r.Interface != o.b.Interface || r.Key != o.key {
			return nil, remoting.Errorf(remoting.CodeInternal, "activate %s %q: the stored record is of %s %q", o.b.Interface, o.key, r.Interface, r.Key)
		}
		version, restored = rec.Version, true
	case errors.Is(err, passivation.ErrNotFound):
	default:
		return nil, &remoting.Error{Code: remoting.CodeUnavailable, Message: fmt.Sprintf("activate %s %q: load the state: %v", o.b.Interface, o.key, err), Cause: err}
	}
	err = guard(&o.b, "constructor", func() (err error) {
		v, err = k.newFn(ctx, o.key)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lifecycle: create %s %q: %w", o.b.Interface, o.key, err)
	}
	if k.check {
		if err := o.b.Check(v); err != nil {
			return nil, remoting.Errorf(remoting.CodeInternal, "the constructor of %s returned an instance of the wrong type: %w", o.b.Interface, err)
		}
		if err := canPassivate(&o.b, v); err != nil {
			return nil, err
		}
	}
	if restored {
		if err := guard(&o.b, "RestoreState", func() error { return v.(StateRestorer).RestoreState(ctx, r.State) }); err != nil {
			return nil, fmt.Errorf("lifecycle: restore the state of %s %q: %w", o.b.Interface, o.key, err)
		}
	}
	if k.dir != nil {
		// The claim was made before the state loaded and the instance was
		// made; the directory may have lost it since, and the object be
		// active elsewhere.
		if err := k.dir.Hosting(o.b.ID); err != nil {
			return nil, err
		}
	}
	if a, ok := v.(Activator); ok {
		if err := guard(&o.b, "Activate", func() error { return a.Activate(ctx) }); err != nil {
			return nil, fmt.Errorf("lifecycle: activate %s %q: %w", o.b.Interface, o.key, err)
		}
	}
	o.state, o.inst, o.version, o.dirty = keyedLive, v, version, false
	k.live.Store(o.b.ID, o)
	k.idle.Grant(o.b.ID, "", k.PassivateAfter()) // fails only once closed
	return v, nil
}

// save stores the instance's state over the stored version, with the
// turn held.
func (o *keyedObject) save(ctx context.Context) error {
	var state []byte
	err := guard(&o.b, "SaveState", func() (err error) {
		state, err = o.inst.(StateSaver).SaveState(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("lifecycle: save the state of %s %q: %w", o.b.Interface, o.key, err)
	}
	data, err := encodeKeyed(o.b.Interface, o.key, state)
	if err != nil {
		return fmt.Errorf("lifecycle: save the state of %s %q: %w", o.b.Interface, o.key, err)
	}
	version, err := o.k.store.Save(ctx, o.b.ID, data, o.version)
	if err != nil {
		return fmt.Errorf("lifecycle: save the state of %s %q: %w", o.b.Interface, o.key, err)
	}
	o.version, o.dirty = version, false
	return nil
}

// drop ends the instance, with the turn held: the object is left as
// state says, keyedLeft (and out of the table) or keyedClosed.
func (o *keyedObject) drop(ctx context.Context, state keyedState) error {
	inst := o.inst
	o.state, o.inst = state, nil
	if o.k.dir != nil {
		o.k.dir.Release(ctx, o.b.ID)
	}
	o.k.live.CompareAndDelete(o.b.ID, o)
	if state == keyedLeft {
		o.leaveTable()
	}
	return deactivate(ctx, &o.b, inst)
}

// passivateIfIdle runs on the idle goroutine when the object's idle
// deadline is due. It passivates the object if it has been idle for the
// idle time, and otherwise returns when to look again; zero means never.
func (o *keyedObject) passivateIfIdle(ctx context.Context) (again time.Duration) {
	after := o.k.PassivateAfter()
	select {
	case o.turn <- struct{}{}:
	default:
		return after // a call is running
	}
	defer o.give()
	if o.state != keyedLive {
		return 0
	}
	if idle := time.Duration(o.k.clock() - o.last.Load()); idle < after {
		return after - idle
	}
	if o.k.lostClaims(o.b.ID) {
		o.drop(ctx, keyedLeft)
		return 0
	}
	// With SaveEveryCall the store has the state already: the last call
	// that could change it saved it.
	if o.k.durability != SaveEveryCall && (o.k.durability != SaveEveryInterval || o.dirty) {
		if err := o.save(ctx); err != nil {
			o.b.emit(remoting.EventPassivated, 0, err)
			return after
		}
	}
	o.drop(ctx, keyedLeft)
	o.b.emit(remoting.EventPassivated, 0, nil)
	return 0
}

// Close ends the object's service when the server closes or the object
// is unregistered: once the call running has returned (or ctx has ended),
// a live object is saved (with SaveOnPassivation) and deactivated. Later
// calls fail with ErrClosed. Close is idempotent.
func (o *keyedObject) Close(ctx context.Context) error {
	if err := o.take(ctx); err != nil {
		return fmt.Errorf("lifecycle: close %s %q: %w", o.b.Interface, o.key, err)
	}
	defer o.give()
	if o.state != keyedLive {
		if o.state == keyedEmpty {
			o.state = keyedClosed
		}
		return nil
	}
	var err error
	if (o.k.durability == SaveOnPassivation || o.dirty) && !o.k.lostClaims(o.b.ID) {
		err = o.save(ctx)
		o.b.emit(remoting.EventPassivated, 0, err)
	}
	return errors.Join(err, o.drop(ctx, keyedClosed))
}

// lostClaims reports whether the directory says that the object id may
// no longer be served here: its state must not be saved from here.
func (k *KeyedObjects) lostClaims(id remoting.ObjectID) bool {
	return k.dir != nil && k.dir.Hosting(id) != nil
}

// Interface returns the interface the objects are bound to; empty before
// the server binds them.
func (k *KeyedObjects) Interface() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.b.Interface
}

// Evict ends every live object now, as a passivation does, so that its
// key can activate elsewhere: once the call running on it has returned
// (or ctx has ended), its state is saved if save is set and its
// Durability has not saved it already, it is released from the
// directory and deactivated. A Directory calls it when the server leaves
// its cluster (save set) or has lost its claims (save unset: another
// server may have the object by now). An object whose save fails is
// dropped all the same, and the error is returned, joined with the
// others'. Without save, only objects the Directory no longer lets serve
// (Hosting fails) are ended. Calls that arrive meanwhile activate their objects anew, as
// the Directory lets them. Evict returns the number of objects it ended.
func (k *KeyedObjects) Evict(ctx context.Context, save bool) (int, error) {
	var objs []*keyedObject
	k.live.Range(func(_, v any) bool {
		objs = append(objs, v.(*keyedObject))
		return true
	})
	// Each eviction waits for its object's call and may save and release
	// it (a store write and a directory write): evictConcurrency of them
	// run at once.
	var (
		mu   sync.Mutex
		n    int
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, evictConcurrency)
	)
	for _, o := range objs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ended, err := o.evict(ctx, save)
			mu.Lock()
			defer mu.Unlock()
			if ended {
				n++
			}
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	return n, errors.Join(errs...)
}

// evictConcurrency is how many objects Evict ends at once.
const evictConcurrency = 16

// evict ends the object for Evict.
func (o *keyedObject) evict(ctx context.Context, save bool) (bool, error) {
	if err := o.take(ctx); err != nil {
		return false, fmt.Errorf("lifecycle: evict %s %q: %w", o.b.Interface, o.key, err)
	}
	defer o.give()
	if o.state != keyedLive || !save && !o.k.lostClaims(o.b.ID) {
		return false, nil
	}
	var err error
	if save && o.k.durability != SaveEveryCall && (o.k.durability != SaveEveryInterval || o.dirty) {
		err = o.save(ctx)
	}
	o.drop(context.WithoutCancel(ctx), keyedLeft)
	o.b.emit(remoting.EventPassivated, 0, err)
	return true, err
}

// savingObject is the strategy of a keyed object that saves its state
// after every call that may have changed it: the server's table sees
// Commit and Discard on it.
type savingObject struct{ *keyedObject }

// Commit saves the state of inst, which the call holding the turn used,
// after a method that may have changed it and before its reply is sent.
// If the save fails, the instance is dropped, so that the next call
// reloads the last state saved, and the call fails with Unavailable.
func (s *savingObject) Commit(ctx context.Context, inst any) error {
	o := s.keyedObject
	if o.state != keyedLive || o.inst != inst {
		return remoting.Errorf(remoting.CodeInternal, "commit %s %q: the instance is not the object's", o.b.Interface, o.key)
	}
	// A call that outlasted the server's claim on the object (its lease
	// ran out meanwhile) is not saved: another server may have the
	// object by now, and the state it loaded must stay the last one.
	if o.k.dir != nil {
		if err := o.k.dir.Hosting(o.b.ID); err != nil {
			o.drop(context.WithoutCancel(ctx), keyedLeft)
			return &remoting.Error{Code: remoting.CodeUnavailable, Message: fmt.Sprintf("commit %s %q: this server may no longer serve the object; the call's effect is not kept", o.b.Interface, o.key), Cause: err}
		}
	}
	err := o.save(ctx)
	if err == nil {
		return nil
	}
	o.drop(context.WithoutCancel(ctx), keyedLeft)
	return &remoting.Error{Code: remoting.CodeUnavailable, Message: fmt.Sprintf("%v; the call's effect is not kept", err), Cause: err}
}

// Discard drops inst, which the call holding the turn used, after the
// method panicked: its state cannot be trusted, and the next call
// reloads the last state saved.
func (s *savingObject) Discard(inst any) {
	o := s.keyedObject
	if o.state == keyedLive && o.inst == inst {
		o.drop(context.Background(), keyedLeft)
	}
}

// markingObject is the strategy of a keyed object that saves its state
// every interval: Commit marks the state changed and has the saver
// goroutine save it an interval later.
type markingObject struct{ *keyedObject }

// Commit marks the state of the object changed; it never fails.
func (m *markingObject) Commit(_ context.Context, inst any) error {
	o := m.keyedObject
	if !o.dirty && o.state == keyedLive && o.inst == inst {
		o.dirty = true
		o.k.saver.Grant(o.b.ID, "", o.k.interval) // fails only once closed, or if a save is due already
	}
	return nil
}

// Discard drops inst after its method panicked; the state saved last
// stays.
func (m *markingObject) Discard(inst any) {
	o := m.keyedObject
	if o.state == keyedLive && o.inst == inst {
		o.drop(context.Background(), keyedLeft)
	}
}

// saveDue is the saver goroutine's OnEnd: a changed object's save is due.
func (k *KeyedObjects) saveDue(id remoting.ObjectID, reason lease.Reason) {
	if reason == lease.ReasonReleased {
		return
	}
	v, ok := k.live.Load(id)
	if !ok {
		return
	}
	o := v.(*keyedObject)
	if err := o.take(k.ctx); err != nil {
		return // closing
	}
	defer o.give()
	if o.state != keyedLive || !o.dirty || k.lostClaims(id) {
		return
	}
	if err := o.save(k.ctx); err != nil {
		k.saver.Grant(id, "", k.interval) // try again
	}
}
