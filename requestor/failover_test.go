package requestor_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/testservice"
	"github.com/remoting-go/remoting/requestor"
)

// fast redials at once and keeps the backoff short, for tests that move a
// client between servers.
var fast = requestor.Options{RedialBackoff: 5 * time.Millisecond, MaxRedialBackoff: 20 * time.Millisecond}

func withFailover(opts requestor.Options, endpoints ...string) requestor.Options {
	opts.Failover = endpoints
	return opts
}

func TestDialTriesEveryEndpointInOrder(t *testing.T) {
	b := startServer(t, "127.0.0.1:0", nil)
	down := "tcp://" + freeAddr(t)
	c := dial(t, down, withFailover(requestor.Options{}, b.endpoint))
	assert.Equal(t, down, c.Endpoint(), "Endpoint of a client connected to its second endpoint")
	_, err := lookupEcho(t, c).Echo(ctxT(t), "x")
	require.NoError(t, err, "Echo through the second endpoint")
	connectedOnce(t, b, "connections of the second endpoint's server")
}

func TestDialNamesEveryEndpointTried(t *testing.T) {
	down1, down2 := "tcp://"+freeAddr(t), "tcp://"+freeAddr(t)
	c, err := requestor.Dial(ctxT(t), down1, withFailover(requestor.Options{}, down2))
	if !assert.Error(t, err, "Dial with every endpoint down") {
		c.Close()
		return
	}
	assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err), "Dial with every endpoint down: %v", err)
	assert.Contains(t, err.Error(), "no endpoint of "+down1+", "+down2+" answered", "Dial with every endpoint down")
	assert.Equal(t, 2, strings.Count(err.Error(), "connection refused"), "Dial with every endpoint down: %v", err)
}

func TestDialRefusesBadFailoverLists(t *testing.T) {
	tests := []struct {
		name     string
		failover []string
		wantText string
	}{
		{"unknown network", []string{"ftp://127.0.0.1:21"}, "unknown network"},
		{"tls without config", []string{"tls://127.0.0.1:1"}, "needs Options.TLS"},
		{"listed twice", []string{"127.0.0.1:1"}, "tcp://127.0.0.1:1 listed twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := requestor.Dial(ctxT(t), "tcp://127.0.0.1:1", withFailover(requestor.Options{}, tc.failover...))
			if !assert.Error(t, err, "Dial with Failover %q", tc.failover) {
				c.Close()
				return
			}
			assert.Contains(t, err.Error(), tc.wantText, "Dial with Failover %q", tc.failover)
		})
	}
}

// TestFailoverWhenTheServerIsKilled kills the first server with calls in
// flight: they fail with Unavailable and do not run again anywhere, and
// the next call runs on the second server.
func TestFailoverWhenTheServerIsKilled(t *testing.T) {
	const inFlight = 4
	a := startServer(t, "127.0.0.1:0", nil)
	b := startServer(t, "127.0.0.1:0", nil)
	aRan, bRan := a.impl.NotifyEntered(64), b.impl.NotifyEntered(64)
	c := dial(t, a.endpoint, withFailover(fast, b.endpoint))
	p := lookupEcho(t, c)
	ctx := ctxT(t)

	errs := make(chan error, inFlight)
	for range inFlight {
		go func() { errs <- p.Sleep(ctx, time.Minute) }()
	}
	require.Eventually(t, func() bool { return len(aRan) == inFlight }, wait, time.Millisecond, "Sleeps running on the first server")

	a.stop()
	for range inFlight {
		select {
		case err := <-errs:
			assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err), "Sleep in flight when its server was killed: %v", err)
		case <-time.After(wait):
			t.Fatal("a call in flight did not fail")
		}
	}

	got, err := p.Echo(ctx, "after")
	require.NoError(t, err, "the first call after the kill")
	assert.Equal(t, "after", got, "Echo after the kill")
	connectedOnce(t, b, "connections of the second server")
	assert.Equal(t, a.endpoint, c.Endpoint(), "Endpoint after failover")

	// The client never sends a call again: a late copy would show here.
	require.NoError(t, p.Sleep(ctx, time.Millisecond), "Sleep on the second server")
	assert.Equal(t, inFlight, len(aRan), "Sleeps run by the first server")
	assert.Equal(t, 1, len(bRan), "Sleeps run by the second server")
}

// TestFailoverWhenTheServerShutsDown: the calls in flight finish on the
// server that drains, and the calls made meanwhile go to the next.
func TestFailoverWhenTheServerShutsDown(t *testing.T) {
	const inFlight = 4
	a := startServer(t, "127.0.0.1:0", nil)
	b := startServer(t, "127.0.0.1:0", nil)
	aRan, bRan := a.impl.NotifyEntered(64), b.impl.NotifyEntered(64)
	c := dial(t, a.endpoint, withFailover(fast, b.endpoint))
	p := lookupEcho(t, c)
	ctx := ctxT(t)

	errs := make(chan error, inFlight)
	for range inFlight {
		go func() { errs <- p.Sleep(ctx, 300*time.Millisecond) }()
	}
	require.Eventually(t, func() bool { return len(aRan) == inFlight }, wait, time.Millisecond, "Sleeps running on the first server")
	shut := make(chan error, 1)
	go func() { shut <- a.Shutdown(ctx) }()

	// The client learns of the shutdown from the server's go-away.
	require.Eventually(t, func() bool {
		_, err := p.Echo(ctx, "x")
		return err == nil && b.Stats().Connections == 1
	}, wait, time.Millisecond, "Echo on the second server while the first drains")
	for range inFlight {
		select {
		case err := <-errs:
			assert.NoError(t, err, "Sleep in flight when its server began to shut down")
		case <-time.After(wait):
			t.Fatal("a call in flight did not finish")
		}
	}
	select {
	case err := <-shut:
		assert.NoError(t, err, "Shutdown")
	case <-time.After(wait):
		t.Fatal("Shutdown did not return")
	}
	assert.Equal(t, inFlight, len(aRan), "Sleeps run by the first server")
	assert.Zero(t, len(bRan), "Sleeps run by the second server")
}

// TestFailoverGoesRoundTheList: with every endpoint down calls fail with
// the endpoints named; the client comes back to whichever returns, and
// from the last endpoint it moves on to the first.
func TestFailoverGoesRoundTheList(t *testing.T) {
	a := startServer(t, "127.0.0.1:0", nil)
	b := startServer(t, "127.0.0.1:0", nil)
	c := dial(t, a.endpoint, withFailover(fast, b.endpoint))
	p := lookupEcho(t, c)
	ctx := ctxT(t)

	a.stop()
	b.stop()
	require.Eventually(t, func() bool {
		_, err := p.Echo(ctx, "x")
		return remoting.CodeOf(err) == remoting.CodeUnavailable && strings.Contains(err.Error(), "no endpoint of")
	}, wait, time.Millisecond, "a call that dials every endpoint and fails")
	_, err := p.Echo(ctx, "x")
	assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err), "Echo with every endpoint down: %v", err)
	assert.Contains(t, err.Error(), a.endpoint, "Echo with every endpoint down")
	assert.Contains(t, err.Error(), b.endpoint, "Echo with every endpoint down")

	b2 := startServer(t, b.addr, nil)
	require.Eventually(t, func() bool {
		got, err := p.Echo(ctx, "back")
		return err == nil && got == "back"
	}, wait, 10*time.Millisecond, "Echo once the second server is back")
	connectedOnce(t, b2, "connections of the second server")

	a2 := startServer(t, a.addr, nil)
	b2.stop()
	require.Eventually(t, func() bool {
		got, err := p.Echo(ctx, "round")
		return err == nil && got == "round"
	}, wait, 10*time.Millisecond, "Echo once the client is round to the first server")
	connectedOnce(t, a2, "connections of the first server")
}

// TestFailoverBackoffOnceEveryEndpointFailed: a failed round of dials
// makes calls fail fast until the backoff has passed, with the endpoints
// in the message.
func TestFailoverBackoffOnceEveryEndpointFailed(t *testing.T) {
	a := startServer(t, "127.0.0.1:0", nil)
	b := startServer(t, "127.0.0.1:0", nil)
	c := dial(t, a.endpoint, withFailover(requestor.Options{RedialBackoff: time.Minute}, b.endpoint))
	p := lookupEcho(t, c)
	ctx := ctxT(t)
	a.stop()
	b.stop()
	require.Eventually(t, func() bool {
		_, err := p.Echo(ctx, "x")
		return strings.Contains(errString(err), "no endpoint of")
	}, wait, time.Millisecond, "a call that dials every endpoint and fails")

	back := startServer(t, b.addr, nil)
	start := time.Now()
	_, err := p.Echo(ctx, "x")
	assert.Less(t, time.Since(start), 500*time.Millisecond, "a call during the backoff took long")
	assert.Contains(t, errString(err), "reconnecting to "+a.endpoint+", "+b.endpoint+" in", "Echo during the backoff")
	assert.Zero(t, back.Stats().Connections, "connections the client opened during the backoff")
}

// connectedOnce checks that s has one connection open. The server may
// serve a connection's first calls a moment before it counts it.
func connectedOnce(t *testing.T, s *server, what string) {
	t.Helper()
	assert.Eventually(t, func() bool { return s.Stats().Connections > 0 }, wait, time.Millisecond, what)
	assert.Equal(t, 1, s.Stats().Connections, what)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// A reference whose Endpoint is any of the client's is served by the
// client, whichever endpoint it is connected to.
func TestFailoverEndpointsOfReferences(t *testing.T) {
	a := startServer(t, "127.0.0.1:0", nil)
	b := startServer(t, "127.0.0.1:0", nil)
	c := dial(t, a.endpoint, withFailover(fast, b.endpoint))
	ctx := ctxT(t)
	ref, err := c.Lookup(ctx, "echo", "")
	require.NoError(t, err, "Lookup")
	assert.Equal(t, a.endpoint, ref.Endpoint, "Endpoint of Lookup's reference")

	a.stop()
	for _, endpoint := range []string{a.endpoint, b.endpoint, ""} {
		ref.Endpoint = endpoint
		require.Eventually(t, func() bool {
			_, err := testservice.NewEchoProxy(c, ref).Echo(ctx, "x")
			return err == nil
		}, wait, time.Millisecond, "Echo through a reference to %q", endpoint)
	}
	ref.Endpoint = "tcp://192.0.2.1:4000"
	_, err = testservice.NewEchoProxy(c, ref).Echo(ctx, "x")
	assert.Equal(t, remoting.CodeInvalidArgument, remoting.CodeOf(err), "Echo through a reference to another endpoint: %v", err)
}
