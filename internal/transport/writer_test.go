package transport

import (
	"bytes"
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/remoting-go/remoting/internal/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// gate is a writer whose first Write blocks until released, recording
// every Write.
type gate struct {
	mu      sync.Mutex
	writes  [][]byte
	release chan struct{}
	entered chan struct{}
}

func (g *gate) Write(p []byte) (int, error) {
	g.mu.Lock()
	first := len(g.writes) == 0
	g.writes = append(g.writes, append([]byte(nil), p...))
	g.mu.Unlock()
	if first {
		close(g.entered)
		<-g.release
	}
	return len(p), nil
}

func TestWriterCoalescesFramesQueuedDuringAWrite(t *testing.T) {
	g := &gate{release: make(chan struct{}), entered: make(chan struct{})}
	w := newWriter(g, writerConfig{maxFrame: wire.DefaultMaxFrameSize, maxPending: 1 << 20}, nil)
	ctx := context.Background()
	first := writeAside(w, &wire.Frame{Kind: wire.KindReply, ID: 0})
	<-g.entered
	for i := 1; i <= 100; i++ {
		require.NoError(t, w.writeFrame(ctx, &wire.Frame{Kind: wire.KindReply, ID: uint64(i)}), "queued behind the write")
	}
	close(g.release)
	require.NoError(t, <-first)
	w.shutdown()
	<-w.done

	g.mu.Lock()
	defer g.mu.Unlock()
	assert.Len(t, g.writes, 2, "one write for the first frame, one for the 100 queued behind it")
	r := wire.NewReader(bytes.NewReader(bytes.Join(g.writes, nil)), 0)
	for i := 0; i <= 100; i++ {
		f, err := r.ReadFrame()
		require.NoError(t, err)
		assert.Equal(t, uint64(i), f.ID, "frames keep their order")
	}
}

// writeAside calls w.writeFrame(f) on a goroutine of its own, which
// writes f itself if it finds the writer idle, and returns its result.
func writeAside(w *writer, f *wire.Frame) <-chan error {
	res := make(chan error, 1)
	go func() { res <- w.writeFrame(context.Background(), f) }()
	return res
}

func TestWriterWritesALoneFrameOnTheCaller(t *testing.T) {
	var buf bytes.Buffer
	w := newWriter(&buf, writerConfig{maxFrame: 100, maxPending: 1 << 20}, nil)
	require.NoError(t, w.writeFrame(context.Background(), &wire.Frame{Kind: wire.KindReply, ID: 7}))
	assert.True(t, w.flushed(), "the frame is written when writeFrame returns")
	w.mu.Lock()
	assert.False(t, w.running, "no goroutine was started for it")
	w.mu.Unlock()
	f, err := wire.NewReader(&buf, 0).ReadFrame()
	require.NoError(t, err)
	assert.Equal(t, uint64(7), f.ID)
	w.shutdown()
	<-w.done
}

func TestWriterQueuesForACallerWithAnEarlyDeadline(t *testing.T) {
	g := &gate{release: make(chan struct{}), entered: make(chan struct{})}
	w := newWriter(g, writerConfig{maxFrame: 100, maxPending: 1 << 20, timeout: time.Minute}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	require.NoError(t, w.writeFrame(ctx, &wire.Frame{Kind: wire.KindReply}), "returns before the write, which may outlast its deadline")
	<-g.entered
	close(g.release)
	w.shutdown()
	<-w.done
}

func TestWriterBackPressureHonoursContext(t *testing.T) {
	g := &gate{release: make(chan struct{}), entered: make(chan struct{})}
	w := newWriter(g, writerConfig{maxFrame: 1 << 20, maxPending: 1024}, nil)
	first := writeAside(w, &wire.Frame{Kind: wire.KindReply})
	<-g.entered
	// Fill the queue past its limit while the first write is stuck.
	require.NoError(t, w.writeFrame(context.Background(), &wire.Frame{Kind: wire.KindReply, Body: make([]byte, 2048)}))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := w.writeFrame(ctx, &wire.Frame{Kind: wire.KindReply})
	assert.ErrorIs(t, err, context.DeadlineExceeded, "a writer over the queue limit waits only as long as its context")
	assert.Less(t, time.Since(start), time.Second)
	close(g.release)
	require.NoError(t, <-first)
	w.shutdown()
	<-w.done
}

func TestWriterRefusesOversizedFrame(t *testing.T) {
	var buf bytes.Buffer
	w := newWriter(&buf, writerConfig{maxFrame: 100, maxPending: 1 << 20}, nil)
	err := w.writeFrame(context.Background(), &wire.Frame{Kind: wire.KindReply, Body: make([]byte, 200)})
	assert.ErrorIs(t, err, wire.ErrFrameTooLarge)
	require.NoError(t, w.writeFrame(context.Background(), &wire.Frame{Kind: wire.KindReply, ID: 3}))
	w.shutdown()
	<-w.done
	f, err := wire.NewReader(&buf, 0).ReadFrame()
	require.NoError(t, err)
	assert.Equal(t, uint64(3), f.ID, "the refused frame left nothing behind")
}

func TestWriterAfterShutdown(t *testing.T) {
	var buf bytes.Buffer
	w := newWriter(&buf, writerConfig{maxFrame: 100, maxPending: 1 << 20}, nil)
	w.shutdown()
	<-w.done
	assert.ErrorIs(t, w.writeFrame(context.Background(), &wire.Frame{Kind: wire.KindReply}), errWriterClosed)
}

// stuck is a writer whose Write blocks until its deadline, as a yamux
// stream with a zero window does.
type stuck struct {
	mu       sync.Mutex
	deadline time.Time
}

func (s *stuck) setDeadline(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deadline = t
	return nil
}

func (s *stuck) Write(p []byte) (int, error) {
	s.mu.Lock()
	d := s.deadline
	s.mu.Unlock()
	time.Sleep(time.Until(d))
	return 0, timeoutError{}
}

type timeoutError struct{}

func (timeoutError) Error() string { return "i/o deadline reached" }
func (timeoutError) Timeout() bool { return true }

// TestWriterStallsOnAPeerThatDoesNotRead: a write that does not complete
// within the timeout, and a wait for queue space behind it, fail with
// ErrStalled within the timeout; the owner is told once and the queue is
// freed.
func TestWriterStallsOnAPeerThatDoesNotRead(t *testing.T) {
	var s stuck
	var stalls atomic.Int32
	const timeout = 100 * time.Millisecond
	w := newWriter(&s, writerConfig{maxFrame: 1 << 20, maxPending: 1024, timeout: timeout, deadline: s.setDeadline,
		broken: func(err error) { assert.ErrorIs(t, err, ErrStalled); stalls.Add(1) }}, nil)
	start := time.Now()
	first := writeAside(w, &wire.Frame{Kind: wire.KindReply, Body: make([]byte, 2048)})
	require.Eventually(t, func() bool { return !w.flushed() }, time.Second, time.Millisecond)
	require.NoError(t, w.writeFrame(context.Background(), &wire.Frame{Kind: wire.KindReply, Body: make([]byte, 2048)}), "queued behind the stuck write")
	err := w.writeFrame(context.Background(), &wire.Frame{Kind: wire.KindReply})
	assert.ErrorIs(t, err, ErrStalled, "a write over the queue limit behind a stalled write")
	assert.Less(t, time.Since(start), timeout+500*time.Millisecond, "it waits about the timeout")
	<-w.done
	assert.NoError(t, <-first, "the stuck frame was queued; its write broke the writer")
	assert.Equal(t, int32(1), stalls.Load(), "the owner is told once")
	w.mu.Lock()
	assert.Nil(t, w.pending, "the queue is freed")
	w.mu.Unlock()
}

// TestWriterWritesALargeFrameFromTheCallersBuffer: a frame with a body
// larger than maxInline, sent with nothing queued, is written by its
// caller as its header and then its body, straight from the caller's
// buffer; frames sent meanwhile follow it, in order; one past the limit
// is refused before anything is written.
func TestWriterWritesALargeFrameFromTheCallersBuffer(t *testing.T) {
	g := &gate{release: make(chan struct{}), entered: make(chan struct{})}
	w := newWriter(g, writerConfig{maxFrame: 1 << 20, maxPending: 1 << 20}, nil)
	body := bytes.Repeat([]byte("0123456789abcdef"), (maxInline+100)/16)
	first := writeAside(w, &wire.Frame{Kind: wire.KindReply, ID: 1, Body: body})
	<-g.entered
	for i := 2; i <= 10; i++ {
		require.NoError(t, w.writeFrame(context.Background(), &wire.Frame{Kind: wire.KindReply, ID: uint64(i)}), "queued behind the write")
	}
	close(g.release)
	require.NoError(t, <-first)
	err := w.writeFrame(context.Background(), &wire.Frame{Kind: wire.KindReply, ID: 11, Body: make([]byte, 1<<20)})
	require.ErrorIs(t, err, wire.ErrFrameTooLarge, "a frame past the limit")
	w.shutdown()
	<-w.done

	g.mu.Lock()
	defer g.mu.Unlock()
	require.GreaterOrEqual(t, len(g.writes), 3, "header, body, the frames queued behind them")
	assert.Len(t, g.writes[1], len(body), "the body is written on its own")
	r := wire.NewReader(bytes.NewReader(bytes.Join(g.writes, nil)), 0)
	for i := 1; i <= 10; i++ {
		f, err := r.ReadFrame()
		require.NoError(t, err)
		assert.Equal(t, uint64(i), f.ID, "frames keep their order")
		if i == 1 {
			assert.Equal(t, body, f.Body, "the large frame's body")
		}
	}
	_, err = r.ReadFrame()
	assert.ErrorIs(t, err, io.EOF, "nothing of the refused frame was written")
}
