package bench

import (
	"context"
	"fmt"
	"net"
	"sync"

	"storj.io/drpc"
	"storj.io/drpc/drpcconn"
	"storj.io/drpc/drpcmux"
	"storj.io/drpc/drpcpool"
	"storj.io/drpc/drpcserver"

	"github.com/remoting-go/remoting/test/bench/echosvc"
)

// DRPC is storj.io/drpc with the CBOR encoding. A drpc connection carries
// one call at a time, so concurrent callers go through drpcpool, which
// takes an idle connection or dials a new one per call: with n callers the
// row ends up with n connections, which is how drpc is meant to be used.
type DRPC struct{}

// drpcEcho is the service's handler; every method returns its argument.
type drpcEcho struct{}

// The names of the service's methods.
const (
	drpcEchoMethod   = "/bench.Echo/Echo"
	drpcRecordMethod = "/bench.Echo/EchoRecord"
	drpcBlobMethod   = "/bench.Echo/EchoBlob"
	drpcBatchMethod  = "/bench.Echo/EchoBatch"
	drpcOrderMethod  = "/bench.Echo/EchoOrder"
)

// drpcCBOR is the CBOR encoding in drpc's terms.
type drpcCBOR struct{}

func (drpcCBOR) Marshal(m drpc.Message) ([]byte, error) { return cborEnc.Marshal(m) }

func (drpcCBOR) Unmarshal(b []byte, m drpc.Message) error { return cborDec.Unmarshal(b, m) }

// drpcEchoDesc is the drpc.Description protoc-gen-go-drpc would generate.
type drpcEchoDesc struct{}

func (drpcEchoDesc) NumMethods() int { return 5 }

func (drpcEchoDesc) Method(n int) (string, drpc.Encoding, drpc.Receiver, any, bool) {
	recv := func(_ any, _ context.Context, in1, _ any) (drpc.Message, error) { return in1, nil }
	switch n {
	case 0:
		return drpcEchoMethod, drpcCBOR{}, recv, drpcEchoOf[echoMsg], true
	case 1:
		return drpcRecordMethod, drpcCBOR{}, recv, drpcEchoOf[echosvc.Record], true
	case 2:
		return drpcBlobMethod, drpcCBOR{}, recv, drpcEchoOf[echosvc.Blob], true
	case 3:
		return drpcBatchMethod, drpcCBOR{}, recv, drpcEchoOf[echosvc.Batch], true
	case 4:
		return drpcOrderMethod, drpcCBOR{}, recv, drpcEchoOf[echosvc.Order], true
	}
	return "", nil, nil, nil, false
}

// drpcEchoOf is the method value drpcmux reads the request type from: its
// second parameter.
func drpcEchoOf[T any](*drpcEcho, context.Context, *T) (*T, error) { return nil, nil }

// drpcInvoke calls method with in on conn and returns the reply.
func drpcInvoke[T any](ctx context.Context, conn drpc.Conn, method string, in T) (T, error) {
	var out T
	err := conn.Invoke(ctx, method, drpcCBOR{}, &in, &out)
	return out, err
}

// Start implements Peer.
func (DRPC) Start() (Client, func(), error) {
	mux := drpcmux.New()
	if err := mux.Register(&drpcEcho{}, drpcEchoDesc{}); err != nil {
		return nil, nil, fmt.Errorf("drpc: %w", err)
	}
	srv := drpcserver.New(mux)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("drpc: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { srv.Serve(ctx, lis) }) // closes lis and waits for its connections when ctx ends

	addr := lis.Addr().String()
	pool := drpcpool.New[string, *drpcconn.Conn](drpcpool.Options{})
	dial := func(ctx context.Context, addr string) (*drpcconn.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return drpcconn.New(conn), nil
	}
	conn := pool.Get(ctx, addr, dial)
	stop := func() {
		conn.Close()
		pool.Close()
		cancel()
		wg.Wait()
	}
	return Calls{
		Bytes: func(ctx context.Context, p []byte) ([]byte, error) {
			out, err := drpcInvoke(ctx, conn, drpcEchoMethod, echoMsg{P: p})
			return out.P, err
		},
		Record: func(ctx context.Context, r echosvc.Record) (echosvc.Record, error) {
			return drpcInvoke(ctx, conn, drpcRecordMethod, r)
		},
		Blob: func(ctx context.Context, b echosvc.Blob) (echosvc.Blob, error) {
			return drpcInvoke(ctx, conn, drpcBlobMethod, b)
		},
		Batch: func(ctx context.Context, b echosvc.Batch) (echosvc.Batch, error) {
			return drpcInvoke(ctx, conn, drpcBatchMethod, b)
		},
		Order: func(ctx context.Context, o echosvc.Order) (echosvc.Order, error) {
			return drpcInvoke(ctx, conn, drpcOrderMethod, o)
		},
	}, stop, nil
}
