// Package otelremoting traces and measures remote calls with OpenTelemetry:
// a client and a server Invocation Interceptor that start a span per call
// and record its duration, and a [remoting.Observer] that counts lifecycle
// events. It is a package of its own so that only programs that import it
// link OpenTelemetry; the runtime and package interceptor do not.
//
//	tel, err := otelremoting.New(otelremoting.Options{TracerProvider: tp, MeterProvider: mp})
//	srv := invoker.NewServer(invoker.Options{
//		Interceptors: []remoting.Interceptor{tel.Server()},
//		Observers:    []remoting.Observer{tel},
//	})
//	c, err := requestor.Dial(ctx, addr, requestor.Options{Interceptors: []remoting.Interceptor{tel.Client()}})
//
// # Spans
//
// Spans follow the OpenTelemetry semantic conventions for RPC (semconv
// v1.43.0): a call is a span of kind Client on the caller and one of kind
// Server on the callee, named after its rpc.method, which is the fully
// qualified interface and the method, "example.com/shop.Cart/Add". Both
// carry
//
//	rpc.system.name           "remoting"
//	rpc.method                "example.com/shop.Cart/Add"
//	rpc.response.status_code  the remoting.Code's name: "OK", "NotFound", "Application", ...
//	error.type                the same name, when the call failed
//	remoting.mode             "Sync", "Oneway", "SyncWithServer" or "Async" (on the server,
//	                          an Async call is "Sync": the callee does not know the caller
//	                          waits elsewhere)
//	remoting.object.id        the Object ID called
//
// and client spans server.address and server.port when the endpoint has
// them. A failed call sets the span's status to Error: on the client any
// failure, on the server the failures that are the server's own (the
// method's error, Unknown, DeadlineExceeded, Unimplemented, Internal,
// Unavailable), not a refusal of the caller's request (InvalidArgument,
// NotFound, PermissionDenied and the like).
//
// The client interceptor writes the span's context into Invocation.Meta
// with the Propagator (W3C traceparent and tracestate by default), which
// crosses the wire; the server interceptor reads it back, so the server
// span is a child of the client span, and the method's ctx carries the
// server span: calls the method makes through a client of its own with
// the Client interceptor are its children in turn. The code on the server
// span is the one the server sends: an error the method returned that is
// not a *remoting.Error is Application, as the caller receives it.
//
// A server method's calls to an object its client exported (a callback)
// run the callback chains: put Client() in invoker.Options
// .CallbackInterceptors and Server() in requestor.Options
// .CallbackInterceptors, and each callback is a client span on the server,
// child of the server span of the call that made it, and a server span on
// the client, in the caller's trace.
//
// Every invocation mode is a span. A Sync call's span ends with the reply;
// a one-way (Fire and Forget) call's span ends when the request is queued,
// since no reply comes; a Sync-with-Server call's when the server accepted
// it; an Async call's (Poll Object, Result Callback) when its outcome
// arrives, just before Invocation.Done runs. The server span of any mode
// ends when the method returns.
//
// # Metrics
//
//	rpc.client.call.duration   histogram, s: client calls, by rpc.system.name, rpc.method,
//	                           rpc.response.status_code, error.type, server.address, server.port
//	rpc.server.call.duration   histogram, s: server calls, the same attributes but the server's
//	remoting.lifecycle.events  counter, {event}: lifecycle events, by remoting.interface,
//	                           remoting.event.kind and, for a failed attempt, error.type
//	remoting.pool.wait.duration histogram, s: time a call waited for a pooled instance, by
//	                           remoting.interface and remoting.event.kind (PoolBorrow, PoolExhausted)
//
// The two call durations are the semantic conventions' and use their
// bucket boundaries. Lifecycle events are metrics rather than span events
// because an [remoting.Event] carries no context to find the span by.
//
// # Concurrency
//
// A [Telemetry] and its interceptors are safe for concurrent use; one
// Telemetry may serve both sides and many clients and servers.
//
// # Goroutines
//
// None: the interceptors run on the goroutine of the invocation they
// intercept, an async call's span ends on the goroutine that runs its
// Done, and Observe runs on the goroutine that caused the event.
package otelremoting
