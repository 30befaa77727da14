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
)

// DRPC is storj.io/drpc with the CBOR encoding. A drpc connection carries
// one call at a time, so concurrent callers go through drpcpool, which
// takes an idle connection or dials a new one per call: with n callers the
// row ends up with n connections, which is how drpc is meant to be used.
type DRPC struct{}

type drpcEcho struct{}

func (*drpcEcho) Echo(_ context.Context, in *echoMsg) (*echoMsg, error) { return in, nil }

const drpcEchoMethod = "/bench.Echo/Echo"

// drpcCBOR is the CBOR encoding in drpc's terms.
type drpcCBOR struct{}

func (drpcCBOR) Marshal(m drpc.Message) ([]byte, error) { return cborEnc.Marshal(m) }

func (drpcCBOR) Unmarshal(b []byte, m drpc.Message) error { return cborDec.Unmarshal(b, m) }

// drpcEchoDesc is the drpc.Description protoc-gen-go-drpc would generate.
type drpcEchoDesc struct{}

func (drpcEchoDesc) NumMethods() int { return 1 }

func (drpcEchoDesc) Method(n int) (string, drpc.Encoding, drpc.Receiver, any, bool) {
	if n != 0 {
		return "", nil, nil, nil, false
	}
	recv := func(srv any, ctx context.Context, in1, _ any) (drpc.Message, error) {
		return srv.(*drpcEcho).Echo(ctx, in1.(*echoMsg))
	}
	return drpcEchoMethod, drpcCBOR{}, recv, (*drpcEcho).Echo, true
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
	call := func(ctx context.Context, p []byte) ([]byte, error) {
		var out echoMsg
		if err := conn.Invoke(ctx, drpcEchoMethod, drpcCBOR{}, &echoMsg{P: p}, &out); err != nil {
			return nil, err
		}
		return out.P, nil
	}
	stop := func() {
		conn.Close()
		pool.Close()
		cancel()
		wg.Wait()
	}
	return ClientFunc(call), stop, nil
}
