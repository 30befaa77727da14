package otelremoting

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/rpcconv"
	"go.opentelemetry.io/otel/trace"

	"github.com/remoting-go/remoting"
)

// ScopeName is the instrumentation scope of the tracer and the meter.
const ScopeName = "github.com/remoting-go/remoting/interceptor/otelremoting"

// SystemName is the value of the rpc.system.name attribute.
const SystemName = "remoting"

// The attribute keys of this package's own, beside the semantic
// conventions' keys.
const (
	ModeKey      = attribute.Key("remoting.mode")       // the invocation mode: "Sync", "Oneway", ...
	ObjectIDKey  = attribute.Key("remoting.object.id")  // the Object ID called (spans only)
	InterfaceKey = attribute.Key("remoting.interface")  // the fully qualified remote interface
	EventKindKey = attribute.Key("remoting.event.kind") // the lifecycle event's kind: "Activated", ...
)

// The instruments of this package's own, beside the semantic conventions'
// call durations.
const (
	eventsName   = "remoting.lifecycle.events"   // counter of lifecycle events
	poolWaitName = "remoting.pool.wait.duration" // histogram of waits for a pooled instance
)

// Options configure [New]. The zero value uses the global providers of
// package otel and the W3C trace context.
type Options struct {
	// TracerProvider makes the spans. Default otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// MeterProvider makes the instruments. Default
	// otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// Propagator writes the span context into Invocation.Meta on the
	// client and reads it on the server. Default propagation.TraceContext
	// (the W3C traceparent and tracestate keys); pass
	// otel.GetTextMapPropagator() to use the global one.
	Propagator propagation.TextMapPropagator
}

// Telemetry makes the interceptors that trace and measure calls, and
// counts lifecycle events as a [remoting.Observer]. It is safe for
// concurrent use.
type Telemetry struct {
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
	client   rpcconv.ClientCallDuration
	server   rpcconv.ServerCallDuration
	events   metric.Int64Counter
	poolWait metric.Float64Histogram
}

var _ remoting.Observer = (*Telemetry)(nil)

// New returns a Telemetry that makes its spans and instruments with the
// providers of opts. It fails if the meter refuses an instrument.
func New(opts Options) (*Telemetry, error) {
	if opts.TracerProvider == nil {
		opts.TracerProvider = otel.GetTracerProvider()
	}
	if opts.MeterProvider == nil {
		opts.MeterProvider = otel.GetMeterProvider()
	}
	if opts.Propagator == nil {
		opts.Propagator = propagation.TraceContext{}
	}
	meter := opts.MeterProvider.Meter(ScopeName)
	t := &Telemetry{
		tracer: opts.TracerProvider.Tracer(ScopeName),
		prop:   opts.Propagator,
	}
	var err error
	if t.client, err = rpcconv.NewClientCallDuration(meter); err != nil {
		return nil, fmt.Errorf("otelremoting: %w", err)
	}
	if t.server, err = rpcconv.NewServerCallDuration(meter); err != nil {
		return nil, fmt.Errorf("otelremoting: %w", err)
	}
	if t.events, err = meter.Int64Counter(eventsName, metric.WithUnit("{event}"),
		metric.WithDescription("Lifecycle events of registered objects: activation, passivation, lease renewal and expiry, pool borrow, return and exhaustion.")); err != nil {
		return nil, fmt.Errorf("otelremoting: %w", err)
	}
	if t.poolWait, err = meter.Float64Histogram(poolWaitName, metric.WithUnit("s"),
		metric.WithDescription("Time a call waited for an instance of a pooled object."),
		metric.WithExplicitBucketBoundaries(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)); err != nil {
		return nil, fmt.Errorf("otelremoting: %w", err)
	}
	return t, nil
}

// Client returns the interceptor for a client chain
// (requestor.Options.Interceptors). It starts a span of kind Client as a
// child of the span in ctx, writes the span's context into inv.Meta (a
// copy: a map the caller shares is not changed) and records
// rpc.client.call.duration when the call ends as its mode says (see the
// package documentation). Put it first in the chain, so that its span
// covers every other interceptor and all retries.
func (t *Telemetry) Client() remoting.Interceptor {
	return func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		start := time.Now()
		method := rpcMethod(inv)
		attrs := []attribute.KeyValue{semconv.RPCMethod(method)}
		attrs = appendServer(attrs, inv.Target.Endpoint)
		ctx, span := t.tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(start),
			trace.WithAttributes(append(attrs, semconv.RPCSystemNameKey.String(SystemName),
				ModeKey.String(inv.Mode.String()), ObjectIDKey.String(inv.Target.ID.String()))...))
		md := make(remoting.Metadata, len(inv.Meta)+2)
		maps.Copy(md, inv.Meta)
		t.prop.Inject(ctx, propagation.MapCarrier(md))
		inv.Meta = md

		end := func(err error) {
			out := outcome(remoting.CodeOf(err))
			span.SetAttributes(out...)
			if err != nil {
				span.SetStatus(codes.Error, err.Error())
			}
			span.End()
			t.client.Record(context.WithoutCancel(ctx), time.Since(start).Seconds(), SystemName, append(attrs, out...)...)
		}
		if inv.Mode != remoting.ModeAsync || inv.Done == nil {
			err := next(ctx, inv)
			end(err)
			return err
		}
		// An async call ends when Done runs, or when next fails without
		// running it: whichever comes first ends the span.
		var ended atomic.Bool
		userDone := inv.Done
		inv.Done = func(err error) {
			if ended.CompareAndSwap(false, true) {
				end(err)
			}
			userDone(err)
		}
		err := next(ctx, inv)
		if err != nil && ended.CompareAndSwap(false, true) {
			end(err)
		}
		return err
	}
}

// Server returns the interceptor for a server chain
// (invoker.Options.Interceptors). It reads the caller's span context from
// inv.Meta, starts a span of kind Server as its child, hands the rest of
// the chain and the method a ctx that carries the span, and records
// rpc.server.call.duration when the method returns. Put it first in the
// chain, so that calls later interceptors refuse are traced too.
func (t *Telemetry) Server() remoting.Interceptor {
	return func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		start := time.Now()
		method := rpcMethod(inv)
		attrs := []attribute.KeyValue{semconv.RPCMethod(method)}
		ctx = t.prop.Extract(ctx, propagation.MapCarrier(inv.Meta))
		ctx, span := t.tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(start),
			trace.WithAttributes(semconv.RPCSystemNameKey.String(SystemName), semconv.RPCMethod(method),
				ModeKey.String(inv.Mode.String()), ObjectIDKey.String(inv.Target.ID.String())))
		err := next(ctx, inv)
		out := outcome(sentCode(err))
		span.SetAttributes(out...)
		if err != nil && serverFault(sentCode(err)) {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
		t.server.Record(context.WithoutCancel(ctx), time.Since(start).Seconds(), SystemName, append(attrs, out...)...)
		return err
	}
}

// Observe counts a lifecycle event in remoting.lifecycle.events and, for
// EventPoolBorrow and EventPoolExhausted, records its wait in
// remoting.pool.wait.duration; it makes Telemetry a [remoting.Observer]
// (invoker.Options.Observers).
func (t *Telemetry) Observe(e remoting.Event) {
	ctx := context.Background()
	iface, kind := InterfaceKey.String(e.Interface), EventKindKey.String(e.Kind.String())
	if e.Err != nil {
		t.events.Add(ctx, 1, metric.WithAttributes(iface, kind, semconv.ErrorTypeKey.String(remoting.CodeOf(e.Err).String())))
	} else {
		t.events.Add(ctx, 1, metric.WithAttributes(iface, kind))
	}
	if e.Kind == remoting.EventPoolBorrow || e.Kind == remoting.EventPoolExhausted {
		t.poolWait.Record(ctx, e.Wait.Seconds(), metric.WithAttributes(iface, kind))
	}
}

// rpcMethod is the rpc.method of inv: its fully qualified interface and
// the method, "example.com/shop.Cart/Add", or the wire name ("Cart.Add")
// if the target names no interface.
func rpcMethod(inv *remoting.Invocation) string {
	iface := inv.Target.Interface
	if iface == "" {
		return inv.Method
	}
	name := inv.Method
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	return iface + "/" + name
}

// appendServer adds server.address and server.port of an endpoint such as
// "tcp://127.0.0.1:4000", as far as it has them.
func appendServer(attrs []attribute.KeyValue, endpoint string) []attribute.KeyValue {
	_, addr, ok := strings.Cut(endpoint, "://")
	if !ok || addr == "" {
		return attrs
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return append(attrs, semconv.ServerAddress(addr)) // a unix socket's path
	}
	attrs = append(attrs, semconv.ServerAddress(host))
	if p, err := strconv.Atoi(port); err == nil {
		attrs = append(attrs, semconv.ServerPort(p))
	}
	return attrs
}

// outcome returns the attributes of a call's outcome: the status code
// and, for a failure, error.type.
func outcome(code remoting.Code) []attribute.KeyValue {
	name := code.String()
	if code == remoting.CodeOK {
		return []attribute.KeyValue{semconv.RPCResponseStatusCode(name)}
	}
	return []attribute.KeyValue{semconv.RPCResponseStatusCode(name), semconv.ErrorTypeKey.String(name)}
}

// sentCode is the code the server sends the caller for err, so that both
// spans of a call show the same code: a *remoting.Error keeps its code,
// the context's errors are Canceled and DeadlineExceeded, and any other
// error is the method's own, Application.
func sentCode(err error) remoting.Code {
	var re *remoting.Error
	switch {
	case err == nil:
		return remoting.CodeOK
	case errors.As(err, &re):
		return re.Code
	case errors.Is(err, context.Canceled):
		return remoting.CodeCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return remoting.CodeDeadlineExceeded
	}
	return remoting.CodeApplication
}

// serverFault reports whether a call that failed with code failed through
// the server's fault, which makes the server span's status Error.
func serverFault(code remoting.Code) bool {
	switch code {
	case remoting.CodeApplication, remoting.CodeUnknown, remoting.CodeDeadlineExceeded,
		remoting.CodeUnimplemented, remoting.CodeInternal, remoting.CodeUnavailable:
		return true
	}
	return false
}
