package bench

import (
	"context"
	"fmt"
	"net"
	"net/rpc"
	"sync"

	"github.com/remoting-go/remoting/test/bench/echosvc"
)

// NetRPC is the standard library's net/rpc with its default gob codec, one
// client connection multiplexing all callers.
type NetRPC struct{}

// NetRPCEcho is the net/rpc receiver; net/rpc serves its exported methods.
type NetRPCEcho struct{}

// Echo returns its argument.
func (NetRPCEcho) Echo(p []byte, reply *[]byte) error {
	*reply = p
	return nil
}

// EchoRecord returns its argument.
func (NetRPCEcho) EchoRecord(r echosvc.Record, reply *echosvc.Record) error {
	*reply = r
	return nil
}

// EchoBlob returns its argument.
func (NetRPCEcho) EchoBlob(b echosvc.Blob, reply *echosvc.Blob) error {
	*reply = b
	return nil
}

// EchoBatch returns its argument.
func (NetRPCEcho) EchoBatch(b echosvc.Batch, reply *echosvc.Batch) error {
	*reply = b
	return nil
}

// EchoOrder returns its argument.
func (NetRPCEcho) EchoOrder(o echosvc.Order, reply *echosvc.Order) error {
	*reply = o
	return nil
}

// netRPCCall calls method with arg on c and waits for the reply or for
// ctx to end.
func netRPCCall[T any](ctx context.Context, c *rpc.Client, method string, arg T) (T, error) {
	var reply T
	select {
	case call := <-c.Go(method, arg, &reply, make(chan *rpc.Call, 1)).Done:
		return reply, call.Error
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// Start implements Peer.
func (NetRPC) Start() (Client, func(), error) {
	srv := rpc.NewServer()
	if err := srv.RegisterName("Echo", NetRPCEcho{}); err != nil {
		return nil, nil, fmt.Errorf("net/rpc: %w", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("net/rpc: %w", err)
	}
	conns := newConnSet()
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := lis.Accept()
			if err != nil {
				return
			}
			if !conns.add(conn) {
				return
			}
			wg.Go(func() {
				srv.ServeConn(conn)
				conns.remove(conn)
			})
		}
	})
	stopServer := func() {
		lis.Close()
		conns.closeAll()
		wg.Wait()
	}

	conn, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		stopServer()
		return nil, nil, fmt.Errorf("net/rpc: %w", err)
	}
	c := rpc.NewClient(conn)
	stop := func() {
		c.Close()
		stopServer()
	}
	return Calls{
		Bytes: func(ctx context.Context, p []byte) ([]byte, error) { return netRPCCall(ctx, c, "Echo.Echo", p) },
		Record: func(ctx context.Context, r echosvc.Record) (echosvc.Record, error) {
			return netRPCCall(ctx, c, "Echo.EchoRecord", r)
		},
		Blob: func(ctx context.Context, b echosvc.Blob) (echosvc.Blob, error) {
			return netRPCCall(ctx, c, "Echo.EchoBlob", b)
		},
		Batch: func(ctx context.Context, b echosvc.Batch) (echosvc.Batch, error) {
			return netRPCCall(ctx, c, "Echo.EchoBatch", b)
		},
		Order: func(ctx context.Context, o echosvc.Order) (echosvc.Order, error) {
			return netRPCCall(ctx, c, "Echo.EchoOrder", o)
		},
	}, stop, nil
}

// connSet tracks a server's connections so that stopping it can close
// them. It refuses new ones once closed.
type connSet struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func newConnSet() *connSet { return &connSet{conns: make(map[net.Conn]struct{})} }

func (s *connSet) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.Close()
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *connSet) remove(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *connSet) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
}
