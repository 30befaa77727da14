package remoting_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/errtypes"
)

func TestRefStringRoundTrips(t *testing.T) {
	id := remoting.NewObjectID()
	cases := []remoting.Ref{
		{Endpoint: "tcp://127.0.0.1:4000", ID: id, Interface: "example.com/shop/cart.Cart"},
		{Endpoint: "unix:///run/app/r.sock", ID: id, Interface: "x.Y"},
		{Endpoint: "tls://[::1]:443", ID: remoting.NameID("catalog"), Interface: "a/b/c.D"},
		{ID: id, Interface: "x.Y"},
		{ID: id},
	}
	for _, ref := range cases {
		s := ref.String()
		got, err := remoting.ParseRef(s)
		require.NoError(t, err, "ParseRef(%q)", s)
		assert.Equal(t, ref, got, "ParseRef(%q)", s)
		text, err := ref.MarshalText()
		require.NoError(t, err)
		var back remoting.Ref
		require.NoError(t, back.UnmarshalText(text))
		assert.Equal(t, ref, back)
	}
}

func TestParseRefErrors(t *testing.T) {
	for _, in := range []string{"", "tcp://h:1/abc#x.Y", "tcp://h:1/" + remoting.NewObjectID().String(), "no-slash#x"} {
		_, err := remoting.ParseRef(in)
		assert.Error(t, err, "ParseRef(%q)", in)
	}
}

func TestObjectIDs(t *testing.T) {
	a, b := remoting.NewObjectID(), remoting.NewObjectID()
	assert.NotEqual(t, a, b)
	assert.False(t, a.IsZero())
	assert.True(t, remoting.ObjectID{}.IsZero())
	assert.Equal(t, remoting.NameID("cart"), remoting.NameID("cart"), "name ids are stable")
	assert.NotEqual(t, remoting.NameID("cart"), remoting.NameID("carts"))
	back, err := remoting.ParseObjectID(a.String())
	require.NoError(t, err)
	assert.Equal(t, a, back)
	_, err = remoting.ParseObjectID("nope")
	assert.Error(t, err)
}

func TestErrorCodesAndSentinels(t *testing.T) {
	err := fmt.Errorf("call: %w", remoting.Errorf(remoting.CodeUnavailable, "server %s gone", "x"))
	assert.ErrorIs(t, err, remoting.ErrUnavailable)
	assert.NotErrorIs(t, err, remoting.ErrNotFound)
	assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err))
	assert.Equal(t, "remoting: Unavailable: server x gone", errors.Unwrap(err).Error())
	assert.Equal(t, remoting.CodeOK, remoting.CodeOf(nil))
	assert.Equal(t, remoting.CodeUnknown, remoting.CodeOf(errors.New("x")))
	assert.Equal(t, remoting.CodeNotFound, remoting.CodeOf(remoting.ErrNotFound))
	assert.Equal(t, "NotFound", remoting.CodeNotFound.String())
	assert.Equal(t, "Code(77)", remoting.Code(77).String())

	cause := errors.New("inner")
	wrapped := remoting.Errorf(remoting.CodeInternal, "outer: %w", cause)
	assert.ErrorIs(t, wrapped, cause)
}

type dupErr struct{}

func (dupErr) Error() string { return "dup" }

// registerDupErr registers dupErr once per test binary, so that the test
// below also runs with -count > 1.
var registerDupErr = sync.OnceFunc(func() { remoting.RegisterError[dupErr]("remoting_test.dupErr") })

func TestRegisterErrorTwicePanics(t *testing.T) {
	registerDupErr()
	assert.Panics(t, func() { remoting.RegisterError[dupErr]("remoting_test.other") })
	assert.Panics(t, func() { remoting.RegisterError[*dupErr]("remoting_test.dupErr") })
	name, v, ok := errtypes.Find(fmt.Errorf("a: %w", errors.Join(errors.New("b"), dupErr{})))
	require.True(t, ok)
	assert.Equal(t, "remoting_test.dupErr", name)
	assert.Equal(t, dupErr{}, v)
}

func TestParseEndpoint(t *testing.T) {
	cases := []struct{ in, network, addr string }{
		{"tcp://127.0.0.1:1", "tcp", "127.0.0.1:1"},
		{"127.0.0.1:1", "tcp", "127.0.0.1:1"},
		{"unix:///tmp/x.sock", "unix", "/tmp/x.sock"},
		{"tls://h:443", "tls", "h:443"},
	}
	for _, tc := range cases {
		n, a, err := remoting.ParseEndpoint(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.network, n, tc.in)
		assert.Equal(t, tc.addr, a, tc.in)
	}
	for _, bad := range []string{"http://x", "tcp://", ""} {
		_, _, err := remoting.ParseEndpoint(bad)
		assert.Error(t, err, bad)
	}
}
