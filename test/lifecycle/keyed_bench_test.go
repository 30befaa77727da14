package lifecycle_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting/internal/testserver"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/passivation"
	"github.com/remoting-go/remoting/passivation/bolt"
	"github.com/remoting-go/remoting/passivation/postgres"
	"github.com/remoting-go/remoting/passivation/redis"
	"github.com/remoting-go/remoting/test/lifecycle/account"
)

// BenchmarkKeyed measures keyed calls over loopback TCP against a static
// object of the same interface, in the same run: warm is a read-only call
// of an object that has its instance (the goal: within 1.10x of static),
// with one caller and with 64 callers on 64 keys; the deposit rows are a
// call that changes the state, with each durability and store (bbolt, and
// a PostgreSQL and a Redis server that the row starts), with one caller
// and with 64 callers on 64 keys, to compare with the in-memory row
// (SaveOnPassivation, which saves nothing per call):
//
//	go test -run X -bench Keyed -count 5 ./test/lifecycle
func BenchmarkKeyed(b *testing.B) {
	srv := startServer(b, invoker.Options{})
	tr := new(account.Tracker)
	ref, err := srv.Register("static", account.AccountInvoker(), lifecycle.Static(&account.Impl{}))
	require.NoError(b, err)
	require.NoError(b, srv.Keyed(account.AccountInvoker(), lifecycle.Keyed(tr.New, lifecycle.KeyedOptions{})))
	c := srv.dial(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	b.Cleanup(cancel)
	static := account.NewAccountProxy(c, ref)
	keyed := func(key string) *account.AccountProxy {
		p := byKey(b, c, key)
		_, err := p.Balance(ctx) // warm: activated
		require.NoError(b, err)
		return p
	}
	const callers = 64
	warm := make([]*account.AccountProxy, callers)
	for i := range warm {
		warm[i] = keyed(fmt.Sprint("warm-", i))
	}
	for _, n := range []int{1, callers} {
		for _, row := range []struct {
			name  string
			proxy func(i int) *account.AccountProxy
		}{
			{"static", func(int) *account.AccountProxy { return static }},
			{"keyed-warm", func(i int) *account.AccountProxy { return warm[i%callers] }},
		} {
			b.Run(fmt.Sprintf("callers=%d/%s", n, row.name), func(b *testing.B) {
				if n == 1 {
					p := row.proxy(0)
					for b.Loop() {
						if _, err := p.Balance(ctx); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				var next atomic.Int64
				procs := runtime.GOMAXPROCS(0)
				b.SetParallelism((n + procs - 1) / procs)
				b.RunParallel(func(pb *testing.PB) {
					p := row.proxy(int(next.Add(1)))
					for pb.Next() {
						if _, err := p.Balance(ctx); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}

	// interleaved alternates static and keyed calls on each caller and
	// times each, so that both see the same load: on a busy machine this
	// ratio is steadier than that of two rows run one after the other.
	for _, n := range []int{1, callers} {
		b.Run(fmt.Sprintf("callers=%d/interleaved", n), func(b *testing.B) {
			var staticNs, keyedNs atomic.Int64
			var next atomic.Int64
			loop := func(more func() bool) {
				p := warm[int(next.Add(1))%callers]
				for more() {
					t0 := time.Now()
					if _, err := static.Balance(ctx); err != nil {
						b.Error(err)
						return
					}
					t1 := time.Now()
					if _, err := p.Balance(ctx); err != nil {
						b.Error(err)
						return
					}
					keyedNs.Add(int64(time.Since(t1)))
					staticNs.Add(int64(t1.Sub(t0)))
				}
			}
			if n == 1 {
				loop(b.Loop)
			} else {
				procs := runtime.GOMAXPROCS(0)
				b.SetParallelism((n + procs - 1) / procs)
				b.RunParallel(func(pb *testing.PB) { loop(pb.Next) })
			}
			b.ReportMetric(float64(staticNs.Load())/float64(b.N), "static-ns/call")
			b.ReportMetric(float64(keyedNs.Load())/float64(b.N), "keyed-ns/call")
			b.ReportMetric(float64(keyedNs.Load())/float64(staticNs.Load()), "keyed/static")
		})
	}

	// The deposit rows start their store on first use, in the row's own
	// b, so that a missing server skips that row alone.
	for _, n := range []int{1, callers} {
		for _, row := range []struct {
			name  string
			d     lifecycle.Durability
			store func(b *testing.B) passivation.Store
		}{
			{"memory-onpassivation", lifecycle.SaveOnPassivation, func(*testing.B) passivation.Store { return nil }},
			{"memory-everycall", lifecycle.SaveEveryCall, func(*testing.B) passivation.Store { return passivation.NewMemoryStore() }},
			{"bolt-everyinterval", lifecycle.SaveEveryInterval, benchBolt},
			{"bolt-everycall", lifecycle.SaveEveryCall, benchBolt},
			{"postgres-everycall", lifecycle.SaveEveryCall, benchPostgres},
			{"redis-everysec-everycall", lifecycle.SaveEveryCall, benchRedis("everysec")},
			{"redis-always-everycall", lifecycle.SaveEveryCall, benchRedis("always")},
		} {
			b.Run(fmt.Sprintf("callers=%d/deposit-%s", n, row.name), func(b *testing.B) {
				store := row.store(b)
				s := startServer(b, invoker.Options{})
				require.NoError(b, s.Keyed(account.AccountInvoker(), lifecycle.Keyed(new(account.Tracker).New, lifecycle.KeyedOptions{Store: store, Durability: row.d})))
				c := s.dial(b)
				if n == 1 {
					p, err := account.AccountByKey(c, "deposit-"+row.name)
					require.NoError(b, err)
					for b.Loop() {
						if _, err := p.Deposit(ctx, 1); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				// RunParallel calls this function for each b.N it tries, so
				// the store's start and its first write (PostgreSQL creates
				// its table) stay out of the time.
				_, err := byKey(b, c, "warm-up").Deposit(ctx, 1)
				require.NoError(b, err, "the first Deposit")
				b.ResetTimer()
				var next atomic.Int64
				procs := runtime.GOMAXPROCS(0)
				b.SetParallelism((n + procs - 1) / procs)
				b.RunParallel(func(pb *testing.PB) {
					p := byKey(b, c, fmt.Sprint("deposit-", row.name, "-", next.Add(1)))
					for pb.Next() {
						if _, err := p.Deposit(ctx, 1); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// The stores of the deposit rows, each closed by the b that opened it.

func benchBolt(b *testing.B) passivation.Store {
	s, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"), bolt.Options{})
	require.NoError(b, err)
	b.Cleanup(func() { s.Close() })
	return s
}

func benchPostgres(b *testing.B) passivation.Store {
	s, err := postgres.Open(testserver.StartPostgres(b).ConnString()+"&pool_max_conns=64", postgres.Options{})
	require.NoError(b, err)
	b.Cleanup(func() { s.Close() })
	return s
}

func benchRedis(fsync string) func(b *testing.B) passivation.Store {
	return func(b *testing.B) passivation.Store {
		r := testserver.StartRedis(b, testserver.RedisOptions{AppendFsync: fsync})
		s, err := redis.Open("redis://"+r.Addr()+"/0?pool_size=64", redis.Options{})
		require.NoError(b, err)
		b.Cleanup(func() { s.Close() })
		return s
	}
}
