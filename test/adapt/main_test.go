package adapt_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/codegen"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/adapt/svc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// server is a running server and the endpoint clients dial.
type server struct {
	*invoker.Server
	endpoint string
	counts   *remoting.EventCounts
	serials  *svc.Serials
}

// startServer starts a server on loopback with opts plus a Counts
// observer; the test closes it. Register objects on it before dialing.
func startServer(tb testing.TB, opts invoker.Options) *server {
	tb.Helper()
	counts := &remoting.EventCounts{}
	opts.Observers = append(opts.Observers, counts)
	s := &server{Server: invoker.NewServer(opts), counts: counts, serials: &svc.Serials{}}
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	require.NoError(tb, err)
	s.endpoint = "tcp://" + lis.Addr().String()
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	tb.Cleanup(func() {
		s.Close()
		<-served
	})
	return s
}

// register registers an object, failing the test on error.
func (s *server) register(tb testing.TB, name string, sk *codegen.Invoker, st lifecycle.Strategy) {
	tb.Helper()
	_, err := s.Register(name, sk, st)
	require.NoError(tb, err, "Register(%q)", name)
}

// dial connects a client; the test closes it.
func dial(tb testing.TB, endpoint string, opts requestor.Options) *requestor.Client {
	tb.Helper()
	c, err := requestor.Dial(ctxT(tb), endpoint, opts)
	require.NoError(tb, err)
	tb.Cleanup(func() { c.Close() })
	return c
}

func probe(tb testing.TB, c *requestor.Client, name string) *svc.ProbeProxy {
	tb.Helper()
	p, err := svc.LookupProbe(ctxT(tb), c, name)
	require.NoError(tb, err, "LookupProbe(%q)", name)
	return p
}

func worker(tb testing.TB, c *requestor.Client, name string) *svc.WorkerProxy {
	tb.Helper()
	p, err := svc.LookupWorker(ctxT(tb), c, name)
	require.NoError(tb, err, "LookupWorker(%q)", name)
	return p
}

func ctxT(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// trail records the order in which interceptors run; it is safe for
// concurrent use.
type trail struct {
	mu    sync.Mutex
	steps []string
}

func (t *trail) add(s string) {
	t.mu.Lock()
	t.steps = append(t.steps, s)
	t.mu.Unlock()
}

func (t *trail) get() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.steps...)
}

func (t *trail) reset() {
	t.mu.Lock()
	t.steps = nil
	t.mu.Unlock()
}
