// Package echosvc is the remote interface the benchmarks call through the
// remoting middleware: one method that returns its argument, so that a call
// measures the middleware and the network and nothing else, and a remote
// factory of such objects, for the client-dependent lifecycle.
package echosvc

import "context"

//go:generate go tool stubgen -type Echo,Factory

// Echo returns what it is given.
type Echo interface {
	// Echo returns p.
	Echo(ctx context.Context, p []byte) ([]byte, error)
}

// Factory makes Echo objects that belong to the client that asks for
// them (Client-Dependent Instances): their lifecycle is the Policy the
// server sets for Echo.
type Factory interface {
	// NewEcho makes an Echo for the caller.
	NewEcho(ctx context.Context) (Echo, error)
}
