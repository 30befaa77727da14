package transport

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/remoting-go/remoting/internal/wire"
)

// flushTimeout bounds how long Close waits for queued frames to be written.
const flushTimeout = time.Second

// maxPending is how many bytes of frames may queue for one stream before
// writers wait for the connection.
const maxPending = 1 << 20

// Stream is one long-lived framed stream. Any number of goroutines may
// write frames concurrently (they are coalesced); exactly one goroutine
// reads.
type Stream struct {
	ys *yamux.Stream
	r  *wire.Reader
	w  *writer

	onClose   func() // if set, called once when the stream is closed or aborted
	closeOnce sync.Once
}

func (s *Stream) closed() {
	s.closeOnce.Do(func() {
		if s.onClose != nil {
			s.onClose()
		}
	})
}

// newStream wraps ys; frames larger than sendMax (the peer's limit) are
// refused before they are sent.
// The bytes of frames being read and of frames queued count against the
// session's meter, and a write that fails, or stalls for the session's
// write timeout, closes the session.
func newStream(s *Session, ys *yamux.Stream, r *wire.Reader, sendMax int, preface []byte) *Stream {
	r.SetCharge(s.meter.charge)
	cfg := writerConfig{
		maxFrame:   sendMax,
		maxPending: max(maxPending, sendMax),
		meter:      &s.meter,
		timeout:    s.opts.WriteTimeout,
		deadline:   ys.SetWriteDeadline,
		broken:     s.streamBroken,
	}
	return &Stream{ys: ys, r: r, w: newWriter(ys, cfg, preface)}
}

// ReadFrame reads the next frame. Only one goroutine may call it.
func (s *Stream) ReadFrame() (wire.Frame, error) { return s.r.ReadFrame() }

// WriteFrame queues f for writing and returns without waiting for the
// write, unless nobody else is writing and ctx has no deadline sooner than
// the session's write timeout: then it writes f (and whatever was queued
// with it) itself, which saves a hand-off to the stream's writer goroutine
// and may take until the write timeout if the peer stopped reading. When
// too much is queued already it waits until ctx ends or, if the peer reads
// nothing meanwhile, for the session's write timeout, after which it fails
// with ErrStalled and the session is closed.
// A queued frame is written within the write timeout of the one before it,
// or the session is closed and the queue freed.
// A frame larger than the limit is refused with an error wrapping
// wire.ErrFrameTooLarge and nothing is sent.
func (s *Stream) WriteFrame(ctx context.Context, f *wire.Frame) error {
	return s.w.writeFrame(ctx, f)
}

// QueueFrame is WriteFrame for a caller that waits for no answer and may
// well send again at once (a fire-and-forget call): it never writes f
// itself but always leaves it to the stream's writer goroutine, which
// gathers such frames into few writes.
func (s *Stream) QueueFrame(ctx context.Context, f *wire.Frame) error {
	return s.w.queueFrame(ctx, f)
}

// Flush waits until every frame queued so far has been written, or ctx
// ends.
func (s *Stream) Flush(ctx context.Context) error {
	for !s.w.flushed() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

// Close flushes what is queued (for at most a second), closes the stream
// and waits for its writer goroutine. It is idempotent.
func (s *Stream) Close() error {
	s.w.shutdown()
	t := time.NewTimer(flushTimeout)
	select {
	case <-s.w.done:
	case <-t.C:
	}
	t.Stop()
	s.w.fail(errWriterClosed) // first, so that a write cut by the close is not taken for a broken stream
	err := s.ys.Close()
	<-s.w.done
	s.closed()
	return err
}

// Abort closes the stream at once, dropping queued frames.
func (s *Stream) Abort() {
	s.w.fail(errWriterClosed)
	s.ys.Close()
	<-s.w.done
	s.closed()
}

// RemoteAddr is the peer's address.
func (s *Stream) RemoteAddr() net.Addr { return s.ys.RemoteAddr() }
