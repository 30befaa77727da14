package modes_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/codegen"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/modes/svc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// noLeaks checks, after everything else the test set up has been closed,
// that no goroutine of the server or the client is left. Call it first.
func noLeaks(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

// server is a running server with a Recorder as "recorder", a Worker as
// "worker" and a Hub as "hub", and the endpoint clients dial.
type server struct {
	*invoker.Server
	endpoint string
	rec      *recorder
	work     *worker
	hub      *hub
}

// startServer starts a server on loopback with opts; the test closes it.
func startServer(tb testing.TB, opts invoker.Options) *server {
	tb.Helper()
	s := &server{Server: invoker.NewServer(opts), rec: &recorder{}, work: newWorker(), hub: &hub{}}
	for _, r := range []struct {
		name string
		sk   *codegen.Invoker
		impl any
	}{
		{"recorder", svc.RecorderInvoker(), s.rec},
		{"worker", svc.WorkerInvoker(), s.work},
		{"hub", hubInvoker(), s.hub},
	} {
		_, err := s.Register(r.name, r.sk, lifecycle.Static(r.impl))
		require.NoError(tb, err, "Register(%q)", r.name)
	}
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	require.NoError(tb, err)
	s.endpoint = "tcp://" + lis.Addr().String()
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	tb.Cleanup(func() {
		s.work.releaseAll()
		s.Close()
		select {
		case <-served:
		case <-time.After(5 * time.Second):
			tb.Error("Serve did not return after Close")
		}
	})
	return s
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

func lookupRecorder(tb testing.TB, c *requestor.Client) *svc.RecorderProxy {
	tb.Helper()
	p, err := svc.LookupRecorder(ctxT(tb), c, "recorder")
	require.NoError(tb, err, "LookupRecorder")
	return p
}

func lookupWorker(tb testing.TB, c *requestor.Client) *svc.WorkerProxy {
	tb.Helper()
	p, err := svc.LookupWorker(ctxT(tb), c, "worker")
	require.NoError(tb, err, "LookupWorker")
	return p
}

func lookupHub(tb testing.TB, c *requestor.Client) *svc.HubProxy {
	tb.Helper()
	p, err := svc.LookupHub(ctxT(tb), c, "hub")
	require.NoError(tb, err, "LookupHub")
	return p
}

func ctxT(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// wait receives from ch, or fails the test after a while.
func wait[T any](tb testing.TB, ch <-chan T, what string) T {
	tb.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		require.FailNow(tb, "timed out waiting for "+what)
		panic("unreachable")
	}
}

// recorder implements svc.Recorder. before, if set, runs at the start of
// every Record, before n is recorded.
type recorder struct {
	before func(ctx context.Context, n int)

	mu  sync.Mutex
	got []int
}

func (r *recorder) Record(ctx context.Context, n int) error {
	if r.before != nil {
		r.before(ctx, n)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, n)
	return nil
}

func (r *recorder) Recorded(context.Context) ([]int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got), nil
}

// worker implements svc.Worker. Calls of Hold say when they start and when
// they end, and wait until the test releases them.
type worker struct {
	echoes  atomic.Int64
	entered chan int // Hold's n, when it starts
	left    chan int // Hold's n, when it returns
	release chan struct{}
	once    sync.Once
}

func newWorker() *worker {
	return &worker{entered: make(chan int, 1024), left: make(chan int, 1024), release: make(chan struct{})}
}

// releaseAll lets every call of Hold, running or to come, return.
func (w *worker) releaseAll() { w.once.Do(func() { close(w.release) }) }

func (w *worker) Echo(_ context.Context, n int) (int, error) {
	w.echoes.Add(1)
	return n, nil
}

func (w *worker) Hold(ctx context.Context, n int, word string) (int, string, error) {
	w.entered <- n
	defer func() { w.left <- n }()
	select {
	case <-w.release:
		return n, word, nil
	case <-ctx.Done():
		return 0, "", ctx.Err()
	}
}

func (w *worker) Fail(_ context.Context, msg string) (int, error) {
	return 0, fmt.Errorf("worker: %s", msg)
}

// hub implements svc.Hub for one client at a time.
type hub struct {
	mu  sync.Mutex
	obs *svc.ObserverProxy
}

func hubInvoker() *codegen.Invoker { return svc.HubInvoker() }

func (h *hub) Watch(_ context.Context, o svc.Observer) error {
	p, ok := o.(*svc.ObserverProxy)
	if !ok {
		return fmt.Errorf("hub: observer is a %T, not a proxy", o)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.obs = p
	return nil
}

// observer returns the kept observer, or an error if there is none.
func (h *hub) observer() (*svc.ObserverProxy, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.obs == nil {
		return nil, fmt.Errorf("hub: no observer")
	}
	return h.obs, nil
}

func (h *hub) Tell(ctx context.Context, n int) (int, error) {
	o, err := h.observer()
	if err != nil {
		return 0, err
	}
	return o.Notify(ctx, n)
}

func (h *hub) Post(ctx context.Context, n int) error {
	o, err := h.observer()
	if err != nil {
		return err
	}
	return o.Oneway().Notify(ctx, n)
}

// Forget lets go of the observer: the client's exported object ends.
func (h *hub) Forget(ctx context.Context) error {
	h.mu.Lock()
	o := h.obs
	h.obs = nil
	h.mu.Unlock()
	if o == nil {
		return nil
	}
	return remoting.Release(ctx, o)
}

// observer implements svc.Observer on the client: it records what it is
// told and returns 10*n.
type observer struct {
	mu   sync.Mutex
	seen []int
	told chan int
}

func newObserver() *observer { return &observer{told: make(chan int, 1024)} }

func (o *observer) Notify(_ context.Context, n int) (int, error) {
	o.mu.Lock()
	o.seen = append(o.seen, n)
	o.mu.Unlock()
	o.told <- n
	return 10 * n, nil
}
