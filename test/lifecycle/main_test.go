package lifecycle_test

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/lifecycle/svc"
)

func TestMain(m *testing.M) {
	goredis.SetLogger(quiet{}) // the tests that stop Redis make go-redis log every refused dial
	goleak.VerifyTestMain(m)
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// testing.TB helpers shared by tests and benchmarks.

// server is a running server and the endpoint clients dial.
type server struct {
	*invoker.Server
	endpoint string
}

// startServer starts a server on loopback with opts; the test closes it.
func startServer(tb testing.TB, opts invoker.Options) *server {
	tb.Helper()
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	require.NoError(tb, err)
	s := &server{Server: invoker.NewServer(opts), endpoint: "tcp://" + lis.Addr().String()}
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	tb.Cleanup(func() {
		s.Close()
		select {
		case <-served:
		case <-time.After(5 * time.Second):
			tb.Error("Serve did not return after Close")
		}
	})
	return s
}

// register registers a Probe under name with strategy s.
func (s *server) register(tb testing.TB, name string, st lifecycle.Strategy) remoting.Ref {
	tb.Helper()
	ref, err := s.Register(name, svc.ProbeInvoker(), st)
	require.NoError(tb, err, "Register(%q)", name)
	return ref
}

// dial connects a client; the test closes it.
func (s *server) dial(tb testing.TB) *requestor.Client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := requestor.Dial(ctx, s.endpoint, requestor.Options{})
	require.NoError(tb, err)
	tb.Cleanup(func() { c.Close() })
	return c
}

// probe returns a proxy for the object ref on client c.
func probe(c *requestor.Client, ref remoting.Ref) *svc.ProbeProxy {
	ref.Endpoint = c.Endpoint()
	return svc.NewProbeProxy(c, ref)
}

func ctxT(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	tb.Cleanup(cancel)
	return ctx
}
