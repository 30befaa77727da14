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
