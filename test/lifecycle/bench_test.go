package lifecycle_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/test/lifecycle/svc"
)

// BenchmarkSync measures a sync call of a method that does nothing, over
// loopback TCP, for the same object under each strategy, with one caller
// and with 64 callers at once on one connection. The constructors are
// trivial (one small allocation), so the differences are what each
// strategy adds to a call; compare each row with static:
//
//	go test -run X -bench . ./test/lifecycle
func BenchmarkSync(b *testing.B) {
	srv := startServer(b, invoker.Options{})
	strategies := []struct {
		name     string
		strategy lifecycle.Strategy
	}{
		{"static", lifecycle.Static(&svc.Bare{})},
		{"lazy", lifecycle.Lazy(svc.NewBare)},
		{"perrequest", lifecycle.PerRequest(svc.NewBare)},
		// Max covers every caller: this measures the pool's cost, not
		// waiting for an instance.
		{"pooled", lifecycle.Pooled(svc.NewBare, lifecycle.PoolOptions{Max: 64})},
	}
	c := srv.dial(b)
	proxies := make([]*svc.ProbeProxy, len(strategies))
	for i, s := range strategies {
		proxies[i] = probe(c, srv.register(b, s.name, s.strategy))
	}
	ctx := ctxT(b)
	for _, callers := range []int{1, 64} {
		for i, s := range strategies {
			p := proxies[i]
			b.Run(fmt.Sprintf("callers=%d/%s", callers, s.name), func(b *testing.B) {
				if callers == 1 {
					for b.Loop() {
						if _, err := p.Echo(ctx, 1); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				procs := runtime.GOMAXPROCS(0)
				b.SetParallelism((callers + procs - 1) / procs)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := p.Echo(ctx, 1); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
