// Package peer is one end of a connection, and both roles at once: it sends
// invocations to the other end (the Requestor's half: call streams it opens,
// pending calls correlated by request id) and serves the invocations the
// other end sends (the Server Request Handler's half: call streams it
// accepts, one goroutine per running request, a bound on how many run at
// once). The requestor and invoker packages give it their role: a client
// is a Peer that mostly calls, a server connection a Peer that mostly serves,
// and either can do the other, which is how a server calls back objects its
// client exported over the same connection.
//
// Goroutines: New starts one goroutine that accepts the other end's call
// streams; each accepted stream gets a reader goroutine; each request runs in
// a goroutine of its own; each call stream this end opens gets a reader
// goroutine. Close stops all of them and waits for them, including requests
// still running (their context is canceled).
package peer
