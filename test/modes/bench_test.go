package modes_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/test/modes/svc"
)

// benchMode makes one call of Worker.Echo in one invocation mode and, for
// the modes that wait, waits for its outcome. done is the caller's own
// channel for the Result Callback.
type benchMode struct {
	name string
	call func(ctx context.Context, p *svc.WorkerProxy, n int, done chan error) error
}

var benchModes = []benchMode{
	{"Sync", func(ctx context.Context, p *svc.WorkerProxy, n int, _ chan error) error {
		_, err := p.Echo(ctx, n)
		return err
	}},
	{"Oneway", func(ctx context.Context, p *svc.WorkerProxy, n int, _ chan error) error {
		return p.Oneway().Echo(ctx, n)
	}},
	{"SyncWithServer", func(ctx context.Context, p *svc.WorkerProxy, n int, _ chan error) error {
		return p.SyncWithServer().Echo(ctx, n)
	}},
	{"Async", func(ctx context.Context, p *svc.WorkerProxy, n int, _ chan error) error {
		_, err := p.Async().Echo(ctx, n).Result(ctx)
		return err
	}},
	{"Callback", func(ctx context.Context, p *svc.WorkerProxy, n int, done chan error) error {
		p.Callback().Echo(ctx, n, func(_ int, err error) { done <- err })
		return <-done
	}},
}

// BenchmarkModes measures calls per second of each invocation mode with 1
// and 64 callers sharing one connection. A caller makes its next call when
// the mode lets it go on: at once for Oneway, on the ack for
// SyncWithServer, on the outcome for the others. The time includes waiting
// until the server has run every call, so a one-way call counts only once
// it has been served.
//
//	go test -run X -bench Modes -benchtime 20000x ./test/modes
func BenchmarkModes(b *testing.B) {
	for _, callers := range []int{1, 64} {
		for _, m := range benchModes {
			b.Run(fmt.Sprintf("%s/callers=%d", m.name, callers), func(b *testing.B) {
				benchmarkMode(b, m, callers)
			})
		}
	}
}

func benchmarkMode(b *testing.B, m benchMode, callers int) {
	s := startServer(b, invoker.Options{})
	p := lookupWorker(b, s.dial(b))
	ctx := ctxT(b)
	// Warm the connection and the server's workers.
	for i := range 100 {
		if _, err := p.Echo(ctx, i); err != nil {
			b.Fatalf("Echo: %v", err)
		}
	}
	base := s.work.echoes.Load()
	var sent atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	if callers == 1 {
		done := make(chan error, 1)
		for i := 0; i < b.N; i++ {
			if err := m.call(ctx, p, i, done); err != nil {
				b.Fatalf("%s Echo: %v", m.name, err)
			}
		}
		sent.Add(int64(b.N))
	} else {
		b.SetParallelism((callers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		b.RunParallel(func(pb *testing.PB) {
			done := make(chan error, 1)
			var n int64
			for pb.Next() {
				if err := m.call(ctx, p, int(n), done); err != nil {
					b.Errorf("%s Echo: %v", m.name, err)
					return
				}
				n++
			}
			sent.Add(n)
		})
	}
	// Every call has run on the server before the clock stops.
	for deadline := time.Now().Add(10 * time.Second); s.work.echoes.Load()-base < sent.Load(); {
		if time.Now().After(deadline) {
			b.Fatalf("%s: the server ran %d of %d calls", m.name, s.work.echoes.Load()-base, sent.Load())
		}
		runtime.Gosched()
	}
	b.StopTimer()
	b.ReportMetric(float64(sent.Load())/b.Elapsed().Seconds(), "calls/s")
}
