// Package params has the parameter and result shapes that decide the names
// of proxy parameters and of argument fields.
package params

import "context"

// Note is a small struct.
type Note struct{ Text string }

// Params covers named, unnamed, blank and hiding parameters, variadic
// parameters and any number of results.
type Params interface {
	// Named parameters name the argument fields.
	Named(ctx context.Context, sku string, qty int) error
	// Unnamed parameters get A0, A1, ...
	Unnamed(context.Context, string, int) error
	// A blank parameter makes all names positional.
	Blank(ctx context.Context, _ string, n int) error
	// Names that are equal once capitalised are positional.
	Cased(ctx context.Context, id string, Id string) error
	// Names that would hide what the proxy body uses are renamed.
	Hide(ctx context.Context, args []string, res map[string]int, zero *Note) (Note, error)
	// A parameter named c does not hide the proxy's field.
	Field(ctx context.Context, c int, ref string) error
	// The context may have any name.
	Renamed(c context.Context, n int) error
	// A variadic parameter travels as a slice.
	Tag(ctx context.Context, id string, tags ...string) error
	VariadicUnnamed(context.Context, ...Note) error
	// Error alone.
	Ping(ctx context.Context) error
	// Many results, named or not.
	Stats(ctx context.Context) (count int, total float64, names []string, err error)
	Pair(context.Context, int) (int, string, error)
	// An unexported method is remote inside its package.
	reset(ctx context.Context, hard bool) error
}
