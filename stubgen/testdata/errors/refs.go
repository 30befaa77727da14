package errs

import (
	"context"
	"io"

	"github.com/remoting-go/remoting/stubgen/testdata/errors/other"
	"github.com/remoting-go/remoting/stubgen/testdata/refs/notify"
)

// Box holds a remote interface in a field.
type Box struct{ L notify.Listener }

// Peer is a remote interface, since -type names it.
type Peer interface {
	Ping(ctx context.Context) error
}

// Refs passes remote interfaces in shapes that do not travel yet, and
// interfaces that are not remote.
type Refs interface {
	Direct(ctx context.Context, p Peer, l notify.Listener) (Peer, notify.Listener, error) // a correct method among wrong ones
	Slice(ctx context.Context, ps []Peer) error                                           // ERROR: Refs.Slice: parameter ps of type []Peer contains remote interface type Peer; a remote interface can be only a parameter or a result itself
	Map(ctx context.Context) (map[string]notify.Listener, error)                          // ERROR: Refs.Map: result #1 of type map[string]notify.Listener contains remote interface type notify.Listener; a remote interface can be only a parameter or a result itself: references inside slices, maps, arrays, pointers and structs are not supported yet
	Pointer(ctx context.Context, p *Peer) error                                           // ERROR: parameter p of type *Peer contains remote interface type Peer
	Field(ctx context.Context, b Box) error                                               // ERROR: parameter b of type Box contains remote interface type notify.Listener in field Box.L
	Variadic(ctx context.Context, ps ...Peer) error                                       // ERROR: parameter ps of type []Peer contains remote interface type Peer
	NoStubs(ctx context.Context, b other.Base) error                                      // ERROR: parameter b has interface type other.Base; other.Base is not a remote interface, package github.com/remoting-go/remoting/stubgen/testdata/errors/other has no stubs for it: generate them there (stubgen -type Base)
	Std(ctx context.Context) (io.Reader, error)                                           // ERROR: result #1 has interface type io.Reader; io.Reader is not a remote interface, package io has no stubs for it
}
