package interceptor_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/interceptor"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/requestor"
)

func TestDefaultDeadline(t *testing.T) {
	srv := startServer(t, invoker.Options{})
	_, p := dial(t, srv.endpoint, requestor.Options{Interceptors: []remoting.Interceptor{interceptor.DefaultDeadline(2 * time.Second)}})

	seen, err := p.Seen(context.Background(), "none")
	require.NoError(t, err)
	assert.Greater(t, seen.Deadline, time.Second, "a call without a deadline gets the default")
	assert.LessOrEqual(t, seen.Deadline, 2*time.Second, "a call without a deadline gets the default")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seen, err = p.Seen(ctx, "own")
	require.NoError(t, err)
	assert.Greater(t, seen.Deadline, 5*time.Second, "a call with a deadline keeps it")

	// An Async call keeps its deadline until its outcome arrives.
	seen, err = p.Async().Seen(context.Background(), "async").Result(ctxT(t))
	require.NoError(t, err, "Async().Seen")
	assert.Greater(t, seen.Deadline, time.Second, "an async call gets the default")
	err = p.Async().Sleep(context.Background(), 50*time.Millisecond).Result(ctxT(t))
	require.NoError(t, err, "an async call is not canceled when the chain returns")

	_, p2 := dial(t, srv.endpoint, requestor.Options{Interceptors: []remoting.Interceptor{interceptor.DefaultDeadline(50 * time.Millisecond)}})
	err = p2.Sleep(context.Background(), time.Second)
	assert.ErrorIs(t, err, remoting.ErrDeadlineExceeded, "Sleep past the default deadline")
}
