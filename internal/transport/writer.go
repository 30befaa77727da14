package transport

import (
	"context"
	"errors"
	"io"
	"net"
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
// once.
type writer struct {
	w io.Writer
	writerConfig

	mu      sync.Mutex
	pending []byte
	spare   []byte
	err     error         // sticky: the first write error, or errWriterClosed
	closing bool          // shutdown was called: refuse new frames, flush the rest
	writing bool          // a batch is being written
	space   chan struct{} // closed when pending is taken; nil if nobody waits
	wake    chan struct{} // capacity 1: pending became non-empty
	done    chan struct{} // closed when the goroutine has exited
}

func newWriter(w io.Writer, cfg writerConfig, preface []byte) *writer {
	wr := &writer{
		w:            w,
		writerConfig: cfg,
		pending:      append(make([]byte, 0, 4096), preface...),
		spare:        make([]byte, 0, 4096),
		wake:         make(chan struct{}, 1),
		done:         make(chan struct{}),
	}
	if len(preface) > 0 {
		wr.signal()
	}
	go wr.loop()
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
	first := start == 0
	w.meter.account(len(w.pending) - start)
	w.mu.Unlock()
	if first {
		w.signal()
	}
	return nil
}

func (w *writer) loop() {
	defer close(w.done)
	for range w.wake {
		// Let the goroutines that are about to queue a frame do so before
		// the write: under load this turns many small writes (and system
		// calls) into one; alone, it costs a yield.
		runtime.Gosched()
		for {
			w.mu.Lock()
			if w.err != nil {
				w.mu.Unlock()
				return
			}
			if len(w.pending) == 0 {
				closing := w.closing
				w.mu.Unlock()
				if closing {
					w.fail(errWriterClosed)
					return
				}
				break
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
			if w.deadline != nil && w.timeout > 0 {
				w.deadline(time.Now().Add(w.timeout))
			}
			_, err := w.w.Write(buf)
			w.meter.account(-len(buf))
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					err = ErrStalled
				}
				w.breakWith(err)
				return
			}
			w.mu.Lock()
			w.writing = false
			if cap(buf) > 4*w.maxPending {
				buf = make([]byte, 0, 4096) // do not keep a huge buffer forever
			}
			w.spare = buf[:0]
			w.mu.Unlock()
		}
	}
}

// flushed reports whether everything queued so far has been written (or
// the writer failed).
func (w *writer) flushed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err != nil || (len(w.pending) == 0 && !w.writing)
}

// shutdown refuses new frames and lets the goroutine exit once the frames
// already queued are written. The caller waits on w.done, and closes the
// underlying stream if a write blocks for too long.
func (w *writer) shutdown() {
	w.mu.Lock()
	w.closing = true
	w.mu.Unlock()
	w.signal()
}

// fail makes every later write return err, frees what is queued, and
// wakes waiters and the goroutine.
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
	w.mu.Unlock()
	w.signal()
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

func (w *writer) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}
