package invoker

import (
	"context"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/wire"
)

// Skeleton is the server side of one remote interface: its name and, per
// method, the function that decodes the arguments, calls the implementation
// and returns the results. stubgen generates one per interface (for example
// cart.CartInvoker()); it is for generated code, and immutable once built.
type Skeleton struct {
	// Interface is the fully qualified interface name, such as
	// "example.com/shop/cart.Cart". It is what a [remoting.Ref] names.
	Interface string
	// Methods maps each wire method name ("Cart.Add") to its dispatcher.
	Methods map[string]Method
	// Implements reports whether impl implements the interface. Register
	// uses it to refuse implementations of the wrong type.
	Implements func(impl any) bool
}

// Method dispatches one call: it decodes the arguments from args into the
// generated argument struct, calls the method on impl (which Implements
// accepted) and returns a pointer to the generated result struct, or nil
// for a method whose only result is error. For generated code.
type Method func(ctx context.Context, impl any, args Args) (reply any, err error)

// Args is the encoded argument struct of one call. For generated code.
type Args struct{ body []byte }

// Decode decodes the arguments into v, a pointer to the generated argument
// struct. A body that does not fit v is an [remoting.ErrInvalidArgument].
func (a Args) Decode(v any) error {
	if err := wire.Unmarshal(a.body, v); err != nil {
		return remoting.Errorf(remoting.CodeInvalidArgument, "decode arguments: %v", err)
	}
	return nil
}

// NewArgs wraps an encoded argument struct, for tests that drive a
// Skeleton's methods directly and for other transports.
func NewArgs(body []byte) Args { return Args{body: body} }
