package lifecycle

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
)

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
	_ Observer = (*Counts)(nil)
)

// Fanout returns a function that tells each of obs of every event, in
// order, for [Binding.Observe]. It returns nil when obs is empty, so that
// strategies skip building events nobody reads. It copies obs.
func Fanout(obs ...Observer) func(Event) {
	switch len(obs) {
	case 0:
		return nil
	case 1:
		return obs[0].Observe
	}
	obs = slices.Clone(obs)
	return func(e Event) {
		for _, o := range obs {
			o.Observe(e)
		}
	}
}

// Counts is an [Observer] that tallies events per interface and kind,
// counting failed attempts (events with an Err) apart from the others. Its
// zero value is ready to use, and it is safe for concurrent use: Observe
// takes no lock once an interface and kind have been seen.
type Counts struct {
	m sync.Map // countKey -> *counter
}

type countKey struct {
	iface string
	kind  EventKind
}

type counter struct{ ok, failed atomic.Uint64 }

// Count is the tally of one interface and kind in a [Counts] snapshot.
type Count struct {
	Interface string
	Kind      EventKind
	N         uint64 // events without an error
	Failed    uint64 // events with an error
}

// Observe counts e.
func (c *Counts) Observe(e Event) {
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
func (c *Counts) Get(iface string, kind EventKind) uint64 {
	if v, ok := c.m.Load(countKey{iface, kind}); ok {
		return v.(*counter).ok.Load()
	}
	return 0
}

// Failed returns how many events of kind with an error were seen for the
// interface iface.
func (c *Counts) Failed(iface string, kind EventKind) uint64 {
	if v, ok := c.m.Load(countKey{iface, kind}); ok {
		return v.(*counter).failed.Load()
	}
	return 0
}

// Snapshot returns every tally, sorted by interface and kind. Counts that
// change while it runs may or may not be included.
func (c *Counts) Snapshot() []Count {
	var out []Count
	c.m.Range(func(k, v any) bool {
		key, n := k.(countKey), v.(*counter)
		out = append(out, Count{Interface: key.iface, Kind: key.kind, N: n.ok.Load(), Failed: n.failed.Load()})
		return true
	})
	slices.SortFunc(out, func(a, b Count) int {
		return cmp.Or(cmp.Compare(a.Interface, b.Interface), cmp.Compare(a.Kind, b.Kind))
	})
	return out
}
