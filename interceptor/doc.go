// Package interceptor holds the built-in Invocation Interceptors of the
// Remoting Patterns: logging, metrics, authentication and authorization,
// retry, rate limiting and a default deadline. Each constructor returns a
// [remoting.Interceptor] that a client (requestor.Options.Interceptors,
// Client.SetInterceptors) or a server (invoker.Options.Interceptors,
// Server.SetInterceptors) runs for every invocation. They live apart from
// the runtime so that the core depends on none of them, and they import no
// package of the runtime but the root: [Metrics] counts lifecycle events
// as a [remoting.Observer], the root's vocabulary, so a program that uses
// it links no lifecycle code it would not link anyway.
//
// For users: every constructor and its Options, [Metrics] with its
// snapshots and [IdentityFrom]. Two sub-packages export what the
// interceptors see to the usual tools, and only the programs that import
// them link those tools' libraries: interceptor/prom makes a Prometheus
// collector of a [Metrics] (the client_golang library), and
// interceptor/otelremoting traces and measures calls with OpenTelemetry.
//
// # Sides
//
//	interceptor        client  server  what it does
//	-----------------  ------  ------  ----------------------------------------------------
//	Logging            yes     yes     one log/slog record per call: method, object, mode, duration, code
//	Metrics            yes     yes     counts, errors by code and a latency histogram per method;
//	                                   also a remoting.Observer; Prometheus through interceptor/prom
//	Credential         yes     -       puts a credential into the invocation context (Meta)
//	Authenticate       -       yes     checks the credential; PermissionDenied if missing or wrong
//	Authorize          -       yes     decides per identity, interface and method; PermissionDenied
//	Retry              yes     -       retries idempotent methods that failed with Unavailable
//	RateLimit          -       yes     token bucket; ResourceExhausted when it is empty
//	DefaultDeadline    yes     -       gives calls without a deadline one
//
// Metrics has one interceptor per side ([Metrics.Client],
// [Metrics.Server]); Logging is told its side in [LoggingOptions], or
// guesses it from [remoting.ServerInfoFrom].
//
// # Chain order
//
// A chain is built once, with its first interceptor outermost: the first
// sees the invocation first and its outcome last, and an interceptor that
// refuses a call keeps every later one (and, on the server, the object)
// from seeing it. On the client the chain ends in the connection, on the
// server in the lifecycle strategy and the method: a server interceptor
// runs after the object and method were found and before an instance is
// activated for the call, so a refused call activates nothing.
//
// Orders that work well:
//
//	client: Logging, Metrics, DefaultDeadline, Retry, Credential
//	server: Logging, Metrics, RateLimit, Authenticate, Authorize
//
// On the client, Logging and Metrics outside Retry record one entry per
// call the application made, with the time all attempts took; put them
// inside Retry to record each attempt. DefaultDeadline outside Retry
// bounds all attempts together. On the server, Logging and Metrics
// outermost also record the calls that the later interceptors refuse, and
// RateLimit before Authenticate sheds load before a credential is checked.
//
// # Concurrency
//
// Every interceptor here is safe for concurrent use, and a chain that
// holds them may be replaced while calls run (the runtime swaps whole
// chains: a call runs entirely on the chain it started with). The ones
// that keep state (Metrics, RateLimit) keep it in the value the
// constructor returned, so reusing that value in a new chain keeps the
// state.
//
// # Goroutines
//
// None of them starts a goroutine: they run on the goroutine of the
// invocation they intercept.
package interceptor
