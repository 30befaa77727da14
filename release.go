package remoting

import "context"

// Proxy is what every generated Client Proxy is: the reference of the
// object it calls and the Caller it calls through.
type Proxy interface {
	Ref() Ref
	Caller() Caller
}

// Releaser is a Caller that can end, on the other end of its connection,
// the objects its own end owns: a requestor.Client ends the objects remote
// factories created for it, and a server ends the callback objects its
// client exported to it.
type Releaser interface {
	Release(ctx context.Context, ref Ref) error
}

// Release ends the remote object that p calls, at once, if p's end owns
// it; calls to it afterwards get NotFound. Releasing an object that is
// already gone is not an error. It is how a server lets go of a callback
// object (an observer that unsubscribes) and how a client ends a
// client-dependent object before its lease runs out.
func Release(ctx context.Context, p Proxy) error {
	r, ok := p.Caller().(Releaser)
	if !ok {
		return Errorf(CodeUnimplemented, "%T cannot release objects", p.Caller())
	}
	return r.Release(ctx, p.Ref())
}
