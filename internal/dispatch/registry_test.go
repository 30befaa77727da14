package dispatch_test

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/dispatch"
	"github.com/remoting-go/remoting/internal/peer"
	"github.com/remoting-go/remoting/internal/testservice"
	"github.com/remoting-go/remoting/internal/transport"
	"github.com/remoting-go/remoting/internal/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const wait = 5 * time.Second

// conn is a registry served over a real session: calls go from client
// (whose id is id) to the registry on the other end.
type conn struct {
	reg    *dispatch.Registry
	client *peer.Peer
	id     remoting.ObjectID // the client's id, the owner of what it creates
}

func serve(t *testing.T, reg *dispatch.Registry) *conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	id := remoting.NewObjectID()
	a, b := net.Pipe()
	accepted := make(chan *transport.Session, 1)
	go func() {
		s, err := transport.Server(ctx, b, transport.Options{})
		if err != nil {
			t.Errorf("transport.Server: %v", err)
		}
		accepted <- s
	}()
	csess, err := transport.Client(ctx, a, transport.Options{ID: id})
	require.NoError(t, err, "transport.Client")
	ssess := <-accepted
	require.NotNil(t, ssess)
	client := peer.New(csess, nil, peer.Options{})
	server := peer.New(ssess, reg, peer.Options{})
	t.Cleanup(func() {
		client.Close()
		server.Close()
		reg.Close(context.Background())
	})
	return &conn{reg: reg, client: client, id: id}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// echo returns a proxy for the object id on c.
func (c *conn) echo(id remoting.ObjectID) *testservice.EchoProxy {
	return testservice.NewEchoProxy(c.client, remoting.Ref{ID: id, Interface: testservice.EchoInterface})
}

// lookup calls the naming service.
func (c *conn) lookup(ctx context.Context, name string) (wire.LookupReply, error) {
	var reply wire.LookupReply
	err := c.client.Invoke(ctx, &remoting.Invocation{Method: wire.LookupMethod, Args: &wire.LookupArgs{Name: name}, Reply: &reply})
	return reply, err
}

// counted are Instances that count what is asked of them.
type counted struct {
	impl                      any
	acquires, returns, closes atomic.Int64
}

func (c *counted) Acquire(context.Context) (any, error) { c.acquires.Add(1); return c.impl, nil }
func (c *counted) Return(any)                           { c.returns.Add(1) }
func (c *counted) Close(context.Context) error          { c.closes.Add(1); return nil }

func named(name string, inst dispatch.Instances) dispatch.Object {
	return dispatch.Object{ID: remoting.NameID(name), Name: name, Invoker: testservice.EchoInvoker(), Instances: inst}
}

func TestLookup(t *testing.T) {
	reg := dispatch.NewRegistry(nil, nil, nil)
	require.NoError(t, reg.Insert(named("echo", dispatch.Fixed(&testservice.Impl{}))))
	// An anonymous object under the id a name would have is not found by
	// that name.
	anon := named("ghost", dispatch.Fixed(&testservice.Impl{}))
	anon.Name = ""
	require.NoError(t, reg.Insert(anon))
	c := serve(t, reg)

	tests := []struct {
		name     string
		wantCode remoting.Code
		want     wire.LookupReply
	}{
		{"echo", remoting.CodeOK, wire.LookupReply{ID: remoting.NameID("echo"), Interface: testservice.EchoInterface}},
		{"nobody", remoting.CodeNotFound, wire.LookupReply{}},
		{"ghost", remoting.CodeNotFound, wire.LookupReply{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.lookup(ctxT(t), tc.name)
			assert.Equal(t, tc.wantCode, remoting.CodeOf(err), "Lookup(%q): %v", tc.name, err)
			assert.Equal(t, tc.want, got, "Lookup(%q)", tc.name)
		})
	}

	s, err := c.echo(remoting.NameID("echo")).Echo(ctxT(t), "hi")
	require.NoError(t, err, "Echo on the object found")
	assert.Equal(t, "hi", s, "Echo")
}

func TestNotFound(t *testing.T) {
	reg := dispatch.NewRegistry(nil, nil, nil)
	require.NoError(t, reg.Insert(named("echo", dispatch.Fixed(&testservice.Impl{}))))
	someoneElse := remoting.NewObjectID()
	owned := dispatch.Object{ID: remoting.NewObjectID(), Invoker: testservice.EchoInvoker(), Instances: dispatch.Fixed(&testservice.Impl{}), Owner: someoneElse}
	require.NoError(t, reg.Insert(owned))
	c := serve(t, reg)
	unknown := remoting.NewObjectID()

	tests := []struct {
		name    string
		target  remoting.ObjectID
		method  string
		wantMsg string
	}{
		{"unknown object", unknown, "Echo.Echo", "object " + unknown.String() + " not found"},
		{"unknown method", remoting.NameID("echo"), "Echo.Nope", `method "Echo.Nope" not found on ` + testservice.EchoInterface},
		{"unknown naming method", remoting.ObjectID{}, "remoting.Nope", `method "remoting.Nope" not found on the naming service`},
		// Only a registry with Owners (a server's) renews leases.
		{"renew without owners", remoting.ObjectID{}, wire.RenewMethod, `method "remoting.Renew" not found on the naming service`},
		// Owned by another end: the same answer as for an id that never
		// existed, with no hint that it does.
		{"owned by another end", owned.ID, "Echo.Echo", "object " + owned.ID.String() + " not found"},
		{"release of an object owned by another end", owned.ID, wire.ReleaseMethod, "object " + owned.ID.String() + " not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := c.client.Invoke(ctxT(t), &remoting.Invocation{
				Target: remoting.Ref{ID: tc.target},
				Method: tc.method,
				Args: &struct {
					_ struct{} `cbor:",toarray"`
				}{},
			})
			var re *remoting.Error
			require.ErrorAs(t, err, &re, "Invoke(%s)", tc.method)
			assert.Equal(t, remoting.CodeNotFound, re.Code, "code of Invoke(%s)", tc.method)
			assert.Equal(t, tc.wantMsg, re.Message, "message of Invoke(%s)", tc.method)
		})
	}
}

func TestOwnerCallsItsObject(t *testing.T) {
	reg := dispatch.NewRegistry(nil, nil, nil)
	c := serve(t, reg)
	obj := dispatch.Object{ID: remoting.NewObjectID(), Invoker: testservice.EchoInvoker(), Instances: dispatch.Fixed(&testservice.Impl{}), Owner: c.id}
	require.NoError(t, reg.Insert(obj))
	s, err := c.echo(obj.ID).Echo(ctxT(t), "mine")
	require.NoError(t, err, "Echo by the owner")
	assert.Equal(t, "mine", s, "Echo by the owner")
}

func TestRelease(t *testing.T) {
	reg := dispatch.NewRegistry(nil, nil, nil)
	require.NoError(t, reg.Insert(named("echo", dispatch.Fixed(&testservice.Impl{}))))
	c := serve(t, reg)
	ctx := ctxT(t)

	ref, err := reg.Export(c.id, testservice.EchoInvoker(), &testservice.Impl{})
	require.NoError(t, err, "Export")
	assert.Equal(t, testservice.EchoInterface, ref.Interface, "Export's Ref")
	assert.Equal(t, 2, reg.Len(), "Len after Export")
	_, err = c.echo(ref.ID).Echo(ctx, "x")
	require.NoError(t, err, "Echo on the exported object")

	assert.NoError(t, dispatch.SendRelease(ctx, c.client, ref), "SendRelease")
	assert.Equal(t, 1, reg.Len(), "Len after release")
	_, err = c.echo(ref.ID).Echo(ctx, "x")
	assert.Equal(t, remoting.CodeNotFound, remoting.CodeOf(err), "Echo after release: %v", err)
	assert.NoError(t, dispatch.SendRelease(ctx, c.client, ref), "SendRelease of an object already gone")

	// A named object belongs to no client and cannot be released remotely.
	err = dispatch.SendRelease(ctx, c.client, remoting.Ref{ID: remoting.NameID("echo")})
	assert.Equal(t, remoting.CodePermissionDenied, remoting.CodeOf(err), "SendRelease of a named object: %v", err)
	assert.Equal(t, 1, reg.Len(), "Len after the refused release")

	nothing, err := reg.Export(c.id, testservice.EchoInvoker(), nil)
	assert.NoError(t, err, "Export(nil)")
	assert.Zero(t, nothing, "Export(nil)")
	_, err = reg.Export(c.id, &dispatch.Invoker{Interface: "x"}, &testservice.Impl{})
	assert.Equal(t, remoting.CodeInvalidArgument, remoting.CodeOf(err), "Export with an incomplete invoker: %v", err)
}

func TestPanicBecomesInternal(t *testing.T) {
	inst := &counted{impl: &testservice.Impl{}}
	reg := dispatch.NewRegistry(nil, nil, nil)
	require.NoError(t, reg.Insert(named("echo", inst)))
	c := serve(t, reg)
	ctx := ctxT(t)
	p := c.echo(remoting.NameID("echo"))

	err := p.Panic(ctx)
	var re *remoting.Error
	require.ErrorAs(t, err, &re, "Panic")
	assert.Equal(t, remoting.CodeInternal, re.Code, "code of Panic")
	assert.Contains(t, re.Message, "deliberate panic", "message of Panic")
	assert.Equal(t, int64(1), inst.returns.Load(), "instances returned after the panic")

	s, err := p.Echo(ctx, "still here")
	require.NoError(t, err, "Echo after a panic")
	assert.Equal(t, "still here", s, "Echo after a panic")
}

func TestInterceptorsRunBeforeAcquire(t *testing.T) {
	refuse := func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		if inv.Method == "Echo.Count" {
			return remoting.Errorf(remoting.CodePermissionDenied, "no counting")
		}
		return next(ctx, inv)
	}
	tests := []struct {
		name         string
		mode         remoting.Mode
		method       string
		wantCode     remoting.Code
		wantAcquires int64
		wantOrder    []string
	}{
		{"let through", remoting.ModeSync, "Echo.Echo", remoting.CodeOK, 1, []string{"outer Echo.Echo", "inner Echo.Echo"}},
		{"refused", remoting.ModeSync, "Echo.Count", remoting.CodePermissionDenied, 0, []string{"outer Echo.Count", "inner Echo.Count"}},
		// The ack comes only once the interceptors let the call through,
		// so a Sync-with-Server caller learns of the refusal.
		{"refused sync with server", remoting.ModeSyncWithServer, "Echo.Count", remoting.CodePermissionDenied, 0, []string{"outer Echo.Count", "inner Echo.Count"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inst := &counted{impl: &testservice.Impl{}}
			reg := dispatch.NewRegistry(nil, nil, nil)
			require.NoError(t, reg.Insert(named("echo", inst)))
			var mu sync.Mutex
			var order []string
			note := func(who string) remoting.Interceptor {
				return func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
					mu.Lock()
					order = append(order, who+" "+inv.Method)
					mu.Unlock()
					assert.Equal(t, tc.mode, inv.Mode, "Invocation.Mode the interceptor sees")
					assert.Zero(t, inst.acquires.Load(), "instances acquired before %s ran", who)
					return next(ctx, inv)
				}
			}
			reg.SetInterceptors(note("outer"), note("inner"), refuse)
			c := serve(t, reg)

			var args any = &struct {
				_ struct{} `cbor:",toarray"`
			}{}
			var reply any = &struct {
				_  struct{} `cbor:",toarray"`
				R0 int64
			}{}
			if tc.method == "Echo.Echo" {
				args = &struct {
					_ struct{} `cbor:",toarray"`
					S string
				}{S: "x"}
				reply = &struct {
					_  struct{} `cbor:",toarray"`
					R0 string
				}{}
			}
			err := c.client.Invoke(ctxT(t), &remoting.Invocation{Target: remoting.Ref{ID: remoting.NameID("echo")}, Method: tc.method, Args: args, Reply: reply, Mode: tc.mode})
			assert.Equal(t, tc.wantCode, remoting.CodeOf(err), "Invoke(%s): %v", tc.method, err)
			assert.Equal(t, tc.wantAcquires, inst.acquires.Load(), "instances acquired")
			mu.Lock()
			assert.Equal(t, tc.wantOrder, order, "interceptors run")
			mu.Unlock()
		})
	}
}

func TestSetInterceptorsNoneRemovesTheChain(t *testing.T) {
	reg := dispatch.NewRegistry(nil, nil, nil)
	require.NoError(t, reg.Insert(named("echo", dispatch.Fixed(&testservice.Impl{}))))
	reg.SetInterceptors(func(context.Context, *remoting.Invocation, remoting.Handler) error {
		return remoting.Errorf(remoting.CodePermissionDenied, "closed")
	})
	c := serve(t, reg)
	p := c.echo(remoting.NameID("echo"))
	_, err := p.Echo(ctxT(t), "x")
	assert.Equal(t, remoting.CodePermissionDenied, remoting.CodeOf(err), "Echo with a refusing chain: %v", err)
	reg.SetInterceptors()
	_, err = p.Echo(ctxT(t), "x")
	assert.NoError(t, err, "Echo after SetInterceptors()")
}

func TestEndOwner(t *testing.T) {
	reg := dispatch.NewRegistry(nil, nil, nil)
	a, b := remoting.NewObjectID(), remoting.NewObjectID()
	var insts []*counted
	for _, owner := range []remoting.ObjectID{a, a, b} {
		inst := &counted{impl: &testservice.Impl{}}
		insts = append(insts, inst)
		require.NoError(t, reg.Insert(dispatch.Object{ID: remoting.NewObjectID(), Invoker: testservice.EchoInvoker(), Instances: inst, Owner: owner}))
	}
	require.NoError(t, reg.Insert(named("echo", dispatch.Fixed(&testservice.Impl{}))))

	assert.Equal(t, 2, reg.EndOwner(context.Background(), a), "EndOwner(a)")
	assert.Equal(t, 2, reg.Len(), "Len after EndOwner(a)")
	assert.Equal(t, []int64{1, 1, 0}, []int64{insts[0].closes.Load(), insts[1].closes.Load(), insts[2].closes.Load()}, "instances closed")
	assert.Zero(t, reg.EndOwner(context.Background(), a), "EndOwner(a) again")
	assert.Equal(t, 1, reg.EndOwner(context.Background(), b), "EndOwner(b)")
	assert.Equal(t, 1, reg.Len(), "Len after EndOwner(b)")
}

func TestInsertUnregisterClose(t *testing.T) {
	reg := dispatch.NewRegistry(nil, nil, nil)
	inst := &counted{impl: &testservice.Impl{}}
	require.NoError(t, reg.Insert(named("echo", inst)))

	tests := []struct {
		name string
		obj  dispatch.Object
	}{
		{"nil invoker", dispatch.Object{ID: remoting.NewObjectID(), Instances: inst}},
		{"incomplete invoker", dispatch.Object{ID: remoting.NewObjectID(), Invoker: &dispatch.Invoker{Interface: "x"}, Instances: inst}},
		{"no instances", dispatch.Object{ID: remoting.NewObjectID(), Invoker: testservice.EchoInvoker()}},
		{"duplicate id", named("echo", inst)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := reg.Insert(tc.obj)
			assert.Equal(t, remoting.CodeInvalidArgument, remoting.CodeOf(err), "Insert: %v", err)
		})
	}
	assert.Equal(t, 1, reg.Len(), "Len after refused inserts")

	c := serve(t, reg)
	ctx := ctxT(t)
	p := c.echo(remoting.NameID("echo"))
	_, err := p.Echo(ctx, "x")
	require.NoError(t, err, "Echo before Unregister")
	require.NoError(t, reg.Unregister(ctx, remoting.NameID("echo")), "Unregister")
	assert.Equal(t, int64(1), inst.closes.Load(), "instances closed by Unregister")
	_, err = p.Echo(ctx, "x")
	assert.Equal(t, remoting.CodeNotFound, remoting.CodeOf(err), "Echo after Unregister: %v", err)
	err = reg.Unregister(ctx, remoting.NameID("echo"))
	assert.Equal(t, remoting.CodeNotFound, remoting.CodeOf(err), "Unregister again: %v", err)

	other := &counted{impl: &testservice.Impl{}}
	require.NoError(t, reg.Insert(named("other", other)))
	require.NoError(t, reg.Close(ctx), "Close")
	assert.Equal(t, int64(1), other.closes.Load(), "instances closed by Close")
	assert.ErrorIs(t, reg.Insert(named("late", other)), dispatch.ErrClosed, "Insert after Close")
}

func TestArgsWithoutAConnection(t *testing.T) {
	args := dispatch.NewArgs(nil)
	_, err := args.Export(testservice.EchoInvoker(), &testservice.Impl{})
	assert.Equal(t, remoting.CodeUnimplemented, remoting.CodeOf(err), "Export on Args without a connection: %v", err)
	err = args.Caller().Invoke(context.Background(), &remoting.Invocation{})
	assert.Equal(t, remoting.CodeUnimplemented, remoting.CodeOf(err), "Caller().Invoke on Args without a connection: %v", err)
	_, err = dispatch.ExportTo(args.Caller(), testservice.EchoInvoker(), &testservice.Impl{})
	assert.Equal(t, remoting.CodeUnimplemented, remoting.CodeOf(err), "ExportTo a Caller that cannot export: %v", err)
}
