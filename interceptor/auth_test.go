package interceptor_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/interceptor"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/adapt/svc"
)

// tokens is the credential check of the tests: a token names a user.
func tokens(_ context.Context, cred string) (string, error) {
	switch cred {
	case "token-alice":
		return "alice", nil
	case "token-bob":
		return "bob", nil
	}
	return "", errors.New("unknown token")
}

// bobMayOnlyEcho is the authorization of the tests.
func bobMayOnlyEcho(identity, iface, method string) bool {
	return identity == "alice" || (identity == "bob" && iface == svc.ProbeInterface && method == "Probe.Echo")
}

func TestAuthentication(t *testing.T) {
	srv := startServer(t, invoker.Options{Interceptors: []remoting.Interceptor{
		interceptor.Authenticate(tokens),
		interceptor.Authorize(bobMayOnlyEcho),
	}})
	ctx := ctxT(t)
	for _, tc := range []struct {
		name     string
		client   []remoting.Interceptor
		seen     error  // of Seen
		echo     error  // of Echo
		identity string // Seen's identity, when it succeeds
	}{
		{name: "no credential", seen: remoting.ErrPermissionDenied, echo: remoting.ErrPermissionDenied},
		{name: "wrong credential", client: []remoting.Interceptor{interceptor.Credential("token-mallory")},
			seen: remoting.ErrPermissionDenied, echo: remoting.ErrPermissionDenied},
		{name: "empty credential", client: []remoting.Interceptor{interceptor.Credential("")},
			seen: remoting.ErrPermissionDenied, echo: remoting.ErrPermissionDenied},
		{name: "alice", client: []remoting.Interceptor{interceptor.Credential("token-alice")}, identity: "alice"},
		{name: "bob may echo only", client: []remoting.Interceptor{interceptor.Credential("token-bob")},
			seen: remoting.ErrPermissionDenied},
		{name: "credential func", client: []remoting.Interceptor{interceptor.CredentialFunc(func(context.Context) (string, error) {
			return "token-alice", nil
		})}, identity: "alice"},
		{name: "credential func fails", client: []remoting.Interceptor{interceptor.CredentialFunc(func(context.Context) (string, error) {
			return "", errors.New("token store down")
		})}, seen: remoting.ErrPermissionDenied, echo: remoting.ErrPermissionDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, p := dial(t, srv.endpoint, requestor.Options{})
			c.SetInterceptors(tc.client...) // after the lookup, which a failing CredentialFunc would fail
			before := srv.activations()

			seen, err := p.Seen(ctx, "x")
			if tc.seen != nil {
				require.ErrorIs(t, err, tc.seen, "Seen")
			} else {
				require.NoError(t, err, "Seen")
				assert.True(t, seen.HasIdentity, "Seen: the method sees an identity")
				assert.Equal(t, tc.identity, seen.Identity, "Seen: identity")
				assert.NotContains(t, seen.Meta, interceptor.CredentialKey, "Seen: the method does not see the credential")
			}
			_, err = p.Echo(ctx, 1)
			if tc.echo != nil {
				require.ErrorIs(t, err, tc.echo, "Echo")
			} else {
				require.NoError(t, err, "Echo")
			}

			// A refused call activates no instance (Probe is per request).
			want := before
			for _, refused := range []error{tc.seen, tc.echo} {
				if refused == nil {
					want++
				}
			}
			assert.Equal(t, want, srv.activations(), "activations")
		})
	}
}

func TestCredentialDoesNotChangeCallersMeta(t *testing.T) {
	shared := remoting.Metadata{"tenant": "t1"}
	var sent remoting.Metadata
	ic := remoting.Chain(interceptor.Credential("c"))
	err := ic(context.Background(), &remoting.Invocation{Meta: shared}, func(_ context.Context, inv *remoting.Invocation) error {
		sent = inv.Meta
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, remoting.Metadata{"tenant": "t1", interceptor.CredentialKey: "c"}, sent, "Meta sent")
	assert.Equal(t, remoting.Metadata{"tenant": "t1"}, shared, "the caller's map")
}
