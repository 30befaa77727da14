package peer

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/transport"
	"github.com/remoting-go/remoting/internal/wire"
)

// Dispatcher serves the requests a peer receives.
type Dispatcher interface {
	// Dispatch runs one request and returns a pointer to the result
	// struct (or nil for none) or an error. It calls req.Accept once the
	// object and method are known to exist, before running the method.
	Dispatch(ctx context.Context, req *Request) (reply any, err error)
}

// Options configure a Peer. The zero value works.
type Options struct {
	// MaxConcurrentCalls bounds the requests from the other end that run
	// at once; beyond it the peer stops reading requests until one ends,
	// which pushes back on the sender. Default 1024.
	MaxConcurrentCalls int
	// Streams is the number of call streams this end opens for its own
	// calls, on first use. Default 1.
	Streams int
	// Logger receives malformed-frame and dropped-reply events. Default:
	// discard.
	Logger *slog.Logger
	// OnStart, if set, is called once with the peer in New, before the
	// peer reads anything from the session: whoever keeps the peer can
	// record it before the peer serves its first request.
	OnStart func(*Peer)
	// OnClose, if set, is called once with the peer, after the session has
	// ended and every goroutine of the peer has exited.
	OnClose func(*Peer)
	// OnewayFailed, if set, counts the fire-and-forget calls made through
	// this peer that could not be sent.
	OnewayFailed *atomic.Uint64
}

// DefaultMaxConcurrentCalls is the default of Options.MaxConcurrentCalls
// and of the server's option of the same name.
const DefaultMaxConcurrentCalls = 1024

// Peer is one end of an established session. It is safe for concurrent
// use.
type Peer struct {
	sess   *transport.Session
	d      Dispatcher
	opts   Options
	remote string // the other end's address, formatted once

	ctx     context.Context // canceled when the session ends
	cancel  context.CancelFunc
	sem     chan struct{}                                              // a token per request read and not yet finished
	workers workerPool                                                 // idle workers
	self    func(context.Context, *remoting.Invocation) (*Peer, error) // returns p: Send's connect for Invoke, bound once

	sent [16]atomic.Uint64 // frames this end queued, by kind

	mu      sync.Mutex
	streams []*callStream // outgoing; nil until the first call
	openErr error
	open    atomic.Pointer[[]*callStream] // streams while calls may use them, read without mu
	next    atomic.Uint32

	wg        sync.WaitGroup                 // every goroutine of the peer
	accepted  map[*transport.Stream]struct{} // streams being served, under mu
	closeOnce sync.Once
	done      chan struct{}
}

// New starts serving sess: requests from the other end go to d (nil
// refuses every request with NotFound). The peer owns sess from now on.
func New(sess *transport.Session, d Dispatcher, opts Options) *Peer {
	if opts.MaxConcurrentCalls <= 0 {
		opts.MaxConcurrentCalls = DefaultMaxConcurrentCalls
	}
	if opts.Streams <= 0 {
		opts.Streams = 1
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Peer{
		sess:   sess,
		remote: addrString(sess.RemoteAddr()),
		d:      d,
		opts:   opts,
		ctx:    ctx,
		cancel: cancel,
		sem:    make(chan struct{}, opts.MaxConcurrentCalls),

		accepted: make(map[*transport.Stream]struct{}),
		done:     make(chan struct{}),
	}
	p.self = func(context.Context, *remoting.Invocation) (*Peer, error) { return p, nil }
	if opts.OnStart != nil {
		opts.OnStart(p)
	}
	p.wg.Add(1)
	go p.acceptLoop()
	go func() {
		// Not in wg: it waits for wg.
		<-sess.Closed()
		p.cancel()
		p.workers.close()
		p.refuseCalls() // before Wait: no stream reader may join wg after it
		p.wg.Wait()
		p.abortStreams()
		if opts.OnClose != nil {
			opts.OnClose(p)
		}
		close(p.done)
	}()
	return p
}

func (p *Peer) acceptLoop() {
	defer p.wg.Done()
	for {
		st, err := p.sess.Accept()
		if err != nil {
			p.sess.Close()
			return
		}
		p.mu.Lock()
		p.accepted[st] = struct{}{}
		p.mu.Unlock()
		ss := &servedStream{st: st, calls: inflight{m: make(map[uint64]context.CancelFunc)}}
		p.wg.Add(1)
		go p.worker(task{ss: ss, lead: true})
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// Remote returns the other end's network address.
func (p *Peer) Remote() string { return p.remote }

// Session returns the peer's session.
func (p *Peer) Session() *transport.Session { return p.sess }

// Active returns the number of requests from the other end that have been
// read and not yet answered.
func (p *Peer) Active() int64 { return int64(len(p.sem)) }

// Usable reports whether new calls may use the peer: the session is open
// and the other end has not announced that it is going away.
func (p *Peer) Usable() bool {
	if p.sess.IsClosed() {
		return false
	}
	select {
	case <-p.sess.GoingAway():
		return false
	default:
		return true
	}
}

// GoAway tells the other end to open no new calls.
func (p *Peer) GoAway() error { return p.sess.GoAway() }

// Flush waits until the replies queued so far on the streams this peer
// serves have been written, or ctx ends: a graceful shutdown calls it
// once no request is running, so that the last replies are not cut off.
func (p *Peer) Flush(ctx context.Context) error {
	p.mu.Lock()
	streams := make([]*transport.Stream, 0, len(p.accepted))
	for st := range p.accepted {
		streams = append(streams, st)
	}
	p.mu.Unlock()
	for _, st := range streams {
		if err := st.Flush(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Done is closed after the session has ended and every goroutine of the
// peer has exited.
func (p *Peer) Done() <-chan struct{} { return p.done }

// Close ends the session at once: calls in both directions fail (this
// end's pending calls with Unavailable), requests still running see their
// context canceled. It waits until every goroutine of the peer has exited
// and is idempotent.
func (p *Peer) Close() error {
	p.closeOnce.Do(func() { p.sess.Close() })
	<-p.done
	return nil
}

// Sent returns how many frames of kind k this end has sent on call
// streams.
func (p *Peer) Sent(k wire.Kind) uint64 { return p.sent[k&15].Load() }

// write queues f on st and counts it.
func (p *Peer) write(ctx context.Context, st *transport.Stream, f *wire.Frame) error {
	return p.writeOrQueue(ctx, st, f, false)
}

// queue is write for a fire-and-forget request (see Stream.QueueFrame).
func (p *Peer) queue(ctx context.Context, st *transport.Stream, f *wire.Frame) error {
	return p.writeOrQueue(ctx, st, f, true)
}

func (p *Peer) writeOrQueue(ctx context.Context, st *transport.Stream, f *wire.Frame, queue bool) error {
	// Counted before the write, which a caller may make itself: the
	// other end may act on the frame before the write returns.
	c := &p.sent[f.Kind&15]
	c.Add(1)
	var err error
	if queue {
		err = st.QueueFrame(ctx, f)
	} else {
		err = st.WriteFrame(ctx, f)
	}
	if err != nil {
		c.Add(^uint64(0))
	}
	return err
}

var _ remoting.Caller = (*Peer)(nil)
