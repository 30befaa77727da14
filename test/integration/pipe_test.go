package integration

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/testservice"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
)

// seen records, per method, the "via" metadata an interceptor saw.
type seen struct {
	mu  sync.Mutex
	via map[string][]string
}

func (s *seen) interceptor(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
	s.mu.Lock()
	if s.via == nil {
		s.via = make(map[string][]string)
	}
	s.via[inv.Method] = append(s.via[inv.Method], inv.Meta["via"])
	s.mu.Unlock()
	return next(ctx, inv)
}

func (s *seen) calls(method string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.via[method]...)
}

// TestClientOverPipe connects a client to a server over net.Pipe, with no
// socket: every invocation mode works through both interceptor chains,
// and Shutdown ends the connection cleanly.
func TestClientOverPipe(t *testing.T) {
	var onServer seen
	// One call of a connection at a time: the calls run in the order sent,
	// so the async Count runs after the one-way and sync-with-server ones.
	srv := invoker.NewServer(invoker.Options{MaxConcurrentCalls: 1, Interceptors: []remoting.Interceptor{onServer.interceptor}})
	impl := &testservice.Impl{}
	_, err := srv.Register("echo", testservice.EchoInvoker(), lifecycle.Static(impl))
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })

	var conns sync.WaitGroup
	served := make(chan error, 4)
	var dialed []string
	var mu sync.Mutex
	tag := func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		inv.Meta = remoting.Metadata{"via": "pipe"}
		return next(ctx, inv)
	}
	var onClient seen
	c := dial(t, "tcp://node-a", requestor.Options{
		Interceptors: []remoting.Interceptor{onClient.interceptor, tag},
		Dialer: func(_ context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			dialed = append(dialed, network+" "+addr)
			mu.Unlock()
			client, server := net.Pipe()
			conns.Go(func() { served <- srv.ServeConn(server) })
			return client, nil
		},
		RedialBackoff: time.Millisecond,
	})
	t.Cleanup(conns.Wait) // after the client and server have closed
	ctx := ctxT(t)
	p, err := testservice.LookupEcho(ctx, c, "echo")
	require.NoError(t, err, "LookupEcho over a pipe")

	got, err := p.Echo(ctx, "sync")
	require.NoError(t, err, "sync Echo")
	assert.Equal(t, "sync", got, "sync Echo")

	require.NoError(t, p.Oneway().Count(ctx), "oneway Count")
	require.NoError(t, p.SyncWithServer().Count(ctx), "sync-with-server Count")
	n, err := p.Async().Count(ctx).Result(ctx)
	require.NoError(t, err, "async Count")
	assert.Equal(t, int64(3), n, "async Count, after the oneway and sync-with-server ones")

	done := make(chan error, 1)
	p.Callback().Echo(ctx, "callback", func(s string, err error) {
		if err == nil && s != "callback" {
			err = assert.AnError
		}
		done <- err
	})
	select {
	case err := <-done:
		require.NoError(t, err, "callback Echo")
	case <-time.After(5 * time.Second):
		t.Fatal("callback Echo's done did not run")
	}

	assert.Equal(t, []string{""}, onClient.calls("remoting.Lookup"), "the client's chain, first outermost, on Lookup")
	assert.Equal(t, []string{"", ""}, onClient.calls("Echo.Echo"), "the client's chain on Echo")
	assert.Len(t, onClient.calls("Echo.Count"), 3, "the client's chain on Count")
	assert.Equal(t, []string{"pipe", "pipe"}, onServer.calls("Echo.Echo"), "the server's chain on Echo, with the client's metadata")
	require.Eventually(t, func() bool { return len(onServer.calls("Echo.Count")) == 3 }, 5*time.Second, time.Millisecond, "the server's chain on Count")
	assert.Equal(t, 1, srv.Stats().Connections, "Connections of the server")
	assert.Zero(t, c.OnewayFailures(), "OnewayFailures")
	mu.Lock()
	assert.Equal(t, []string{"tcp node-a"}, dialed, "what the Dialer was asked for")
	mu.Unlock()

	require.NoError(t, srv.Shutdown(ctx), "Shutdown")
	select {
	case err := <-served:
		assert.NoError(t, err, "ServeConn after Shutdown")
	case <-time.After(5 * time.Second):
		t.Fatal("ServeConn did not return after Shutdown")
	}
	assert.Zero(t, srv.Stats().Connections, "Connections after Shutdown")

	// The client dials again, and the server refuses the new pipe.
	_, err = p.Echo(ctx, "after")
	assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err), "Echo after Shutdown: %v", err)
	select {
	case err := <-served:
		assert.ErrorIs(t, err, invoker.ErrServerClosed, "ServeConn of a pipe dialed after Shutdown")
	case <-time.After(5 * time.Second):
		t.Fatal("ServeConn of a pipe dialed after Shutdown did not return")
	}
}
