// Package cluster tests a cluster of keyed objects under faults, with
// real processes: three node processes on loopback (the test binary run
// again as a node), a real etcd embedded in the test process, so that a
// test can restart it, and a PostgreSQL server that the nodes share as
// their store, every object saved after every call. The tests kill a node
// with SIGKILL, stop one with SIGSTOP for longer than its lease, restart
// every node in turn, and restart etcd, all under load, and check that no
// acknowledged call is lost and that no key is ever served by two nodes
// at once.
//
// Each node process writes a line to its standard output when an object
// activates and when it ends, with the time of the last call it served;
// the test reads them to count activations and to look for a key served
// by two nodes at once.
//
// The figures (a call through the cluster client against a direct call,
// the cost of a first activation, activations per second) run only with
// REMOTING_CLUSTER_BENCH=1:
//
//	REMOTING_CLUSTER_BENCH=1 nice -n 10 go test -run Figures -v ./test/cluster
package cluster
