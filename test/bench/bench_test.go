package bench

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
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

func benchmarkPayload(b *testing.B, pl Payload) {
	p := pl.Bytes()
	for _, row := range Rows() {
		b.Run(strings.ReplaceAll(row.Name, "/", "-"), func(b *testing.B) {
			c, stop, err := row.Peer.Start()
			if err != nil {
				b.Fatal(err)
			}
			defer stop()
			if err := Check(c, p); err != nil {
				b.Fatal(err)
			}
			for _, n := range benchCallers {
				b.Run(fmt.Sprintf("callers=%d", n), func(b *testing.B) { benchmarkCalls(b, c, p, n) })
			}
		})
	}
}

func benchmarkCalls(b *testing.B, c Client, p []byte, callers int) {
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(2 * len(p)))
	if callers == 1 {
		for b.Loop() {
			if _, err := c.Call(ctx, p); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((callers + procs - 1) / procs)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Call(ctx, p); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
