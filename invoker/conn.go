package invoker

import (
	"context"
	"net"
	"sync"

	"github.com/remoting-go/remoting/internal/peer"
	"github.com/remoting-go/remoting/internal/transport"
	"github.com/remoting-go/remoting/internal/wire"
)

// conn is one client connection: the handshake, then a peer that serves
// the client's requests through the Server's Dispatch.
type conn struct {
	srv  *Server
	nc   net.Conn
	host string // the remote host, as Server.perHost counts it

	mu     sync.Mutex
	peer   *peer.Peer
	closed bool
	// starting is set once the handshake is done, before the peer
	// starts serving.
	starting bool
}

// serve performs the handshake and starts a peer that serves the
// connection, and returns the peer. Then the peer's OnClose ends the
// connection's bookkeeping (Server.peerGone), and no goroutine waits for
// the peer meanwhile. If the handshake fails, serve ends the bookkeeping
// itself and returns the handshake's error.
func (c *conn) serve() (*peer.Peer, error) {
	sess, err := transport.Server(c.srv.ctx, c.nc, c.srv.opts.transport(c.srv.budget))
	if err != nil {
		c.srv.opts.Logger.Warn("remoting: connection refused", "remote", c.nc.RemoteAddr(), "err", err)
		c.srv.mu.Lock()
		c.srv.forget(c)
		c.srv.mu.Unlock()
		c.srv.wg.Done()
		return nil, err
	}
	id := sess.RemoteID()
	c.mu.Lock()
	c.starting = true
	c.mu.Unlock()
	c.srv.peerCame(id)
	p := peer.New(sess, c.srv.reg, peer.Options{
		MaxConcurrentCalls: c.srv.opts.MaxConcurrentCalls,
		Logger:             c.srv.opts.Logger,
		// Recorded before the peer serves a request, so that Stats,
		// Shutdown and close see every connection whose calls may run.
		OnStart: func(p *peer.Peer) {
			c.mu.Lock()
			c.peer = p
			c.mu.Unlock()
		},
		OnClose: func(*peer.Peer) { c.srv.peerGone(id, c) },
	})
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		p.Close() // close ran before OnStart, and closed only nc
		return p, nil
	}
	if c.srv.shuttingDown() {
		p.GoAway()
	}
	return p, nil
}

// addStats adds the connection's counts to st. The caller holds srv.mu.
func (c *conn) addStats(st *Stats) {
	c.mu.Lock()
	p := c.peer
	c.mu.Unlock()
	if p == nil {
		return
	}
	if !p.Session().IsClosed() {
		st.Connections++
		st.Running += p.Active()
	}
	st.Replies += p.Sent(wire.KindReply)
	st.Errors += p.Sent(wire.KindError)
	st.Acks += p.Sent(wire.KindAck)
}

// active returns the number of calls the connection runs. A connection
// that has shaken hands but whose peer is not yet recorded counts one: it
// is about to serve calls, and Shutdown must wait for them. One still
// shaking hands counts none.
func (c *conn) active() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.peer == nil {
		if c.starting && !c.closed {
			return 1
		}
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

// flush waits until the replies already queued have been written.
func (c *conn) flush(ctx context.Context) error {
	c.mu.Lock()
	p := c.peer
	c.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.Flush(ctx)
}

// hangUp closes the connection once the client has read what was sent,
// for at most a short bounded time (transport.Session.CloseGracefully).
func (c *conn) hangUp(ctx context.Context) {
	c.mu.Lock()
	p := c.peer
	c.mu.Unlock()
	if p != nil {
		p.Session().CloseGracefully(ctx)
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
