package peer_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/peer"
	"github.com/remoting-go/remoting/internal/transport"
	"github.com/remoting-go/remoting/internal/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait bounds every wait of these tests.
const wait = 5 * time.Second

// msg is the argument and result struct of the test methods.
type msg struct {
	_ struct{} `cbor:",toarray"`
	N int
	S string
}

// dispatcherFunc adapts a function to peer.Dispatcher.
type dispatcherFunc func(ctx context.Context, req *peer.Request) (any, error)

func (f dispatcherFunc) Dispatch(ctx context.Context, req *peer.Request) (any, error) {
	return f(ctx, req)
}

// double accepts every request and answers msg{N: 2*N, S: S}.
func double(_ context.Context, req *peer.Request) (any, error) {
	var in msg
	if err := wire.Unmarshal(req.Frame.Body, &in); err != nil {
		return nil, remoting.Errorf(remoting.CodeInvalidArgument, "%v", err)
	}
	req.Accept()
	return &msg{N: 2 * in.N, S: in.S}, nil
}

// pair connects two peers over net.Pipe: client opened the session,
// server accepted it. Both are closed when the test ends.
func pair(t *testing.T, clientD, serverD peer.Dispatcher, copts, sopts peer.Options) (client, server *peer.Peer) {
	t.Helper()
	return pairWith(t, clientD, serverD, copts, sopts, transport.Options{}, transport.Options{})
}

// pairWith is pair with the sessions' options.
func pairWith(t *testing.T, clientD, serverD peer.Dispatcher, copts, sopts peer.Options, ctopts, stopts transport.Options) (client, server *peer.Peer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	a, b := net.Pipe()
	type result struct {
		sess *transport.Session
		err  error
	}
	accepted := make(chan result, 1)
	go func() {
		s, err := transport.Server(ctx, b, stopts)
		accepted <- result{s, err}
	}()
	csess, err := transport.Client(ctx, a, ctopts)
	require.NoError(t, err, "transport.Client")
	r := <-accepted
	require.NoError(t, r.err, "transport.Server")
	client = peer.New(csess, clientD, copts)
	server = peer.New(r.sess, serverD, sopts)
	t.Cleanup(func() {
		client.Close()
		server.Close()
	})
	return client, server
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

func call(method string, n int) *remoting.Invocation {
	return &remoting.Invocation{Target: remoting.Ref{ID: remoting.NameID("obj")}, Method: method, Args: &msg{N: n}, Reply: &msg{}}
}

func TestConcurrentCallsGetTheirOwnReplies(t *testing.T) {
	for _, streams := range []int{1, 3} {
		t.Run(fmt.Sprintf("streams=%d", streams), func(t *testing.T) {
			// Replies come back out of order: each request waits a little,
			// longer for some numbers than for others.
			slow := dispatcherFunc(func(ctx context.Context, req *peer.Request) (any, error) {
				var in msg
				if err := wire.Unmarshal(req.Frame.Body, &in); err != nil {
					return nil, err
				}
				time.Sleep(time.Duration(in.N%4) * time.Millisecond)
				return &msg{N: 2 * in.N, S: req.Frame.Method}, nil
			})
			client, _ := pair(t, nil, slow, peer.Options{Streams: streams}, peer.Options{})
			ctx := ctxT(t)
			const callers, calls = 32, 40
			var wg sync.WaitGroup
			var wrong atomic.Int64
			for g := range callers {
				wg.Go(func() {
					for i := range calls {
						n := g*calls + i
						inv := call(fmt.Sprintf("M%d", g), n)
						if err := client.Invoke(ctx, inv); err != nil {
							t.Errorf("Invoke(%d): %v", n, err)
							return
						}
						got := inv.Reply.(*msg)
						if got.N != 2*n || got.S != inv.Method {
							wrong.Add(1)
						}
					}
				})
			}
			wg.Wait()
			assert.Zero(t, wrong.Load(), "replies delivered to the wrong call")
			assert.Equal(t, uint64(callers*calls), client.Sent(wire.KindRequest), "Sent(KindRequest)")
		})
	}
}

func TestSendModes(t *testing.T) {
	type seen struct {
		method string
		n      int
	}
	tests := []struct {
		name string
		mode remoting.Mode
		// block, if set, keeps the method running until the call returned:
		// the mode must not wait for the method.
		block     bool
		wantReply int
		wantAcks  uint64
		wantRepls uint64
	}{
		{name: "sync", mode: remoting.ModeSync, wantReply: 42, wantRepls: 1},
		{name: "oneway", mode: remoting.ModeOneway, block: true},
		{name: "sync with server", mode: remoting.ModeSyncWithServer, block: true, wantAcks: 1},
		{name: "async", mode: remoting.ModeAsync, wantReply: 42, wantRepls: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan seen, 1)
			returned := make(chan struct{})
			d := dispatcherFunc(func(ctx context.Context, req *peer.Request) (any, error) {
				var in msg
				if err := wire.Unmarshal(req.Frame.Body, &in); err != nil {
					return nil, err
				}
				req.Accept()
				if tc.block {
					select {
					case <-returned:
					case <-ctx.Done():
					}
				}
				got <- seen{req.Frame.Method, in.N}
				return &msg{N: 2 * in.N}, nil
			})
			client, server := pair(t, nil, d, peer.Options{}, peer.Options{})
			ctx := ctxT(t)
			inv := call("Obj.Do", 21)
			inv.Mode = tc.mode
			var done chan error
			if tc.mode == remoting.ModeAsync {
				done = make(chan error, 2)
				inv.Done = func(err error) { done <- err }
			}
			err := peer.Send(ctx, inv, func(context.Context, *remoting.Invocation) (*peer.Peer, error) { return client, nil }, nil)
			close(returned)
			require.NoError(t, err, "Send(%v)", tc.mode)
			if done != nil {
				select {
				case err := <-done:
					assert.NoError(t, err, "Done of the async call")
				case <-time.After(wait):
					t.Fatal("Done not called")
				}
			}
			select {
			case s := <-got:
				assert.Equal(t, seen{"Obj.Do", 21}, s, "request the server saw")
			case <-time.After(wait):
				t.Fatal("the server never ran the request")
			}
			if tc.wantReply != 0 {
				assert.Equal(t, tc.wantReply, inv.Reply.(*msg).N, "reply of %v", tc.mode)
			}
			// Give a stray frame time to show, then count what the server sent.
			require.Eventually(t, func() bool { return server.Active() == 0 }, wait, time.Millisecond)
			time.Sleep(20 * time.Millisecond)
			assert.Equal(t, tc.wantAcks, server.Sent(wire.KindAck), "acks sent for %v", tc.mode)
			assert.Equal(t, tc.wantRepls, server.Sent(wire.KindReply), "replies sent for %v", tc.mode)
			assert.Zero(t, server.Sent(wire.KindError), "errors sent for %v", tc.mode)
			if done != nil {
				assert.Empty(t, done, "Done called more than once")
			}
		})
	}
}

func TestSyncWithServerRefusedGetsTheError(t *testing.T) {
	// A request that is never accepted (no such object) answers with its
	// error in place of the ack.
	d := dispatcherFunc(func(ctx context.Context, req *peer.Request) (any, error) {
		return nil, remoting.Errorf(remoting.CodeNotFound, "object %s not found", req.Frame.Object)
	})
	client, server := pair(t, nil, d, peer.Options{}, peer.Options{})
	inv := call("Obj.Do", 1)
	inv.Mode = remoting.ModeSyncWithServer
	err := client.Invoke(ctxT(t), inv)
	assert.Equal(t, remoting.CodeNotFound, remoting.CodeOf(err), "Invoke(SyncWithServer) of a refused request: %v", err)
	assert.Zero(t, server.Sent(wire.KindAck), "acks sent")
}

func TestSendFailsAsItsModeSays(t *testing.T) {
	unreachable := remoting.Errorf(remoting.CodeUnavailable, "no connection")
	noConn := func(context.Context, *remoting.Invocation) (*peer.Peer, error) { return nil, unreachable }
	connected, _ := pair(t, nil, dispatcherFunc(double), peer.Options{}, peer.Options{})
	toConnected := func(context.Context, *remoting.Invocation) (*peer.Peer, error) { return connected, nil }

	tests := []struct {
		name        string
		mode        remoting.Mode
		noDone      bool
		connect     func(context.Context, *remoting.Invocation) (*peer.Peer, error)
		wantCode    remoting.Code // of Send's error
		wantDone    remoting.Code // of the error Done gets, if Done is set
		wantCounted uint64
		wantConnect bool
	}{
		{name: "sync unreachable", mode: remoting.ModeSync, connect: noConn, wantCode: remoting.CodeUnavailable, wantConnect: true},
		{name: "oneway unreachable is counted", mode: remoting.ModeOneway, connect: noConn, wantCode: remoting.CodeUnavailable, wantCounted: 1, wantConnect: true},
		{name: "sync with server unreachable", mode: remoting.ModeSyncWithServer, connect: noConn, wantCode: remoting.CodeUnavailable, wantConnect: true},
		{name: "async unreachable goes to Done", mode: remoting.ModeAsync, connect: noConn, wantCode: remoting.CodeOK, wantDone: remoting.CodeUnavailable, wantConnect: true},
		{name: "async without Done, unreachable", mode: remoting.ModeAsync, noDone: true, connect: noConn, wantCode: remoting.CodeInvalidArgument},
		{name: "async without Done, connected", mode: remoting.ModeAsync, noDone: true, connect: toConnected, wantCode: remoting.CodeInvalidArgument},
		{name: "unknown mode", mode: remoting.Mode(9), connect: toConnected, wantCode: remoting.CodeInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var counted atomic.Uint64
			connects := 0
			connect := func(ctx context.Context, inv *remoting.Invocation) (*peer.Peer, error) {
				connects++
				return tc.connect(ctx, inv)
			}
			inv := call("Obj.Do", 1)
			inv.Mode = tc.mode
			dones := 0
			var doneErr error
			if !tc.noDone {
				// Not synchronised on purpose: Done must run on this
				// goroutine before Send returns (the race detector would
				// see it otherwise).
				inv.Done = func(err error) { dones++; doneErr = err }
			}
			err := peer.Send(ctxT(t), inv, connect, &counted)
			assert.Equal(t, tc.wantCode, remoting.CodeOf(err), "Send(%v) = %v", tc.mode, err)
			assert.Equal(t, tc.wantCounted, counted.Load(), "oneway failures counted")
			assert.Equal(t, tc.wantConnect, connects > 0, "connect called")
			if tc.mode == remoting.ModeAsync && !tc.noDone {
				assert.Equal(t, 1, dones, "Done calls before Send returned")
				assert.Equal(t, tc.wantDone, remoting.CodeOf(doneErr), "Done(%v)", doneErr)
			}
		})
	}
}

func TestCallsOnAClosedPeer(t *testing.T) {
	var counted atomic.Uint64
	client, _ := pair(t, nil, dispatcherFunc(double), peer.Options{OnewayFailed: &counted}, peer.Options{})
	require.NoError(t, client.Invoke(ctxT(t), call("Obj.Do", 1)), "Invoke before Close")
	require.NoError(t, client.Close())
	require.NoError(t, client.Close(), "second Close")
	assert.False(t, client.Usable(), "Usable after Close")

	ctx := ctxT(t)
	err := client.Invoke(ctx, call("Obj.Do", 1))
	assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err), "sync Invoke after Close: %v", err)

	inv := call("Obj.Do", 1)
	inv.Mode = remoting.ModeOneway
	err = client.Invoke(ctx, inv)
	assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err), "oneway Invoke after Close: %v", err)
	assert.Equal(t, uint64(1), counted.Load(), "oneway failures counted")

	inv = call("Obj.Do", 1)
	inv.Mode = remoting.ModeAsync
	dones := 0
	var doneErr error
	inv.Done = func(err error) { dones++; doneErr = err }
	assert.NoError(t, client.Invoke(ctx, inv), "async Invoke after Close")
	assert.Equal(t, 1, dones, "Done calls before Invoke returned")
	assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(doneErr), "Done(%v)", doneErr)
}

// blocker is a dispatcher whose requests run until released or until
// their context ends; it reports what ended each.
type blocker struct {
	entered   chan time.Duration // each request's Frame.Deadline as it enters: a Request is not the test's to keep
	deadlines chan time.Time     // the deadline of each request's context, if it has one
	release   chan struct{}
	ended     chan error // ctx.Err() when ctx ended, nil when released
	running   atomic.Int64
	most      atomic.Int64
}

func newBlocker(n int) *blocker {
	return &blocker{entered: make(chan time.Duration, n), deadlines: make(chan time.Time, n), release: make(chan struct{}), ended: make(chan error, n)}
}

func (b *blocker) Dispatch(ctx context.Context, req *peer.Request) (any, error) {
	req.Accept()
	n := b.running.Add(1)
	defer b.running.Add(-1)
	for {
		m := b.most.Load()
		if n <= m || b.most.CompareAndSwap(m, n) {
			break
		}
	}
	if d, ok := ctx.Deadline(); ok {
		b.deadlines <- d
	}
	b.entered <- req.Frame.Deadline
	select {
	case <-b.release:
		b.ended <- nil
		return &msg{N: 1}, nil
	case <-ctx.Done():
		b.ended <- ctx.Err()
		return nil, ctx.Err()
	}
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		require.FailNow(t, "timed out waiting for "+what)
		panic("unreachable")
	}
}

func TestDeadlineCrossesToTheServer(t *testing.T) {
	tests := []struct {
		name string
		mode remoting.Mode
		// wantEnded are the errors the server's context may end with: a
		// sync caller whose deadline passes sends a cancel, which may
		// arrive before the server's own deadline passes; a oneway
		// caller sends nothing more, so only the deadline ends it.
		wantEnded []error
	}{
		{"sync", remoting.ModeSync, []error{context.DeadlineExceeded, context.Canceled}},
		{"oneway", remoting.ModeOneway, []error{context.DeadlineExceeded}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBlocker(1)
			client, _ := pair(t, nil, b, peer.Options{}, peer.Options{})
			const timeout = 300 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			deadline, _ := ctx.Deadline()
			inv := call("Obj.Do", 1)
			inv.Mode = tc.mode
			errc := make(chan error, 1)
			var returned time.Time // written before errc is sent on
			go func() {
				err := client.Invoke(ctx, inv)
				returned = time.Now()
				errc <- err
			}()

			sent := recv(t, b.entered, "the request")
			assert.Greater(t, sent, time.Duration(0), "Frame.Deadline")
			assert.LessOrEqual(t, sent, timeout, "Frame.Deadline")
			serverDeadline := recv(t, b.deadlines, "the server's deadline")
			assert.WithinDuration(t, deadline, serverDeadline, 250*time.Millisecond, "the server's deadline")
			ended := recv(t, b.ended, "the server's context to end")
			assert.Contains(t, tc.wantEnded, ended, "server-side ctx.Err()")
			err := recv(t, errc, "Invoke to return")
			if tc.mode == remoting.ModeSync {
				assert.Equal(t, remoting.CodeDeadlineExceeded, remoting.CodeOf(err), "Invoke past its deadline: %v", err)
				assert.WithinDuration(t, deadline, returned, 2*time.Second, "Invoke returned long after its deadline")
			} else {
				assert.NoError(t, err, "oneway Invoke")
			}
		})
	}
}

func TestExpiredDeadlineIsNotSent(t *testing.T) {
	client, server := pair(t, nil, dispatcherFunc(double), peer.Options{}, peer.Options{})
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	err := client.Invoke(ctx, call("Obj.Do", 1))
	assert.Equal(t, remoting.CodeDeadlineExceeded, remoting.CodeOf(err), "Invoke with an expired deadline: %v", err)
	assert.Zero(t, client.Sent(wire.KindRequest), "requests sent")
	assert.Zero(t, server.Active(), "server Active")
}

func TestCancelCrossesToTheServer(t *testing.T) {
	b := newBlocker(1)
	client, server := pair(t, nil, b, peer.Options{}, peer.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- client.Invoke(ctx, call("Obj.Do", 1)) }()

	assert.Zero(t, recv(t, b.entered, "the request"), "Frame.Deadline of a call without one")
	cancel()
	err := recv(t, errc, "Invoke to return")
	assert.Equal(t, remoting.CodeCanceled, remoting.CodeOf(err), "Invoke after cancel: %v", err)
	assert.ErrorIs(t, recv(t, b.ended, "the server's context to end"), context.Canceled, "server-side ctx.Err()")
	assert.Equal(t, uint64(1), client.Sent(wire.KindCancel), "cancel frames sent")
	require.Eventually(t, func() bool { return server.Active() == 0 }, wait, time.Millisecond, "server Active after cancel")
}

func TestMaxConcurrentCallsPushesBack(t *testing.T) {
	const limit, calls = 2, 6
	b := newBlocker(calls)
	client, server := pair(t, nil, b, peer.Options{}, peer.Options{MaxConcurrentCalls: limit})
	ctx := ctxT(t)
	errc := make(chan error, calls)
	for i := range calls {
		go func() { errc <- client.Invoke(ctx, call("Obj.Do", i)) }()
	}
	require.Eventually(t, func() bool { return b.running.Load() == limit }, wait, time.Millisecond, "requests running")
	time.Sleep(50 * time.Millisecond) // would the others start?
	assert.Equal(t, int64(limit), b.running.Load(), "requests running at the limit")
	assert.Equal(t, int64(limit), server.Active(), "server Active at the limit")
	close(b.release)
	for range calls {
		assert.NoError(t, recv(t, errc, "a call to return"), "Invoke")
	}
	assert.Equal(t, int64(limit), b.most.Load(), "most requests running at once")
}

func TestCloseFailsPendingCalls(t *testing.T) {
	tests := []struct {
		name  string
		close func(client, server *peer.Peer)
	}{
		{"this end closes", func(c, _ *peer.Peer) { c.Close() }},
		{"the other end closes", func(_, s *peer.Peer) { s.Close() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const calls = 5
			ignore := goleak.IgnoreCurrent()
			b := newBlocker(calls + 1)
			client, server := pair(t, nil, b, peer.Options{}, peer.Options{})
			ctx := ctxT(t)
			errc := make(chan error, calls+1)
			for i := range calls {
				go func() { errc <- client.Invoke(ctx, call("Obj.Do", i)) }()
			}
			async := call("Obj.Do", 99)
			async.Mode = remoting.ModeAsync
			async.Done = func(err error) { errc <- err }
			require.NoError(t, client.Invoke(ctx, async), "async Invoke")
			for range calls + 1 {
				recv(t, b.entered, "a request")
			}

			tc.close(client, server)
			for range calls + 1 {
				err := recv(t, errc, "a pending call to fail")
				assert.Equal(t, remoting.CodeUnavailable, remoting.CodeOf(err), "pending call after Close: %v", err)
			}
			for range calls + 1 {
				assert.ErrorIs(t, recv(t, b.ended, "a request to end"), context.Canceled, "server-side ctx.Err() after Close")
			}
			recv(t, client.Done(), "the client's Done")
			recv(t, server.Done(), "the server's Done")
			assert.NoError(t, client.Close(), "Close again")
			assert.NoError(t, server.Close(), "Close again")
			// Both ends closed: none of their goroutines is left, workers
			// and waiters included.
			goleak.VerifyNone(t, ignore)
		})
	}
}

func TestOnCloseRunsOnceAfterTheGoroutines(t *testing.T) {
	var closes atomic.Int64
	var onClose *peer.Peer
	done := make(chan struct{})
	client, _ := pair(t, nil, dispatcherFunc(double), peer.Options{OnClose: func(p *peer.Peer) {
		onClose = p
		closes.Add(1)
		close(done)
	}}, peer.Options{})
	require.NoError(t, client.Invoke(ctxT(t), call("Obj.Do", 1)))
	client.Close()
	client.Close()
	recv(t, done, "OnClose")
	assert.Equal(t, int64(1), closes.Load(), "OnClose calls")
	assert.Same(t, client, onClose, "OnClose's peer")
}

// TestOnStartRunsBeforeTheFirstRequest: what OnStart records is there
// when the first request runs, however soon the other end sends it.
func TestOnStartRunsBeforeTheFirstRequest(t *testing.T) {
	var started atomic.Pointer[peer.Peer]
	var starts atomic.Int64
	d := dispatcherFunc(func(ctx context.Context, req *peer.Request) (any, error) {
		if started.Load() == nil {
			return nil, errors.New("a request ran before OnStart")
		}
		return double(ctx, req)
	})
	client, server := pair(t, nil, d, peer.Options{}, peer.Options{OnStart: func(p *peer.Peer) {
		starts.Add(1)
		started.Store(p)
	}})
	require.NoError(t, client.Invoke(ctxT(t), call("Obj.Do", 1)))
	assert.Same(t, server, started.Load(), "OnStart's peer")
	assert.Equal(t, int64(1), starts.Load(), "OnStart calls")
}

func TestNilDispatcherRefusesWithNotFound(t *testing.T) {
	client, _ := pair(t, nil, nil, peer.Options{}, peer.Options{})
	err := client.Invoke(ctxT(t), call("Obj.Do", 1))
	assert.Equal(t, remoting.CodeNotFound, remoting.CodeOf(err), "Invoke on a peer that serves nothing: %v", err)
}

func TestServerErrorReachesTheCaller(t *testing.T) {
	d := dispatcherFunc(func(ctx context.Context, req *peer.Request) (any, error) {
		req.Accept()
		return nil, remoting.Errorf(remoting.CodeApplication, "out of %s", "stock")
	})
	client, server := pair(t, nil, d, peer.Options{}, peer.Options{})
	err := client.Invoke(ctxT(t), call("Obj.Do", 1))
	var re *remoting.Error
	require.ErrorAs(t, err, &re, "Invoke")
	assert.Equal(t, remoting.CodeApplication, re.Code, "code")
	assert.Equal(t, "out of stock", re.Message, "message")
	assert.Eventually(t, func() bool { return server.Sent(wire.KindError) == 1 }, wait, time.Millisecond, "error frames sent")
}

func TestTheServingEndCallsBack(t *testing.T) {
	// The server's method calls the client over the same connection,
	// which serves the call through its own dispatcher.
	back := dispatcherFunc(func(ctx context.Context, req *peer.Request) (any, error) {
		inv := call("Back.Do", 5)
		if err := req.Peer.Invoke(ctx, inv); err != nil {
			return nil, err
		}
		req.Accept()
		return &msg{N: inv.Reply.(*msg).N + 1}, nil
	})
	client, server := pair(t, dispatcherFunc(double), back, peer.Options{}, peer.Options{})
	inv := call("Obj.Do", 0)
	require.NoError(t, client.Invoke(ctxT(t), inv), "Invoke")
	assert.Equal(t, 11, inv.Reply.(*msg).N, "reply built from the call back")
	assert.Equal(t, uint64(1), server.Sent(wire.KindRequest), "requests the server sent")
}

func TestFrameSizeLimits(t *testing.T) {
	// Each end accepts frames up to 64 KiB.
	const limit = 64 << 10
	big := dispatcherFunc(func(ctx context.Context, req *peer.Request) (any, error) {
		var in msg
		if err := wire.Unmarshal(req.Frame.Body, &in); err != nil {
			return nil, err
		}
		req.Accept()
		return &msg{S: string(make([]byte, in.N))}, nil
	})
	tops := transport.Options{MaxFrameSize: limit}
	client, server := pairWith(t, nil, big, peer.Options{}, peer.Options{}, tops, tops)
	ctx := ctxT(t)

	tests := []struct {
		name     string
		args     msg
		wantCode remoting.Code
	}{
		{"small request and reply", msg{N: 10}, remoting.CodeOK},
		{"request over the limit", msg{S: string(make([]byte, 2*limit))}, remoting.CodeResourceExhausted},
		{"reply over the limit", msg{N: 2 * limit}, remoting.CodeResourceExhausted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv := &remoting.Invocation{Target: remoting.Ref{ID: remoting.NameID("obj")}, Method: "Obj.Big", Args: &tc.args, Reply: &msg{}}
			err := client.Invoke(ctx, inv)
			assert.Equal(t, tc.wantCode, remoting.CodeOf(err), "Invoke: %v", err)
		})
	}
	// The connection survives both.
	assert.True(t, client.Usable(), "client Usable after the refused frames")
	assert.NoError(t, client.Invoke(ctx, call("Obj.Big", 1)), "Invoke after the refused frames")
	// Sent counts a frame once it is queued, which may be after the other
	// end has read it.
	assert.Eventually(t, func() bool { return server.Sent(wire.KindError) == 1 }, wait, time.Millisecond, "error frames sent")
}

func TestGoAwayMakesThePeerUnusable(t *testing.T) {
	client, server := pair(t, nil, dispatcherFunc(double), peer.Options{}, peer.Options{})
	ctx := ctxT(t)
	require.True(t, client.Usable(), "Usable before GoAway")
	require.NoError(t, server.GoAway(), "GoAway")
	require.Eventually(t, func() bool { return !client.Usable() }, wait, time.Millisecond, "Usable after the other end's GoAway")
	// GoAway asks for no new calls; it does not refuse them.
	assert.NoError(t, client.Invoke(ctx, call("Obj.Do", 1)), "Invoke after GoAway")
	assert.NoError(t, server.Flush(ctx), "Flush")
}
