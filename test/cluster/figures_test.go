package cluster_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/lifecycle/account"
)

// benchEnv gates the figures: they take a minute and want a quiet
// machine.
const benchEnv = "REMOTING_CLUSTER_BENCH"

// TestFigures measures, on three node processes, etcd and PostgreSQL:
// a call (Balance, read-only, so no store write) of an active keyed
// object through a cluster client with a warm directory cache against the
// same call through a requestor.Client dialed to the node that hosts it,
// at 1 and 64 callers, in interleaved rounds, as medians and their ratio;
// the cost of a first call that activates an object (the directory claim
// and the store read), p50 and p99; and the activations per second of 64
// callers across the three nodes.
func TestFigures(t *testing.T) {
	if os.Getenv(benchEnv) != "1" {
		t.Skipf("set %s=1 for the figures", benchEnv)
	}
	c := newCluster(t, 3)
	cl := c.client(nil)
	c.waitMembers(cl, 5*time.Second)
	ctx := context.Background()
	host := c.live()[0]

	// 64 keys active on host, so that both clients reach the same objects.
	var hosted []string
	for i := 0; len(hosted) < 64 && i < 5000; i++ {
		k := fmt.Sprintf("fig-%d", i)
		balance(t, ctx, cl, k)
		if c.owner(k) == host.id {
			hosted = append(hosted, k)
		}
	}
	require.Len(t, hosted, 64, "keys on %s", host.id)
	direct, err := requestor.Dial(ctx, host.endpoint, requestor.Options{})
	require.NoError(t, err)
	defer direct.Close()

	for _, callers := range []int{1, 64} {
		const rounds = 15
		perCaller := 1000
		if callers == 1 {
			perCaller = 4000
		}
		var viaCluster, viaDirect []time.Duration
		for r := range rounds {
			runs := []struct {
				c   remoting.Caller
				out *[]time.Duration
			}{{cl, &viaCluster}, {direct, &viaDirect}}
			if r%2 == 1 {
				runs[0], runs[1] = runs[1], runs[0]
			}
			for _, run := range runs {
				*run.out = append(*run.out, callsTime(t, run.c, hosted[:callers], perCaller))
			}
		}
		mc, md := median(viaCluster), median(viaDirect)
		t.Logf("%2d callers: cluster.Client %v per call, requestor.Client %v per call (medians of %d interleaved rounds of %d calls; wall time / calls); ratio %.2f",
			callers, mc, md, rounds, callers*perCaller, float64(mc)/float64(md))
	}
	t.Logf("cluster client: %+v", cl.Stats())

	// First activations, one at a time: claim in etcd, read the store
	// (nothing there), construct, call.
	var first []time.Duration
	for i := range 300 {
		p, _ := account.AccountByKey(cl, fmt.Sprintf("first-%d", i))
		t0 := time.Now()
		_, err := p.Balance(ctx)
		require.NoError(t, err)
		first = append(first, time.Since(t0))
	}
	slices.Sort(first)
	warm := median(viaCallsOnce(t, cl, hosted[0], 300))
	t.Logf("first call of a key (activation): p50 %v, p99 %v over %d keys; a warm call of an active key: p50 %v",
		first[len(first)/2], first[len(first)*99/100], len(first), warm)

	// Activations per second: 64 callers, each call a new key.
	var n atomic.Int64
	var wg sync.WaitGroup
	const span = 3 * time.Second
	stop := time.Now().Add(span)
	for w := range 64 {
		wg.Go(func() {
			for j := 0; time.Now().Before(stop); j++ {
				p, _ := account.AccountByKey(cl, fmt.Sprintf("rate-%d-%d", w, j))
				if _, err := p.Balance(ctx); err == nil {
					n.Add(1)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("activations: %d in %v across %d nodes by 64 callers: %.0f/s", n.Load(), span, len(c.live()), float64(n.Load())/span.Seconds())
}

// callsTime runs perCaller Balance calls on each key of keys, one caller
// per key, through c, and returns the wall time divided by the calls.
func callsTime(t *testing.T, c remoting.Caller, keys []string, perCaller int) time.Duration {
	ctx := context.Background()
	var wg sync.WaitGroup
	var failed atomic.Int64
	t0 := time.Now()
	for _, k := range keys {
		p, _ := account.AccountByKey(c, k)
		wg.Go(func() {
			for range perCaller {
				if _, err := p.Balance(ctx); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	d := time.Since(t0) / time.Duration(len(keys)*perCaller)
	require.Zero(t, failed.Load(), "failed calls")
	return d
}

// viaCallsOnce returns the times of n calls of key through c.
func viaCallsOnce(t *testing.T, c remoting.Caller, key string, n int) []time.Duration {
	p, _ := account.AccountByKey(c, key)
	var ds []time.Duration
	for range n {
		t0 := time.Now()
		_, err := p.Balance(context.Background())
		require.NoError(t, err)
		ds = append(ds, time.Since(t0))
	}
	return ds
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
