package hostile

import (
	"context"
	"encoding/binary"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
)

// TestZeroWindow: a peer makes 1,024 calls that return 64 KiB each (unless
// HOSTILE_FULL is set, 64 calls of 128 KiB: as much to queue, less work
// for a machine that runs other tests beside), with
// a deadline of 1 s, and never reads the replies: it reads the socket but
// grants no yamux window, or reads nothing at all.
// No call runs more than WriteTimeout + 100 ms past its deadline, the
// session is closed, and the memory the replies held is freed.
func TestZeroWindow(t *testing.T) {
	const (
		deadline     = time.Second
		writeTimeout = 500 * time.Millisecond
	)
	calls, size := uint64(scale(64, 1024)), scale(128<<10, 64<<10)
	for _, reads := range []bool{true, false} {
		name := "reads nothing"
		if reads {
			name = "reads the socket, grants no window"
		}
		t.Run(name, func(t *testing.T) {
			// The earliest deadline of the attacker's calls, as the server
			// saw them: the call that overruns its deadline most is the
			// one whose deadline came first.
			var mu sync.Mutex
			var first time.Time
			earliest := func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
				if d, ok := ctx.Deadline(); ok && inv.Method == "Echo.Blob" {
					mu.Lock()
					if first.IsZero() || d.Before(first) {
						first = d
					}
					mu.Unlock()
				}
				return next(ctx, inv)
			}
			srv := Serve(t, invoker.Options{WriteTimeout: writeTimeout, Interceptors: []remoting.Interceptor{earliest}})
			good := Behave(t, srv.Endpoint, 2*time.Second)
			base, baseG := Heap(), Goroutines()
			r := Connect(t, srv.Addr)
			require.NoError(t, r.Handshake(5*time.Second))
			if reads {
				r.Watch(func(h []byte) {
					if h[1] == TypePing && binary.BigEndian.Uint16(h[2:])&FlagSYN != 0 {
						r.Send(Header(TypePing, FlagACK, 0, binary.BigEndian.Uint32(h[8:])))
					}
				})
			}
			var reqs [][]byte
			for i := range calls {
				reqs = append(reqs, Request(i+1, "Echo.Blob", deadline, []any{size}))
			}
			start := time.Now()
			require.NoError(t, r.OpenCalls(3))
			for _, b := range reqs {
				require.NoError(t, r.Send(Data(0, 3, b)))
			}
			started := func() bool { mu.Lock(); defer mu.Unlock(); return !first.IsZero() }
			require.True(t, Eventually(deadline+5*time.Second, func() bool {
				return started() && srv.Stats().Running == 0 && srv.Stats().Connections == 1
			}),
				"the calls end and the session is closed; running %d", srv.Stats().Running)
			took := time.Since(start)
			mu.Lock()
			overrun := time.Since(first)
			mu.Unlock()
			require.True(t, Eventually(5*time.Second, func() bool { return Goroutines() <= baseG+4 }), "the session's goroutines end")
			freed := int64(Heap()) - int64(base)
			t.Logf("calls ended and session closed %v after they were sent, at most %v past a call's deadline; heap afterwards %+.1f MiB",
				took.Round(time.Millisecond), overrun.Round(time.Millisecond), float64(freed)/(1<<20))
			assert.Less(t, overrun, writeTimeout+slack(), "no call runs more than WriteTimeout + %v past its deadline", slack())
			assert.Less(t, freed, int64(8<<20), "the replies' memory is freed")
			assert.True(t, strings.Contains(srv.Log.String(), "peer stopped reading"), "the server logs why it closed the session")
			if t.Failed() {
				for _, l := range strings.Split(srv.Log.String(), "\n") {
					if !strings.Contains(l, "reply not sent") {
						t.Log(l)
					}
				}
			}
			good.Check(t)
		})
	}
}

// TestStreamWindow: the window a server grants a client's call stream is
// its Options.StreamWindow, 1 MiB by default: what a client may send on
// the stream before the server has read it.
func TestStreamWindow(t *testing.T) {
	for _, tc := range []struct {
		window uint32
		want   int64
	}{{0, 1 << 20}, {4 << 20, 4 << 20}} {
		srv := Serve(t, invoker.Options{StreamWindow: tc.window})
		r := Connect(t, srv.Addr)
		require.NoError(t, r.Handshake(5*time.Second))
		r.Discard()
		require.NoError(t, r.OpenCalls(3))
		var got int64
		ok := Eventually(5*time.Second, func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			got = r.windows[3]
			return got > initialWindow
		})
		require.True(t, ok, "StreamWindow %d: no window granted beyond yamux's initial one", tc.window)
		assert.InDelta(t, tc.want, got, 16, "StreamWindow %d: the window of the call stream", tc.window)
	}
}
