// Package admin is an optional HTTP endpoint for operators: health,
// introspection and metrics of a running server. It is off unless the
// application starts it ([Start], or the admin.enabled key of package
// config), listens on loopback by default, and can require a bearer
// token.
//
//	GET /livez            {"status":"live"} (200) while the process serves
//	GET /readyz           {"status":"ready"} (200), or 503 with "draining" (Shutdown
//	                      has begun) or "fenced" (a cluster layer took the node out)
//	GET /healthz          the same as /readyz
//	GET /debug/remoting   JSON: connections, objects and their strategies,
//	                      instance counts, pool occupancy, adaptive pool
//	                      decisions, per-method calls, errors and latency
//	                      percentiles, lifecycle event counts
//	GET /metrics          the Prometheus text format, written by the Prometheus
//	                      client library (client_golang)
//
// # Health
//
// /livez is the liveness probe: it fails only when the process no longer
// serves, so an orchestrator restarts the process only then. /readyz is
// the readiness probe: it fails while the server drains (an
// *invoker.Server as Options.Server reports that from the start of its
// Shutdown; [Handler.SetDraining] says it sooner) and while the node is
// fenced ([Options.Fenced], [Handler.SetFenced]), so that no new clients
// are sent to it. A long-running server turns SIGTERM into Shutdown:
//
//	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
//	defer stop()
//	go srv.Serve(lis)
//	<-ctx.Done()                  // SIGTERM: the orchestrator wants the pod gone
//	adm.SetDraining(true)         // /readyz fails at once
//	time.Sleep(drainDelay)        // let the load balancer notice (a few probe periods)
//	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
//	defer cancel()
//	srv.Shutdown(sctx)            // calls in flight finish; new ones go elsewhere
//	adm.Shutdown(sctx)
//
// # Metrics
//
// /metrics serves, through the client library's handler, the metrics of
// package interceptor (by way of package interceptor/prom), the gauges
// remoting_server_connections, remoting_server_objects,
// remoting_server_running_calls, remoting_pool_instances{pool,state} and
// remoting_ready, and then any families of [Options.Gatherer]. A program
// that imports admin therefore links client_golang; one that does not,
// does not.
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
