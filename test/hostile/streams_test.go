package hostile

import (
	"encoding/binary"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting/invoker"
)

// maxStreams is the servers' stream limit in these tests: the default.
const maxStreams = 16

// TestStreamFlood: a peer that opens streams in a loop, as fast as it
// can or at a pace, has every stream past the limit refused and is
// disconnected; goroutines stay flat and the good client loses no call.
func TestStreamFlood(t *testing.T) {
	for _, pause := range []time.Duration{0, 5 * time.Millisecond} {
		t.Run("pause "+pause.String(), func(t *testing.T) {
			srv := Serve(t, invoker.Options{})
			good := Behave(t, srv.Endpoint, 2*time.Second)
			base := Goroutines()
			r := Connect(t, srv.Addr)
			require.NoError(t, r.Handshake(5*time.Second))
			var mu sync.Mutex
			acked, finned := map[uint32]bool{}, map[uint32]bool{}
			r.Watch(func(h []byte) {
				id, flags := binary.BigEndian.Uint32(h[4:]), binary.BigEndian.Uint16(h[2:])
				mu.Lock()
				defer mu.Unlock()
				if flags&FlagACK != 0 {
					acked[id] = true
				}
				if flags&(FlagFIN|FlagRST) != 0 {
					finned[id] = true
				}
			})
			stop := make(chan struct{})
			peak := make(chan int)
			go func() { peak <- Peak(stop, runtime.NumGoroutine) }()
			opened := 0
			start := time.Now()
			for id := uint32(3); time.Since(start) < 5*time.Second && opened < 100000; id += 2 {
				if r.OpenCalls(id) != nil {
					break
				}
				opened++
				if pause > 0 {
					time.Sleep(pause)
				}
			}
			select {
			case <-r.Closed():
			case <-time.After(5 * time.Second):
				t.Fatal("the server does not disconnect a peer that keeps opening streams")
			}
			took := time.Since(start)
			close(stop)
			g := <-peak - base
			mu.Lock()
			served, refused := 0, 0
			for id := range acked {
				if finned[id] {
					refused++
				} else {
					served++
				}
			}
			mu.Unlock()
			t.Logf("opened %d streams: %d served, %d refused; disconnected after %v; goroutines peaked at baseline %+d", opened, served, refused, took.Round(time.Millisecond), g)
			assert.LessOrEqual(t, served, maxStreams-1, "streams past the limit (with the control stream) are refused")
			if pause > 0 {
				assert.Equal(t, maxStreams-1, served, "streams up to the limit are served")
				assert.NotZero(t, refused, "streams past the limit are refused before the peer is disconnected")
			}
			assert.Less(t, g, 4*maxStreams+20, "goroutines stay flat")
			good.Check(t)
		})
	}
}

// TestTeardownAtStreamLimit: a session with its maximum of streams, each
// with a call running, is gone soon after its peer hangs up.
func TestTeardownAtStreamLimit(t *testing.T) {
	srv := Serve(t, invoker.Options{})
	good := Behave(t, srv.Endpoint, 2*time.Second)
	base := Goroutines()
	r := Connect(t, srv.Addr)
	require.NoError(t, r.Handshake(5*time.Second))
	r.Discard()
	for i := range uint32(maxStreams - 1) {
		require.NoError(t, r.OpenCalls(3+2*i, Request(1, "Echo.Sleep", 0, []any{int64(time.Hour)})))
	}
	require.True(t, Eventually(5*time.Second, func() bool { return srv.Stats().Running == maxStreams-1 }), "a call runs on every stream")
	r.Close()
	start := time.Now()
	require.True(t, Eventually(5*time.Second, func() bool { return srv.Stats().Connections == 1 && runtime.NumGoroutine() <= base+2 }),
		"the session and its goroutines are gone")
	took := time.Since(start)
	t.Logf("teardown of a session with %d streams and calls took %v", maxStreams-1, took.Round(time.Millisecond))
	assert.Less(t, took, time.Second, "teardown takes milliseconds (generous bound for loaded machines)")
	good.Check(t)
}

// TestControlFrameFloods: pings, window updates and RSTs sent as fast as
// a peer can, reading the answers or not, end the session; goroutines
// never rise by more than 100 (yamux starts one per ping it answers).
func TestControlFrameFloods(t *testing.T) {
	cases := []struct {
		name  string
		frame func(i uint32) []byte
		read  bool
	}{
		{"pings, read", func(i uint32) []byte { return Header(TypePing, FlagSYN, 0, i) }, true},
		{"pings, not read", func(i uint32) []byte { return Header(TypePing, FlagSYN, 0, i) }, false},
		{"window updates", func(i uint32) []byte { return Header(TypeWindow, 0, 1, 1) }, true},
		{"empty data frames", func(i uint32) []byte { return Header(TypeData, 0, 1, 0) }, true},
		{"resets of unknown streams", func(i uint32) []byte { return Header(TypeWindow, FlagRST, 1001+2*i, 0) }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := Serve(t, invoker.Options{})
			good := Behave(t, srv.Endpoint, 2*time.Second)
			base := Goroutines()
			r := Connect(t, srv.Addr)
			require.NoError(t, r.Handshake(5*time.Second))
			if tc.read {
				r.Discard()
			}
			stop := make(chan struct{})
			peak := make(chan int)
			go func() { peak <- Peak(stop, runtime.NumGoroutine) }()
			// 10,000 frames a second for at most 10 s, in batches of 100.
			start := time.Now()
			var sent uint32
			var err error
			for time.Since(start) < 10*time.Second && err == nil {
				batch := make([]byte, 0, 100*12)
				for range 100 {
					batch = append(batch, tc.frame(sent)...)
					sent++
				}
				err = r.Send(batch)
				time.Sleep(10 * time.Millisecond)
			}
			took := time.Since(start)
			close(stop)
			g := <-peak - base
			t.Logf("%d frames sent in %v before the server hung up; goroutines peaked at baseline %+d", sent, took.Round(time.Millisecond), g)
			assert.Error(t, err, "the server ends the session")
			assert.Less(t, g, 100, "goroutines stay within 100 of the baseline")
			good.Check(t)
		})
	}
}
