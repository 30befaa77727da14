package bench

import (
	"context"
	"fmt"
	"net"
	"net/rpc"
	"sync"
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
	call := func(ctx context.Context, p []byte) ([]byte, error) {
		var reply []byte
		select {
		case call := <-c.Go("Echo.Echo", p, &reply, make(chan *rpc.Call, 1)).Done:
			return reply, call.Error
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	stop := func() {
		c.Close()
		stopServer()
	}
	return ClientFunc(call), stop, nil
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
