// Package hostile attacks a server the way a hostile peer would, so that
// each feature can be tried against the same attacks: a [Target] is a
// server on loopback TCP serving the test service, a [Raw] connection
// sends yamux frames and protocol frames byte by byte (partial frames,
// floods, streams that are never read), and a [Good] client calls the
// target throughout an attack to show that well-behaved clients are still
// served. [Goroutines] and [Heap] measure what an attack costs.
//
// Goroutines: Behave starts one goroutine that calls until Good.Stop;
// Raw.Discard starts one that reads until the connection ends. Neither
// outlives the test that started it: both are stopped by t.Cleanup.
package hostile
