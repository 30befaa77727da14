package hostile

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
)

// TestConnectionLimits: a connection past MaxConnections, or past
// MaxConnectionsPerAddress from one host, is refused with an error the
// dialer reports; once connections close, new ones are served.
func TestConnectionLimits(t *testing.T) {
	cases := []struct {
		name string
		opts invoker.Options
		why  string
	}{
		{"MaxConnections", invoker.Options{MaxConnections: 3}, "3 connections, its limit"},
		{"MaxConnectionsPerAddress", invoker.Options{MaxConnectionsPerAddress: 3}, "3 connections from 127.0.0.1, its limit per address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := Serve(t, tc.opts)
			good := Behave(t, srv.Endpoint, 2*time.Second)
			held := []*Raw{Connect(t, srv.Addr), Connect(t, srv.Addr)} // the limit, with the good client
			for _, r := range held {
				require.NoError(t, r.Handshake(5*time.Second))
			}
			err := dialErr(srv.Endpoint)
			var re *remoting.Error
			require.True(t, errors.As(err, &re), "dial past the limit fails with a *remoting.Error, not %v", err)
			assert.Contains(t, re.Message, tc.why, "the dialer is told why")
			assert.Contains(t, re.Message, "try again later")
			held[0].Close()
			assert.True(t, Eventually(5*time.Second, func() bool { return dialErr(srv.Endpoint) == nil }), "served again once a connection closed")
			good.Check(t)
		})
	}
}
