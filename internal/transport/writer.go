package transport

import (
	"context"
	"errors"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/remoting-go/remoting/internal/wire"
)

// errWriterClosed is returned by writes after Close.
var errWriterClosed = errors.New("transport: stream closed")

// ErrStalled is returned by writes to a stream whose peer has read
// nothing for the write timeout: a wait for queue space that long, or a
// write that long, fails with it, and the session is closed.
var ErrStalled = errors.New("transport: peer stopped reading: write timed out")

// writerConfig configures a writer.
type writerConfig struct {
	maxFrame   int    // the largest frame the peer accepts
	maxPending int    // queued bytes beyond which writers wait
	meter      *meter // counts the queued bytes; nil counts nothing
	// timeout, if positive, bounds a wait for queue space and each write
	// of a batch; deadline sets the write deadline for the latter.
	timeout  time.Duration
	deadline func(time.Time) error
	// broken, if set, is called once with the error of the first write
	// that failed (ErrStalled for one that timed out) or wait that timed
	// out: the stream can no longer be trusted, as a frame may have been
	// cut.
	broken func(error)
}

// writer coalesces frames: callers append encoded frames to a pending
// buffer; whoever writes takes whatever has accumulated and writes it in
// a single Write, so that under load many frames share one write (and one
// yamux data frame, and one TCP segment) while a lone frame goes out at
// once. A caller that finds nobody writing and no goroutine running, on a
// stream whose last batch was a lone frame with nothing queued behind it,
// and that may wait for the write (see mayWait), writes its frame itself,
// so that a lone frame costs no hand-off between goroutines. Otherwise
// the frame is queued for a goroutine, and its caller returns at once:
// under load the goroutine, which yields before it takes a batch, gathers
// larger batches than callers writing in turn would (with 64 callers,
// callers writing whenever nobody wrote took 1.7 times as long a call).
// The goroutine runs only while there is something to write: the write
// that leaves frames behind starts it, and it exits once the queue has
// been empty for writerLinger, so that an idle stream costs no goroutine.
type writer struct {
	w io.Writer
	writerConfig

	mu      sync.Mutex
	pending []byte
	spare   []byte
	err     error         // sticky: the first write error, or errWriterClosed
	closing bool          // shutdown was called: refuse new frames, flush the rest
	running bool          // the goroutine is running
	idle    bool          // the goroutine waits for frames (see writerLinger)
	wake    chan struct{} // capacity 1: wakes an idle goroutine
	writing bool          // a batch is being written, by a caller or the goroutine
	queued  int           // frames in pending
	batch   int           // frames in the batch being written
	held    bool          // pending has a frame that queueFrame left to the goroutine
	gather  bool          // the batch being written has one
	busy    bool          // the last batch had several frames, or frames queued during its write
	space   chan struct{} // closed when pending is taken; nil if nobody waits
	done    chan struct{} // closed when the writer has failed or shut down and its goroutine has exited
	ended   bool          // done is closed
	until   time.Time     // the write deadline set on the stream; the goroutine's
}

// maxIdleBuffer is the largest buffer a writer keeps while it is idle.
const maxIdleBuffer = 64 << 10

func newWriter(w io.Writer, cfg writerConfig, preface []byte) *writer {
	wr := &writer{
		w:            w,
		writerConfig: cfg,
		done:         make(chan struct{}),
		wake:         make(chan struct{}, 1),
	}
	if len(preface) > 0 {
		wr.mu.Lock()
		wr.pending = append(wr.pending, preface...)
		wr.meter.account(len(preface))
		// The preface goes out at once, on a goroutine that does not
		// linger after it unless frames queue behind it, so that the
		// stream's first frames find no goroutine to hand off to.
		wr.running = true
		go wr.loop(false)
		wr.mu.Unlock()
	}
	return wr
}

// writeFrame queues f, and writes it if nobody is writing and ctx allows
// the wait (see mayWait). Otherwise it waits only while more than
// maxPending bytes are already queued, which happens when the peer reads
// slower than this end writes, and then only until ctx ends or, if the
// peer reads nothing meanwhile, for the timeout. A write that fails breaks
// the writer, as the goroutine's would; the frame counts as queued.
func (w *writer) writeFrame(ctx context.Context, f *wire.Frame) error {
	return w.send(ctx, f, true)
}

// queueFrame is writeFrame, except that it never writes f itself: f is
// left to the goroutine, which gathers the frames that a caller who waits
// for nothing queues in a row into few writes.
func (w *writer) queueFrame(ctx context.Context, f *wire.Frame) error {
	return w.send(ctx, f, false)
}

func (w *writer) send(ctx context.Context, f *wire.Frame, inline bool) error {
	w.mu.Lock()
	var timeout <-chan time.Time
	for w.err == nil && len(w.pending) >= w.maxPending {
		if w.space == nil {
			w.space = make(chan struct{})
		}
		space := w.space
		w.mu.Unlock()
		if timeout == nil && w.timeout > 0 {
			t := time.NewTimer(w.timeout)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-space:
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout:
			w.breakWith(ErrStalled)
			return ErrStalled
		}
		w.mu.Lock()
	}
	if w.err != nil || w.closing {
		err := w.err
		if err == nil {
			err = errWriterClosed
		}
		w.mu.Unlock()
		return err
	}
	if inline && len(f.Body) > maxInline && len(w.pending) == 0 && !w.writing && !w.running && w.mayWait(ctx) {
		return w.writeLarge(f)
	}
	start := len(w.pending)
	w.pending = wire.AppendFrame(w.pending, f)
	if err := wire.CheckSize(w.pending, start, w.maxFrame); err != nil {
		w.pending = w.pending[:start]
		w.mu.Unlock()
		return err
	}
	w.meter.account(len(w.pending) - start)
	w.queued++
	w.held = w.held || !inline
	if inline && !w.writing && !w.running && !w.busy && len(w.pending) <= maxInline && w.mayWait(ctx) {
		w.writeInline()
		return nil
	}
	if !w.writing {
		w.startLocked()
	}
	w.mu.Unlock()
	return nil
}

// maxInline is the largest batch a caller writes itself; a larger one,
// which may wait for the peer's window, is left to the goroutine, except
// a lone large frame with nothing queued (see writeLarge).
const maxInline = 64 << 10

// mayWait reports whether the caller, with ctx, may write its frame
// itself: a write waits for a peer that stopped reading until the write
// timeout, so only a caller whose context has no deadline that would pass
// sooner, and has not ended, may.
func (w *writer) mayWait(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	d, ok := ctx.Deadline()
	return !ok || w.timeout > 0 && time.Until(d) >= w.timeout
}

// writeInline writes what is queued on the calling goroutine, which holds
// w.mu and finds nobody writing; it returns with w.mu released. A lone
// frame so costs no hand-off to the goroutine and back; frames queued
// meanwhile are left to the goroutine, so that the caller writes one batch
// at most.
func (w *writer) writeInline() {
	buf := w.takeLocked()
	w.mu.Unlock()
	if err := w.writeBatch(buf); err != nil {
		w.failed(err) // before the queue behind it can be taken
	}
	w.mu.Lock()
	w.doneLocked(buf)
	if w.err == nil && len(w.pending) > 0 {
		w.startLocked()
	}
	w.endLocked()
	w.mu.Unlock()
}

// writeLarge writes f, whose body is larger than maxInline, on the
// calling goroutine, which holds w.mu and finds nothing queued and nobody
// writing: its header, then its body from the caller's buffer, so that
// the body is not copied into the queue (a 1 MiB body was, into a queue
// grown to hold it, each time). Frames queued meanwhile wait for it, and
// are then left to the goroutine. It returns with w.mu released.
func (w *writer) writeLarge(f *wire.Frame) error {
	var arr [64]byte
	hdr := wire.AppendFrameHeader(arr[:0], f)
	if err := wire.CheckHeader(hdr, len(f.Body), w.maxFrame); err != nil {
		w.mu.Unlock()
		return err
	}
	w.writing = true
	w.mu.Unlock()
	w.setDeadline()
	_, err := w.w.Write(hdr)
	if err == nil {
		_, err = w.w.Write(f.Body)
	}
	if err != nil {
		w.failed(err)
	}
	w.mu.Lock()
	w.writing = false
	w.busy = len(w.pending) > 0
	if w.err == nil && len(w.pending) > 0 {
		w.startLocked()
	}
	w.endLocked()
	w.mu.Unlock()
	return nil
}

// takeLocked takes the queued frames for writing. The caller holds w.mu
// and becomes the one writer until doneLocked.
func (w *writer) takeLocked() []byte {
	// Swap buffers: callers append to the spare one while this one is
	// written. The two never alias.
	buf := w.pending
	w.pending, w.spare = w.spare[:0], nil
	w.batch, w.queued = w.queued, 0
	w.gather, w.held = w.held, false
	w.writing = true
	if w.space != nil {
		close(w.space)
		w.space = nil
	}
	return buf
}

// writeBatch writes buf to the stream; only the writer that took it calls
// it.
func (w *writer) writeBatch(buf []byte) error {
	w.setDeadline()
	_, err := w.w.Write(buf)
	w.meter.account(-len(buf))
	return err
}

// doneLocked ends a write begun with takeLocked and keeps buf for reuse.
func (w *writer) doneLocked(buf []byte) {
	w.writing = false
	w.busy = w.batch > 1 || len(w.pending) > 0
	if cap(buf) > 4*w.maxPending {
		buf = nil // do not keep a huge buffer
	}
	if w.err == nil {
		w.spare = buf[:0]
	}
}

// failed breaks the writer after a write that failed.
func (w *writer) failed(err error) {
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		err = ErrStalled
	}
	w.breakWith(err)
}

// writerLinger is how long a writer's goroutine waits for more frames
// once its queue is empty before it exits. A goroutine started afresh for
// every frame grows its stack through yamux's write path every time; under
// a steady load of larger frames (4 KiB replies) that halved the calls a
// connection served. An idle stream still costs no goroutine after it.
const writerLinger = 200 * time.Millisecond

// startLocked starts the goroutine unless it runs, or wakes it if it
// waits for frames. The caller holds w.mu.
func (w *writer) startLocked() {
	switch {
	case !w.running:
		w.running = true
		go w.loop(true)
	case w.idle:
		w.idle = false
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// linger waits, with w.mu held and released meanwhile, for a frame to be
// queued, for the writer to end, or for writerLinger; it reports whether
// the goroutine should go on.
func (w *writer) linger(t *time.Timer) bool {
	w.idle = true
	w.mu.Unlock()
	t.Reset(writerLinger)
	select {
	case <-w.wake:
		// As at the start: let the frames about to be queued join this
		// batch.
		runtime.Gosched()
	case <-t.C:
		t.Stop()
		w.mu.Lock()
		w.idle = false
		return false
	}
	t.Stop()
	w.mu.Lock()
	w.idle = false
	return true
}

// wakeLocked wakes an idle goroutine so that it sees the writer end. The
// caller holds w.mu.
func (w *writer) wakeLocked() {
	if w.idle {
		w.idle = false
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// endLocked closes done once the writer has failed or shut down and its
// goroutine is not running. The caller holds w.mu.
func (w *writer) endLocked() {
	if !w.ended && !w.running && !w.writing && (w.err != nil || w.closing && len(w.pending) == 0) {
		if w.err == nil {
			w.err = errWriterClosed
		}
		w.ended = true
		close(w.done)
	}
}

// maxLone is how many lone batches in a row (one frame, nothing queued
// behind it, written for a caller who would have written it itself) the
// goroutine writes before it exits rather than lingers: a stream that
// quiet is written faster by its callers themselves (see writeFrame), and
// a goroutine that lingered on would take every frame from them, one
// hand-off each, for as long as frames kept coming. Frames of queueFrame
// keep it lingering: their callers never write.
const maxLone = 3

// loop writes batches until the queue is empty; then, if lingers or it
// wrote more than one batch, it waits writerLinger for more frames before
// it exits, unless its last maxLone batches were lone frames.
func (w *writer) loop(lingers bool) {
	// Let the goroutines that are about to queue a frame do so before
	// the write: under load this turns many small writes (and system
	// calls) into one; alone, it costs a yield.
	runtime.Gosched()
	t := time.NewTimer(writerLinger)
	t.Stop()
	batches, lone := 0, 0
	for {
		w.mu.Lock()
		if w.err == nil && !w.closing && (len(w.pending) == 0 || w.writing) && (lingers || batches > 1) && lone < maxLone && w.linger(t) {
			w.mu.Unlock()
			continue
		}
		if w.err != nil || len(w.pending) == 0 || w.writing {
			w.running = false
			if !w.writing {
				if cap(w.pending) > maxIdleBuffer {
					w.pending = nil
				}
				if cap(w.spare) > maxIdleBuffer {
					w.spare = nil
				}
			}
			w.endLocked()
			w.mu.Unlock()
			return
		}
		buf := w.takeLocked()
		w.mu.Unlock()
		if err := w.writeBatch(buf); err != nil {
			w.failed(err)
		}
		batches++
		w.mu.Lock()
		w.doneLocked(buf)
		if w.busy || w.gather {
			lone = 0
		} else {
			lone++
		}
		w.mu.Unlock()
	}
}

// setDeadline keeps the stream's write deadline between timeout/2 and
// timeout ahead of a batch, moving it only when it comes nearer than that:
// setting it costs yamux an allocation. Only the goroutine calls it.
func (w *writer) setDeadline() {
	if w.deadline == nil || w.timeout <= 0 {
		return
	}
	if now := time.Now(); w.until.Sub(now) < w.timeout/2 {
		w.until = now.Add(w.timeout)
		w.deadline(w.until)
	}
}

// flushed reports whether everything queued so far has been written (or
// the writer failed).
func (w *writer) flushed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err != nil || (len(w.pending) == 0 && !w.writing)
}

// shutdown refuses new frames and lets the writer end (closing done) once
// the frames already queued are written. The caller waits on w.done, and
// closes the underlying stream if a write blocks for too long.
func (w *writer) shutdown() {
	w.mu.Lock()
	w.closing = true
	w.wakeLocked()
	w.endLocked()
	w.mu.Unlock()
}

// fail makes every later write return err, frees what is queued, and
// wakes waiters; done is closed once the goroutine, if it runs, has
// exited.
func (w *writer) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.meter.account(-len(w.pending))
	w.pending, w.spare, w.queued, w.held = nil, nil, 0, false
	if w.space != nil {
		close(w.space)
		w.space = nil
	}
	w.wakeLocked()
	w.endLocked()
	w.mu.Unlock()
}

// breakWith fails the writer with err and, unless it had failed or been
// closed already, tells the owner.
func (w *writer) breakWith(err error) {
	w.mu.Lock()
	first := w.err == nil
	w.mu.Unlock()
	w.fail(err)
	if first && w.broken != nil {
		w.broken(err)
	}
}
