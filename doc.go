// Package remoting is the shared vocabulary of a distributed-object
// middleware built on the Remoting Patterns (Völter, Kircher, Zdun).
//
// It names the things that both ends of a connection talk about:
//
//   - [ObjectID]: the Object ID that identifies one remote object inside a
//     server (a random UUID v4, or a stable UUID derived from a well-known name).
//   - [Ref]: the Absolute Object Reference (endpoint + object id + interface)
//     with a stable string form.
//   - [Invocation] and [Caller]: what a generated Client Proxy hands to the
//     Requestor.
//   - [Code], [*Error] and the sentinels such as [ErrNotFound]: Remoting Errors
//     that keep their code across the wire and support [errors.Is] and
//     [errors.As], and [RegisterError] for application error types that
//     should arrive at the client as their own type.
//   - [Resolver]: a Caller that resolves names (Lookup); the generated
//     Lookup<Interface> functions take one.
//   - [Interceptor], [Handler], [Metadata] and [ServerInfo]: Invocation
//     Interceptors and the invocation context.
//   - [Event], [EventKind] and [Observer]: the lifecycle events that the
//     lifecycle strategies report (activation, passivation, lease renewal
//     and expiry, pool borrow and return) and whatever observes them, with
//     [EventCounts] to tally them; here so that observers, such as the
//     metrics of package interceptor, need not import package lifecycle.
//
// Everything here is for users and for generated code alike. The runtime
// lives in sub-packages: requestor (client side), invoker (server side),
// lifecycle (which instance serves an Object ID) and its mechanisms pool,
// lease and passivation, codegen (what generated code calls, and nothing
// else), and stubgen (the generator of proxies and invokers). The wire
// protocol is internal; internal/wire/PROTOCOL.md describes it.
//
// This package starts no goroutines and is safe for concurrent use.
package remoting
