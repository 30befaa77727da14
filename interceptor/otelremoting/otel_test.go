package otelremoting_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/interceptor/otelremoting"
	"github.com/remoting-go/remoting/interceptor/otelremoting/internal/shop"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is a traced server and client over loopback TCP, with in-memory
// exporters for spans and metrics.
type env struct {
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	tracer trace.Tracer
	impl   *shop.Impl
	client *requestor.Client
	shop   *shop.ShopProxy
}

func setup(t *testing.T, impl *shop.Impl) *env {
	t.Helper()
	e := &env{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader(), impl: impl}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(e.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(e.reader))
	t.Cleanup(func() {
		assert.NoError(t, tp.Shutdown(context.Background()))
		assert.NoError(t, mp.Shutdown(context.Background()))
	})
	e.tracer = tp.Tracer("test")
	tel, err := otelremoting.New(otelremoting.Options{TracerProvider: tp, MeterProvider: mp})
	require.NoError(t, err, "New")

	srv := invoker.NewServer(invoker.Options{
		Interceptors:         []remoting.Interceptor{tel.Server()},
		CallbackInterceptors: []remoting.Interceptor{tel.Client()},
		Observers:            []remoting.Observer{tel},
	})
	_, err = srv.Register("shop", shop.ShopInvoker(), lifecycle.Static(impl))
	require.NoError(t, err, "Register")
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	require.NoError(t, err, "Listen")
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Close()
		<-served
	})

	ctx := ctxT(t)
	e.client, err = requestor.Dial(ctx, "tcp://"+lis.Addr().String(), requestor.Options{
		Interceptors:         []remoting.Interceptor{tel.Client()},
		CallbackInterceptors: []remoting.Interceptor{tel.Server()},
	})
	require.NoError(t, err, "Dial")
	t.Cleanup(func() { e.client.Close() })
	e.shop, err = shop.LookupShop(ctx, e.client, "shop")
	require.NoError(t, err, "LookupShop")
	return e
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// orderMethod is the rpc.method of Shop.Order.
const orderMethod = shop.ShopInterface + "/Order"

// ended returns the ended spans named name, of kind.
func (e *env) ended(name string, kind trace.SpanKind) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range e.spans.Ended() {
		if s.Name() == name && s.SpanKind() == kind {
			out = append(out, s)
		}
	}
	return out
}

// one waits until exactly one span named name of kind has ended, and
// returns it.
func (e *env) one(t *testing.T, name string, kind trace.SpanKind) sdktrace.ReadOnlySpan {
	t.Helper()
	require.Eventually(t, func() bool { return len(e.ended(name, kind)) >= 1 }, 5*time.Second, time.Millisecond, "%s span of %s ends", kind, name)
	got := e.ended(name, kind)
	require.Len(t, got, 1, "%s spans of %s", kind, name)
	return got[0]
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// assertChild checks that child is a child of parent in the same trace.
func assertChild(t *testing.T, parent, child sdktrace.ReadOnlySpan, what string) {
	t.Helper()
	assert.Equal(t, parent.SpanContext().TraceID(), child.SpanContext().TraceID(), "%s: one trace", what)
	assert.Equal(t, parent.SpanContext().SpanID(), child.Parent().SpanID(), "%s: parent", what)
	assert.True(t, child.Parent().IsRemote() == (parent.SpanKind() == trace.SpanKindClient), "%s: the parent is remote across the wire only", what)
}

// TestModes makes one call in each invocation mode under a root span and
// checks root span -> client span -> server span, with the attributes of
// the semantic conventions.
func TestModes(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode remoting.Mode
		call func(ctx context.Context, p *shop.ShopProxy) error
	}{
		{"sync", remoting.ModeSync, func(ctx context.Context, p *shop.ShopProxy) error {
			_, err := p.Order(ctx, "tea", 1)
			return err
		}},
		{"oneway", remoting.ModeOneway, func(ctx context.Context, p *shop.ShopProxy) error {
			return p.Oneway().Order(ctx, "tea", 1)
		}},
		{"sync with server", remoting.ModeSyncWithServer, func(ctx context.Context, p *shop.ShopProxy) error {
			return p.SyncWithServer().Order(ctx, "tea", 1)
		}},
		{"future", remoting.ModeAsync, func(ctx context.Context, p *shop.ShopProxy) error {
			_, err := p.Async().Order(ctx, "tea", 1).Result(ctx)
			return err
		}},
		{"callback", remoting.ModeAsync, func(ctx context.Context, p *shop.ShopProxy) error {
			done := make(chan error, 1)
			p.Callback().Order(ctx, "tea", 1, func(_ string, err error) { done <- err })
			return <-done
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, &shop.Impl{})
			ctx, root := e.tracer.Start(ctxT(t), "root")
			require.NoError(t, tc.call(ctx, e.shop), "Order")
			root.End()

			client := e.one(t, orderMethod, trace.SpanKindClient)
			server := e.one(t, orderMethod, trace.SpanKindServer)
			assert.Equal(t, root.SpanContext().TraceID(), client.SpanContext().TraceID(), "client span in the caller's trace")
			assert.Equal(t, root.SpanContext().SpanID(), client.Parent().SpanID(), "client span's parent")
			assertChild(t, client, server, "server span")

			for _, s := range []sdktrace.ReadOnlySpan{client, server} {
				a := attrs(s)
				assert.Equal(t, "remoting", a["rpc.system.name"].AsString(), "%s rpc.system.name", s.SpanKind())
				assert.Equal(t, orderMethod, a["rpc.method"].AsString(), "%s rpc.method", s.SpanKind())
				mode := tc.mode
				if mode == remoting.ModeAsync && s.SpanKind() == trace.SpanKindServer {
					mode = remoting.ModeSync // the callee does not know the caller waits elsewhere
				}
				assert.Equal(t, mode.String(), a["remoting.mode"].AsString(), "%s remoting.mode", s.SpanKind())
				assert.Equal(t, remoting.NameID("shop").String(), a["remoting.object.id"].AsString(), "%s remoting.object.id", s.SpanKind())
				assert.Equal(t, codes.Unset, s.Status().Code, "%s status", s.SpanKind())
				assert.NotContains(t, a, attribute.Key("error.type"), "%s error.type", s.SpanKind())
			}
			assert.Equal(t, "OK", attrs(client)["rpc.response.status_code"].AsString(), "client rpc.response.status_code")
			assert.Equal(t, "OK", attrs(server)["rpc.response.status_code"].AsString(), "server rpc.response.status_code")
			assert.Equal(t, "127.0.0.1", attrs(client)["server.address"].AsString(), "client server.address")
			assert.Positive(t, attrs(client)["server.port"].AsInt64(), "client server.port")
			if tc.mode == remoting.ModeSync || tc.mode == remoting.ModeAsync {
				assert.False(t, client.EndTime().Before(server.EndTime()), "a call with a reply ends its client span after the server span")
			}
		})
	}
}

// TestAsyncSpanEndsWithOutcome holds the method and checks that a
// future's span is still open after Invoke returned, and ends once the
// result arrives.
func TestAsyncSpanEndsWithOutcome(t *testing.T) {
	e := setup(t, &shop.Impl{Ordered: make(chan context.Context)})
	ctx := ctxT(t)
	f := e.shop.Async().Order(ctx, "tea", 1)
	methodCtx := <-e.impl.Ordered // the method runs, and waits until this receive
	assert.Empty(t, e.ended(orderMethod, trace.SpanKindClient), "the future's span is open while the call runs")
	assert.True(t, trace.SpanFromContext(methodCtx).SpanContext().IsValid(), "the method's ctx carries the server span")
	got, err := f.Result(ctx)
	require.NoError(t, err, "Result")
	assert.Equal(t, "tea ordered", got)
	client := e.one(t, orderMethod, trace.SpanKindClient)
	server := e.one(t, orderMethod, trace.SpanKindServer)
	assertChild(t, client, server, "server span")
	assert.Equal(t, server.SpanContext(), trace.SpanFromContext(methodCtx).SpanContext(), "the method's span is the server span")
}

// TestErrorStatus checks the status code attributes and span status of a
// refused call and of a method that failed.
func TestErrorStatus(t *testing.T) {
	for _, tc := range []struct {
		name         string
		sku          string
		n            int
		code         string
		serverStatus codes.Code
	}{
		{"refused by the method", "tea", 0, "InvalidArgument", codes.Unset},
		{"failed in the method", "broken", 1, "Application", codes.Error},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t, &shop.Impl{})
			_, err := e.shop.Order(ctxT(t), tc.sku, tc.n)
			require.Error(t, err, "Order(%q, %d)", tc.sku, tc.n)
			client := e.one(t, orderMethod, trace.SpanKindClient)
			server := e.one(t, orderMethod, trace.SpanKindServer)
			assertChild(t, client, server, "server span")
			for _, s := range []sdktrace.ReadOnlySpan{client, server} {
				a := attrs(s)
				assert.Equal(t, tc.code, a["rpc.response.status_code"].AsString(), "%s rpc.response.status_code", s.SpanKind())
				assert.Equal(t, tc.code, a["error.type"].AsString(), "%s error.type", s.SpanKind())
			}
			assert.Equal(t, codes.Error, client.Status().Code, "client status: every failure")
			assert.Equal(t, err.Error(), client.Status().Description, "client status description")
			assert.Equal(t, tc.serverStatus, server.Status().Code, "server status: the server's own faults only")
		})
	}
}

// watcher is a callback object the client exports.
type watcher struct{ got chan context.Context }

func (w *watcher) Notify(ctx context.Context, msg string) error {
	w.got <- ctx
	return nil
}

// TestCallback passes a callback object, which the server method calls
// with its ctx: with the tracing halves on the callback chains of both
// ends (invoker.Options.CallbackInterceptors with the client half,
// requestor.Options.CallbackInterceptors with the server half), the
// callback is a client span on the server, child of the server span of
// the call that made it, and a server span on the client, child of that:
// one trace across both directions of the connection.
func TestCallback(t *testing.T) {
	e := setup(t, &shop.Impl{})
	w := &watcher{got: make(chan context.Context, 1)}
	ctx, root := e.tracer.Start(ctxT(t), "root")
	require.NoError(t, e.shop.Watch(ctx, "tea", w), "Watch")
	root.End()
	cbCtx := <-w.got
	assert.True(t, trace.SpanContextFromContext(cbCtx).IsValid(), "the callback's ctx carries its server span")

	watch := shop.ShopInterface + "/Watch"
	client := e.one(t, watch, trace.SpanKindClient)
	server := e.one(t, watch, trace.SpanKindServer)
	assertChild(t, client, server, "server span of Watch")
	notify := shop.WatcherInterface + "/Notify"
	cbClient := e.one(t, notify, trace.SpanKindClient)
	cbServer := e.one(t, notify, trace.SpanKindServer)
	assertChild(t, server, cbClient, "the callback's client span, on the server")
	assertChild(t, cbClient, cbServer, "the callback's server span, on the client")
	assert.Equal(t, root.SpanContext().TraceID(), cbServer.SpanContext().TraceID(), "one trace")
}

// TestMetaNotShared checks that the client interceptor copies a Meta it
// was given rather than writing into it.
func TestMetaNotShared(t *testing.T) {
	tel, err := otelremoting.New(otelremoting.Options{TracerProvider: sdktrace.NewTracerProvider()})
	require.NoError(t, err)
	shared := remoting.Metadata{"tenant": "acme"}
	var sent remoting.Metadata
	inv := &remoting.Invocation{Method: "Shop.Order", Meta: shared}
	require.NoError(t, tel.Client()(context.Background(), inv, func(_ context.Context, inv *remoting.Invocation) error {
		sent = inv.Meta
		return nil
	}))
	assert.Equal(t, remoting.Metadata{"tenant": "acme"}, shared, "the caller's map")
	assert.Equal(t, "acme", sent["tenant"], "sent Meta keeps the caller's keys")
	assert.Regexp(t, `^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`, sent["traceparent"], "sent Meta carries the W3C traceparent")
}

// TestMetrics checks the call durations and the lifecycle events that
// the meter receives.
func TestMetrics(t *testing.T) {
	e := setup(t, &shop.Impl{})
	ctx := ctxT(t)
	for range 3 {
		_, err := e.shop.Order(ctx, "tea", 1)
		require.NoError(t, err)
	}
	_, err := e.shop.Order(ctx, "tea", 0)
	require.Error(t, err)
	// The server records its duration after the reply is sent.
	require.Eventually(t, func() bool { return len(e.ended(orderMethod, trace.SpanKindServer)) == 4 }, 5*time.Second, time.Millisecond)

	var rm metricdata.ResourceMetrics
	require.NoError(t, e.reader.Collect(ctx, &rm), "Collect")
	byName := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		assert.Equal(t, otelremoting.ScopeName, sm.Scope.Name, "scope")
		for _, m := range sm.Metrics {
			byName[m.Name] = m
		}
	}
	for _, name := range []string{"rpc.client.call.duration", "rpc.server.call.duration"} {
		m, ok := byName[name]
		require.True(t, ok, "metric %s", name)
		assert.Equal(t, "s", m.Unit, "%s unit", name)
		h, ok := m.Data.(metricdata.Histogram[float64])
		require.True(t, ok, "%s is a histogram: %T", name, m.Data)
		counts := map[string]uint64{}
		for _, dp := range h.DataPoints {
			method, _ := dp.Attributes.Value("rpc.method")
			if method.AsString() != orderMethod {
				continue
			}
			system, _ := dp.Attributes.Value("rpc.system.name")
			assert.Equal(t, "remoting", system.AsString(), "%s rpc.system.name", name)
			status, _ := dp.Attributes.Value("rpc.response.status_code")
			counts[status.AsString()] += dp.Count
			if status.AsString() != "OK" {
				et, _ := dp.Attributes.Value("error.type")
				assert.Equal(t, status.AsString(), et.AsString(), "%s error.type", name)
			}
		}
		assert.Equal(t, map[string]uint64{"OK": 3, "InvalidArgument": 1}, counts, "%s counts of Shop.Order by status", name)
	}

	m, ok := byName["remoting.lifecycle.events"]
	require.True(t, ok, "metric remoting.lifecycle.events")
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "remoting.lifecycle.events is a sum: %T", m.Data)
	assert.True(t, sum.IsMonotonic, "a counter")
	var activated int64
	for _, dp := range sum.DataPoints {
		iface, _ := dp.Attributes.Value("remoting.interface")
		kind, _ := dp.Attributes.Value("remoting.event.kind")
		if iface.AsString() == shop.ShopInterface && kind.AsString() == "Activated" {
			activated += dp.Value
		}
	}
	assert.Equal(t, int64(1), activated, "the static instance was activated once")
}

// TestObservePoolWait checks that pool events record their wait.
func TestObservePoolWait(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	tel, err := otelremoting.New(otelremoting.Options{MeterProvider: mp})
	require.NoError(t, err)
	tel.Observe(remoting.Event{Kind: remoting.EventPoolBorrow, Interface: "svc.Worker", Wait: 2 * time.Millisecond})
	tel.Observe(remoting.Event{Kind: remoting.EventPoolExhausted, Interface: "svc.Worker", Wait: time.Second})
	tel.Observe(remoting.Event{Kind: remoting.EventActivated, Interface: "svc.Worker", Err: remoting.Errorf(remoting.CodeInternal, "no")})

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	var waits, failed int
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				if m.Name == "remoting.pool.wait.duration" {
					for _, dp := range d.DataPoints {
						waits += int(dp.Count)
					}
				}
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					if et, ok := dp.Attributes.Value("error.type"); ok {
						assert.Equal(t, "Internal", et.AsString(), "error.type of a failed activation")
						failed += int(dp.Value)
					}
				}
			}
		}
	}
	assert.Equal(t, 2, waits, "pool waits recorded")
	assert.Equal(t, 1, failed, "failed attempts counted with error.type")
}
