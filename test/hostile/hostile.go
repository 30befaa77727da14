package hostile

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/testservice"
	"github.com/remoting-go/remoting/internal/wire"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
)

// Target is a server on loopback TCP that serves a testservice.Impl
// named "echo".
type Target struct {
	*invoker.Server
	Impl     *testservice.Impl
	Addr     string // host:port
	Endpoint string // tcp://host:port
	Log      *LogBuffer
	served   chan error
}

// Serve starts a Target with opts; its Logger, if not set, writes to
// Target.Log. t.Cleanup closes it and checks that Serve returned.
func Serve(t testing.TB, opts invoker.Options) *Target {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return ServeOn(t, lis, opts)
}

// ServeOn is Serve on a listener of the caller's.
func ServeOn(t testing.TB, lis net.Listener, opts invoker.Options) *Target {
	t.Helper()
	lb := &LogBuffer{}
	if opts.Logger == nil {
		opts.Logger = lb.Logger()
	}
	s := &Target{Server: invoker.NewServer(opts), Impl: &testservice.Impl{}, Addr: lis.Addr().String(), Log: lb, served: make(chan error, 1)}
	s.Endpoint = "tcp://" + s.Addr
	if _, err := s.Register("echo", testservice.EchoInvoker(), lifecycle.Static(s.Impl)); err != nil {
		t.Fatalf("register: %v", err)
	}
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

// Served is sent Serve's result when it returns.
func (s *Target) Served() <-chan error { return s.served }

// LogBuffer collects log output; it is safe for concurrent use.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns what was logged so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Logger returns a debug-level logger that writes to l.
func (l *LogBuffer) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Good is a well-behaved client that calls its target every Interval
// until Stop.
type Good struct {
	t      testing.TB
	client *requestor.Client
	stop   chan struct{}
	done   chan struct{}
	ok     atomic.Int64
	mu     sync.Mutex
	errs   []error
}

// Interval is how often a Good client calls.
const Interval = 20 * time.Millisecond

// Behave dials endpoint and starts calling Echo.Echo every Interval, each
// call with a timeout of callTimeout. t.Cleanup stops it.
func Behave(t testing.TB, endpoint string, callTimeout time.Duration) *Good {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := requestor.Dial(ctx, endpoint, requestor.Options{})
	if err != nil {
		t.Fatalf("good client: dial: %v", err)
	}
	p, err := testservice.LookupEcho(ctx, c, "echo")
	if err != nil {
		c.Close()
		t.Fatalf("good client: lookup: %v", err)
	}
	g := &Good{t: t, client: c, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(g.done)
		tick := time.NewTicker(Interval)
		defer tick.Stop()
		for {
			cctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			_, err := p.Echo(cctx, "hello")
			cancel()
			if err != nil {
				g.mu.Lock()
				g.errs = append(g.errs, err)
				g.mu.Unlock()
			} else {
				g.ok.Add(1)
			}
			select {
			case <-g.stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { g.Stop() })
	return g
}

// Stop stops calling and closes the client; it returns the number of
// calls that succeeded and the errors of those that failed. It is
// idempotent.
func (g *Good) Stop() (ok int64, errs []error) {
	select {
	case <-g.stop:
	default:
		close(g.stop)
	}
	<-g.done
	g.client.Close()
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ok.Load(), g.errs
}

// Check stops the client and fails t unless every call succeeded (and at
// least one was made).
func (g *Good) Check(t testing.TB) {
	t.Helper()
	ok, errs := g.Stop()
	if len(errs) > 0 {
		t.Errorf("good client: %d of %d calls failed; first: %v", len(errs), int(ok)+len(errs), errs[0])
	}
	if ok == 0 {
		t.Errorf("good client: no call succeeded")
	}
}

// yamux frame types and flags, for Header.
const (
	TypeData   = 0
	TypeWindow = 1
	TypePing   = 2
	TypeGoAway = 3

	FlagSYN = 1
	FlagACK = 2
	FlagFIN = 4
	FlagRST = 8
)

// Header returns a yamux frame header.
func Header(typ uint8, flags uint16, stream, length uint32) []byte {
	h := make([]byte, 12)
	h[1] = typ
	binary.BigEndian.PutUint16(h[2:], flags)
	binary.BigEndian.PutUint32(h[4:], stream)
	binary.BigEndian.PutUint32(h[8:], length)
	return h
}

// Data returns a yamux data frame: its header and body.
func Data(flags uint16, stream uint32, body []byte) []byte {
	return append(Header(TypeData, flags, stream, uint32(len(body))), body...)
}

// Hello returns the first bytes of a control stream: its type and a
// Hello frame of this protocol version.
func Hello() []byte {
	body, err := wire.Marshal(&wire.Hello{Magic: wire.Magic, Version: wire.ProtocolVersion, MaxFrameSize: wire.DefaultMaxFrameSize, ID: remoting.NewObjectID()})
	if err != nil {
		panic(err)
	}
	return wire.AppendFrame([]byte{byte(wire.StreamControl)}, &wire.Frame{Kind: wire.KindHello, Body: body})
}

// Request returns a request frame for object "echo" of a Target.
func Request(id uint64, method string, deadline time.Duration, args any) []byte {
	body, err := wire.Marshal(args)
	if err != nil {
		panic(err)
	}
	return wire.AppendFrame(nil, &wire.Frame{Kind: wire.KindRequest, ID: id, Object: remoting.NameID("echo"), Method: method, Deadline: deadline, Body: body})
}

// Raw is a connection on which a test writes whatever bytes it likes.
type Raw struct {
	net.Conn
	t       testing.TB
	discard chan struct{}

	mu      sync.Mutex
	windows map[uint32]int64 // send window per stream, as the server granted it
	grew    chan struct{}    // closed and replaced when a window grows
}

// initialWindow is the send window of a new yamux stream.
const initialWindow = 256 << 10

// Connect opens a Raw connection to addr; t.Cleanup closes it.
func Connect(t testing.TB, addr string) *Raw {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	r := &Raw{Conn: nc, t: t, windows: map[uint32]int64{}, grew: make(chan struct{})}
	t.Cleanup(func() { r.Close() })
	return r
}

// Send writes each of bs in turn and reports the first error.
func (r *Raw) Send(bs ...[]byte) error {
	for _, b := range bs {
		if _, err := r.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// Handshake opens the control stream (yamux stream 1), sends a hello and
// reads yamux frames until the welcome has come, for at most timeout.
// Frames the server sends on other streams are skipped.
func (r *Raw) Handshake(timeout time.Duration) error {
	if err := r.Send(Header(TypeWindow, FlagSYN, 1, 0), Data(0, 1, Hello())); err != nil {
		return err
	}
	r.SetReadDeadline(time.Now().Add(timeout))
	defer r.SetReadDeadline(time.Time{})
	var ctl []byte
	for {
		h, body, err := r.ReadYamux()
		if err != nil {
			return fmt.Errorf("no welcome: %w", err)
		}
		if h[1] != TypeData || binary.BigEndian.Uint32(h[4:]) != 1 {
			continue
		}
		ctl = append(ctl, body...)
		if len(ctl) < 4 || len(ctl) < 4+int(binary.BigEndian.Uint32(ctl)) {
			continue
		}
		f, err := wire.NewReader(bytes.NewReader(ctl), 0).ReadFrame()
		if err != nil {
			return err
		}
		if f.Kind != wire.KindWelcome {
			return fmt.Errorf("%v frame instead of welcome: %v", f.Kind, wire.DecodeError(f.Body))
		}
		return nil
	}
}

// ReadYamux reads one yamux frame: its header and, for a data frame, its
// body.
func (r *Raw) ReadYamux() (hdr, body []byte, err error) {
	hdr = make([]byte, 12)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, nil, err
	}
	if hdr[1] == TypeData {
		body = make([]byte, binary.BigEndian.Uint32(hdr[8:]))
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, nil, err
		}
	}
	return hdr, body, nil
}

// OpenCalls opens call stream id (odd, above 1) with frames on it.
func (r *Raw) OpenCalls(id uint32, frames ...[]byte) error {
	body := []byte{byte(wire.StreamCalls)}
	for _, f := range frames {
		body = append(body, f...)
	}
	r.mu.Lock()
	r.windows[id] = initialWindow - int64(len(body))
	r.mu.Unlock()
	return r.Send(Header(TypeWindow, FlagSYN, id, 0), Data(0, id, body))
}

// Trickle sends n bytes of data on stream in parts of part bytes, each
// only once the server has granted the window for it (which Discard or
// Watch must be reading), for at most 5 s a part. It stops at the first
// error and returns it.
func (r *Raw) Trickle(stream uint32, n, part int) error {
	for sent := 0; sent < n; sent += part {
		k := min(part, n-sent)
		if err := r.awaitWindow(stream, k, 5*time.Second); err != nil {
			return err
		}
		if err := r.Send(Data(0, stream, make([]byte, k))); err != nil {
			return err
		}
	}
	return nil
}

// awaitWindow waits until stream's send window holds k bytes and takes
// them from it.
func (r *Raw) awaitWindow(stream uint32, k int, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		r.mu.Lock()
		w, ok := r.windows[stream]
		if !ok {
			w = initialWindow
		}
		if w >= int64(k) {
			r.windows[stream] = w - int64(k)
			r.mu.Unlock()
			return nil
		}
		grew := r.grew
		r.mu.Unlock()
		select {
		case <-grew:
		case <-r.discard:
			return errors.New("connection closed")
		case <-deadline:
			return fmt.Errorf("no window for %d bytes on stream %d", k, stream)
		}
	}
}

// note records the window a server's header grants.
func (r *Raw) note(h []byte) {
	if h[1] != TypeWindow {
		return
	}
	id, delta := binary.BigEndian.Uint32(h[4:]), int64(binary.BigEndian.Uint32(h[8:]))
	r.mu.Lock()
	w, ok := r.windows[id]
	if !ok {
		w = initialWindow
	}
	r.windows[id] = w + delta
	close(r.grew)
	r.grew = make(chan struct{})
	r.mu.Unlock()
}

// Watch reads the yamux frames the server sends, in a goroutine of its
// own, and calls fn with each header until the connection ends.
func (r *Raw) Watch(fn func(hdr []byte)) {
	r.discard = make(chan struct{})
	go func() {
		defer close(r.discard)
		for {
			h, _, err := r.ReadYamux()
			if err != nil {
				return
			}
			r.note(h)
			fn(h)
		}
	}()
	r.t.Cleanup(func() { r.Close(); <-r.discard })
}

// Closed is closed when the goroutine of Discard or Watch has seen the
// connection end.
func (r *Raw) Closed() <-chan struct{} { return r.discard }

// Peak samples f every millisecond until stop is closed and returns the
// largest value it saw.
func Peak(stop <-chan struct{}, f func() int) int {
	peak := f()
	for {
		select {
		case <-stop:
			return max(peak, f())
		case <-time.After(time.Millisecond):
			peak = max(peak, f())
		}
	}
}

// Discard reads and drops whatever the server sends (noting the windows
// it grants), in a goroutine of its own, until the connection ends.
func (r *Raw) Discard() { r.Watch(func([]byte) {}) }

// WaitClosed reads (and drops) until the server ends the connection or
// timeout passes; it reports how long that took and whether the server
// hung up.
func (r *Raw) WaitClosed(timeout time.Duration) (time.Duration, bool) {
	start := time.Now()
	r.SetReadDeadline(start.Add(timeout))
	_, err := io.Copy(io.Discard, r.Conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return time.Since(start), false
	}
	return time.Since(start), true
}

// Goroutines returns the number of goroutines, after giving those that
// are ending a moment to end.
func Goroutines() int {
	runtime.Gosched()
	time.Sleep(10 * time.Millisecond)
	return runtime.NumGoroutine()
}

// Heap returns the bytes of live heap objects after two garbage
// collections (sync.Pool keeps what it holds through one).
func Heap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// Eventually polls cond every 5 ms until it holds or timeout passes, and
// reports whether it held.
func Eventually(timeout time.Duration, cond func() bool) bool {
	end := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}
