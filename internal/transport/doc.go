// Package transport carries frames between two peers: one yamux session per
// connection, a control stream that opens with the handshake, and
// long-lived call streams on which requests are pipelined and correlated by
// id, never one stream per call.
//
// A [Session] is symmetric: either end may open call streams with
// [Session.Open] and accept the other end's with [Session.Accept], so that a
// server can call objects its client exported over the same connection.
//
// Goroutines: yamux runs its own reader and writer goroutines per session.
// This package adds one control-stream reader per [Session], a goroutine per
// keepalive ping while it waits for its answer, and per [Stream] a writer
// goroutine (the coalescing writer) that runs only while frames queue
// behind a write (a lone frame is written by the goroutine that sends it);
// Session.Close and Stream.Close stop and wait for them.
//
// Hostile peers: a guard under yamux reads every yamux header the peer
// sends. It cuts data frames into the parts that have arrived, so that
// memory grows with bytes received, never with bytes claimed; it allows a
// hello's worth before the handshake, whose deadline is on the connection
// itself; and it rate-limits pings, frames without data and stream opens,
// closing the session of a peer over a limit. Streams per session, the
// bytes a session buffers, and the time a write may take are bounded by
// [Options].
package transport
