package lifecycle_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/lifecycle"
)

func TestBindChecksType(t *testing.T) {
	newNot := func(context.Context) (*notGreeter, error) { return &notGreeter{}, nil }
	for _, tc := range []struct {
		name string
		s    lifecycle.Strategy
	}{
		{"static", lifecycle.Static(&notGreeter{})},
		{"lazy", lifecycle.Lazy(newNot)},
		{"perrequest", lifecycle.PerRequest(newNot)},
		{"pooled", lifecycle.Pooled(newNot, lifecycle.PoolOptions{})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Bind(binding())
			assert.ErrorIs(t, err, remoting.ErrInvalidArgument, "Bind of a *notGreeter")
		})
	}
}

func TestBindRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    lifecycle.Strategy
	}{
		{"nil static", lifecycle.Static(nil)},
		{"nil lazy", lifecycle.Lazy[Greeter](nil)},
		{"nil perrequest", lifecycle.PerRequest[Greeter](nil)},
		{"nil pooled", lifecycle.Pooled[Greeter](nil, lifecycle.PoolOptions{})},
		{"pool min above max", lifecycle.Pooled(new(tracker).newGreeter, lifecycle.PoolOptions{Min: 3, Max: 2})},
		{"negative pool max", lifecycle.Pooled(new(tracker).newGreeter, lifecycle.PoolOptions{Max: -1})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.ErrorIs(t, tc.s.Bind(binding()), remoting.ErrInvalidArgument, "Bind")
		})
	}
}

// An interface-typed constructor can only be checked by its instances.
func TestWrongInstanceFromInterfaceConstructor(t *testing.T) {
	newAny := func(context.Context) (any, error) { return &notGreeter{}, nil }
	for _, tc := range []struct {
		name string
		s    lifecycle.Strategy
	}{
		{"lazy", lifecycle.Lazy(newAny)},
		{"perrequest", lifecycle.PerRequest(newAny)},
		{"pooled", lifecycle.Pooled(newAny, lifecycle.PoolOptions{})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bind(t, tc.s)
			_, err := tc.s.Acquire(ctxT(t))
			assert.ErrorIs(t, err, remoting.ErrInternal, "Acquire")
		})
	}
}

// Every strategy of the package names itself, for introspection; the
// names are the documented ones, not derived from Go types.
func TestName(t *testing.T) {
	m, tb := newManager(t, time.Minute)
	id, err := export(t, m, tb, remoting.NewObjectID(), &greeter{tr: new(tracker)})
	require.NoError(t, err, "Export")
	tr := new(tracker)
	for _, tc := range []struct {
		s    lifecycle.Strategy
		want string
	}{
		{lifecycle.Static(&greeter{tr: tr}), "static"},
		{lifecycle.Lazy(tr.newGreeter), "lazy"},
		{lifecycle.PerRequest(tr.newGreeter), "perrequest"},
		{lifecycle.Pooled(tr.newGreeter, lifecycle.PoolOptions{}), "pooled"},
		{tb.get(id), "clientdependent"},
	} {
		n, ok := tc.s.(interface{ Name() string })
		require.True(t, ok, "%T has no Name method", tc.s)
		assert.Equal(t, tc.want, n.Name(), "Name() of %T", tc.s)
	}
}
