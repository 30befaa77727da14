package bench

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The benchmarks measure the same rows as cmd/bench, named so that
// benchstat can compare runs: BenchmarkSmall/remoting/callers=64 (the
// net/rpc row is named net-rpc here, so that -bench patterns, which split
// at slashes, can select it).
// callers=1 makes sequential calls; larger numbers run that many
// goroutines through b.RunParallel (rounded up to a multiple of
// GOMAXPROCS). Allocations count client and server together.

var benchCallers = []int{1, 16, 64, 256}

func BenchmarkSmall(b *testing.B) { benchmarkPayload(b, Small) }

func Benchmark4K(b *testing.B) { benchmarkPayload(b, KiB4) }

func BenchmarkStruct(b *testing.B) { benchmarkPayload(b, Struct) }

func BenchmarkStruct4K(b *testing.B) { benchmarkPayload(b, Blob) }

func BenchmarkNested(b *testing.B) { benchmarkPayload(b, Nested) }

func BenchmarkOrder(b *testing.B) { benchmarkPayload(b, Order) }

func benchmarkPayload(b *testing.B, pl Payload) {
	for _, row := range Rows() {
		b.Run(strings.ReplaceAll(row.Name, "/", "-"), func(b *testing.B) {
			c, stop, err := row.Peer.Start()
			if err != nil {
				b.Fatal(err)
			}
			defer stop()
			if err := Check(c, pl); err != nil {
				b.Fatal(err)
			}
			call, _ := pl.caller(c)
			for _, n := range benchCallers {
				b.Run(fmt.Sprintf("callers=%d", n), func(b *testing.B) { benchmarkCalls(b, call, pl, n) })
			}
		})
	}
}

func benchmarkCalls(b *testing.B, call func(context.Context) error, pl Payload, callers int) {
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(2 * pl.Size))
	if callers == 1 {
		for b.Loop() {
			if err := call(ctx); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((callers + procs - 1) / procs)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := call(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkFeatures measures the feature rows of cmd/bench, with the small
// payload, on one server: BenchmarkFeatures/oneway/callers=64. The clock
// stops once the server has run every call, so that a one-way call counts
// only once it has been served.
func BenchmarkFeatures(b *testing.B) {
	r, err := startFeatureRig()
	if err != nil {
		b.Fatal(err)
	}
	defer r.stop()
	p := Small.Bytes()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, row := range FeatureRows() {
		call := row.call(r)
		for _, n := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/callers=%d", row.Name, n), func(b *testing.B) {
				base := r.served.Load()
				var sent atomic.Int64
				b.ReportAllocs()
				cpu := processCPU()
				if n == 1 {
					done := make(chan error, 1)
					for range b.N {
						if err := call(ctx, p, done); err != nil {
							b.Fatal(err)
						}
					}
					sent.Add(int64(b.N))
				} else {
					procs := runtime.GOMAXPROCS(0)
					b.SetParallelism((n + procs - 1) / procs)
					b.RunParallel(func(pb *testing.PB) {
						done := make(chan error, 1)
						var calls int64
						for pb.Next() {
							if err := call(ctx, p, done); err != nil {
								b.Error(err)
								break
							}
							calls++
						}
						sent.Add(calls)
					})
				}
				for deadline := time.Now().Add(stuckAfter); r.served.Load()-base < sent.Load(); {
					if time.Now().After(deadline) {
						b.Fatalf("the server ran %d of %d calls", r.served.Load()-base, sent.Load())
					}
					time.Sleep(50 * time.Microsecond)
				}
				b.StopTimer()
				b.ReportMetric(float64(sent.Load())/b.Elapsed().Seconds(), "calls/s")
				b.ReportMetric(float64((processCPU()-cpu).Nanoseconds())/float64(sent.Load()), "cpu-ns/call")
			})
		}
	}
}
