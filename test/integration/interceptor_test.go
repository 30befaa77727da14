package integration

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/requestor"
)

// recorder is an interceptor that appends its name before and after next.
type recorder struct {
	mu    sync.Mutex
	trace []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.trace = append(r.trace, s)
	r.mu.Unlock()
}

func (r *recorder) ic(name string) remoting.Interceptor {
	return func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		r.add(name + ">")
		err := next(ctx, inv)
		r.add("<" + name)
		return err
	}
}

func TestInterceptorChainsAndInvocationContext(t *testing.T) {
	var rec recorder
	var seen remoting.Metadata
	var info remoting.ServerInfo
	var method string
	var args any
	serverSide := func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		seen = remoting.MetadataFrom(ctx)
		info = *remoting.ServerInfoFrom(ctx)
		method, args = inv.Method, inv.Args
		return next(ctx, inv)
	}
	s := startServer(t, invoker.Options{Interceptors: []remoting.Interceptor{rec.ic("s1"), rec.ic("s2"), serverSide}})
	addMeta := func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		inv.Meta = remoting.Metadata{"tenant": "acme"}
		return next(ctx, inv)
	}
	c := dial(t, s.endpoint, requestor.Options{})
	p := lookup(t, c)
	c.SetInterceptors(rec.ic("c1"), rec.ic("c2"), addMeta)
	got, err := p.Echo(ctxT(t), "hi")
	require.NoError(t, err)
	assert.Equal(t, "hi", got)
	assert.Equal(t, []string{"c1>", "c2>", "s1>", "s2>", "<s2", "<s1", "<c2", "<c1"}, rec.trace, "first interceptor outermost on both sides")
	assert.Equal(t, remoting.Metadata{"tenant": "acme"}, seen, "the invocation context crosses the wire")
	assert.Equal(t, "Echo.Echo", method)
	assert.Nil(t, args, "server interceptors run before the arguments are decoded")
	assert.NotZero(t, info.Caller)
	assert.NotEmpty(t, info.Remote)

	refuse := func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		return remoting.Errorf(remoting.CodePermissionDenied, "no")
	}
	before := mustCount(t, p)
	s.SetInterceptors(refuse)
	_, err = p.Count(ctxT(t))
	assert.ErrorIs(t, err, remoting.ErrPermissionDenied)
	s.SetInterceptors()
	assert.Equal(t, before+1, mustCount(t, p), "the refused call never reached the object")
}

func TestServerIntrospectionAndRefusedSyncWithServer(t *testing.T) {
	s := startServer(t, invoker.Options{})
	objs := s.Objects()
	require.Len(t, objs, 1)
	assert.Equal(t, "echo", objs[0].Name)
	assert.Equal(t, "static", objs[0].Strategy)
	assert.False(t, s.Draining())

	c := dial(t, s.endpoint, requestor.Options{})
	ref := lookup(t, c).Ref()
	s.SetInterceptors(func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		return remoting.Errorf(remoting.CodePermissionDenied, "no")
	})
	err := c.Invoke(ctxT(t), &remoting.Invocation{Target: ref, Method: "Echo.Count", Args: &noArgs{}, Mode: remoting.ModeSyncWithServer})
	assert.ErrorIs(t, err, remoting.ErrPermissionDenied, "a Sync-with-Server call an interceptor refuses learns it instead of an ack")
}
