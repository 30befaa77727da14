package lifecycle_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/lifecycle"
)

func TestPerRequest(t *testing.T) {
	tr := &tracker{}
	s := lifecycle.PerRequest(tr.newGreeter)
	counts := bind(t, s)
	seen := map[any]bool{}
	for i := range 5 {
		v, err := s.Acquire(ctxT(t))
		require.NoError(t, err, "Acquire %d", i)
		assert.False(t, seen[v], "call %d got an instance seen before", i)
		seen[v] = true
		assert.EqualValues(t, i+1, tr.activated.Load(), "Activate calls after Acquire %d", i)
		s.Return(v)
		assert.EqualValues(t, i+1, tr.deactivated.Load(), "Deactivate calls after Return %d", i)
	}
	assert.EqualValues(t, 5, counts.Get(greeterInterface, remoting.EventActivated))
	assert.EqualValues(t, 5, counts.Get(greeterInterface, remoting.EventDeactivated))

	require.NoError(t, s.Close(ctxT(t)))
	_, err := s.Acquire(ctxT(t))
	assert.ErrorIs(t, err, lifecycle.ErrClosed, "Acquire after Close")
}

func TestPerRequestErrors(t *testing.T) {
	errNew := remoting.Errorf(remoting.CodeFailedPrecondition, "not now")
	s := lifecycle.PerRequest(func(context.Context) (*greeter, error) { return nil, errNew })
	counts := bind(t, s)
	_, err := s.Acquire(ctxT(t))
	assert.ErrorIs(t, err, remoting.ErrFailedPrecondition, "Acquire keeps the constructor's code")
	assert.EqualValues(t, 1, counts.Failed(greeterInterface, remoting.EventActivated))

	s2 := lifecycle.PerRequest(func(context.Context) (Greeter, error) { return panicky{}, nil })
	counts = bind(t, s2)
	v, err := s2.Acquire(ctxT(t))
	require.NoError(t, err)
	s2.Return(v) // Deactivate panics: reported, not raised
	assert.EqualValues(t, 1, counts.Failed(greeterInterface, remoting.EventDeactivated))
}

type panicky struct{}

func (panicky) Greet(context.Context, string) (string, error) { return "", nil }
func (panicky) Deactivate(context.Context) error              { panic("deactivate") }
