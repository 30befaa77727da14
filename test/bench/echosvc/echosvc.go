// Package echosvc is the remote interface the benchmarks call through the
// remoting middleware: one method that returns its argument, so that a call
// measures the middleware and the network and nothing else.
package echosvc

import "context"

//go:generate go tool stubgen -type Echo

// Echo returns what it is given.
type Echo interface {
	// Echo returns p.
	Echo(ctx context.Context, p []byte) ([]byte, error)
}
