package invoker

import (
	"context"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/peer"
	"github.com/remoting-go/remoting/internal/wire"
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

// Args is the encoded argument struct of one call, and the call's view of
// the connection it came on: generated code exports the objects a method
// returns (remote factories) and calls back the objects a caller passed
// (callbacks) through it. For generated code.
type Args struct {
	body []byte
	reg  *Registry
	peer *peer.Peer
}

// Decode decodes the arguments into v, a pointer to the generated argument
// struct. A body that does not fit v is an [remoting.ErrInvalidArgument].
func (a Args) Decode(v any) error {
	if err := wire.Unmarshal(a.body, v); err != nil {
		return remoting.Errorf(remoting.CodeInvalidArgument, "decode arguments: %v", err)
	}
	return nil
}

// NewArgs wraps an encoded argument struct, for tests that drive a
// Skeleton's methods directly. Export and Caller fail on such Args.
func NewArgs(body []byte) Args { return Args{body: body} }

// errNoConnection is returned by Args that did not come over a connection.
var errNoConnection = remoting.Errorf(remoting.CodeUnimplemented, "invoker: no connection: Args were not received from a peer")

// Export makes impl, a value a method returned for a result whose type is
// a remote interface, reachable by the caller alone, and returns its
// reference (the zero Ref for a nil impl). For generated code.
func (a Args) Export(sk *Skeleton, impl any) (remoting.Ref, error) {
	if a.reg == nil || a.peer == nil {
		return remoting.Ref{}, errNoConnection
	}
	return a.reg.Export(a.peer.Session().PeerID(), sk, impl)
}

// Caller returns a Caller that calls objects on the other end of the
// connection the call came on, over that same connection: how a server
// calls the callback objects its client passed. For generated code.
func (a Args) Caller() remoting.Caller {
	if a.reg == nil || a.peer == nil {
		return noCaller{}
	}
	return &peerCaller{p: a.peer, reg: a.reg}
}

// Exporter is a Caller that can make local objects reachable from the
// other end of its connection: *requestor.Client, and the Caller of
// Args.Caller.
type Exporter interface {
	// Export registers impl as an object that only the other end may call
	// and returns its reference; the zero Ref for a nil impl.
	Export(sk *Skeleton, impl any) (remoting.Ref, error)
}

// ExportTo exports impl through c, which must be an Exporter, for a
// parameter whose type is a remote interface. For generated code.
func ExportTo(c remoting.Caller, sk *Skeleton, impl any) (remoting.Ref, error) {
	e, ok := c.(Exporter)
	if !ok {
		return remoting.Ref{}, remoting.Errorf(remoting.CodeUnimplemented, "invoker: %T cannot export objects; pass a *requestor.Client", c)
	}
	return e.Export(sk, impl)
}

// peerCaller calls the other end of a connection and exports objects to
// it.
type peerCaller struct {
	p   *peer.Peer
	reg *Registry
}

func (c *peerCaller) Invoke(ctx context.Context, inv *remoting.Invocation) error {
	return c.p.Invoke(ctx, inv)
}

func (c *peerCaller) Export(sk *Skeleton, impl any) (remoting.Ref, error) {
	return c.reg.Export(c.p.Session().PeerID(), sk, impl)
}

// Release ends an object the other end exported to this one (a callback
// object passed as an argument).
func (c *peerCaller) Release(ctx context.Context, ref remoting.Ref) error {
	return SendRelease(ctx, c.p, ref)
}

// SendRelease asks, through c, the other end to end the object ref names,
// which this end owns; an object already gone is not an error. It is what
// the Releasers of this module (requestor.Client and the Caller of
// Args.Caller) send.
func SendRelease(ctx context.Context, c remoting.Caller, ref remoting.Ref) error {
	err := c.Invoke(ctx, &remoting.Invocation{Target: ref, Method: wire.ReleaseMethod, Args: &struct {
		_ struct{} `cbor:",toarray"`
	}{}})
	if remoting.CodeOf(err) == remoting.CodeNotFound {
		return nil
	}
	return err
}

var _ remoting.Releaser = (*peerCaller)(nil)

type noCaller struct{}

func (noCaller) Invoke(context.Context, *remoting.Invocation) error { return errNoConnection }
