package invoker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/codegen"
	"github.com/remoting-go/remoting/internal/dispatch"
	"github.com/remoting-go/remoting/internal/peer"
	"github.com/remoting-go/remoting/internal/transport"
	"github.com/remoting-go/remoting/lifecycle"
)

// ErrServerClosed is returned by Serve after Shutdown or Close, and by
// Register on a closed server.
var ErrServerClosed = errors.New("invoker: server closed")

// Options configure a Server. The zero value works; each field documents
// its default.
type Options struct {
	// MaxConcurrentCalls bounds the calls one connection may have running
	// at once. When it is reached the server stops reading that
	// connection's requests until a call ends, which pushes back on the
	// client instead of growing without bound. Default 1024.
	MaxConcurrentCalls int
	// MaxFrameSize is the largest request this server accepts; a longer
	// frame closes the connection before its body is read. Replies are
	// bounded by the client's own limit. Default 4 MiB.
	MaxFrameSize int
	// KeepAliveInterval and WriteTimeout bound how long a vanished client
	// goes unnoticed (see the transport notes in the README). Defaults 10s.
	KeepAliveInterval time.Duration
	WriteTimeout      time.Duration
	// HandshakeTimeout bounds a new connection's handshake, from the
	// first byte to the welcome, whatever the client sends. Default 10s.
	HandshakeTimeout time.Duration
	// MaxConnections bounds the client connections open at once, those
	// still in their handshake included. A connection past it is refused
	// with ResourceExhausted, which the client's dial reports. Default
	// DefaultMaxConnections.
	MaxConnections int
	// MaxConnectionsPerAddress bounds, in the same way, the connections
	// from one remote host (IP address). Default MaxConnections.
	MaxConnectionsPerAddress int
	// MaxStreams bounds the streams a client may have open on one
	// connection, its control stream included: a client uses one call
	// stream (requestor.Options.Streams) and the control stream. A stream
	// past it is refused, and a client that keeps opening streams past
	// it is disconnected. Default 16.
	MaxStreams int
	// StreamWindow is the most a client may send on one stream before the
	// server has read it (yamux's receive window): with many large
	// requests in flight, a larger window spares the client some waits
	// for window updates. A connection may hold up to MaxStreams windows
	// of unread data. Values under 256 KiB mean the default, 1 MiB.
	StreamWindow uint32
	// MaxConnBuffered bounds the bytes one connection holds in frames
	// being read (a frame's buffer grows as its bytes arrive) and frames
	// queued to be written; a connection that would pass it is closed.
	// What the arguments of its running calls decode to counts against
	// it too, and a request whose arguments would pass it is refused with
	// ResourceExhausted before they are decoded. Default 64 MiB.
	MaxConnBuffered int
	// MaxBuffered bounds the bytes all connections together hold so; while
	// they hold it, new connections are refused with ResourceExhausted.
	// Default DefaultMaxBuffered.
	MaxBuffered int64
	// OwnerGrace is how long the objects a client created (through remote
	// factories) outlive its last connection, so that a client that
	// reconnects keeps them; then they end. Leases, where the policy of
	// an object's interface has them (see Server.Policy), may end them
	// sooner. Default lifecycle.DefaultGrace, 30s.
	OwnerGrace time.Duration
	// Logger receives connection-level events: refused handshakes,
	// malformed frames, panics in user code. Default: discard.
	Logger *slog.Logger
	// Observers are told of the lifecycle events of every registered
	// object: activations, deactivations, pool borrows and returns, and
	// the others of remoting.EventKind. They are called on the goroutine
	// that caused each event, mostly on the invocation path, so they must
	// be safe for concurrent use and fast. remoting.EventCounts is one.
	// Default none.
	Observers []remoting.Observer
	// Interceptors is the server's Invocation Interceptor chain, first
	// outermost; SetInterceptors replaces it at run time. Default none.
	Interceptors []remoting.Interceptor
	// CallbackInterceptors is the chain of the calls this server makes
	// back to the objects its clients exported (callback objects passed as
	// arguments): a client-side chain, first outermost, such as a tracing
	// interceptor's client half; SetCallbackInterceptors replaces it.
	// Default none.
	CallbackInterceptors []remoting.Interceptor
	// DisableDescribe turns off the naming service's remoting.List and
	// remoting.Describe, which list the named objects and keyed
	// interfaces and describe their methods and types to any client that
	// asks (cmd/remoting uses them); a client that asks gets
	// PermissionDenied. They run no interceptor, as remoting.Lookup does
	// not: a server whose interfaces are not for every client to see
	// turns them off. Default: on.
	DisableDescribe bool
}

// Defaults of Options.
const (
	// DefaultMaxConnections is the default of Options.MaxConnections.
	DefaultMaxConnections = 10000
	// DefaultMaxBuffered is the default of Options.MaxBuffered: 1 GiB.
	DefaultMaxBuffered = 1 << 30
)

func (o Options) withDefaults() Options {
	if o.MaxConcurrentCalls <= 0 {
		o.MaxConcurrentCalls = peer.DefaultMaxConcurrentCalls
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = DefaultMaxConnections
	}
	if o.MaxConnectionsPerAddress <= 0 {
		o.MaxConnectionsPerAddress = o.MaxConnections
	}
	if o.MaxBuffered <= 0 {
		o.MaxBuffered = DefaultMaxBuffered
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

func (o Options) transport(budget *transport.Budget) transport.Options {
	return transport.Options{
		MaxFrameSize:      o.MaxFrameSize,
		KeepAliveInterval: o.KeepAliveInterval,
		WriteTimeout:      o.WriteTimeout,
		HandshakeTimeout:  o.HandshakeTimeout,
		MaxStreams:        o.MaxStreams,
		StreamWindow:      o.StreamWindow,
		MaxBuffered:       o.MaxConnBuffered,
		Budget:            budget,
		Logger:            o.Logger,
	}
}

// Server hosts remote objects and serves invocations on them. It is safe
// for concurrent use; objects may be registered while it serves.
type Server struct {
	opts    Options
	reg     *dispatch.Registry
	mgr     *lifecycle.Dependents // the objects remote factories create for clients
	observe func(remoting.Event)  // the observers, as one function

	// ctx is canceled by Close; every connection's context derives from it.
	ctx    context.Context
	cancel context.CancelFunc

	// budget counts the bytes all connections hold buffered.
	budget *transport.Budget

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	perHost   map[string]int // open connections by remote host
	refusing  int            // connections being refused now
	draining  bool
	closed    bool
	wg        sync.WaitGroup // connection goroutines
	retired   Stats          // counts of connections that ended
}

// Stats are counts a Server keeps; see Server.Stats.
type Stats struct {
	// Connections is the number of open client connections.
	Connections int
	// Objects is the number of registered objects, named and created.
	Objects int
	// Running is the number of calls running now.
	Running int64
	// Replies, Errors and Acks count the frames of each kind sent to
	// clients since the server started. Fire-and-forget calls send none.
	Replies, Errors, Acks uint64
}

// NewServer returns a server that serves nothing until Register and Serve
// are called. It starts no goroutines: the lifecycle manager of the
// objects that remote factories create starts its lease goroutine with
// the first such object, and its idle goroutine with the first passivating
// Policy; Close stops them.
func NewServer(opts Options) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	opts = opts.withDefaults()
	s := &Server{
		opts:      opts,
		observe:   lifecycle.Fanout(opts.Observers...),
		ctx:       ctx,
		cancel:    cancel,
		budget:    transport.NewBudget(opts.MaxBuffered),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
		perHost:   make(map[string]int),
	}
	s.mgr = lifecycle.NewDependents(lifecycle.DependentsOptions{Grace: opts.OwnerGrace, OnEnd: func(id remoting.ObjectID) { s.reg.Drop(id) }, Logger: opts.Logger})
	s.reg = dispatch.NewRegistry(opts.Logger, owners{s}, ErrServerClosed)
	s.reg.SetInterceptors(opts.Interceptors...)
	s.reg.SetCallbackInterceptors(opts.CallbackInterceptors...)
	if opts.DisableDescribe {
		s.reg.SetDescribing(dispatch.DescribeDenied)
	} else {
		s.reg.SetDescribing(dispatch.DescribeServed)
	}
	return s
}

// Policy sets the lifecycle of the objects that remote factories create of
// the interface inv serves (stubgen's <Interface>Invoker()): each belongs to
// the client that called the factory and lives as p says (see
// lifecycle.ClientDependent): with a lease, passivated when idle. Objects
// of an interface without a policy live as the zero lifecycle.Policy says:
// until their client releases them or has been gone for
// Options.OwnerGrace. Set the policy before Serve: objects created before
// keep the lifecycle they had, and a client whose objects a store brings
// back must find them when it reconnects.
//
// If p passivates to a store that keeps objects of this interface from an
// earlier server (a file of package passivation/bolt), Policy brings them back:
// each is registered, passivated, for the client that created it, and is
// reactivated by that client's next call. Their leases and the grace
// period of their clients start anew.
//
// Policy fails if the interface has a policy already, if an option of p
// cannot work, or if the store cannot be read.
func (s *Server) Policy(inv *codegen.Invoker, p lifecycle.Policy) error {
	if s.shuttingDown() {
		return ErrServerClosed
	}
	if err := dispatch.Check(inv); err != nil {
		return fmt.Errorf("invoker: policy: %w", err)
	}
	b := lifecycle.Binding{Interface: inv.Interface, Implements: inv.Implements, Observe: s.observe}
	err := s.mgr.SetPolicy(b, p, func(id, owner remoting.ObjectID, st lifecycle.Strategy) error {
		return s.reg.Insert(dispatch.Object{ID: id, Invoker: inv, Instances: st, Owner: owner})
	})
	if err != nil {
		return fmt.Errorf("invoker: policy for %s: %w", inv.Interface, err)
	}
	return nil
}

// Register makes an object reachable. The Invoker (stubgen's
// <Interface>Invoker()) says which interface it serves; the strategy
// (lifecycle.Static and the others) says which instance serves each call.
//
// A non-empty name makes the object resolvable by Lookup and gives it the
// stable id remoting.NameID(name), so that references survive a server
// restart; an empty name registers an anonymous object under a new random
// id. The returned Ref has an empty Endpoint: the server does not know
// under which address its clients reach it.
//
// Register fails if the name is taken, the Invoker is incomplete or the
// strategy refuses the binding (for example an instance that does not
// implement the interface).
func (s *Server) Register(name string, inv *codegen.Invoker, strategy lifecycle.Strategy) (remoting.Ref, error) {
	id := remoting.NewObjectID()
	if name != "" {
		id = remoting.NameID(name)
	}
	return s.register(id, name, inv, strategy)
}

// RegisterID registers an anonymous object under the given id, for callers
// that manage ids themselves (for example an object restored from a
// store). See Register.
func (s *Server) RegisterID(id remoting.ObjectID, inv *codegen.Invoker, strategy lifecycle.Strategy) (remoting.Ref, error) {
	if id.IsZero() {
		return remoting.Ref{}, remoting.Errorf(remoting.CodeInvalidArgument, "register: the zero ObjectID is reserved for the naming service")
	}
	return s.register(id, "", inv, strategy)
}

func (s *Server) register(id remoting.ObjectID, name string, inv *codegen.Invoker, strategy lifecycle.Strategy) (remoting.Ref, error) {
	if s.shuttingDown() {
		return remoting.Ref{}, ErrServerClosed
	}
	err := dispatch.Check(inv)
	if err == nil && strategy == nil {
		err = remoting.Errorf(remoting.CodeInvalidArgument, "nil lifecycle strategy")
	}
	if err == nil {
		err = strategy.Bind(lifecycle.Binding{ID: id, Name: name, Interface: inv.Interface, Implements: inv.Implements, Observe: s.observe})
	}
	if err == nil {
		err = s.reg.Insert(dispatch.Object{ID: id, Name: name, Invoker: inv, Instances: strategy})
	}
	if err != nil {
		return remoting.Ref{}, fmt.Errorf("invoker: register %q: %w", name, err)
	}
	return remoting.Ref{ID: id, Interface: inv.Interface}, nil
}

// SetCallbackInterceptors replaces the chain of the server's calls to its
// clients' callback objects atomically, as SetInterceptors does.
func (s *Server) SetCallbackInterceptors(interceptors ...remoting.Interceptor) {
	s.reg.SetCallbackInterceptors(interceptors...)
}

// Unregister removes an object: later calls get NotFound. Calls already
// running finish. The strategy is closed with ctx.
func (s *Server) Unregister(ctx context.Context, id remoting.ObjectID) error {
	return s.reg.Unregister(ctx, id)
}

// SetInterceptors replaces the server's interceptor chain (first
// outermost) atomically: calls in flight finish on the chain they started
// with, later calls take the new one, and the call path takes no lock.
// The chain runs after the object and method are found and before the
// lifecycle strategy is asked for an instance, so a call an interceptor
// refuses activates nothing.
func (s *Server) SetInterceptors(interceptors ...remoting.Interceptor) {
	s.reg.SetInterceptors(interceptors...)
}

// SetLeaseTTL changes the lease time to live of the objects that remote
// factories create for the interface inv serves (see Policy): new objects
// get it at once, live ones at their next renewal. Zero means no lease.
// It fails for an interface without a client-dependent policy.
func (s *Server) SetLeaseTTL(inv *codegen.Invoker, ttl time.Duration) error {
	if err := dispatch.Check(inv); err != nil {
		return err
	}
	return s.mgr.SetLeaseTTL(inv.Interface, ttl)
}

// SetPassivateAfter changes how long the objects that remote factories
// create for the interface inv serves may sit idle before they are
// passivated (see Policy); live objects take it at their next idle check.
// It fails for an interface without a passivating policy.
func (s *Server) SetPassivateAfter(inv *codegen.Invoker, after time.Duration) error {
	if err := dispatch.Check(inv); err != nil {
		return err
	}
	return s.mgr.SetPassivateAfter(inv.Interface, after)
}

// Draining reports whether Shutdown has begun (or the server is closed):
// a health check should then report the server as not ready.
func (s *Server) Draining() bool { return s.shuttingDown() }

// Serve accepts connections on lis and serves them until lis is closed or
// the server is shut down; then it returns ErrServerClosed (or, for a
// listener closed by someone else, an error wrapping net.ErrClosed). Serve
// may be called for several listeners at once.
//
// Any other accept error, such as running out of file descriptors
// (EMFILE, ENFILE) or a connection aborted before it was accepted, is
// taken as temporary: Serve logs it and tries again after a backoff that
// starts at 5 ms and doubles up to 1 s, and serves again as soon as
// accepting works.
func (s *Server) Serve(lis net.Listener) error {
	s.mu.Lock()
	if s.closed || s.draining {
		s.mu.Unlock()
		lis.Close()
		return ErrServerClosed
	}
	s.listeners[lis] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, lis)
		s.mu.Unlock()
	}()

	var backoff time.Duration
	for {
		nc, err := lis.Accept()
		if err != nil {
			if s.shuttingDown() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("invoker: accept: %w", err)
			}
			backoff = min(max(2*backoff, minAcceptBackoff), maxAcceptBackoff)
			s.opts.Logger.Warn("remoting: accept failed; retrying", "err", err, "in", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
			}
			continue
		}
		backoff = 0
		c, err := s.admit(nc)
		switch {
		case errors.Is(err, ErrServerClosed):
			return ErrServerClosed
		case err == nil:
			go c.serve()
		}
	}
}

// ServeConn serves one connection that the server did not accept itself,
// such as one end of a [net.Pipe] whose other end a requestor.Client
// dials through Options.Dialer, as Serve serves each connection it
// accepts: the same handshake, limits, counts in Stats, and end by
// Shutdown or Close. MaxConnectionsPerAddress counts nc.RemoteAddr()'s
// host; every net.Pipe has the address "pipe", so they all count as one
// host. The server owns nc from the call on and closes it.
//
// ServeConn blocks, running the handshake on the caller's goroutine, until
// the connection has ended, and returns nil. It returns at once, with nc
// closed, ErrServerClosed after Shutdown or Close; a *remoting.Error with
// CodeResourceExhausted if a limit is reached (the client is told why, as
// at Serve); or the handshake's error.
func (s *Server) ServeConn(nc net.Conn) error {
	c, err := s.admit(nc)
	if err != nil {
		return err
	}
	p, err := c.serve()
	if err != nil {
		return fmt.Errorf("invoker: serve connection from %s: %w", nc.RemoteAddr(), err)
	}
	<-p.Done()
	return nil
}

// The backoff after a failed accept: it starts at minAcceptBackoff and
// doubles per failure up to maxAcceptBackoff, as net/http's does.
const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
)

func (s *Server) shuttingDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed || s.draining
}

// admit counts nc as a connection of the server, to be served by its
// serve, or refuses it: with ErrServerClosed after Shutdown or Close
// (closing nc), or with the limit it is over (answering its handshake
// with the refusal, which closes it).
func (s *Server) admit(nc net.Conn) (*conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.draining {
		nc.Close()
		return nil, ErrServerClosed
	}
	host := hostOf(nc.RemoteAddr())
	if refusal := s.overLimit(host); refusal != nil {
		s.refuse(nc, refusal)
		return nil, refusal
	}
	c := &conn{srv: s, nc: nc, host: host}
	s.conns[c] = struct{}{}
	s.perHost[host]++
	s.wg.Add(1) // done by peerGone once served, or by serve if the handshake fails
	return c, nil
}

// maxRefusing bounds the connections being refused at once: each takes a
// goroutine until the client has read why and hung up. Past it, a
// connection over a limit is closed without a word.
const maxRefusing = 64

// refuseTimeout bounds the handshake of a connection that is refused.
const refuseTimeout = time.Second

// overLimit returns the error a new connection from host is refused with,
// or nil if it may be served. The caller holds s.mu.
func (s *Server) overLimit(host string) error {
	switch {
	case len(s.conns) >= s.opts.MaxConnections:
		return remoting.Errorf(remoting.CodeResourceExhausted, "server has %d connections, its limit; try again later", len(s.conns))
	case s.perHost[host] >= s.opts.MaxConnectionsPerAddress:
		return remoting.Errorf(remoting.CodeResourceExhausted, "server has %d connections from %s, its limit per address; close some or try again later", s.perHost[host], host)
	case s.budget.Exhausted():
		return remoting.Errorf(remoting.CodeResourceExhausted, "server holds %d MiB of frames in flight, its limit; try again later", s.budget.Used()>>20)
	}
	return nil
}

// refuse answers nc's handshake with refusal, in a goroutine of its own,
// unless too many are being refused already. The caller holds s.mu.
func (s *Server) refuse(nc net.Conn, refusal error) {
	s.opts.Logger.Warn("remoting: connection refused", "remote", nc.RemoteAddr(), "err", refusal)
	if s.refusing >= maxRefusing {
		nc.Close()
		return
	}
	s.refusing++
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		opts := s.opts.transport(nil)
		opts.HandshakeTimeout = refuseTimeout
		if t := s.opts.HandshakeTimeout; t > 0 && t < refuseTimeout {
			opts.HandshakeTimeout = t
		}
		transport.Refuse(s.ctx, nc, opts, refusal)
		s.mu.Lock()
		s.refusing--
		s.mu.Unlock()
	}()
}

// forget removes c from the open connections. The caller holds s.mu.
func (s *Server) forget(c *conn) {
	if _, ok := s.conns[c]; !ok {
		return
	}
	delete(s.conns, c)
	if s.perHost[c.host]--; s.perHost[c.host] <= 0 {
		delete(s.perHost, c.host)
	}
}

// hostOf returns the host part of a remote address: the IP address of a
// TCP peer, the whole address of any other.
func hostOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}

// Shutdown stops the server gracefully: it closes the listeners, tells
// every client to open no new calls (they reconnect elsewhere or later),
// waits for the calls in flight to finish, then closes every connection and
// every registered object's strategy. If ctx ends first, Shutdown closes
// everything at once (canceling the running calls' contexts) and returns
// ctx's error without waiting further; Close then waits for the canceled
// calls to return.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	for lis := range s.listeners {
		lis.Close()
	}
	for c := range s.conns {
		c.goAway()
	}
	s.mu.Unlock()

	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for s.active() > 0 {
		select {
		case <-ctx.Done():
			s.closeAll(ctx)
			return ctx.Err()
		case <-tick.C:
		}
	}
	// Every call has queued its reply; let the replies reach the wire.
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		if err := c.flush(ctx); err != nil {
			s.closeAll(ctx)
			return err
		}
	}
	// Hang up so that the last replies reach the clients, not a reset.
	var hangUps sync.WaitGroup
	for _, c := range conns {
		hangUps.Go(func() { c.hangUp(ctx) })
	}
	hangUps.Wait()
	return s.closeAll(ctx)
}

// Stats returns the server's counts.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.retired
	for c := range s.conns {
		c.addStats(&st)
	}
	st.Objects = s.reg.Len()
	return st
}

// peerCame records a new connection of client id: its objects do not end
// while it is connected.
func (s *Server) peerCame(id remoting.ObjectID) { s.mgr.Connected(id) }

// peerGone records the end of a connection of client id; when it was the
// last, the client's objects end after the grace period unless it comes
// back (the lifecycle manager's leases keep that time).
//
// It runs as the peer's OnClose, once every goroutine of the peer has
// exited, and ends the connection's count in s.wg.
func (s *Server) peerGone(id remoting.ObjectID, c *conn) {
	defer s.wg.Done()
	s.mu.Lock()
	s.forget(c)
	c.addStats(&s.retired)
	s.mu.Unlock()
	s.mgr.Disconnected(id)
}

// active returns the number of calls running on all connections.
func (s *Server) active() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for c := range s.conns {
		n += c.active()
	}
	return n
}

// Close stops the server at once: listeners and connections are closed,
// running calls see their context canceled and their clients get
// Unavailable. Close waits for the server's goroutines, including calls
// still running user code (which should return once their context is
// canceled). It is idempotent.
func (s *Server) Close() error {
	err := s.closeAll(context.Background())
	s.wg.Wait()
	return err
}

func (s *Server) closeAll(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for lis := range s.listeners {
		lis.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	// Close the connections before canceling the calls' contexts, so that
	// a call that returns because of the cancel cannot send its clients a
	// Canceled error: they see Unavailable, which is what happened.
	for _, c := range conns {
		c.close()
	}
	s.cancel()
	return s.reg.Close(ctx)
}
