package hostile

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting/requestor"
)

// TestIdleConnectionCost measures what an idle client connection (the
// handshake done, its call stream open) costs a server process: 200
// connections, or 5,000 with HOSTILE_FULL=1. The goals are at most 6
// goroutines and 32 KiB of heap each; the test fails only well past them.
func TestIdleConnectionCost(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	n := scale(200, 5000)
	c := startChild(t, 2*n+256)
	g0, h0, _ := c.stats(t)
	clients := make([]*requestor.Client, 0, n)
	t.Cleanup(func() {
		for _, cl := range clients {
			cl.Close()
		}
	})
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		cl, err := requestor.Dial(ctx, "tcp://"+c.Addr, requestor.Options{})
		cancel()
		require.NoError(t, err)
		clients = append(clients, cl)
	}
	var g, conns int
	var h int64
	require.True(t, Eventually(10*time.Second, func() bool {
		g, h, conns = c.stats(t)
		return conns == n
	}), "the server has all %d connections, not %d", n, conns)
	time.Sleep(100 * time.Millisecond) // let the handshakes' garbage go
	g, h, _ = c.stats(t)
	perG, perH := float64(g-g0)/float64(n), float64(h-h0)/float64(n)
	t.Logf("%d idle connections: %.2f goroutines and %.1f KiB of heap each (server process: %d goroutines, %.1f MiB heap)",
		n, perG, perH/1024, g, float64(h)/(1<<20))
	assert.LessOrEqual(t, perG, 6.0, "goroutines per idle connection")
	assert.Less(t, perH, 64.0*1024, "heap per idle connection (goal 32 KiB)")
}
