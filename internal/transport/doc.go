// Package transport carries frames between two peers: one yamux session per
// connection, a control stream that opens with the handshake, and
// long-lived call streams on which requests are pipelined and correlated by
// id, never one stream per call.
//
// A [Session] is symmetric: either end may open call streams with
// [Session.Open] and accept the other end's with [Session.Accept], so that a
// server can call objects its client exported over the same connection.
//
// Goroutines: yamux runs its own reader, writer and keepalive goroutines per
// session. This package adds one control-stream reader per [Session] and one
// writer goroutine per [Stream] (the coalescing writer); Session.Close and
// Stream.Close stop and wait for them.
package transport
