package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/internal/testserver"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/passivation"
	"github.com/remoting-go/remoting/passivation/postgres"
	"github.com/remoting-go/remoting/passivation/redis"
	"github.com/remoting-go/remoting/test/lifecycle/account"
)

// Bounds of the tests of a store server that fails under keyed load.
const (
	// outageCallTimeout is each deposit's deadline.
	outageCallTimeout = 300 * time.Millisecond
	// outageSlack is how far past its deadline a call may return: the
	// time to notice it and unwind on both ends, with the race detector
	// on, on a machine of 2 busy cores.
	outageSlack = 350 * time.Millisecond
	// outageResumeWithin bounds the time from the store server accepting
	// connections again to the first acknowledged deposit.
	outageResumeWithin = 2 * time.Second
	// outageDown is how long the store server stays down.
	outageDown = time.Second
)

// depositLoad is killCallers callers depositing 1 at a time into
// killKeys keyed Accounts through one client, each call with a deadline
// of outageCallTimeout.
type depositLoad struct {
	stop  atomic.Bool
	wg    sync.WaitGroup
	acked [killKeys]atomic.Int64 // deposits that returned nil
	maybe [killKeys]atomic.Int64 // deposits that failed or were cut off: applied or not
	oks   atomic.Int64
	fails atomic.Int64

	// back is when the store server was ready again (UnixNano), 0 until
	// then; resumed is the end of the first deposit acknowledged that
	// began after it.
	back, resumed atomic.Int64
	// downFrom and downTo bound the time in which the store is down for
	// certain; a call that begins and ends inside it must fail with
	// Unavailable.
	downFrom, downTo atomic.Int64

	mu      sync.Mutex
	slowest time.Duration
	codes   map[remoting.Code]int // of the failed calls
	badDown []error               // failed calls inside the down time with another code than Unavailable
	others  []time.Time           // when the failed calls with another code than Unavailable began
}

// startDeposits starts the load on c; with untilError each caller stops
// at its first failed call, otherwise only when end is called.
func startDeposits(t *testing.T, c remoting.Caller, untilError bool) *depositLoad {
	l := &depositLoad{codes: map[remoting.Code]int{}}
	for i := range killCallers {
		k := i % killKeys
		acct := byKey(t, c, fmt.Sprint("acct-", k))
		l.wg.Go(func() {
			for !l.stop.Load() {
				ctx, cancel := context.WithTimeout(context.Background(), outageCallTimeout)
				begin := time.Now()
				_, err := acct.Deposit(ctx, 1)
				end := time.Now()
				cancel()
				l.mu.Lock()
				l.slowest = max(l.slowest, end.Sub(begin))
				l.mu.Unlock()
				if err == nil {
					l.acked[k].Add(1)
					l.oks.Add(1)
					if b := l.back.Load(); b != 0 && begin.UnixNano() >= b {
						l.resumed.CompareAndSwap(0, end.UnixNano())
					}
					continue
				}
				l.maybe[k].Add(1)
				l.fails.Add(1)
				code := remoting.CodeOf(err)
				l.mu.Lock()
				l.codes[code]++
				if code != remoting.CodeUnavailable {
					l.others = append(l.others, begin)
				}
				if from, to := l.downFrom.Load(), l.downTo.Load(); code != remoting.CodeUnavailable && from != 0 && begin.UnixNano() >= from && (to == 0 || end.UnixNano() <= to) {
					l.badDown = append(l.badDown, err)
				}
				l.mu.Unlock()
				if untilError {
					return
				}
				time.Sleep(10 * time.Millisecond) // as a client backs off
			}
		})
	}
	return l
}

// waitCalls waits for at least n acknowledged deposits and half a second
// of load.
func (l *depositLoad) waitCalls(t *testing.T, n int64) {
	t.Helper()
	start := time.Now()
	require.Eventually(t, func() bool { return l.oks.Load() >= n && time.Since(start) > 500*time.Millisecond }, 20*time.Second, time.Millisecond, "deposits before the store server fails")
}

func (l *depositLoad) end() {
	l.stop.Store(true)
	l.wg.Wait()
}

// check reads each Account's balance through a new server on a new store
// that open returns, and returns how many acknowledged deposits are not in
// the balances, and how many were acknowledged in all. It fails the test
// for a balance with more than was sent.
func (l *depositLoad) check(t *testing.T, open func() (passivation.Store, error)) (lost, acked int64) {
	t.Helper()
	store, err := open()
	require.NoError(t, err, "open the store again")
	t.Cleanup(func() { store.Close() })
	s := startServer(t, invoker.Options{})
	require.NoError(t, s.Keyed(account.AccountInvoker(), lifecycle.Keyed(new(account.Tracker).New, lifecycle.KeyedOptions{Store: store})))
	c := s.dial(t)
	ctx := ctxT(t)
	for k := range killKeys {
		n, err := byKey(t, c, fmt.Sprint("acct-", k)).Balance(ctx)
		require.NoError(t, err, "Balance of key %d on the restarted store", k)
		a, m := l.acked[k].Load(), l.maybe[k].Load()
		acked += a
		lost += max(0, a-n)
		assert.LessOrEqual(t, n, a+m, "key %d: more in the balance than was sent", k)
	}
	return lost, acked
}

// keyedOn starts a server of keyed Accounts that saves every call to
// store, and a client of it.
func keyedOn(t *testing.T, store passivation.Store) (*server, remoting.Caller) {
	t.Helper()
	s := startServer(t, invoker.Options{})
	require.NoError(t, s.Keyed(account.AccountInvoker(), lifecycle.Keyed(new(account.Tracker).New, lifecycle.KeyedOptions{Store: store, Durability: lifecycle.SaveEveryCall})))
	return s, s.dial(t)
}

// TestKeyedStoreOutage stops the store server abruptly under a load of
// keyed deposits with SaveEveryCall (PostgreSQL as pg_ctl stop -m
// immediate does; Redis, under appendfsync always, with SIGKILL) and
// starts it again after outageDown: while it is down the calls fail with
// Unavailable, no call outlives its deadline by more than outageSlack,
// deposits are acknowledged again within outageResumeWithin of the store
// server being ready, and no acknowledged deposit is lost. A call may
// also end by its deadline (DeadlineExceeded) at the crash and while the
// store server starts (PostgreSQL's crash recovery), when it takes
// connections but does not answer yet.
func TestKeyedStoreOutage(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) (open func() (passivation.Store, error), crash, restart func())
	}{
		{"postgres", func(t *testing.T) (func() (passivation.Store, error), func(), func()) {
			pg := testserver.StartPostgres(t)
			open := func() (passivation.Store, error) {
				return postgres.Open(pg.ConnString()+"&pool_max_conns=32", postgres.Options{})
			}
			return open, func() { pg.Crash(t) }, func() { pg.Start(t) }
		}},
		{"redis", func(t *testing.T) (func() (passivation.Store, error), func(), func()) {
			r := testserver.StartRedis(t, testserver.RedisOptions{AppendFsync: "always"})
			open := func() (passivation.Store, error) {
				return redis.Open("redis://"+r.Addr()+"/0?pool_size=32", redis.Options{})
			}
			return open, func() { r.Crash(t) }, func() { r.Start(t) }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			open, crash, restart := tc.start(t)
			store, err := open()
			require.NoError(t, err, "open the store")
			t.Cleanup(func() { store.Close() })
			s, c := keyedOn(t, store)
			l := startDeposits(t, c, false)
			l.waitCalls(t, 500)
			okBefore := l.oks.Load()

			crash()
			crashed := time.Now()
			okCrashed := l.oks.Load() // the store server has exited
			// The calls that were running at the crash end by their
			// deadline at the latest; from then on the store is down
			// for every call.
			l.downFrom.Store(crashed.Add(outageCallTimeout + outageSlack).UnixNano())
			time.Sleep(outageDown)
			l.downTo.Store(time.Now().UnixNano())
			failsDown := l.fails.Load()
			okDown := l.oks.Load()
			restart()
			back := time.Now()
			l.back.Store(back.UnixNano())
			for l.resumed.Load() == 0 && time.Since(back) < outageResumeWithin+time.Second {
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond)
			l.end()
			resumed := time.Duration(0)
			if r := l.resumed.Load(); r != 0 {
				resumed = time.Unix(0, r).Sub(back)
			}
			require.NoError(t, s.Close(), "Close the server")

			lost, acked := l.check(t, open)
			t.Logf("%s: %d deposits acknowledged before the crash, %d in all, %d lost; %d failed calls (codes %v); down %v; resumed %v after the store server was ready; slowest call %v (deadline %v)",
				tc.name, okBefore, acked, lost, l.fails.Load(), l.codes, back.Sub(crashed).Round(time.Millisecond),
				resumed.Round(time.Millisecond), l.slowest.Round(time.Millisecond), outageCallTimeout)
			if len(l.others) > 0 {
				t.Logf("%s: the calls that failed with another code than Unavailable began from %v to %v after the crash (the store server was ready %v after it)",
					tc.name, l.others[0].Sub(crashed).Round(time.Millisecond), l.others[len(l.others)-1].Sub(crashed).Round(time.Millisecond), back.Sub(crashed).Round(time.Millisecond))
			}
			assert.Positive(t, okBefore, "deposits before the crash")
			assert.Greater(t, failsDown, okBefore/1000, "calls that failed while the store server was down")
			assert.LessOrEqual(t, okDown-okCrashed, int64(killCallers), "deposits acknowledged after the store server exited (at most the replies on their way)")
			for code := range l.codes {
				assert.Contains(t, []remoting.Code{remoting.CodeUnavailable, remoting.CodeDeadlineExceeded}, code, "the code of a failed call")
			}
			for i, err := range l.badDown {
				if i == 5 {
					break
				}
				assert.Fail(t, "a call failed with another code than Unavailable while the store server was down", "%v (code %v)", err, remoting.CodeOf(err))
			}
			assert.LessOrEqual(t, l.slowest, outageCallTimeout+outageSlack, "the slowest call, with a deadline of %v", outageCallTimeout)
			assert.Positive(t, resumed, "a deposit acknowledged after the store server was back")
			assert.Less(t, resumed, outageResumeWithin, "time to the first deposit acknowledged after the store server was back")
			assert.Zero(t, lost, "acknowledged deposits lost")
		})
	}
}

// TestKeyedRedisKilledUnderLoad kills redis-server itself with SIGKILL
// under a load of keyed deposits with SaveEveryCall, starts it again from
// its files, and counts the acknowledged deposits that are not in the
// balances, for each persistence setting: Redis's default (RDB snapshots
// only), appendfsync everysec, and appendfsync always. Only appendfsync
// always promises to lose nothing, and is held to it; the others are
// measured and logged (see the Durability section of package
// passivation/redis).
func TestKeyedRedisKilledUnderLoad(t *testing.T) {
	for _, fsync := range []string{"", "everysec", "always"} {
		name := "appendfsync=" + fsync
		if fsync == "" {
			name = "rdb-only"
		}
		t.Run(name, func(t *testing.T) {
			r := testserver.StartRedis(t, testserver.RedisOptions{AppendFsync: fsync})
			open := func() (passivation.Store, error) {
				return redis.Open("redis://"+r.Addr()+"/0?pool_size=32", redis.Options{})
			}
			store, err := open()
			require.NoError(t, err, "open the store")
			t.Cleanup(func() { store.Close() })
			s, c := keyedOn(t, store)
			l := startDeposits(t, c, true)
			l.waitCalls(t, 2000)
			r.Crash(t)
			l.end()
			r.Start(t)
			// Wait for the store to answer again, so that go-redis's
			// probing of the server it lost has ended when it closes.
			require.Eventually(t, func() bool {
				_, err := store.Load(t.Context(), remoting.NewObjectID())
				return errors.Is(err, passivation.ErrNotFound)
			}, outageResumeWithin, 10*time.Millisecond, "the store answers after redis-server is back")
			require.NoError(t, s.Close(), "Close the server")
			lost, acked := l.check(t, open)
			t.Logf("%s: redis-server killed after %d acknowledged deposits; after its restart %d of them lost (%.1f%%)",
				name, acked, lost, 100*float64(lost)/float64(max(acked, 1)))
			require.Positive(t, acked, "deposits acknowledged")
			if fsync == "always" {
				assert.Zero(t, lost, "acknowledged deposits lost under appendfsync always")
			}
		})
	}
}
