package cluster_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/remoting-go/remoting/cluster"
	"github.com/remoting-go/remoting/cluster/node"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/passivation/postgres"
	"github.com/remoting-go/remoting/test/lifecycle/account"
)

// The test binary runs as a node process when nodeEnv is set; the other
// variables say which cluster it joins and where its store is.
const (
	nodeEnv  = "REMOTING_CLUSTER_TEST_NODE"  // the node's id
	etcdEnv  = "REMOTING_CLUSTER_TEST_ETCD"  // the etcd endpoint
	nameEnv  = "REMOTING_CLUSTER_TEST_NAME"  // the cluster's name
	storeEnv = "REMOTING_CLUSTER_TEST_STORE" // the PostgreSQL connection string
	tableEnv = "REMOTING_CLUSTER_TEST_TABLE" // the store's table
)

// ttl is the lease of every node in these tests.
const ttl = 2 * time.Second

// A node process writes these lines to its standard output, each with
// the wall-clock time in Unix nanoseconds, which every process on the
// machine shares:
//
//	listening <endpoint>            once it serves
//	act <time> <key>                an object activated
//	end <time> <key> <last call>    it ended; the last call it served began then (0: none)
//	fence <time> <true|false>       it stopped serving its objects, or serves again
//	left <time> <error>             Shutdown returned, after SIGTERM

// out writes the lines of a node process, one write each.
type out struct{ mu sync.Mutex }

func (o *out) line(format string, args ...any) {
	s := fmt.Sprintf(format, args...) + "\n"
	o.mu.Lock()
	os.Stdout.WriteString(s)
	o.mu.Unlock()
}

// tracked is the Account of a node process: it reports its activation
// and its end, and stamps the start of each call.
type tracked struct {
	*account.Impl
	out  *out
	key  string
	last atomic.Int64 // when the last call began, Unix ns
}

func (a *tracked) Deposit(ctx context.Context, n int64) (int64, error) {
	a.last.Store(time.Now().UnixNano())
	return a.Impl.Deposit(ctx, n)
}

func (a *tracked) Balance(ctx context.Context) (int64, error) {
	a.last.Store(time.Now().UnixNano())
	return a.Impl.Balance(ctx)
}

// Activate implements lifecycle.Activator.
func (a *tracked) Activate(ctx context.Context) error {
	a.out.line("act %d %s", time.Now().UnixNano(), a.key)
	return a.Impl.Activate(ctx)
}

// Deactivate implements lifecycle.Deactivator.
func (a *tracked) Deactivate(ctx context.Context) error {
	a.out.line("end %d %s %d", time.Now().UnixNano(), a.key, a.last.Load())
	return a.Impl.Deactivate(ctx)
}

// runNode is a node process: it serves keyed Accounts saved after every
// call to the PostgreSQL store, as a node of the cluster, until SIGTERM,
// when it shuts down gracefully, or until it is killed. It returns the
// exit status.
func runNode() int {
	fail := func(what string, err error) int {
		fmt.Fprintf(os.Stderr, "node %s: %s: %v\n", os.Getenv(nodeEnv), what, err)
		return 2
	}
	o := &out{}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("node", os.Getenv(nodeEnv))
	store, err := postgres.Open(os.Getenv(storeEnv), postgres.Options{Table: os.Getenv(tableEnv)})
	if err != nil {
		return fail("open the store", err)
	}
	defer store.Close()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail("listen", err)
	}
	endpoint := "tcp://" + lis.Addr().String()
	srv := invoker.NewServer(invoker.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nd, err := node.Join(ctx, node.Options{
		Options:  cluster.Options{Endpoints: []string{os.Getenv(etcdEnv)}, Name: os.Getenv(nameEnv), TTL: ttl, Logger: logger},
		Endpoint: endpoint,
		Server:   srv,
		ID:       os.Getenv(nodeEnv),
		OnFence:  func(fenced bool) { o.line("fence %d %t", time.Now().UnixNano(), fenced) },
	})
	if err != nil {
		return fail("join", err)
	}
	tracker := &account.Tracker{}
	newAccount := func(ctx context.Context, key string) (*tracked, error) {
		impl, err := tracker.New(ctx, key)
		if err != nil {
			return nil, err
		}
		return &tracked{Impl: impl, out: o, key: key}, nil
	}
	objs := lifecycle.Keyed(newAccount, lifecycle.KeyedOptions{Store: store, Durability: lifecycle.SaveEveryCall, Directory: nd, PassivateAfter: time.Minute})
	if err := srv.Keyed(account.AccountInvoker(), objs); err != nil {
		return fail("serve the accounts", err)
	}
	// Serve only now, with the accounts in place: a call that arrived since
	// Join published the node waits in the listener's backlog.
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	o.line("listening %s", endpoint)

	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	select {
	case <-term:
	case err := <-served:
		return fail("serve", err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	err = nd.Shutdown(sctx)
	<-served
	o.line("left %d %v", time.Now().UnixNano(), err)
	return 0
}
