// Package modes tests the invocation modes end to end through generated
// proxies over loopback TCP: Fire and Forget (p.Oneway()), Sync with Server
// (p.SyncWithServer()), Poll Objects (p.Async()) and Result Callbacks
// (p.Callback()), callback objects that a client passes by reference and
// its server calls back, and the order in which one connection's calls are
// sent, received and run. Its benchmarks compare the modes' calls per
// second with synchronous calls:
//
//	go test -race ./test/modes
//	go test -run X -bench . -benchtime 2000x ./test/modes
package modes
