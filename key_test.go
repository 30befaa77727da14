package remoting_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
)

func TestKeyIDIsStableAndSeparate(t *testing.T) {
	a := remoting.KeyID("bank.Account", "42")
	assert.Equal(t, a, remoting.KeyID("bank.Account", "42"), "KeyID is stable")
	assert.NotEqual(t, a, remoting.KeyID("bank.Account", "43"))
	assert.NotEqual(t, a, remoting.KeyID("bank.Ledger", "42"), "the interface is part of the id")
	assert.NotEqual(t, remoting.KeyID("a", "bc"), remoting.KeyID("ab", "c"), "a NUL separates interface and key")
	assert.NotEqual(t, remoting.NameID("42"), remoting.KeyID("", "42"), "keys and names have namespaces of their own")
}

func TestCheckKey(t *testing.T) {
	cases := []struct {
		name string
		key  string
		ok   bool
	}{
		{"plain", "account/42", true},
		{"longest", strings.Repeat("k", remoting.MaxKeyLen), true},
		{"unicode", "café ☕", true},
		{"empty", "", false},
		{"too long", strings.Repeat("k", remoting.MaxKeyLen+1), false},
		{"invalid UTF-8", "a\xffb", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := remoting.CheckKey(tc.key)
			if tc.ok {
				assert.NoError(t, err, "CheckKey(%q)", tc.key)
				return
			}
			assert.Equal(t, remoting.CodeInvalidArgument, remoting.CodeOf(err), "CheckKey(%q): %v", tc.key, err)
			_, err = remoting.KeyRef("x.Y", tc.key)
			assert.Equal(t, remoting.CodeInvalidArgument, remoting.CodeOf(err), "KeyRef(%q)", tc.key)
		})
	}
}

func TestKeyRefStringRoundTrips(t *testing.T) {
	for _, key := range []string{"42", "a b+c", "room/lobby#1?x=y&z", "device/ab:cd", "%41", "café", "?key=", strings.Repeat("é", 128)} {
		ref, err := remoting.KeyRef("example.com/bank.Account", key)
		require.NoError(t, err, "KeyRef(%q)", key)
		assert.Equal(t, remoting.KeyID("example.com/bank.Account", key), ref.ID)
		ref.Endpoint = "tcp://127.0.0.1:4000"
		s := ref.String()
		got, err := remoting.ParseRef(s)
		require.NoError(t, err, "ParseRef(%q)", s)
		assert.Equal(t, ref, got, "ParseRef(%q)", s)
	}
	_, err := remoting.ParseRef("/" + remoting.NewObjectID().String() + "#x.Y?key=%zz")
	assert.Error(t, err, "a key that does not unescape")
}
