package adapt_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/interceptor"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/adapt/svc"
)

// TestAuthRefusalActivatesNothing: calls without a credential, or with a
// wrong one, are refused with PermissionDenied before the Lazy object is
// created; the first authenticated call creates it.
func TestAuthRefusalActivatesNothing(t *testing.T) {
	srv := startServer(t, invoker.Options{Interceptors: []remoting.Interceptor{
		interceptor.Authenticate(func(_ context.Context, cred string) (string, error) {
			if cred == "open-sesame" {
				return "ali", nil
			}
			return "", errors.New("bad password")
		}),
	}})
	srv.register(t, "lazy", svc.ProbeInvoker(), lifecycle.Lazy(srv.serials.NewProbe))
	activated := func() uint64 { return srv.counts.Get(svc.ProbeInterface, remoting.EventActivated) }

	anon := dial(t, srv.endpoint, requestor.Options{})
	wrong := dial(t, srv.endpoint, requestor.Options{Interceptors: []remoting.Interceptor{interceptor.Credential("guess")}})
	right := dial(t, srv.endpoint, requestor.Options{Interceptors: []remoting.Interceptor{interceptor.Credential("open-sesame")}})

	for _, tc := range []struct {
		name string
		c    *requestor.Client
		want string
	}{
		{"missing credential", anon, "no credential"},
		{"wrong credential", wrong, "credential refused: bad password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := probe(t, tc.c, "lazy")
			_, err := p.Seen(ctxT(t), "x")
			require.ErrorIs(t, err, remoting.ErrPermissionDenied, "Seen")
			assert.Contains(t, err.Error(), tc.want)
			var re *remoting.Error
			require.ErrorAs(t, err, &re)
			assert.Equal(t, remoting.CodePermissionDenied, re.Code)
			// Other modes are refused as well. The runtime acks a
			// SyncWithServer call once the object and method are found,
			// before the server chain runs, so its caller sees the ack (nil)
			// rather than the refusal; the object stays untouched either way.
			if err := p.SyncWithServer().Echo(ctxT(t), 1); err != nil {
				assert.ErrorIs(t, err, remoting.ErrPermissionDenied, "SyncWithServer().Echo")
			}
			require.NoError(t, p.Oneway().Echo(ctxT(t), 1), "Oneway().Echo is handed off")
			_, err = p.Async().Echo(ctxT(t), 1).Result(ctxT(t))
			assert.ErrorIs(t, err, remoting.ErrPermissionDenied, "Async().Echo")
			_, err = p.Echo(ctxT(t), 2) // after the one-way call, on the same stream
			require.ErrorIs(t, err, remoting.ErrPermissionDenied, "Echo")
			assert.Zero(t, activated(), "the Lazy object was not created for a refused call")
		})
	}

	p := probe(t, right, "lazy")
	s, err := p.Seen(ctxT(t), "x")
	require.NoError(t, err)
	assert.Equal(t, "ali", s.Identity, "identity seen by the method")
	assert.Equal(t, uint64(1), activated(), "the first authenticated call created the object")
	_, err = p.Seen(ctxT(t), "y")
	require.NoError(t, err)
	assert.Equal(t, uint64(1), activated(), "once")
}
