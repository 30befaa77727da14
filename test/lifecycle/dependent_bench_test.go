package lifecycle_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/passivation"
	"github.com/remoting-go/remoting/passivation/bolt"
	"github.com/remoting-go/remoting/test/lifecycle/tally"
)

// Benchmarks of client-dependent objects; each documents its command.

// BenchmarkClientDependentCall measures a sync call of Tally.Get over
// loopback TCP on the same kind of object under each lifecycle: a named
// Static Instance, and an object made by a remote factory with the
// default policy, with a lease that calls renew, and with a lease and
// passivation (idle time far longer than the run). Compare each row with
// static.
func BenchmarkClientDependentCall(b *testing.B) {
	rows := []struct {
		name   string
		policy *lifecycle.Policy // nil: a named static object
	}{
		{"static", nil},
		{"dependent", &lifecycle.Policy{}},
		{"leased", ptr(lifecycle.ClientDependent(lifecycle.ClientDependentOptions{TTL: 30 * time.Second}))},
		{"leased+passivating", nil}, // filled below: it needs the tracker
	}
	tr := new(tally.Tracker)
	p := passivating(tr, time.Hour, nil, 30*time.Second)
	rows[3].policy = &p

	proxies := make([]tally.Tally, len(rows))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i, row := range rows {
		var srv *server
		if row.policy == nil {
			srv = startServer(b, invoker.Options{})
			tl, err := tr.Maker().NewTally(ctx, 0)
			require.NoError(b, err)
			ref, err := srv.Register("tally", tally.TallyInvoker(), lifecycle.Static(tl))
			require.NoError(b, err)
			c := srv.dial(b)
			ref.Endpoint = c.Endpoint()
			proxies[i] = tally.NewTallyProxy(c, ref)
			continue
		}
		srv = depServer(b, tr, *row.policy, invoker.Options{})
		c := srv.dial(b)
		proxies[i], _ = newTally(b, maker(b, c, c.Endpoint()), 0)
	}
	for _, callers := range []int{1, 64} {
		for i, row := range rows {
			tl := proxies[i]
			b.Run(fmt.Sprintf("callers=%d/%s", callers, row.name), func(b *testing.B) {
				if callers == 1 {
					for b.Loop() {
						if _, err := tl.Get(ctx); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				procs := runtime.GOMAXPROCS(0)
				b.SetParallelism((callers + procs - 1) / procs)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := tl.Get(ctx); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

func ptr[T any](v T) *T { return &v }

// BenchmarkReactivation measures the first call of an object passivated
// to a bbolt file, which reactivates it: the store's read, the decoding of
// the record and the state, the constructor and the hooks, and the call
// itself over loopback TCP (compare with BenchmarkClientDependentCall's
// callers=1 rows for the call alone). The objects are made and
// passivated before the timer starts, one per iteration; they passivate
// after two idle seconds, so that keep the run shorter than that, or the
// passivations of the objects just called run alongside. The state
// carries a 1 KiB note. store-read is the bbolt read alone.
//
//	go test -run X -bench Reactivation -benchtime 2000x ./test/lifecycle
func BenchmarkReactivation(b *testing.B) {
	b.Run("first-call", func(b *testing.B) {
		_, tls, store := passivatedObjects(b, b.N)
		ctx := context.Background()
		b.ResetTimer()
		for i := range b.N {
			if _, err := tls[i].Get(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		store.Close()
	})
	b.Run("store-read", func(b *testing.B) {
		const n = 256
		ids, _, store := passivatedObjects(b, n)
		ctx := context.Background()
		b.ResetTimer()
		for i := range b.N {
			if _, err := store.Load(ctx, ids[i%n]); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		store.Close()
	})
}

// passivatedObjects makes n Tallies on a server that passivates them to a
// bbolt file in a temporary directory, and waits until all are
// passivated.
func passivatedObjects(b *testing.B, n int) ([]remoting.ObjectID, []tally.Tally, *bolt.Store) {
	b.Helper()
	store, err := bolt.Open(filepath.Join(b.TempDir(), "state.db"), bolt.Options{})
	require.NoError(b, err)
	tr := &tally.Tracker{Note: string(make([]byte, 1024))}
	counts := new(remoting.EventCounts)
	srv := depServer(b, tr, passivating(tr, 2*time.Second, store, 0), invoker.Options{Observers: []remoting.Observer{counts}})
	c := srv.dial(b)
	m := maker(b, unheld{c}, c.Endpoint())
	ids, tls := make([]remoting.ObjectID, n), make([]tally.Tally, n)
	for i := range n {
		tls[i], ids[i] = newTally(b, m, int64(i))
	}
	require.Eventually(b, func() bool { return counts.Get(tally.TallyInterface, remoting.EventPassivated) >= uint64(n) },
		time.Minute, time.Millisecond, "%d objects passivated", n)
	return ids, tls, store
}

// BenchmarkPassivationThroughput measures how fast the idle goroutine
// passivates objects (SaveState, encoding, the store's write, with an
// fsync for bbolt, and Deactivate): b.N objects are exported at once (in
// the server, without the network, so that they become idle within a few
// milliseconds of each other), and the rate is taken from the first to
// the last Passivated event.
//
//	go test -run X -bench PassivationThroughput -benchtime 2000x ./test/lifecycle
func BenchmarkPassivationThroughput(b *testing.B) {
	for _, backend := range []string{"bolt", "memory"} {
		b.Run(backend, func(b *testing.B) {
			var store passivation.Store = passivation.NewMemoryStore()
			if backend == "bolt" {
				s, err := bolt.Open(filepath.Join(b.TempDir(), "state.db"), bolt.Options{})
				require.NoError(b, err)
				store = s
			}
			defer store.Close()
			tr := new(tally.Tracker)
			ev := new(events)
			srv := invoker.NewServer(invoker.Options{OwnerGrace: time.Hour, Observers: []remoting.Observer{ev}})
			defer srv.Close()
			require.NoError(b, srv.Policy(tally.TallyInvoker(), passivating(tr, 100*time.Millisecond, store, 0)))
			owner, sk, ctx := remoting.NewObjectID(), tally.TallyInvoker(), context.Background()
			for i := range b.N {
				tl, _ := tr.Maker().NewTally(ctx, int64(i))
				if _, err := srv.Registry().Export(owner, sk, tl); err != nil {
					b.Fatal(err)
				}
			}
			require.Eventually(b, func() bool { return tr.Deactivated.Load() >= int64(b.N) },
				5*time.Minute, time.Millisecond, "%d objects passivated", b.N)
			ev.mu.Lock()
			var first, last time.Time
			for _, e := range ev.all {
				if e.Kind != remoting.EventPassivated {
					continue
				}
				if first.IsZero() || e.Time.Before(first) {
					first = e.Time
				}
				if e.Time.After(last) {
					last = e.Time
				}
			}
			ev.mu.Unlock()
			if span := last.Sub(first); b.N > 1 && span > 0 {
				b.ReportMetric(float64(b.N-1)/span.Seconds(), "objects/s")
				b.ReportMetric(float64(span.Nanoseconds())/float64(b.N-1), "ns/passivation")
			}
		})
	}
}

// BenchmarkHeapPerLeasedObject measures the heap that one live leased
// object costs the server: the registry's entry, the strategy, the lease,
// the instance (a tally.Counter, 48 bytes) and the maps that find them,
// with 100,000 objects exported for one client.
//
//	go test -run X -bench HeapPerLeasedObject -benchtime 1x ./test/lifecycle
func BenchmarkHeapPerLeasedObject(b *testing.B) {
	const objects = 100_000
	for range b.N {
		srv := invoker.NewServer(invoker.Options{OwnerGrace: time.Hour})
		require.NoError(b, srv.Policy(tally.TallyInvoker(), lifecycle.ClientDependent(lifecycle.ClientDependentOptions{TTL: time.Hour})))
		tr := new(tally.Tracker)
		owner := remoting.NewObjectID()
		ctx := context.Background()
		sk := tally.TallyInvoker()
		before := heapInUse()
		for i := range objects {
			tl, _ := tr.Maker().NewTally(ctx, int64(i))
			if _, err := srv.Registry().Export(owner, sk, tl); err != nil {
				b.Fatal(err)
			}
		}
		after := heapInUse()
		b.ReportMetric(float64(after-before)/objects, "bytes/object")
		require.Equal(b, objects, srv.Stats().Objects)
		srv.Close()
	}
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
