package cluster_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/test/lifecycle/account"
)

const accountInterface = account.AccountInterface

// load is callers depositing 1 at a time into random keys of a set, each
// call bounded by a timeout, counting per key what was acknowledged
// and what failed.
type load struct {
	keys []string
	per  []keyCount
	stop chan struct{}
	wg   sync.WaitGroup

	calls atomic.Int64
	mark  atomic.Int64 // Unix ns; see since

	mu       sync.Mutex
	failures map[string]int // by class
}

// keyCount is what the callers know of one key's deposits.
type keyCount struct {
	mu      sync.Mutex
	acked   int64   // deposits acknowledged
	unknown int64   // deposits that failed once sent: applied or not
	refused int64   // deposits that failed before they were sent: not applied
	seen    []int64 // the balances the acknowledged deposits returned
	// recovered is when the first call of the key begun after the mark
	// was acknowledged; zero until then.
	recovered int64
}

// notSent reports whether a call failed before it left the client: its
// node's address refused the connection, or the client was waiting to
// dial it again after such a refusal.
func notSent(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "connect: connection refused") || strings.Contains(msg, "transport: handshake failed")
}

// startLoad starts callers goroutines depositing through c into keys,
// each call bounded by timeout.
func startLoad(t *testing.T, c remoting.Caller, callers int, keys []string, timeout time.Duration) *load {
	l := &load{keys: keys, per: make([]keyCount, len(keys)), stop: make(chan struct{}), failures: map[string]int{}}
	proxies := make([]*account.AccountProxy, len(keys))
	for i, k := range keys {
		p, err := account.AccountByKey(c, k)
		require.NoError(t, err)
		proxies[i] = p
	}
	for range callers {
		l.wg.Go(func() {
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				i := rand.IntN(len(keys))
				begun := time.Now().UnixNano()
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				n, err := proxies[i].Deposit(ctx, 1)
				cancel()
				l.calls.Add(1)
				k := &l.per[i]
				k.mu.Lock()
				if err == nil {
					k.acked++
					k.seen = append(k.seen, n)
					if m := l.mark.Load(); m != 0 && begun > m && k.recovered == 0 {
						k.recovered = time.Now().UnixNano()
					}
				} else if notSent(err) {
					k.refused++
				} else {
					k.unknown++
				}
				k.mu.Unlock()
				if err != nil {
					l.mu.Lock()
					l.failures[classify(err)]++
					l.mu.Unlock()
					time.Sleep(10 * time.Millisecond) // no busy loop on a node that is down
				}
			}
		})
	}
	t.Cleanup(l.end)
	return l
}

// end stops the callers and waits for them; it is idempotent.
func (l *load) end() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// waitCalls waits until n more calls have returned, at most d.
func (l *load) waitCalls(t *testing.T, n int64, d time.Duration) {
	t.Helper()
	want := l.calls.Load() + n
	require.Eventually(t, func() bool { return l.calls.Load() >= want }, d, 5*time.Millisecond, "%d calls", n)
}

// since marks now: recovery times are counted from here.
func (l *load) since(at time.Time) {
	for i := range l.per {
		l.per[i].mu.Lock()
		l.per[i].recovered = 0
		l.per[i].mu.Unlock()
	}
	l.mark.Store(at.UnixNano())
}

// waitRecovered waits until every key has had a call acknowledged that
// began after the mark, at most d, and returns the longest time from the
// mark to such an acknowledgement.
func (l *load) waitRecovered(t *testing.T, d time.Duration) time.Duration {
	t.Helper()
	mark := l.mark.Load()
	deadline := time.Now().Add(d)
	for {
		worst, missing := int64(0), 0
		for i := range l.per {
			l.per[i].mu.Lock()
			r := l.per[i].recovered
			l.per[i].mu.Unlock()
			if r == 0 {
				missing++
			}
			worst = max(worst, r-mark)
		}
		if missing == 0 {
			return time.Duration(worst)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d keys have not answered %v after the fault", missing, len(l.per), d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// failed returns the failures by class, sorted, and their total.
func (l *load) failed() (classes []string, total int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c, n := range l.failures {
		classes = append(classes, fmt.Sprintf("%5d  %s", n, c))
		total += n
	}
	sort.Strings(classes)
	return classes, total
}

// totals returns the deposits acknowledged, those that failed once sent,
// and those that failed before.
func (l *load) totals() (acked, unknown, refused int64) {
	for i := range l.per {
		l.per[i].mu.Lock()
		acked += l.per[i].acked
		unknown += l.per[i].unknown
		refused += l.per[i].refused
		l.per[i].mu.Unlock()
	}
	return acked, unknown, refused
}

// check stops the load and checks every key's balance, read through c,
// against its deposits: at least those acknowledged, at most those and
// the ones that failed, and no balance returned by two acknowledged
// deposits (two nodes serving one key would give out one balance twice).
func (l *load) check(t *testing.T, c remoting.Caller) {
	t.Helper()
	l.end()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	applied := int64(0)
	for i, key := range l.keys {
		b := balance(t, ctx, c, key)
		k := &l.per[i]
		applied += b - k.acked
		assert.GreaterOrEqual(t, b, k.acked, "%s: balance below the acknowledged deposits: %d lost", key, k.acked-b)
		assert.LessOrEqual(t, b, k.acked+k.unknown, "%s: balance above the deposits sent (%d acknowledged, %d failed once sent): one ran twice, or one that never left the client ran", key, k.acked, k.unknown)
		seen := slices.Clone(k.seen)
		slices.Sort(seen)
		if dup := slices.Compact(slices.Clone(seen)); len(dup) != len(seen) {
			assert.Fail(t, "a balance returned twice", "%s: %d acknowledged deposits returned %d distinct balances", key, len(seen), len(dup))
		}
		if len(seen) > 0 {
			assert.LessOrEqual(t, seen[len(seen)-1], b, "%s: a deposit returned a balance above the final one", key)
		}
	}
	acked, unknown, refused := l.totals()
	classes, total := l.failed()
	t.Logf("%d calls: %d deposits acknowledged, %d failed once sent (applied or not), %d failed before they were sent; the balances hold %d more than the acknowledged", l.calls.Load(), acked, unknown, refused, applied)
	if total > 0 {
		t.Logf("failed calls by class:\n%s", strings.Join(classes, "\n"))
	}
}

// balance reads the balance of key through c, trying again for a while if
// the cluster is still settling.
func balance(t *testing.T, ctx context.Context, c remoting.Caller, key string) int64 {
	t.Helper()
	p, err := account.AccountByKey(c, key)
	require.NoError(t, err)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		b, err := p.Balance(cctx)
		cancel()
		if err == nil {
			return b
		}
		if ctx.Err() != nil {
			t.Fatalf("balance of %s: %v", key, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func keys(prefix string, n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return ks
}
