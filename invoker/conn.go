package invoker

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime/debug"
	"sync"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/transport"
	"github.com/remoting-go/remoting/wire"
)

// conn is the Server Request Handler of one client connection.
type conn struct {
	srv *Server
	nc  net.Conn
	sem chan struct{} // one token per running call

	mu     sync.Mutex
	sess   *transport.Session
	closed bool
}

// serve performs the handshake and serves the connection's call streams
// until the session ends, then waits for its calls to return.
func (c *conn) serve() {
	log := c.srv.opts.Logger
	sess, err := transport.Server(c.srv.ctx, c.nc, c.srv.opts.transport())
	if err != nil {
		log.Warn("remoting: connection refused", "remote", c.nc.RemoteAddr(), "err", err)
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		sess.Close()
		return
	}
	c.sess = sess
	c.mu.Unlock()
	if c.srv.shuttingDown() {
		sess.GoAway()
	}

	ctx, cancel := context.WithCancel(c.srv.ctx)
	var streams sync.WaitGroup
	for {
		st, err := sess.Accept()
		if err != nil {
			break
		}
		streams.Add(1)
		go func() {
			defer streams.Done()
			c.serveStream(ctx, st)
		}()
	}
	// The session is gone: cancel the calls still running and wait for them.
	cancel()
	sess.Close()
	streams.Wait()
}

func (c *conn) goAway() {
	c.mu.Lock()
	sess := c.sess
	c.mu.Unlock()
	if sess != nil {
		sess.GoAway()
	}
}

func (c *conn) close() {
	c.mu.Lock()
	c.closed = true
	sess := c.sess
	c.mu.Unlock()
	if sess != nil {
		sess.Close()
	} else {
		c.nc.Close()
	}
}

// inflight maps the request ids of a stream's running calls to the
// functions that cancel them.
type inflight struct {
	mu sync.Mutex
	m  map[uint64]context.CancelFunc
}

func (in *inflight) add(id uint64, cancel context.CancelFunc) {
	in.mu.Lock()
	in.m[id] = cancel
	in.mu.Unlock()
}

func (in *inflight) remove(id uint64) {
	in.mu.Lock()
	delete(in.m, id)
	in.mu.Unlock()
}

func (in *inflight) cancel(id uint64) {
	in.mu.Lock()
	cancel := in.m[id]
	in.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// serveStream reads one call stream. A frame that does not parse, or a
// kind that has no place on a call stream, closes the whole connection:
// the stream's framing can no longer be trusted.
func (c *conn) serveStream(ctx context.Context, st *transport.Stream) {
	log := c.srv.opts.Logger
	calls := &inflight{m: make(map[uint64]context.CancelFunc)}
	var running sync.WaitGroup
	defer func() {
		running.Wait()
		st.Close()
	}()
	for {
		f, err := st.ReadFrame()
		if err != nil {
			if !errors.Is(err, io.EOF) && !c.sess.IsClosed() {
				log.Warn("remoting: closing connection: bad frame", "remote", st.RemoteAddr(), "err", err)
				c.sess.Close()
			}
			return
		}
		switch f.Kind {
		case wire.KindRequest:
			select {
			case c.sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			c.srv.active.Add(1)
			running.Add(1)
			go func() {
				defer func() {
					<-c.sem
					c.srv.active.Add(-1)
					running.Done()
				}()
				c.handle(ctx, st, &f, calls)
			}()
		case wire.KindCancel:
			calls.cancel(f.ID)
		default:
			log.Warn("remoting: closing connection: unexpected frame on call stream", "remote", st.RemoteAddr(), "kind", f.Kind)
			c.sess.Close()
			return
		}
	}
}

// handle runs one request and writes its reply.
func (c *conn) handle(ctx context.Context, st *transport.Stream, f *wire.Frame, calls *inflight) {
	var cancel context.CancelFunc
	if f.Deadline > 0 {
		ctx, cancel = context.WithTimeout(ctx, f.Deadline)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	calls.add(f.ID, cancel)
	defer func() {
		calls.remove(f.ID)
		cancel()
	}()

	reply, accepted, err := c.invoke(ctx, st, f)
	if f.Flags&wire.FlagNoReply != 0 && (accepted || f.Flags&wire.FlagAck == 0) {
		// Fire and forget, or Sync with Server after the ack: no reply.
		// A Sync-with-Server request that was never accepted still gets
		// its error, in place of the ack.
		return
	}
	out := wire.Frame{Kind: wire.KindReply, ID: f.ID}
	if err == nil && reply != nil {
		out.Body, err = wire.Marshal(reply)
		if err != nil {
			err = remoting.Errorf(remoting.CodeInternal, "encode results of %s: %v", f.Method, err)
		}
	}
	if err != nil {
		out = wire.Frame{Kind: wire.KindError, ID: f.ID, Body: wire.EncodeError(err)}
	}
	werr := st.WriteFrame(c.srv.ctx, &out)
	if errors.Is(werr, wire.ErrFrameTooLarge) {
		tooLarge := remoting.Errorf(remoting.CodeResourceExhausted, "results of %s: %v", f.Method, werr)
		werr = st.WriteFrame(c.srv.ctx, &wire.Frame{Kind: wire.KindError, ID: f.ID, Body: wire.EncodeError(tooLarge)})
	}
	if werr != nil {
		c.srv.opts.Logger.Debug("remoting: reply not sent", "remote", st.RemoteAddr(), "method", f.Method, "err", werr)
	}
}

// invoke is the Invoker: it finds the object and method, acknowledges the
// request if asked to, gets an instance from the lifecycle strategy and
// dispatches through the skeleton. A panic in user code becomes an
// Internal error.
//
// accepted reports whether the request got as far as the ack: object and
// method were found.
func (c *conn) invoke(ctx context.Context, st *transport.Stream, f *wire.Frame) (reply any, accepted bool, err error) {
	if f.Object.IsZero() {
		if f.Method != wire.LookupMethod {
			return nil, false, remoting.Errorf(remoting.CodeNotFound, "method %q not found on the naming service", f.Method)
		}
		c.ack(st, f)
		reply, err = c.srv.lookup(Args{body: f.Body})
		return reply, true, err
	}
	v, ok := c.srv.objects.Load(f.Object)
	if !ok {
		return nil, false, remoting.Errorf(remoting.CodeNotFound, "object %s not found", f.Object)
	}
	obj := v.(*object)
	m, ok := obj.skeleton.Methods[f.Method]
	if !ok {
		return nil, false, remoting.Errorf(remoting.CodeNotFound, "method %q not found on %s", f.Method, obj.skeleton.Interface)
	}
	c.ack(st, f)
	accepted = true
	inst, err := obj.strategy.Acquire(ctx)
	if err != nil {
		return nil, accepted, err
	}
	defer obj.strategy.Release(inst)
	defer func() {
		if p := recover(); p != nil {
			c.srv.opts.Logger.Error("remoting: panic in remote method", "method", f.Method, "object", f.Object, "panic", p, "stack", string(debug.Stack()))
			reply, err = nil, remoting.Errorf(remoting.CodeInternal, "panic in %s: %v", f.Method, p)
		}
	}()
	reply, err = m(ctx, inst, Args{body: f.Body})
	return reply, accepted, err
}

// ack tells a Sync-with-Server caller that its request was accepted.
func (c *conn) ack(st *transport.Stream, f *wire.Frame) {
	if f.Flags&wire.FlagAck == 0 {
		return
	}
	if err := st.WriteFrame(c.srv.ctx, &wire.Frame{Kind: wire.KindAck, ID: f.ID}); err != nil {
		c.srv.opts.Logger.Debug("remoting: ack not sent", "method", f.Method, "err", err)
	}
}
