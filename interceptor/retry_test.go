package interceptor_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/interceptor"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/adapt/svc"
)

func TestRetry(t *testing.T) {
	m := interceptor.NewMetrics(interceptor.MetricsOptions{})
	srv := startServer(t, invoker.Options{Interceptors: []remoting.Interceptor{m.Server()}})
	retry := interceptor.Retry(interceptor.RetryOptions{
		Idempotent: []string{"Probe.Flaky", "Probe.Fail"},
		Attempts:   3,
		Backoff:    time.Millisecond,
	})
	_, p := dial(t, srv.endpoint, requestor.Options{Interceptors: []remoting.Interceptor{retry}})
	_, onlyFlaky := dial(t, srv.endpoint, requestor.Options{Interceptors: []remoting.Interceptor{
		interceptor.Retry(interceptor.RetryOptions{Idempotent: []string{"Probe.Flaky"}, Backoff: time.Millisecond}),
	}})
	ctx := ctxT(t)
	// Probe is per request: every call of Flaky meets a fresh instance,
	// so Flaky(key, 1) fails every time. The server's metrics count the
	// attempts.
	attempts := func(method string) uint64 {
		s, _ := m.Method(interceptor.Server, method)
		return s.Calls
	}

	for _, tc := range []struct {
		name     string
		call     func() error
		method   string
		attempts uint64
		code     remoting.Code
	}{
		{"Unavailable is retried until the attempts are spent", func() error {
			_, err := p.Flaky(ctx, "a", 1)
			return err
		}, "Probe.Flaky", 3, remoting.CodeUnavailable},
		{"other codes are not retried", func() error {
			return p.Fail(ctx, int(remoting.CodeResourceExhausted), "busy")
		}, "Probe.Fail", 1, remoting.CodeResourceExhausted},
		{"DeadlineExceeded is not retried", func() error {
			return p.Fail(ctx, int(remoting.CodeDeadlineExceeded), "late")
		}, "Probe.Fail", 1, remoting.CodeDeadlineExceeded},
		{"calls in other modes are not retried", func() error {
			return p.SyncWithServer().Fail(ctx, int(remoting.CodeUnavailable), "x")
		}, "Probe.Fail", 1, remoting.CodeOK},
		{"methods not marked idempotent are not retried", func() error {
			return onlyFlaky.Fail(ctx, int(remoting.CodeUnavailable), "down")
		}, "Probe.Fail", 1, remoting.CodeUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := attempts(tc.method)
			err := tc.call()
			assert.Equal(t, tc.code, remoting.CodeOf(err), "code of %v", err)
			require.Eventually(t, func() bool { return attempts(tc.method)-before == tc.attempts }, 5*time.Second, time.Millisecond,
				"attempts: %d", attempts(tc.method)-before)
		})
	}
}

// TestRetryRecovers calls a Probe whose one instance fails twice with
// Unavailable, as a server that is starting up would, then answers.
func TestRetryRecovers(t *testing.T) {
	srv := startServer(t, invoker.Options{})
	_, err := srv.Register("static-probe", svc.ProbeInvoker(), lifecycle.Static(&svc.ProbeImpl{}))
	require.NoError(t, err)
	c, _ := dial(t, srv.endpoint, requestor.Options{Interceptors: []remoting.Interceptor{
		interceptor.Retry(interceptor.RetryOptions{Idempotent: []string{"Probe.Flaky"}, Backoff: time.Millisecond}),
	}})
	p, err := svc.LookupProbe(ctxT(t), c, "static-probe")
	require.NoError(t, err)
	n, err := p.Flaky(ctxT(t), "k", 2)
	require.NoError(t, err, "Flaky after two Unavailable attempts")
	assert.Equal(t, 3, n, "attempts the server saw")
}

// TestRetryAcrossRestart retries a call over a connection that died: the
// server goes away and comes back on the same address.
func TestRetryAcrossRestart(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()
	first := startServerOn(t, lis, invoker.Options{})

	_, p := dial(t, "tcp://"+addr, requestor.Options{
		RedialBackoff: 5 * time.Millisecond, MaxRedialBackoff: 20 * time.Millisecond,
		Interceptors: []remoting.Interceptor{interceptor.Retry(interceptor.RetryOptions{
			Idempotent: []string{"Probe.Echo"}, Attempts: 20, Backoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		})},
	})
	_, err = p.Echo(ctxT(t), 1)
	require.NoError(t, err)

	first.Close()
	restarted := make(chan struct{})
	go func() {
		defer close(restarted)
		time.Sleep(100 * time.Millisecond)
		lis2, err := net.Listen("tcp", addr)
		if !assert.NoError(t, err, "listen again on %s", addr) {
			return
		}
		startServerOn(t, lis2, invoker.Options{})
	}()
	n, err := p.Echo(ctxT(t), 2)
	<-restarted
	require.NoError(t, err, "Echo across the restart")
	assert.Equal(t, 2, n)
}

func TestRetryHonoursContext(t *testing.T) {
	srv := startServer(t, invoker.Options{})
	c, p := dial(t, srv.endpoint, requestor.Options{})
	unavailable := func(context.Context, *remoting.Invocation, remoting.Handler) error {
		return remoting.Errorf(remoting.CodeUnavailable, "down")
	}
	c.SetInterceptors(interceptor.Retry(interceptor.RetryOptions{Idempotent: []string{"Probe.Echo"}, Attempts: 100, Backoff: time.Second}), unavailable)

	t.Run("deadline shorter than the backoff", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctxT(t), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := p.Echo(ctx, 1)
		assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err), "the last attempt's error: %v", err)
		assert.Less(t, time.Since(start), 90*time.Millisecond, "Retry does not wait for a backoff past the deadline")
	})
	t.Run("canceled while waiting", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctxT(t))
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		_, err := p.Echo(ctx, 1)
		assert.ErrorIs(t, err, remoting.ErrCanceled)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Less(t, time.Since(start), 900*time.Millisecond, "Retry stops waiting when ctx ends")
	})
}
