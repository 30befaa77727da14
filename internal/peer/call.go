package peer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/transport"
	"github.com/remoting-go/remoting/wire"
)

// callStream is one call stream this end opened, and the calls waiting for
// replies on it.
type callStream struct {
	p  *Peer
	st *transport.Stream

	mu      sync.Mutex
	pending map[uint64]*call
	nextID  uint64
	err     error // set when the stream failed; no new calls
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

// OpenStreams opens this end's call streams now rather than on the first
// call, so that a failure shows at once.
func (p *Peer) OpenStreams() error {
	_, err := p.stream()
	return err
}

// stream picks the call stream for the next call, opening the streams on
// first use.
func (p *Peer) stream() (*callStream, error) {
	p.mu.Lock()
	if p.streams == nil && p.openErr == nil {
		p.openErr = p.openLocked()
	}
	streams, err := p.streams, p.openErr
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if len(streams) == 1 {
		return streams[0], nil
	}
	return streams[p.next.Add(1)%uint32(len(streams))], nil
}

func (p *Peer) openLocked() error {
	streams := make([]*callStream, 0, p.opts.Streams)
	for range p.opts.Streams {
		st, err := p.sess.Open()
		if err != nil {
			for _, cs := range streams {
				cs.st.Abort()
			}
			return unavailable(fmt.Errorf("open call stream to %s: %w", p.sess.RemoteAddr(), err))
		}
		streams = append(streams, &callStream{p: p, st: st, pending: make(map[uint64]*call)})
	}
	for _, cs := range streams {
		p.wg.Add(1)
		go cs.read()
	}
	p.streams = streams
	return nil
}

// refuseCalls makes every later call fail with Unavailable; the session
// has ended.
func (p *Peer) refuseCalls() {
	p.mu.Lock()
	if p.openErr == nil {
		p.openErr = unavailable(fmt.Errorf("connection to %s closed", p.sess.RemoteAddr()))
	}
	p.mu.Unlock()
}

// abortStreams stops the writers of this end's call streams.
func (p *Peer) abortStreams() {
	p.mu.Lock()
	streams := p.streams
	p.mu.Unlock()
	for _, cs := range streams {
		cs.st.Abort()
	}
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
	defer cs.p.wg.Done()
	for {
		f, err := cs.st.ReadFrame()
		if err != nil {
			cs.fail(fmt.Errorf("connection to %s lost: %w", cs.p.sess.RemoteAddr(), err))
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
			cs.p.opts.Logger.Warn("remoting: closing connection: unexpected frame on a call stream", "remote", cs.p.sess.RemoteAddr(), "kind", f.Kind)
			cs.fail(fmt.Errorf("connection to %s closed: unexpected %v frame on a call stream", cs.p.sess.RemoteAddr(), f.Kind))
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
	cs.p.sess.Close()
}

// Invoke sends inv to the other end and waits for the reply; it implements
// remoting.Caller. See requestor.Client.Invoke for the errors.
func (p *Peer) Invoke(ctx context.Context, inv *remoting.Invocation) error {
	if err := ctx.Err(); err != nil {
		return contextError(err)
	}
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
	cs, err := p.stream()
	if err != nil {
		return err
	}
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
			return unavailable(fmt.Errorf("send to %s: %w", p.sess.RemoteAddr(), err))
		}
	}
	select {
	case <-cl.done:
	case <-ctx.Done():
		if cs.unregister(f.ID) {
			putCall(cl)
			// Tell the other end; ctx is done, so this queues the frame
			// only if there is room and never waits.
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

// Unavailable wraps a transport failure as a *remoting.Error with
// CodeUnavailable (unless it already is one).
func Unavailable(err error) *remoting.Error { return unavailable(err) }

func unavailable(err error) *remoting.Error {
	var re *remoting.Error
	if errors.As(err, &re) && re.Code == remoting.CodeUnavailable {
		return re
	}
	return &remoting.Error{Code: remoting.CodeUnavailable, Message: err.Error(), Cause: err}
}

// ContextError turns a context's error into a *remoting.Error with
// CodeDeadlineExceeded or CodeCanceled that wraps it.
func ContextError(err error) *remoting.Error { return contextError(err) }

func contextError(err error) *remoting.Error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &remoting.Error{Code: remoting.CodeDeadlineExceeded, Message: err.Error(), Cause: err}
	}
	return &remoting.Error{Code: remoting.CodeCanceled, Message: err.Error(), Cause: err}
}
