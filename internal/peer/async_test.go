package peer_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/peer"
	"github.com/remoting-go/remoting/internal/wire"
)

// asyncCall is call in ModeAsync, its outcome sent on done.
func asyncCall(n int, done chan<- error) *remoting.Invocation {
	inv := call("Obj.Do", n)
	inv.Mode = remoting.ModeAsync
	inv.Done = func(err error) { done <- err }
	return inv
}

// The reader of a call stream runs an async call's Done itself; a Done
// that blocks must not hold up the replies of the calls behind it.
func TestBlockingDoneHoldsUpNoOtherCall(t *testing.T) {
	client, _ := pair(t, nil, dispatcherFunc(double), peer.Options{}, peer.Options{})
	ctx := ctxT(t)

	release := make(chan struct{})
	entered := make(chan struct{})
	blocking := call("Obj.Do", 1)
	blocking.Mode = remoting.ModeAsync
	blocking.Done = func(error) {
		close(entered)
		<-release
	}
	require.NoError(t, client.Invoke(ctx, blocking))
	recv(t, entered, "the blocking Done")

	// Sync and async calls behind it complete while it blocks.
	for i := range 20 {
		inv := call("Obj.Do", i)
		require.NoError(t, client.Invoke(ctx, inv), "sync call %d while a Done blocks", i)
		assert.Equal(t, 2*i, inv.Reply.(*msg).N)
	}
	done := make(chan error, 20)
	for i := range 20 {
		require.NoError(t, client.Invoke(ctx, asyncCall(i, done)))
	}
	for range 20 {
		assert.NoError(t, recv(t, done, "an async call behind the blocking Done"))
	}
	close(release)
}

// A Done may make a sync call on the connection whose reader runs it.
func TestDoneMayCallTheSameConnection(t *testing.T) {
	client, _ := pair(t, nil, dispatcherFunc(double), peer.Options{}, peer.Options{})
	ctx := ctxT(t)
	got := make(chan int, 1)
	first := call("Obj.Do", 1)
	first.Mode = remoting.ModeAsync
	first.Done = func(err error) {
		if err != nil {
			t.Errorf("first call: %v", err)
		}
		inv := call("Obj.Do", first.Reply.(*msg).N)
		if err := client.Invoke(ctx, inv); err != nil {
			t.Errorf("sync call from Done: %v", err)
		}
		got <- inv.Reply.(*msg).N
	}
	require.NoError(t, client.Invoke(ctx, first))
	assert.Equal(t, 4, recv(t, got, "the sync call made from Done"))
}

// An async call whose context ends gets the context's error through Done,
// and the server is told to cancel: whether the context ends while the
// call is young (noticed by the sweep) or later (watched).
func TestAsyncCallEndsWithItsContext(t *testing.T) {
	for _, after := range []time.Duration{0, 20 * time.Millisecond} {
		t.Run("after="+after.String(), func(t *testing.T) {
			b := newBlocker(1)
			client, server := pair(t, nil, b, peer.Options{}, peer.Options{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			require.NoError(t, client.Invoke(ctx, asyncCall(1, done)))
			recv(t, b.entered, "the request")
			time.Sleep(after)
			canceled := time.Now()
			cancel()
			err := recv(t, done, "Done after cancel")
			took := time.Since(canceled)
			assert.Equal(t, remoting.CodeCanceled, remoting.CodeOf(err), "Done after cancel: %v", err)
			assert.Less(t, took, time.Second, "Done came long after the cancel")
			t.Logf("Done %v after the cancel", took)
			assert.ErrorIs(t, recv(t, b.ended, "the server's context to end"), context.Canceled, "server-side ctx.Err()")
			assert.Equal(t, uint64(1), client.Sent(wire.KindCancel), "cancel frames sent")
			require.Eventually(t, func() bool { return server.Active() == 0 }, wait, time.Millisecond, "server Active after cancel")
		})
	}
}

// Replies, deadlines and Dones race: every async call gets exactly one
// Done, with its reply or with DeadlineExceeded.
func TestAsyncDoneRunsExactlyOnce(t *testing.T) {
	sleepy := dispatcherFunc(func(ctx context.Context, req *peer.Request) (any, error) {
		var in msg
		if err := wire.Unmarshal(req.Frame.Body, &in); err != nil {
			return nil, err
		}
		time.Sleep(time.Duration(in.N%3) * time.Millisecond)
		return &msg{N: 2 * in.N}, nil
	})
	client, _ := pair(t, nil, sleepy, peer.Options{}, peer.Options{})
	const calls = 2000
	var dones [calls]atomic.Int32
	var wg sync.WaitGroup
	var ok, expired atomic.Int64
	for i := range calls {
		wg.Add(1)
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rand.IntN(3000))*time.Microsecond)
		inv := call("Obj.Do", i)
		inv.Mode = remoting.ModeAsync
		inv.Done = func(err error) {
			defer wg.Done()
			defer cancel()
			if dones[i].Add(1) != 1 {
				t.Errorf("call %d: Done ran again", i)
				return
			}
			switch remoting.CodeOf(err) {
			case remoting.CodeOK:
				if n := inv.Reply.(*msg).N; n != 2*i {
					t.Errorf("call %d: reply %d", i, n)
				}
				ok.Add(1)
			case remoting.CodeDeadlineExceeded:
				expired.Add(1)
			default:
				t.Errorf("call %d: %v", i, err)
			}
		}
		require.NoError(t, client.Invoke(ctx, inv))
	}
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	recv(t, waited, "every Done")
	t.Logf("%d replies, %d past their deadline", ok.Load(), expired.Load())
	for i := range dones {
		assert.Equal(t, int32(1), dones[i].Load(), "Dones of call %d", i)
	}
}
