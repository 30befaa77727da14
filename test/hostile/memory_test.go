package hostile

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/codegen"
	"github.com/remoting-go/remoting/internal/testservice"
	"github.com/remoting-go/remoting/internal/wire"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
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

// batchArgs and batchReply are the argument and result structs of a
// method that takes and returns a slice of structs, as generated code
// declares them.
type (
	batchArgs struct {
		_ struct{} `cbor:",toarray"`
		P []testservice.Payload
	}
	batchReply struct {
		_  struct{} `cbor:",toarray"`
		R0 []testservice.Payload
	}
)

// batchInvoker serves "Batch.Take", which decodes its slice and returns
// its length, and "Batch.Give", which returns the body it is sent as its
// results, as a hostile server would.
func batchInvoker() *codegen.Invoker {
	return &codegen.Invoker{
		Interface:  "hostile.Batch",
		Implements: func(any) bool { return true },
		Methods: map[string]codegen.Method{
			"Batch.Take": func(_ context.Context, _ any, args codegen.Args) (any, error) {
				var a batchArgs
				if err := args.Decode(&a); err != nil {
					return nil, err
				}
				return &struct {
					_  struct{} `cbor:",toarray"`
					R0 int
				}{R0: len(a.P)}, nil
			},
			"Batch.Give": func(_ context.Context, _ any, args codegen.Args) (any, error) {
				var a struct {
					_    struct{} `cbor:",toarray"`
					Body []byte
				}
				if err := args.Decode(&a); err != nil {
					return nil, err
				}
				return cbor.RawMessage(a.Body), nil
			},
		},
	}
}

// nulls is the body of a call of a method of one slice parameter: n CBOR
// nulls, each of which decodes to a whole zero element.
func nulls(n int) []byte {
	b := wire.AppendHead([]byte{0x81}, 0x80, uint64(n))
	return append(b, bytes.Repeat([]byte{0xf6}, n)...)
}

// TestDecodeAmplification: a body of 1 MiB of nulls sent for a slice of
// structs would decode to over 100 MiB. The server refuses it before
// decoding, with ResourceExhausted, and its heap stays flat; a client
// refuses such results from a server in the same way. Bodies that decode
// within the connection's budget are served.
func TestDecodeAmplification(t *testing.T) {
	srv := Serve(t, invoker.Options{})
	_, err := srv.Register("batch", batchInvoker(), lifecycle.Static(struct{}{}))
	require.NoError(t, err)
	good := Behave(t, srv.Endpoint, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := requestor.Dial(ctx, srv.Endpoint, requestor.Options{})
	require.NoError(t, err)
	defer c.Close()
	ref, err := c.Lookup(ctx, "batch", "hostile.Batch")
	require.NoError(t, err)
	take := func(body []byte) (int, error) {
		var reply struct {
			_  struct{} `cbor:",toarray"`
			R0 int
		}
		err := c.Invoke(ctx, &remoting.Invocation{Target: ref, Method: "Batch.Take", Args: cbor.RawMessage(body), Reply: &reply})
		return reply.R0, err
	}

	size := int64(unsafe.Sizeof(testservice.Payload{}))
	huge := nulls(1 << 20)
	base := Heap()
	stop := make(chan struct{})
	peak := make(chan int)
	go func() {
		peak <- Peak(stop, func() int {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			return int(ms.HeapAlloc)
		})
	}()
	const calls = 8
	errs := make(chan error, calls)
	for range calls {
		go func() {
			_, err := take(huge)
			errs <- err
		}()
	}
	for range calls {
		err := <-errs
		require.ErrorIs(t, err, remoting.ErrResourceExhausted, "%d nulls for []Payload (%d MiB decoded)", 1<<20, size)
		assert.Contains(t, err.Error(), "would decode to")
	}
	close(stop)
	grown := int64(<-peak) - int64(base)
	t.Logf("%d concurrent calls of %d KiB that would decode to %d MiB each: heap peak %+.1f MiB", calls, len(huge)>>10, size, float64(grown)/(1<<20))
	assert.Less(t, grown, int64(64<<20), "the heap grows by less than one such call would decode to")

	n, err := take(nulls(1 << 16)) // decodes to about 7 MiB
	require.NoError(t, err, "a body that decodes within the budget")
	assert.Equal(t, 1<<16, n)
	ps := make([]testservice.Payload, 5000)
	for i := range ps {
		ps[i] = testservice.Payload{Name: fmt.Sprint("p", i), Seq: int64(i), Tags: []string{"a", "b"}, When: time.Now()}
	}
	body, err := wire.Marshal(&batchArgs{P: ps})
	require.NoError(t, err)
	n, err = take(body)
	require.NoError(t, err, "%d payloads in %d KiB", len(ps), len(body)>>10)
	assert.Equal(t, len(ps), n)

	var reply batchReply
	give, err := wire.Marshal(&struct {
		_    struct{} `cbor:",toarray"`
		Body []byte
	}{Body: huge})
	require.NoError(t, err)
	err = c.Invoke(ctx, &remoting.Invocation{Target: ref, Method: "Batch.Give", Args: cbor.RawMessage(give), Reply: &reply})
	require.ErrorIs(t, err, remoting.ErrResourceExhausted, "results of %d nulls for []Payload", 1<<20)
	assert.Contains(t, err.Error(), "results of Batch.Give would decode to")
	assert.Equal(t, 1<<16, must(take(nulls(1<<16))), "the client's connection serves on")
	good.Check(t)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
