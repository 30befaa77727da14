package cluster_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/cluster"
	"github.com/remoting-go/remoting/internal/etcdserver"
	"github.com/remoting-go/remoting/internal/testserver"
)

// testCluster is a real etcd in this process, a PostgreSQL server, and
// the node processes started on them.
type testCluster struct {
	t     *testing.T
	etcd  *etcdserver.Server
	pg    *testserver.Postgres
	opts  cluster.Options // with defaults
	table string
	etcdc *clientv3.Client // the test's own view of etcd

	mu    sync.Mutex
	nodes []*nodeProc // every node process started, in order
	seq   int
}

// newCluster starts etcd, PostgreSQL and n node processes; the test's
// cleanup kills whatever still runs.
func newCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	e, err := etcdserver.Start(t.TempDir())
	require.NoError(t, err, "start etcd")
	t.Cleanup(e.Stop)
	pg := testserver.StartPostgres(t)
	c := &testCluster{t: t, etcd: e, pg: pg, table: "accounts"}
	c.opts, err = cluster.Options{Endpoints: []string{e.Endpoint}, Name: t.Name(), TTL: ttl}.WithDefaults()
	require.NoError(t, err, "cluster options")
	c.etcdc, err = clientv3.New(clientv3.Config{Endpoints: []string{e.Endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	require.NoError(t, err, "etcd client")
	t.Cleanup(func() { c.etcdc.Close() })
	t.Cleanup(c.killAll)
	for range n {
		c.start()
	}
	return c
}

// nodeProc is one node process.
type nodeProc struct {
	id       string
	endpoint string
	cmd      *exec.Cmd
	logPath  string
	exited   chan struct{} // closed once the process has exited and its output is read

	mu     sync.Mutex
	acts   []*activation
	fences []fenceEvent
	left   string    // the "left" line's error, once Shutdown returned
	killed time.Time // when the test sent SIGKILL
}

// activation is one activation of a key on a node, as the node reported
// it; end and last are zero while it is active.
type activation struct {
	node, key  string
	at, end    int64 // Unix ns
	last       int64 // the start of the last call it served; 0: none
	killedWith bool  // the node was killed while it was active
}

type fenceEvent struct {
	at     int64
	fenced bool
}

// start starts a node process and waits until it serves.
func (c *testCluster) start() *nodeProc {
	t := c.t
	t.Helper()
	c.mu.Lock()
	c.seq++
	p := &nodeProc{id: fmt.Sprintf("node%d", c.seq), exited: make(chan struct{})}
	c.mu.Unlock()
	p.logPath = filepath.Join(t.TempDir(), p.id+".log")
	logf, err := os.Create(p.logPath)
	require.NoError(t, err)
	defer logf.Close() // the child has its own descriptor
	p.cmd = exec.Command(os.Args[0], "-test.run=^$")
	p.cmd.Env = append(os.Environ(),
		nodeEnv+"="+p.id, etcdEnv+"="+c.etcd.Endpoint, nameEnv+"="+c.opts.Name,
		storeEnv+"="+c.pg.ConnString(), tableEnv+"="+c.table)
	p.cmd.Stderr = logf
	// Should the test binary die without its cleanup, take the node with it.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start(), "start node %s", p.id)
	c.mu.Lock()
	c.nodes = append(c.nodes, p)
	c.mu.Unlock()
	ready := make(chan string, 1)
	go p.read(stdout, ready)
	select {
	case p.endpoint = <-ready:
	case <-p.exited:
		t.Fatalf("node %s exited before it served:\n%s", p.id, p.logTail())
	case <-time.After(30 * time.Second):
		t.Fatalf("node %s does not serve after 30s:\n%s", p.id, p.logTail())
	}
	return p
}

// read reads the node's lines until it exits, then waits for it.
func (p *nodeProc) read(stdout interface{ Read([]byte) (int, error) }, ready chan<- string) {
	defer close(p.exited)
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		f := strings.Fields(lines.Text())
		if len(f) < 2 {
			continue
		}
		if f[0] == "listening" {
			ready <- f[1]
			continue
		}
		at, _ := strconv.ParseInt(f[1], 10, 64)
		p.mu.Lock()
		switch {
		case f[0] == "act" && len(f) == 3:
			p.acts = append(p.acts, &activation{node: p.id, key: f[2], at: at})
		case f[0] == "end" && len(f) == 4:
			for i := len(p.acts) - 1; i >= 0; i-- {
				if a := p.acts[i]; a.key == f[2] && a.end == 0 {
					a.end = at
					a.last, _ = strconv.ParseInt(f[3], 10, 64)
					break
				}
			}
		case f[0] == "fence" && len(f) == 3:
			p.fences = append(p.fences, fenceEvent{at: at, fenced: f[2] == "true"})
		case f[0] == "left":
			p.left = strings.Join(f[2:], " ")
		}
		p.mu.Unlock()
	}
	p.cmd.Wait()
}

func (p *nodeProc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// signal sends sig to the node.
func (p *nodeProc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if sig == syscall.SIGKILL {
		p.mu.Lock()
		p.killed = time.Now()
		for _, a := range p.acts {
			if a.end == 0 {
				a.killedWith = true
			}
		}
		p.mu.Unlock()
	}
	require.NoError(t, p.cmd.Process.Signal(sig), "signal %v to %s", sig, p.id)
}

// wait waits for the node to exit, at most d.
func (p *nodeProc) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(d):
		t.Fatalf("node %s still runs %v after it was told to stop:\n%s", p.id, d, p.logTail())
	}
}

func (p *nodeProc) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	if len(b) > 4<<10 {
		b = b[len(b)-4<<10:]
	}
	return string(b)
}

// killAll kills every node still running and waits for them; on failure
// it shows the end of each node's log.
func (c *testCluster) killAll() {
	c.mu.Lock()
	nodes := slices.Clone(c.nodes)
	c.mu.Unlock()
	for _, p := range nodes {
		if p.running() {
			p.cmd.Process.Kill()
		}
	}
	for _, p := range nodes {
		<-p.exited
		if c.t.Failed() {
			c.t.Logf("log of node %s:\n%s", p.id, p.logTail())
		}
	}
}

// live returns the node processes that run now.
func (c *testCluster) live() []*nodeProc {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ps []*nodeProc
	for _, p := range c.nodes {
		if p.running() {
			ps = append(ps, p)
		}
	}
	return ps
}

// client returns a cluster client placing as pl (nil: Hash); the test
// closes it.
func (c *testCluster) client(pl cluster.Placement) *cluster.Client {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := cluster.Dial(ctx, cluster.ClientOptions{Options: c.opts, Placement: pl})
	require.NoError(c.t, err, "cluster.Dial")
	c.t.Cleanup(func() { cl.Close() })
	return cl
}

// waitMembers waits until cl sees exactly the live node processes as
// members.
func (c *testCluster) waitMembers(cl *cluster.Client, d time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		var want, got []string
		for _, p := range c.live() {
			want = append(want, p.id)
		}
		for _, m := range cl.Members() {
			got = append(got, m.ID)
		}
		slices.Sort(want)
		if slices.Equal(want, got) {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("members %v after %v, want %v", got, d, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// owner returns the node the directory names for the account of key, or
// "" if none.
func (c *testCluster) owner(key string) string {
	c.t.Helper()
	id := remoting.KeyID(accountInterface, key)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.etcdc.Get(ctx, c.opts.ObjectKey(id))
	require.NoError(c.t, err, "read the directory")
	if len(resp.Kvs) == 0 {
		return ""
	}
	node, _ := cluster.OwnerOf(resp.Kvs[0].Value)
	return node
}

// memberLease returns the lease of the member key of node id, or 0 if
// it has none.
func (c *testCluster) memberLease(id string) int64 {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.etcdc.Get(ctx, c.opts.MemberKey(id))
	require.NoError(c.t, err, "read the member key")
	if len(resp.Kvs) == 0 {
		return 0
	}
	return resp.Kvs[0].Lease
}

// activations returns every activation reported so far, of every node.
func (c *testCluster) activations() []activation {
	c.mu.Lock()
	nodes := slices.Clone(c.nodes)
	c.mu.Unlock()
	var all []activation
	for _, p := range nodes {
		p.mu.Lock()
		for _, a := range p.acts {
			all = append(all, *a)
		}
		p.mu.Unlock()
	}
	return all
}

// countActivations returns how many times key activated, on any node.
func (c *testCluster) countActivations(key string) int {
	n := 0
	for _, a := range c.activations() {
		if a.key == key {
			n++
		}
	}
	return n
}

// doubleServes returns, as descriptions, every time a key activated on a
// node while another node still served it: while the other's activation
// had not ended and served a call after this one began, or had not ended
// at all and its node had not been killed.
func (c *testCluster) doubleServes() []string {
	c.mu.Lock()
	killed := map[string]int64{}
	for _, p := range c.nodes {
		p.mu.Lock()
		if !p.killed.IsZero() {
			killed[p.id] = p.killed.UnixNano()
		}
		p.mu.Unlock()
	}
	c.mu.Unlock()
	byKey := map[string][]activation{}
	for _, a := range c.activations() {
		byKey[a.key] = append(byKey[a.key], a)
	}
	// servedUntil is when activation a served its last call, as far as the
	// test can tell.
	servedUntil := func(a activation) int64 {
		switch {
		case a.end != 0:
			return max(a.at, a.last)
		case a.killedWith:
			return killed[a.node]
		}
		return 1<<63 - 1 // still active
	}
	var doubles []string
	for key, acts := range byKey {
		slices.SortFunc(acts, func(a, b activation) int { return int(a.at - b.at) })
		for i, a := range acts {
			for _, b := range acts[i+1:] {
				if b.node != a.node && b.at < servedUntil(a) {
					doubles = append(doubles, fmt.Sprintf("%s: active on %s from %s, served there until %s, and activated on %s at %s",
						key, a.node, stamp(a.at), stamp(servedUntil(a)), b.node, stamp(b.at)))
				}
			}
		}
	}
	return doubles
}

func stamp(ns int64) string {
	if ns == 1<<63-1 {
		return "now"
	}
	return time.Unix(0, ns).Format("15:04:05.000")
}

// classify names the class of a failed call's error, for the counts of
// failures: its code and the start of its message.
var digits = regexp.MustCompile(`[0-9]+`)

func classify(err error) string {
	var re *remoting.Error
	msg := err.Error()
	if errors.As(err, &re) {
		msg = re.Message
	}
	msg = digits.ReplaceAllString(msg, "N")
	if len(msg) > 100 {
		msg = msg[:100]
	}
	return fmt.Sprintf("%v: %s", remoting.CodeOf(err), msg)
}
