package hostile

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting/internal/testservice"
	"github.com/remoting-go/remoting/requestor"
)

// TestAcceptSurvivesFileDescriptorExhaustion: a server process limited
// to 64 file descriptors is given more idle connections than it can
// accept. Serve logs the failures and keeps trying, and once the
// connections are gone it serves a new client again within a second.
func TestAcceptSurvivesFileDescriptorExhaustion(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process")
	}
	const nofile = 64
	c := startChild(t, nofile)
	raws := make([]net.Conn, 0, 2*nofile)
	for range 2 * nofile {
		nc, err := net.DialTimeout("tcp", c.Addr, time.Second)
		require.NoError(t, err, "dial: the kernel's backlog takes what the server cannot accept")
		raws = append(raws, nc)
	}
	require.True(t, Eventually(5*time.Second, func() bool { return strings.Contains(c.stderr.String(), "too many open files") }),
		"the server runs out of file descriptors; its log: %s", c.stderr)
	time.Sleep(300 * time.Millisecond) // several failed accepts, the backoff grown
	for _, nc := range raws {
		nc.Close()
	}
	freed := time.Now()
	var served time.Duration
	for time.Since(freed) < 5*time.Second {
		if callOnce(c.Addr, 300*time.Millisecond) == nil {
			served = time.Since(freed)
			break
		}
	}
	require.NotZero(t, served, "the server serves again once file descriptors are free; its log: %s", c.stderr)
	t.Logf("served again %v after the connections were closed", served.Round(time.Millisecond))
	assert.Less(t, served, 1500*time.Millisecond, "served again within about a second")
	select {
	case line := <-c.lines:
		t.Errorf("server process said %q", line)
	default:
	}
	assert.Contains(t, c.stderr.String(), "accept failed; retrying", "the failures are logged")
}

// callOnce dials addr and makes one call, all within timeout.
func callOnce(addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cl, err := requestor.Dial(ctx, "tcp://"+addr, requestor.Options{})
	if err != nil {
		return err
	}
	defer cl.Close()
	p, err := testservice.LookupEcho(ctx, cl, "echo")
	if err != nil {
		return err
	}
	_, err = p.Echo(ctx, "x")
	return err
}
