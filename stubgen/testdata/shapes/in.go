// Package shapes has parameters of every type shape that crosses the wire.
package shapes

import (
	"context"
	"net/netip"
	"time"
)

// Kind is a named basic type.
type Kind int

// Point is a struct.
type Point struct{ X, Y float64 }

// Pair is a generic struct.
type Pair[K comparable, V any] struct {
	Key   K
	Value V
}

// Bytes is an alias of []byte.
type Bytes = []byte

// Matrix is a named array.
type Matrix [3][3]float64

// Tree is recursive. Its unexported and "-" tagged fields do not cross the
// wire, so their types do not matter.
type Tree struct {
	Value    int
	Children []*Tree
	notify   func()
	Hook     func() `cbor:"-"`
}

// Shapes takes and returns the type shapes.
type Shapes interface {
	Basic(ctx context.Context, b bool, i int8, u uint64, f float32, s string, r rune, by byte) (int, error)
	Pointer(ctx context.Context, p *Point, pp **int) (*Point, error)
	Slices(ctx context.Context, s []Point, b []byte, bs Bytes) ([][]string, error)
	Maps(ctx context.Context, m map[string]Point, k map[Kind][]int) (map[Point]bool, error)
	Arrays(ctx context.Context, a [4]byte, m Matrix) ([2]Point, error)
	Named(ctx context.Context, k Kind, t Tree) (Kind, error)
	Generic(ctx context.Context, p Pair[string, Point]) (Pair[Kind, []byte], error)
	Literal(ctx context.Context, v struct {
		Name string `cbor:"1,keyasint"`
		N    int
	}) (struct{ OK bool }, error)
	Times(ctx context.Context, at time.Time, d time.Duration) (time.Time, error)
	Addr(ctx context.Context, a netip.Addr, p netip.AddrPort) (*netip.Prefix, error)
}
