package pool

import "time"

//go:generate go tool stringer -type=EventKind -trimprefix=Event

// EventKind says what happened in a pool. The values are explicit so that
// they stay the same when kinds are added.
type EventKind uint8

// The kinds of [Event].
const (
	EventBorrow    EventKind = 1 // a borrower got an instance
	EventReturn    EventKind = 2 // a borrower gave an instance back with Return
	EventExhausted EventKind = 3 // a borrower's context ended while it waited
	EventCreate    EventKind = 4 // the factory was called
	EventDestroy   EventKind = 5 // an instance was destroyed
)

// Event is what [Options.Observe] is told.
type Event struct {
	Kind EventKind

	// Wait is how long the borrower waited in line, for EventBorrow and
	// EventExhausted; it is zero for a borrower that did not wait.
	Wait time.Duration

	// Err is the factory's error for an EventCreate that failed, and the
	// Reset error for an EventDestroy of an instance whose Reset failed.
	Err error
}
