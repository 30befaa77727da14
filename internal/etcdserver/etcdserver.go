// Package etcdserver runs a real etcd server in the process, on free
// loopback ports and a data directory of the caller's: the embedded etcd
// of the cluster demo and tests (go.etcd.io/etcd/server/v3/embed), so that
// neither needs etcd installed.
package etcdserver

import (
	"fmt"
	"net"
	"net/url"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// MaxRequestBytes is the largest request the server accepts.
const MaxRequestBytes = 4<<20 + 512<<10

// Server is one embedded etcd member.
type Server struct {
	// Endpoint is the client URL, "http://127.0.0.1:<port>".
	Endpoint string
	cfg      *embed.Config
	e        *embed.Etcd
}

// Start starts a one-member etcd cluster keeping its data in dir, and
// waits until it serves.
func Start(dir string) (*Server, error) {
	ports, err := freePorts(2)
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
	client := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", ports[0])}
	peer := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", ports[1])}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ListenMetricsUrls = nil
	// Requests up to the middleware's frame limit (4 MiB) and some room:
	// the cluster demo keeps objects' states in etcd, as large as a call
	// can carry them. etcd's default is 1.5 MiB.
	cfg.MaxRequestBytes = MaxRequestBytes
	s := &Server{Endpoint: client.String(), cfg: cfg}
	return s, s.start()
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

// Stop stops the server; its data stays in the directory.
func (s *Server) Stop() {
	if s.e != nil {
		s.e.Close()
		s.e = nil
	}
}

// Restart stops the server if it runs and starts it again on the same
// ports and data.
func (s *Server) Restart() error {
	s.Stop()
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
