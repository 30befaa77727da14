package modes_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
)

// Callback objects: a client passes an Observer it implements by
// reference, the server keeps the proxy it receives and calls it back over
// the same connection.

func TestServerCallsClientObserver(t *testing.T) {
	noLeaks(t)
	s := startServer(t, invoker.Options{})
	c := s.dial(t)
	h := lookupHub(t, c)
	ctx := ctxT(t)

	o := newObserver()
	require.NoError(t, h.Watch(ctx, o), "Watch")
	assert.Equal(t, 1, c.Exported(), "Exported after Watch")

	// A synchronous call back, inside the client's call of Tell.
	n, err := h.Tell(ctx, 4)
	require.NoError(t, err, "Tell(4)")
	assert.Equal(t, 40, n, "Tell(4)")

	// One-way calls back: each arrives once, in whatever order the
	// client's goroutines run them.
	const posts = 200
	for i := range posts {
		require.NoError(t, h.Post(ctx, 100+i), "Post(%d)", 100+i)
	}
	var got []int
	for range posts + 1 {
		got = append(got, wait(t, o.told, "Notify"))
	}
	want := []int{4}
	for i := range posts {
		want = append(want, 100+i)
	}
	slices.Sort(got)
	assert.Equal(t, want, got, "what the observer was told, sorted")
}

func TestObserverOfClosedClientIsUnavailable(t *testing.T) {
	noLeaks(t)
	s := startServer(t, invoker.Options{})
	c := s.dial(t)
	h := lookupHub(t, c)
	ctx := ctxT(t)

	require.NoError(t, h.Watch(ctx, newObserver()), "Watch")
	require.NoError(t, c.Close(), "client Close")

	// The server's next call to the observer fails at once, not after a
	// keepalive interval.
	start := time.Now()
	_, err := s.hub.Tell(ctx, 1)
	assert.ErrorIs(t, err, remoting.ErrUnavailable, "server's Notify after the client closed")
	assert.Less(t, time.Since(start), time.Second, "time until the server's Notify failed")
	assert.Equal(t, 0, c.Exported(), "Exported after Close")

	// A one-way call back reports the failure to send once the server has
	// seen the connection end.
	require.Eventually(t, func() bool {
		return remoting.CodeOf(s.hub.Post(ctx, 2)) == remoting.CodeUnavailable
	}, time.Second, time.Millisecond, "server's Oneway().Notify after the client closed")
}

func TestObserverReleasedByServer(t *testing.T) {
	noLeaks(t)
	s := startServer(t, invoker.Options{})
	c := s.dial(t)
	h := lookupHub(t, c)
	ctx := ctxT(t)

	require.NoError(t, h.Watch(ctx, newObserver()), "Watch")
	obs, err := s.hub.observer()
	require.NoError(t, err, "the hub's observer")
	require.Equal(t, 1, c.Exported(), "Exported after Watch")
	require.NoError(t, h.Forget(ctx), "Forget")
	assert.Equal(t, 0, c.Exported(), "Exported after the server released the observer")

	// The server's proxy of the released object finds nothing.
	_, err = obs.Notify(ctx, 1)
	assert.ErrorIs(t, err, remoting.ErrNotFound, "Notify on the released observer")
}

func TestObserverReleasedWhenConnectionEnds(t *testing.T) {
	noLeaks(t)
	s := startServer(t, invoker.Options{})
	c := s.dial(t)
	h := lookupHub(t, c)
	ctx := ctxT(t)

	require.NoError(t, h.Watch(ctx, newObserver()), "Watch")
	require.Equal(t, 1, c.Exported(), "Exported after Watch")

	// The server goes; the client stays open.
	require.NoError(t, s.Close(), "server Close")
	assert.Eventually(t, func() bool { return c.Exported() == 0 }, 5*time.Second, time.Millisecond,
		"Exported after the connection ended: %d", c.Exported())
}
