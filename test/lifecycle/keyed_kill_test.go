package lifecycle_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/lifecycle/account"
)

// The child process of TestKeyedKilledUnderLoad serves when these are
// set: the store's spec (see openStoreSpec), and the durability as a
// number.
const (
	keyedChildStoreEnv      = "REMOTING_KEYED_CHILD_STORE"
	keyedChildDurabilityEnv = "REMOTING_KEYED_CHILD_DURABILITY"
)

// TestKeyedKilledUnderLoad kills, with SIGKILL, a server process whose
// keyed Accounts 64 callers deposit into, restarts a server on the same
// store, and counts the acknowledged deposits that are not in the
// balances. The store outlives the kill: a bbolt file, a PostgreSQL
// server or a Redis server (which the test starts, and which stays up).
// With SaveEveryCall none may be lost, on any store; with
// SaveEveryInterval (every 50ms) and SaveOnPassivation, on bbolt, the
// loss is measured and logged.
func TestKeyedKilledUnderLoad(t *testing.T) {
	if spec := os.Getenv(keyedChildStoreEnv); spec != "" {
		d, _ := strconv.Atoi(os.Getenv(keyedChildDurabilityEnv))
		serveKeyedUntilKilled(spec, lifecycle.Durability(d))
		return
	}
	if testing.Short() {
		t.Skip("runs child processes")
	}
	for _, tc := range []struct {
		store string
		d     lifecycle.Durability
	}{
		{"bolt", lifecycle.SaveEveryCall},
		{"bolt", lifecycle.SaveEveryInterval},
		{"bolt", lifecycle.SaveOnPassivation},
		{"postgres", lifecycle.SaveEveryCall},
		{"redis", lifecycle.SaveEveryCall},
	} {
		t.Run(tc.store+"/"+tc.d.String(), func(t *testing.T) {
			acked, balances, inflight := killUnderLoad(t, newStoreSpec(t, tc.store), tc.d)
			lost, total := int64(0), int64(0)
			for k := range acked {
				total += acked[k]
				if balances[k] < acked[k] {
					lost += acked[k] - balances[k]
				}
				assert.LessOrEqual(t, balances[k], acked[k]+inflight[k], "key %d: more in the balance than was sent", k)
			}
			t.Logf("%s, durability %s: %d deposits acknowledged before the kill, %d of them lost (%.1f%%)", tc.store, tc.d, total, lost, 100*float64(lost)/float64(max(total, 1)))
			require.Greater(t, total, int64(0), "deposits acknowledged")
			if tc.d == lifecycle.SaveEveryCall {
				assert.Zero(t, lost, "acknowledged deposits lost with SaveEveryCall on %s", tc.store)
			}
		})
	}
}

const (
	killKeys    = 16
	killCallers = 64
)

// killUnderLoad runs the child, loads it, kills it and reads the balances
// back; it returns, per key, the deposits acknowledged, the balance after
// the restart, and how many deposits were in flight at the kill.
func killUnderLoad(t *testing.T, spec string, d lifecycle.Durability) (acked, balances, inflight [killKeys]int64) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestKeyedKilledUnderLoad$")
	cmd.Env = append(os.Environ(), keyedChildStoreEnv+"="+spec, keyedChildDurabilityEnv+"="+strconv.Itoa(int(d)))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start(), "start the child")
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	lines := bufio.NewScanner(out)
	require.True(t, lines.Scan(), "the child's first line")
	addr, ok := strings.CutPrefix(lines.Text(), "listening ")
	require.True(t, ok, "the child's first line: %q", lines.Text())
	go io.Copy(io.Discard, out)

	ctx := ctxT(t)
	c, err := requestor.Dial(ctx, "tcp://"+addr, requestor.Options{})
	require.NoError(t, err, "Dial the child")
	defer c.Close()

	var ack, fly [killKeys]atomic.Int64
	var wg sync.WaitGroup
	var calls atomic.Int64
	for i := range killCallers {
		k := i % killKeys
		acct := byKey(t, c, fmt.Sprint("acct-", k))
		wg.Go(func() {
			for {
				fly[k].Add(1)
				_, err := acct.Deposit(ctx, 1)
				if err != nil {
					return // the child is dead; the deposit stays in flight
				}
				fly[k].Add(-1)
				ack[k].Add(1)
				calls.Add(1)
			}
		})
	}
	// At least half a second of load, so that the interval saves and the
	// passivations of the other durabilities have run a few times.
	loaded := time.Now()
	require.Eventually(t, func() bool { return calls.Load() > 2000 && time.Since(loaded) > 500*time.Millisecond }, 20*time.Second, time.Millisecond, "calls before the kill")
	require.NoError(t, cmd.Process.Kill(), "SIGKILL the child")
	killed = true
	cmd.Wait()
	wg.Wait()

	store, err := openStoreSpec(spec)
	require.NoError(t, err, "open the killed child's store")
	defer store.Close()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := invoker.NewServer(invoker.Options{})
	require.NoError(t, srv.Keyed(account.AccountInvoker(), lifecycle.Keyed(new(account.Tracker).New, lifecycle.KeyedOptions{Store: store})))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	defer func() { srv.Close(); <-served }()
	c2, err := requestor.Dial(ctx, "tcp://"+lis.Addr().String(), requestor.Options{})
	require.NoError(t, err)
	defer c2.Close()
	for k := range killKeys {
		n, err := byKey(t, c2, fmt.Sprint("acct-", k)).Balance(ctx)
		require.NoError(t, err, "Balance of key %d after the restart", k)
		acked[k], balances[k], inflight[k] = ack[k].Load(), n, fly[k].Load()
	}
	return acked, balances, inflight
}

// serveKeyedUntilKilled is the child process: a server of keyed Accounts
// on the store spec names, saving as d says (every 50ms with
// SaveEveryInterval) and passivating after 10ms idle. It prints its
// address and serves until it is killed.
func serveKeyedUntilKilled(spec string, d lifecycle.Durability) {
	store, err := openStoreSpec(spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	srv := invoker.NewServer(invoker.Options{})
	opts := lifecycle.KeyedOptions{Store: store, Durability: d, PassivateAfter: 10 * time.Millisecond, SaveInterval: 50 * time.Millisecond}
	if err := srv.Keyed(account.AccountInvoker(), lifecycle.Keyed(new(account.Tracker).New, opts)); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	fmt.Printf("listening %s\n", lis.Addr())
	srv.Serve(lis)
	select {}
}
