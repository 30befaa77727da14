package requestor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/transport"
	"github.com/remoting-go/remoting/wire"
)

// conn is the Client Request Handler of one connection: its call streams,
// their pending calls and their reader goroutines.
type conn struct {
	c       *Client
	sess    *transport.Session
	streams []*callStream
	next    atomic.Uint32
	readers atomic.Int32  // reader goroutines still running
	done    chan struct{} // closed when the last reader has exited
}

func newConn(c *Client, sess *transport.Session) (*conn, error) {
	cn := &conn{c: c, sess: sess, done: make(chan struct{})}
	for range c.opts.Streams {
		st, err := sess.Open()
		if err != nil {
			for _, cs := range cn.streams {
				cs.st.Abort()
			}
			return nil, err
		}
		cn.streams = append(cn.streams, &callStream{cn: cn, st: st, pending: make(map[uint64]*call)})
	}
	cn.readers.Store(int32(len(cn.streams)))
	for _, cs := range cn.streams {
		go cs.read()
	}
	return cn, nil
}

// usable reports whether new calls may use the connection: it is open and
// the server has not asked its clients to go away.
func (cn *conn) usable() bool {
	if cn.sess.IsClosed() {
		return false
	}
	select {
	case <-cn.sess.GoingAway():
		return false
	default:
		return true
	}
}

// close ends the connection and waits for its readers, which fail every
// pending call.
func (cn *conn) close() {
	cn.sess.Close()
	<-cn.done
}

func (cn *conn) pick() *callStream {
	if len(cn.streams) == 1 {
		return cn.streams[0]
	}
	return cn.streams[cn.next.Add(1)%uint32(len(cn.streams))]
}

// call is one outstanding request. Calls are pooled: a call goes back to
// the pool only when no reader can deliver to it any more.
type call struct {
	done  chan struct{} // capacity 1: the reply, error or failure arrived
	frame wire.Frame
	err   error
}

var callPool = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

func getCall() *call { return callPool.Get().(*call) }

func putCall(cl *call) {
	cl.frame, cl.err = wire.Frame{}, nil
	callPool.Put(cl)
}

// callStream is one call stream and the calls waiting for replies on it.
type callStream struct {
	cn *conn
	st *transport.Stream

	mu      sync.Mutex
	pending map[uint64]*call
	nextID  uint64
	err     error // set when the stream failed; no new calls
}

func (cs *callStream) register(cl *call) (uint64, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.err != nil {
		return 0, cs.err
	}
	cs.nextID++
	cs.pending[cs.nextID] = cl
	return cs.nextID, nil
}

// unregister removes the call with id and reports whether it was still
// pending (false: a reader is delivering to it, or already has).
func (cs *callStream) unregister(id uint64) bool {
	cs.mu.Lock()
	_, ok := cs.pending[id]
	delete(cs.pending, id)
	cs.mu.Unlock()
	return ok
}

// read delivers replies until the stream fails, then fails every pending
// call with Unavailable and closes the session.
func (cs *callStream) read() {
	defer func() {
		if cs.cn.readers.Add(-1) == 0 {
			// The last reader out stops the streams' writers.
			for _, s := range cs.cn.streams {
				s.st.Abort()
			}
			cs.cn.c.forget(cs.cn)
			close(cs.cn.done)
		}
	}()
	for {
		f, err := cs.st.ReadFrame()
		if err != nil {
			cs.fail(fmt.Errorf("connection to %s lost: %w", cs.cn.c.endpoint, err))
			return
		}
		switch f.Kind {
		case wire.KindReply, wire.KindError:
			cs.mu.Lock()
			cl := cs.pending[f.ID]
			delete(cs.pending, f.ID)
			cs.mu.Unlock()
			if cl != nil {
				cl.frame = f
				cl.done <- struct{}{}
			}
		default:
			cs.fail(fmt.Errorf("connection to %s closed: unexpected %v frame on a call stream", cs.cn.c.endpoint, f.Kind))
			return
		}
	}
}

func (cs *callStream) fail(cause error) {
	err := unavailable(cause)
	cs.mu.Lock()
	if cs.err == nil {
		cs.err = err
	}
	pending := cs.pending
	cs.pending = make(map[uint64]*call)
	cs.mu.Unlock()
	for _, cl := range pending {
		cl.err = err
		cl.done <- struct{}{}
	}
	cs.cn.sess.Close()
}

// call performs one synchronous invocation on the connection.
func (cn *conn) call(ctx context.Context, inv *remoting.Invocation) error {
	body, err := wire.Marshal(inv.Args)
	if err != nil {
		return remoting.Errorf(remoting.CodeInvalidArgument, "encode arguments of %s: %v", inv.Method, err)
	}
	f := wire.Frame{Kind: wire.KindRequest, Object: inv.Target.ID, Method: inv.Method, Meta: inv.Meta, Body: body}
	if d, ok := ctx.Deadline(); ok {
		if f.Deadline = time.Until(d); f.Deadline <= 0 {
			return contextError(context.DeadlineExceeded)
		}
	}
	cs := cn.pick()
	cl := getCall()
	if f.ID, err = cs.register(cl); err != nil {
		putCall(cl)
		return err
	}
	if err := cs.st.WriteFrame(ctx, &f); err != nil {
		if !cs.unregister(f.ID) {
			<-cl.done
		}
		putCall(cl)
		switch {
		case errors.Is(err, wire.ErrFrameTooLarge):
			return remoting.Errorf(remoting.CodeResourceExhausted, "request %s: %v", inv.Method, err)
		case ctx.Err() != nil:
			return contextError(ctx.Err())
		default:
			return unavailable(fmt.Errorf("send to %s: %w", cn.c.endpoint, err))
		}
	}
	select {
	case <-cl.done:
	case <-ctx.Done():
		if cs.unregister(f.ID) {
			putCall(cl)
			// Tell the server; ctx is done, so this queues the frame only
			// if there is room and never waits.
			cs.st.WriteFrame(ctx, &wire.Frame{Kind: wire.KindCancel, ID: f.ID})
			return contextError(ctx.Err())
		}
		<-cl.done // the reply is being delivered: take it
	}
	err = cl.result(inv)
	putCall(cl)
	return err
}

// result turns the delivered frame (or failure) into the call's outcome,
// decoding the results into inv.Reply.
func (cl *call) result(inv *remoting.Invocation) error {
	if cl.err != nil {
		return cl.err
	}
	switch cl.frame.Kind {
	case wire.KindError:
		return wire.DecodeError(cl.frame.Body)
	case wire.KindReply:
		if inv.Reply == nil {
			return nil
		}
		if err := wire.Unmarshal(cl.frame.Body, inv.Reply); err != nil {
			return remoting.Errorf(remoting.CodeInternal, "decode results of %s: %v", inv.Method, err)
		}
		return nil
	}
	return remoting.Errorf(remoting.CodeInternal, "unexpected %v frame for %s", cl.frame.Kind, inv.Method)
}
