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
// Goroutines: a started Peer runs its server's and its client's goroutines
// until its stop function returns, which waits for all of them. Measure
// runs the calling goroutines of each measurement and waits for them
// before it returns.
package bench
