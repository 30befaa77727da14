// Package bench compares the remoting middleware with other Go RPC systems
// and with bare transports, all serving an echo call over loopback TCP in
// one process.
//
// Each row is a [Peer]: the middleware itself (remoting), the peers it is
// measured against (net/rpc, grpc, drpc), the floors that do no RPC work
// (tcp-floor, yamux-floor) and a design the middleware avoids
// (yamux-stream-per-call). [Measure] runs one row and [WriteMarkdown] and
// [WriteSVG] report the results; cmd/bench runs them all, and the Benchmark
// functions in this package measure the same rows under go test -bench.
//
// The feature rows ([FeatureRows], measured by [MeasureFeatures]) compare
// the middleware with itself: the same call under each lifecycle strategy
// and in each invocation mode, against a sync call to a Static Instance.
// [MeasureReactivation] times the first call to an object passivated to a
// bbolt file, and [MeasureLeases] the bookkeeping of many leases.
//
// Goroutines: a started Peer runs its server's and its client's goroutines
// until its stop function returns, which waits for all of them. Measure
// and the feature measurements run the calling goroutines of each
// measurement and wait for them, and stop what they started, before they
// return.
package bench
