package interceptor_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/interceptor"
)

// BenchmarkChainOnly measures the chains alone, without the network: the
// cost each adds to a call, over a final handler that does nothing.
//
//	go test -run '^$' -bench ChainOnly ./interceptor
func BenchmarkChainOnly(b *testing.B) {
	quiet := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	loud := slog.New(slog.NewJSONHandler(io.Discard, nil))
	m := interceptor.NewMetrics(interceptor.MetricsOptions{})
	pass := func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		return next(ctx, inv)
	}
	final := func(context.Context, *remoting.Invocation) error { return nil }
	for _, row := range []struct {
		name  string
		chain []remoting.Interceptor
	}{
		{"none", nil},
		{"empty", []remoting.Interceptor{pass}},
		{"metrics", []remoting.Interceptor{m.Client()}},
		{"logging-off+metrics", []remoting.Interceptor{interceptor.Logging(quiet, interceptor.LoggingOptions{}), m.Client()}},
		{"logging+metrics", []remoting.Interceptor{interceptor.Logging(loud, interceptor.LoggingOptions{}), m.Client()}},
	} {
		b.Run(row.name, func(b *testing.B) {
			chain := remoting.Chain(row.chain...)
			inv := &remoting.Invocation{Method: "Probe.Echo", Target: remoting.Ref{Interface: "svc.Probe"}}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if chain == nil {
					final(ctx, inv)
				} else {
					chain(ctx, inv, final)
				}
			}
		})
	}
}
