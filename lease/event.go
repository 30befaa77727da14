package lease

import (
	"time"

	"github.com/remoting-go/remoting"
)

//go:generate go tool stringer -type=Reason -trimprefix=Reason
//go:generate go tool stringer -type=EventKind -trimprefix=Event

// Reason says why a lease ended. The values are explicit so that they stay
// the same when reasons are added.
type Reason uint8

// The reasons a lease ends.
const (
	ReasonExpired   Reason = 1 // it was not renewed in time
	ReasonReleased  Reason = 2 // Release ended it
	ReasonOwnerGone Reason = 3 // its owner went away and nobody took it back within the grace period
)

// EventKind says what happened to a lease. The values are explicit so that
// they stay the same when kinds are added.
type EventKind uint8

// The kinds of [Event].
const (
	EventGranted  EventKind = 1 // Grant gave a lease
	EventRenewed  EventKind = 2 // Renew extended a lease
	EventExpired  EventKind = 3 // the sweeper ended a lease that ran out
	EventReleased EventKind = 4 // Release ended a lease
)

// Event is what [Options.Observe] is told.
type Event struct {
	Kind  EventKind
	ID    remoting.ObjectID
	Owner string // the lease's owner, if it has one

	// Expiry is the new expiry for EventGranted and EventRenewed, the
	// deadline that passed for EventExpired, and the time of release for
	// EventReleased.
	Expiry time.Time

	// Reason is why the lease ended, for EventExpired (ReasonExpired or
	// ReasonOwnerGone) and EventReleased (ReasonReleased).
	Reason Reason
}
