package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/wire"
)

// Options configure a Session. The zero value works; each field documents
// its default.
type Options struct {
	// MaxFrameSize is the largest frame this end accepts and sends.
	// Default wire.DefaultMaxFrameSize (4 MiB).
	MaxFrameSize int
	// KeepAliveInterval is how often yamux pings an idle peer. A peer that
	// does not answer within WriteTimeout is declared dead and every call
	// on the session fails with Unavailable, so a silently vanished peer is
	// detected within KeepAliveInterval+WriteTimeout. Default 10s.
	KeepAliveInterval time.Duration
	// WriteTimeout bounds one write of yamux's session writer (the
	// "safety valve" against a connection that accepts no data) and the
	// wait for a keepalive answer. Default 10s.
	WriteTimeout time.Duration
	// StreamWindow is the largest receive window of a stream: how much a
	// peer may send before this end has read it. Larger windows let large
	// payloads stream without stalls. Default 1 MiB (yamux's own default is
	// 256 KiB, which throttles 4 MiB frames to several round trips).
	StreamWindow uint32
	// AcceptBacklog bounds streams opened by the peer and not yet accepted.
	// Call streams are few and long-lived, so this is small. Default 64.
	AcceptBacklog int
	// HandshakeTimeout bounds the handshake when the caller's context has
	// no earlier deadline. The deadline is set on the connection itself,
	// so that whatever bytes arrive (a partial frame included) the
	// connection ends when it passes. Default 10s.
	HandshakeTimeout time.Duration
	// MaxStreams bounds the streams the peer may have open on the session,
	// its control stream included. A stream opened beyond it is closed at
	// once, and a peer that has had MaxStreams streams refused is
	// disconnected. Default DefaultMaxStreams.
	MaxStreams int
	// MaxBuffered bounds the bytes the session holds in frames being read
	// (which grow as their bytes arrive) and frames queued to be written.
	// A read that would pass it closes the session. Default
	// DefaultMaxBuffered.
	MaxBuffered int
	// Budget, if set, also counts the session's buffered bytes, with those
	// of the other sessions that share it. Default none.
	Budget *Budget
	// Logger receives yamux's own diagnostics (at debug level) and
	// session-level events. Default: discard.
	Logger *slog.Logger
	// ID identifies this end in the handshake. Default: a new random
	// id per session.
	ID remoting.ObjectID
}

func (o Options) withDefaults() Options {
	if o.MaxFrameSize <= 0 {
		o.MaxFrameSize = wire.DefaultMaxFrameSize
	}
	if o.KeepAliveInterval <= 0 {
		o.KeepAliveInterval = 10 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.StreamWindow < 256<<10 {
		o.StreamWindow = 1 << 20
	}
	if o.AcceptBacklog <= 0 {
		o.AcceptBacklog = 64
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 10 * time.Second
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = DefaultMaxStreams
	}
	if o.MaxBuffered <= 0 {
		o.MaxBuffered = DefaultMaxBuffered
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ID.IsZero() {
		o.ID = remoting.NewObjectID()
	}
	return o
}

func (o Options) yamux() *yamux.Config {
	return &yamux.Config{
		AcceptBacklog: min(o.AcceptBacklog, o.MaxStreams),
		// Session.keepalive pings from a timer instead: yamux's keepalive
		// keeps a goroutine per session waiting between pings.
		EnableKeepAlive:        false,
		KeepAliveInterval:      o.KeepAliveInterval,
		ConnectionWriteTimeout: o.WriteTimeout,
		MaxStreamWindowSize:    o.StreamWindow,
		StreamOpenTimeout:      o.WriteTimeout,
		StreamCloseTimeout:     o.WriteTimeout,
		Logger:                 yamuxLogger{o.Logger},
	}
}

// DefaultMaxStreams is the default of Options.MaxStreams: the control
// stream and up to fifteen call streams.
const DefaultMaxStreams = 16

// maxHandshakeFrame is the largest frame either end reads before the
// handshake has succeeded: a hello, or a refusal that says why.
const maxHandshakeFrame = 4 << 10

// ErrHandshake wraps every handshake failure.
var ErrHandshake = errors.New("transport: handshake failed")

// lingerTimeout bounds how long a connection stays open after this end
// wrote its last frame (a refusal), waiting for the peer to read it and
// hang up. Closing a socket while bytes the peer sent are still unread in
// it sends a reset instead of a close, and a reset makes the peer's kernel
// drop what the peer had not read yet: the very frame that says why. The
// same delay net/http waits after an error response (rstAvoidanceDelay).
const lingerTimeout = 500 * time.Millisecond

// Session is one connection to a peer: a yamux session with a control
// stream. It is safe for concurrent use.
type Session struct {
	mux      *yamux.Session
	conn     net.Conn // under mux: for the half-close of CloseGracefully
	opts     Options
	control  *Stream
	peerMax  int               // the largest frame the peer accepts
	remoteID remoting.ObjectID // the other end's id from the handshake
	guard    *guard
	meter    meter

	streams atomic.Int32 // streams of the peer's that Accept returned and that are open
	refused atomic.Int32 // streams of the peer's refused for being over MaxStreams

	goAway     chan struct{} // closed when the peer sent KindGoAway
	goAwayOnce sync.Once
	closeOnce  sync.Once
	ctlDone    chan struct{}

	kaMu      sync.Mutex
	kaTimer   *time.Timer    // fires the next keepalive ping
	kaStopped bool           // the session has ended: ping no more
	kaPings   sync.WaitGroup // pings in flight
}

// Client performs the caller's half of the handshake on conn and returns
// the session. On error conn is closed.
func Client(ctx context.Context, conn net.Conn, opts Options) (*Session, error) {
	opts = opts.withDefaults()
	deadline := handshakeDeadline(ctx, opts)
	conn.SetReadDeadline(deadline)
	s := newSession(conn, opts)
	mux, err := yamux.Client(s.guard, opts.yamux())
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	s.mux = mux
	if err := s.clientHandshake(ctx, deadline); err != nil {
		mux.Close()
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	s.startControl()
	return s, nil
}

// Server performs the callee's half of the handshake on conn and returns
// the session. On error conn is closed. A peer whose hello is refused (for
// example a protocol version mismatch) is told why first, and conn stays
// open until the peer hangs up, for at most half a second, so that the
// refusal reaches the peer rather than a reset.
//
// The whole handshake, from the first byte to the welcome, ends within
// Options.HandshakeTimeout (or ctx's deadline, if earlier): the deadline is
// on conn, not only on the control stream, so that a peer that sends part
// of a frame and stops is cut off too. The wait for a refused peer to hang
// up ends by the same deadline.
func Server(ctx context.Context, conn net.Conn, opts Options) (*Session, error) {
	return server(ctx, conn, opts, nil)
}

// Refuse performs the callee's half of the handshake on conn only to
// refuse it with err (a *remoting.Error keeps its code), so that the peer
// reports why rather than a bare hang-up; then it waits, as Server does
// for a refused hello, for the peer to hang up, and closes conn. It
// returns when conn is closed.
func Refuse(ctx context.Context, conn net.Conn, opts Options, err error) {
	server(ctx, conn, opts, err)
}

func server(ctx context.Context, conn net.Conn, opts Options, refusal error) (*Session, error) {
	opts = opts.withDefaults()
	deadline := handshakeDeadline(ctx, opts)
	conn.SetReadDeadline(deadline)
	s := newSession(conn, opts)
	mux, err := yamux.Server(s.guard, opts.yamux())
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	s.mux = mux
	// Reading the hello does not watch ctx; closing the session ends it.
	stop := context.AfterFunc(ctx, func() { mux.Close() })
	defer stop()
	if refused, err := s.serverHandshake(ctx, deadline, refusal); err != nil {
		if refused {
			// Leave the connection open until the peer, having read the
			// refusal, hangs up: only then is nothing left unread on
			// either side, and a peer's write still in flight is not cut.
			// The read deadline on conn, still set, bounds the wait too.
			s.awaitHangUp(ctx)
		}
		mux.Close()
		return nil, fmt.Errorf("%w: %v", ErrHandshake, err)
	}
	s.startControl()
	return s, nil
}

// newSession returns the session of conn, with its guard; its mux is set
// once yamux runs on the guard.
func newSession(conn net.Conn, opts Options) *Session {
	s := &Session{conn: conn, opts: opts, goAway: make(chan struct{}), ctlDone: make(chan struct{})}
	s.meter.limit, s.meter.pool = int64(opts.MaxBuffered), opts.Budget
	s.guard = newGuard(conn, opts.MaxStreams, opts.WriteTimeout, &s.meter, guardLog(opts.Logger, conn))
	return s
}

func handshakeDeadline(ctx context.Context, opts Options) time.Time {
	d := time.Now().Add(opts.HandshakeTimeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	return d
}

// guardLog returns the function with which a guard reports the limit a
// peer broke before the session ends.
func guardLog(l *slog.Logger, conn net.Conn) func(error) {
	return func(err error) {
		l.Warn("remoting: closing connection", "remote", conn.RemoteAddr(), "err", err)
	}
}

// established lifts the limits that hold only during the handshake: the
// connection's read deadline and the guard's bound on early data. It is
// called once the peer's hello (or welcome) has been checked, before the
// welcome is sent, so that a peer that acts on the welcome at once is not
// taken for one that breaks the handshake's limits.
func (s *Session) established() {
	s.guard.open.Store(true)
	s.conn.SetReadDeadline(time.Time{})
}

func (s *Session) hello() *wire.Frame {
	body, _ := wire.Marshal(&wire.Hello{Magic: wire.Magic, Version: wire.ProtocolVersion, MaxFrameSize: uint32(s.opts.MaxFrameSize), ID: s.opts.ID})
	return &wire.Frame{Body: body}
}

func (s *Session) clientHandshake(ctx context.Context, deadline time.Time) error {
	ys, err := s.mux.OpenStream()
	if err != nil {
		return err
	}
	ys.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { ys.SetDeadline(time.Now()) })
	defer stop()
	f := s.hello()
	f.Kind = wire.KindHello
	// A failed write is not the end yet: the peer may have answered and
	// hung up already, and its answer, buffered in the stream, says why.
	_, werr := ys.Write(wire.AppendFrame([]byte{byte(wire.StreamControl)}, f))
	r := wire.NewReader(ys, maxHandshakeFrame)
	reply, err := r.ReadFrame()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if werr != nil {
			return werr
		}
		return fmt.Errorf("no welcome from peer: %w", err)
	}
	switch reply.Kind {
	case wire.KindWelcome:
	case wire.KindError:
		return fmt.Errorf("refused by peer: %s", wire.DecodeError(reply.Body).Message)
	default:
		return fmt.Errorf("unexpected %v frame instead of welcome", reply.Kind)
	}
	var h wire.Hello
	if err := wire.Unmarshal(reply.Body, &h); err != nil {
		return fmt.Errorf("bad welcome: %v", err)
	}
	if err := h.Check(); err != nil {
		return err
	}
	s.established()
	ys.SetDeadline(time.Time{})
	r.SetMaxFrameSize(s.opts.MaxFrameSize)
	s.peerMax, s.remoteID = int(h.MaxFrameSize), h.ID
	s.control = newStream(s, ys, r, s.sendMax(), nil)
	return nil
}

// serverHandshake reads the peer's hello and answers it, or refuses it
// with refusal if that is not nil. refused reports that the peer was sent
// a refusal, which it should be given time to read.
func (s *Session) serverHandshake(ctx context.Context, deadline time.Time, refusal error) (refused bool, err error) {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	ys, err := s.mux.AcceptStreamWithContext(ctx)
	if err != nil {
		return false, fmt.Errorf("no control stream: %w", err)
	}
	ys.SetDeadline(deadline)
	br := bufio.NewReaderSize(ys, 4<<10)
	t, err := br.ReadByte()
	if err != nil {
		return false, fmt.Errorf("no stream type: %w", err)
	}
	if wire.StreamType(t) != wire.StreamControl {
		return false, fmt.Errorf("first stream is type %d, want control", t)
	}
	r := wire.NewReader(br, maxHandshakeFrame)
	f, err := r.ReadFrame()
	if err != nil {
		return false, fmt.Errorf("no hello: %w", err)
	}
	var re *remoting.Error
	var h wire.Hello
	if f.Kind != wire.KindHello {
		err = fmt.Errorf("unexpected %v frame instead of hello", f.Kind)
	} else if uerr := wire.Unmarshal(f.Body, &h); uerr != nil {
		err = fmt.Errorf("bad hello: %v", uerr)
	} else {
		err = h.Check()
	}
	if err != nil {
		re = remoting.Errorf(remoting.CodeFailedPrecondition, "%v", err)
	} else if refusal != nil {
		err = refusal
		if !errors.As(refusal, &re) {
			re = remoting.Errorf(remoting.CodeUnavailable, "%v", refusal)
		}
	}
	if err != nil {
		// Tell the peer why before hanging up.
		frame := &wire.Frame{Kind: wire.KindError, Body: wire.EncodeError(re)}
		if _, werr := ys.Write(wire.AppendFrame(nil, frame)); werr != nil {
			return false, err
		}
		ys.Close()
		return true, err
	}
	s.established()
	w := s.hello()
	w.Kind = wire.KindWelcome
	if _, err := ys.Write(wire.AppendFrame(nil, w)); err != nil {
		return false, err
	}
	ys.SetDeadline(time.Time{})
	r.SetMaxFrameSize(s.opts.MaxFrameSize)
	s.peerMax, s.remoteID = int(h.MaxFrameSize), h.ID
	if s.remoteID.IsZero() {
		s.remoteID = remoting.NewObjectID() // an anonymous client owns what it creates for this session only
	}
	s.control = newStream(s, ys, r, s.sendMax(), nil)
	return false, nil
}

// startControl runs the control-stream reader: it answers pings and notes
// go-away. It ends when the session closes; a control stream failure
// closes the session. It starts the keepalive pings too, and stops them
// when it ends.
func (s *Session) startControl() {
	s.kaTimer = time.AfterFunc(s.opts.KeepAliveInterval, s.keepalive)
	go func() {
		defer close(s.ctlDone)
		defer s.stopKeepalive()
		defer s.control.Abort()
		for {
			f, err := s.control.ReadFrame()
			if err != nil {
				if !errors.Is(err, io.EOF) && !s.mux.IsClosed() {
					s.opts.Logger.Debug("remoting: control stream failed", "remote", s.RemoteAddr(), "err", err)
				}
				s.mux.Close()
				return
			}
			switch f.Kind {
			case wire.KindGoAway:
				s.goAwayOnce.Do(func() { close(s.goAway) })
			case wire.KindPing:
				s.control.WriteFrame(context.Background(), &wire.Frame{Kind: wire.KindPong, ID: f.ID})
			default:
				// Kinds that later protocol minor features add are ignored.
			}
		}
	}()
}

// keepalive pings the peer, and arms the timer for the next ping once the
// answer has come. It runs on the timer's own goroutine, so that between
// pings no goroutine waits. A peer that does not answer within
// WriteTimeout is taken for gone: the session is closed.
func (s *Session) keepalive() {
	s.kaMu.Lock()
	if s.kaStopped {
		s.kaMu.Unlock()
		return
	}
	s.kaPings.Add(1)
	s.kaMu.Unlock()
	defer s.kaPings.Done()
	if _, err := s.mux.Ping(); err != nil {
		if !s.mux.IsClosed() {
			s.opts.Logger.Warn("remoting: closing connection: keepalive failed", "remote", s.RemoteAddr(), "err", err)
			s.mux.Close()
		}
		return
	}
	s.kaMu.Lock()
	if !s.kaStopped {
		s.kaTimer.Reset(s.opts.KeepAliveInterval)
	}
	s.kaMu.Unlock()
}

// stopKeepalive stops the pings and waits for one in flight.
func (s *Session) stopKeepalive() {
	s.kaMu.Lock()
	s.kaStopped = true
	s.kaTimer.Stop()
	s.kaMu.Unlock()
	s.kaPings.Wait()
}

// Open opens a new call stream to the peer.
func (s *Session) Open() (*Stream, error) {
	ys, err := s.mux.OpenStream()
	if err != nil {
		return nil, err
	}
	return newStream(s, ys, wire.NewReader(ys, s.opts.MaxFrameSize), s.sendMax(), []byte{byte(wire.StreamCalls)}), nil
}

// Accept waits for the peer to open a call stream. It returns an error
// once the session is closed. A stream of an unknown type is closed and
// skipped.
//
// A stream that would take the peer past Options.MaxStreams (its control
// stream counted) is closed at once; once MaxStreams streams have been
// refused so, the session is closed and Accept returns
// [ErrTooManyStreams]. A stream whose type byte does not come within
// Options.HandshakeTimeout is closed too.
func (s *Session) Accept() (*Stream, error) {
	for {
		ys, err := s.mux.AcceptStream()
		if err != nil {
			return nil, err
		}
		if int(s.streams.Load())+1 >= s.opts.MaxStreams {
			ys.Close()
			if n := s.refused.Add(1); int(n) >= s.opts.MaxStreams {
				s.opts.Logger.Warn("remoting: closing connection: peer keeps opening streams over the limit", "remote", s.RemoteAddr(), "limit", s.opts.MaxStreams)
				s.mux.Close()
				return nil, ErrTooManyStreams
			}
			s.opts.Logger.Debug("remoting: refused stream over the limit", "remote", s.RemoteAddr(), "limit", s.opts.MaxStreams)
			continue
		}
		ys.SetReadDeadline(time.Now().Add(s.opts.HandshakeTimeout))
		br := bufio.NewReaderSize(ys, 4<<10)
		t, err := br.ReadByte()
		ys.SetReadDeadline(time.Time{})
		if err != nil || wire.StreamType(t) != wire.StreamCalls {
			s.opts.Logger.Debug("remoting: refused stream", "remote", s.RemoteAddr(), "type", t, "err", err)
			ys.Close()
			continue
		}
		s.streams.Add(1)
		st := newStream(s, ys, wire.NewReader(br, s.opts.MaxFrameSize), s.sendMax(), nil)
		st.onClose = func() { s.streams.Add(-1) }
		return st, nil
	}
}

// ErrTooManyStreams is returned by Accept when the session was closed
// because the peer kept opening streams over Options.MaxStreams.
var ErrTooManyStreams = errors.New("transport: peer opened too many streams")

// streamBroken closes the session because a write on one of its streams
// failed: the peer stopped reading (err is ErrStalled, or yamux's own
// write timeout), or the stream ended under a frame. Every stream's queue
// is freed and every call on the session ends.
func (s *Session) streamBroken(err error) {
	if !s.mux.IsClosed() {
		if errors.Is(err, ErrStalled) || errors.Is(err, yamux.ErrConnectionWriteTimeout) {
			s.opts.Logger.Warn("remoting: closing connection: peer stopped reading", "remote", s.RemoteAddr(), "err", err, "after", s.opts.WriteTimeout)
		} else {
			s.opts.Logger.Debug("remoting: closing connection: write failed", "remote", s.RemoteAddr(), "err", err)
		}
	}
	s.mux.Close()
}

// GoAway tells the peer to open no new calls on this session.
func (s *Session) GoAway() error {
	return s.control.WriteFrame(context.Background(), &wire.Frame{Kind: wire.KindGoAway})
}

// GoingAway is closed when the peer announced it is draining.
func (s *Session) GoingAway() <-chan struct{} { return s.goAway }

// Closed is closed when the session has ended, for whatever reason.
func (s *Session) Closed() <-chan struct{} { return s.mux.CloseChan() }

// IsClosed reports whether the session has ended.
func (s *Session) IsClosed() bool { return s.mux.IsClosed() }

// sendMax is the largest frame this end sends: the peer's limit, and never
// more than this end's own.
func (s *Session) sendMax() int {
	if s.peerMax > 0 && s.peerMax < s.opts.MaxFrameSize {
		return s.peerMax
	}
	return s.opts.MaxFrameSize
}

// Account adds delta bytes to the session's count of buffered bytes, and
// to its Budget's, without checking the limit: for memory the session's
// owner holds on the peer's behalf, such as the request of a running call,
// so that a server that holds too much refuses new connections.
func (s *Session) Account(delta int) { s.meter.account(delta) }

// Hold adds n bytes to the session's count, as Account does, but refuses
// with an error wrapping ErrOverBudget bytes that would take it past its
// MaxBuffered, and leaves the session open: for memory this end would
// make on the peer's behalf and may decline, such as the value a body
// decodes to. Account(-n) gives them back.
func (s *Session) Hold(n int64) error {
	if n > s.meter.limit {
		return fmt.Errorf("%w: %d bytes asked, limit %d", ErrOverBudget, n, s.meter.limit)
	}
	return s.meter.charge(int(n))
}

// RemoteID is the id the other end announced in the handshake: a client's
// id names the client across its reconnects, and owns what it creates.
func (s *Session) RemoteID() remoting.ObjectID { return s.remoteID }

// RemoteAddr is the peer's address.
func (s *Session) RemoteAddr() net.Addr { return s.mux.RemoteAddr() }

// Close ends the session and every stream on it at once, and waits for
// the goroutines of the session and its control stream. It is idempotent.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		s.mux.Close()
		if s.control != nil { // the handshake succeeded and started the control reader
			<-s.ctlDone
		}
	})
	return nil
}

// CloseGracefully ends the session so that the peer reads everything
// written so far: it half-closes the connection (the peer reads every frame
// sent, then end of stream, and hangs up in turn), waits until the peer has
// hung up, ctx has ended, or lingerTimeout has passed, and then closes.
// It is idempotent and may run beside Close.
func (s *Session) CloseGracefully(ctx context.Context) {
	if cw, ok := s.conn.(interface{ CloseWrite() error }); ok && !s.mux.IsClosed() {
		cw.CloseWrite()
	}
	s.awaitHangUp(ctx)
	s.Close()
}

// awaitHangUp waits until the peer has closed the connection, ctx has
// ended, or lingerTimeout has passed. yamux's receive loop reads on
// meanwhile, so nothing the peer sent is left unread in the socket when it
// is closed: closing a socket with unread bytes in it sends a reset, and a
// reset makes the peer's kernel drop what the peer had not read yet, such
// as a refusal that says why.
func (s *Session) awaitHangUp(ctx context.Context) {
	t := time.NewTimer(lingerTimeout)
	defer t.Stop()
	select {
	case <-s.mux.CloseChan():
	case <-ctx.Done():
	case <-t.C:
	}
}

// yamuxLogger sends yamux's log lines to slog at debug level.
type yamuxLogger struct{ l *slog.Logger }

// Lines are formatted only if debug is enabled: yamux logs a line for
// every frame of a stream it does not know, which a peer can send at will.
func (y yamuxLogger) Print(v ...any) {
	if y.enabled() {
		y.l.Debug(fmt.Sprint(v...))
	}
}

func (y yamuxLogger) Printf(format string, v ...any) {
	if y.enabled() {
		y.l.Debug(fmt.Sprintf(format, v...))
	}
}

func (y yamuxLogger) Println(v ...any) {
	if y.enabled() {
		y.l.Debug(fmt.Sprintln(v...))
	}
}

func (y yamuxLogger) enabled() bool { return y.l.Enabled(context.Background(), slog.LevelDebug) }
