package integration

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/codegen"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/requestor"
)

// These tests drive the runtime's invocation modes with hand-built
// invocations; the generated typed views over them are tested end to end
// in test/e2e.

type sleepArgs struct {
	_ struct{} `cbor:",toarray"`
	D time.Duration
}

type countResults struct {
	_  struct{} `cbor:",toarray"`
	R0 int64
}

type noArgs struct {
	_ struct{} `cbor:",toarray"`
}

func TestOnewaySendsNoReplyFrames(t *testing.T) {
	s := startServer(t, invoker.Options{})
	c := dial(t, s.endpoint, requestor.Options{})
	ref := lookup(t, c).Ref()
	before := s.Stats()
	const n = 500
	for range n {
		require.NoError(t, c.Invoke(ctxT(t), &remoting.Invocation{Target: ref, Method: "Echo.Count", Args: &noArgs{}, Mode: remoting.ModeOneway}))
	}
	// A sync call afterwards: the stream is ordered, so when it returns
	// every one-way request before it has been read.
	var res countResults
	require.Eventually(t, func() bool {
		require.NoError(t, c.Invoke(ctxT(t), &remoting.Invocation{Target: ref, Method: "Echo.Count", Args: &noArgs{}, Reply: &res}))
		return res.R0 >= n+1
	}, 5*time.Second, 5*time.Millisecond, "every one-way call ran")
	after := s.Stats()
	assert.Equal(t, before.Errors, after.Errors, "no error frames for one-way calls")
	assert.Less(t, after.Replies-before.Replies, uint64(50), "replies only for the sync probes, none for %d one-way calls", n)
	assert.Zero(t, c.OnewayFailures())
}

func TestOnewayFailureIsCounted(t *testing.T) {
	s := startServer(t, invoker.Options{})
	c := dial(t, s.endpoint, requestor.Options{RedialBackoff: time.Hour})
	ref := lookup(t, c).Ref()
	require.NoError(t, s.Close())
	assert.Eventually(t, func() bool {
		c.Invoke(ctxT(t), &remoting.Invocation{Target: ref, Method: "Echo.Count", Args: &noArgs{}, Mode: remoting.ModeOneway})
		return c.OnewayFailures() > 0
	}, 5*time.Second, 10*time.Millisecond)
}

func TestSyncWithServerReturnsBeforeExecution(t *testing.T) {
	s := startServer(t, invoker.Options{})
	c := dial(t, s.endpoint, requestor.Options{})
	ref := lookup(t, c).Ref()
	s.impl.NotifyEntered(1)

	start := time.Now()
	err := c.Invoke(ctxT(t), &remoting.Invocation{Target: ref, Method: "Echo.Sleep", Args: &sleepArgs{D: 2 * time.Second}, Mode: remoting.ModeSyncWithServer})
	require.NoError(t, err)
	assert.Less(t, time.Since(start), time.Second, "returned on the ack, long before the 2s method ends")

	err = c.Invoke(ctxT(t), &remoting.Invocation{Target: remoting.Ref{ID: remoting.NewObjectID()}, Method: "Echo.Sleep", Args: &sleepArgs{}, Mode: remoting.ModeSyncWithServer})
	assert.ErrorIs(t, err, remoting.ErrNotFound, "a request the server cannot accept reports why")

	err = c.Invoke(ctxT(t), &remoting.Invocation{Target: ref, Method: "Echo.Fail", Args: &struct {
		_    struct{} `cbor:",toarray"`
		Code int
		Msg  string
	}{Code: 0, Msg: "x"}, Mode: remoting.ModeSyncWithServer})
	assert.NoError(t, err, "errors of the execution are not reported")
	<-s.impl.Entered()
}

func TestAsyncFuture(t *testing.T) {
	s := startServer(t, invoker.Options{})
	c := dial(t, s.endpoint, requestor.Options{})
	ref := lookup(t, c).Ref()

	f := codegen.NewFuture()
	var res struct {
		_  struct{} `cbor:",toarray"`
		R0 string
	}
	require.NoError(t, c.Invoke(ctxT(t), &remoting.Invocation{Target: ref, Method: "Echo.Echo", Args: &struct {
		_ struct{} `cbor:",toarray"`
		S string
	}{S: "later"}, Reply: &res, Mode: remoting.ModeAsync, Done: f.Complete}))
	require.NoError(t, f.Wait(ctxT(t)))
	assert.True(t, f.Ready())
	assert.Equal(t, "later", res.R0)
	s.impl.NotifyEntered(1)

	slow := codegen.NewFuture()
	require.NoError(t, c.Invoke(ctxT(t), &remoting.Invocation{Target: ref, Method: "Echo.Sleep", Args: &sleepArgs{D: 300 * time.Millisecond}, Mode: remoting.ModeAsync, Done: slow.Complete}))
	<-s.impl.Entered()
	assert.False(t, slow.Ready(), "not ready while the method runs")
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, slow.Wait(short), remoting.ErrDeadlineExceeded, "Wait honours its ctx")
	assert.NoError(t, slow.Wait(ctxT(t)))
}

func TestAsyncCanceledTellsServer(t *testing.T) {
	s := startServer(t, invoker.Options{})
	c := dial(t, s.endpoint, requestor.Options{})
	ref := lookup(t, c).Ref()
	s.impl.NotifyEntered(1)
	ctx, cancel := context.WithCancel(context.Background())
	f := codegen.NewFuture()
	require.NoError(t, c.Invoke(ctx, &remoting.Invocation{Target: ref, Method: "Echo.Sleep", Args: &sleepArgs{D: time.Minute}, Mode: remoting.ModeAsync, Done: f.Complete}))
	<-s.impl.Entered()
	cancel()
	assert.ErrorIs(t, f.Wait(ctxT(t)), remoting.ErrCanceled)
	assert.Eventually(t, func() bool { return s.impl.Canceled.Load() == 1 }, 5*time.Second, 5*time.Millisecond, "the server's ctx was canceled")
}

func TestAsyncCallbacksRunExactlyOnce(t *testing.T) {
	s := startServer(t, invoker.Options{})
	c := dial(t, s.endpoint, requestor.Options{})
	ref := lookup(t, c).Ref()
	const n = 10000
	var runs [n]atomic.Int32
	var wg sync.WaitGroup
	wg.Add(n)
	for i := range n {
		res := &countResults{}
		require.NoError(t, c.Invoke(context.Background(), &remoting.Invocation{Target: ref, Method: "Echo.Count", Args: &noArgs{}, Reply: res, Mode: remoting.ModeAsync, Done: func(err error) {
			if runs[i].Add(1) == 1 {
				assert.NoError(t, err)
				assert.Positive(t, res.R0)
			}
			wg.Done()
		}}))
	}
	wg.Wait()
	for i := range n {
		require.Equal(t, int32(1), runs[i].Load(), "callback %d", i)
	}
}

func TestAsyncOnPeerDeath(t *testing.T) {
	s := startServer(t, invoker.Options{})
	r := newRelay(t, s.endpoint)
	c := dial(t, r.endpoint(), requestor.Options{})
	ref := lookup(t, c).Ref()
	s.impl.NotifyEntered(4)
	var calls atomic.Int32
	errs := make(chan error, 4)
	for range 4 {
		require.NoError(t, c.Invoke(context.Background(), &remoting.Invocation{Target: ref, Method: "Echo.Sleep", Args: &sleepArgs{D: time.Minute}, Mode: remoting.ModeAsync, Done: func(err error) {
			calls.Add(1)
			errs <- err
		}}))
	}
	for range 4 {
		<-s.impl.Entered()
	}
	r.cut()
	for range 4 {
		select {
		case err := <-errs:
			assert.ErrorIs(t, err, remoting.ErrUnavailable)
		case <-time.After(5 * time.Second):
			t.Fatal("callback did not run on peer death")
		}
	}
	assert.Equal(t, int32(4), calls.Load())
}
