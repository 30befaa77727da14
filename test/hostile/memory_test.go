package hostile

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/wire"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/requestor"
)

// claim returns the length prefix of a frame that claims n bytes.
func claim(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }

// TestClaimsBeforeHandshake: before the handshake a peer gets only a
// hello's worth: a yamux frame or a protocol frame that claims 4 MiB ends
// the connection at once and costs nothing.
func TestClaimsBeforeHandshake(t *testing.T) {
	n := scale(200, 1000)
	srv := Serve(t, invoker.Options{})
	good := Behave(t, srv.Endpoint, 2*time.Second)
	base := Heap()
	shapes := [][][]byte{
		{Header(TypeData, FlagSYN, 1, 4<<20), bytes.Repeat([]byte{1}, 1000)},
		{Header(TypeWindow, FlagSYN, 1, 0), Data(0, 1, append([]byte{byte(wire.StreamControl)}, claim(4<<20)...)), Data(0, 1, make([]byte, 1000))},
	}
	raws := make([]*Raw, n)
	for i := range raws {
		raws[i] = Connect(t, srv.Addr)
		require.NoError(t, raws[i].Send(shapes[i%len(shapes)]...))
	}
	grown := int64(Heap()) - int64(base)
	for i, r := range raws {
		took, closed := r.WaitClosed(5 * time.Second)
		require.True(t, closed, "connection %d (shape %d) is closed", i, i%len(shapes))
		assert.Less(t, took, 2*time.Second, "connection %d is closed at once", i)
	}
	t.Logf("%d connections claiming 4 MiB before the handshake: heap %+.1f MiB", n, float64(grown)/(1<<20))
	assert.Less(t, grown, int64(64<<20)*int64(n)/1000, "heap grows by under 64 MiB per 1,000 connections")
	good.Check(t)
}

// TestClaimsAfterHandshake: connections that claim 4 MiB frames on a call
// stream and then trickle cost the bytes they sent, not the bytes they
// claimed.
func TestClaimsAfterHandshake(t *testing.T) {
	n := scale(200, 1000)
	srv := Serve(t, invoker.Options{})
	good := Behave(t, srv.Endpoint, 2*time.Second)
	base := Heap()
	raws := make([]*Raw, n)
	for i := range raws {
		raws[i] = Connect(t, srv.Addr)
		require.NoError(t, raws[i].Handshake(5*time.Second))
		raws[i].Discard()
		require.NoError(t, raws[i].OpenCalls(3, claim(4<<20)))
	}
	for range 5 { // trickle
		for _, r := range raws {
			require.NoError(t, r.Send(Data(0, 3, make([]byte, 100))))
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	grown := int64(Heap()) - int64(base)
	t.Logf("%d connections claiming 4 MiB after the handshake: heap %+.1f MiB (%.1f KiB each)", n, float64(grown)/(1<<20), float64(grown)/1024/float64(n))
	assert.Less(t, grown, int64(64<<20)*int64(n)/1000, "heap grows by under 64 MiB per 1,000 connections")
	assert.Equal(t, n+1, srv.Stats().Connections, "the connections are open: they broke no limit")
	good.Check(t)
}

// TestConnectionBudget: a connection that sends more of a frame than its
// budget allows is closed; the others are served.
func TestConnectionBudget(t *testing.T) {
	srv := Serve(t, invoker.Options{MaxConnBuffered: 1 << 20})
	good := Behave(t, srv.Endpoint, 2*time.Second)
	r := Connect(t, srv.Addr)
	require.NoError(t, r.Handshake(5*time.Second))
	r.Discard()
	require.NoError(t, r.OpenCalls(3, claim(4<<20)))
	r.Trickle(3, 2<<20, 32<<10) // fails once the server hangs up
	select {
	case <-r.Closed():
	case <-time.After(5 * time.Second):
		t.Error("the server does not close a connection over its budget")
	}
	assert.Contains(t, srv.Log.String(), "over its buffer budget")
	good.Check(t)
}

// TestServerBudget: while the connections together hold the server's
// budget, a new connection is refused with an error that says why; once
// they let go, new connections are served.
func TestServerBudget(t *testing.T) {
	srv := Serve(t, invoker.Options{MaxBuffered: 2 << 20})
	good := Behave(t, srv.Endpoint, 2*time.Second)
	r := Connect(t, srv.Addr)
	require.NoError(t, r.Handshake(5*time.Second))
	r.Discard()
	require.NoError(t, r.OpenCalls(3, claim(4<<20)))
	require.NoError(t, r.Trickle(3, 3<<20, 32<<10)) // 3 MiB of the 4 claimed
	require.True(t, Eventually(5*time.Second, func() bool { return srv.Stats().Connections == 2 && dialErr(srv.Endpoint) != nil }),
		"new connections are refused while the budget is held")
	err := dialErr(srv.Endpoint)
	var re *remoting.Error
	require.True(t, errors.As(err, &re), "dial error %v is a *remoting.Error", err)
	assert.Contains(t, re.Message, "frames in flight, its limit", "the dialer is told why")
	r.Close()
	assert.True(t, Eventually(5*time.Second, func() bool { return dialErr(srv.Endpoint) == nil }), "served again once the budget is free")
	good.Check(t)
}

// dialErr dials endpoint and returns the error, closing the client.
func dialErr(endpoint string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := requestor.Dial(ctx, endpoint, requestor.Options{})
	if err == nil {
		c.Close()
	}
	return err
}
