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
	nextID  atomic.Uint64 // the last request id taken
	err     error         // set when the stream failed; no new calls

	// The goroutine that reads replies completes async calls itself (see
	// read); a watchdog hands the reading over to a new goroutine when a
	// completion takes longer than doneGrace.
	lead     atomic.Uint64 // the reading goroutine's generation << 1, | 1 while it runs a completion; set under mu
	began    int64         // when the running completion began, as since(epoch); under mu
	watchdog *time.Timer   // runs watch
	watching bool          // the watchdog is armed, under mu

	// Async calls whose context can end, in the order they were sent,
	// until they are watched (see sweepLocked); under mu.
	young    []youngCall
	sweeper  *time.Timer // runs sweep, the backstop for a quiet stream
	sweeping bool        // the sweeper is armed
}

// youngCall is an async call whose context is not watched yet.
type youngCall struct {
	ctx context.Context
	id  uint64
	cl  *call
	at  int64 // when it was sent, as since(epoch)
}

// watchAfter is the age from which an async call's context is watched
// (context.AfterFunc) until the call completes. Most calls complete
// sooner and so never pay for the watch, which costs more than the rest
// of the call's bookkeeping together. The young calls are looked at by
// the calls sent after them, once the oldest is twice this age, so that
// a busy stream needs no timer; a context that ends earlier is noticed
// then, at most about 2 ms late. On a stream that sends nothing more, a
// timer looks every sweepQuiet.
const (
	watchAfter = time.Millisecond
	sweepQuiet = 10 * time.Millisecond
)

// doneGrace is how long the reader of a call stream may run an async
// call's completion (decoding the results and running Done) before
// another goroutine takes over the reading: a completion that returns
// sooner, the common case, costs no hand-off between goroutines, and one
// that takes longer, or blocks, holds up the stream's other replies for
// at most about twice this long and then nothing but itself. The Go
// runtime retakes a processor from a blocking system call in the same
// way. The watchdog that enforces it is armed only while a completion
// runs with other calls pending, the only time it can hold anything up,
// so that a lone caller's completions cost no timer.
const doneGrace = 250 * time.Microsecond

// epoch is the origin of the monotonic times in callStream.began.
var epoch = time.Now()

func since(t time.Time) int64 { return int64(time.Since(t)) }

// call is one outstanding request. Calls are pooled: a call goes back to
// the pool only when no reader can deliver to it any more.
type call struct {
	done  chan struct{} // capacity 1: the reply, error or failure arrived (sync calls)
	frame wire.Frame
	err   error
	// The session the results are decoded for, and what they hold of its
	// budget meanwhile (see Hold).
	sess *transport.Session
	held int64

	// An async call is completed by whoever takes it out of pending: the
	// reader, the stream's failure, or the end of its context.
	inv  *remoting.Invocation // the async call's invocation; nil for a sync call
	stop func() bool          // stops the watch on the async call's context; nil if none
}

var callPool = sync.Pool{New: func() any { return &call{done: make(chan struct{}, 1)} }}

func getCall() *call { return callPool.Get().(*call) }

func putCall(cl *call) {
	cl.frame.Release() // its results were decoded, or will not be
	cl.frame, cl.err, cl.inv, cl.stop, cl.sess = wire.Frame{}, nil, nil, nil, nil
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
		cs := &callStream{p: p, st: st, pending: make(map[uint64]*call)}
		cs.watchdog = time.AfterFunc(time.Hour, cs.watch)
		cs.watchdog.Stop()
		cs.sweeper = time.AfterFunc(time.Hour, cs.sweep)
		cs.sweeper.Stop()
		streams = append(streams, cs)
	}
	for _, cs := range streams {
		p.wg.Add(1)
		go cs.read(0)
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

// register enters a call that waits for a reply. An async call (cl.inv
// set) is counted into the peer's wait group until it completes, under
// the lock that the stream's reader must take before it exits, so the
// count cannot be added after the group drained; if ctx can end, the
// call is entered for the sweeper, which watches ctx from watchAfter on.
func (cs *callStream) register(ctx context.Context, cl *call) (uint64, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.err != nil {
		return 0, cs.err
	}
	id := cs.nextID.Add(1)
	cs.pending[id] = cl
	if cs.lead.Load()&1 == 1 {
		cs.watchLocked() // a completion runs: this call's reply waits for it
	}
	if cl.inv != nil {
		cs.p.wg.Add(1)
		if ctx.Done() != nil {
			now := since(epoch)
			if len(cs.young) > 0 && time.Duration(now-cs.young[0].at) >= 2*watchAfter {
				cs.sweepLocked(now)
			}
			cs.young = append(cs.young, youngCall{ctx: ctx, id: id, cl: cl, at: now})
			if !cs.sweeping {
				cs.sweeping = true
				cs.sweeper.Reset(sweepQuiet)
			}
		}
	}
	return id, nil
}

// sweep is the timer's look at the young calls, for a stream that sends
// nothing more (see watchAfter); it looks again while young calls remain.
func (cs *callStream) sweep() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.sweeping = false
	if cs.err != nil {
		cs.young = nil
		return
	}
	cs.sweepLocked(since(epoch))
	if len(cs.young) > 0 {
		cs.sweeping = true
		cs.sweeper.Reset(sweepQuiet)
	}
}

// sweepLocked takes the async calls that have reached watchAfter off the
// young list: one still pending gets its context watched or, if the
// context has ended, is expired. cs.mu is held.
func (cs *callStream) sweepLocked(now int64) {
	n := 0
	for ; n < len(cs.young); n++ {
		y := cs.young[n]
		if time.Duration(now-y.at) < watchAfter {
			break
		}
		if cs.pending[y.id] != y.cl {
			continue // completed
		}
		if y.ctx.Err() != nil {
			go cs.expire(y.ctx, y.id, y.cl) // it waits for this lock
			continue
		}
		// The watch runs on a goroutine of its own, which waits for
		// this lock; whoever completes the call finds it to stop.
		y.cl.stop = context.AfterFunc(y.ctx, func() { cs.expire(y.ctx, y.id, y.cl) })
	}
	clear(cs.young[:n])
	cs.young = append(cs.young[:0], cs.young[n:]...)
}

// expire completes the async call id, if it is still pending, with its
// context's error and tells the other end to cancel it.
func (cs *callStream) expire(ctx context.Context, id uint64, cl *call) {
	if !cs.unregister(id) {
		return // completed meanwhile
	}
	// ctx is done, so this queues the frame only if there is room.
	cs.p.write(ctx, cs.st, &wire.Frame{Kind: wire.KindCancel, ID: id})
	inv := cl.inv
	putCall(cl)
	inv.Done(contextError(ctx.Err()))
	cs.p.wg.Done()
}

// complete decodes the results of the async call cl, whose reply or
// failure arrived, and runs its Done; the call was taken out of pending.
func (cs *callStream) complete(cl *call) {
	if cl.stop != nil {
		cl.stop()
	}
	inv := cl.inv
	err := cl.result(inv, cs.p.sess)
	putCall(cl)
	inv.Done(err)
	cs.p.wg.Done()
}

// oneway takes a request id for a call that waits for nothing; it takes
// no lock, as nothing is entered.
func (cs *callStream) oneway() uint64 { return cs.nextID.Add(1) }

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
// call with Unavailable and closes the session. gen is the reading
// goroutine's generation: a sync call's reply wakes its caller, and an
// async call is completed right here, its results decoded and its Done
// run, which saves the hand-off to another goroutine that made async
// calls dearer than sync ones. A completion that is still running after
// doneGrace has the reading taken over by a new goroutine (see watch),
// and this one exits when the completion returns.
func (cs *callStream) read(gen uint64) {
	defer cs.p.wg.Done()
	for {
		f, err := cs.st.ReadFrame()
		if err != nil {
			cs.fail(fmt.Errorf("connection to %s lost: %w", cs.p.sess.RemoteAddr(), err))
			return
		}
		switch f.Kind {
		case wire.KindReply, wire.KindError, wire.KindAck:
			busy := gen<<1 | 1
			cs.mu.Lock()
			cl := cs.pending[f.ID]
			delete(cs.pending, f.ID)
			if cl != nil && cl.inv != nil {
				cs.began = since(epoch)
				cs.lead.Store(busy)
				if len(cs.pending) > 0 {
					cs.watchLocked()
				}
			}
			cs.mu.Unlock()
			switch {
			case cl == nil:
				f.Release() // a call that stopped waiting
			case cl.inv == nil:
				cl.frame = f
				cl.done <- struct{}{}
			default:
				cl.frame = f
				cs.complete(cl)
				if !cs.lead.CompareAndSwap(busy, gen<<1) {
					return // promoted: another goroutine reads now
				}
			}
		default:
			cs.p.opts.Logger.Warn("remoting: closing connection: unexpected frame on a call stream", "remote", cs.p.sess.RemoteAddr(), "kind", f.Kind)
			cs.fail(fmt.Errorf("connection to %s closed: unexpected %v frame on a call stream", cs.p.sess.RemoteAddr(), f.Kind))
			return
		}
	}
}

// watchLocked arms the watchdog, if it is not armed; cs.mu is held.
func (cs *callStream) watchLocked() {
	if !cs.watching && cs.err == nil {
		cs.watching = true
		cs.watchdog.Reset(doneGrace)
	}
}

// watch is the watchdog of the stream's completions: if the reading
// goroutine has been in one completion for doneGrace, a new generation
// takes over the reading. It looks again while that completion runs. It
// runs under the lock that fail takes, so that no reader is started once
// the stream has failed (and the wait group could have drained).
func (cs *callStream) watch() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.watching = false
	v := cs.lead.Load()
	if cs.err != nil || v&1 == 0 {
		return
	}
	if took := time.Duration(since(epoch) - cs.began); took < doneGrace {
		cs.watching = true
		cs.watchdog.Reset(doneGrace - took)
		return
	}
	next := v>>1 + 1
	if cs.lead.CompareAndSwap(v, next<<1) { // fails if the completion just returned
		cs.p.wg.Add(1) // safe: the goroutine in the completion is counted
		go cs.read(next)
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
	cs.young = nil
	cs.mu.Unlock()
	cs.watchdog.Stop()
	cs.sweeper.Stop()
	for _, cl := range pending {
		cl.err = err
		if cl.inv != nil {
			go cs.complete(cl) // a blocking Done holds up no other
			continue
		}
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
		return sendError(ctx, p.queue(ctx, cs.st, &f), inv, p)
	}
	cl := getCall()
	async := inv.Mode == remoting.ModeAsync
	if async {
		cl.inv = inv
	}
	if f.ID, err = cs.register(ctx, cl); err != nil {
		putCall(cl)
		return err
	}
	if err := p.write(ctx, cs.st, &f); err != nil {
		if !cs.unregister(f.ID) {
			if async {
				return nil // completed by the stream's failure or the context's end
			}
			<-cl.done
		}
		if async {
			if cl.stop != nil {
				cl.stop()
			}
			p.wg.Done()
		}
		putCall(cl)
		return sendError(ctx, err, inv, p)
	}
	if async {
		// Completed by the stream's reader when the reply arrives (see
		// read), by the stream's failure, or by the end of ctx.
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
	err := cl.result(inv, cs.p.sess)
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
// decoding the results into inv.Reply. What they decode to is counted
// against the session's buffer budget while they are decoded (see
// wire.UnmarshalHeld): a reply that would take it past is refused.
func (cl *call) result(inv *remoting.Invocation, sess *transport.Session) error {
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
		cl.sess, cl.held = sess, 0
		err := wire.UnmarshalHeld(cl.frame.Body, inv.Reply, cl)
		if cl.held != 0 {
			sess.Account(-int(cl.held))
		}
		if errors.Is(err, transport.ErrOverBudget) {
			return remoting.Errorf(remoting.CodeResourceExhausted, "results of %s would decode to more than the connection has room for: %v", inv.Method, err)
		}
		if err != nil {
			return remoting.Errorf(remoting.CodeInternal, "decode results of %s: %v", inv.Method, err)
		}
		return nil
	}
	return remoting.Errorf(remoting.CodeInternal, "unexpected %v frame for %s", cl.frame.Kind, inv.Method)
}

// Hold reserves n bytes of the session's buffer budget for what the
// results of cl decode to, while they are decoded.
func (cl *call) Hold(n int64) error {
	if err := cl.sess.Hold(n); err != nil {
		return err
	}
	cl.held += n
	return nil
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
