package modes_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/modes/svc"
)

// The typed views are checked by the compiler: each line below would fail
// to build if a view took other arguments or returned other results, so
// that, for example, p.Async().Hold(ctx, "x", 1) or
// n, word, err := p.Oneway().Hold(ctx, 1, "x") cannot be written.
var (
	_ func(context.Context, int, string) (int, string, error)      = (*svc.WorkerProxy)(nil).Hold
	_ func(context.Context, int, string) error                     = svc.WorkerOneway{}.Hold
	_ func(context.Context, int, string) error                     = svc.WorkerSyncWithServer{}.Hold
	_ func(context.Context, int, string) *svc.WorkerHoldFuture     = svc.WorkerAsync{}.Hold
	_ func(context.Context) (int, string, error)                   = (*svc.WorkerHoldFuture)(nil).Result
	_ func(context.Context, int, string, func(int, string, error)) = svc.WorkerCallback{}.Hold
	_ func(context.Context) ([]int, error)                         = (*svc.RecorderRecordedFuture)(nil).Result
	_ func(context.Context, func([]int, error))                    = svc.RecorderCallback{}.Recorded
	_ func(context.Context) error                                  = (*svc.RecorderRecordFuture)(nil).Result
	_ func(context.Context, svc.Observer) error                    = svc.HubOneway{}.Watch
	_ func(context.Context, svc.Observer, func(error))             = svc.HubCallback{}.Watch
	_ interface {
		Ready() bool
		Done() <-chan struct{}
	} = (*svc.WorkerEchoFuture)(nil)
)

// missingWorker returns a proxy for a worker the server does not have.
func missingWorker(c *requestor.Client) *svc.WorkerProxy {
	return svc.NewWorkerProxy(c, remoting.Ref{Endpoint: c.Endpoint(), ID: remoting.NewObjectID(), Interface: svc.WorkerInterface})
}

// TestTypedViews makes one call through each view of the same proxy and
// gets back values of the method's own types.
func TestTypedViews(t *testing.T) {
	noLeaks(t)
	s := startServer(t, invoker.Options{})
	s.work.releaseAll()
	p := lookupWorker(t, s.dial(t))
	ctx := ctxT(t)

	var n int
	var word string
	n, word, err := p.Hold(ctx, 1, "sync")
	require.NoError(t, err, "Hold")
	assert.Equal(t, 1, n, "Hold")
	assert.Equal(t, "sync", word, "Hold")

	require.NoError(t, p.Oneway().Hold(ctx, 2, "oneway"), "Oneway().Hold")
	require.NoError(t, p.SyncWithServer().Hold(ctx, 3, "sync with server"), "SyncWithServer().Hold")

	var fut *svc.WorkerHoldFuture = p.Async().Hold(ctx, 4, "async")
	n, word, err = fut.Result(ctx)
	require.NoError(t, err, "Async().Hold(...).Result")
	assert.Equal(t, 4, n, "Async().Hold(...).Result")
	assert.Equal(t, "async", word, "Async().Hold(...).Result")

	type outcome struct {
		n    int
		word string
		err  error
	}
	got := make(chan outcome, 1)
	p.Callback().Hold(ctx, 5, "callback", func(n int, word string, err error) { got <- outcome{n, word, err} })
	o := wait(t, got, "done of Callback().Hold")
	require.NoError(t, o.err, "Callback().Hold")
	assert.Equal(t, outcome{5, "callback", nil}, o, "Callback().Hold")

	// Every one of them ran on the server, the one-way call included.
	left := map[int]bool{}
	for range 5 {
		left[wait(t, s.work.left, "end of a Hold")] = true
	}
	assert.Equal(t, map[int]bool{1: true, 2: true, 3: true, 4: true, 5: true}, left, "Holds that ran")
}

func TestOnewayRunsEveryCall(t *testing.T) {
	noLeaks(t)
	s := startServer(t, invoker.Options{})
	c := s.dial(t)
	p := lookupWorker(t, c)
	ctx := ctxT(t)

	// The caller does not wait for the method: Hold is still running when
	// the one-way call has returned.
	require.NoError(t, p.Oneway().Hold(ctx, 1, "held"), "Oneway().Hold")
	assert.Equal(t, 1, wait(t, s.work.entered, "start of Hold"), "Hold started")
	assert.Empty(t, s.work.left, "Hold ended before it was released")
	s.work.releaseAll()
	assert.Equal(t, 1, wait(t, s.work.left, "end of Hold"), "Hold ended")

	// Many one-way calls from several goroutines: every one runs, and
	// none gets a reply.
	before := s.Stats()
	const callers, each = 8, 250
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			for i := range each {
				assert.NoError(t, p.Oneway().Echo(ctx, i), "Oneway().Echo(%d)", i)
			}
		})
	}
	wg.Wait()
	require.Eventually(t, func() bool { return s.work.echoes.Load() == callers*each }, 5*time.Second, time.Millisecond,
		"Echo ran %d times, want %d", s.work.echoes.Load(), callers*each)
	after := s.Stats()
	assert.Equal(t, before.Replies, after.Replies, "reply frames for one-way calls")
	assert.Equal(t, before.Errors, after.Errors, "error frames for one-way calls")
	assert.Zero(t, c.OnewayFailures(), "OnewayFailures")

	// The method's failure and an unknown object are not reported.
	assert.NoError(t, p.Oneway().Fail(ctx, "unheard"), "Oneway().Fail")
	assert.NoError(t, missingWorker(c).Oneway().Echo(ctx, 1), "Oneway().Echo on a missing object")
}

func TestSyncWithServerReturnsBeforeCompletion(t *testing.T) {
	noLeaks(t)
	s := startServer(t, invoker.Options{})
	c := s.dial(t)
	p := lookupWorker(t, c)
	ctx := ctxT(t)

	require.NoError(t, p.SyncWithServer().Hold(ctx, 7, "held"), "SyncWithServer().Hold")
	// It returned although Hold cannot end before it is released.
	assert.Equal(t, 7, wait(t, s.work.entered, "start of Hold"), "Hold started")
	assert.Empty(t, s.work.left, "Hold ended before it was released")
	assert.Equal(t, int64(1), s.Stats().Running, "calls running after SyncWithServer().Hold returned")
	s.work.releaseAll()
	assert.Equal(t, 7, wait(t, s.work.left, "end of Hold"), "Hold ended")

	// The server accepted the call: the method's own error is not
	// reported. A call it cannot accept is.
	assert.NoError(t, p.SyncWithServer().Fail(ctx, "unheard"), "SyncWithServer().Fail")
	err := missingWorker(c).SyncWithServer().Echo(ctx, 1)
	assert.ErrorIs(t, err, remoting.ErrNotFound, "SyncWithServer().Echo on a missing object")
	assert.Equal(t, remoting.CodeNotFound, remoting.CodeOf(err), "SyncWithServer().Echo on a missing object: %v", err)
}

func TestPollObject(t *testing.T) {
	noLeaks(t)
	s := startServer(t, invoker.Options{})
	p := lookupWorker(t, s.dial(t))
	ctx := ctxT(t)

	futs := make([]*svc.WorkerHoldFuture, 3)
	for i := range futs {
		futs[i] = p.Async().Hold(ctx, i, "w")
	}
	for range futs {
		wait(t, s.work.entered, "start of Hold")
	}
	for i, f := range futs {
		assert.False(t, f.Ready(), "Ready of Hold(%d) while it runs", i)
	}

	// Result honours its ctx, and the call goes on.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	n, word, err := futs[0].Result(short)
	assert.ErrorIs(t, err, remoting.ErrDeadlineExceeded, "Result(short ctx)")
	assert.Equal(t, remoting.CodeDeadlineExceeded, remoting.CodeOf(err), "Result(short ctx): %v", err)
	assert.Zero(t, n, "Result(short ctx)")
	assert.Empty(t, word, "Result(short ctx)")
	canceled, cancel2 := context.WithCancel(ctx)
	cancel2()
	_, _, err = futs[0].Result(canceled)
	assert.ErrorIs(t, err, remoting.ErrCanceled, "Result(canceled ctx)")
	assert.False(t, futs[0].Ready(), "Ready after Result(short ctx)")

	s.work.releaseAll()
	for i, f := range futs {
		wait(t, f.Done(), "Done of Hold")
		assert.True(t, f.Ready(), "Ready of Hold(%d) after Done", i)
		n, word, err := f.Result(ctx)
		require.NoError(t, err, "Result of Hold(%d)", i)
		assert.Equal(t, i, n, "Result of Hold(%d)", i)
		assert.Equal(t, "w", word, "Result of Hold(%d)", i)
	}

	// A failed call completes its future with the error, typed.
	_, err = p.Async().Fail(ctx, "boom").Result(ctx)
	assert.ErrorIs(t, err, remoting.ErrApplication, "Async().Fail")
	assert.ErrorContains(t, err, "boom", "Async().Fail")
	_, err = missingWorker(s.dial(t)).Async().Echo(ctx, 1).Result(ctx)
	assert.ErrorIs(t, err, remoting.ErrNotFound, "Async().Echo on a missing object")
}

func TestPollObjectUnavailableWhenConnectionDies(t *testing.T) {
	noLeaks(t)
	s := startServer(t, invoker.Options{})
	c := s.dial(t)
	p := lookupWorker(t, c)
	ctx := ctxT(t)

	f := p.Async().Hold(ctx, 1, "never")
	wait(t, s.work.entered, "start of Hold")
	require.NoError(t, s.Close(), "server Close")
	wait(t, f.Done(), "Done after the server closed")
	n, word, err := f.Result(ctx)
	assert.ErrorIs(t, err, remoting.ErrUnavailable, "Result after the server closed")
	assert.Zero(t, n, "Result after the server closed")
	assert.Empty(t, word, "Result after the server closed")

	// A call started afterwards fails the same way.
	_, err = p.Async().Echo(ctx, 2).Result(ctx)
	assert.ErrorIs(t, err, remoting.ErrUnavailable, "Async().Echo after the server closed")
}

func TestCallbackRunsExactlyOnce(t *testing.T) {
	noLeaks(t)
	s := startServer(t, invoker.Options{})
	p := lookupWorker(t, s.dial(t))
	ctx := ctxT(t)

	const callers, each = 100, 100
	const n = callers * each
	var runs [n]atomic.Int32
	var wrong atomic.Int32
	var wg sync.WaitGroup
	wg.Add(n)
	var start sync.WaitGroup
	for c := range callers {
		start.Go(func() {
			for j := range each {
				i := c*each + j
				p.Callback().Echo(ctx, i, func(got int, err error) {
					if runs[i].Add(1) == 1 {
						if err != nil || got != i {
							wrong.Add(1)
						}
						wg.Done()
					}
				})
			}
		})
	}
	start.Wait()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	wait(t, done, "every done of 10000 Callback().Echo")
	assert.Zero(t, wrong.Load(), "callbacks with an error or a wrong result")
	// Give a second run the time to show.
	time.Sleep(50 * time.Millisecond)
	for i := range runs {
		if r := runs[i].Load(); r != 1 {
			assert.Equal(t, int32(1), r, "runs of done of Echo(%d)", i)
			break
		}
	}
}

func TestCallbackOnPeerDeath(t *testing.T) {
	noLeaks(t)
	s := startServer(t, invoker.Options{})
	c := s.dial(t)
	p := lookupWorker(t, c)
	ctx := ctxT(t)

	const n = 20
	var runs [n]atomic.Int32
	errs := make(chan error, 2*n)
	for i := range n {
		p.Callback().Hold(ctx, i, "never", func(got int, word string, err error) {
			runs[i].Add(1)
			if err == nil {
				t.Errorf("done of Hold(%d) got %d, %q and no error", i, got, word)
			}
			errs <- err
		})
	}
	for range n {
		wait(t, s.work.entered, "start of Hold")
	}
	require.NoError(t, s.Close(), "server Close")
	for range n {
		err := wait(t, errs, "done of Hold after the server closed")
		assert.ErrorIs(t, err, remoting.ErrUnavailable, "done of Hold after the server closed")
	}

	// A call that cannot be sent runs done once too, with the error.
	p.Callback().Echo(ctx, 1, func(_ int, err error) { errs <- err })
	assert.ErrorIs(t, wait(t, errs, "done of Echo after the server closed"), remoting.ErrUnavailable, "done of Echo after the server closed")

	time.Sleep(50 * time.Millisecond)
	assert.Empty(t, errs, "a done ran twice")
	for i := range runs {
		assert.Equal(t, int32(1), runs[i].Load(), "runs of done of Hold(%d)", i)
	}
}
