package adapt_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/interceptor"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/adapt/svc"
)

func pass(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
	return next(ctx, inv)
}

// BenchmarkChains measures a sync call over loopback with the interceptor
// chains on both sides of each row, and reports each row's time per call
// as a ratio of the first row's (x_none):
//
//	go test -run '^$' -bench Chains -benchtime 2s ./test/adapt
func BenchmarkChains(b *testing.B) {
	quiet := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	loud := slog.New(slog.NewJSONHandler(io.Discard, nil))
	m := interceptor.NewMetrics(interceptor.MetricsOptions{})
	rows := []struct {
		name           string
		client, server []remoting.Interceptor
	}{
		{"none", nil, nil},
		{"empty", []remoting.Interceptor{pass}, []remoting.Interceptor{pass}},
		{"metrics", []remoting.Interceptor{m.Client()}, []remoting.Interceptor{m.Server()}},
		{"logging-off+metrics",
			[]remoting.Interceptor{interceptor.Logging(quiet, interceptor.LoggingOptions{Side: interceptor.Client}), m.Client()},
			[]remoting.Interceptor{interceptor.Logging(quiet, interceptor.LoggingOptions{Side: interceptor.Server}), m.Server()}},
		{"logging+metrics",
			[]remoting.Interceptor{interceptor.Logging(loud, interceptor.LoggingOptions{Side: interceptor.Client}), m.Client()},
			[]remoting.Interceptor{interceptor.Logging(loud, interceptor.LoggingOptions{Side: interceptor.Server}), m.Server()}},
	}
	srv := startServer(b, invoker.Options{})
	srv.register(b, "probe", svc.ProbeInvoker(), lifecycle.Static(&svc.ProbeImpl{}))
	c := dial(b, srv.endpoint, requestor.Options{})
	p := probe(b, c, "probe")
	ctx := context.Background()
	var base time.Duration
	for _, row := range rows {
		b.Run(row.name, func(b *testing.B) {
			c.SetInterceptors(row.client...)
			srv.SetInterceptors(row.server...)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Echo(ctx, 1); err != nil {
					require.NoError(b, err)
				}
			}
			perCall := b.Elapsed() / time.Duration(b.N)
			if row.name == "none" {
				base = perCall
			}
			if base > 0 {
				b.ReportMetric(float64(perCall)/float64(base), "x_none")
			}
		})
	}
}
