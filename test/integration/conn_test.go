package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/requestor"
)

func TestConnectionDroppedMidCallFailsPendingCalls(t *testing.T) {
	s := startServer(t, invoker.Options{})
	r := newRelay(t, s.endpoint)
	p := lookup(t, dial(t, r.endpoint(), requestor.Options{}))
	s.impl.NotifyEntered(8)

	errs := make(chan error, 8)
	for range 8 {
		go func() { errs <- p.Sleep(context.Background(), time.Minute) }()
	}
	for range 8 {
		<-s.impl.Entered()
	}
	start := time.Now()
	r.cut()
	for range 8 {
		select {
		case err := <-errs:
			assert.ErrorIs(t, err, remoting.ErrUnavailable)
		case <-time.After(5 * time.Second):
			t.Fatal("pending call did not fail after the connection dropped")
		}
	}
	assert.Less(t, time.Since(start), time.Second, "pending calls fail promptly")
}

func TestSilentPeerDetectedByKeepalive(t *testing.T) {
	s := startServer(t, invoker.Options{})
	r := newRelay(t, s.endpoint)
	p := lookup(t, dial(t, r.endpoint(), requestor.Options{KeepAliveInterval: 100 * time.Millisecond, WriteTimeout: 200 * time.Millisecond}))
	s.impl.NotifyEntered(1)
	errs := make(chan error, 1)
	go func() { errs <- p.Sleep(context.Background(), time.Minute) }()
	<-s.impl.Entered()
	start := time.Now()
	r.freeze()
	select {
	case err := <-errs:
		assert.ErrorIs(t, err, remoting.ErrUnavailable)
		assert.Less(t, time.Since(start), 2*time.Second)
	case <-time.After(5 * time.Second):
		t.Fatal("call to a silent peer hung past the keepalive bound")
	}
}

func TestServerGoneAndBackReconnects(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()
	s1 := serveOn(t, lis, invoker.Options{})
	c := dial(t, "tcp://"+addr, requestor.Options{RedialBackoff: 20 * time.Millisecond, MaxRedialBackoff: 50 * time.Millisecond})
	p := lookup(t, c)
	_, err = p.Echo(ctxT(t), "one")
	require.NoError(t, err)

	require.NoError(t, s1.Close())
	_, err = p.Echo(ctxT(t), "two")
	assert.ErrorIs(t, err, remoting.ErrUnavailable, "no server: Unavailable, not a hang")

	lis2, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	serveOn(t, lis2, invoker.Options{})
	assert.Eventually(t, func() bool {
		got, err := p.Echo(ctxT(t), "three")
		return err == nil && got == "three"
	}, 5*time.Second, 20*time.Millisecond, "the same proxy works once the server is back (named objects keep their id)")
}

func TestGracefulShutdownLetsCallsFinish(t *testing.T) {
	s := startServer(t, invoker.Options{})
	p := lookup(t, dial(t, s.endpoint, requestor.Options{}))
	s.impl.NotifyEntered(1)
	errs := make(chan error, 1)
	go func() { errs <- p.Sleep(context.Background(), 200*time.Millisecond) }()
	<-s.impl.Entered()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.Shutdown(ctx))
	assert.NoError(t, <-errs, "the call in flight finished")
	assert.ErrorIs(t, <-s.served, invoker.ErrServerClosed)
	s.served <- nil // for the cleanup

	_, err := requestor.Dial(ctxT(t), s.endpoint, requestor.Options{})
	assert.Error(t, err, "no new connections after shutdown")
}

func TestShutdownReturnsPromptlyWhenCtxEnds(t *testing.T) {
	s := startServer(t, invoker.Options{})
	p := lookup(t, dial(t, s.endpoint, requestor.Options{}))
	s.impl.NotifyEntered(1)
	errs := make(chan error, 1)
	go func() { errs <- p.Sleep(context.Background(), time.Minute) }()
	<-s.impl.Entered()

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	assert.ErrorIs(t, s.Shutdown(ctx), context.DeadlineExceeded)
	assert.Less(t, time.Since(start), time.Second)
	assert.ErrorIs(t, <-errs, remoting.ErrUnavailable, "the forced-out call fails with Unavailable")
}

func TestCloseIsIdempotent(t *testing.T) {
	s := startServer(t, invoker.Options{})
	c := dial(t, s.endpoint, requestor.Options{})
	p := lookup(t, c)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
	_, err := p.Echo(ctxT(t), "x")
	assert.ErrorIs(t, err, remoting.ErrUnavailable)
	assert.ErrorIs(t, err, requestor.ErrClosed)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
}

func TestConcurrentCallsArePipelined(t *testing.T) {
	s := startServer(t, invoker.Options{})
	p := lookup(t, dial(t, s.endpoint, requestor.Options{}))
	const callers, calls = 64, 100
	var wg sync.WaitGroup
	seen := make(chan int64, callers*calls)
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				want := fmt.Sprintf("%d/%d", g, i)
				got, err := p.Echo(context.Background(), want)
				if !assert.NoError(t, err) || !assert.Equal(t, want, got) {
					return
				}
				n, err := p.Count(context.Background())
				if assert.NoError(t, err) {
					seen <- n
				}
			}
		}()
	}
	wg.Wait()
	close(seen)
	unique := map[int64]bool{}
	for n := range seen {
		unique[n] = true
	}
	assert.Len(t, unique, callers*calls, "every call ran exactly once")
}

func TestConcurrencyLimitPushesBack(t *testing.T) {
	s := startServer(t, invoker.Options{MaxConcurrentCalls: 2})
	p := lookup(t, dial(t, s.endpoint, requestor.Options{}))
	s.impl.NotifyEntered(3)
	errs := make(chan error, 3)
	for range 3 {
		go func() { errs <- p.Sleep(context.Background(), 300*time.Millisecond) }()
	}
	<-s.impl.Entered()
	<-s.impl.Entered()
	select {
	case <-s.impl.Entered():
		t.Fatal("a third call ran while the limit is 2")
	case <-time.After(100 * time.Millisecond):
	}
	for range 3 {
		assert.NoError(t, <-errs)
	}
}

func TestUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.sock")
	lis, err := invoker.Listen("unix://"+path, nil)
	require.NoError(t, err)
	s := serveOn(t, lis, invoker.Options{})
	p := lookup(t, dial(t, s.endpoint, requestor.Options{}))
	got, err := p.Echo(ctxT(t), "over unix")
	require.NoError(t, err)
	assert.Equal(t, "over unix", got)
	assert.Equal(t, "unix://"+path, p.Ref().Endpoint)
}

func TestTLS(t *testing.T) {
	cert := selfSigned(t)
	lis, err := invoker.Listen("tls://127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	require.NoError(t, err)
	s := serveOn(t, lis, invoker.Options{})
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	endpoint := "tls://" + lis.Addr().String()
	p := lookup(t, dial(t, endpoint, requestor.Options{TLS: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}))
	got, err := p.Echo(ctxT(t), "over tls")
	require.NoError(t, err)
	assert.Equal(t, "over tls", got)

	_, err = requestor.Dial(ctxT(t), endpoint, requestor.Options{TLS: &tls.Config{ServerName: "127.0.0.1"}})
	assert.ErrorIs(t, err, remoting.ErrUnavailable, "an untrusted certificate is refused")
	_ = s
}

// With Options.Dialer, a tls:// endpoint runs TLS over the connection the
// Dialer returns, with the server's name taken from the address.
func TestTLSOverDialer(t *testing.T) {
	cert := selfSigned(t)
	lis, err := invoker.Listen("tls://127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	require.NoError(t, err)
	serveOn(t, lis, invoker.Options{})
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	var asked []string
	var d net.Dialer
	c := dial(t, "tls://"+lis.Addr().String(), requestor.Options{
		TLS: &tls.Config{RootCAs: pool},
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			asked = append(asked, network)
			return d.DialContext(ctx, network, addr)
		},
	})
	got, err := lookup(t, c).Echo(ctxT(t), "over tls")
	require.NoError(t, err, "Echo over TLS on a Dialer's connection")
	assert.Equal(t, "over tls", got, "Echo over TLS on a Dialer's connection")
	assert.Equal(t, []string{"tcp"}, asked, "networks the Dialer was asked for")
}
