package lifecycle_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/passivation"
)

// savingGreeter is a Greeter that can be passivated.
type savingGreeter struct{ greeter }

func (g *savingGreeter) SaveState(context.Context) ([]byte, error) {
	return passivation.Encode(1, g.n)
}

func (g *savingGreeter) RestoreState(_ context.Context, data []byte) error {
	_, err := passivation.Decode(data, &g.n)
	return err
}

// table stands in for a registry: the objects a Dependents exported.
type table struct {
	mu sync.Mutex
	m  map[remoting.ObjectID]lifecycle.Strategy
}

func (tb *table) add(id remoting.ObjectID, s lifecycle.Strategy) error {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if tb.m == nil {
		tb.m = map[remoting.ObjectID]lifecycle.Strategy{}
	}
	tb.m[id] = s
	return nil
}

func (tb *table) drop(id remoting.ObjectID) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	delete(tb.m, id)
}

func (tb *table) get(id remoting.ObjectID) lifecycle.Strategy {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.m[id]
}

// newManager returns a Dependents whose objects go to a table; the test
// closes it.
func newManager(t *testing.T, grace time.Duration) (*lifecycle.Dependents, *table) {
	t.Helper()
	tb := new(table)
	m := lifecycle.NewDependents(lifecycle.DependentsOptions{Grace: grace, OnEnd: tb.drop})
	t.Cleanup(func() { m.Close(context.Background()) })
	return m, tb
}

func ifaceBinding(obs ...remoting.Observer) lifecycle.Binding {
	b := binding(obs...)
	b.ID, b.Name = remoting.ObjectID{}, ""
	return b
}

// export exports impl for owner and returns its id.
func export(t *testing.T, m *lifecycle.Dependents, tb *table, owner remoting.ObjectID, impl any) (remoting.ObjectID, error) {
	t.Helper()
	b := ifaceBinding()
	b.ID = remoting.NewObjectID()
	err := m.Export(owner, b, impl, func(s lifecycle.Strategy) error { return tb.add(b.ID, s) })
	return b.ID, err
}

func TestPolicyRefused(t *testing.T) {
	newSaving := func(context.Context) (*savingGreeter, error) { return &savingGreeter{}, nil }
	tests := []struct {
		name string
		p    lifecycle.Policy
	}{
		{"negative TTL", lifecycle.ClientDependent(lifecycle.ClientDependentOptions{TTL: -time.Second})},
		{"unknown renewal", lifecycle.ClientDependent(lifecycle.ClientDependentOptions{Renewal: 7})},
		{"no save hooks", lifecycle.ClientDependent(lifecycle.ClientDependentOptions{
			Passivation: lifecycle.Passivate((&tracker{}).newGreeter, lifecycle.PassivationOptions{}),
		})},
		{"nil constructor", lifecycle.ClientDependent(lifecycle.ClientDependentOptions{
			Passivation: lifecycle.Passivate[*savingGreeter](nil, lifecycle.PassivationOptions{}),
		})},
		{"not the interface", lifecycle.ClientDependent(lifecycle.ClientDependentOptions{
			Passivation: lifecycle.Passivate(func(context.Context) (*savingNot, error) { return nil, nil }, lifecycle.PassivationOptions{}),
		})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, tb := newManager(t, time.Minute)
			err := m.SetPolicy(ifaceBinding(), tc.p, func(id, _ remoting.ObjectID, s lifecycle.Strategy) error { return tb.add(id, s) })
			assert.ErrorIs(t, err, remoting.ErrInvalidArgument, "SetPolicy")
		})
	}
	m, tb := newManager(t, time.Minute)
	add := func(id, _ remoting.ObjectID, s lifecycle.Strategy) error { return tb.add(id, s) }
	ok := lifecycle.ClientDependent(lifecycle.ClientDependentOptions{Passivation: lifecycle.Passivate(newSaving, lifecycle.PassivationOptions{})})
	require.NoError(t, m.SetPolicy(ifaceBinding(), ok, add), "SetPolicy")
	assert.ErrorIs(t, m.SetPolicy(ifaceBinding(), ok, add), remoting.ErrInvalidArgument, "second SetPolicy")

	// An instance without the hooks cannot be exported under it.
	_, err := export(t, m, tb, remoting.NewObjectID(), &greeter{tr: &tracker{}})
	assert.ErrorIs(t, err, remoting.ErrInternal, "Export of an instance that cannot be passivated")
	_, err = export(t, m, tb, remoting.NewObjectID(), notGreeter{})
	assert.ErrorIs(t, err, remoting.ErrInvalidArgument, "Export of an instance of another interface")
}

// savingNot has the hooks but is no Greeter.
type savingNot struct{}

func (*savingNot) SaveState(context.Context) ([]byte, error)  { return nil, nil }
func (*savingNot) RestoreState(context.Context, []byte) error { return nil }

func TestManagerRenewAndEnded(t *testing.T) {
	m, tb := newManager(t, time.Minute)
	const ttl = 150 * time.Millisecond
	add := func(id, _ remoting.ObjectID, s lifecycle.Strategy) error { return tb.add(id, s) }
	require.NoError(t, m.SetPolicy(ifaceBinding(), lifecycle.ClientDependent(lifecycle.ClientDependentOptions{TTL: ttl}), add))
	alice, bob := remoting.NewObjectID(), remoting.NewObjectID()
	m.Connected(alice)
	m.Connected(bob)
	id, err := export(t, m, tb, alice, &greeter{tr: &tracker{}})
	require.NoError(t, err, "Export")
	unknown := remoting.NewObjectID()

	assert.Equal(t, []time.Duration{ttl, -1}, m.Renew(alice, []remoting.ObjectID{id, unknown}), "Renew by the owner")
	assert.Equal(t, []time.Duration{-1}, m.Renew(bob, []remoting.ObjectID{id}), "Renew by another client")
	v, err := tb.get(id).Acquire(ctxT(t))
	require.NoError(t, err, "Acquire")
	tb.get(id).Return(v)

	require.Eventually(t, func() bool { return tb.get(id) == nil }, 5*time.Second, time.Millisecond, "the object expires")
	err = m.Gone(alice, id)
	assert.ErrorIs(t, err, remoting.ErrFailedPrecondition, "Ended for the owner")
	assert.ErrorContains(t, err, "lease expired")
	assert.NoError(t, m.Gone(bob, id), "Ended for another client: no hint")
	assert.NoError(t, m.Gone(alice, unknown), "Ended of an unknown id")
	assert.Equal(t, []time.Duration{-1}, m.Renew(alice, []remoting.ObjectID{id}), "Renew after the expiry")
	assert.Zero(t, m.Len(), "Len()")
}

func TestManagerDefaultPolicy(t *testing.T) {
	m, tb := newManager(t, 100*time.Millisecond)
	tr := &tracker{}
	owner := remoting.NewObjectID()
	m.Connected(owner)
	id, err := export(t, m, tb, owner, &greeter{tr: tr})
	require.NoError(t, err, "Export")
	assert.Equal(t, []time.Duration{0}, m.Renew(owner, []remoting.ObjectID{id}), "Renew of an object without a lease")

	// Gone and back within the grace period: it stays.
	m.Disconnected(owner)
	time.Sleep(50 * time.Millisecond)
	m.Connected(owner)
	time.Sleep(100 * time.Millisecond)
	require.NotNil(t, tb.get(id), "the object after its client came back")

	// Gone for good.
	m.Disconnected(owner)
	require.Eventually(t, func() bool { return tb.get(id) == nil }, 5*time.Second, time.Millisecond, "the object ends")
	require.Eventually(t, func() bool { return tr.deactivated.Load() == 1 }, 5*time.Second, time.Millisecond, "Deactivate calls")
	assert.ErrorContains(t, m.Gone(owner, id), "grace period", "Ended")

	// Release ends at once.
	m.Connected(owner)
	id, err = export(t, m, tb, owner, &greeter{tr: tr})
	require.NoError(t, err, "Export")
	require.NoError(t, m.End(id), "Release")
	assert.Nil(t, tb.get(id), "the object after Release")
	assert.EqualValues(t, 2, tr.deactivated.Load(), "Deactivate calls after Release")
	assert.ErrorIs(t, m.End(id), remoting.ErrNotFound, "second Release")
	assert.NoError(t, m.Gone(owner, id), "Ended of a released object: it did not expire")
}
