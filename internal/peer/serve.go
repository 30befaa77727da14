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

// serveStream reads one call stream the other end opened. A frame that
// does not parse, or a kind that has no place on a call stream, closes the
// whole connection: the stream's framing can no longer be trusted.
func (p *Peer) serveStream(st *transport.Stream) {
	log := p.opts.Logger
	calls := &inflight{m: make(map[uint64]context.CancelFunc)}
	var running sync.WaitGroup
	defer func() {
		running.Wait()
		st.Close()
	}()
	for {
		f, err := st.ReadFrame()
		if err != nil {
			if !errors.Is(err, io.EOF) && !p.sess.IsClosed() {
				log.Warn("remoting: closing connection: bad frame", "remote", st.RemoteAddr(), "err", err)
				p.sess.Close()
			}
			return
		}
		if p.ctx.Err() != nil {
			return // the session has ended; what it had buffered is not served
		}
		switch f.Kind {
		case wire.KindRequest:
			select {
			case p.sem <- struct{}{}:
			case <-p.ctx.Done():
				return
			}
			running.Add(1)
			p.sess.Account(cap(f.Body)) // held until the call ends
			t := task{st: st, f: f, calls: calls, running: &running}
			select {
			case p.work <- t: // an idle worker takes it
			default:
				p.wg.Add(1) // safe: this reader is counted, so wg is not zero
				go p.worker(t)
			}
		case wire.KindCancel:
			calls.cancel(f.ID)
			f.Release()
		default:
			log.Warn("remoting: closing connection: unexpected frame on call stream", "remote", st.RemoteAddr(), "kind", f.Kind)
			p.sess.Close()
			return
		}
	}
}

// handle runs one request and writes its reply.
//
// req is the worker's own Request, reused from call to call: a Request
// does not outlive the Dispatch it is given to.
func (p *Peer) handle(st *transport.Stream, f *wire.Frame, calls *inflight, req *Request) {
	var ctx context.Context
	var cancel context.CancelFunc
	if f.Deadline > 0 {
		ctx, cancel = context.WithTimeout(p.ctx, f.Deadline)
	} else {
		ctx, cancel = context.WithCancel(p.ctx)
	}
	calls.add(f.ID, cancel)
	defer func() {
		calls.remove(f.ID)
		cancel()
	}()

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

// task is one request handed from a stream's reader to a worker.
type task struct {
	st      *transport.Stream
	f       wire.Frame
	calls   *inflight
	running *sync.WaitGroup
}

// workerIdle is how long a worker waits for another request before it
// exits.
const workerIdle = 10 * time.Second

// worker runs requests: the one it was started for, then whatever the
// readers hand it while it is idle. Reusing goroutines keeps their grown
// stacks: a fresh goroutine per request spent a noticeable share of each
// call growing its stack through the decoder. Workers never outnumber
// MaxConcurrentCalls, since a request is handed over only after taking a
// token.
func (p *Peer) worker(t task) {
	defer p.wg.Done()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	var req Request
	for {
		p.handle(t.st, &t.f, t.calls, &req)
		p.sess.Account(-cap(t.f.Body))
		t.f.Release() // the request was decoded, and nothing aliases it
		<-p.sem
		t.running.Done()
		idle.Reset(workerIdle)
		select {
		case t = <-p.work:
		case <-idle.C:
			return
		case <-p.ctx.Done():
			return
		}
	}
}
