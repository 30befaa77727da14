package dispatch_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/dispatch"
	"github.com/remoting-go/remoting/internal/testservice"
	"github.com/remoting-go/remoting/internal/wire"
)

// nokeys is a Keys whose objects are never called.
type nokeys struct{}

func (nokeys) Object(remoting.ObjectID, string) dispatch.Instances { return nil }
func (nokeys) Left(error) bool                                     { return false }
func (nokeys) Close(context.Context) error                         { return nil }

func (c *conn) list(ctx context.Context) (wire.ListReply, error) {
	var reply wire.ListReply
	err := c.client.Invoke(ctx, &remoting.Invocation{Method: wire.ListMethod, Args: &wire.ListArgs{}, Reply: &reply})
	return reply, err
}

func (c *conn) describe(ctx context.Context, iface string) (wire.Description, error) {
	var reply wire.Description
	err := c.client.Invoke(ctx, &remoting.Invocation{Method: wire.DescribeMethod, Args: &wire.DescribeArgs{Interface: iface}, Reply: &reply})
	return reply, err
}

func TestListAndDescribe(t *testing.T) {
	reg := dispatch.NewRegistry(nil, nil, nil)
	reg.SetDescribing(dispatch.DescribeServed)
	require.NoError(t, reg.Insert(named("echo-b", dispatch.Fixed(&testservice.Impl{}))))
	require.NoError(t, reg.Insert(named("echo-a", dispatch.Fixed(&testservice.Impl{}))))
	anon := named("anon", dispatch.Fixed(&testservice.Impl{}))
	anon.Name = ""
	require.NoError(t, reg.Insert(anon))
	bare := *testservice.EchoInvoker()
	bare.Interface, bare.Description = "example.com/bare.Echo", nil
	require.NoError(t, reg.RegisterKeys(&bare, nokeys{}))
	c := serve(t, reg)
	ctx := ctxT(t)

	got, err := c.list(ctx)
	require.NoError(t, err, "remoting.List")
	methods := []string{"Blob", "Count", "Echo", "Fail", "Panic", "Round", "Sleep"}
	assert.Equal(t, wire.ListReply{
		Objects: []wire.ListedObject{
			{Name: "echo-a", ID: remoting.NameID("echo-a"), Interface: testservice.EchoInterface, Methods: methods},
			{Name: "echo-b", ID: remoting.NameID("echo-b"), Interface: testservice.EchoInterface, Methods: methods},
		},
		Keyed: []wire.ListedInterface{{Interface: "example.com/bare.Echo", Methods: methods}},
	}, got, "remoting.List")

	d, err := c.describe(ctx, testservice.EchoInterface)
	require.NoError(t, err, "remoting.Describe(%s)", testservice.EchoInterface)
	require.NoError(t, d.Check(), "Check of the description that crossed the wire")
	assert.Equal(t, *testservice.EchoInvoker().Description, d, "the description that crossed the wire")
	m, ok := d.Method("Round")
	require.True(t, ok, "Method(Round)")
	assert.Equal(t, "p", m.Params[0].Name)
	assert.Equal(t, "testservice.Payload", d.Types[m.Params[0].Type].Name)

	_, err = c.describe(ctx, "example.com/none.Thing")
	assert.Equal(t, remoting.CodeNotFound, remoting.CodeOf(err), "Describe of an interface not served: %v", err)
	_, err = c.describe(ctx, "example.com/bare.Echo")
	assert.Equal(t, remoting.CodeUnimplemented, remoting.CodeOf(err), "Describe of an interface without a description: %v", err)
}

func TestDescribing(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  bool
		d    dispatch.Describing
		want remoting.Code
	}{
		{"default, as a client's registry", false, 0, remoting.CodeNotFound},
		{"denied", true, dispatch.DescribeDenied, remoting.CodePermissionDenied},
		{"served", true, dispatch.DescribeServed, remoting.CodeOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := dispatch.NewRegistry(nil, nil, nil)
			if tc.set {
				reg.SetDescribing(tc.d)
			}
			require.NoError(t, reg.Insert(named("echo", dispatch.Fixed(&testservice.Impl{}))))
			c := serve(t, reg)
			ctx := ctxT(t)
			_, err := c.list(ctx)
			assert.Equal(t, tc.want, remoting.CodeOf(err), "remoting.List: %v", err)
			_, err = c.describe(ctx, testservice.EchoInterface)
			assert.Equal(t, tc.want, remoting.CodeOf(err), "remoting.Describe: %v", err)
			_, err = c.lookup(ctx, "echo")
			assert.NoError(t, err, "remoting.Lookup is served whatever Describing says")
		})
	}
}
