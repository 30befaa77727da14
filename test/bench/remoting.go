package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/bench/echosvc"
)

// Remoting is the middleware: a sync call through the generated Client
// Proxy to a Static Instance, over one connection.
type Remoting struct {
	Server invoker.Options
	Client requestor.Options
}

// echoImpl is the remote object.
type echoImpl struct{}

func (echoImpl) Echo(_ context.Context, p []byte) ([]byte, error) { return p, nil }

// structsImpl is the remote object of the struct payloads.
type structsImpl struct{}

func (structsImpl) EchoRecord(_ context.Context, r echosvc.Record) (echosvc.Record, error) {
	return r, nil
}

func (structsImpl) EchoBlob(_ context.Context, b echosvc.Blob) (echosvc.Blob, error) { return b, nil }

func (structsImpl) EchoBatch(_ context.Context, b echosvc.Batch) (echosvc.Batch, error) {
	return b, nil
}

func (structsImpl) EchoOrder(_ context.Context, o echosvc.Order) (echosvc.Order, error) {
	return o, nil
}

// Start implements Peer.
func (r Remoting) Start() (Client, func(), error) {
	srv := invoker.NewServer(r.Server)
	if _, err := srv.Register("echo", echosvc.EchoInvoker(), lifecycle.Static(echoImpl{})); err != nil {
		return nil, nil, fmt.Errorf("remoting: register: %w", err)
	}
	if _, err := srv.Register("structs", echosvc.StructsInvoker(), lifecycle.Static(structsImpl{})); err != nil {
		srv.Close()
		return nil, nil, fmt.Errorf("remoting: register: %w", err)
	}
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		return nil, nil, fmt.Errorf("remoting: %w", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	stopServer := func() {
		srv.Close()
		<-served
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := requestor.Dial(ctx, "tcp://"+lis.Addr().String(), r.Client)
	if err != nil {
		stopServer()
		return nil, nil, fmt.Errorf("remoting: %w", err)
	}
	p, err := echosvc.LookupEcho(ctx, c, "echo")
	if err != nil {
		c.Close()
		stopServer()
		return nil, nil, fmt.Errorf("remoting: %w", err)
	}
	sp, err := echosvc.LookupStructs(ctx, c, "structs")
	if err != nil {
		c.Close()
		stopServer()
		return nil, nil, fmt.Errorf("remoting: %w", err)
	}
	stop := func() {
		c.Close()
		stopServer()
	}
	return Calls{Bytes: p.Echo, Record: sp.EchoRecord, Blob: sp.EchoBlob, Batch: sp.EchoBatch, Order: sp.EchoOrder}, stop, nil
}
