package integration

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/wire"

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

// logBuffer collects log output for assertions; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// rawPeer speaks the protocol by hand, to send what a correct client never
// would.
type rawPeer struct {
	nc    net.Conn
	mux   *yamux.Session
	ctl   *yamux.Stream
	calls *yamux.Stream

	ctlReader *wire.Reader // frames the server sent on the control stream
}

// rawDial connects and sends a Hello with the given version; it returns
// the peer and the first frame the server answered with.
func rawDial(t *testing.T, endpoint string, version uint32) (*rawPeer, wire.Frame) {
	t.Helper()
	body, err := wire.Marshal(&wire.Hello{Magic: wire.Magic, Version: version, MaxFrameSize: wire.DefaultMaxFrameSize})
	require.NoError(t, err)
	return rawHello(t, endpoint, nil, wire.AppendFrame([]byte{byte(wire.StreamControl)}, &wire.Frame{Kind: wire.KindHello, Body: body}))
}

// rawHello connects and writes hello, as given, on the first stream. wrap,
// if not nil, wraps the connection under the peer's yamux session. It
// returns the peer and the first frame the server answered with.
func rawHello(t *testing.T, endpoint string, wrap func(net.Conn) net.Conn, hello []byte) (*rawPeer, wire.Frame) {
	t.Helper()
	_, addr, err := remoting.ParseEndpoint(endpoint)
	require.NoError(t, err)
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	under := nc
	if wrap != nil {
		under = wrap(nc)
	}
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	mux, err := yamux.Client(under, cfg)
	require.NoError(t, err)
	p := &rawPeer{nc: nc, mux: mux}
	t.Cleanup(func() { mux.Close() })
	p.ctl, err = mux.OpenStream()
	require.NoError(t, err)
	_, err = p.ctl.Write(hello)
	require.NoError(t, err, "writing the hello")
	p.ctl.SetReadDeadline(time.Now().Add(5 * time.Second))
	p.ctlReader = wire.NewReader(p.ctl, 0)
	f, err := p.ctlReader.ReadFrame()
	require.NoError(t, err, "reading the server's answer to the hello")
	return p, f
}

// openCalls opens a call stream and returns it.
func (p *rawPeer) openCalls(t *testing.T) {
	t.Helper()
	var err error
	p.calls, err = p.mux.OpenStream()
	require.NoError(t, err)
	_, err = p.calls.Write([]byte{byte(wire.StreamCalls)})
	require.NoError(t, err)
}

// waitClosed waits until the server has closed the raw peer's session.
func (p *rawPeer) waitClosed(t *testing.T) {
	t.Helper()
	select {
	case <-p.mux.CloseChan():
	case <-time.After(5 * time.Second):
		t.Fatal("server did not close the connection")
	}
}

// fakeConn is the server end of a connection accepted by fakeServer.
type fakeConn struct {
	t   *testing.T
	nc  net.Conn
	mux *yamux.Session
	ctl *yamux.Stream
}

// welcome answers the client's Hello with a Welcome of the given version.
func (p *fakeConn) welcome(version uint32) {
	var err error
	p.mux, err = yamux.Server(p.nc, quietYamux())
	if err != nil {
		return
	}
	p.ctl, err = p.mux.AcceptStream()
	if err != nil {
		return
	}
	var typ [1]byte
	if _, err := io.ReadFull(p.ctl, typ[:]); err != nil {
		return
	}
	if _, err := wire.NewReader(p.ctl, 0).ReadFrame(); err != nil {
		return
	}
	body, _ := wire.Marshal(&wire.Hello{Magic: wire.Magic, Version: version, MaxFrameSize: wire.DefaultMaxFrameSize})
	p.ctl.Write(wire.AppendFrame(nil, &wire.Frame{Kind: wire.KindWelcome, Body: body}))
}

func quietYamux() *yamux.Config {
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	return cfg
}

// fakeServer accepts connections on loopback and hands each to fn; it
// returns the address.
func fakeServer(t *testing.T, fn func(*fakeConn)) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []*fakeConn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := lis.Accept()
			if err != nil {
				return
			}
			p := &fakeConn{t: t, nc: nc}
			mu.Lock()
			conns = append(conns, p)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				fn(p)
			}()
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		mu.Lock()
		for _, p := range conns {
			if p.mux != nil {
				p.mux.Close()
			}
			p.nc.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return lis.Addr().String()
}

// relay forwards TCP between a client and a target until cut or frozen,
// to play a network that breaks.
type relay struct {
	lis    net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	frozen bool
	wg     sync.WaitGroup
}

func newRelay(t *testing.T, target string) *relay {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r := &relay{lis: lis, target: target}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(func() {
		lis.Close()
		r.cut()
		r.wg.Wait()
	})
	return r
}

func (r *relay) endpoint() string { return "tcp://" + r.lis.Addr().String() }

func (r *relay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.lis.Accept()
		if err != nil {
			return
		}
		_, addr, _ := remoting.ParseEndpoint(r.target)
		s, err := net.Dial("tcp", addr)
		if err != nil {
			c.Close()
			continue
		}
		r.mu.Lock()
		r.conns = append(r.conns, c, s)
		r.mu.Unlock()
		r.wg.Add(2)
		go r.pipe(c, s)
		go r.pipe(s, c)
	}
}

func (r *relay) pipe(dst, src net.Conn) {
	defer r.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			dst.Close()
			return
		}
		r.mu.Lock()
		frozen := r.frozen
		r.mu.Unlock()
		if frozen {
			continue // the network swallows everything, and says nothing
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			src.Close()
			return
		}
	}
}

// cut closes every relayed connection (a peer that is gone).
func (r *relay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

// freeze drops all traffic from now on without closing anything (a peer
// that vanished without a word).
func (r *relay) freeze() {
	r.mu.Lock()
	r.frozen = true
	r.mu.Unlock()
}
