package invoker

// Benchmarks of the server's own handling of client-dependent objects,
// without the network: objects are exported for a client id directly.

import (
	"context"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/passivation"
	"github.com/remoting-go/remoting/passivation/bolt"
	"github.com/remoting-go/remoting/test/lifecycle/tally"
)

// passivations records the time of the first and the last Passivated
// event.
type passivations struct {
	mu          sync.Mutex
	first, last time.Time
}

func (p *passivations) Observe(e remoting.Event) {
	if e.Kind != remoting.EventPassivated {
		return
	}
	p.mu.Lock()
	if p.first.IsZero() || e.Time.Before(p.first) {
		p.first = e.Time
	}
	if e.Time.After(p.last) {
		p.last = e.Time
	}
	p.mu.Unlock()
}

// BenchmarkPassivationThroughput measures how fast the idle goroutine
// passivates objects (SaveState, encoding, the store's write, with an
// fsync for bbolt, and Deactivate): b.N objects are exported at once (in
// the server, without the network, so that they become idle within a few
// milliseconds of each other), and the rate is taken from the first to
// the last Passivated event.
//
//	go test -run X -bench PassivationThroughput -benchtime 2000x ./invoker
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
			ev := new(passivations)
			srv := NewServer(Options{OwnerGrace: time.Hour, Observers: []remoting.Observer{ev}})
			defer srv.Close()
			require.NoError(b, srv.Policy(tally.TallyInvoker(), lifecycle.ClientDependent(lifecycle.ClientDependentOptions{Passivation: lifecycle.Passivate(tr.New, lifecycle.PassivationOptions{After: 100 * time.Millisecond, Store: store})})))
			owner, sk, ctx := remoting.NewObjectID(), tally.TallyInvoker(), context.Background()
			for i := range b.N {
				tl, _ := tr.Maker().NewTally(ctx, int64(i))
				if _, err := srv.reg.Export(owner, sk, tl); err != nil {
					b.Fatal(err)
				}
			}
			require.Eventually(b, func() bool { return tr.Deactivated.Load() >= int64(b.N) },
				5*time.Minute, time.Millisecond, "%d objects passivated", b.N)
			ev.mu.Lock()
			first, last := ev.first, ev.last
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
//	go test -run X -bench HeapPerLeasedObject -benchtime 1x ./invoker
func BenchmarkHeapPerLeasedObject(b *testing.B) {
	const objects = 100_000
	for range b.N {
		srv := NewServer(Options{OwnerGrace: time.Hour})
		require.NoError(b, srv.Policy(tally.TallyInvoker(), lifecycle.ClientDependent(lifecycle.ClientDependentOptions{TTL: time.Hour})))
		tr := new(tally.Tracker)
		owner := remoting.NewObjectID()
		ctx := context.Background()
		sk := tally.TallyInvoker()
		before := heapInUse()
		for i := range objects {
			tl, _ := tr.Maker().NewTally(ctx, int64(i))
			if _, err := srv.reg.Export(owner, sk, tl); err != nil {
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
