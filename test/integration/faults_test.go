package integration

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/testservice"
	"github.com/remoting-go/remoting/internal/wire"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/requestor"
)

// A healthy client keeps working while another connection is closed for
// sending garbage.
func TestMalformedInputClosesOnlyThatConnection(t *testing.T) {
	cases := []struct {
		name    string
		garbage func(p *rawPeer) error
		logged  string
	}{
		{"unknown frame kind", func(p *rawPeer) error {
			_, err := p.calls.Write([]byte{0, 0, 0, 3, 0xEE, 0, 1})
			return err
		}, "unknown frame kind"},
		{"truncated header", func(p *rawPeer) error {
			_, err := p.calls.Write([]byte{0, 0, 0, 2, byte(wire.KindRequest), 0})
			return err
		}, "malformed"},
		{"truncated frame then end of stream", func(p *rawPeer) error {
			if _, err := p.calls.Write([]byte{0, 0, 0, 100, byte(wire.KindRequest), 0, 1}); err != nil {
				return err
			}
			return p.calls.Close()
		}, "truncated frame"},
		{"request string longer than frame", func(p *rawPeer) error {
			f := []byte{0, 0, 0, 0, byte(wire.KindRequest), 0, 1}
			f = append(f, make([]byte, 16)...)
			f = binary.AppendUvarint(f, 1<<20) // method length
			binary.BigEndian.PutUint32(f, uint32(len(f)-4))
			_, err := p.calls.Write(f)
			return err
		}, "exceeds frame"},
		{"reply kind on a call stream", func(p *rawPeer) error {
			_, err := p.calls.Write(wire.AppendFrame(nil, &wire.Frame{Kind: wire.KindReply, ID: 1}))
			return err
		}, "unexpected frame"},
		{"frame over the size limit", func(p *rawPeer) error {
			_, err := p.calls.Write([]byte{0x7f, 0xff, 0xff, 0xff})
			return err
		}, "frame too large"},
		{"garbage bytes under yamux", func(p *rawPeer) error {
			_, err := p.nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
			return err
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs logBuffer
			s := startServer(t, invoker.Options{Logger: logs.logger(), MaxFrameSize: 64 << 10})
			good := lookup(t, dial(t, s.endpoint, requestor.Options{}))

			p, welcome := rawDial(t, s.endpoint, wire.ProtocolVersion)
			require.Equal(t, wire.KindWelcome, welcome.Kind)
			p.openCalls(t)
			// The server may hang up before the write completes; what
			// matters is that it does hang up.
			_ = tc.garbage(p)
			p.waitClosed(t)

			got, err := good.Echo(ctxT(t), "still here")
			require.NoError(t, err, "Echo on a healthy connection")
			assert.Equal(t, "still here", got)
			if tc.logged != "" {
				assert.Eventually(t, func() bool { return contains(logs.String(), tc.logged) }, 5*time.Second, 10*time.Millisecond, "log should say %q; got:\n%s", tc.logged, logs.String())
			}
		})
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestRequestOverServerLimitRefusedBeforeSending(t *testing.T) {
	s := startServer(t, invoker.Options{MaxFrameSize: 16 << 10})
	p := lookup(t, dial(t, s.endpoint, requestor.Options{}))
	_, err := p.Round(ctxT(t), testservice.Payload{Data: make([]byte, 32<<10)})
	require.Error(t, err)
	assert.ErrorIs(t, err, remoting.ErrResourceExhausted, "Round with 32 KiB under a 16 KiB limit: %v", err)
	assert.Equal(t, int64(1), mustCount(t, p), "the connection stays usable and the oversized call never ran")
}

func TestReplyOverClientLimit(t *testing.T) {
	s := startServer(t, invoker.Options{})
	p := lookup(t, dial(t, s.endpoint, requestor.Options{MaxFrameSize: 16 << 10}))
	_, err := p.Blob(ctxT(t), 64<<10)
	assert.ErrorIs(t, err, remoting.ErrResourceExhausted, "Blob(64 KiB) under a 16 KiB client limit: %v", err)
	b, err := p.Blob(ctxT(t), 1<<10)
	require.NoError(t, err)
	assert.Len(t, b, 1<<10)
}

func mustCount(t *testing.T, p *testservice.EchoProxy) int64 {
	t.Helper()
	n, err := p.Count(ctxT(t))
	require.NoError(t, err)
	return n
}

func TestNotFound(t *testing.T) {
	s := startServer(t, invoker.Options{})
	c := dial(t, s.endpoint, requestor.Options{})
	ctx := ctxT(t)

	_, err := testservice.LookupEcho(ctx, c, "nobody")
	assert.ErrorIs(t, err, remoting.ErrNotFound, "Lookup of an unknown name")
	assert.ErrorContains(t, err, `"nobody"`)

	missing := remoting.NewObjectID()
	_, err = testservice.NewEchoProxy(c, remoting.Ref{ID: missing, Interface: testservice.EchoInterface}).Echo(ctx, "x")
	assert.ErrorIs(t, err, remoting.ErrNotFound, "call to an unknown object")
	assert.ErrorContains(t, err, missing.String())

	ref := lookup(t, c).Ref()
	err = c.Invoke(ctx, &remoting.Invocation{Target: ref, Method: "Echo.Nope", Args: &struct{}{}})
	assert.ErrorIs(t, err, remoting.ErrNotFound, "call to an unknown method")
	assert.ErrorContains(t, err, "Echo.Nope")
}

func TestInvalidArguments(t *testing.T) {
	s := startServer(t, invoker.Options{})
	c := dial(t, s.endpoint, requestor.Options{})
	ref := lookup(t, c).Ref()
	ctx := ctxT(t)

	type tooMany struct {
		_    struct{} `cbor:",toarray"`
		A, B string
	}
	type wrongType struct {
		_ struct{} `cbor:",toarray"`
		N int
	}
	cases := []struct {
		name string
		args any
	}{
		{"too many arguments", &tooMany{A: "a", B: "b"}},
		{"no arguments", &struct {
			_ struct{} `cbor:",toarray"`
		}{}},
		{"wrong type", &wrongType{N: 3}},
		{"not an array", &map[string]string{"s": "x"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var reply struct {
				_  struct{} `cbor:",toarray"`
				R0 string
			}
			err := c.Invoke(ctx, &remoting.Invocation{Target: ref, Method: "Echo.Echo", Args: tc.args, Reply: &reply})
			assert.ErrorIs(t, err, remoting.ErrInvalidArgument, "Echo.Echo(%T): %v", tc.args, err)
		})
	}
	got, err := testservice.NewEchoProxy(c, ref).Echo(ctx, "ok")
	require.NoError(t, err)
	assert.Equal(t, "ok", got)
}

func TestPanicIsInternalAndServerKeepsServing(t *testing.T) {
	var logs logBuffer
	s := startServer(t, invoker.Options{Logger: logs.logger()})
	p := lookup(t, dial(t, s.endpoint, requestor.Options{}))
	err := p.Panic(ctxT(t))
	assert.ErrorIs(t, err, remoting.ErrInternal)
	assert.ErrorContains(t, err, "deliberate panic")
	assert.Contains(t, logs.String(), "panic in remote method")
	got, err := p.Echo(ctxT(t), "after")
	require.NoError(t, err)
	assert.Equal(t, "after", got)
}

func TestApplicationErrors(t *testing.T) {
	s := startServer(t, invoker.Options{})
	p := lookup(t, dial(t, s.endpoint, requestor.Options{}))
	ctx := ctxT(t)

	err := p.Fail(ctx, 0, "out of stock")
	assert.ErrorIs(t, err, remoting.ErrApplication)
	assert.Equal(t, remoting.CodeApplication, remoting.CodeOf(err))
	assert.ErrorContains(t, err, "out of stock")

	err = p.Fail(ctx, -1, "")
	var q *testservice.QuotaError
	require.ErrorAs(t, err, &q, "registered error type arrives as itself")
	assert.Equal(t, testservice.QuotaError{Limit: 10, Used: 11}, *q)
	assert.ErrorIs(t, err, remoting.ErrApplication)
	assert.ErrorContains(t, err, "wrapped: quota 11/10 used")

	err = p.Fail(ctx, int(remoting.CodePermissionDenied), "not yours")
	assert.ErrorIs(t, err, remoting.ErrPermissionDenied, "a remoting code chosen by user code crosses the wire")
}

func TestDeadlineAndCancelReachTheServer(t *testing.T) {
	s := startServer(t, invoker.Options{})
	p := lookup(t, dial(t, s.endpoint, requestor.Options{}))

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.Sleep(ctx, time.Minute)
	assert.ErrorIs(t, err, remoting.ErrDeadlineExceeded)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the context's own error is kept")
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Eventually(t, func() bool { return s.impl.Canceled.Load() == 1 }, 5*time.Second, 5*time.Millisecond, "server-side ctx ended by the deadline")

	s.impl.NotifyEntered(1)
	ctx, cancel = context.WithCancel(context.Background())
	go func() {
		<-s.impl.Entered()
		cancel()
	}()
	err = p.Sleep(ctx, time.Minute)
	assert.ErrorIs(t, err, remoting.ErrCanceled)
	assert.Eventually(t, func() bool { return s.impl.Canceled.Load() == 2 }, 5*time.Second, 5*time.Millisecond, "server-side ctx canceled by the cancel frame")

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, p.Sleep(ctx, time.Minute), remoting.ErrCanceled, "a call with a dead context is not sent")
}

// helloFrame is a control-stream preface and one frame of kind k and body.
func helloFrame(k wire.Kind, body []byte) []byte {
	return wire.AppendFrame([]byte{byte(wire.StreamControl)}, &wire.Frame{Kind: k, Body: body})
}

func helloBody(t *testing.T, h wire.Hello) []byte {
	body, err := wire.Marshal(&h)
	require.NoError(t, err)
	return body
}

// Every hello the server refuses is answered with an error frame that
// says why, then the end of the stream, then the end of the connection, in
// that order, however fast or slow the peer reads: the refusal must never
// be lost to a reset.
func TestRefusedHelloReachesThePeer(t *testing.T) {
	cases := []struct {
		name  string
		hello func(t *testing.T) []byte
		why   string
	}{
		{"protocol version mismatch", func(t *testing.T) []byte {
			return helloFrame(wire.KindHello, helloBody(t, wire.Hello{Magic: wire.Magic, Version: wire.ProtocolVersion + 1, MaxFrameSize: wire.DefaultMaxFrameSize}))
		}, "protocol version mismatch"},
		{"another protocol's magic", func(t *testing.T) []byte {
			return helloFrame(wire.KindHello, helloBody(t, wire.Hello{Magic: "grpc", Version: wire.ProtocolVersion}))
		}, "does not speak this protocol"},
		{"hello that is not CBOR", func(t *testing.T) []byte {
			return helloFrame(wire.KindHello, []byte{0xff, 0x00, 0x13})
		}, "bad hello"},
		{"another frame instead of hello", func(t *testing.T) []byte {
			return helloFrame(wire.KindPing, nil)
		}, "instead of hello"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs logBuffer
			s := startServer(t, invoker.Options{Logger: logs.logger()})
			p, f := rawHello(t, s.endpoint, nil, tc.hello(t))
			require.Equal(t, wire.KindError, f.Kind, "the server answers a refused hello with an error frame")
			e := wire.DecodeError(f.Body)
			assert.Equal(t, remoting.CodeFailedPrecondition, e.Code, "refusal code: %s", e.Message)
			assert.Contains(t, e.Message, tc.why)
			_, err := p.ctlReader.ReadFrame()
			assert.ErrorIs(t, err, io.EOF, "after the refusal the server ends the stream")
			p.mux.Close() // hang up, as a client does once refused
			assert.Eventually(t, func() bool { return contains(logs.String(), "connection refused") }, 5*time.Second, 5*time.Millisecond, "the server lets go of the connection once the peer hung up; log: %s", logs.String())
			assert.Contains(t, logs.String(), tc.why)
		})
	}
}

// TestProtocolVersionMismatch is the refusal a client of another version
// meets; TestRefusedHelloReachesThePeer covers every refusal.
func TestProtocolVersionMismatch(t *testing.T) {
	var logs logBuffer
	s := startServer(t, invoker.Options{Logger: logs.logger()})
	p, f := rawDial(t, s.endpoint, wire.ProtocolVersion+1)
	require.Equal(t, wire.KindError, f.Kind, "the server answers a wrong version with an error frame")
	e := wire.DecodeError(f.Body)
	assert.Contains(t, e.Message, "protocol version mismatch")
	p.mux.Close()
	assert.Eventually(t, func() bool { return contains(logs.String(), "protocol version mismatch") }, 5*time.Second, 10*time.Millisecond, "server log: %s", logs.String())
}

// neverHangsUp hides the end of the stream from the yamux session above
// it, so that the peer, once refused, keeps its connection open.
type neverHangsUp struct {
	net.Conn
	closed chan struct{}
	once   sync.Once
}

func (c *neverHangsUp) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if errors.Is(err, io.EOF) {
		<-c.closed
	}
	return n, err
}

func (c *neverHangsUp) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// A refused peer that never hangs up holds the server's connection for a
// short bounded time only, not until the handshake timeout or forever.
func TestRefusedPeerThatStaysIsCutOff(t *testing.T) {
	var logs logBuffer
	s := startServer(t, invoker.Options{Logger: logs.logger(), HandshakeTimeout: time.Minute})
	start := time.Now()
	wrap := func(nc net.Conn) net.Conn { return &neverHangsUp{Conn: nc, closed: make(chan struct{})} }
	_, f := rawHello(t, s.endpoint, wrap, helloFrame(wire.KindHello, helloBody(t, wire.Hello{Magic: wire.Magic, Version: wire.ProtocolVersion + 1})))
	require.Equal(t, wire.KindError, f.Kind)
	require.Eventually(t, func() bool { return contains(logs.String(), "connection refused") }, 5*time.Second, 5*time.Millisecond, "the server lets go of the refused connection")
	assert.Less(t, time.Since(start), 3*time.Second, "held for at most the linger time")
	assert.Eventually(t, func() bool { return s.Stats().Connections == 0 }, 5*time.Second, 5*time.Millisecond)
}

func TestDialRefusesServerOfAnotherVersion(t *testing.T) {
	lis := fakeServer(t, func(p *fakeConn) {
		p.welcome(wire.ProtocolVersion + 1)
	})
	_, err := requestor.Dial(ctxT(t), "tcp://"+lis, requestor.Options{})
	require.Error(t, err)
	assert.ErrorIs(t, err, remoting.ErrUnavailable)
	assert.ErrorContains(t, err, "protocol version mismatch")
}

func TestDialNonServer(t *testing.T) {
	lis := fakeServer(t, func(p *fakeConn) { p.nc.Write([]byte("SSH-2.0-OpenSSH\r\n")) })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := requestor.Dial(ctx, "tcp://"+lis, requestor.Options{})
	assert.ErrorIs(t, err, remoting.ErrUnavailable)
}

func TestLookupOfWrongInterface(t *testing.T) {
	s := startServer(t, invoker.Options{})
	c := dial(t, s.endpoint, requestor.Options{})
	_, err := c.Lookup(ctxT(t), "echo", "example.com/other.Thing")
	assert.ErrorIs(t, err, remoting.ErrInvalidArgument)
	assert.ErrorContains(t, err, testservice.EchoInterface)
}

func TestRefForAnotherEndpoint(t *testing.T) {
	s := startServer(t, invoker.Options{})
	c := dial(t, s.endpoint, requestor.Options{})
	ref := lookup(t, c).Ref()
	ref.Endpoint = "tcp://192.0.2.1:1"
	_, err := testservice.NewEchoProxy(c, ref).Echo(ctxT(t), "x")
	assert.ErrorIs(t, err, remoting.ErrInvalidArgument)
}

func TestErrorsAreTyped(t *testing.T) {
	err := remoting.Errorf(remoting.CodeNotFound, "x %w", errors.New("inner"))
	assert.ErrorIs(t, err, remoting.ErrNotFound)
	assert.NotErrorIs(t, err, remoting.ErrInternal)
}
