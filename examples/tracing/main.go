// Command tracing traces calls across the wire with OpenTelemetry: the
// client's and the server's interceptors of package otelremoting start a
// span per call, the client span's context travels in the invocation
// context, and the server span becomes its child, in every invocation
// mode. The demo prints the trace as a tree, the call durations the meter
// received, the server span of one call as the OpenTelemetry stdout
// exporter prints it, and the admin endpoint's health answers before and
// after Shutdown.
//
// It runs a server and a client in one process over real loopback TCP,
// and needs nothing installed:
//
//	go run ./examples/tracing          # the scripted calls, then it shuts down
//	go run ./examples/tracing -serve   # then serves until SIGTERM or Ctrl-C
//
// Either way SIGTERM (or Ctrl-C) shuts the server down gracefully:
// readiness fails first, then calls in flight finish.
package main

//go:generate go tool stubgen -type Shop,Watcher

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/admin"
	"github.com/remoting-go/remoting/interceptor/otelremoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
)

// Shop is the remote interface.
type Shop interface {
	// Order places an order of n of sku and returns its receipt; n <= 0
	// is InvalidArgument.
	Order(ctx context.Context, sku string, n int) (string, error)
	// Restock adds n of sku to the stock; the demo calls it one-way.
	Restock(ctx context.Context, sku string, n int) error
	// Watch tells w when sku is in stock.
	Watch(ctx context.Context, sku string, w Watcher) error
}

// Watcher is a callback object the client exports.
type Watcher interface {
	// Notify tells the watcher of msg.
	Notify(ctx context.Context, msg string) error
}

// shop is the servant.
type shop struct{ restocked chan string }

func (s *shop) Order(_ context.Context, sku string, n int) (string, error) {
	if n <= 0 {
		return "", remoting.Errorf(remoting.CodeInvalidArgument, "order of %d %s", n, sku)
	}
	return fmt.Sprintf("receipt: %d x %s", n, sku), nil
}

func (s *shop) Restock(_ context.Context, sku string, n int) error {
	s.restocked <- fmt.Sprintf("%d x %s", n, sku)
	return nil
}

func (s *shop) Watch(ctx context.Context, sku string, w Watcher) error {
	return w.Notify(ctx, sku+" is in stock")
}

// watcher is the client's callback object.
type watcher struct{ got chan string }

func (w *watcher) Notify(_ context.Context, msg string) error {
	w.got <- msg
	return nil
}

func main() {
	serve := flag.Bool("serve", false, "keep serving after the scripted calls, until SIGTERM or Ctrl-C")
	flag.Parse()
	// SIGTERM is how an orchestrator asks a server to stop; it and Ctrl-C
	// end ctx, and run shuts down gracefully.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, *serve); err != nil {
		fmt.Fprintln(os.Stderr, "tracing:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, serve bool) error {
	// The OpenTelemetry SDK: spans to an in-memory recorder (printed
	// below, one of them through the stdout exporter), metrics to a
	// reader that is read on demand.
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "shop"))))
	defer tp.Shutdown(context.Background())
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	tel, err := otelremoting.New(otelremoting.Options{TracerProvider: tp, MeterProvider: mp})
	if err != nil {
		return err
	}

	// The server: the Server interceptor first in its chain, Telemetry as
	// an observer of lifecycle events.
	impl := &shop{restocked: make(chan string, 1)}
	srv := invoker.NewServer(invoker.Options{
		Interceptors: []remoting.Interceptor{tel.Server()},
		Observers:    []remoting.Observer{tel},
	})
	if _, err := srv.Register("shop", ShopInvoker(), lifecycle.Static(impl)); err != nil {
		return err
	}
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	adm, err := admin.Start(admin.Options{Server: srv})
	if err != nil {
		srv.Close()
		return err
	}
	defer adm.Close()

	// The client: the Client interceptor first in its chain.
	c, err := requestor.Dial(ctx, "tcp://"+lis.Addr().String(), requestor.Options{Interceptors: []remoting.Interceptor{tel.Client()}})
	if err != nil {
		srv.Close()
		return err
	}
	defer c.Close()

	// One trace: a root span of the application's, and under it the
	// lookup and a call in every mode.
	root, span := tp.Tracer("tracing-demo").Start(ctx, "checkout")
	p, err := LookupShop(root, c, "shop")
	if err != nil {
		srv.Close()
		return err
	}
	if err := calls(root, p, impl); err != nil {
		srv.Close()
		return err
	}
	span.End()
	// The server span of a one-way call ends after the client's: wait
	// for all six server spans (the lookup does not pass the server chain).
	waitFor(func() bool { return count(spans.Ended(), trace.SpanKindServer) == 6 })

	ended := spans.Ended()
	if err := check(ended, span.SpanContext()); err != nil {
		return err
	}
	fmt.Printf("trace %s (%d spans; the parent of each server span is the client span above it):\n", span.SpanContext().TraceID(), len(ended))
	printTree(ended)
	if err := printMetrics(ctx, reader); err != nil {
		return err
	}

	fmt.Println("health:", probe(adm.URL()+"/livez"), probe(adm.URL()+"/readyz"))
	if serve {
		fmt.Printf("serving on %s, admin on %s; SIGTERM or Ctrl-C shuts down\n", lis.Addr(), adm.URL())
		<-ctx.Done()
	}
	// Graceful shutdown: readiness fails at once, so that a load balancer
	// sends no new clients; then the calls in flight finish.
	adm.SetDraining(true)
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, invoker.ErrServerClosed) {
		return err
	}
	fmt.Println("after Shutdown:", probe(adm.URL()+"/livez"), probe(adm.URL()+"/readyz"))

	// One span as the OpenTelemetry stdout exporter prints it.
	exp, err := stdouttrace.New(stdouttrace.WithWriter(os.Stdout), stdouttrace.WithPrettyPrint(), stdouttrace.WithoutTimestamps())
	if err != nil {
		return err
	}
	for _, s := range ended {
		if s.SpanKind() == trace.SpanKindServer && strings.HasSuffix(s.Name(), "/Order") && attr(s, "remoting.mode") == "Sync" && attr(s, "rpc.response.status_code") == "OK" {
			fmt.Println("the server span of the first Order, as the stdout exporter prints it:")
			return exp.ExportSpans(context.Background(), []sdktrace.ReadOnlySpan{s})
		}
	}
	return errors.New("no server span of Order")
}

// calls makes one call in each invocation mode, a callback and a failing
// call, all with ctx, which carries the root span.
func calls(ctx context.Context, p *ShopProxy, impl *shop) error {
	receipt, err := p.Order(ctx, "tea", 2)
	if err != nil {
		return err
	}
	fmt.Println("sync:            ", receipt)
	if err := p.Oneway().Restock(ctx, "tea", 10); err != nil {
		return err
	}
	fmt.Println("one-way:         ", "restocked", <-impl.restocked)
	receipt, err = p.Async().Order(ctx, "cake", 1).Result(ctx)
	if err != nil {
		return err
	}
	fmt.Println("future:          ", receipt)
	done := make(chan string, 1)
	p.Callback().Order(ctx, "jam", 3, func(receipt string, err error) { done <- fmt.Sprint(receipt, err) })
	fmt.Println("result callback: ", strings.TrimSuffix(<-done, "<nil>"))
	w := &watcher{got: make(chan string, 1)}
	if err := p.Watch(ctx, "tea", w); err != nil {
		return err
	}
	fmt.Println("callback object: ", <-w.got)
	_, err = p.Order(ctx, "tea", 0)
	if remoting.CodeOf(err) != remoting.CodeInvalidArgument {
		return fmt.Errorf("Order of 0: want InvalidArgument, got %v", err)
	}
	fmt.Println("failed:          ", err)
	return nil
}

// check verifies the trace: every span is in root's trace, and every
// server span is the remote child of a client span of the same name.
func check(spans []sdktrace.ReadOnlySpan, root trace.SpanContext) error {
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byID[s.SpanContext().SpanID()] = s
	}
	for _, s := range spans {
		if s.SpanContext().TraceID() != root.TraceID() {
			return fmt.Errorf("span %s is in trace %s, not the root's", s.Name(), s.SpanContext().TraceID())
		}
		if s.SpanKind() != trace.SpanKindServer {
			continue
		}
		parent, ok := byID[s.Parent().SpanID()]
		if !ok || parent.SpanKind() != trace.SpanKindClient || parent.Name() != s.Name() || !s.Parent().IsRemote() {
			return fmt.Errorf("server span %s is not the remote child of its client span", s.Name())
		}
	}
	return nil
}

// printTree prints the spans as a tree, children in the order they began.
func printTree(spans []sdktrace.ReadOnlySpan) {
	children := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	ids := map[trace.SpanID]bool{}
	for _, s := range spans {
		ids[s.SpanContext().SpanID()] = true
	}
	var roots []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if ids[s.Parent().SpanID()] {
			children[s.Parent().SpanID()] = append(children[s.Parent().SpanID()], s)
		} else {
			roots = append(roots, s)
		}
	}
	var walk func(s sdktrace.ReadOnlySpan, depth int)
	walk = func(s sdktrace.ReadOnlySpan, depth int) {
		line := fmt.Sprintf("%s%s %s", strings.Repeat("  ", depth), s.SpanKind(), s.Name())
		if mode := attr(s, "remoting.mode"); mode != "" {
			line += fmt.Sprintf("  mode=%s status=%s", mode, attr(s, "rpc.response.status_code"))
		}
		if s.Status().Code.String() == "Error" {
			line += "  (span status Error)"
		}
		fmt.Println(line)
		kids := children[s.SpanContext().SpanID()]
		slices.SortFunc(kids, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 1)
	}
}

// printMetrics prints the number of calls each duration histogram holds,
// by method and status.
func printMetrics(ctx context.Context, reader *sdkmetric.ManualReader) error {
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		return err
	}
	var lines []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			h, ok := m.Data.(metricdata.Histogram[float64])
			if !ok || !strings.HasPrefix(m.Name, "rpc.") {
				continue
			}
			for _, dp := range h.DataPoints {
				method, _ := dp.Attributes.Value("rpc.method")
				status, _ := dp.Attributes.Value("rpc.response.status_code")
				short := method.AsString()[strings.LastIndexByte(method.AsString(), '.')+1:] // Shop/Order
				lines = append(lines, fmt.Sprintf("metric %s{rpc.method=...%s, rpc.response.status_code=%s} count=%d", m.Name, short, status.AsString(), dp.Count))
			}
		}
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	return nil
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

func count(spans []sdktrace.ReadOnlySpan, kind trace.SpanKind) int {
	n := 0
	for _, s := range spans {
		if s.SpanKind() == kind {
			n++
		}
	}
	return n
}

// waitFor polls cond for up to five seconds.
func waitFor(cond func() bool) {
	for deadline := time.Now().Add(5 * time.Second); !cond() && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
}

// probe returns "GET <path>: <code> <body>" for a health endpoint.
func probe(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return fmt.Sprintf("%s %d %s", url[strings.LastIndexByte(url, '/'):], resp.StatusCode, strings.Join(strings.Fields(string(body)), ""))
}
