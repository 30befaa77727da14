package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/passivation"
)

// BenchRecord is the size of the records [Benchmark] saves and loads: the
// state of a small object.
const BenchRecord = 256

// BenchCallers are the numbers of concurrent callers [Benchmark] measures.
var BenchCallers = []int{1, 64}

// Benchmark measures Save and Load on s, for each number of concurrent
// callers in BenchCallers: each caller saves a record of its own again and
// again, or loads one of 1,000 records at random. Besides ns/op it
// reports the latency of one call (p50-µs, p99-µs) and the calls per
// second of all callers together (ops/s).
func Benchmark(b *testing.B, s passivation.Store) {
	ctx := b.Context()
	data := make([]byte, BenchRecord)
	for i := range data {
		data[i] = byte(i)
	}
	const loadRecords = 1000
	ids := make([]remoting.ObjectID, loadRecords)
	for i := range ids {
		ids[i] = remoting.NewObjectID()
		if _, err := s.Save(ctx, ids[i], data, 0); err != nil {
			b.Fatalf("Save: %v", err)
		}
	}
	for _, callers := range BenchCallers {
		b.Run(fmt.Sprintf("Save/callers=%d", callers), func(b *testing.B) {
			run(b, callers, func() func() error {
				id := remoting.NewObjectID()
				var version uint64
				return func() error {
					v, err := s.Save(ctx, id, data, version)
					version = v
					return err
				}
			})
		})
		b.Run(fmt.Sprintf("Load/callers=%d", callers), func(b *testing.B) {
			run(b, callers, func() func() error {
				rng := rand.New(rand.NewPCG(rand.Uint64(), 0))
				return func() error {
					_, err := s.Load(ctx, ids[rng.IntN(len(ids))])
					return err
				}
			})
		})
	}
}

// run makes b.N calls from callers goroutines, each with a call function
// of its own, and reports their latencies and rate.
func run(b *testing.B, callers int, newCall func() func() error) {
	calls := make([]func() error, callers)
	for i := range calls {
		calls[i] = newCall()
	}
	lat := make([][]time.Duration, callers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	b.ResetTimer()
	start := time.Now()
	for c := range callers {
		n := b.N / callers
		if c < b.N%callers {
			n++
		}
		wg.Go(func() {
			l := make([]time.Duration, 0, n)
			for range n {
				t := time.Now()
				err := calls[c]()
				l = append(l, time.Since(t))
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
			lat[c] = l
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	q := func(p float64) float64 {
		return float64(all[min(len(all)-1, int(p*float64(len(all))))]) / float64(time.Microsecond)
	}
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "ops/s")
}
