package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/admin"
	"github.com/remoting-go/remoting/cluster"
	"github.com/remoting-go/remoting/cluster/node"
	"github.com/remoting-go/remoting/internal/etcdserver"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/passivation"
	"github.com/remoting-go/remoting/test/lifecycle/account"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// etcd's client keeps a few goroutines of grpc's for a moment after Close.
		goleak.IgnoreTopFunction("google.golang.org/grpc/internal/grpcsync.(*CallbackSerializer).run"),
		goleak.IgnoreAnyFunction("go.etcd.io/etcd/server/v3/embed.(*Etcd).serveClients.func2"),
	)
}

// testCluster is nodes of one cluster in this process, on one etcd and
// one shared store.
type testCluster struct {
	t       *testing.T
	etcd    *etcdserver.Server
	store   passivation.Store
	opts    cluster.Options
	tracker *account.Tracker
	nodes   []*testNode
}

type testNode struct {
	srv  *invoker.Server
	node *node.Node
	lis  net.Listener
	objs *lifecycle.KeyedObjects
	done chan error
}

func newCluster(t *testing.T, n int, durability lifecycle.Durability) *testCluster {
	t.Helper()
	e, err := etcdserver.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Stop)
	c := &testCluster{t: t, etcd: e, store: passivation.NewMemoryStore(), tracker: &account.Tracker{}}
	if c.opts, err = (cluster.Options{Endpoints: []string{e.Endpoint}, Name: t.Name(), TTL: 2 * time.Second}).WithDefaults(); err != nil {
		t.Fatal(err)
	}
	for range n {
		c.add(durability)
	}
	return c
}

func (c *testCluster) add(durability lifecycle.Durability) *testNode {
	t := c.t
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := invoker.NewServer(invoker.Options{})
	tn := &testNode{srv: srv, lis: lis, done: make(chan error, 1)}
	go func() { tn.done <- srv.Serve(lis) }()
	nd, err := node.Join(context.Background(), node.Options{Options: c.opts, Endpoint: "tcp://" + lis.Addr().String(), Server: srv})
	if err != nil {
		t.Fatal(err)
	}
	tn.node = nd
	tn.objs = lifecycle.Keyed(c.tracker.New, lifecycle.KeyedOptions{Store: c.store, Durability: durability, Directory: nd, PassivateAfter: time.Minute})
	if err := srv.Keyed(account.AccountInvoker(), tn.objs); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.stop() })
	c.nodes = append(c.nodes, tn)
	return tn
}

// stop shuts the node down gracefully, once.
func (tn *testNode) stop() {
	if tn.node == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tn.node.Shutdown(ctx)
	<-tn.done
	tn.node = nil
}

// crash ends the node as a crash would: no leave, no saves; its lease
// runs out in etcd.
func (tn *testNode) crash() {
	tn.node.Close() // stops renewing
	tn.srv.Close()
	<-tn.done
	tn.node = nil
}

func (c *testCluster) client(p cluster.Placement) *cluster.Client {
	c.t.Helper()
	cl, err := cluster.Dial(context.Background(), cluster.ClientOptions{Options: c.opts, Placement: p})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cl.Close() })
	return cl
}

// directory returns the number of directory entries in etcd.
func (c *testCluster) directory() int64 {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{c.etcd.Endpoint}})
	if err != nil {
		c.t.Fatal(err)
	}
	defer cli.Close()
	resp, err := cli.Get(context.Background(), c.opts.ObjectsPrefix(), clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.Count
}

func deposit(ctx context.Context, c remoting.Caller, key string, n int64) (int64, error) {
	p, err := account.AccountByKey(c, key)
	if err != nil {
		return 0, err
	}
	return p.Deposit(ctx, n)
}

func TestKeysSpreadOneActivationEach(t *testing.T) {
	c := newCluster(t, 3, lifecycle.SaveEveryCall)
	cl := c.client(nil)
	ctx := context.Background()
	const keys = 60
	for i := range keys {
		for range 3 {
			if _, err := deposit(ctx, cl, key(i), 1); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := c.tracker.News.Load(); got != keys {
		t.Errorf("activations = %d, want %d", got, keys)
	}
	for i, tn := range c.nodes {
		if tn.objs.Len() == 0 {
			t.Errorf("node %d hosts no object: hashing placed all %d elsewhere", i, keys)
		}
	}
	if got := c.directory(); got != keys {
		t.Errorf("directory entries = %d, want %d", got, keys)
	}
	st := cl.Stats()
	if st.CacheHits < 2*keys || st.Forwards != 0 {
		t.Errorf("stats %+v: want ≥ %d hits and no forwards", st, 2*keys)
	}
}

func key(i int) string { return "acct-" + string(rune('a'+i%26)) + string(rune('a'+i/26)) }

// Each node's own client places on its own node (Local), so that 1,000
// first calls of one key through three nodes race to claim it: one wins,
// the others are forwarded.
func TestConcurrentFirstCallsOneActivation(t *testing.T) {
	c := newCluster(t, 3, lifecycle.SaveEveryCall)
	c.tracker.NewDelay = 20 * time.Millisecond
	var clients []*cluster.Client
	for _, tn := range c.nodes {
		cl, err := tn.node.Client(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, cl)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	for i := range 1000 {
		wg.Go(func() {
			if _, err := deposit(ctx, clients[i%3], "hot", 1); err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d calls failed; first: %v", failed.Load(), firstErr.Load())
	}
	if got := c.tracker.News.Load(); got != 1 {
		t.Errorf("activations = %d, want 1", got)
	}
	if got := c.tracker.Restores.Load(); got != 0 {
		t.Errorf("restores = %d, want 0", got)
	}
	b, err := deposit(ctx, clients[0], "hot", 0)
	if err != nil || b != 1000 {
		t.Errorf("balance = %d, %v; want 1000", b, err)
	}
}

func TestGracefulLeaveHandsObjectsOff(t *testing.T) {
	c := newCluster(t, 3, lifecycle.SaveOnPassivation)
	cl := c.client(nil)
	ctx := context.Background()
	const keys = 30
	for i := range keys {
		if _, err := deposit(ctx, cl, key(i), 10); err != nil {
			t.Fatal(err)
		}
	}
	leaving := c.nodes[0]
	hosted := leaving.objs.Len()
	if hosted == 0 {
		t.Fatal("node 0 hosts nothing")
	}
	// Callers keep calling while the node leaves: none may fail.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var calls, failed atomic.Int64
	var firstErr atomic.Value
	for w := range 4 {
		wg.Go(func() {
			for i := w; ; i += 4 {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := deposit(ctx, cl, key(i%keys), 0); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
				calls.Add(1)
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	leaving.stop()
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Errorf("%d of %d calls failed during the leave; first: %v", failed.Load(), calls.Load(), firstErr.Load())
	}
	for i := range keys {
		b, err := deposit(ctx, cl, key(i), 0)
		if err != nil || b != 10 {
			t.Errorf("%s: balance %d, %v; want 10", key(i), b, err)
		}
	}
	if n := len(cl.Members()); n != 2 {
		t.Errorf("members = %d, want 2", n)
	}
}

func TestCrashedNodeObjectsComeBackElsewhere(t *testing.T) {
	c := newCluster(t, 3, lifecycle.SaveEveryCall)
	cl := c.client(nil)
	ctx := context.Background()
	const keys = 30
	for i := range keys {
		if _, err := deposit(ctx, cl, key(i), 5); err != nil {
			t.Fatal(err)
		}
	}
	dead := c.nodes[1]
	if dead.objs.Len() == 0 {
		t.Fatal("node 1 hosts nothing")
	}
	start := time.Now()
	dead.crash()
	// Every key answers again, with its state, within the TTL and a second.
	deadline := start.Add(c.opts.TTL + time.Second + 500*time.Millisecond)
	for i := range keys {
		for {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			b, err := deposit(cctx, cl, key(i), 0)
			cancel()
			if err == nil {
				if b != 5 {
					t.Errorf("%s: balance %d, want 5", key(i), b)
				}
				break
			}
			if !errors.Is(err, remoting.ErrUnavailable) {
				t.Fatalf("%s: %v, want Unavailable while the node's lease lives", key(i), err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still fails %v after the lease TTL plus a second: %v", key(i), time.Since(start), err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("every key answered %v after the crash (TTL %v)", time.Since(start), c.opts.TTL)
}

func TestSingletonFailsOver(t *testing.T) {
	c := newCluster(t, 2, lifecycle.SaveEveryCall)
	for _, tn := range c.nodes {
		err := tn.node.Singleton("ledger", account.AccountInvoker(), func() lifecycle.Strategy {
			impl, _ := c.tracker.New(context.Background(), "ledger")
			return lifecycle.Static(impl)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-c.nodes[0].node.Leading("ledger"):
	case <-c.nodes[1].node.Leading("ledger"):
	case <-time.After(10 * time.Second):
		t.Fatal("no leader")
	}
	cl := c.client(nil)
	ctx := context.Background()
	ledger, err := account.LookupAccount(ctx, cl, "ledger")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.Deposit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	leader, _ := cl.Leader(ctx, "ledger")
	for _, tn := range c.nodes {
		if tn.node != nil && tn.node.ID() == leader {
			tn.crash()
		}
	}
	start := time.Now()
	for {
		_, err := ledger.Deposit(ctx, 1)
		if err == nil {
			break
		}
		if time.Since(start) > c.opts.TTL+2*time.Second {
			t.Fatalf("singleton did not come back in %v: %v", time.Since(start), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("singleton answered again %v after its leader died", time.Since(start))
	if next, _ := cl.Leader(ctx, "ledger"); next == leader || next == "" {
		t.Errorf("leader %q after %q died", next, leader)
	}
}

func TestAdminShowsTheCluster(t *testing.T) {
	c := newCluster(t, 2, lifecycle.SaveEveryCall)
	nd := c.nodes[0].node
	h := admin.NewHandler(admin.Options{Server: c.nodes[0].srv, Fenced: nd.Fenced, Cluster: func() any { return nd.Status() }})
	cl, err := nd.Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := deposit(context.Background(), cl, key(i), 1); err != nil {
			t.Fatal(err)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/debug/remoting/cluster", nil))
	var st node.Status
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	if len(st.Members) != 2 || st.ID != nd.ID() || st.Fenced || st.Client == nil || st.Client.CacheMisses != 10 {
		t.Errorf("status %s", rec.Body)
	}
	if st.Hosted != c.nodes[0].objs.Len() || st.Claims != uint64(st.Hosted) {
		t.Errorf("hosted %d, claims %d; node holds %d", st.Hosted, st.Claims, c.nodes[0].objs.Len())
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 200 {
		t.Errorf("/readyz = %d", rec.Code)
	}
}

// A node's own client reaches the objects it hosts without a socket, and
// through the server's interceptors.
func TestCollocatedCallsSkipTheNetwork(t *testing.T) {
	c := newCluster(t, 1, lifecycle.SaveEveryCall)
	tn := c.nodes[0]
	var intercepted atomic.Int64
	tn.srv.SetInterceptors(func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		intercepted.Add(1)
		return next(ctx, inv)
	})
	cl, err := tn.node.Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	if _, err := deposit(context.Background(), cl, "local", 3); err != nil {
		t.Fatal(err)
	}
	p, _ := account.AccountByKey(cl, "local")
	if err := p.Async().Fail(context.Background(), 1).Wait(context.Background()); !errors.Is(err, remoting.ErrApplication) {
		t.Errorf("async Fail: %v, want the application error", err)
	}
	if intercepted.Load() != 2 {
		t.Errorf("server interceptor saw %d calls, want 2", intercepted.Load())
	}
	if st := cl.Stats(); st.Connections != 0 {
		t.Errorf("client opened %d sockets for its own node", st.Connections)
	}
}
