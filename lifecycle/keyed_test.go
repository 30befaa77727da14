package lifecycle_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/passivation"
)

// counter is a Greeter that keeps a count and can be passivated.
type counter struct {
	greeter
	n int
}

func (c *counter) SaveState(context.Context) ([]byte, error) {
	return passivation.Encode(1, c.n)
}

func (c *counter) RestoreState(_ context.Context, b []byte) error {
	_, err := passivation.Decode(b, &c.n)
	return err
}

func newCounter(context.Context, string) (*counter, error) {
	return &counter{greeter: greeter{tr: new(tracker)}}, nil
}

func TestKeyedRefusesOptionsThatCannotWork(t *testing.T) {
	cases := []struct {
		name string
		k    *lifecycle.KeyedObjects
	}{
		{"nil constructor", lifecycle.Keyed[*counter](nil, lifecycle.KeyedOptions{})},
		{"no passivation hooks", lifecycle.Keyed(func(context.Context, string) (*greeter, error) { return &greeter{}, nil }, lifecycle.KeyedOptions{})},
		{"unknown durability", lifecycle.Keyed(newCounter, lifecycle.KeyedOptions{Durability: 9})},
		{"wrong interface", lifecycle.Keyed(func(context.Context, string) (*struct{ counter }, error) { return nil, nil }, lifecycle.KeyedOptions{})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := binding()
			if tc.name == "wrong interface" {
				b.Implements = func(any) bool { return false }
			}
			err := tc.k.Bind(b, nil)
			assert.Equal(t, remoting.CodeInvalidArgument, remoting.CodeOf(err), "Bind: %v", err)
			assert.NoError(t, tc.k.Close())
		})
	}
}

func TestKeyedBindsOnce(t *testing.T) {
	k := lifecycle.Keyed(newCounter, lifecycle.KeyedOptions{})
	require.NoError(t, k.Bind(binding(), nil))
	assert.Equal(t, remoting.CodeInvalidArgument, remoting.CodeOf(k.Bind(binding(), nil)), "a second Bind")
	assert.NoError(t, k.Close())
	assert.NoError(t, k.Close(), "Close is idempotent")
}

// TestKeyedObjectLifecycle drives one object's strategy directly: the
// first Acquire activates it, Close saves it (SaveOnPassivation), and a
// new object of the same key on the same store gets the state back.
func TestKeyedObjectLifecycle(t *testing.T) {
	ctx := ctxT(t)
	store := passivation.NewMemoryStore()
	t.Cleanup(func() { store.Close() })
	ev := new(remoting.EventCounts)
	k := lifecycle.Keyed(newCounter, lifecycle.KeyedOptions{Store: store})
	require.NoError(t, k.Bind(binding(ev), nil))
	t.Cleanup(func() { k.Close() })
	id := remoting.KeyID("example.com/greet.Greeter", "a")

	st := k.Object(id, "a")
	assert.Equal(t, lifecycle.NameKeyed, st.(interface{ Name() string }).Name())
	v, err := st.Acquire(ctx)
	require.NoError(t, err)
	v.(*counter).n = 41
	st.Return(v)
	assert.Equal(t, 1, k.Len(), "live objects")
	require.NoError(t, st.Close(ctx), "Close")
	assert.Equal(t, 0, k.Len(), "live objects after Close")
	_, err = st.Acquire(ctx)
	assert.ErrorIs(t, err, lifecycle.ErrClosed, "Acquire after Close")

	again := k.Object(id, "a")
	v, err = again.Acquire(ctx)
	require.NoError(t, err)
	assert.Equal(t, 41, v.(*counter).n, "the state saved at Close")
	again.Return(v)
	require.NoError(t, again.Close(ctx))
	iface := binding().Interface
	assert.EqualValues(t, 1, ev.Get(iface, remoting.EventActivated), "Activated: the first, from no state")
	assert.EqualValues(t, 1, ev.Get(iface, remoting.EventReactivated), "Reactivated: from the saved state")
	assert.EqualValues(t, 2, ev.Get(iface, remoting.EventPassivated), "Passivated: a save at each Close")
	assert.EqualValues(t, 2, ev.Get(iface, remoting.EventDeactivated))
}

func TestDurabilityString(t *testing.T) {
	assert.Equal(t, "on passivation", lifecycle.SaveOnPassivation.String())
	assert.Equal(t, "every call", lifecycle.SaveEveryCall.String())
	assert.Equal(t, "every interval", lifecycle.SaveEveryInterval.String())
	assert.Equal(t, "Durability(7)", lifecycle.Durability(7).String())
}

// TestKeyedRecord: a record that KeyedRecord made and a caller saved is
// the state the object of that key activates with, and it is the record
// the object writes itself for the same state.
func TestKeyedRecord(t *testing.T) {
	ctx := ctxT(t)
	store := passivation.NewMemoryStore()
	t.Cleanup(func() { store.Close() })
	iface := binding().Interface
	state, err := passivation.Encode(1, 41)
	require.NoError(t, err)
	id, data, err := lifecycle.KeyedRecord(iface, "a", state)
	require.NoError(t, err, "KeyedRecord")
	assert.Equal(t, remoting.KeyID(iface, "a"), id, "KeyedRecord's id")
	_, err = store.Save(ctx, id, data, 0)
	require.NoError(t, err, "Save")

	k := lifecycle.Keyed(newCounter, lifecycle.KeyedOptions{Store: store})
	require.NoError(t, k.Bind(binding(), nil))
	t.Cleanup(func() { k.Close() })
	st := k.Object(id, "a")
	v, err := st.Acquire(ctx)
	require.NoError(t, err, "Acquire")
	assert.Equal(t, 41, v.(*counter).n, "the state of the record KeyedRecord made")
	st.Return(v)
	require.NoError(t, st.Close(ctx), "Close") // saves, SaveOnPassivation
	rec, err := store.Load(ctx, id)
	require.NoError(t, err, "Load")
	assert.Equal(t, data, rec.Data, "the record the object wrote for the same state")
}
