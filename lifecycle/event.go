package lifecycle

import (
	"time"

	"github.com/remoting-go/remoting"
)

//go:generate go tool stringer -type=EventKind -trimprefix=Event

// EventKind says what happened to an instance of a registered object. The
// values are explicit so that they stay the same when kinds are added.
type EventKind uint8

// The kinds of [Event]. Which strategy reports which kind, and when, is
// in the package documentation.
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
	ObjectID  remoting.ObjectID

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

// emit tells b's observers of an event, if there are any.
func (b *Binding) emit(kind EventKind, wait time.Duration, err error) {
	if b.Observe == nil {
		return
	}
	b.Observe(Event{
		Kind:      kind,
		Interface: b.Interface,
		Name:      b.Name,
		ObjectID:  b.ID,
		Time:      time.Now(),
		Wait:      wait,
		Err:       err,
	})
}
