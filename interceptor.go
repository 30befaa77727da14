package remoting

import (
	"context"
	"time"
)

// Handler carries an invocation one step further: on the client to the
// connection, on the server to the object. Interceptors receive the next
// Handler of their chain.
type Handler func(ctx context.Context, inv *Invocation) error

// Interceptor is one link of an Invocation Interceptor chain. It sees
// every invocation, may read and change it (and its Meta), and decides
// whether and how to call next: to log, measure, authenticate, retry or
// refuse. An Interceptor must be safe for concurrent use.
//
// On the client, inv is what the proxy built: Target, Method, Args, Mode
// and Meta, which crosses the wire. On the server, inv.Target names the
// object (ID and Interface), Method, Mode and Meta are what the client
// sent, and Args and Reply are nil: the skeleton decodes the arguments
// after the chain lets the call through, so a server interceptor that
// refuses a call keeps the object from being activated for it. The
// caller's identity and remaining deadline are in [ServerInfoFrom](ctx).
type Interceptor func(ctx context.Context, inv *Invocation, next Handler) error

// Chain composes interceptors into one; the first is outermost, so it
// sees the invocation first and the result last. Chain of nothing
// returns nil.
func Chain(interceptors ...Interceptor) Interceptor {
	var ics []Interceptor
	for _, ic := range interceptors {
		if ic != nil {
			ics = append(ics, ic)
		}
	}
	switch len(ics) {
	case 0:
		return nil
	case 1:
		return ics[0]
	}
	return func(ctx context.Context, inv *Invocation, next Handler) error {
		return chainAt(ics, 0, next)(ctx, inv)
	}
}

func chainAt(ics []Interceptor, i int, final Handler) Handler {
	if i == len(ics) {
		return final
	}
	return func(ctx context.Context, inv *Invocation) error {
		return ics[i](ctx, inv, chainAt(ics, i+1, final))
	}
}

// ServerInfo is what a server-side interceptor learns about the caller
// and the call beyond the Invocation.
type ServerInfo struct {
	// Caller is the id of the calling end: random per requestor.Client
	// and kept across its reconnects, so it names the client, not the
	// connection. The objects a client creates through remote factories
	// belong to it.
	Caller ObjectID
	// Remote is the caller's network address.
	Remote string
	// Deadline is the time the caller still waits, 0 for none.
	Deadline time.Duration
}

type serverInfoKey struct{}

type metadataKey struct{}

// serverContext carries a server-side call's ServerInfo and Metadata in
// one context value (one allocation per call).
type serverContext struct {
	context.Context
	info ServerInfo
	meta Metadata
}

func (c *serverContext) Value(key any) any {
	switch key.(type) {
	case serverInfoKey:
		return &c.info
	case metadataKey:
		return c.meta
	}
	return c.Context.Value(key)
}

// NewServerContext returns a context for one server-side call, carrying
// the caller's info and the invocation context it sent: what the server
// hands every remote method. A test of a method that reads
// [ServerInfoFrom] or [MetadataFrom] makes its context with it.
func NewServerContext(parent context.Context, info ServerInfo, md Metadata) context.Context {
	return &serverContext{Context: parent, info: info, meta: md}
}

// ServerInfoFrom returns the caller information of a server-side
// invocation (in interceptors and in the remote method), or nil outside
// one.
func ServerInfoFrom(ctx context.Context) *ServerInfo {
	info, _ := ctx.Value(serverInfoKey{}).(*ServerInfo)
	return info
}

// WithMetadata returns ctx carrying the invocation context md.
func WithMetadata(ctx context.Context, md Metadata) context.Context {
	return context.WithValue(ctx, metadataKey{}, md)
}

// MetadataFrom returns the invocation context in ctx, or nil. On the
// server, it is what the call's Invocation.Meta was on the client.
func MetadataFrom(ctx context.Context) Metadata {
	md, _ := ctx.Value(metadataKey{}).(Metadata)
	return md
}
