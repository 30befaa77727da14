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
// buffer and return; one goroutine writes whatever has accumulated in a
// single Write, so that under load many frames share one write (and one
// yamux data frame, and one TCP segment) while a lone frame goes out at
// once. The goroutine runs only while there is something to write: the
// frame that finds the writer idle starts it, and it exits once the queue
// is empty, so that an idle stream costs no goroutine.
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
	writing bool          // a batch is being written
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
		wr.startLocked()
		wr.mu.Unlock()
	}
	return wr
}

// writeFrame queues f. It waits only while more than maxPending bytes are
// already queued, which happens when the peer reads slower than this end
// writes, and then only until ctx ends or, if the peer reads nothing
// meanwhile, for the timeout.
func (w *writer) writeFrame(ctx context.Context, f *wire.Frame) error {
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
	start := len(w.pending)
	w.pending = wire.AppendFrame(w.pending, f)
	if err := wire.CheckSize(w.pending, start, w.maxFrame); err != nil {
		w.pending = w.pending[:start]
		w.mu.Unlock()
		return err
	}
	w.meter.account(len(w.pending) - start)
	w.startLocked()
	w.mu.Unlock()
	return nil
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
		go w.loop()
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
	}
	t.Stop()
	w.mu.Lock()
	w.idle = false
	return w.err == nil && len(w.pending) > 0
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
	if !w.ended && !w.running && (w.err != nil || w.closing && len(w.pending) == 0) {
		if w.err == nil {
			w.err = errWriterClosed
		}
		w.ended = true
		close(w.done)
	}
}

func (w *writer) loop() {
	// Let the goroutines that are about to queue a frame do so before
	// the write: under load this turns many small writes (and system
	// calls) into one; alone, it costs a yield.
	runtime.Gosched()
	t := time.NewTimer(writerLinger)
	t.Stop()
	for {
		w.mu.Lock()
		if w.err == nil && len(w.pending) == 0 && !w.closing && w.linger(t) {
			w.mu.Unlock()
			continue
		}
		if w.err != nil || len(w.pending) == 0 {
			w.running = false
			if cap(w.pending) > maxIdleBuffer {
				w.pending = nil
			}
			if cap(w.spare) > maxIdleBuffer {
				w.spare = nil
			}
			w.endLocked()
			w.mu.Unlock()
			return
		}
		// Swap buffers: callers append to the spare one while this
		// one is written. The two never alias.
		buf := w.pending
		w.pending, w.spare = w.spare[:0], nil
		w.writing = true
		if w.space != nil {
			close(w.space)
			w.space = nil
		}
		w.mu.Unlock()
		w.setDeadline()
		_, err := w.w.Write(buf)
		w.meter.account(-len(buf))
		w.mu.Lock()
		w.writing = false
		if cap(buf) > 4*w.maxPending {
			buf = nil // do not keep a huge buffer
		}
		if w.err == nil {
			w.spare = buf[:0]
		}
		w.mu.Unlock()
		if err != nil {
			var te interface{ Timeout() bool }
			if errors.As(err, &te) && te.Timeout() {
				err = ErrStalled
			}
			w.breakWith(err)
		}
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
	w.pending, w.spare = nil, nil
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
