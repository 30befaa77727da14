package lifecycle_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/lifecycle"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Greeter is the interface the tests bind.
type Greeter interface {
	Greet(ctx context.Context, name string) (string, error)
}

const greeterInterface = "example.com/greet.Greeter"

// greeter implements Greeter and every hook, counting in its tracker.
type greeter struct {
	n  int64
	tr *tracker
}

func (g *greeter) Greet(context.Context, string) (string, error) { return "hi", nil }
func (g *greeter) Activate(context.Context) error {
	g.tr.activated.Add(1)
	return g.tr.activateErr
}
func (g *greeter) Deactivate(context.Context) error { g.tr.deactivated.Add(1); return nil }
func (g *greeter) Reset(context.Context) error      { g.tr.resets.Add(1); return nil }

// notGreeter implements no Greeter.
type notGreeter struct{}

type tracker struct {
	created, activated, deactivated, resets atomic.Int64
	activateErr                             error
}

func (tr *tracker) newGreeter(context.Context) (*greeter, error) {
	return &greeter{n: tr.created.Add(1), tr: tr}, nil
}

// bind binds s as a Greeter with a Counts observer, and closes it at the
// end of the test.
func bind(t testing.TB, s lifecycle.Strategy) *remoting.EventCounts {
	t.Helper()
	counts := new(remoting.EventCounts)
	require.NoError(t, s.Bind(binding(counts)), "Bind")
	t.Cleanup(func() { s.Close(context.Background()) })
	return counts
}

func binding(obs ...remoting.Observer) lifecycle.Binding {
	return lifecycle.Binding{
		ID:         remoting.NameID("greeter"),
		Name:       "greeter",
		Interface:  greeterInterface,
		Implements: func(v any) bool { _, ok := v.(Greeter); return ok },
		Observe:    lifecycle.Fanout(obs...),
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestStaticHooksAndEvents(t *testing.T) {
	tr := &tracker{}
	impl := &closingGreeter{greeter: greeter{tr: tr}}
	s := lifecycle.Static(impl)
	counts := bind(t, s)
	v, err := s.Acquire(ctxT(t))
	require.NoError(t, err)
	assert.Same(t, impl, v)
	require.NoError(t, s.Close(ctxT(t)))
	require.NoError(t, s.Close(ctxT(t)), "second Close")
	assert.EqualValues(t, 1, tr.deactivated.Load(), "Deactivate calls")
	assert.EqualValues(t, 1, impl.closed.Load(), "Close calls")
	assert.Zero(t, tr.activated.Load(), "Activate calls: a static instance is ready when registered")
	assert.Equal(t, []remoting.EventCount{
		{Interface: greeterInterface, Kind: remoting.EventActivated, N: 1},
		{Interface: greeterInterface, Kind: remoting.EventDeactivated, N: 1},
	}, counts.Snapshot())
}

type closingGreeter struct {
	greeter
	closed atomic.Int64
}

func (g *closingGreeter) Close(context.Context) error { g.closed.Add(1); return nil }

func TestFanoutAndEvents(t *testing.T) {
	assert.Nil(t, lifecycle.Fanout(), "Fanout()")
	var got []remoting.Event
	var mu sync.Mutex
	rec := remoting.ObserverFunc(func(e remoting.Event) {
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
	})
	counts := new(remoting.EventCounts)
	s := lifecycle.PerRequest(new(tracker).newGreeter)
	require.NoError(t, s.Bind(binding(rec, counts)))
	v, err := s.Acquire(ctxT(t))
	require.NoError(t, err)
	s.Return(v)
	require.Len(t, got, 2)
	assert.Equal(t, remoting.EventActivated, got[0].Kind)
	assert.Equal(t, remoting.EventDeactivated, got[1].Kind)
	for _, e := range got {
		assert.Equal(t, greeterInterface, e.Interface)
		assert.Equal(t, "greeter", e.Name)
		assert.Equal(t, remoting.NameID("greeter"), e.ObjectID)
		assert.WithinDuration(t, time.Now(), e.Time, time.Minute)
	}
	assert.EqualValues(t, 1, counts.Get(greeterInterface, remoting.EventDeactivated), "second observer")
}
