package lease

import (
	"container/heap"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/remoting-go/remoting"
)

// DefaultTTL is the default of [Options.TTL]: the time to live of a lease
// that [Manager.Grant] gives with ttl zero.
const DefaultTTL = 30 * time.Second

// Forever is the time to live of a lease that never runs out: it ends only
// by [Manager.Release], or when its owner goes away (see
// [Manager.OwnerGone]) and does not come back within the grace period. It
// suits objects that live as long as their client is connected. Its
// expiry, as Grant, Renew and Expiry report it, is some 292 years away.
const Forever time.Duration = math.MaxInt64

// sweepBatch bounds the leases one sweep ends while holding the lock, so
// that a mass expiry does not stall Grant and Renew.
const sweepBatch = 256

// Errors returned by a [Manager]. Each is a [*remoting.Error], so that it
// keeps its code when the invoker sends it to a client, and matches both
// itself and the sentinel of its code with [errors.Is]:
//
//	errors.Is(err, lease.ErrExpired)              // a lease-specific check
//	errors.Is(err, remoting.ErrFailedPrecondition) // the general one
var (
	// ErrExpired is returned for a lease whose deadline has passed: by
	// Renew, Expiry and Release from the deadline on until a time to live
	// after the lease ended, after which the lease is forgotten and
	// ErrNotFound is returned instead. Its code is
	// [remoting.CodeFailedPrecondition].
	ErrExpired error = &remoting.Error{Code: remoting.CodeFailedPrecondition, Message: "lease expired"}

	// ErrNotFound is returned for an object that has no lease: one that
	// never had one, was released, or expired long enough ago to be
	// forgotten. Its code is [remoting.CodeNotFound].
	ErrNotFound error = &remoting.Error{Code: remoting.CodeNotFound, Message: "no such lease"}

	// ErrExists is returned by Grant for an object that already has a
	// lease. Its code is [remoting.CodeFailedPrecondition].
	ErrExists error = &remoting.Error{Code: remoting.CodeFailedPrecondition, Message: "lease already granted"}

	// ErrClosed is returned by every call after Close. Its code is
	// [remoting.CodeUnavailable].
	ErrClosed error = &remoting.Error{Code: remoting.CodeUnavailable, Message: "lease manager closed"}
)

// Options configure a [Manager]. The zero value is ready to use.
type Options struct {
	// TTL is the time to live of a lease granted with ttl zero. Default
	// [DefaultTTL], 30 seconds.
	TTL time.Duration

	// OnEnd, if set, is called exactly once for every lease that ends,
	// with the reason it ended, and never with the manager's lock held,
	// so it may call the manager (except Close, from the sweeper).
	//
	// For leases that run out (ReasonExpired, ReasonOwnerGone) it runs on
	// the sweeper goroutine, one lease at a time in deadline order: a slow
	// OnEnd delays the expiries after it, which still happen, late. Hand
	// slow work, such as saving state, to a goroutine of your own.
	//
	// For ReasonReleased it runs on the goroutine that called Release,
	// before Release returns, so that the caller knows the object is gone
	// when Release returns.
	OnEnd func(id remoting.ObjectID, reason Reason)

	// Observe, if set, is told of every event, on the goroutine that
	// caused it (the sweeper for expiries) and without the manager's lock
	// held. It must be safe for concurrent use and should be fast: renewals
	// happen on the invocation path.
	Observe func(Event)

	// Now, if set, replaces time.Now as the manager's clock, for tests.
	// The sweeper still sleeps on real timers, for the time Now says is
	// left until the earliest deadline.
	Now func() time.Time
}

// Manager keeps the leases of objects and ends those that are not renewed
// in time. Its methods are safe for concurrent use.
type Manager struct {
	ttl     time.Duration
	onEnd   func(remoting.ObjectID, Reason)
	observe func(Event)
	now     func() time.Time
	base    time.Time // times are kept as nanoseconds since base

	mu     sync.Mutex
	leases map[remoting.ObjectID]*lease // live leases, and ended ones until they are forgotten
	due    leaseHeap                    // every lease in leases, by check time
	owners map[string]*lease            // the first lease of each owner
	live   int
	closed bool

	kick      chan struct{} // wakes the sweeper when the earliest check moved earlier
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// lease is one object's lease. A lease is in the heap from Grant until
// it is released or forgotten.
type lease struct {
	id       remoting.ObjectID
	deadline int64 // when it ends unless renewed
	check    int64 // its heap key: when the sweeper looks at it next; check <= deadline while it lives
	ttl      int64
	owner    string
	prev     *lease // the owner's list
	next     *lease
	index    int32 // in the heap
	state    state
}

type state uint8

const (
	stateLive  state = iota
	stateGone        // its owner went away: it ends with ReasonOwnerGone unless renewed or adopted
	stateEnded       // it ran out; kept to answer ErrExpired until check, then forgotten
)

// NewManager returns a manager and starts its sweeper goroutine;
// [Manager.Close] stops it.
func NewManager(opts Options) *Manager {
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Manager{
		ttl:     opts.TTL,
		onEnd:   opts.OnEnd,
		observe: opts.Observe,
		now:     opts.Now,
		leases:  make(map[remoting.ObjectID]*lease),
		owners:  make(map[string]*lease),
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	m.base = m.now()
	go m.sweeper()
	return m
}

func (m *Manager) clock() int64         { return int64(m.now().Sub(m.base)) }
func (m *Manager) at(t int64) time.Time { return m.base.Add(time.Duration(t)) }

// Grant gives id a lease for ttl, or for [Options.TTL] if ttl is zero, and
// returns its expiry. A non-empty owner names who holds the lease, for
// [Manager.OwnerGone]. Grant fails with [ErrExists] if id has a lease
// already (an expired lease that has not been forgotten yet is replaced),
// and with an error matching [remoting.ErrInvalidArgument] for a negative
// ttl.
func (m *Manager) Grant(id remoting.ObjectID, owner string, ttl time.Duration) (time.Time, error) {
	if ttl < 0 {
		return time.Time{}, remoting.Errorf(remoting.CodeInvalidArgument, "grant lease %v: negative ttl %v", id, ttl)
	}
	if ttl == 0 {
		ttl = m.ttl
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return time.Time{}, fmt.Errorf("grant lease %v: %w", id, ErrClosed)
	}
	l := m.leases[id]
	switch {
	case l == nil:
		l = &lease{id: id, index: -1}
		m.leases[id] = l
	case l.state != stateEnded:
		m.mu.Unlock()
		return time.Time{}, fmt.Errorf("grant lease %v: %w", id, ErrExists)
	}
	l.state = stateLive
	l.ttl = int64(ttl)
	l.deadline = after(m.clock(), l.ttl)
	l.owner = owner
	m.link(l)
	m.scheduleLocked(l)
	m.live++
	deadline := l.deadline
	m.mu.Unlock()
	m.emit(Event{Kind: EventGranted, ID: id, Owner: owner, Expiry: m.at(deadline)})
	return m.at(deadline), nil
}

// Renew extends id's lease to its time to live from now, and returns the
// new expiry. A lease whose owner went away is kept by a renewal as by
// [Manager.Adopt]. Renew fails with [ErrExpired] once the deadline has
// passed, even if the sweeper has not yet ended the lease, and with
// [ErrNotFound] for an object without a lease.
func (m *Manager) Renew(id remoting.ObjectID) (time.Time, error) {
	m.mu.Lock()
	now := m.clock()
	l, err := m.liveLocked(id, now)
	if err != nil {
		m.mu.Unlock()
		return time.Time{}, fmt.Errorf("renew lease %v: %w", id, err)
	}
	m.extendLocked(l, now)
	deadline, owner := l.deadline, l.owner
	m.mu.Unlock()
	if m.observe != nil {
		m.observe(Event{Kind: EventRenewed, ID: id, Owner: owner, Expiry: m.at(deadline)})
	}
	return m.at(deadline), nil
}

// RenewFor renews id's lease like Renew, with a new time to live that
// this and later renewals use: how a changed configuration reaches the
// leases already granted.
func (m *Manager) RenewFor(id remoting.ObjectID, ttl time.Duration) (time.Time, error) {
	if ttl <= 0 {
		return time.Time{}, remoting.Errorf(remoting.CodeInvalidArgument, "renew lease %v: time to live %v is not positive", id, ttl)
	}
	m.mu.Lock()
	now := m.clock()
	l, err := m.liveLocked(id, now)
	if err != nil {
		m.mu.Unlock()
		return time.Time{}, fmt.Errorf("renew lease %v: %w", id, err)
	}
	l.ttl = int64(ttl)
	m.extendLocked(l, now)
	deadline, owner := l.deadline, l.owner
	m.mu.Unlock()
	if m.observe != nil {
		m.observe(Event{Kind: EventRenewed, ID: id, Owner: owner, Expiry: m.at(deadline)})
	}
	return m.at(deadline), nil
}

// extendLocked renews l from now. Its heap entry stays where it is unless
// the new deadline is earlier than its check (the clock went back, or the
// lease's owner went away with a long grace period).
func (m *Manager) extendLocked(l *lease, now int64) {
	l.state = stateLive
	l.deadline = after(now, l.ttl)
	if l.deadline < l.check {
		m.scheduleLocked(l)
	}
}

// Release ends id's lease at once and calls [Options.OnEnd] with
// [ReasonReleased] on the caller's goroutine before it returns. It fails
// with [ErrNotFound] for an object without a lease and with [ErrExpired]
// for one whose lease the sweeper has already ended. A lease whose
// deadline has passed but that the sweeper has not ended yet is released.
func (m *Manager) Release(id remoting.ObjectID) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return fmt.Errorf("release lease %v: %w", id, ErrClosed)
	}
	l := m.leases[id]
	switch {
	case l == nil:
		m.mu.Unlock()
		return fmt.Errorf("release lease %v: %w", id, ErrNotFound)
	case l.state == stateEnded:
		m.mu.Unlock()
		return fmt.Errorf("release lease %v: %w", id, ErrExpired)
	}
	owner := l.owner
	m.unlink(l)
	heap.Remove(&m.due, int(l.index))
	delete(m.leases, id)
	m.live--
	now := m.clock()
	m.mu.Unlock()
	m.emit(Event{Kind: EventReleased, ID: id, Owner: owner, Expiry: m.at(now), Reason: ReasonReleased})
	if m.onEnd != nil {
		m.onEnd(id, ReasonReleased)
	}
	return nil
}

// Expiry returns when id's lease ends unless it is renewed. It fails as
// [Manager.Renew] does.
func (m *Manager) Expiry(id remoting.ObjectID) (time.Time, error) {
	m.mu.Lock()
	l, err := m.liveLocked(id, m.clock())
	if err != nil {
		m.mu.Unlock()
		return time.Time{}, fmt.Errorf("lease %v: %w", id, err)
	}
	deadline := l.deadline
	m.mu.Unlock()
	return m.at(deadline), nil
}

// liveLocked returns id's lease if it is live at now.
func (m *Manager) liveLocked(id remoting.ObjectID, now int64) (*lease, error) {
	if m.closed {
		return nil, ErrClosed
	}
	l := m.leases[id]
	switch {
	case l == nil:
		return nil, ErrNotFound
	case l.state == stateEnded || now >= l.deadline:
		return nil, ErrExpired
	}
	return l, nil
}

// Len returns the number of live leases.
func (m *Manager) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.live
}

// OwnerGone says that owner went away (for example its connection broke):
// each of its live leases now ends after grace, with [ReasonOwnerGone],
// unless it is renewed or [Manager.Adopt] takes it back first. The grace
// period replaces what was left of each lease, be it shorter or longer.
// OwnerGone returns the number of leases it affected.
func (m *Manager) OwnerGone(owner string, grace time.Duration) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0
	}
	now := m.clock()
	n := 0
	for l := m.owners[owner]; l != nil; l = l.next {
		if now >= l.deadline {
			continue // it expires as it is
		}
		l.state = stateGone
		l.deadline = after(now, int64(max(grace, 0)))
		if l.deadline < l.check {
			m.scheduleLocked(l)
		}
		n++
	}
	return n
}

// Orphan puts id's lease on grace as [Manager.OwnerGone] does with every
// lease of an owner: it now ends after grace, with [ReasonOwnerGone],
// unless it is renewed or [Manager.Adopt] takes it back first. It is for a
// lease granted while its owner was already gone, and costs O(1). It fails
// as [Manager.Renew] does.
func (m *Manager) Orphan(id remoting.ObjectID, grace time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock()
	l, err := m.liveLocked(id, now)
	if err != nil {
		return fmt.Errorf("orphan lease %v: %w", id, err)
	}
	l.state = stateGone
	l.deadline = after(now, int64(max(grace, 0)))
	if l.deadline < l.check {
		m.scheduleLocked(l)
	}
	return nil
}

// Adopt takes back the leases of owner that [Manager.OwnerGone] put on
// grace and that have not ended: each is renewed for its time to live from
// now. Adopt returns the number of leases it took back.
func (m *Manager) Adopt(owner string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0
	}
	now := m.clock()
	n := 0
	for l := m.owners[owner]; l != nil; l = l.next {
		if l.state == stateGone && now < l.deadline {
			m.extendLocked(l, now)
			n++
		}
	}
	return n
}

// Close stops the sweeper and waits for it, including a call of OnEnd in
// progress. Leases that are still live end without OnEnd being called:
// whoever closes the manager disposes of their objects. Later calls fail
// with [ErrClosed]. Close is idempotent and always returns nil. It must
// not be called from OnEnd on the sweeper, which it would wait for.
func (m *Manager) Close() error {
	m.closeOnce.Do(func() {
		m.mu.Lock()
		m.closed = true
		m.mu.Unlock()
		close(m.stop)
	})
	<-m.done
	return nil
}

// scheduleLocked puts l in the heap at its deadline, or moves it there,
// and wakes the sweeper if l is now the first to be checked.
func (m *Manager) scheduleLocked(l *lease) {
	l.check = l.deadline
	if l.index < 0 {
		heap.Push(&m.due, l)
	} else {
		heap.Fix(&m.due, int(l.index))
	}
	if l.index == 0 {
		select {
		case m.kick <- struct{}{}:
		default:
		}
	}
}

// link adds l to its owner's list.
func (m *Manager) link(l *lease) {
	if l.owner == "" {
		return
	}
	head := m.owners[l.owner]
	l.prev, l.next = nil, head
	if head != nil {
		head.prev = l
	}
	m.owners[l.owner] = l
}

// unlink removes l from its owner's list.
func (m *Manager) unlink(l *lease) {
	if l.owner == "" {
		return
	}
	if l.prev == nil {
		if l.next == nil {
			delete(m.owners, l.owner)
		} else {
			m.owners[l.owner] = l.next
		}
	} else {
		l.prev.next = l.next
	}
	if l.next != nil {
		l.next.prev = l.prev
	}
	l.prev, l.next = nil, nil
}

// ended is a lease the sweeper ended, to be reported without the lock.
type ended struct {
	id       remoting.ObjectID
	owner    string
	deadline int64
	reason   Reason
}

// sweeper is the sweeper goroutine.
func (m *Manager) sweeper() {
	defer close(m.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var batch []ended
	for {
		var wait time.Duration
		batch, wait = m.sweep(batch[:0])
		for _, e := range batch {
			m.emit(Event{Kind: EventExpired, ID: e.id, Owner: e.owner, Expiry: m.at(e.deadline), Reason: e.reason})
			if m.onEnd != nil {
				m.onEnd(e.id, e.reason)
			}
		}
		clear(batch) // drop the owner strings
		switch {
		case wait == 0:
			select {
			case <-m.stop:
				return
			default:
				continue
			}
		case wait > 0:
			timer.Reset(wait)
		default:
			timer.Stop()
		}
		select {
		case <-m.stop:
			return
		case <-m.kick:
		case <-timer.C:
		}
	}
}

// sweep ends up to sweepBatch leases that are due, appending them to out,
// and returns how long to wait for the next check: zero to go on at once,
// or negative if there are no leases.
func (m *Manager) sweep(out []ended) ([]ended, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock()
	for len(m.due) > 0 {
		if len(out) == sweepBatch {
			return out, 0
		}
		l := m.due[0]
		if l.check > now {
			return out, time.Duration(l.check - now)
		}
		switch {
		case l.state == stateEnded:
			// Kept for a time to live to answer ErrExpired; now forgotten.
			heap.Pop(&m.due)
			delete(m.leases, l.id)
		case l.deadline > l.check:
			// Renewed since it was scheduled: move it to its deadline.
			l.check = l.deadline
			heap.Fix(&m.due, 0)
		default:
			reason := ReasonExpired
			if l.state == stateGone {
				reason = ReasonOwnerGone
			}
			out = append(out, ended{id: l.id, owner: l.owner, deadline: l.deadline, reason: reason})
			m.unlink(l)
			l.owner = ""
			l.state = stateEnded
			// A lease that lived Forever is remembered as long as
			// one of the default time to live.
			l.check = now + min(l.ttl, int64(m.ttl))
			heap.Fix(&m.due, 0)
			m.live--
		}
	}
	return out, -1
}

// after returns t+d, or the largest time if that overflows (a Forever
// lease).
func after(t, d int64) int64 {
	if t > math.MaxInt64-d {
		return math.MaxInt64
	}
	return t + d
}

func (m *Manager) emit(e Event) {
	if m.observe != nil {
		m.observe(e)
	}
}

// leaseHeap is a binary min-heap of leases by check time, for
// container/heap. Each lease knows its index, for heap.Fix and
// heap.Remove.
type leaseHeap []*lease

func (h leaseHeap) Len() int           { return len(h) }
func (h leaseHeap) Less(i, j int) bool { return h[i].check < h[j].check }

func (h leaseHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = int32(i)
	h[j].index = int32(j)
}

func (h *leaseHeap) Push(x any) {
	l := x.(*lease)
	l.index = int32(len(*h))
	*h = append(*h, l)
}

func (h *leaseHeap) Pop() any {
	old := *h
	n := len(old)
	l := old[n-1]
	old[n-1] = nil
	l.index = -1
	*h = old[:n-1]
	return l
}
