package requestor_test

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/testservice"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/lifecycle/tally"
	"github.com/remoting-go/remoting/test/modes/svc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const wait = 5 * time.Second

// server is an invoker.Server serving a testservice.Impl as "echo" on
// loopback TCP.
type server struct {
	*invoker.Server
	impl     *testservice.Impl
	addr     string // host:port
	endpoint string
	served   chan error
	once     sync.Once
}

// startServer serves on addr ("127.0.0.1:0" for any port). setup, if not
// nil, registers more before the server serves. The test closes it.
func startServer(t *testing.T, addr string, setup func(*invoker.Server)) *server {
	t.Helper()
	var lis net.Listener
	require.Eventually(t, func() bool {
		var err error
		lis, err = invoker.Listen("tcp://"+addr, nil)
		return err == nil
	}, wait, 10*time.Millisecond, "Listen(%s)", addr)
	s := &server{Server: invoker.NewServer(invoker.Options{}), impl: &testservice.Impl{}, addr: lis.Addr().String(), served: make(chan error, 1)}
	s.endpoint = "tcp://" + s.addr
	_, err := s.Register("echo", testservice.EchoInvoker(), lifecycle.Static(s.impl))
	require.NoError(t, err, "Register")
	if setup != nil {
		setup(s.Server)
	}
	go func() { s.served <- s.Serve(lis) }()
	t.Cleanup(s.stop)
	return s
}

// stop closes the server and waits for Serve to return; it may be called
// more than once.
func (s *server) stop() {
	s.Close()
	s.once.Do(func() {
		select {
		case <-s.served:
		case <-time.After(wait):
			panic("Serve did not return after Close")
		}
	})
}

func dial(t *testing.T, endpoint string, opts requestor.Options) *requestor.Client {
	t.Helper()
	c, err := requestor.Dial(ctxT(t), endpoint, opts)
	require.NoError(t, err, "Dial(%s)", endpoint)
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

func lookupEcho(t *testing.T, c *requestor.Client) *testservice.EchoProxy {
	t.Helper()
	p, err := testservice.LookupEcho(ctxT(t), c, "echo")
	require.NoError(t, err, "LookupEcho")
	return p
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()
	require.NoError(t, lis.Close())
	return addr
}

// mute accepts connections and closes each at once, as a server that
// does not speak the protocol.
func mute(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			nc, err := lis.Accept()
			if err != nil {
				return
			}
			nc.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
			nc.Close()
		}
	})
	t.Cleanup(func() { lis.Close(); wg.Wait() })
	return lis.Addr().String()
}

func TestDialErrors(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
		opts     requestor.Options
		wantCode remoting.Code // CodeUnknown: a plain error
		wantText string
	}{
		{name: "unknown network", endpoint: "ftp://127.0.0.1:21", wantCode: remoting.CodeUnknown, wantText: "unknown network"},
		{name: "no address", endpoint: "tcp://", wantCode: remoting.CodeUnknown, wantText: "no address"},
		{name: "tls without config", endpoint: "tls://127.0.0.1:1", wantCode: remoting.CodeUnknown, wantText: "needs Options.TLS"},
		{name: "nothing listening", endpoint: "tcp://" + freeAddr(t), wantCode: remoting.CodeUnavailable, wantText: "refused"},
		{name: "not this protocol", endpoint: mute(t), opts: requestor.Options{DialTimeout: time.Second}, wantCode: remoting.CodeUnavailable, wantText: "handshake"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := requestor.Dial(ctxT(t), tc.endpoint, tc.opts)
			if !assert.Error(t, err, "Dial(%q)", tc.endpoint) {
				c.Close()
				return
			}
			assert.Nil(t, c, "Dial(%q)", tc.endpoint)
			assert.Equal(t, tc.wantCode, remoting.CodeOf(err), "Dial(%q): %v", tc.endpoint, err)
			assert.Contains(t, err.Error(), tc.wantText, "Dial(%q)", tc.endpoint)
		})
	}
}

func TestDialCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := requestor.Dial(ctx, "tcp://"+freeAddr(t), requestor.Options{})
	assert.Error(t, err, "Dial with a canceled context")
}

func TestEndpointIsNormalised(t *testing.T) {
	s := startServer(t, "127.0.0.1:0", nil)
	c := dial(t, s.addr, requestor.Options{})
	assert.Equal(t, s.endpoint, c.Endpoint(), "Endpoint of a client dialed with a bare host:port")
}

func TestReconnectAfterServerRestarts(t *testing.T) {
	s := startServer(t, "127.0.0.1:0", nil)
	c := dial(t, s.endpoint, requestor.Options{RedialBackoff: 5 * time.Millisecond, MaxRedialBackoff: 20 * time.Millisecond})
	p := lookupEcho(t, c)
	ctx := ctxT(t)
	_, err := p.Echo(ctx, "before")
	require.NoError(t, err, "Echo before the restart")

	s.stop()
	_, err = p.Echo(ctx, "while down")
	assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err), "Echo while the server is down: %v", err)

	// The same name has the same id on the new server, so the proxy
	// still works.
	startServer(t, s.addr, nil)
	require.Eventually(t, func() bool {
		got, err := p.Echo(ctx, "after")
		return err == nil && got == "after"
	}, wait, 10*time.Millisecond, "Echo after the restart")
}

func TestBackoffMakesCallsFailFast(t *testing.T) {
	s := startServer(t, "127.0.0.1:0", nil)
	c := dial(t, s.endpoint, requestor.Options{RedialBackoff: time.Minute})
	p := lookupEcho(t, c)
	ctx := ctxT(t)
	s.stop()

	// Until a call has dialed and failed.
	require.Eventually(t, func() bool {
		_, err := p.Echo(ctx, "x")
		return remoting.CodeOf(err) == remoting.CodeUnavailable && strings.Contains(err.Error(), "connection refused")
	}, wait, time.Millisecond, "a call that dials and fails")

	// The server is back, but the client does not dial again before the
	// backoff has passed: calls fail at once.
	back := startServer(t, s.addr, nil)
	for range 3 {
		start := time.Now()
		_, err := p.Echo(ctx, "x")
		assert.Less(t, time.Since(start), 500*time.Millisecond, "a call during the backoff took long")
		assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err), "Echo during the backoff: %v", err)
	}
	assert.Zero(t, back.Stats().Connections, "connections the client opened during the backoff")
}

func TestBackoffErrorSaysSo(t *testing.T) {
	s := startServer(t, "127.0.0.1:0", nil)
	c := dial(t, s.endpoint, requestor.Options{RedialBackoff: time.Minute})
	p := lookupEcho(t, c)
	ctx := ctxT(t)
	s.stop()
	require.Eventually(t, func() bool {
		_, err := p.Echo(ctx, "x")
		return strings.Contains(fmt.Sprint(err), "connection refused")
	}, wait, time.Millisecond, "a call that dials and fails")
	_, err := p.Echo(ctx, "x")
	assert.Contains(t, fmt.Sprint(err), "reconnecting to "+c.Endpoint(), "Echo during the backoff")
}

func TestClose(t *testing.T) {
	s := startServer(t, "127.0.0.1:0", nil)
	c, err := requestor.Dial(ctxT(t), s.endpoint, requestor.Options{})
	require.NoError(t, err, "Dial")
	p := lookupEcho(t, c)
	ctx := ctxT(t)

	// A call in flight fails with Unavailable when the client closes.
	entered := s.impl.NotifyEntered(1)
	pending := make(chan error, 1)
	go func() { pending <- p.Sleep(ctx, time.Minute) }()
	select {
	case <-entered:
	case <-time.After(wait):
		t.Fatal("Sleep never started")
	}

	require.NoError(t, c.Close(), "Close")
	require.NoError(t, c.Close(), "second Close")
	select {
	case err := <-pending:
		assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err), "pending call after Close: %v", err)
	case <-time.After(wait):
		t.Fatal("the pending call did not fail")
	}
	select {
	case <-c.Closed():
	default:
		t.Error("Closed() not closed after Close")
	}

	_, err = p.Echo(ctx, "x")
	assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err), "Echo after Close: %v", err)
	assert.ErrorIs(t, err, requestor.ErrClosed, "Echo after Close")

	assert.Error(t, p.Oneway().Echo(ctx, "x"), "oneway Echo after Close")
	assert.Equal(t, uint64(1), c.OnewayFailures(), "OnewayFailures")

	var doneErr error
	dones := 0
	p.Callback().Echo(ctx, "x", func(_ string, err error) { dones++; doneErr = err })
	assert.Equal(t, 1, dones, "Done of an async call after Close ran before the call returned")
	assert.ErrorIs(t, doneErr, requestor.ErrClosed, "Done of an async call after Close")

	_, err = c.Export(svc.ObserverInvoker(), &observer{})
	assert.ErrorIs(t, err, requestor.ErrClosed, "Export after Close")
}

func TestLookup(t *testing.T) {
	s := startServer(t, "127.0.0.1:0", nil)
	c := dial(t, s.endpoint, requestor.Options{})
	tests := []struct {
		name, lookup, iface string
		wantCode            remoting.Code
	}{
		{"right interface", "echo", testservice.EchoInterface, remoting.CodeOK},
		{"any interface", "echo", "", remoting.CodeOK},
		{"wrong interface", "echo", tally.MakerInterface, remoting.CodeInvalidArgument},
		{"unknown name", "nobody", testservice.EchoInterface, remoting.CodeNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref, err := c.Lookup(ctxT(t), tc.lookup, tc.iface)
			assert.Equal(t, tc.wantCode, remoting.CodeOf(err), "Lookup(%q, %q): %v", tc.lookup, tc.iface, err)
			if err != nil {
				assert.Zero(t, ref, "Lookup(%q, %q) that failed", tc.lookup, tc.iface)
				return
			}
			want := remoting.Ref{Endpoint: c.Endpoint(), ID: remoting.NameID("echo"), Interface: testservice.EchoInterface}
			assert.Equal(t, want, ref, "Lookup(%q, %q)", tc.lookup, tc.iface)
		})
	}

	// A reference to another endpoint is refused before anything is sent.
	ref, err := c.Lookup(ctxT(t), "echo", "")
	require.NoError(t, err)
	ref.Endpoint = "tcp://192.0.2.1:4000"
	_, err = testservice.NewEchoProxy(c, ref).Echo(ctxT(t), "x")
	assert.Equal(t, remoting.CodeInvalidArgument, remoting.CodeOf(err), "Echo through a reference to another endpoint: %v", err)
}

func TestInterceptorsWrapEveryCall(t *testing.T) {
	s := startServer(t, "127.0.0.1:0", nil)
	var mu sync.Mutex
	var seen []string
	note := func(who string) remoting.Interceptor {
		return func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
			mu.Lock()
			seen = append(seen, who+" "+inv.Method)
			mu.Unlock()
			return next(ctx, inv)
		}
	}
	c := dial(t, s.endpoint, requestor.Options{Interceptors: []remoting.Interceptor{note("a"), note("b")}})
	p := lookupEcho(t, c)
	_, err := p.Echo(ctxT(t), "x")
	require.NoError(t, err)
	mu.Lock()
	assert.Equal(t, []string{"a remoting.Lookup", "b remoting.Lookup", "a Echo.Echo", "b Echo.Echo"}, seen, "interceptors run")
	mu.Unlock()

	c.SetInterceptors(func(context.Context, *remoting.Invocation, remoting.Handler) error {
		return remoting.Errorf(remoting.CodePermissionDenied, "not now")
	})
	// The server counts a reply once it is queued, which may be after
	// the client has read it.
	require.Eventually(t, func() bool { return s.Stats().Running == 0 }, wait, time.Millisecond)
	before := s.Stats().Replies
	_, err = p.Echo(ctxT(t), "x")
	assert.Equal(t, remoting.CodePermissionDenied, remoting.CodeOf(err), "Echo refused by the client's chain: %v", err)
	assert.Equal(t, before, s.Stats().Replies, "replies the server sent for a call the client refused")
	c.SetInterceptors()
	_, err = p.Echo(ctxT(t), "x")
	assert.NoError(t, err, "Echo after SetInterceptors()")
}

// observer is a callback object a client exports.
type observer struct{}

func (observer) Notify(_ context.Context, n int) (int, error) { return 10 * n, nil }

// hub keeps the Observer its client passed and calls it back.
type hub struct {
	mu sync.Mutex
	o  svc.Observer
}

func (h *hub) Watch(_ context.Context, o svc.Observer) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.o = o
	return nil
}

func (h *hub) kept() svc.Observer {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.o
}

func (h *hub) Tell(ctx context.Context, n int) (int, error) { return h.kept().Notify(ctx, n) }

func (h *hub) Post(ctx context.Context, n int) error {
	return h.kept().(*svc.ObserverProxy).Oneway().Notify(ctx, n)
}

func (h *hub) Forget(ctx context.Context) error {
	return remoting.Release(ctx, h.kept().(remoting.Proxy))
}

func TestExportAndRelease(t *testing.T) {
	s := startServer(t, "127.0.0.1:0", func(s *invoker.Server) {
		_, err := s.Register("hub", svc.HubInvoker(), lifecycle.Static(&hub{}))
		require.NoError(t, err)
	})
	c := dial(t, s.endpoint, requestor.Options{})
	ctx := ctxT(t)
	h, err := svc.LookupHub(ctx, c, "hub")
	require.NoError(t, err, "LookupHub")

	ref, err := c.Export(svc.ObserverInvoker(), nil)
	assert.NoError(t, err, "Export(nil)")
	assert.Zero(t, ref, "Export(nil)")

	// The proxy exports the observer; the server calls it back over the
	// same connection, then releases it.
	require.NoError(t, h.Watch(ctx, observer{}), "Watch")
	assert.Equal(t, 1, c.Exported(), "Exported after Watch")
	n, err := h.Tell(ctx, 4)
	require.NoError(t, err, "Tell")
	assert.Equal(t, 40, n, "Tell's result, from the client's observer")
	require.NoError(t, h.Forget(ctx), "Forget")
	assert.Equal(t, 0, c.Exported(), "Exported after the server released it")
	_, err = h.Tell(ctx, 4)
	assert.Equal(t, remoting.CodeNotFound, remoting.CodeOf(err), "Tell after release: %v", err)

	// An exported object ends with the connection it was exported over.
	require.NoError(t, h.Watch(ctx, observer{}), "Watch again")
	assert.Equal(t, 1, c.Exported(), "Exported after Watch again")
	s.stop()
	require.Eventually(t, func() bool { return c.Exported() == 0 }, wait, time.Millisecond, "Exported after the connection ended")
}

func TestHoldRenewsTheLease(t *testing.T) {
	// The renewer renews at a third of the time to live; the margin
	// leaves room for a loaded machine.
	const ttl = time.Second
	tr := &tally.Tracker{}
	s := startServer(t, "127.0.0.1:0", func(s *invoker.Server) {
		require.NoError(t, s.Policy(tally.TallyInvoker(), lifecycle.ClientDependent(lifecycle.ClientDependentOptions{TTL: ttl})))
		_, err := s.Register("maker", tally.MakerInvoker(), lifecycle.Static(tr.Maker()))
		require.NoError(t, err)
	})
	c := dial(t, s.endpoint, requestor.Options{})
	ctx := ctxT(t)
	m, err := tally.LookupMaker(ctx, c, "maker")
	require.NoError(t, err, "LookupMaker")
	tl, err := m.NewTally(ctx, 5)
	require.NoError(t, err, "NewTally")
	assert.Equal(t, 1, c.Held(), "Held after NewTally")

	// No call for two lease times: only the renewer keeps it alive.
	time.Sleep(2 * ttl)
	n, err := tl.Get(ctx)
	require.NoError(t, err, "Get after two lease times without calls")
	assert.Equal(t, int64(5), n, "Get")

	ref := tl.(remoting.Proxy).Ref()
	require.NoError(t, c.Release(ctx, ref), "Release")
	assert.Equal(t, 0, c.Held(), "Held after Release")
	_, err = tl.Get(ctx)
	assert.Equal(t, remoting.CodeNotFound, remoting.CodeOf(err), "Get after Release: %v", err)
	assert.NoError(t, c.Release(ctx, ref), "Release again")
	runtime.KeepAlive(tl)
}

func TestHoldZeroRef(t *testing.T) {
	s := startServer(t, "127.0.0.1:0", nil)
	c := dial(t, s.endpoint, requestor.Options{})
	release := c.Hold(remoting.Ref{})
	assert.Equal(t, 0, c.Held(), "Held after Hold of the zero Ref")
	release()
}

func TestHoldCountsProxies(t *testing.T) {
	tr := &tally.Tracker{}
	s := startServer(t, "127.0.0.1:0", func(s *invoker.Server) {
		require.NoError(t, s.Policy(tally.TallyInvoker(), lifecycle.ClientDependent(lifecycle.ClientDependentOptions{TTL: time.Minute})))
		_, err := s.Register("maker", tally.MakerInvoker(), lifecycle.Static(tr.Maker()))
		require.NoError(t, err)
	})
	c := dial(t, s.endpoint, requestor.Options{})
	ctx := ctxT(t)
	m, err := tally.LookupMaker(ctx, c, "maker")
	require.NoError(t, err, "LookupMaker")
	tl, err := m.NewTally(ctx, 1) // the proxy holds it
	require.NoError(t, err, "NewTally")
	ref := tl.(remoting.Proxy).Ref()

	r1 := c.Hold(ref)
	r2 := c.Hold(ref)
	assert.Equal(t, 1, c.Held(), "Held with three holds of one object")
	r1()
	r1()
	r2()
	assert.Equal(t, 1, c.Held(), "Held while the proxy still holds it")
	require.NoError(t, c.Release(ctx, ref), "Release")
	assert.Equal(t, 0, c.Held(), "Held after Release")
	runtime.KeepAlive(tl)
}

func TestConcurrentCallersShareOneDial(t *testing.T) {
	s := startServer(t, "127.0.0.1:0", nil)
	c := dial(t, s.endpoint, requestor.Options{RedialBackoff: 5 * time.Millisecond, MaxRedialBackoff: 20 * time.Millisecond})
	p := lookupEcho(t, c)
	ctx := ctxT(t)
	s.stop()
	require.Eventually(t, func() bool {
		_, err := p.Echo(ctx, "x")
		return err != nil
	}, wait, time.Millisecond, "a call fails once the server is gone")

	back := startServer(t, s.addr, nil)
	// Wait out the backoff, then let many callers find no connection at
	// once.
	time.Sleep(50 * time.Millisecond)
	const callers = 16
	start := make(chan struct{})
	errs := make(chan error, callers)
	for range callers {
		go func() {
			<-start
			_, err := p.Echo(ctx, "x")
			errs <- err
		}()
	}
	close(start)
	for range callers {
		select {
		case err := <-errs:
			assert.NoError(t, err, "Echo after the server came back")
		case <-time.After(wait):
			t.Fatal("a call did not return")
		}
	}
	// The server may serve a connection's first calls a moment before it
	// counts the connection.
	require.Eventually(t, func() bool { return back.Stats().Connections > 0 }, wait, time.Millisecond, "connections the callers opened")
	assert.Equal(t, 1, back.Stats().Connections, "connections the callers opened")
}

func TestUnixEndpointAndStreams(t *testing.T) {
	path := t.TempDir() + "/echo.sock"
	srv := invoker.NewServer(invoker.Options{})
	_, err := srv.Register("echo", testservice.EchoInvoker(), lifecycle.Static(&testservice.Impl{}))
	require.NoError(t, err)
	lis, err := invoker.Listen("unix://"+path, nil)
	require.NoError(t, err, "Listen(unix)")
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Close()
		<-served
	})

	c := dial(t, "unix://"+path, requestor.Options{Streams: 3})
	assert.Equal(t, "unix://"+path, c.Endpoint(), "Endpoint")
	p := lookupEcho(t, c)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			want := fmt.Sprint(i)
			got, err := p.Echo(ctx, want)
			assert.NoError(t, err, "Echo(%q)", want)
			assert.Equal(t, want, got, "Echo(%q)", want)
		})
	}
	wg.Wait()
}
