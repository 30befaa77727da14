package transport

import (
	"bytes"
	"context"
	"sync"
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
	w := newWriter(g, wire.DefaultMaxFrameSize, 1<<20, nil, nil)
	ctx := context.Background()
	require.NoError(t, w.writeFrame(ctx, &wire.Frame{Kind: wire.KindReply, ID: 0}))
	<-g.entered
	for i := 1; i <= 100; i++ {
		require.NoError(t, w.writeFrame(ctx, &wire.Frame{Kind: wire.KindReply, ID: uint64(i)}))
	}
	close(g.release)
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

func TestWriterBackPressureHonoursContext(t *testing.T) {
	g := &gate{release: make(chan struct{}), entered: make(chan struct{})}
	w := newWriter(g, 1<<20, 1024, nil, nil)
	require.NoError(t, w.writeFrame(context.Background(), &wire.Frame{Kind: wire.KindReply}))
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
	w.shutdown()
	<-w.done
}

func TestWriterRefusesOversizedFrame(t *testing.T) {
	var buf bytes.Buffer
	w := newWriter(&buf, 100, 1<<20, nil, nil)
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
	w := newWriter(&buf, 100, 1<<20, nil, nil)
	w.shutdown()
	<-w.done
	assert.ErrorIs(t, w.writeFrame(context.Background(), &wire.Frame{Kind: wire.KindReply}), errWriterClosed)
}
