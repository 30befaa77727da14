// Package invoker is the server side of the Remoting Patterns: the Server
// Request Handler, which accepts connections and reads requests, and the
// dispatch that finds the object an Object ID names, asks its lifecycle
// strategy for an instance and calls the method through the object's
// generated Invoker (stubgen's <Interface>Invoker(), a [codegen.Invoker]).
//
//	srv := invoker.NewServer(invoker.Options{})
//	ref, err := srv.Register("cart", cart.CartInvoker(), lifecycle.Static(impl))
//	lis, err := invoker.Listen("tcp://127.0.0.1:4000", nil)
//	go srv.Serve(lis)
//	defer srv.Shutdown(ctx)
//
// # Which call registers which kind of object
//
//	kind of object                              call                                         lifecycle
//	one shared instance, by name                Register(name, inv, lifecycle.Static(impl))   the server's
//	created on first call, by name              Register(name, inv, lifecycle.Lazy(newT))     the server's
//	a fresh instance per call, by name          Register(name, inv, lifecycle.PerRequest(newT)) each call's
//	instances borrowed from a pool, by name     Register(name, inv, lifecycle.Pooled(newT, opts)) the pool's
//	anonymous, under an id of your own          RegisterID(id, inv, strategy)                 the strategy's
//	made by a remote factory for one client     Policy(inv, lifecycle.ClientDependent(opts))   the client's: lease, passivation
//	                                            (set once per interface; the factory
//	                                            method just returns the object)
//	named by a key, activated by its first call Keyed(inv, lifecycle.Keyed(newT, opts))      the key's: passivation, durability
//	(any client calls it, through <I>ByKey)     (set once per interface)
//	a client's callback object                  none: the client passes it as an argument    the connection's
//
// Keyed takes a [lifecycle.KeyedObjects], because keyed objects come into
// being when their keys are first called. Register and RegisterID take any
// [lifecycle.Strategy]; Policy takes a
// [lifecycle.Policy], because factory-made objects come into being per
// call and belong to the client that called the factory. Unregister
// removes an object registered by either call.
//
// Goroutines: Serve runs one accept loop per listener (in the caller's
// goroutine). Each connection gets one goroutine that owns it and one reader
// per call stream the client opens; each request runs in a goroutine of its
// own (workers are reused while requests keep coming, so their stacks stay
// grown), at most Options.MaxConcurrentCalls at once per connection
// (further requests wait unread, which pushes back on the client). Shutdown and
// Close stop all of them; Close waits for them. The hops of one call, with
// the goroutine each runs on, are drawn in the documentation of the
// module's internal/peer package.
package invoker
