package remoting

import "context"

// Metadata is the invocation context: string pairs that travel with an
// invocation in the frame header, for interceptors and user code on the
// other end (credentials, trace ids, tenant names).
type Metadata map[string]string

// Invocation is one remote method call as a Client Proxy hands it to the
// Requestor. Generated code fills it; interceptors may read and change it.
type Invocation struct {
	// Target is the object to call.
	Target Ref
	// Method is the wire name of the method, "<Interface>.<Method>" such as
	// "Cart.Add".
	Method string
	// Args points to the generated argument struct of the method.
	Args any
	// Reply points to the generated result struct the reply is decoded
	// into, or is nil for a method whose only result is error.
	Reply any
	// Meta is the invocation context sent with the call; it may be nil.
	Meta Metadata
	// Mode is the invocation mode; the zero value is ModeSync.
	Mode Mode
	// Done is required with ModeAsync and ignored otherwise: it is called
	// exactly once, after Reply has been filled in, with the call's error
	// or nil. It may run on the goroutine that read the reply, which then
	// reads on only once Done returns, so that a short Done costs no
	// hand-off between goroutines; a Done that blocks, or runs for more
	// than about a quarter of a millisecond, has the reading taken over by
	// another goroutine, and then holds up nothing but itself. It may make
	// calls of any mode, on any connection.
	Done func(error)
}

// Caller sends invocations to remote objects; the Requestor implements it.
// For ModeSync, Invoke returns nil when the remote method returned nil, the
// remote method's error as an [*Error] with [CodeApplication], or an *Error
// with another code when the call failed in the middleware. For the other
// modes see [Mode]: Invoke returns when the mode says the caller may go on,
// with an error only if the call could not be made. Generated Client
// Proxies call through a Caller.
type Caller interface {
	Invoke(ctx context.Context, inv *Invocation) error
}

// Resolver is a Caller that resolves names through the server's naming
// service (the Lookup pattern): requestor.Client is one. The generated
// Lookup<Interface> functions take a Resolver, so that anything that can
// look a name up and call the object it names serves them.
type Resolver interface {
	Caller
	// Lookup returns the reference of the object registered under name.
	// If iface is not empty, an object of another interface is refused
	// with InvalidArgument; an unknown name is NotFound.
	Lookup(ctx context.Context, name, iface string) (Ref, error)
}
