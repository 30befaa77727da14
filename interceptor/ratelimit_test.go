package interceptor_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/interceptor"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/requestor"
)

func TestRateLimit(t *testing.T) {
	// A rate so low that no token comes back during the test: the burst
	// is all there is.
	srv := startServer(t, invoker.Options{Interceptors: []remoting.Interceptor{interceptor.RateLimit(0.001, 3)}})
	_, p := dial(t, srv.endpoint, requestor.Options{})
	ctx := ctxT(t)
	for i := range 3 {
		_, err := p.Echo(ctx, i)
		require.NoError(t, err, "Echo %d, within the burst", i)
	}
	_, err := p.Echo(ctx, 3)
	require.ErrorIs(t, err, remoting.ErrResourceExhausted, "Echo beyond the burst")
	assert.Contains(t, err.Error(), "rate limit")
	assert.Equal(t, uint64(3), srv.activations(), "a refused call activates nothing")
}

func TestRateLimitRefills(t *testing.T) {
	srv := startServer(t, invoker.Options{Interceptors: []remoting.Interceptor{interceptor.RateLimit(50, 1)}})
	_, p := dial(t, srv.endpoint, requestor.Options{})
	ctx := ctxT(t)
	_, err := p.Echo(ctx, 1)
	require.NoError(t, err)
	_, err = p.Echo(ctx, 2)
	require.ErrorIs(t, err, remoting.ErrResourceExhausted, "second call at once")
	time.Sleep(40 * time.Millisecond) // two tokens' worth at 50/s
	_, err = p.Echo(ctx, 3)
	require.NoError(t, err, "after the bucket refilled")
}

func TestRateLimitByPeer(t *testing.T) {
	srv := startServer(t, invoker.Options{Interceptors: []remoting.Interceptor{interceptor.RateLimitBy(0.001, 2, interceptor.ByPeer)}})
	_, a := dial(t, srv.endpoint, requestor.Options{})
	_, b := dial(t, srv.endpoint, requestor.Options{})
	ctx := ctxT(t)
	for i := range 2 {
		_, err := a.Echo(ctx, i)
		require.NoError(t, err, "a: Echo %d", i)
	}
	_, err := a.Echo(ctx, 2)
	require.ErrorIs(t, err, remoting.ErrResourceExhausted, "a: beyond its burst")
	for i := range 2 {
		_, err := b.Echo(ctx, i)
		require.NoError(t, err, "b has a bucket of its own: Echo %d", i)
	}
	_, err = b.Echo(ctx, 2)
	require.ErrorIs(t, err, remoting.ErrResourceExhausted, "b: beyond its burst")
}
