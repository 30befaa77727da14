package bench

import (
	"context"
	"fmt"
	"net"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"

	"github.com/remoting-go/remoting/test/bench/echosvc"
)

// GRPC is grpc-go: a unary call on one ClientConn (HTTP/2 multiplexing
// all callers), with the CBOR codec instead of protobuf. The service is
// described by hand, as protoc-gen-go-grpc would have generated it; its
// methods echo the byte-slice message and the struct payloads, which are
// the messages themselves.
type GRPC struct{}

func init() { encoding.RegisterCodec(cborCodec{}) }

// grpcEcho is the service's handler; every method returns its argument.
type grpcEcho struct{}

// The full names of the service's methods.
const (
	grpcEchoMethod   = "/bench.Echo/Echo"
	grpcRecordMethod = "/bench.Echo/EchoRecord"
	grpcBlobMethod   = "/bench.Echo/EchoBlob"
	grpcBatchMethod  = "/bench.Echo/EchoBatch"
	grpcOrderMethod  = "/bench.Echo/EchoOrder"
)

// grpcEchoDesc describes the service; a handler decodes the request into
// a new T and returns it.
var grpcEchoDesc = grpc.ServiceDesc{
	ServiceName: "bench.Echo",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{
		grpcEchoOf[echoMsg]("Echo"),
		grpcEchoOf[echosvc.Record]("EchoRecord"),
		grpcEchoOf[echosvc.Blob]("EchoBlob"),
		grpcEchoOf[echosvc.Batch]("EchoBatch"),
		grpcEchoOf[echosvc.Order]("EchoOrder"),
	},
}

func grpcEchoOf[T any](name string) grpc.MethodDesc {
	return grpc.MethodDesc{
		MethodName: name,
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(T)
			if err := dec(in); err != nil {
				return nil, err
			}
			if interceptor == nil {
				return in, nil
			}
			info := &grpc.UnaryServerInfo{Server: srv, FullMethod: "/bench.Echo/" + name}
			return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) { return req, nil })
		},
	}
}

// grpcInvoke calls method with in on conn and returns the reply.
func grpcInvoke[T any](ctx context.Context, conn *grpc.ClientConn, method string, in T) (T, error) {
	var out T
	err := conn.Invoke(ctx, method, &in, &out)
	return out, err
}

// Start implements Peer.
func (GRPC) Start() (Client, func(), error) {
	srv := grpc.NewServer()
	srv.RegisterService(&grpcEchoDesc, grpcEcho{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("grpc: %w", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { srv.Serve(lis) })
	stopServer := func() {
		srv.Stop()
		wg.Wait()
	}

	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.CallContentSubtype(cborCodec{}.Name())))
	if err != nil {
		stopServer()
		return nil, nil, fmt.Errorf("grpc: %w", err)
	}
	stop := func() {
		conn.Close()
		stopServer()
	}
	return Calls{
		Bytes: func(ctx context.Context, p []byte) ([]byte, error) {
			out, err := grpcInvoke(ctx, conn, grpcEchoMethod, echoMsg{P: p})
			return out.P, err
		},
		Record: func(ctx context.Context, r echosvc.Record) (echosvc.Record, error) {
			return grpcInvoke(ctx, conn, grpcRecordMethod, r)
		},
		Blob: func(ctx context.Context, b echosvc.Blob) (echosvc.Blob, error) {
			return grpcInvoke(ctx, conn, grpcBlobMethod, b)
		},
		Batch: func(ctx context.Context, b echosvc.Batch) (echosvc.Batch, error) {
			return grpcInvoke(ctx, conn, grpcBatchMethod, b)
		},
		Order: func(ctx context.Context, o echosvc.Order) (echosvc.Order, error) {
			return grpcInvoke(ctx, conn, grpcOrderMethod, o)
		},
	}, stop, nil
}
