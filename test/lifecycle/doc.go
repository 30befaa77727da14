// Package lifecycle tests the lifecycle strategies end to end: a server
// registers objects of the interface svc.Probe under each strategy, and
// clients call them over loopback TCP through the generated proxy. Its
// benchmarks compare the strategies' cost per call with that of a Static
// Instance:
//
//	go test -run X -bench . ./test/lifecycle
package lifecycle
