package lifecycle_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/pool"
)

func TestPooledResetsAndBounds(t *testing.T) {
	tr := &tracker{}
	s := lifecycle.Pooled(tr.newGreeter, lifecycle.PoolOptions{Max: 2})
	counts := bind(t, s)
	a, err := s.Acquire(ctxT(t))
	require.NoError(t, err)
	b, err := s.Acquire(ctxT(t))
	require.NoError(t, err)
	assert.NotSame(t, a, b)

	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = s.Acquire(short)
	waited := time.Since(start)
	assert.ErrorIs(t, err, remoting.ErrResourceExhausted, "Acquire from an exhausted pool")
	// It gives up DeadlineMargin before the deadline; a loaded machine may
	// wake it late, so only a gross overrun fails.
	assert.Less(t, waited, 250*time.Millisecond, "gives up near the deadline")
	assert.Greater(t, waited, 30*time.Millisecond, "waits until near the deadline")

	s.Return(a)
	assert.EqualValues(t, 1, tr.resets.Load(), "Reset calls after a Return")
	c, err := s.Acquire(ctxT(t))
	require.NoError(t, err)
	assert.Same(t, a, c, "the returned instance is reused")
	s.Return(b)
	s.Return(c)
	assert.EqualValues(t, 2, tr.created.Load(), "instances created")

	require.NoError(t, s.Close(ctxT(t)))
	assert.EqualValues(t, 2, tr.deactivated.Load(), "Deactivate calls at Close")
	_, err = s.Acquire(ctxT(t))
	assert.ErrorIs(t, err, remoting.ErrUnavailable, "Acquire after Close")

	for kind, want := range map[remoting.EventKind]uint64{
		remoting.EventActivated:     2,
		remoting.EventPoolBorrow:    3,
		remoting.EventPoolReturn:    3,
		remoting.EventDeactivated:   2,
		remoting.EventPoolExhausted: 1,
	} {
		assert.Equal(t, want, counts.Get(greeterInterface, kind), "%v events", kind)
	}
}

// The bounds live in one place: the strategy's until the first call makes
// the pool, the pool's after.
func TestPooledResizeAndStats(t *testing.T) {
	tr := &tracker{}
	s := lifecycle.Pooled(tr.newGreeter, lifecycle.PoolOptions{Min: 1})
	var _ pool.Sizer = s // the capability is in the type
	bind(t, s)
	assert.Equal(t, pool.Stats{Min: 1, Max: pool.DefaultMax}, s.Stats(), "Stats before the first call: the default bounds")
	require.NoError(t, s.Resize(0, 3), "Resize before the first call")
	assert.Equal(t, pool.Stats{Min: 0, Max: 3}, s.Stats(), "Stats after Resize, before the first call")
	assert.ErrorIs(t, s.Resize(2, 1), remoting.ErrInvalidArgument, "Resize(2, 1)")

	v, err := s.Acquire(ctxT(t))
	require.NoError(t, err, "Acquire")
	st := s.Stats()
	assert.Equal(t, [3]int{0, 3, 1}, [3]int{st.Min, st.Max, st.InUse}, "Stats of the pool the first call made: min, max, in use")
	s.Return(v)
	require.NoError(t, s.Resize(1, 5), "Resize of the pool")
	st = s.Stats()
	assert.Equal(t, [2]int{1, 5}, [2]int{st.Min, st.Max}, "Stats after resizing the pool")

	require.NoError(t, s.Close(ctxT(t)), "Close")
	assert.ErrorIs(t, s.Resize(1, 2), remoting.ErrUnavailable, "Resize after Close")
}
