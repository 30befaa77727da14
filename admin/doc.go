// Package admin is an optional HTTP endpoint for operators: health,
// introspection and metrics of a running server. It is off unless the
// application starts it ([Start], or the admin.enabled key of package
// config), listens on loopback by default, and can require a bearer
// token.
//
//	GET /healthz          {"status":"ready"} (200) or {"status":"draining"} (503)
//	GET /debug/remoting   JSON: connections, objects and their strategies,
//	                      instance counts, pool occupancy, adaptive pool
//	                      decisions, per-method calls, errors and latency
//	                      percentiles, lifecycle event counts
//	GET /metrics          the Prometheus text format
//
// It is built on public APIs only: invoker.Server.Stats, the metrics of
// package interceptor, remoting.EventCounts, pool.Sizer and pool.Adaptive.
// Each source is optional; the endpoint shows what it is given. It does
// not import package config: a configured service fills [Options] from its
// configuration (see the example of [Start]).
//
// For users: [Start], [NewHandler], [Options] and [DefaultAddr]. The
// Snapshot types ([Snapshot] and the *Info and *Count types) are the JSON
// of /debug/remoting, for tools that read it.
//
// # Goroutines
//
// [NewHandler] starts none. [Start] serves on one goroutine (plus those
// net/http starts per connection); [Server.Close] and [Server.Shutdown]
// stop them and wait for the serving goroutine.
package admin
