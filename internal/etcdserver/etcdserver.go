// Package etcdserver runs a real etcd server in the process, on free
// loopback ports and a data directory of the caller's: the embedded etcd
// of the cluster demo and tests (go.etcd.io/etcd/server/v3/embed), so that
// neither needs etcd installed.
//
// Clients reach the server through a TCP relay on the Endpoint's port,
// which Stop and Restart cut first: embed's Close otherwise waits 5 s and
// more for the clients' watch and keep-alive streams to end, and a
// restart would keep etcd away far longer than a restart takes.
//
// # Goroutines
//
// Start starts the relay's accept loop, and the relay two goroutines per
// client connection; Stop ends them and waits for them.
package etcdserver

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// MaxRequestBytes is the largest request the server accepts.
const MaxRequestBytes = 4<<20 + 512<<10

// Server is one embedded etcd member.
type Server struct {
	// Endpoint is the client URL, "http://127.0.0.1:<port>": the relay's.
	Endpoint string
	cfg      *embed.Config
	e        *embed.Etcd
	relay    *relay
}

// Start starts a one-member etcd cluster keeping its data in dir, and
// waits until it serves.
func Start(dir string) (*Server, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	r, err := newRelay("127.0.0.1:0", fmt.Sprintf("127.0.0.1:%d", ports[0]))
	if err != nil {
		return nil, err
	}
	cfg := embed.NewConfig()
	cfg.Name = "remoting"
	cfg.Dir = dir
	cfg.Logger = "zap"
	// etcd logs its own shutdown as errors; the program's errors come
	// through its client.
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	client := url.URL{Scheme: "http", Host: r.target}
	peer := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", ports[1])}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ListenMetricsUrls = nil
	// Requests up to the middleware's frame limit (4 MiB) and some room:
	// the cluster demo keeps objects' states in etcd, as large as a call
	// can carry them. etcd's default is 1.5 MiB.
	cfg.MaxRequestBytes = MaxRequestBytes
	s := &Server{Endpoint: "http://" + r.lis.Addr().String(), cfg: cfg, relay: r}
	if err := s.start(); err != nil {
		r.close()
		return nil, err
	}
	return s, nil
}

func (s *Server) start() error {
	e, err := embed.StartEtcd(s.cfg)
	if err != nil {
		return fmt.Errorf("etcdserver: start: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return fmt.Errorf("etcdserver: start: %w", err)
	case <-time.After(30 * time.Second):
		e.Close()
		return fmt.Errorf("etcdserver: not ready after 30s")
	}
	s.e = e
	return nil
}

// Stop stops the server and the relay; its data stays in the directory.
func (s *Server) Stop() {
	s.stop()
	s.relay.close()
}

// stop cuts the clients' connections and stops the server.
func (s *Server) stop() {
	s.relay.cut()
	if s.e != nil {
		s.e.Close()
		s.e = nil
	}
}

// Restart stops the server if it runs and starts it again on the same
// ports and data; clients lose their connections, and the relay takes new
// ones meanwhile, which fail until the server is back.
func (s *Server) Restart() error {
	s.stop()
	if s.relay.closed() { // Stop ran: listen on the Endpoint's port again
		r, err := newRelay(s.relay.lis.Addr().String(), s.relay.target)
		if err != nil {
			return err
		}
		s.relay = r
	}
	s.cfg.InitialClusterToken = ""
	s.cfg.ClusterState = embed.ClusterStateFlagExisting
	return s.start()
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("etcdserver: free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// relay forwards the connections it accepts to target, the server's
// client port.
type relay struct {
	lis    net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func newRelay(addr, target string) (*relay, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("etcdserver: relay: %w", err)
	}
	r := &relay{lis: lis, target: target, conns: map[net.Conn]struct{}{}}
	r.wg.Go(r.accept)
	return r, nil
}

func (r *relay) accept() {
	for {
		c, err := r.lis.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		r.wg.Go(func() { r.forward(c) })
	}
}

// forward copies between c and a new connection to the target until
// either ends or the relay cuts them.
func (r *relay) forward(c net.Conn) {
	defer c.Close()
	t, err := net.Dial("tcp", r.target)
	if err != nil {
		return
	}
	defer t.Close()
	if !r.track(c, t) {
		return
	}
	defer r.untrack(c, t)
	done := make(chan struct{})
	go func() {
		io.Copy(t, c)
		t.Close()
		close(done)
	}()
	io.Copy(c, t)
	c.Close()
	<-done
}

func (r *relay) track(cs ...net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conns == nil {
		return false
	}
	for _, c := range cs {
		r.conns[c] = struct{}{}
	}
	return true
}

func (r *relay) untrack(cs ...net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range cs {
		delete(r.conns, c)
	}
}

func (r *relay) closed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns == nil
}

// cut closes every connection relayed now.
func (r *relay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.conns {
		c.Close()
	}
}

// close stops accepting, cuts every connection and waits for the
// relay's goroutines.
func (r *relay) close() {
	r.lis.Close()
	r.mu.Lock()
	for c := range r.conns {
		c.Close()
	}
	r.conns = nil
	r.mu.Unlock()
	r.wg.Wait()
}
