// Package requestor is the client side of the Remoting Patterns: the
// Requestor, which turns an invocation from a generated Client Proxy into a
// request, and the Client Request Handler, which owns the connection,
// correlates replies with requests and fails calls when the peer goes away.
//
//	c, err := requestor.Dial(ctx, "tcp://127.0.0.1:4000", requestor.Options{})
//	defer c.Close()
//	cart, err := cart.LookupCart(ctx, c, "cart")
//	err = cart.Add(ctx, "sku-1", 2)
//
// Calls are pipelined over a few long-lived yamux streams of one
// connection and correlated by request id; concurrent calls share writes.
// The remaining time of the caller's context travels with each request, and
// canceling the context sends a cancel frame that cancels the server-side
// context too.
//
// Reconnection: when the connection fails, every pending call fails at once
// with [remoting.ErrUnavailable]. Calls are never retried by this package
// (it cannot know which methods are idempotent). The next call dials again;
// while dials keep failing, they are spaced by an exponential backoff
// (Options.RedialBackoff up to Options.MaxRedialBackoff) and calls in
// between fail fast with ErrUnavailable instead of waiting.
//
// # Failover
//
// A client given further endpoints of the same service in Options.Failover
// (servers that register the same named objects) is connected to one of
// them at a time, as grpc's pick_first is to one of its addresses: Dial
// tries the primary, then each of the others in order, until one
// handshakes. When that connection fails, or its server shuts down, the
// next dial starts with the endpoint after it and goes round the list; only
// when every endpoint has failed in a row does the backoff above apply,
// and the error then names each endpoint tried and what went wrong with
// it. The client does not move back to the primary while the endpoint it
// is on works. [Client.Endpoint] stays the primary throughout.
//
// Calls and the connection that fails:
//
//   - Calls in flight on it end with Unavailable and are never sent again
//     by the client: the server may or may not have run them, and only the
//     program knows whether a method is safe to repeat (interceptor.Retry
//     does that, for the methods it is told are idempotent).
//   - Calls made after the failure go to the next endpoint.
//   - Fire-and-forget calls handed to it are lost: those it refused are
//     counted by [Client.OnewayFailures]; those it had taken (queued for the
//     wire) are not, because the client cannot know whether they left.
//   - References with an Endpoint of the client's (Lookup's, and any of
//     the Failover list) work on every endpoint: a named object has the
//     same id on every server ([remoting.NameID]). A reference with an empty
//     Endpoint, as servers hand out for the objects they make, names an
//     object of the server the client was connected to when it got it;
//     after failover its calls go to the next server, which answers
//     NotFound unless it has that object too (a keyed object, activated by
//     its key, is one it has).
//   - Objects a remote factory made for the client, which it holds and
//     renews, are renewed on the endpoint they were made through only:
//     while the client is on another, their renewals are not sent (the
//     other server would take their ids for ids of its own, and report
//     them gone), so their server ends them once their lease or its grace
//     period for the client runs out. If the client gets back to that
//     endpoint before then, they live on. They count in [Client.Held] until
//     their proxies are released.
//   - Callback objects the client exported over the connection are
//     released when it ends (the server that was calling them is gone); a
//     program that wants to be called back by the next server passes them
//     to it again.
//
// Leases: the proxy of an object that a remote factory returned is held by
// the client (see [Client.Hold]) until the program can no longer reach it,
// and the client's renewer renews the object's lease on the server
// meanwhile, in batches. [Client.Release] ends the object at once.
//
// Options.Dialer replaces the network: with it a client can be connected
// over any net.Conn, such as one end of a [net.Pipe] whose other end a
// server in the same process serves with invoker.Server.ServeConn.
//
// For users: [Dial], [Options] and the [Client]'s Lookup, Release,
// SetInterceptors, Close and its counts (Exported, Held, OnewayFailures);
// Invoke is what proxies call. Export and Hold are for generated code,
// which reaches them through package codegen (codegen.ExportTo for a
// callback object passed as an argument, codegen.Hold for an object a
// remote factory returned).
//
// Goroutines: per connection, a Client runs one reader goroutine per call
// stream, the transport's writer and control goroutines, one waiter per
// async call in flight (reused while calls keep coming) and, for callback
// objects it exported, the server's requests on workers of their own; one
// goroutine per dial in progress; and, from the first object a proxy
// holds, the renewer. Close stops and waits for all of them.
package requestor
