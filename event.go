package remoting

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

//go:generate go tool stringer -type=EventKind -trimprefix=Event

// EventKind says what happened to an instance of a registered object: a
// lifecycle event, which the lifecycle strategies report and observers
// (invoker.Options.Observers, the metrics of package interceptor) count.
// The values are explicit so that they stay the same when kinds are added.
type EventKind uint8

// The kinds of [Event]. Which lifecycle strategy reports which kind, and
// when, is in the documentation of package lifecycle.
const (
	EventActivated     EventKind = 1 // an instance was created (and activated) to serve calls
	EventDeactivated   EventKind = 2 // an instance stopped serving calls and was deactivated
	EventPassivated    EventKind = 3 // an idle instance's state was stored and the instance dropped
	EventReactivated   EventKind = 4 // a passivated instance was restored from its stored state
	EventLeaseRenewed  EventKind = 5 // the lease of a client-dependent instance was extended
	EventLeaseExpired  EventKind = 6 // the lease of a client-dependent instance ran out
	EventPoolBorrow    EventKind = 7 // a call borrowed an instance from a pool
	EventPoolReturn    EventKind = 8 // a call gave a pooled instance back
	EventPoolExhausted EventKind = 9 // a call's context ended while it waited for a pooled instance
)

// Event is one thing that happened to an instance of a registered object.
// Observers receive Events by value; they may keep them.
type Event struct {
	Kind EventKind

	// Interface is the fully qualified name of the object's remote
	// interface, Name the name it is registered under (empty for an
	// anonymous object) and ObjectID its id.
	Interface string
	Name      string
	ObjectID  ObjectID
	// Key is the key of a keyed object (see [KeyID]); empty for others.
	Key string

	// Time is when the event happened.
	Time time.Time

	// Wait is how long the call waited in line, for EventPoolBorrow and
	// EventPoolExhausted; zero otherwise.
	Wait time.Duration

	// Err is set when the step the event reports failed: the
	// constructor's or Activate's error for EventActivated, Deactivate's
	// error for EventDeactivated. An event with a non-nil Err reports an
	// attempt, not a change of state.
	Err error
}

// Observer is told of lifecycle events. Observe is called on the goroutine
// that caused the event, often on the invocation path and from many
// goroutines at once, so it must be safe for concurrent use and fast.
type Observer interface {
	Observe(e Event)
}

// ObserverFunc adapts a function to an [Observer].
type ObserverFunc func(e Event)

// Observe calls f(e).
func (f ObserverFunc) Observe(e Event) { f(e) }

var (
	_ Observer = ObserverFunc(nil)
	_ Observer = (*EventCounts)(nil)
)

// EventCounts is an [Observer] that tallies events per interface and kind,
// counting failed attempts (events with an Err) apart from the others. Its
// zero value is ready to use, and it is safe for concurrent use: Observe
// takes no lock once an interface and kind have been seen.
type EventCounts struct {
	m sync.Map // countKey -> *counter
}

type countKey struct {
	iface string
	kind  EventKind
}

type counter struct{ ok, failed atomic.Uint64 }

// EventCount is the tally of one interface and kind in an [EventCounts]
// snapshot.
type EventCount struct {
	Interface string
	Kind      EventKind
	N         uint64 // events without an error
	Failed    uint64 // events with an error
}

// Observe counts e.
func (c *EventCounts) Observe(e Event) {
	k := countKey{e.Interface, e.Kind}
	v, ok := c.m.Load(k)
	if !ok {
		v, _ = c.m.LoadOrStore(k, new(counter))
	}
	if e.Err != nil {
		v.(*counter).failed.Add(1)
	} else {
		v.(*counter).ok.Add(1)
	}
}

// Get returns how many events of kind without an error were seen for the
// interface iface (fully qualified, as in [Event.Interface]).
func (c *EventCounts) Get(iface string, kind EventKind) uint64 {
	if v, ok := c.m.Load(countKey{iface, kind}); ok {
		return v.(*counter).ok.Load()
	}
	return 0
}

// Failed returns how many events of kind with an error were seen for the
// interface iface.
func (c *EventCounts) Failed(iface string, kind EventKind) uint64 {
	if v, ok := c.m.Load(countKey{iface, kind}); ok {
		return v.(*counter).failed.Load()
	}
	return 0
}

// Snapshot returns every tally, sorted by interface and kind. Counts that
// change while it runs may or may not be included.
func (c *EventCounts) Snapshot() []EventCount {
	var out []EventCount
	c.m.Range(func(k, v any) bool {
		key, n := k.(countKey), v.(*counter)
		out = append(out, EventCount{Interface: key.iface, Kind: key.kind, N: n.ok.Load(), Failed: n.failed.Load()})
		return true
	})
	slices.SortFunc(out, func(a, b EventCount) int {
		return cmp.Or(cmp.Compare(a.Interface, b.Interface), cmp.Compare(a.Kind, b.Kind))
	})
	return out
}
