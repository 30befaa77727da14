package peer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/transport"
	"github.com/remoting-go/remoting/internal/wire"
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
	cl.frame.Release() // its results were decoded, or will not be
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
// first use. Once they are open it takes no lock.
func (p *Peer) stream() (*callStream, error) {
	if streams := p.open.Load(); streams != nil {
		return pick(*streams, &p.next), nil
	}
	p.mu.Lock()
	if p.streams == nil && p.openErr == nil {
		p.openErr = p.openLocked()
	}
	streams, err := p.streams, p.openErr
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return pick(streams, &p.next), nil
}

// pick returns the next of streams in turn.
func pick(streams []*callStream, next *atomic.Uint32) *callStream {
	if len(streams) == 1 {
		return streams[0]
	}
	return streams[next.Add(1)%uint32(len(streams))]
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
	p.open.Store(&streams)
	return nil
}

// refuseCalls makes every later call fail with Unavailable; the session
// has ended.
func (p *Peer) refuseCalls() {
	p.mu.Lock()
	if p.openErr == nil {
		p.openErr = unavailable(fmt.Errorf("connection to %s closed", p.sess.RemoteAddr()))
	}
	p.open.Store(nil)
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

// register enters a call that waits for a reply. With async it also
// counts the goroutine that will await the reply into the peer's wait
// group, under the lock that the stream's reader must take before it
// exits, so the count cannot be added after the group drained.
func (cs *callStream) register(cl *call, async bool) (uint64, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.err != nil {
		return 0, cs.err
	}
	if async {
		cs.p.wg.Add(1)
	}
	cs.nextID++
	cs.pending[cs.nextID] = cl
	return cs.nextID, nil
}

// oneway takes a request id for a call that waits for nothing.
func (cs *callStream) oneway() uint64 {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.nextID++
	return cs.nextID
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
		case wire.KindReply, wire.KindError, wire.KindAck:
			cs.mu.Lock()
			cl := cs.pending[f.ID]
			delete(cs.pending, f.ID)
			cs.mu.Unlock()
			if cl != nil {
				cl.frame = f
				cl.done <- struct{}{}
			} else {
				f.Release() // a call that stopped waiting
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

// Send sends inv in inv.Mode on the connection connect returns for it: it is the
// one place where the calling side interprets a mode. An unknown mode, or
// ModeAsync without Done, is InvalidArgument. A call that fails before it
// is sent fails as its mode says: a Fire-and-Forget call is counted in
// onewayFailed (if not nil) and returns the error; an async call returns
// nil and gets the error through Done, on the calling goroutine. See
// requestor.Client.Invoke for the errors.
func Send(ctx context.Context, inv *remoting.Invocation, connect func(context.Context, *remoting.Invocation) (*Peer, error), onewayFailed *atomic.Uint64) error {
	flags, ok := wire.FlagsOf(inv.Mode)
	if !ok {
		return remoting.Errorf(remoting.CodeInvalidArgument, "unknown invocation mode %v of %s", inv.Mode, inv.Method)
	}
	if inv.Mode == remoting.ModeAsync && inv.Done == nil {
		return remoting.Errorf(remoting.CodeInvalidArgument, "async call of %s without a Done function", inv.Method)
	}
	p, err := connect(ctx, inv)
	if err == nil {
		err = p.send(ctx, inv, flags)
	}
	if err != nil {
		switch inv.Mode {
		case remoting.ModeOneway:
			if onewayFailed != nil {
				onewayFailed.Add(1)
			}
		case remoting.ModeAsync:
			inv.Done(err)
			return nil
		}
	}
	return err
}

// Invoke sends inv to the other end of this connection; it implements
// remoting.Caller for the objects the other end exported (callbacks). See
// Send.
func (p *Peer) Invoke(ctx context.Context, inv *remoting.Invocation) error {
	return Send(ctx, inv, p.self, p.opts.OnewayFailed)
}

// send sends inv with the flags of its mode. An async call that is sent
// returns nil at once; its waiter runs Done.
func (p *Peer) send(ctx context.Context, inv *remoting.Invocation, flags wire.Flags) error {
	if err := ctx.Err(); err != nil {
		return contextError(err)
	}
	body, err := wire.MarshalBuffer(inv.Args)
	if err != nil {
		return remoting.Errorf(remoting.CodeInvalidArgument, "encode arguments of %s: %v", inv.Method, err)
	}
	// The frame is copied into the stream's queue by the write below,
	// on this goroutine, before send returns.
	defer wire.PutBuffer(body)
	f := wire.Frame{Kind: wire.KindRequest, Flags: flags, Object: inv.Target.ID, Method: inv.Method, Meta: inv.Meta, Key: inv.Target.Key, Body: body.Bytes()}
	if d, ok := ctx.Deadline(); ok {
		if f.Deadline = time.Until(d); f.Deadline <= 0 {
			return contextError(context.DeadlineExceeded)
		}
	}
	cs, err := p.stream()
	if err != nil {
		return err
	}
	if inv.Mode == remoting.ModeOneway {
		// No reply will come: nothing to correlate, nothing to wait for.
		f.ID = cs.oneway()
		return sendError(ctx, p.write(ctx, cs.st, &f), inv, p)
	}
	cl := getCall()
	async := inv.Mode == remoting.ModeAsync
	if f.ID, err = cs.register(cl, async); err != nil {
		putCall(cl)
		return err
	}
	if err := p.write(ctx, cs.st, &f); err != nil {
		if !cs.unregister(f.ID) {
			<-cl.done
		}
		putCall(cl)
		if async {
			p.wg.Done()
		}
		return sendError(ctx, err, inv, p)
	}
	if async {
		// The reply is awaited by a waiter of the call's own, so that Done
		// never runs on the reader goroutine and a slow Done holds up
		// nothing but itself. Idle waiters are reused (their stacks have
		// grown through the decoder already); register counted a new one
		// into wg, which is given back when an idle one takes the call.
		w := waiterTask{ctx: ctx, cs: cs, cl: cl, id: f.ID, inv: inv}
		select {
		case p.waiters <- w:
			p.wg.Done()
		default:
			go p.waiter(w)
		}
		return nil
	}
	return cs.await(ctx, cl, f.ID, inv)
}

// await waits for the reply to request id, or for ctx to end (then the
// other end is told to cancel).
func (cs *callStream) await(ctx context.Context, cl *call, id uint64, inv *remoting.Invocation) error {
	select {
	case <-cl.done:
	case <-ctx.Done():
		if cs.unregister(id) {
			putCall(cl)
			// Tell the other end; ctx is done, so this queues the frame
			// only if there is room and never waits.
			cs.p.write(ctx, cs.st, &wire.Frame{Kind: wire.KindCancel, ID: id})
			return contextError(ctx.Err())
		}
		<-cl.done // the reply is being delivered: take it
	}
	err := cl.result(inv)
	putCall(cl)
	return err
}

func sendError(ctx context.Context, err error, inv *remoting.Invocation, p *Peer) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, wire.ErrFrameTooLarge):
		return remoting.Errorf(remoting.CodeResourceExhausted, "request %s: %v", inv.Method, err)
	case ctx.Err() != nil:
		return contextError(ctx.Err())
	default:
		return unavailable(fmt.Errorf("send to %s: %w", p.sess.RemoteAddr(), err))
	}
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
	case wire.KindAck:
		return nil
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

// waiterTask is one async call whose reply a waiter awaits.
type waiterTask struct {
	ctx context.Context
	cs  *callStream
	cl  *call
	id  uint64
	inv *remoting.Invocation
}

// waiter awaits async calls and runs their Done, then waits (up to
// workerIdle) to be handed another.
func (p *Peer) waiter(w waiterTask) {
	defer p.wg.Done()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		w.inv.Done(w.cs.await(w.ctx, w.cl, w.id, w.inv))
		w = waiterTask{}
		idle.Reset(workerIdle)
		select {
		case w = <-p.waiters:
		case <-idle.C:
			return
		case <-p.ctx.Done():
			return
		}
	}
}
