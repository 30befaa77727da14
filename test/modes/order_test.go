package modes_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting/invoker"
)

// What is ordered: a client's calls go out on one call stream (the
// default, requestor.Options.Streams = 1), each frame is queued by the
// calling goroutine before the call returns, in every mode, and one writer
// goroutine writes the queue in order; the server reads the stream with one
// goroutine. So the calls one goroutine makes one after another on one
// connection are sent and received in that order. What is not: the server
// runs each request in a goroutine of its own, so they may run in any
// order, unless the server runs one request of a connection at a time
// (invoker.Options.MaxConcurrentCalls = 1).

// TestOneConnectionIsReceivedInOrder sends calls in every mode from one
// goroutine to a server that runs one request of a connection at a time,
// and so in the order it reads them: the record is the order sent.
func TestOneConnectionIsReceivedInOrder(t *testing.T) {
	noLeaks(t)
	s := startServer(t, invoker.Options{MaxConcurrentCalls: 1})
	p := lookupRecorder(t, s.dial(t))
	ctx := ctxT(t)

	const n = 2000
	want := make([]int, n)
	for i := range n {
		want[i] = i
		switch i % 4 {
		case 0:
			require.NoError(t, p.Oneway().Record(ctx, i), "Oneway().Record(%d)", i)
		case 1:
			require.NoError(t, p.SyncWithServer().Record(ctx, i), "SyncWithServer().Record(%d)", i)
		case 2:
			p.Async().Record(ctx, i) // the outcome is not awaited
		case 3:
			p.Callback().Record(ctx, i, func(error) {})
		}
	}
	// Recorded is received after every call above, and so runs after them.
	got, err := p.Recorded(ctx)
	require.NoError(t, err, "Recorded")
	assert.Equal(t, want, got, "order in which the calls ran")
}

// TestExecutionOrderIsNotGuaranteed shows that with the default options
// two one-way calls from one goroutine can run in the opposite order: the
// first waits inside the method until the second has been recorded, which
// could never happen if the server ran them in the order received.
func TestExecutionOrderIsNotGuaranteed(t *testing.T) {
	noLeaks(t)
	s := startServer(t, invoker.Options{})
	second := make(chan struct{})
	var once sync.Once
	s.rec.before = func(ctx context.Context, n int) {
		if n != 0 {
			return
		}
		select {
		case <-second:
		case <-time.After(5 * time.Second):
		case <-ctx.Done():
		}
	}
	p := lookupRecorder(t, s.dial(t))
	ctx := ctxT(t)

	require.NoError(t, p.Oneway().Record(ctx, 0), "Oneway().Record(0)")
	require.NoError(t, p.Oneway().Record(ctx, 1), "Oneway().Record(1)")
	require.Eventually(t, func() bool {
		got, err := p.Recorded(ctx)
		require.NoError(t, err, "Recorded")
		if slices.Equal(got, []int{1}) {
			once.Do(func() { close(second) })
		}
		return len(got) == 2
	}, 10*time.Second, time.Millisecond, "both calls ran")
	got, err := p.Recorded(ctx)
	require.NoError(t, err, "Recorded")
	assert.Equal(t, []int{1, 0}, got, "order in which Record(0) and Record(1) ran")
}

// TestOnewayFromOneProxyAllReceived sends many one-way calls from one
// goroutine to a server with the default options: every one arrives and
// runs exactly once, in whatever order the server's goroutines ran them.
func TestOnewayFromOneProxyAllReceived(t *testing.T) {
	noLeaks(t)
	s := startServer(t, invoker.Options{})
	p := lookupRecorder(t, s.dial(t))
	ctx := ctxT(t)

	const n = 5000
	for i := range n {
		require.NoError(t, p.Oneway().Record(ctx, i), "Oneway().Record(%d)", i)
	}
	var got []int
	require.Eventually(t, func() bool {
		var err error
		got, err = p.Recorded(ctx)
		require.NoError(t, err, "Recorded")
		return len(got) >= n
	}, 10*time.Second, 5*time.Millisecond, "every one-way call ran")
	sorted := slices.Sorted(slices.Values(got))
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	assert.Equal(t, want, sorted, "calls that ran, sorted")
	overtaken := 0
	for i := 1; i < len(got); i++ {
		if got[i] < got[i-1] {
			overtaken++
		}
	}
	t.Logf("%d of %d one-way calls ran before a call sent ahead of them", overtaken, n)
}
