package errs

import (
	"context"
	"io"
	"unsafe"
)

// Order has a field of function type.
type Order struct {
	ID     string
	Notify func(string)
	done   chan struct{} // unexported: does not cross the wire
	Skip   func()        `cbor:"-"`
}

// Listener is a named function type.
type Listener func()

// Inner has a field of channel type.
type Inner struct{ C chan int }

// Outer embeds Inner, whose fields cross the wire with Outer's.
type Outer struct{ Inner }

type hiddenEmbed struct{ F func() }

// Wrapper embeds an unexported struct, whose exported fields still cross
// the wire.
type Wrapper struct{ hiddenEmbed }

// Types has parameters and results that cannot cross the wire.
type Types interface {
	Chan(ctx context.Context, ch chan int) error                    // ERROR: Types.Chan: parameter ch has channel type chan int; channels cannot cross the wire, pass the values instead
	Func(ctx context.Context) (func(), error)                       // ERROR: Types.Func: result #1 has function type func(); functions cannot cross the wire, pass data instead
	SliceOfChan(ctx context.Context, s []chan int) error            // ERROR: parameter s of type []chan int contains channel type chan int
	MapOfFunc(ctx context.Context, m map[string]func()) error       // ERROR: parameter m of type map[string]func() contains function type func()
	Field(ctx context.Context, o Order) error                       // ERROR: parameter o of type Order contains function type func(string) in field Order.Notify
	Embedded(ctx context.Context, o *Outer) error                   // ERROR: parameter o of type *Outer contains channel type chan int in field Inner.C
	Promoted(ctx context.Context, w Wrapper) error                  // ERROR: in field hiddenEmbed.F
	NamedFunc(ctx context.Context, l Listener) error                // ERROR: parameter l has function type Listener
	Any(ctx context.Context, v any) error                           // ERROR: parameter v has interface type any; only concrete types and remote interfaces cross the wire
	Reader(ctx context.Context, r io.Reader) error                  // ERROR: parameter r has interface type io.Reader; io.Reader is not a remote interface
	Errs(ctx context.Context, errs []error) error                   // ERROR: parameter errs of type []error contains interface type error
	Ctx(ctx context.Context, other context.Context) error           // ERROR: parameter other is a context.Context
	Complex(ctx context.Context) (complex128, error)                // ERROR: result #1 has type complex128; the wire format has no encoding for it
	Pointer(ctx context.Context, p unsafe.Pointer, u uintptr) error // ERROR: parameter p has type unsafe.Pointer // ERROR: parameter u has type uintptr
	Fine(ctx context.Context, o *Order, ids []string) error         // ERROR: parameter o of type *Order contains function type func(string)
}
