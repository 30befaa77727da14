package main

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting/internal/etcdserver"
	"github.com/remoting-go/remoting/passivation"
	"github.com/remoting-go/remoting/passivation/storetest"
)

// TestEtcdStore checks the demo's store against the contract of
// passivation.Store, on a real etcd in the process: each subtest gets a
// prefix of its own.
func TestEtcdStore(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the store conformance suite on an embedded etcd")
	}
	e, err := etcdserver.Start(t.TempDir())
	require.NoError(t, err, "etcdserver.Start")
	t.Cleanup(e.Stop)
	var n atomic.Int64
	open := func(t *testing.T) passivation.Store {
		s, err := openEtcdStore([]string{e.Endpoint}, fmt.Sprintf("/test/%d/", n.Add(1)))
		require.NoError(t, err, "openEtcdStore")
		return s
	}
	storetest.Run(t, open)
	storetest.RunReopen(t, open, func(t *testing.T, s passivation.Store) passivation.Store {
		require.NoError(t, s.Close(), "Close")
		r, err := openEtcdStore([]string{e.Endpoint}, s.(*etcdStore).prefix)
		require.NoError(t, err, "openEtcdStore")
		return r
	})
}
