package peer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/transport"
	"github.com/remoting-go/remoting/internal/wire"
)

// Request is one request received from the other end.
type Request struct {
	// Frame is the request frame: object, method, deadline, metadata,
	// encoded arguments.
	Frame *wire.Frame
	// Peer is the end that received it, through which the method may call
	// the other end back.
	Peer *Peer

	st       *transport.Stream
	accepted bool
	held     int64 // bytes of the connection's budget held for the call (see Hold)
}

// Hold reserves n bytes of the connection's buffer budget until the call
// ends, for what its arguments decode to: wire.UnmarshalHeld calls it. A
// request whose arguments would take the connection past its budget is
// refused with ResourceExhausted.
func (r *Request) Hold(n int64) error {
	if err := r.Peer.sess.Hold(n); err != nil {
		return remoting.Errorf(remoting.CodeResourceExhausted, "arguments of %s would decode to more than the connection has room for: %v", r.Frame.Method, err)
	}
	r.held += n
	return nil
}

// Accept records that the object and method exist and, for a Sync with
// Server request, sends the Ack before the method runs.
func (r *Request) Accept() {
	if r.accepted {
		return
	}
	r.accepted = true
	if r.Frame.Flags&wire.FlagAck == 0 {
		return
	}
	if err := r.Peer.write(r.Peer.ctx, r.st, &wire.Frame{Kind: wire.KindAck, ID: r.Frame.ID}); err != nil {
		r.Peer.opts.Logger.Debug("remoting: ack not sent", "method", r.Frame.Method, "err", err)
	}
}

// inflight maps the request ids of a stream's running requests to the
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

// end removes the request id and cancels its context.
func (in *inflight) end(id uint64, cancel context.CancelFunc) {
	in.mu.Lock()
	delete(in.m, id)
	in.mu.Unlock()
	cancel()
}

func (in *inflight) cancel(id uint64) {
	in.mu.Lock()
	cancel := in.m[id]
	in.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// servedStream is a call stream the other end opened, with what the
// workers that serve it share.
type servedStream struct {
	st      *transport.Stream
	calls   inflight
	running sync.WaitGroup // the stream's requests that have not ended
}

// lead reads ss, as the stream's one reader, until a request arrives:
// then it hands the reading on to another worker and returns the request,
// which its caller runs at once, with no hand-off between the read and
// the run (the Leader/Followers pattern). It returns false once the
// stream has ended, which it has cleaned up after. A frame that does not
// parse, or a kind that has no place on a call stream, closes the whole
// connection: the stream's framing can no longer be trusted.
func (p *Peer) lead(ss *servedStream) (task, bool) {
	st := ss.st
	for {
		f, err := st.ReadFrame()
		if err != nil {
			if !errors.Is(err, io.EOF) && !p.sess.IsClosed() {
				p.opts.Logger.Warn("remoting: closing connection: bad frame", "remote", st.RemoteAddr(), "err", err)
				p.sess.Close()
			}
			p.endStream(ss)
			return task{}, false
		}
		if p.ctx.Err() != nil {
			p.endStream(ss) // the session has ended; what it had buffered is not served
			return task{}, false
		}
		switch f.Kind {
		case wire.KindRequest:
			select {
			case p.sem <- struct{}{}:
			default:
				select { // at MaxConcurrentCalls: wait for one to end
				case p.sem <- struct{}{}:
				case <-p.ctx.Done():
					p.endStream(ss)
					return task{}, false
				}
			}
			ss.running.Add(1)
			p.sess.Account(cap(f.Body)) // held until the call ends
			next := task{ss: ss, lead: true}
			if w := p.workers.get(); w != nil {
				w.tasks <- next // an idle worker reads on
			} else {
				p.wg.Add(1) // safe: this goroutine is counted, so wg is not zero
				go p.worker(next)
			}
			return task{ss: ss, f: f}, true
		case wire.KindCancel:
			ss.calls.cancel(f.ID)
			f.Release()
		default:
			p.opts.Logger.Warn("remoting: closing connection: unexpected frame on call stream", "remote", st.RemoteAddr(), "kind", f.Kind)
			p.sess.Close()
			p.endStream(ss)
			return task{}, false
		}
	}
}

// endStream waits for the requests of a stream that has ended, then
// closes it; its last reader calls it.
func (p *Peer) endStream(ss *servedStream) {
	ss.running.Wait()
	ss.st.Close()
	p.mu.Lock()
	delete(p.accepted, ss.st)
	p.mu.Unlock()
}

// handle runs one request and writes its reply.
//
// req is the worker's own Request, reused from call to call: a Request
// does not outlive the Dispatch it is given to.
func (p *Peer) handle(st *transport.Stream, f *wire.Frame, calls *inflight, req *Request) {
	ctx, cancel := p.ctx, context.CancelFunc(nil)
	switch {
	case f.Deadline > 0:
		ctx, cancel = context.WithTimeout(p.ctx, f.Deadline)
	case f.Flags&(wire.FlagNoReply|wire.FlagAck) != wire.FlagNoReply:
		ctx, cancel = context.WithCancel(p.ctx)
	default:
		// Fire and forget without a deadline: the caller keeps no record
		// of the call and so never cancels it, and the session's end is
		// all that ends it. Sparing the context of its own and the entry
		// in calls is a good part of what such a request costs.
	}
	if cancel != nil {
		calls.add(f.ID, cancel)
		defer calls.end(f.ID, cancel)
	}

	*req = Request{Frame: f, Peer: p, st: st}
	var reply any
	var err error
	if p.d == nil {
		err = remoting.Errorf(remoting.CodeNotFound, "object %s not found: this end serves no objects", f.Object)
	} else {
		reply, err = p.d.Dispatch(ctx, req)
	}
	if err == nil && ctx.Err() != nil {
		// The caller has stopped waiting (its deadline passed, or it
		// canceled) or the connection is gone: encoding the results would
		// be wasted, and a large reply would only queue for a peer that
		// may not read it.
		err = ctx.Err()
	}
	if f.Flags&wire.FlagNoReply != 0 && (req.accepted || f.Flags&wire.FlagAck == 0) {
		// Fire and forget, or Sync with Server after the ack: no reply.
		// A Sync-with-Server request that was never accepted still gets
		// its error, in place of the ack.
		return
	}
	out := wire.Frame{Kind: wire.KindReply, ID: f.ID}
	if err == nil && reply != nil {
		var body *bytes.Buffer
		body, err = wire.MarshalBuffer(reply)
		if err != nil {
			err = remoting.Errorf(remoting.CodeInternal, "encode results of %s: %v", f.Method, err)
		} else {
			defer wire.PutBuffer(body) // the write below copies the frame
			out.Body = body.Bytes()
		}
	}
	if err != nil {
		out = wire.Frame{Kind: wire.KindError, ID: f.ID, Body: wire.EncodeError(err)}
	}
	werr := p.write(p.ctx, st, &out)
	if errors.Is(werr, wire.ErrFrameTooLarge) {
		tooLarge := remoting.Errorf(remoting.CodeResourceExhausted, "results of %s: %v", f.Method, werr)
		werr = p.write(p.ctx, st, &wire.Frame{Kind: wire.KindError, ID: f.ID, Body: wire.EncodeError(tooLarge)})
	}
	if werr != nil {
		p.opts.Logger.Debug("remoting: reply not sent", "remote", st.RemoteAddr(), "method", f.Method, "err", werr)
	}
}

// task is work for a worker: the reading of a stream (lead), or one of
// its requests to run.
type task struct {
	ss   *servedStream
	lead bool
	f    wire.Frame
}

// workerIdle is how long a worker waits for another request before it
// exits.
const workerIdle = 10 * time.Second

// worker serves call streams: it reads a stream until a request comes
// (lead), hands the reading on and runs the request, then waits, idle,
// to be handed the reading of a stream again. Reusing goroutines keeps
// their grown stacks: a fresh goroutine per request spent a noticeable
// share of each call growing its stack through the decoder. Workers never
// outnumber MaxConcurrentCalls plus one reader per stream, since a
// request is read only after taking a token.
func (p *Peer) worker(t task) {
	defer p.wg.Done()
	w := &idleWorker{tasks: make(chan task, 1)}
	var req Request
	for {
		ok := true
		if t.lead {
			t, ok = p.lead(t.ss)
		}
		if ok {
			p.handle(t.ss.st, &t.f, &t.ss.calls, &req)
			p.sess.Account(-cap(t.f.Body) - int(req.held))
			t.f.Release() // the request was decoded, and nothing aliases it
			<-p.sem
			t.ss.running.Done()
		}
		if !p.workers.put(w) {
			return
		}
		if t, ok = <-w.tasks; !ok {
			return
		}
	}
}

// idleWorker is a worker waiting for a task (a stream to read) on a
// channel of its own:
// with one channel shared by all, and the session's and a timer's
// channels beside it, every hand-off contended for the locks of all three
// with every idle worker.
type idleWorker struct {
	tasks chan task // capacity 1; closed to make the worker exit
	since int64     // when it became idle, as since(epoch)
}

// workerPool holds a peer's idle workers, most recently idle last, and
// closes those idle for workerIdle.
type workerPool struct {
	mu      sync.Mutex
	idle    []*idleWorker
	closed  bool
	reaping bool
	reaper  *time.Timer
}

// get takes the most recently idle worker (its stack is warm), or returns
// nil if none is idle.
func (wp *workerPool) get() *idleWorker {
	wp.mu.Lock()
	n := len(wp.idle)
	if n == 0 {
		wp.mu.Unlock()
		return nil
	}
	w := wp.idle[n-1]
	wp.idle[n-1] = nil
	wp.idle = wp.idle[:n-1]
	wp.mu.Unlock()
	return w
}

// put makes w idle; it reports false, and the worker should exit, once
// the pool is closed.
func (wp *workerPool) put(w *idleWorker) bool {
	w.since = since(epoch)
	wp.mu.Lock()
	defer wp.mu.Unlock()
	if wp.closed {
		return false
	}
	wp.idle = append(wp.idle, w)
	if !wp.reaping {
		wp.reaping = true
		if wp.reaper == nil {
			wp.reaper = time.AfterFunc(workerIdle, wp.reap)
		} else {
			wp.reaper.Reset(workerIdle)
		}
	}
	return true
}

// reap closes the workers idle for workerIdle, the longest idle first,
// and looks again while any are idle.
func (wp *workerPool) reap() {
	wp.mu.Lock()
	defer wp.mu.Unlock()
	wp.reaping = false
	if wp.closed {
		return
	}
	now := since(epoch)
	n := 0
	for ; n < len(wp.idle); n++ {
		if age := time.Duration(now - wp.idle[n].since); age < workerIdle {
			wp.reaping = true
			wp.reaper.Reset(workerIdle - age)
			break
		}
		close(wp.idle[n].tasks)
	}
	clear(wp.idle[:n])
	wp.idle = append(wp.idle[:0], wp.idle[n:]...)
}

// close makes every idle worker exit, and every worker that becomes idle
// from now on.
func (wp *workerPool) close() {
	wp.mu.Lock()
	defer wp.mu.Unlock()
	wp.closed = true
	if wp.reaper != nil {
		wp.reaper.Stop()
	}
	for _, w := range wp.idle {
		close(w.tasks)
	}
	wp.idle = nil
}
