package e2e

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/test/e2e/shapes"
)

// gate implements shapes.Gate: Pass waits until open is closed.
type gate struct{ open chan struct{} }

func newGate() *gate { return &gate{open: make(chan struct{})} }

func (g *gate) Pass(ctx context.Context, n int) (int, error) {
	select {
	case <-g.open:
		return n, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// counted returns the counter's value, by adding 0.
func counted(t *testing.T, c shapes.Counter) int {
	n, err := c.Add(ctxT(t), 0)
	require.NoError(t, err, "Add(0)")
	return n
}

// missingCounter returns a proxy for a counter the server does not have.
func missingCounter(t *testing.T) *shapes.CounterProxy {
	return shapes.NewCounterProxy(connect(t), remoting.Ref{ID: remoting.NewObjectID(), Interface: shapes.CounterInterface})
}

// wait receives from ch, or fails the test after a while.
func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		require.FailNow(t, "timed out waiting for "+what)
		panic("unreachable")
	}
}

func TestOneway(t *testing.T) {
	f := lookupFactory(t, connect(t))
	ctx := ctxT(t)
	c := newCounter(t, f, 0).(*shapes.CounterProxy)

	require.NoError(t, c.Oneway().Add(ctx, 5), "Oneway().Add(5)")
	assert.Eventually(t, func() bool { return counted(t, c) == 5 }, 5*time.Second, 5*time.Millisecond, "count after Oneway().Add(5)")

	// An object passed by reference is exported for a one-way call too.
	v := &visitor{}
	require.NoError(t, f.Oneway().Visit(ctx, v, 2), "Oneway().Visit(v, 2)")
	assert.Eventually(t, func() bool { return len(v.calls()) == 2 }, 5*time.Second, 5*time.Millisecond, "calls of the visitor after Oneway().Visit(v, 2)")

	// Failures of the method are not reported.
	assert.NoError(t, missingCounter(t).Oneway().Add(ctx, 1), "Oneway().Add on a missing object")
}

func TestSyncWithServer(t *testing.T) {
	f := lookupFactory(t, connect(t))
	ctx := ctxT(t)
	c := newCounter(t, f, 0).(*shapes.CounterProxy)

	require.NoError(t, c.SyncWithServer().Add(ctx, 2), "SyncWithServer().Add(2)")
	assert.Eventually(t, func() bool { return counted(t, c) == 2 }, 5*time.Second, 5*time.Millisecond, "count after SyncWithServer().Add(2)")

	err := missingCounter(t).SyncWithServer().Add(ctx, 1)
	assert.ErrorIs(t, err, remoting.ErrNotFound, "SyncWithServer().Add on a missing object")
}

func TestAsync(t *testing.T) {
	g := newGate()
	client := connectGate(t, g)
	ctx := ctxT(t)
	p, err := shapes.LookupGate(ctx, client, "gate")
	require.NoError(t, err)

	fut := p.Async().Pass(ctx, 7)
	assert.False(t, fut.Ready(), "Ready before the gate opens")

	// Result honours its ctx, and the call goes on.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	n, err := fut.Result(short)
	assert.Equal(t, remoting.CodeDeadlineExceeded, remoting.CodeOf(err), "Result(short ctx) error: %v", err)
	assert.Zero(t, n, "Result(short ctx)")
	assert.False(t, fut.Ready(), "Ready after Result(short ctx)")

	close(g.open)
	wait(t, fut.Done(), "Done of Pass(7)")
	assert.True(t, fut.Ready(), "Ready after Done")
	n, err = fut.Result(ctx)
	require.NoError(t, err, "Result")
	assert.Equal(t, 7, n, "Result of Pass(7)")

	// Remote interfaces in the results become proxies, or nil.
	f := lookupFactory(t, client)
	c, err := f.Async().NewCounter(ctx, 3).Result(ctx)
	require.NoError(t, err, "Async().NewCounter(3)")
	require.IsType(t, &shapes.CounterProxy{}, c, "Async().NewCounter(3)")
	assert.Equal(t, 4, counted(t, c)+1, "counter from Async().NewCounter(3)")
	c, err = f.Async().Nil(ctx).Result(ctx)
	require.NoError(t, err, "Async().Nil")
	assert.True(t, c == nil, "Async().Nil() = %#v, want a nil interface", c)

	// A failed call completes the future with its error.
	_, err = missingCounter(t).Async().Add(ctx, 1).Result(ctx)
	assert.ErrorIs(t, err, remoting.ErrNotFound, "Async().Add on a missing object")
}

func TestCallback(t *testing.T) {
	client := connect(t)
	f := lookupFactory(t, client)
	ctx := ctxT(t)

	// done runs once, and not on the connection's reader goroutine: it
	// may make a synchronous call over the same connection.
	type outcome struct {
		n   int
		err error
	}
	var calls atomic.Int32
	got := make(chan outcome, 2)
	f.Callback().NewCounter(ctx, 3, func(c shapes.Counter, err error) {
		calls.Add(1)
		if err != nil {
			got <- outcome{err: err}
			return
		}
		n, err := c.Add(ctx, 1)
		got <- outcome{n, err}
	})
	o := wait(t, got, "done of NewCounter(3)")
	require.NoError(t, o.err, "NewCounter(3) then Add(1)")
	assert.Equal(t, 4, o.n, "NewCounter(3) then Add(1)")

	// An object passed by reference is called back before done runs.
	v := &visitor{}
	sums := make(chan outcome, 2)
	f.Callback().Visit(ctx, v, 3, func(sum int, err error) {
		calls.Add(1)
		sums <- outcome{sum, err}
	})
	o = wait(t, sums, "done of Visit(v, 3)")
	require.NoError(t, o.err, "Visit(v, 3)")
	assert.Equal(t, 30, o.n, "Visit(v, 3)")
	assert.Equal(t, []int{0, 1, 2}, v.calls(), "calls of the visitor")

	// A failed call runs done with its error and zero results.
	errs := make(chan outcome, 2)
	missingCounter(t).Callback().Add(ctx, 1, func(n int, err error) {
		calls.Add(1)
		errs <- outcome{n, err}
	})
	o = wait(t, errs, "done of Add on a missing object")
	assert.ErrorIs(t, o.err, remoting.ErrNotFound, "Add on a missing object")
	assert.Zero(t, o.n, "Add on a missing object")

	// No done ran twice.
	_ = counted(t, newCounter(t, f, 0))
	assert.Equal(t, int32(3), calls.Load(), "calls of done")
	assert.Empty(t, got, "second outcome of NewCounter")
	assert.Empty(t, sums, "second outcome of Visit")
	assert.Empty(t, errs, "second outcome of Add")
}
