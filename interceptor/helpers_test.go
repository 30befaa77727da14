package interceptor_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/adapt/svc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// server is a running server with a Probe registered as "probe".
type server struct {
	*invoker.Server
	endpoint string
	counts   *remoting.EventCounts
}

// startServer serves a Probe made per request (so that remoting.EventCounts
// shows each activation) on loopback with opts, plus opts.Observers a
// Counts; the test closes it.
func startServer(tb testing.TB, opts invoker.Options) *server {
	tb.Helper()
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	require.NoError(tb, err)
	return startServerOn(tb, lis, opts)
}

func startServerOn(tb testing.TB, lis net.Listener, opts invoker.Options) *server {
	tb.Helper()
	counts := &remoting.EventCounts{}
	opts.Observers = append(opts.Observers, counts)
	s := &server{Server: invoker.NewServer(opts), counts: counts, endpoint: "tcp://" + lis.Addr().String()}
	var serials svc.Serials
	_, err := s.Register("probe", svc.ProbeInvoker(), lifecycle.PerRequest(serials.NewProbe))
	require.NoError(tb, err)
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	tb.Cleanup(func() {
		s.Close()
		<-served
	})
	return s
}

// activations returns how many Probe instances the server created.
func (s *server) activations() uint64 {
	return s.counts.Get(svc.ProbeInterface, remoting.EventActivated)
}

// dial connects a client with opts and looks up the probe; the test closes
// the client.
func dial(tb testing.TB, endpoint string, opts requestor.Options) (*requestor.Client, *svc.ProbeProxy) {
	tb.Helper()
	c, err := requestor.Dial(ctxT(tb), endpoint, opts)
	require.NoError(tb, err)
	tb.Cleanup(func() { c.Close() })
	p, err := svc.LookupProbe(ctxT(tb), c, "probe")
	require.NoError(tb, err)
	return c, p
}

func ctxT(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	tb.Cleanup(cancel)
	return ctx
}
