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
// Leases: the proxy of an object that a remote factory returned is held by
// the client (see [Client.Hold]) until the program can no longer reach it,
// and the client's renewer renews the object's lease on the server
// meanwhile, in batches. [Client.Release] ends the object at once.
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
