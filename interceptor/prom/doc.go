// Package prom exports the counts of an [interceptor.Metrics] to Prometheus
// through the Prometheus client library: [NewCollector] returns a
// prometheus.Collector to register with a registry, whose handler
// (promhttp) serves them. It is a package of its own so that only programs
// that serve Prometheus metrics link the client library; package
// interceptor, whose Metrics are read from Go with Snapshot, does not.
//
//	m := interceptor.NewMetrics(interceptor.MetricsOptions{})
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(prom.NewCollector(m))
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Package admin does this for its /metrics endpoint.
//
// # Metric families
//
//	remoting_calls_total{side,method,code}                 counter: calls that ended, by outcome code
//	remoting_call_duration_seconds{side,method}            histogram: time from start to outcome, the
//	                                                       Metrics' bucket bounds
//	remoting_lifecycle_events_total{interface,kind,result} counter: lifecycle events; result is "ok"
//	                                                       or "failed"
//
// side is "client" or "server", method the wire name ("Cart.Add"), code
// a remoting.Code's name ("OK", "NotFound", ...), kind an EventKind's name
// ("Activated", ...).
//
// # Concurrency and goroutines
//
// A Collector is safe for concurrent use: each Collect reads one snapshot
// of the Metrics. It starts no goroutines.
package prom
