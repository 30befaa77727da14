package invoker_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/codegen"
	"github.com/remoting-go/remoting/internal/testservice"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/lifecycle/tally"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const wait = 5 * time.Second

// served is a Server serving on loopback TCP with a testservice.Impl as
// "echo".
type served struct {
	*invoker.Server
	impl     *testservice.Impl
	endpoint string
	serveErr chan error
}

func serve(t *testing.T, opts invoker.Options) *served {
	t.Helper()
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	require.NoError(t, err, "Listen")
	s := &served{Server: invoker.NewServer(opts), impl: &testservice.Impl{}, endpoint: "tcp://" + lis.Addr().String(), serveErr: make(chan error, 1)}
	_, err = s.Register("echo", testservice.EchoInvoker(), lifecycle.Static(s.impl))
	require.NoError(t, err, "Register")
	go func() { s.serveErr <- s.Serve(lis) }()
	t.Cleanup(func() { s.Close() })
	return s
}

// serveReturned waits for Serve's result.
func (s *served) serveReturned(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.serveErr:
		return err
	case <-time.After(wait):
		require.FailNow(t, "Serve did not return")
		return nil
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

func dial(t *testing.T, endpoint string) *requestor.Client {
	t.Helper()
	c, err := requestor.Dial(ctxT(t), endpoint, requestor.Options{})
	require.NoError(t, err, "Dial")
	t.Cleanup(func() { c.Close() })
	return c
}

func echo(t *testing.T, c *requestor.Client) *testservice.EchoProxy {
	t.Helper()
	p, err := testservice.LookupEcho(ctxT(t), c, "echo")
	require.NoError(t, err, "LookupEcho")
	return p
}

func TestRegisterErrors(t *testing.T) {
	srv := invoker.NewServer(invoker.Options{})
	t.Cleanup(func() { srv.Close() })
	_, err := srv.Register("taken", testservice.EchoInvoker(), lifecycle.Static(&testservice.Impl{}))
	require.NoError(t, err, "Register")

	tests := []struct {
		name     string
		register func() (remoting.Ref, error)
		wantCode remoting.Code
	}{
		{"nil invoker", func() (remoting.Ref, error) {
			return srv.Register("a", nil, lifecycle.Static(&testservice.Impl{}))
		}, remoting.CodeInvalidArgument},
		{"incomplete invoker", func() (remoting.Ref, error) {
			return srv.Register("b", &codegen.Invoker{Interface: "x.Y"}, lifecycle.Static(&testservice.Impl{}))
		}, remoting.CodeInvalidArgument},
		{"nil strategy", func() (remoting.Ref, error) {
			return srv.Register("c", testservice.EchoInvoker(), nil)
		}, remoting.CodeInvalidArgument},
		{"instance of another type", func() (remoting.Ref, error) {
			return srv.Register("d", testservice.EchoInvoker(), lifecycle.Static(struct{}{}))
		}, remoting.CodeInvalidArgument},
		{"duplicate name", func() (remoting.Ref, error) {
			return srv.Register("taken", testservice.EchoInvoker(), lifecycle.Static(&testservice.Impl{}))
		}, remoting.CodeInvalidArgument},
		{"RegisterID with the zero id", func() (remoting.Ref, error) {
			return srv.RegisterID(remoting.ObjectID{}, testservice.EchoInvoker(), lifecycle.Static(&testservice.Impl{}))
		}, remoting.CodeInvalidArgument},
		{"RegisterID with a taken id", func() (remoting.Ref, error) {
			return srv.RegisterID(remoting.NameID("taken"), testservice.EchoInvoker(), lifecycle.Static(&testservice.Impl{}))
		}, remoting.CodeInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref, err := tc.register()
			assert.Equal(t, tc.wantCode, remoting.CodeOf(err), "register: %v", err)
			assert.Zero(t, ref, "Ref of a refused registration")
		})
	}
	assert.Equal(t, 1, srv.Stats().Objects, "objects after refused registrations")

	id := remoting.NewObjectID()
	ref, err := srv.RegisterID(id, testservice.EchoInvoker(), lifecycle.Static(&testservice.Impl{}))
	require.NoError(t, err, "RegisterID")
	assert.Equal(t, remoting.Ref{ID: id, Interface: testservice.EchoInterface}, ref, "RegisterID's Ref")
	anon, err := srv.Register("", testservice.EchoInvoker(), lifecycle.Static(&testservice.Impl{}))
	require.NoError(t, err, "Register without a name")
	assert.False(t, anon.ID.IsZero(), "id of an anonymous object")
	assert.NotEqual(t, remoting.NameID(""), anon.ID, "id of an anonymous object")

	require.NoError(t, srv.Close())
	_, err = srv.Register("late", testservice.EchoInvoker(), lifecycle.Static(&testservice.Impl{}))
	assert.ErrorIs(t, err, invoker.ErrServerClosed, "Register after Close")
	assert.ErrorIs(t, srv.Policy(tally.TallyInvoker(), lifecycle.ClientDependent(lifecycle.ClientDependentOptions{})), invoker.ErrServerClosed, "Policy after Close")
}

func TestPolicyErrors(t *testing.T) {
	srv := invoker.NewServer(invoker.Options{})
	t.Cleanup(func() { srv.Close() })
	none := lifecycle.ClientDependent(lifecycle.ClientDependentOptions{})
	require.NoError(t, srv.Policy(tally.TallyInvoker(), none), "Policy")
	assert.Error(t, srv.Policy(tally.TallyInvoker(), none), "Policy for an interface that has one")
	assert.Equal(t, remoting.CodeInvalidArgument, remoting.CodeOf(srv.Policy(&codegen.Invoker{}, none)), "Policy with an incomplete invoker")
	bad := lifecycle.ClientDependent(lifecycle.ClientDependentOptions{TTL: -time.Second})
	assert.Equal(t, remoting.CodeInvalidArgument, remoting.CodeOf(srv.Policy(testservice.EchoInvoker(), bad)), "Policy with a negative TTL")
}

func TestUnregister(t *testing.T) {
	s := serve(t, invoker.Options{})
	c := dial(t, s.endpoint)
	p := echo(t, c)
	ctx := ctxT(t)
	_, err := p.Echo(ctx, "x")
	require.NoError(t, err, "Echo before Unregister")

	require.NoError(t, s.Unregister(ctx, remoting.NameID("echo")), "Unregister")
	_, err = p.Echo(ctx, "x")
	assert.Equal(t, remoting.CodeNotFound, remoting.CodeOf(err), "Echo after Unregister: %v", err)
	_, err = testservice.LookupEcho(ctx, c, "echo")
	assert.Equal(t, remoting.CodeNotFound, remoting.CodeOf(err), "Lookup after Unregister: %v", err)
	err = s.Unregister(ctx, remoting.NameID("echo"))
	assert.Equal(t, remoting.CodeNotFound, remoting.CodeOf(err), "Unregister again: %v", err)

	// The name is free again.
	_, err = s.Register("echo", testservice.EchoInvoker(), lifecycle.Static(s.impl))
	require.NoError(t, err, "Register after Unregister")
	_, err = p.Echo(ctx, "x")
	assert.NoError(t, err, "Echo after registering again")
}

func TestShutdownDrainsCallsInFlight(t *testing.T) {
	s := serve(t, invoker.Options{})
	c := dial(t, s.endpoint)
	p := echo(t, c)
	ctx := ctxT(t)

	entered := s.impl.NotifyEntered(1)
	inFlight := make(chan error, 1)
	go func() { inFlight <- p.Sleep(ctx, 200*time.Millisecond) }()
	select {
	case <-entered:
	case <-time.After(wait):
		t.Fatal("Sleep never started")
	}
	// The lookup's worker may give back its place a moment after its reply.
	require.Eventually(t, func() bool { return s.Stats().Running == 1 }, wait, time.Millisecond, "Running with one call in flight")

	shut := make(chan error, 1)
	start := time.Now()
	go func() { shut <- s.Shutdown(ctx) }()
	require.Eventually(t, s.Draining, wait, time.Millisecond, "Draining after Shutdown began")

	select {
	case err := <-inFlight:
		assert.NoError(t, err, "the call in flight during Shutdown")
	case <-time.After(wait):
		t.Fatal("the call in flight did not return")
	}
	select {
	case err := <-shut:
		assert.NoError(t, err, "Shutdown")
	case <-time.After(wait):
		t.Fatal("Shutdown did not return")
	}
	assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond, "Shutdown returned before the call in flight ended")
	assert.ErrorIs(t, s.serveReturned(t), invoker.ErrServerClosed, "Serve after Shutdown")

	_, err := requestor.Dial(ctx, s.endpoint, requestor.Options{})
	assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err), "Dial after Shutdown: %v", err)
	assert.NoError(t, s.Close(), "Close after Shutdown")
}

func TestShutdownGivesUpWhenItsContextEnds(t *testing.T) {
	s := serve(t, invoker.Options{})
	c := dial(t, s.endpoint)
	p := echo(t, c)
	ctx := ctxT(t)

	entered := s.impl.NotifyEntered(1)
	inFlight := make(chan error, 1)
	go func() { inFlight <- p.Sleep(ctx, time.Minute) }()
	select {
	case <-entered:
	case <-time.After(wait):
		t.Fatal("Sleep never started")
	}

	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, s.Shutdown(short), context.DeadlineExceeded, "Shutdown past its deadline")
	select {
	case err := <-inFlight:
		assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err), "the call cut off by Shutdown: %v", err)
	case <-time.After(wait):
		t.Fatal("the call in flight did not fail")
	}
	require.NoError(t, s.Close(), "Close")
	assert.Equal(t, int64(1), s.impl.Canceled.Load(), "calls that saw their context canceled")
	assert.ErrorIs(t, s.serveReturned(t), invoker.ErrServerClosed, "Serve after Shutdown")
}

func TestClose(t *testing.T) {
	s := serve(t, invoker.Options{})
	c := dial(t, s.endpoint)
	p := echo(t, c)
	_, err := p.Echo(ctxT(t), "x")
	require.NoError(t, err)

	require.NoError(t, s.Close(), "Close")
	require.NoError(t, s.Close(), "second Close")
	assert.True(t, s.Draining(), "Draining after Close")
	assert.ErrorIs(t, s.serveReturned(t), invoker.ErrServerClosed, "Serve after Close")
	_, err = p.Echo(ctxT(t), "x")
	assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err), "Echo after the server closed: %v", err)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	assert.ErrorIs(t, s.Serve(lis), invoker.ErrServerClosed, "Serve on a closed server")
	_, err = lis.Accept()
	assert.Error(t, err, "Accept on the listener a closed server was given")
	assert.NoError(t, s.Shutdown(ctxT(t)), "Shutdown after Close")
}

func TestStats(t *testing.T) {
	s := serve(t, invoker.Options{})
	before := s.Stats()
	assert.Equal(t, invoker.Stats{Objects: 1}, before, "Stats before any connection")

	c := dial(t, s.endpoint)
	p := echo(t, c) // one reply
	ctx := ctxT(t)
	for range 3 {
		_, err := p.Echo(ctx, "x")
		require.NoError(t, err)
	}
	assert.Error(t, p.Fail(ctx, int(remoting.CodeNotFound), "no"))
	require.NoError(t, p.SyncWithServer().Echo(ctx, "x"))
	require.NoError(t, p.Oneway().Echo(ctx, "x"))
	_, err := p.Count(ctx) // after the oneway call on the same stream
	require.NoError(t, err)

	require.Eventually(t, func() bool { return s.Stats().Running == 0 }, wait, time.Millisecond)
	got := s.Stats()
	assert.Equal(t, invoker.Stats{Connections: 1, Objects: 1, Replies: 5, Errors: 1, Acks: 1}, got, "Stats after the calls")

	// The counts of a connection that ended are kept.
	require.NoError(t, c.Close())
	require.Eventually(t, func() bool { return s.Stats().Connections == 0 }, wait, time.Millisecond, "Connections after the client closed")
	got.Connections = 0
	assert.Equal(t, got, s.Stats(), "Stats after the client closed")
}

func TestObjects(t *testing.T) {
	s := serve(t, invoker.Options{})
	tr := &tally.Tracker{}
	newTally := func(context.Context) (*tally.Counter, error) { return tr.New(context.Background()) }
	_, err := s.Register("lazy", tally.TallyInvoker(), lifecycle.Lazy(newTally))
	require.NoError(t, err)
	_, err = s.Register("perrequest", tally.TallyInvoker(), lifecycle.PerRequest(newTally))
	require.NoError(t, err)
	_, err = s.Register("pooled", tally.TallyInvoker(), lifecycle.Pooled(newTally, lifecycle.PoolOptions{Max: 2}))
	require.NoError(t, err)
	_, err = s.Register("maker", tally.MakerInvoker(), lifecycle.Static(tr.Maker()))
	require.NoError(t, err)
	require.NoError(t, s.Policy(tally.TallyInvoker(), lifecycle.ClientDependent(lifecycle.ClientDependentOptions{})))

	c := dial(t, s.endpoint)
	m, err := tally.LookupMaker(ctxT(t), c, "maker")
	require.NoError(t, err)
	_, err = m.NewTally(ctxT(t), 1)
	require.NoError(t, err, "NewTally")

	type row struct{ Name, Interface, Strategy string }
	var rows []row
	var made []invoker.ObjectInfo
	for _, o := range s.Objects() {
		if o.Name == "" {
			made = append(made, o)
			continue
		}
		rows = append(rows, row{o.Name, o.Interface, o.Strategy})
		assert.Equal(t, remoting.NameID(o.Name), o.ID, "id of %q", o.Name)
		assert.Zero(t, o.Owner, "owner of %q", o.Name)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	assert.Equal(t, []row{
		{"echo", testservice.EchoInterface, "static"},
		{"lazy", tally.TallyInterface, "lazy"},
		{"maker", tally.MakerInterface, "static"},
		{"perrequest", tally.TallyInterface, "perrequest"},
		{"pooled", tally.TallyInterface, "pooled"},
	}, rows, "Objects, named")
	require.Len(t, made, 1, "objects a factory made")
	assert.Equal(t, tally.TallyInterface, made[0].Interface, "interface of the object a factory made")
	assert.False(t, made[0].Owner.IsZero(), "owner of the object a factory made")
	assert.Equal(t, 6, s.Stats().Objects, "Stats().Objects")
}

func TestObjectsNamesTheClientDependentStrategy(t *testing.T) {
	s := serve(t, invoker.Options{})
	_, err := s.Register("maker", tally.MakerInvoker(), lifecycle.Static((&tally.Tracker{}).Maker()))
	require.NoError(t, err)
	require.NoError(t, s.Policy(tally.TallyInvoker(), lifecycle.ClientDependent(lifecycle.ClientDependentOptions{})))
	c := dial(t, s.endpoint)
	m, err := tally.LookupMaker(ctxT(t), c, "maker")
	require.NoError(t, err)
	_, err = m.NewTally(ctxT(t), 1)
	require.NoError(t, err, "NewTally")
	for _, o := range s.Objects() {
		if o.Interface == tally.TallyInterface {
			assert.Equal(t, "clientdependent", o.Strategy, "ObjectInfo.Strategy of the object NewTally made")
		}
	}
}

func TestMaxConcurrentCalls(t *testing.T) {
	const limit, calls = 2, 5
	s := serve(t, invoker.Options{MaxConcurrentCalls: limit})
	c := dial(t, s.endpoint)
	p := echo(t, c)
	ctx := ctxT(t)
	entered := s.impl.NotifyEntered(calls)
	errc := make(chan error, calls)
	for range calls {
		go func() { errc <- p.Sleep(ctx, 150*time.Millisecond) }()
	}
	require.Eventually(t, func() bool { return len(entered) == limit }, wait, time.Millisecond, "calls running")
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, limit, len(entered), "calls started while the limit is reached")
	assert.Equal(t, int64(limit), s.Stats().Running, "Running at the limit")
	for range calls {
		select {
		case err := <-errc:
			assert.NoError(t, err, "Sleep")
		case <-time.After(wait):
			t.Fatal("a call did not return")
		}
	}
}

func TestListenErrors(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
		config   *tls.Config
	}{
		{"unknown network", "udp://127.0.0.1:0", nil},
		{"tls without config", "tls://127.0.0.1:0", nil},
		{"config for tcp", "tcp://127.0.0.1:0", &tls.Config{}},
		{"address in use", "", nil},
	}
	inUse, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { inUse.Close() })
	tests[3].endpoint = "tcp://" + inUse.Addr().String()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lis, err := invoker.Listen(tc.endpoint, tc.config)
			if !assert.Error(t, err, "Listen(%q)", tc.endpoint) {
				lis.Close()
			}
		})
	}
}

func TestPanicIsInternalAndTheServerGoesOn(t *testing.T) {
	s := serve(t, invoker.Options{})
	c := dial(t, s.endpoint)
	p := echo(t, c)
	ctx := ctxT(t)
	err := p.Panic(ctx)
	var re *remoting.Error
	require.True(t, errors.As(err, &re), "Panic: %v", err)
	assert.Equal(t, remoting.CodeInternal, re.Code, "Panic")
	got, err := p.Echo(ctx, "after")
	require.NoError(t, err, "Echo after a panic")
	assert.Equal(t, "after", got, "Echo after a panic")
}

func TestRefusedCallActivatesNothing(t *testing.T) {
	var made atomic.Int64
	counts := &remoting.EventCounts{}
	s := serve(t, invoker.Options{Observers: []remoting.Observer{counts}})
	_, err := s.Register("lazy", testservice.EchoInvoker(), lifecycle.Lazy(func(context.Context) (*testservice.Impl, error) {
		made.Add(1)
		return &testservice.Impl{}, nil
	}))
	require.NoError(t, err)
	s.SetInterceptors(func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		if inv.Method == "Echo.Count" {
			return remoting.Errorf(remoting.CodePermissionDenied, "counting is not allowed")
		}
		return next(ctx, inv)
	})
	c := dial(t, s.endpoint)
	p, err := testservice.LookupEcho(ctxT(t), c, "lazy")
	require.NoError(t, err)
	ctx := ctxT(t)
	// The static "echo" of serve was activated when it was registered.
	activations := func() uint64 { return counts.Get(testservice.EchoInterface, remoting.EventActivated) - 1 }

	_, err = p.Count(ctx)
	assert.Equal(t, remoting.CodePermissionDenied, remoting.CodeOf(err), "Count refused by the server's chain: %v", err)
	assert.Zero(t, made.Load(), "instances made for a refused call")
	assert.Zero(t, activations(), "activations for a refused call")

	_, err = p.Echo(ctx, "x")
	require.NoError(t, err, "Echo let through")
	assert.Equal(t, int64(1), made.Load(), "instances made once a call is let through")
	assert.Equal(t, uint64(1), activations(), "activations once a call is let through")
}

func TestServeSeveralListeners(t *testing.T) {
	srv := invoker.NewServer(invoker.Options{})
	_, err := srv.Register("echo", testservice.EchoInvoker(), lifecycle.Static(&testservice.Impl{}))
	require.NoError(t, err)
	var endpoints []string
	serveErrs := make(chan error, 2)
	for range 2 {
		lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
		require.NoError(t, err)
		endpoints = append(endpoints, "tcp://"+lis.Addr().String())
		go func() { serveErrs <- srv.Serve(lis) }()
	}
	t.Cleanup(func() { srv.Close() })
	for _, ep := range endpoints {
		got, err := echo(t, dial(t, ep)).Echo(ctxT(t), ep)
		require.NoError(t, err, "Echo through %s", ep)
		assert.Equal(t, ep, got, "Echo through %s", ep)
	}
	assert.Equal(t, 2, srv.Stats().Connections, "Connections")
	require.NoError(t, srv.Shutdown(ctxT(t)), "Shutdown")
	for range 2 {
		select {
		case err := <-serveErrs:
			assert.ErrorIs(t, err, invoker.ErrServerClosed, "Serve after Shutdown")
		case <-time.After(wait):
			t.Fatal("Serve did not return")
		}
	}
}

// pipeTo returns a client of s over a net.Pipe that s serves with
// ServeConn, and the channel ServeConn's result arrives on.
func pipeTo(t *testing.T, s *invoker.Server) (*requestor.Client, <-chan error) {
	t.Helper()
	served := make(chan error, 1)
	c, err := requestor.Dial(ctxT(t), "tcp://in-process", requestor.Options{
		Dialer: func(context.Context, string, string) (net.Conn, error) {
			client, server := net.Pipe()
			go func() { served <- s.ServeConn(server) }()
			return client, nil
		},
	})
	require.NoError(t, err, "Dial over a pipe")
	t.Cleanup(func() { c.Close() })
	return c, served
}

func TestServeConn(t *testing.T) {
	s := serve(t, invoker.Options{})
	c, served := pipeTo(t, s.Server)
	got, err := echo(t, c).Echo(ctxT(t), "piped")
	require.NoError(t, err, "Echo over a pipe")
	assert.Equal(t, "piped", got, "Echo over a pipe")
	require.Eventually(t, func() bool { return s.Stats().Connections == 1 }, wait, time.Millisecond, "Connections with a piped client")

	require.NoError(t, c.Close(), "Close the client")
	select {
	case err := <-served:
		assert.NoError(t, err, "ServeConn once its client hung up")
	case <-time.After(wait):
		t.Fatal("ServeConn did not return after its client hung up")
	}
	require.Eventually(t, func() bool { return s.Stats().Connections == 0 }, wait, time.Millisecond, "Connections after the piped client hung up")
}

func TestServeConnRefusals(t *testing.T) {
	t.Run("over MaxConnections", func(t *testing.T) {
		s := serve(t, invoker.Options{MaxConnections: 1})
		pipeTo(t, s.Server)
		client, server := net.Pipe()
		dialed := make(chan error, 1)
		go func() {
			_, err := requestor.Dial(ctxT(t), "tcp://in-process", requestor.Options{
				Dialer: func(context.Context, string, string) (net.Conn, error) { return client, nil },
			})
			dialed <- err
		}()
		err := s.ServeConn(server)
		assert.Equal(t, remoting.CodeResourceExhausted, remoting.CodeOf(err), "ServeConn past MaxConnections: %v", err)
		select {
		case err := <-dialed:
			assert.Contains(t, errString(err), "its limit", "Dial refused past MaxConnections")
		case <-time.After(wait):
			t.Fatal("Dial did not return")
		}
	})
	t.Run("not this protocol", func(t *testing.T) {
		s := serve(t, invoker.Options{HandshakeTimeout: time.Second})
		client, server := net.Pipe()
		defer client.Close()
		go func() {
			client.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
			io.Copy(io.Discard, client)
		}()
		err := s.ServeConn(server)
		assert.ErrorContains(t, err, "invoker: serve connection from pipe", "ServeConn of a peer that does not speak the protocol")
		assert.NotErrorIs(t, err, invoker.ErrServerClosed, "ServeConn of a peer that does not speak the protocol")
		assert.Zero(t, s.Stats().Connections, "Connections after a failed handshake")
	})
	t.Run("after Shutdown", func(t *testing.T) {
		s := serve(t, invoker.Options{})
		require.NoError(t, s.Shutdown(ctxT(t)), "Shutdown")
		client, server := net.Pipe()
		defer client.Close()
		assert.ErrorIs(t, s.ServeConn(server), invoker.ErrServerClosed, "ServeConn after Shutdown")
		_, err := client.Read(make([]byte, 1))
		assert.ErrorIs(t, err, io.EOF, "reading a pipe ServeConn refused")
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
