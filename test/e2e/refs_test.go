package e2e

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/e2e/shapes"
)

// factory implements shapes.Factory.
type factory struct{}

func (factory) NewCounter(_ context.Context, start int) (shapes.Counter, error) {
	return &counter{n: start}, nil
}

func (factory) Nil(context.Context) (shapes.Counter, error) { return nil, nil }

func (factory) Visit(ctx context.Context, v shapes.Visitor, n int) (int, error) {
	if v == nil {
		return -1, nil
	}
	if _, ok := v.(*shapes.VisitorProxy); !ok {
		return 0, fmt.Errorf("visitor is a %T, not a proxy", v)
	}
	sum := 0
	for i := range n {
		r, err := v.Visit(ctx, i)
		if err != nil {
			return 0, err
		}
		sum += r
	}
	return sum, nil
}

// visitor implements shapes.Visitor on the client and records its calls.
type visitor struct {
	mu   sync.Mutex
	seen []int
}

func (v *visitor) Visit(_ context.Context, i int) (int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.seen = append(v.seen, i)
	return 10 * i, nil
}

func (v *visitor) calls() []int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.seen)
}

func lookupFactory(t *testing.T, c *requestor.Client) *shapes.FactoryProxy {
	t.Helper()
	f, err := shapes.LookupFactory(ctxT(t), c, "factory")
	require.NoError(t, err, "LookupFactory")
	return f
}

// newCounter makes a counter of the test's own through the factory.
func newCounter(t *testing.T, f *shapes.FactoryProxy, start int) shapes.Counter {
	t.Helper()
	c, err := f.NewCounter(ctxT(t), start)
	require.NoError(t, err, "NewCounter(%d)", start)
	require.NotNil(t, c, "NewCounter(%d)", start)
	return c
}

func TestFactoryResult(t *testing.T) {
	f := lookupFactory(t, connect(t))
	ctx := ctxT(t)

	c1 := newCounter(t, f, 10)
	p1, ok := c1.(*shapes.CounterProxy)
	require.True(t, ok, "NewCounter returned a %T, want *shapes.CounterProxy", c1)
	assert.Equal(t, shapes.CounterInterface, p1.Ref().Interface, "Ref().Interface")
	assert.False(t, p1.Ref().ID.IsZero(), "Ref().ID")

	// Each call makes an object of its own.
	c2 := newCounter(t, f, 100)
	assert.NotEqual(t, p1.Ref().ID, c2.(*shapes.CounterProxy).Ref().ID, "IDs of two counters")
	for _, tc := range []struct {
		c    shapes.Counter
		want int
	}{{c1, 11}, {c2, 101}, {c1, 12}} {
		n, err := tc.c.Add(ctx, 1)
		require.NoError(t, err)
		assert.Equal(t, tc.want, n, "Add(1) on %v", tc.c.(*shapes.CounterProxy).Ref())
	}
}

func TestFactoryNilResult(t *testing.T) {
	f := lookupFactory(t, connect(t))
	c, err := f.Nil(ctxT(t))
	require.NoError(t, err)
	assert.True(t, c == nil, "Nil() = %#v, want a nil interface", c)
}

func TestFactoryRelease(t *testing.T) {
	client := connect(t)
	f := lookupFactory(t, client)
	ctx := ctxT(t)
	c := newCounter(t, f, 0)
	require.NoError(t, client.Release(ctx, c.(*shapes.CounterProxy).Ref()), "Release")
	_, err := c.Add(ctx, 1)
	assert.ErrorIs(t, err, remoting.ErrNotFound, "Add on a released counter")
}

func TestCallbackObject(t *testing.T) {
	client := connect(t)
	f := lookupFactory(t, client)
	ctx := ctxT(t)

	v := &visitor{}
	sum, err := f.Visit(ctx, v, 4)
	require.NoError(t, err, "Visit(v, 4)")
	assert.Equal(t, 0+10+20+30, sum, "Visit(v, 4)")
	assert.Equal(t, []int{0, 1, 2, 3}, v.calls(), "calls of the visitor")

	// The same object passed again is called again.
	sum, err = f.Visit(ctx, v, 1)
	require.NoError(t, err, "Visit(v, 1)")
	assert.Equal(t, 0, sum, "Visit(v, 1)")
	assert.Equal(t, []int{0, 1, 2, 3, 0}, v.calls(), "calls of the visitor")

	// A nil interface arrives as nil.
	sum, err = f.Visit(ctx, nil, 3)
	require.NoError(t, err, "Visit(nil, 3)")
	assert.Equal(t, -1, sum, "Visit(nil, 3)")
}
