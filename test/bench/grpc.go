package bench

import (
	"context"
	"fmt"
	"net"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
)

// GRPC is grpc-go: a unary call on one ClientConn (HTTP/2 multiplexing
// all callers), with the CBOR codec instead of protobuf. The service is
// described by hand, as protoc-gen-go-grpc would have generated it.
type GRPC struct{}

func init() { encoding.RegisterCodec(cborCodec{}) }

// grpcEchoServer is the service's handler type.
type grpcEchoServer interface {
	Echo(context.Context, *echoMsg) (*echoMsg, error)
}

type grpcEcho struct{}

func (grpcEcho) Echo(_ context.Context, in *echoMsg) (*echoMsg, error) { return in, nil }

const grpcEchoMethod = "/bench.Echo/Echo"

var grpcEchoDesc = grpc.ServiceDesc{
	ServiceName: "bench.Echo",
	HandlerType: (*grpcEchoServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Echo",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(echoMsg)
			if err := dec(in); err != nil {
				return nil, err
			}
			if interceptor == nil {
				return srv.(grpcEchoServer).Echo(ctx, in)
			}
			info := &grpc.UnaryServerInfo{Server: srv, FullMethod: grpcEchoMethod}
			return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
				return srv.(grpcEchoServer).Echo(ctx, req.(*echoMsg))
			})
		},
	}},
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
	call := func(ctx context.Context, p []byte) ([]byte, error) {
		var out echoMsg
		if err := conn.Invoke(ctx, grpcEchoMethod, &echoMsg{P: p}, &out); err != nil {
			return nil, err
		}
		return out.P, nil
	}
	stop := func() {
		conn.Close()
		stopServer()
	}
	return ClientFunc(call), stop, nil
}
