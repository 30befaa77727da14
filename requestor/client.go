package requestor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/codegen"
	"github.com/remoting-go/remoting/internal/dispatch"
	"github.com/remoting-go/remoting/internal/peer"
	"github.com/remoting-go/remoting/internal/transport"
	"github.com/remoting-go/remoting/internal/wire"
)

// ErrClosed is returned (wrapped in a *remoting.Error with CodeUnavailable)
// by calls on a Client after Close.
var ErrClosed = errors.New("requestor: client closed")

// Options configure a Client. The zero value works; each field documents
// its default.
type Options struct {
	// TLS, if set, secures the connection; required for "tls://"
	// endpoints.
	TLS *tls.Config
	// Failover lists further endpoints of the same service (servers that
	// register the same named objects), tried in order after the one
	// given to Dial, which is the primary. Dial connects to the first of
	// them that handshakes. When the connection fails (or its server
	// shuts down), the next dial starts with the endpoint after the one
	// that failed and goes round the list; RedialBackoff applies only
	// once every endpoint has failed in a row.
	//
	// Calls in flight on the connection that fails end with Unavailable
	// and are not sent again: the server may or may not have run them.
	// Calls made after the failure go to the next endpoint. What is tied
	// to the connection does not move: see "Failover" in the package
	// documentation. Default none: the client reconnects to the primary
	// only.
	Failover []string
	// Dialer, if set, opens the client's connections instead of a
	// net.Dialer: it is called with the Go network ("tcp" for "tls://"
	// endpoints, "tcp" or "unix" for the others) and the endpoint's
	// address, within the DialTimeout. It may return any net.Conn, such as
	// one end of a net.Pipe whose other end a server serves with
	// invoker.Server.ServeConn. For "tls://" endpoints the client runs TLS
	// with Options.TLS over the connection it returns. Default nil: a
	// net.Dialer (a tls.Dialer for "tls://").
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
	// DialTimeout bounds one connection attempt including the handshake,
	// when the caller's context allows longer. Default 10s.
	DialTimeout time.Duration
	// Streams is the number of call streams the connection carries; calls
	// are spread over them round-robin. One stream pipelines thousands of
	// concurrent calls; more help only with large payloads. Default 1.
	Streams int
	// StreamWindow is the most the server may send on one call stream
	// before this client has read it (yamux's receive window): with many
	// large replies in flight, a larger window spares the server waits for
	// window updates (see invoker.Options.StreamWindow). Values under
	// 256 KiB mean the default, 1 MiB.
	StreamWindow uint32
	// MaxFrameSize is the largest reply this client accepts; a request
	// larger than the server's limit fails with ResourceExhausted before
	// it is sent. Default 4 MiB.
	MaxFrameSize int
	// KeepAliveInterval and WriteTimeout bound how long a vanished server
	// goes unnoticed: pending calls fail with Unavailable at most about
	// KeepAliveInterval+WriteTimeout after the server stops answering.
	// Defaults 10s each.
	KeepAliveInterval time.Duration
	WriteTimeout      time.Duration
	// RedialBackoff is the wait after a failed dial before the next
	// attempt; it doubles per failure up to MaxRedialBackoff. Defaults
	// 100ms and 5s.
	RedialBackoff    time.Duration
	MaxRedialBackoff time.Duration
	// Logger receives connection events. Default: discard.
	Logger *slog.Logger
	// Interceptors is the client's Invocation Interceptor chain, first
	// outermost; SetInterceptors replaces it at run time. Default none.
	Interceptors []remoting.Interceptor
	// CallbackInterceptors is the chain of the calls the server makes to
	// the objects this client exported (callback objects passed as
	// arguments): a server-side chain, first outermost, such as a tracing
	// interceptor's server half; SetCallbackInterceptors replaces it.
	// Default none.
	CallbackInterceptors []remoting.Interceptor
}

func (o Options) withDefaults() Options {
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.Streams <= 0 {
		o.Streams = 1
	}
	if o.RedialBackoff <= 0 {
		o.RedialBackoff = 100 * time.Millisecond
	}
	if o.MaxRedialBackoff <= 0 {
		o.MaxRedialBackoff = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Client is a connection to a server endpoint (one at a time of those it
// was given) that generated proxies call through. It implements
// [remoting.Caller] and is safe for concurrent use by any number of
// goroutines.
type Client struct {
	endpoint  string            // the primary's, normalised: "<network>://<address>"
	endpoints []remote          // the primary, then Options.Failover
	names     string            // the endpoints, for messages
	id        remoting.ObjectID // this client's id, the same on every connection
	opts      Options

	mu sync.Mutex
	// cur is the connection new calls use, nil if none; written under mu,
	// read by the call path without it.
	cur      atomic.Pointer[peer.Peer]
	dialing  chan struct{} // closed when the dial in progress ends; nil if none
	dialErr  error         // the last dial's error
	nextDial time.Time     // no dial before this time (backoff)
	backoff  time.Duration
	conns    map[*peer.Peer]int // every live connection, current or draining, and its endpoint's index
	last     int                // the index of the endpoint of the connection made last
	start    int                // the index of the endpoint the next dial tries first
	closed   bool
	life     context.Context // canceled by Close: ends dials and renewals
	end      context.CancelFunc
	wg       sync.WaitGroup // dial goroutines and the renewer

	holds holds // the objects proxies hold, which the renewer keeps alive

	chain        dispatch.Chain                                                  // the client\'s interceptors
	next         remoting.Handler                                                // c.invoke, bound once
	connect      func(context.Context, *remoting.Invocation) (*peer.Peer, error) // c.prepare, bound once
	reg          *dispatch.Registry                                              // objects this client exports to its server
	onewayFailed atomic.Uint64                                                   // fire-and-forget calls that could not be sent, on any connection
}

var (
	_ remoting.Resolver = (*Client)(nil)
	_ remoting.Releaser = (*Client)(nil)
	_ codegen.Exporter  = (*Client)(nil)
	_ codegen.Holder    = (*Client)(nil)
)

// remote is one endpoint a Client may dial.
type remote struct {
	name    string // normalised: "<network>://<address>"
	network string // "tcp", "tcp4", "tcp6", "unix" or "tls"
	addr    string
}

// Dial connects to the server at endpoint ("tcp://host:port",
// "unix:///path.sock", "tls://host:port", or a bare "host:port" for tcp),
// or if it cannot, to the first of Options.Failover that it can, and
// performs the handshake. It fails if no endpoint can be reached, speaks
// this protocol and the same version of it; with several endpoints, the
// error names each and what went wrong with it.
func Dial(ctx context.Context, endpoint string, opts Options) (*Client, error) {
	endpoints := make([]remote, 0, 1+len(opts.Failover))
	names := make([]string, 0, cap(endpoints))
	for _, e := range append([]string{endpoint}, opts.Failover...) {
		network, addr, err := remoting.ParseEndpoint(e)
		if err != nil {
			return nil, err
		}
		if network == "tls" && opts.TLS == nil {
			return nil, fmt.Errorf("requestor: dial %s: tls endpoint needs Options.TLS", e)
		}
		ep := remote{name: network + "://" + addr, network: network, addr: addr}
		for _, other := range endpoints {
			if other.name == ep.name {
				return nil, fmt.Errorf("requestor: dial %s: endpoint %s listed twice", endpoint, ep.name)
			}
		}
		endpoints = append(endpoints, ep)
		names = append(names, ep.name)
	}
	c := &Client{
		endpoint:  endpoints[0].name,
		endpoints: endpoints,
		names:     strings.Join(names, ", "),
		id:        remoting.NewObjectID(),
		reg:       dispatch.NewRegistry(opts.Logger, nil, unavailable(ErrClosed)),
		opts:      opts.withDefaults(),
		conns:     make(map[*peer.Peer]int),
	}
	c.life, c.end = context.WithCancel(context.Background())
	c.next = c.invoke
	c.connect = c.prepare
	c.SetInterceptors(opts.Interceptors...)
	c.reg.SetInterceptors(opts.CallbackInterceptors...)
	cn, i, err := c.dial(ctx, 0)
	if err != nil {
		c.end()
		return nil, err
	}
	c.mu.Lock()
	c.use(cn, i)
	c.mu.Unlock()
	return c, nil
}

// Endpoint returns the client's primary endpoint, normalised: the one
// given to Dial, and the Endpoint of the references Lookup returns. It is
// the same after the client has failed over to another endpoint, for the
// endpoints of Options.Failover are those of the same service and the
// references work on each of them.
func (c *Client) Endpoint() string { return c.endpoint }

// use makes cn, a connection to endpoint i, the one new calls use. The
// caller holds c.mu.
func (c *Client) use(cn *peer.Peer, i int) {
	c.cur.Store(cn)
	c.conns[cn] = i
	c.last = i
	c.start = (i + 1) % len(c.endpoints)
}

// dial connects to the first endpoint that handshakes, trying each once in
// turn from endpoints[start] round the list, and returns the connection
// and its endpoint's index. It stops early when ctx ends.
func (c *Client) dial(ctx context.Context, start int) (*peer.Peer, int, error) {
	errs := make([]error, 0, len(c.endpoints))
	for k := range c.endpoints {
		i := (start + k) % len(c.endpoints)
		cn, err := c.dialOne(ctx, c.endpoints[i])
		if err == nil {
			return cn, i, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
		if len(c.endpoints) > 1 {
			c.opts.Logger.Info("remoting: endpoint failed", "endpoint", c.endpoints[i].name, "err", err)
		}
	}
	if len(errs) == 1 {
		return nil, 0, errs[0]
	}
	tried := make([]string, len(errs))
	msgs := make([]string, len(errs))
	for k, err := range errs {
		tried[k] = c.endpoints[(start+k)%len(c.endpoints)].name
		msgs[k] = messageOf(err)
	}
	return nil, 0, &remoting.Error{Code: remoting.CodeUnavailable, Cause: errors.Join(errs...),
		Message: fmt.Sprintf("no endpoint of %s answered: %s", strings.Join(tried, ", "), strings.Join(msgs, "; "))}
}

// dialOne opens a connection to ep and its call streams.
func (c *Client) dialOne(ctx context.Context, ep remote) (*peer.Peer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	nc, err := c.netConn(ctx, ep)
	if err != nil {
		return nil, unavailable(err)
	}
	sess, err := transport.Client(ctx, nc, transport.Options{
		MaxFrameSize:      c.opts.MaxFrameSize,
		KeepAliveInterval: c.opts.KeepAliveInterval,
		WriteTimeout:      c.opts.WriteTimeout,
		StreamWindow:      c.opts.StreamWindow,
		Logger:            c.opts.Logger,
		ID:                c.id,
	})
	if err != nil {
		return nil, unavailable(fmt.Errorf("connect %s: %w", ep.name, err))
	}
	p := peer.New(sess, c.reg, peer.Options{
		Streams:      c.opts.Streams,
		Logger:       c.opts.Logger,
		OnClose:      c.forget,
		OnewayFailed: &c.onewayFailed,
	})
	if err := p.OpenStreams(); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// netConn opens the network connection to ep, with Options.Dialer if set.
// Its errors name the address.
func (c *Client) netConn(ctx context.Context, ep remote) (net.Conn, error) {
	if c.opts.Dialer == nil {
		if ep.network == "tls" {
			d := tls.Dialer{Config: c.opts.TLS}
			return d.DialContext(ctx, "tcp", ep.addr) // a *net.OpError names the address
		}
		var d net.Dialer
		return d.DialContext(ctx, ep.network, ep.addr)
	}
	network := ep.network
	if network == "tls" {
		network = "tcp"
	}
	nc, err := c.opts.Dialer(ctx, network, ep.addr)
	if err == nil && nc == nil {
		err = errors.New("Options.Dialer returned no connection")
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", ep.name, err)
	}
	if ep.network != "tls" {
		return nc, nil
	}
	cfg := c.opts.TLS
	if cfg.ServerName == "" {
		// As tls.Dialer does: the server's name is the address's host.
		cfg = cfg.Clone()
		cfg.ServerName = ep.addr
		if host, _, err := net.SplitHostPort(ep.addr); err == nil {
			cfg.ServerName = host
		}
	}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, fmt.Errorf("tls handshake with %s: %w", ep.name, err)
	}
	return tc, nil
}

// conn returns a usable connection, dialing if there is none. Concurrent
// callers share one dial; each waits for it only until its own ctx ends.
func (c *Client) conn(ctx context.Context) (*peer.Peer, error) {
	if cn := c.cur.Load(); cn != nil && cn.Usable() {
		return cn, nil // the common case: no lock on the call path
	}
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, unavailable(ErrClosed)
		}
		if cn := c.cur.Load(); cn != nil {
			if cn.Usable() {
				c.mu.Unlock()
				return cn, nil
			}
			c.cur.Store(nil)
		}
		wait := c.dialing
		if wait == nil {
			if now := time.Now(); now.Before(c.nextDial) {
				err, in := c.dialErr, c.nextDial.Sub(now)
				c.mu.Unlock()
				// Not unavailable(...): it would return the dial's own
				// Unavailable error and drop what this one adds.
				return nil, &remoting.Error{Code: remoting.CodeUnavailable, Cause: err,
					Message: fmt.Sprintf("reconnecting to %s in %v: %s", c.names, in.Round(time.Millisecond), messageOf(err))}
			}
			wait = make(chan struct{})
			c.dialing = wait
			c.wg.Add(1)
			go c.redial(wait, c.start)
		}
		c.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, contextError(ctx.Err())
		}
		c.mu.Lock()
		cn, err := c.cur.Load(), c.dialErr
		c.mu.Unlock()
		if cn == nil && err != nil {
			return nil, err
		}
	}
}

// redial runs one dial in the background for every caller that needs it,
// from endpoints[start] on.
func (c *Client) redial(done chan struct{}, start int) {
	defer c.wg.Done()
	cn, i, err := c.dial(c.life, start)
	c.mu.Lock()
	c.dialing = nil
	switch {
	case err != nil:
		c.dialErr = err
		c.backoff = min(max(2*c.backoff, c.opts.RedialBackoff), c.opts.MaxRedialBackoff)
		c.nextDial = time.Now().Add(c.backoff)
		c.opts.Logger.Info("remoting: reconnect failed", "endpoints", c.names, "err", err, "retry_in", c.backoff)
	case c.closed:
		c.dialErr = unavailable(ErrClosed)
	default:
		c.dialErr, c.backoff, c.nextDial = nil, 0, time.Time{}
		c.use(cn, i)
		c.opts.Logger.Info("remoting: reconnected", "endpoint", c.endpoints[i].name)
	}
	closed := c.closed
	c.mu.Unlock()
	close(done)
	if err == nil && closed {
		// Close ran while this dial was in flight and did not see cn.
		cn.Close()
	}
}

// forget drops a connection that has ended.
// The objects exported over it are released unless another live
// connection reaches the same server process.
func (c *Client) forget(cn *peer.Peer) {
	server := cn.Session().RemoteID()
	c.mu.Lock()
	delete(c.conns, cn)
	if c.cur.Load() == cn {
		c.cur.Store(nil)
	}
	shared := false
	for other := range c.conns {
		shared = shared || other.Session().RemoteID() == server
	}
	c.mu.Unlock()
	if !shared {
		c.reg.EndOwner(context.Background(), server)
	}
}

// Invoke sends inv and waits for its reply; it implements
// [remoting.Caller] for generated proxies. Errors are *remoting.Error:
// the remote method's own error with CodeApplication (and its registered
// type as Cause), NotFound for an unknown object or method,
// InvalidArgument for arguments the server could not decode,
// DeadlineExceeded or Canceled when ctx ended first (the server is told),
// ResourceExhausted for a request over the frame size limit, and
// Unavailable when the server cannot be reached or the connection died.
func (c *Client) Invoke(ctx context.Context, inv *remoting.Invocation) error {
	if chain := c.chain.Load(); chain != nil {
		return chain(ctx, inv, c.next)
	}
	return c.invoke(ctx, inv)
}

// invoke sends inv, after the interceptors.
func (c *Client) invoke(ctx context.Context, inv *remoting.Invocation) error {
	return peer.Send(ctx, inv, c.connect, &c.onewayFailed)
}

// SetInterceptors replaces the client's interceptor chain (first
// outermost) atomically: calls already in flight finish on the chain they
// started with, later calls take the new one, and the call path takes no
// lock. With no interceptors a call costs one atomic load more.
//
// For ModeAsync calls the chain's next returns once the call is sent; an
// interceptor that needs the outcome wraps inv.Done.
func (c *Client) SetInterceptors(interceptors ...remoting.Interceptor) {
	c.chain.Set(interceptors...)
}

// SetCallbackInterceptors replaces, atomically, the chain of the calls the
// server makes to the objects this client exported.
func (c *Client) SetCallbackInterceptors(interceptors ...remoting.Interceptor) {
	c.reg.SetInterceptors(interceptors...)
}

// prepare checks inv against the client and returns the connection to
// send it on.
func (c *Client) prepare(ctx context.Context, inv *remoting.Invocation) (*peer.Peer, error) {
	if err := ctx.Err(); err != nil {
		return nil, contextError(err)
	}
	if inv.Target.Endpoint != "" && !c.serves(inv.Target.Endpoint) {
		return nil, remoting.Errorf(remoting.CodeInvalidArgument, "reference to %s used on a client of %s", inv.Target.Endpoint, c.names)
	}
	return c.conn(ctx)
}

// serves reports whether endpoint is one of the client's.
func (c *Client) serves(endpoint string) bool {
	for _, ep := range c.endpoints {
		if ep.name == endpoint {
			return true
		}
	}
	return false
}

// Export makes impl, a local object, callable by the server this client is
// connected to, and returns its reference: how a client passes a callback
// object (an observer, say) to a server method. The server calls it back
// over the same connection, so no listener is needed on the client. The
// object lives until the server releases it or the connection ends. A nil
// impl exports nothing and returns the zero Ref. Generated proxies call
// Export for parameters whose type is a remote interface.
func (c *Client) Export(inv *codegen.Invoker, impl any) (remoting.Ref, error) {
	cn, err := c.conn(context.Background())
	if err != nil {
		return remoting.Ref{}, err
	}
	return c.reg.Export(cn.Session().RemoteID(), inv, impl)
}

// Release ends an object this client owns on the server (one a remote
// factory created for it) at once, and stops renewing its lease.
// Releasing an object that is already gone is not an error.
func (c *Client) Release(ctx context.Context, ref remoting.Ref) error {
	c.forgetHold(ref.ID)
	return dispatch.SendRelease(ctx, c, ref)
}

// Exported returns the number of local objects this client currently
// exports to its server.
func (c *Client) Exported() int { return c.reg.Len() }

// OnewayFailures returns how many fire-and-forget calls could not be sent:
// they found no connection, or their connection failed them. They are
// counted, not raised later.
func (c *Client) OnewayFailures() uint64 { return c.onewayFailed.Load() }

// Lookup asks the server's naming service for the object registered under
// name and returns its reference, with this client's endpoint; it
// implements [remoting.Resolver]. If iface is not empty, an object of
// another interface is refused with InvalidArgument. An unknown name is
// NotFound.
func (c *Client) Lookup(ctx context.Context, name, iface string) (remoting.Ref, error) {
	var reply wire.LookupReply
	err := c.Invoke(ctx, &remoting.Invocation{
		Method: wire.LookupMethod,
		Args:   &wire.LookupArgs{Name: name},
		Reply:  &reply,
	})
	if err != nil {
		return remoting.Ref{}, fmt.Errorf("lookup %q: %w", name, err)
	}
	if iface != "" && reply.Interface != iface {
		return remoting.Ref{}, fmt.Errorf("lookup %q: %w", name, remoting.Errorf(remoting.CodeInvalidArgument, "object is a %s, not a %s", reply.Interface, iface))
	}
	return remoting.Ref{Endpoint: c.endpoint, ID: reply.ID, Interface: reply.Interface}, nil
}

// Close closes every connection: pending calls fail with Unavailable. It
// waits for the client's goroutines and is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.end()
	conns := make([]*peer.Peer, 0, len(c.conns))
	for cn := range c.conns {
		conns = append(conns, cn)
	}
	c.cur.Store(nil)
	c.mu.Unlock()
	for _, cn := range conns {
		cn.Close()
	}
	c.wg.Wait()
	return c.reg.Close(context.Background())
}

// Closed is closed when Close has been called.
func (c *Client) Closed() <-chan struct{} { return c.life.Done() }

func unavailable(err error) *remoting.Error { return peer.Unavailable(err) }

// messageOf is err's message without the "remoting: <Code>: " that a
// *remoting.Error's Error adds.
func messageOf(err error) string {
	var re *remoting.Error
	if errors.As(err, &re) {
		return re.Message
	}
	return err.Error()
}

func contextError(err error) *remoting.Error { return peer.ContextError(err) }
