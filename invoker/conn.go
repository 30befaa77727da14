package invoker

import (
	"context"
	"net"
	"runtime/debug"
	"sync"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/peer"
	"github.com/remoting-go/remoting/internal/transport"
	"github.com/remoting-go/remoting/wire"
)

// conn is one client connection: the handshake, then a peer that serves
// the client's requests through the Server's Dispatch.
type conn struct {
	srv *Server
	nc  net.Conn

	mu     sync.Mutex
	peer   *peer.Peer
	closed bool
}

// serve performs the handshake and serves the connection until it ends.
func (c *conn) serve() {
	sess, err := transport.Server(c.srv.ctx, c.nc, c.srv.opts.transport())
	if err != nil {
		c.srv.opts.Logger.Warn("remoting: connection refused", "remote", c.nc.RemoteAddr(), "err", err)
		return
	}
	p := peer.New(sess, dispatcher{c.srv}, peer.Options{MaxConcurrentCalls: c.srv.opts.MaxConcurrentCalls, Logger: c.srv.opts.Logger})
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		p.Close()
		return
	}
	c.peer = p
	c.mu.Unlock()
	if c.srv.shuttingDown() {
		p.GoAway()
	}
	<-p.Done()
}

func (c *conn) active() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.peer == nil {
		return 0
	}
	return c.peer.Active()
}

func (c *conn) goAway() {
	c.mu.Lock()
	p := c.peer
	c.mu.Unlock()
	if p != nil {
		p.GoAway()
	}
}

// close ends the connection at once; it does not wait.
func (c *conn) close() {
	c.mu.Lock()
	c.closed = true
	p := c.peer
	c.mu.Unlock()
	if p != nil {
		p.Session().Close()
	} else {
		c.nc.Close()
	}
}

// dispatcher gives a connection's peer the server's objects to serve.
type dispatcher struct{ s *Server }

func (d dispatcher) Dispatch(ctx context.Context, req *peer.Request) (any, error) {
	return d.s.dispatch(ctx, req)
}

// dispatch is the Invoker: it finds the object and method, accepts the
// request, gets an instance from the object's lifecycle strategy and calls
// the method through the skeleton. A panic in user code becomes an
// Internal error for that caller; the server keeps serving.
func (s *Server) dispatch(ctx context.Context, req *peer.Request) (reply any, err error) {
	f := req.Frame
	if f.Object.IsZero() {
		if f.Method != wire.LookupMethod {
			return nil, remoting.Errorf(remoting.CodeNotFound, "method %q not found on the naming service", f.Method)
		}
		req.Accept()
		return s.lookup(Args{body: f.Body})
	}
	v, ok := s.objects.Load(f.Object)
	if !ok {
		return nil, remoting.Errorf(remoting.CodeNotFound, "object %s not found", f.Object)
	}
	obj := v.(*object)
	m, ok := obj.skeleton.Methods[f.Method]
	if !ok {
		return nil, remoting.Errorf(remoting.CodeNotFound, "method %q not found on %s", f.Method, obj.skeleton.Interface)
	}
	req.Accept()
	inst, err := obj.strategy.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer obj.strategy.Release(inst)
	defer func() {
		if p := recover(); p != nil {
			s.opts.Logger.Error("remoting: panic in remote method", "method", f.Method, "object", f.Object, "panic", p, "stack", string(debug.Stack()))
			reply, err = nil, remoting.Errorf(remoting.CodeInternal, "panic in %s: %v", f.Method, p)
		}
	}()
	return m(ctx, inst, Args{body: f.Body})
}

var _ peer.Dispatcher = dispatcher{}
