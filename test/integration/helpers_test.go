package integration

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting/internal/testservice"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
)

// server is a Server serving one testservice.Impl as "echo" on loopback TCP.
type server struct {
	*invoker.Server
	impl     *testservice.Impl
	lis      net.Listener
	endpoint string
	served   chan error
}

func startServer(t *testing.T, opts invoker.Options) *server {
	t.Helper()
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	require.NoError(t, err)
	return serveOn(t, lis, opts)
}

func serveOn(t *testing.T, lis net.Listener, opts invoker.Options) *server {
	t.Helper()
	s := &server{Server: invoker.NewServer(opts), impl: &testservice.Impl{}, lis: lis, served: make(chan error, 1)}
	_, err := s.Register("echo", testservice.EchoInvoker(), lifecycle.Static(s.impl))
	require.NoError(t, err)
	s.endpoint = lis.Addr().Network() + "://" + lis.Addr().String()
	go func() { s.served <- s.Serve(lis) }()
	t.Cleanup(func() {
		s.Close()
		select {
		case <-s.served:
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return s
}

func dial(t *testing.T, endpoint string, opts requestor.Options) *requestor.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := requestor.Dial(ctx, endpoint, opts)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func lookup(t *testing.T, c *requestor.Client) *testservice.EchoProxy {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := testservice.LookupEcho(ctx, c, "echo")
	require.NoError(t, err)
	return p
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
