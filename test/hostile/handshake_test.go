package hostile

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting/invoker"
)

// handshakeTimeout is short so that the bound is checked, not waited for.
const handshakeTimeout = 300 * time.Millisecond

// TestHandshakeEndsWithinTimeout: whatever a peer sends before its hello,
// a partial yamux frame included (yamux's receive loop then waits for the
// rest of it while holding the stream, so a deadline on the stream alone
// never fires), the server hangs up within HandshakeTimeout + 100 ms.
func TestHandshakeEndsWithinTimeout(t *testing.T) {
	srv := Serve(t, invoker.Options{HandshakeTimeout: handshakeTimeout})
	good := Behave(t, srv.Endpoint, 2*time.Second)
	hello := Hello()
	cases := []struct {
		name string
		send [][]byte
	}{
		{"nothing", nil},
		{"half a yamux header", [][]byte{Header(TypeWindow, FlagSYN, 1, 0)[:6]}},
		{"stream opened, no hello", [][]byte{Header(TypeWindow, FlagSYN, 1, 0)}},
		{"data frame claiming 100 bytes, 10 sent", [][]byte{Header(TypeData, FlagSYN, 1, 100), hello[:10]}},
		{"half a hello", [][]byte{Header(TypeWindow, FlagSYN, 1, 0), Data(0, 1, hello[:len(hello)/2])}},
		{"stream type only", [][]byte{Header(TypeWindow, FlagSYN, 1, 0), Data(0, 1, hello[:1])}},
		{"pings only", [][]byte{Header(TypePing, FlagSYN, 0, 1), Header(TypePing, FlagSYN, 0, 2)}},
	}
	t.Run("attacks", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				r := Connect(t, srv.Addr)
				start := time.Now()
				require.NoError(t, r.Send(tc.send...))
				_, closed := r.WaitClosed(5 * time.Second)
				took := time.Since(start)
				assert.True(t, closed, "the server hangs up")
				assert.Less(t, took, handshakeTimeout+slack(), "the connection ends within HandshakeTimeout + %v", slack())
			})
		}
	})
	good.Check(t)
}

// TestStalledHandshakes: many connections that send part of a frame and
// stall cost a bounded amount each, never stop the server accepting, and
// are all gone by the handshake timeout.
func TestStalledHandshakes(t *testing.T) {
	n := scale(200, 2000)
	srv := Serve(t, invoker.Options{HandshakeTimeout: 2 * time.Second})
	good := Behave(t, srv.Endpoint, 2*time.Second)
	baseG, baseH := Goroutines(), Heap()
	raws := make([]*Raw, n)
	for i := range raws {
		raws[i] = Connect(t, srv.Addr)
		require.NoError(t, raws[i].Send(Header(TypeData, FlagSYN, 1, 100), Hello()[:10]))
	}
	time.Sleep(200 * time.Millisecond)
	g, h := Goroutines()-baseG, int64(Heap())-int64(baseH)
	t.Logf("%d stalled handshakes: +%d goroutines (%.1f each), %+.1f MiB heap (%.1f KiB each)", n, g, float64(g)/float64(n), float64(h)/(1<<20), float64(h)/1024/float64(n))
	assert.Less(t, g, 8*n, "goroutines per stalled handshake")
	assert.Less(t, h, int64(n)*64<<10, "heap per stalled handshake")
	// Accepting goes on meanwhile.
	Behave(t, srv.Endpoint, 2*time.Second).Check(t)
	for _, r := range raws {
		_, closed := r.WaitClosed(3 * time.Second)
		require.True(t, closed, "every stalled handshake ends")
	}
	good.Check(t)
}
