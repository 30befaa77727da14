package integration

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting/internal/testservice"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/requestor"
)

func TestSyncCallRoundTrip(t *testing.T) {
	s := startServer(t, invoker.Options{})
	c := dial(t, s.endpoint, requestor.Options{})
	p := lookup(t, c)
	ctx := ctxT(t)

	got, err := p.Echo(ctx, "hello")
	require.NoError(t, err)
	assert.Equal(t, "hello", got, "Echo")

	in := testservice.Payload{Name: "n", Seq: 7, Tags: []string{"a", "b"}, Attrs: map[string]int{"x": 1}, When: time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600)), Data: []byte{1, 2}}
	out, err := p.Round(ctx, in)
	require.NoError(t, err)
	assert.True(t, in.When.Equal(out.When), "Round time: %v vs %v", in.When, out.When)
	out.When = in.When
	assert.Equal(t, in, out, "Round")
}

// TestLargePayloadsRoundTrip: bodies from under the 4 KiB of yamux's
// buffer to near the frame limit, sent by several callers at once (so
// that some are written by their callers and some queue behind them,
// and the receiving side reads their rest in large parts), come back
// byte for byte.
func TestLargePayloadsRoundTrip(t *testing.T) {
	t.Run("default windows", func(t *testing.T) { largePayloadsRoundTrip(t, 0) })
	t.Run("4 MiB windows", func(t *testing.T) { largePayloadsRoundTrip(t, 4<<20) })
}

func largePayloadsRoundTrip(t *testing.T, window uint32) {
	s := startServer(t, invoker.Options{StreamWindow: window})
	c := dial(t, s.endpoint, requestor.Options{StreamWindow: window})
	p := lookup(t, c)
	ctx := ctxT(t)

	sizes := []int{4000, 4096, 16<<10 + 1, 64<<10 - 1, 64 << 10, 64<<10 + 1, 300<<10 + 7, 1 << 20, 3<<20 + 5}
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(sizes))
	for caller := range 4 {
		wg.Go(func() {
			for i, n := range sizes {
				data := make([]byte, n)
				for j := range data {
					data[j] = byte(j*7 + i + caller)
				}
				in := testservice.Payload{Name: "large", Seq: int64(i), Data: data}
				out, err := p.Round(ctx, in)
				if err != nil {
					errs <- fmt.Errorf("%d bytes: %w", n, err)
					return
				}
				if !bytes.Equal(out.Data, data) || out.Seq != int64(i) {
					errs <- fmt.Errorf("%d bytes came back as %d, changed", n, len(out.Data))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
