// Package invoker is the server side of the Remoting Patterns: the Server
// Request Handler, which accepts connections and reads requests, and the
// Invoker, which finds the object an Object ID names, asks its lifecycle
// strategy for an instance and dispatches the call through the generated
// [Skeleton].
//
//	srv := invoker.NewServer(invoker.Options{})
//	ref, err := srv.Register("cart", cart.CartInvoker(), lifecycle.Static(impl))
//	lis, err := invoker.Listen("tcp://127.0.0.1:4000", nil)
//	go srv.Serve(lis)
//	defer srv.Shutdown(ctx)
//
// Goroutines: Serve runs one accept loop per listener (in the caller's
// goroutine). Each connection gets one goroutine that owns it and one reader
// per call stream the client opens; each request runs in a goroutine of its
// own (workers are reused while requests keep coming, so their stacks stay
// grown), at most Options.MaxConcurrentCalls at once per connection
// (further requests wait unread, which pushes back on the client). Shutdown and
// Close stop all of them; Close waits for them.
package invoker
