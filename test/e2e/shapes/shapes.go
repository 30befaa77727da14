// Package shapes declares remote interfaces whose parameters and results
// take every shape the wire carries, remote interfaces among them, for the
// end-to-end tests of generated code.
package shapes

import (
	"context"
	"net/netip"
	"time"
)

//go:generate go tool stubgen -type Shapes,Counter,Factory,Visitor,Gate

// Kind is a named basic type.
type Kind int

// Point is a plain struct.
type Point struct{ X, Y float64 }

// Line is a struct with optional, repeated and keyed fields.
type Line struct {
	From, To Point
	Label    *string
	Tags     []string
	Meta     map[string]int
}

// Pair is a generic struct.
type Pair[K comparable, V any] struct {
	Key   K
	Value V
}

// Shapes echoes what it is given; each method exercises one shape.
type Shapes interface {
	// Basics returns its arguments.
	Basics(ctx context.Context, b bool, i int, i8 int8, u16 uint16, u64 uint64, f32 float32, f64 float64, r rune, s string) (bool, int, int8, uint16, uint64, float32, float64, rune, string, error)
	// Bytes returns b; nil and empty stay apart.
	Bytes(ctx context.Context, b []byte) ([]byte, error)
	// Slices returns s; nil and empty stay apart.
	Slices(ctx context.Context, s []string) ([]string, error)
	// Maps returns m; nil and empty stay apart.
	Maps(ctx context.Context, m map[string][]int) (map[string][]int, error)
	// Pointer returns p, nil or not.
	Pointer(ctx context.Context, p *Point) (*Point, error)
	// Arrays returns a reversed.
	Arrays(ctx context.Context, a [3]Point) ([3]Point, error)
	// Struct returns l.
	Struct(ctx context.Context, l Line) (Line, error)
	// Named returns k+1.
	Named(ctx context.Context, k Kind) (Kind, error)
	// Generic returns p.
	Generic(ctx context.Context, p Pair[string, []Point]) (Pair[string, []Point], error)
	// Time returns at+d.
	Time(ctx context.Context, at time.Time, d time.Duration) (time.Time, error)
	// Addr returns a with port.
	Addr(ctx context.Context, a netip.Addr, port uint16) (netip.AddrPort, error)
	// Join joins parts with sep and counts them.
	Join(ctx context.Context, sep string, parts ...string) (string, int, error)
	// Unnamed repeats s n times.
	Unnamed(context.Context, string, int) (string, error)
	// Nothing takes and returns nothing.
	Nothing(ctx context.Context) error
	// Fail returns an error with msg.
	Fail(ctx context.Context, msg string) error
}

// Counter keeps a count on the server.
type Counter interface {
	// Add adds n and returns the new count.
	Add(ctx context.Context, n int) (int, error)
}

// Factory hands out objects and calls back the objects it is given: its
// parameters and results are remote interfaces.
type Factory interface {
	// NewCounter returns a new counter of the caller's own, starting at
	// start.
	NewCounter(ctx context.Context, start int) (Counter, error)
	// Nil returns no counter.
	Nil(ctx context.Context) (Counter, error)
	// Visit calls v.Visit(ctx, i) for i from 0 to n-1 and returns the sum
	// of the results, or -1 if v is nil.
	Visit(ctx context.Context, v Visitor, n int) (int, error)
}

// Visitor is implemented by clients and called back by Factory.Visit.
type Visitor interface {
	// Visit is called with i and returns what it adds to the sum.
	Visit(ctx context.Context, i int) (int, error)
}

// Gate holds calls until it opens, for asynchronous calls.
type Gate interface {
	// Pass waits until the gate opens, then returns n.
	Pass(ctx context.Context, n int) (int, error)
}
