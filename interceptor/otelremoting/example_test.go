package otelremoting_test

import (
	"context"
	"fmt"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/interceptor/otelremoting"
	"github.com/remoting-go/remoting/interceptor/otelremoting/internal/shop"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
)

// The Client interceptor on the client's chain and the Server interceptor
// on the server's make one trace of a call: the server span is the child
// of the client span, across the wire.
func ExampleNew() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tp.Shutdown(context.Background())
	tel, err := otelremoting.New(otelremoting.Options{TracerProvider: tp})
	if err != nil {
		fmt.Println(err)
		return
	}

	srv := invoker.NewServer(invoker.Options{Interceptors: []remoting.Interceptor{tel.Server()}, Observers: []remoting.Observer{tel}})
	defer srv.Close()
	srv.Register("shop", shop.ShopInvoker(), lifecycle.Static(&shop.Impl{}))
	lis, _ := invoker.Listen("tcp://127.0.0.1:0", nil)
	go srv.Serve(lis)

	ctx := context.Background()
	c, err := requestor.Dial(ctx, "tcp://"+lis.Addr().String(), requestor.Options{Interceptors: []remoting.Interceptor{tel.Client()}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	p := shop.NewShopProxy(c, remoting.Ref{ID: remoting.NameID("shop"), Interface: shop.ShopInterface})
	if _, err := p.Order(ctx, "tea", 1); err != nil {
		fmt.Println(err)
		return
	}

	ended := spans.Ended() // the server span ends before the client's
	server, client := ended[0], ended[1]
	fmt.Println(client.SpanKind(), client.Name())
	fmt.Println(server.SpanKind(), server.Name())
	fmt.Println("same trace:", server.SpanContext().TraceID() == client.SpanContext().TraceID())
	fmt.Println("server span's parent is the client span:", server.Parent().SpanID() == client.SpanContext().SpanID())
	// Output:
	// client github.com/remoting-go/remoting/interceptor/otelremoting/internal/shop.Shop/Order
	// server github.com/remoting-go/remoting/interceptor/otelremoting/internal/shop.Shop/Order
	// same trace: true
	// server span's parent is the client span: true
}
