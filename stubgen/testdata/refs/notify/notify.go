// Package notify has a remote interface with generated stubs, which package
// refs passes by reference.
package notify

import "context"

//go:generate go tool stubgen -type Listener

// Listener is told about events.
type Listener interface {
	Event(ctx context.Context, name string) error
}
