package dispatch

import (
	"context"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/peer"
	"github.com/remoting-go/remoting/internal/wire"
)

// Invoker is the server side of one remote interface: its name and, per
// method, the function that decodes the arguments, calls the implementation
// and returns the results. stubgen generates one per interface (for example
// cart.CartInvoker()); it is immutable once built. Generated code names it
// codegen.Invoker.
type Invoker struct {
	// Interface is the fully qualified interface name, such as
	// "example.com/shop/cart.Cart". It is what a [remoting.Ref] names.
	Interface string
	// Methods maps each wire method name ("Cart.Add") to its dispatcher.
	Methods map[string]Method
	// ReadOnly holds the wire names of the methods whose doc comment in
	// the interface has the line //remoting:readonly: they change no state
	// that must be saved, so a keyed object whose state is saved after
	// every call skips the save after them. Nil when there are none.
	ReadOnly map[string]bool
	// Implements reports whether impl implements the interface. Register
	// uses it to refuse implementations of the wrong type.
	Implements func(impl any) bool
}

// check refuses invokers that cannot serve.
func (inv *Invoker) check() error {
	if inv == nil || inv.Interface == "" || len(inv.Methods) == 0 || inv.Implements == nil {
		return remoting.Errorf(remoting.CodeInvalidArgument, "incomplete invoker")
	}
	return nil
}

// Check returns an InvalidArgument error if inv cannot serve (nil, or
// generated incompletely).
func Check(inv *Invoker) error { return inv.check() }

// Method dispatches one call: it decodes the arguments from args into the
// generated argument struct, calls the method on impl (which Implements
// accepted) and returns a pointer to the generated result struct, or nil
// for a method whose only result is error.
type Method func(ctx context.Context, impl any, args Args) (reply any, err error)

// Args is the encoded argument struct of one call, and the call's view of
// the connection it came on: generated code exports the objects a method
// returns (remote factories) and calls back the objects a caller passed
// (callbacks) through it.
type Args struct {
	body []byte
	reg  *Registry
	peer *peer.Peer
}

// NewArgs wraps an encoded argument struct, for tests that drive an
// Invoker's methods directly. Export and Caller fail on such Args.
func NewArgs(body []byte) Args { return Args{body: body} }

// Decode decodes the arguments into v, a pointer to the generated argument
// struct. A body that does not fit v is an [remoting.ErrInvalidArgument].
func (a Args) Decode(v any) error {
	if err := wire.Unmarshal(a.body, v); err != nil {
		return remoting.Errorf(remoting.CodeInvalidArgument, "decode arguments: %v", err)
	}
	return nil
}

// errNoConnection is returned by Args that did not come over a connection.
var errNoConnection = remoting.Errorf(remoting.CodeUnimplemented, "no connection: the arguments were not received from a peer")

// Export makes impl, a value a method returned for a result whose type is
// a remote interface, reachable by the caller alone, and returns its
// reference (the zero Ref for a nil impl).
func (a Args) Export(inv *Invoker, impl any) (remoting.Ref, error) {
	if a.reg == nil || a.peer == nil {
		return remoting.Ref{}, errNoConnection
	}
	return a.reg.Export(a.peer.Session().RemoteID(), inv, impl)
}

// Caller returns a Caller that calls objects on the other end of the
// connection the call came on, over that same connection: how a server
// calls the callback objects its client passed.
func (a Args) Caller() remoting.Caller {
	if a.reg == nil || a.peer == nil {
		return noCaller{}
	}
	return &connCaller{p: a.peer, reg: a.reg}
}

// Exporter is a Caller that can make local objects reachable from the
// other end of its connection: *requestor.Client, and the Caller of
// Args.Caller.
type Exporter interface {
	// Export registers impl as an object that only the other end may call
	// and returns its reference; the zero Ref for a nil impl.
	Export(inv *Invoker, impl any) (remoting.Ref, error)
}

// ExportTo exports impl through c, which must be an Exporter, for a
// parameter whose type is a remote interface.
func ExportTo(c remoting.Caller, inv *Invoker, impl any) (remoting.Ref, error) {
	e, ok := c.(Exporter)
	if !ok {
		return remoting.Ref{}, remoting.Errorf(remoting.CodeUnimplemented, "%T cannot export objects; pass a *requestor.Client", c)
	}
	return e.Export(inv, impl)
}

// connCaller calls the other end of a connection and exports objects to
// it: the Caller a server method gets for its client's callback objects.
type connCaller struct {
	p   *peer.Peer
	reg *Registry
}

func (c *connCaller) Invoke(ctx context.Context, inv *remoting.Invocation) error {
	if chain := c.reg.callbacks.Load(); chain != nil {
		return chain(ctx, inv, c.p.Invoke)
	}
	return c.p.Invoke(ctx, inv)
}

func (c *connCaller) Export(inv *Invoker, impl any) (remoting.Ref, error) {
	return c.reg.Export(c.p.Session().RemoteID(), inv, impl)
}

// Release ends an object the other end exported to this one (a callback
// object passed as an argument).
func (c *connCaller) Release(ctx context.Context, ref remoting.Ref) error {
	return SendRelease(ctx, c.p, ref)
}

// SendRelease asks, through c, the other end to end the object ref names,
// which this end owns; an object already gone is not an error. It is what
// both Releasers send: requestor.Client's and the Caller of Args.Caller.
func SendRelease(ctx context.Context, c remoting.Caller, ref remoting.Ref) error {
	err := c.Invoke(ctx, &remoting.Invocation{Target: ref, Method: wire.ReleaseMethod, Args: &struct {
		_ struct{} `cbor:",toarray"`
	}{}})
	if remoting.CodeOf(err) == remoting.CodeNotFound {
		return nil
	}
	return err
}

var (
	_ remoting.Releaser = (*connCaller)(nil)
	_ Exporter          = (*connCaller)(nil)
)

type noCaller struct{}

func (noCaller) Invoke(context.Context, *remoting.Invocation) error { return errNoConnection }
