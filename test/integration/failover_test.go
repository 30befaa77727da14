package integration

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/lifecycle/tally"
)

// makerServer serves a tally.Maker as "maker", whose tallies have a lease
// of ttl, and returns it with its endpoint.
func makerServer(t *testing.T, ttl time.Duration) (*invoker.Server, string) {
	t.Helper()
	srv := invoker.NewServer(invoker.Options{})
	require.NoError(t, srv.Policy(tally.TallyInvoker(), lifecycle.ClientDependent(lifecycle.ClientDependentOptions{TTL: ttl})))
	tr := &tally.Tracker{}
	_, err := srv.Register("maker", tally.MakerInvoker(), lifecycle.Static(tr.Maker()))
	require.NoError(t, err)
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Close()
		<-served
	})
	return srv, "tcp://" + lis.Addr().String()
}

// TestFailoverKeepsLeasesWithTheirServer: the lease of an object made on
// the first server is not renewed on the second while the client is
// there (the second would report it gone), and is renewed again once the
// client is back on the first.
func TestFailoverKeepsLeasesWithTheirServer(t *testing.T) {
	// Renewals every second; a skipped one is tried again within half a
	// second, so the object outlives a second and a half away.
	const ttl = 3 * time.Second
	_, aEndpoint := makerServer(t, ttl)
	b, bEndpoint := makerServer(t, ttl)
	toA := newRelay(t, aEndpoint) // a network to A that can break
	c := dial(t, toA.endpoint(), requestor.Options{
		Failover:         []string{bEndpoint},
		RedialBackoff:    5 * time.Millisecond,
		MaxRedialBackoff: 20 * time.Millisecond,
	})
	ctx := ctxT(t)
	m, err := tally.LookupMaker(ctx, c, "maker")
	require.NoError(t, err, "LookupMaker")
	onA, err := m.NewTally(ctx, 5)
	require.NoError(t, err, "NewTally on A")

	// The network to A breaks; the client moves to B.
	toA.cut()
	var onB tally.Tally
	require.Eventually(t, func() bool {
		onB, err = m.NewTally(ctx, 7)
		return err == nil
	}, 5*time.Second, time.Millisecond, "NewTally on B")
	assert.Equal(t, 2, c.Held(), "Held on B, with an object of each server")
	_, err = onA.Get(ctx)
	assert.Equal(t, remoting.CodeNotFound, remoting.CodeOf(err), "Get of A's object while on B: %v", err)

	// At least one renewal of A's object falls due while on B.
	time.Sleep(1200 * time.Millisecond)
	assert.Equal(t, 2, c.Held(), "Held after renewals fell due on B")

	// B goes; the client is back on A, where the object has lived on.
	b.Close()
	require.Eventually(t, func() bool {
		n, err := onA.Get(ctx)
		return err == nil && n == 5
	}, 5*time.Second, time.Millisecond, "Get of A's object back on A")
	// Longer than its lease: only the renewer keeps it alive now.
	time.Sleep(ttl + 500*time.Millisecond)
	n, err := onA.Get(ctx)
	require.NoError(t, err, "Get of A's object a lease later")
	assert.Equal(t, int64(5), n, "Get of A's object a lease later")
	runtime.KeepAlive(onB)
}
