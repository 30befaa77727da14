// Command cluster demonstrates keyed objects spread over a cluster on
// etcd: bank accounts, each active on exactly one of three node
// processes at a time, that any client calls by number through
// AccountByKey, wherever they are.
//
// It needs nothing installed. It starts a real etcd inside its own
// process (internal/etcdserver, data in a temporary directory), then
// runs itself three times more with -node 1, 2 and 3: three real node
// processes, each an invoker.Server on a loopback port that joins the
// cluster (node.Join) and serves the accounts, saved on every call
// (lifecycle.SaveEveryCall). A cluster client (cluster.Dial) then
//
//   - deposits into 15 accounts and prints the node that hosts each:
//     rendezvous hashing spreads them over the three;
//   - kills the node that runs the cluster singleton, the coordinator,
//     with SIGKILL, and prints how long its accounts took to answer again
//     on the other nodes, with their balances (about the lease TTL, 2 s:
//     until the dead node's lease ends, its claims in etcd stand), and
//     the coordinator on another node;
//   - stops the other two nodes with SIGTERM, on which each leaves the
//     cluster gracefully (node.Node.Shutdown): the first node's accounts
//     answer on the last at once, with their balances;
//   - checks that the store holds a record of every account.
//
// It exits non-zero on any mismatch, and kills every node process it
// started however it ends; a node whose demo is gone exits by itself.
//
// The nodes share the accounts' states through a store they all reach:
// etcdStore (store.go), a passivation.Store in the same etcd that keeps
// the cluster, with etcd's revisions as the versions of its versioned
// writes. A bbolt file cannot be shared between processes, and
// PostgreSQL or Redis (passivation/postgres, passivation/redis, the
// stores of a real deployment) would have to be installed.
//
//	go run ./examples/cluster
package main

//go:generate go tool stubgen -type Account,Coordinator

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/cluster"
	"github.com/remoting-go/remoting/internal/etcdserver"
	"github.com/remoting-go/remoting/passivation"
)

// Account is a bank account, a keyed object: its key is its number.
type Account interface {
	// Deposit adds amount to the balance.
	Deposit(ctx context.Context, amount int64) (Receipt, error)
	// Balance returns the balance. It changes nothing, so the node does
	// not save the account after it.
	//
	//remoting:readonly
	Balance(ctx context.Context) (Receipt, error)
}

// Receipt is an account's answer: its balance, and the node that gave it.
type Receipt struct {
	Balance int64
	Node    string
}

// Coordinator is the cluster singleton: it runs on one node of the
// cluster at a time, and on another once that node is gone.
type Coordinator interface {
	// Node returns the id of the node the coordinator runs on.
	Node(ctx context.Context) (string, error)
}

const nodes = 3

func main() {
	n := flag.Int("node", 0, "run as node `N` of the demo's cluster (the demo starts its nodes so)")
	etcd := flag.String("etcd", "", "the etcd endpoint of the cluster, with -node")
	flag.Parse()
	var err error
	if *n > 0 {
		err = runNode(*n, *etcd)
	} else {
		err = run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

// proc is a node process the demo started.
type proc struct {
	id    string
	cmd   *exec.Cmd
	stdin io.Closer
	ready chan string   // the node's endpoint, once it serves
	done  chan struct{} // closed when the process has exited; err is its end
	err   error
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// demo is the parent process: the etcd, the node processes and the
// client.
type demo struct {
	start time.Time
	mu    sync.Mutex
	procs []*proc
	out   sync.WaitGroup // the readers of the nodes' output
}

// say prints a line stamped with the time since the demo started.
func (d *demo) say(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Printf("[%6.0fms] %s\n", float64(time.Since(d.start).Microseconds())/1000, fmt.Sprintf(format, args...))
}

// startNode runs this program again as node n.
func (d *demo) startNode(n int, etcd string) (*proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	p := &proc{id: nodeID(n), ready: make(chan string, 1), done: make(chan struct{})}
	p.cmd = exec.Command(self, "-node", fmt.Sprint(n), "-etcd", etcd)
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	stdin, err := p.cmd.StdinPipe()
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	p.stdin = stdin
	err = p.cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("start %s: %w", p.id, err)
	}
	d.procs = append(d.procs, p)
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	d.out.Go(func() {
		defer r.Close()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if ep, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				p.ready <- ep
				continue
			}
			d.say("  %s| %s", p.id, sc.Text())
		}
	})
	return p, nil
}

// stopAll kills the node processes that still run and waits for them and
// for their output.
func (d *demo) stopAll() {
	for _, p := range d.procs {
		if !p.exited() {
			p.cmd.Process.Kill()
		}
		p.stdin.Close()
		<-p.done
	}
	d.out.Wait()
}

// stop sends sig to p and waits until it exits, for at most 10 s.
func (d *demo) stop(p *proc, sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %s: %w", p.id, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s still runs 10s after %v", p.id, sig)
	}
}

func run() error {
	d := &demo{start: time.Now()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	dir, err := os.MkdirTemp("", "remoting-cluster-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	etcd, err := etcdserver.Start(filepath.Join(dir, "etcd"))
	if err != nil {
		return err
	}
	defer etcd.Stop()
	defer d.stopAll() // before etcd stops
	d.say("etcd: serving at %s (embedded in this process)", etcd.Endpoint)

	byID := map[string]*proc{}
	for n := 1; n <= nodes; n++ {
		p, err := d.startNode(n, etcd.Endpoint)
		if err != nil {
			return err
		}
		byID[p.id] = p
	}
	for _, p := range d.procs {
		select {
		case ep := <-p.ready:
			d.say("%s: process %d serves at %s, joined with a lease of %v", p.id, p.cmd.Process.Pid, ep, ttl)
		case <-p.done:
			return fmt.Errorf("%s exited before it served: %v", p.id, p.err)
		case <-ctx.Done():
			return fmt.Errorf("%s did not serve: %w", p.id, ctx.Err())
		}
	}

	client, err := cluster.Dial(ctx, cluster.ClientOptions{Options: clusterOptions(etcd.Endpoint, nil)})
	if err != nil {
		return err
	}
	defer client.Close()
	if err := await(ctx, "3 members", func() bool { return len(client.Members()) == nodes }); err != nil {
		return err
	}
	d.say("client: cluster %q has members %s", clusterName, memberIDs(client))

	// Deposits into 15 accounts: each activates on the node the
	// placement picks, which claims it in etcd.
	balance := map[string]int64{}
	hosts := map[string][]string{}
	var numbers []string
	var rows []string
	for i := range 15 {
		number := fmt.Sprint(1001 + i)
		numbers = append(numbers, number)
		acct, err := AccountByKey(client, number)
		if err != nil {
			return err
		}
		amount := int64(100 * (i + 1))
		r, err := acct.Deposit(ctx, amount)
		if err != nil {
			return fmt.Errorf("deposit into %s: %w", number, err)
		}
		if r.Balance != amount {
			return fmt.Errorf("account %s: balance %d after its first deposit of %d", number, r.Balance, amount)
		}
		balance[number] = r.Balance
		hosts[r.Node] = append(hosts[r.Node], number)
		rows = append(rows, number+"@"+r.Node)
	}
	d.say("client: deposited into 15 accounts: %s", strings.Join(rows, " "))
	for n := 1; n <= nodes; n++ {
		id := nodeID(n)
		if len(hosts[id]) == 0 {
			return fmt.Errorf("%s hosts none of the 15 accounts", id)
		}
		d.say("client: %s hosts %d accounts: %s", id, len(hosts[id]), strings.Join(hosts[id], " "))
	}

	// The coordinator runs on one node, the leader of its election.
	var coord *CoordinatorProxy
	var lookupErr error
	if err := await(ctx, "leader of the coordinator", func() bool {
		coord, lookupErr = LookupCoordinator(ctx, client, coordinatorName)
		return lookupErr == nil
	}); err != nil {
		return fmt.Errorf("%w: %v", err, lookupErr)
	}
	leader, err := coord.Node(ctx)
	if err != nil {
		return err
	}
	d.say("client: the coordinator (a cluster singleton) runs on %s", leader)

	// Crash: SIGKILL the coordinator's node. Until its lease ends in etcd
	// its claims stand and its accounts cannot activate elsewhere; then
	// the client's next call places each on a live node, which loads it
	// from the store.
	victim := byID[leader]
	moved := hosts[leader]
	killed := time.Now()
	if err := d.stop(victim, syscall.SIGKILL); err != nil {
		return err
	}
	d.say("SIGKILL %s (process %d): it hosted accounts %s and the coordinator", victim.id, victim.cmd.Process.Pid, strings.Join(moved, " "))
	rows = rows[:0]
	for _, number := range moved {
		r, took, err := retry(ctx, killed, func(ctx context.Context) (Receipt, error) {
			acct, err := AccountByKey(client, number)
			if err != nil {
				return Receipt{}, err
			}
			return acct.Balance(ctx)
		})
		if err != nil {
			return fmt.Errorf("account %s after the crash: %w", number, err)
		}
		if r.Balance != balance[number] || r.Node == leader {
			return fmt.Errorf("account %s after the crash: balance %d on %s, want %d on another node than %s", number, r.Balance, r.Node, balance[number], leader)
		}
		rows = append(rows, fmt.Sprintf("%s@%s=%d (%v)", number, r.Node, r.Balance, took.Round(time.Millisecond)))
	}
	d.say("client: %s's accounts answer again, balances intact, after the kill: %s", leader, strings.Join(rows, " "))
	d.say("client: every one answered within %v of the kill (lease TTL %v)", time.Since(killed).Round(time.Millisecond), ttl)
	next, took, err := retry(ctx, killed, func(ctx context.Context) (string, error) {
		n, err := coord.Node(ctx)
		if err == nil && n == leader {
			err = errors.New("the coordinator still answers from its dead node")
		}
		return n, err
	})
	if err != nil {
		return fmt.Errorf("the coordinator after the crash: %w", err)
	}
	d.say("client: the coordinator answers on %s, %v after the kill", next, took.Round(time.Millisecond))

	// Every account takes deposits wherever it is now.
	hosts = map[string][]string{}
	for _, number := range numbers {
		acct, err := AccountByKey(client, number)
		if err != nil {
			return err
		}
		r, err := acct.Deposit(ctx, 1)
		if err != nil {
			return fmt.Errorf("deposit into %s after the crash: %w", number, err)
		}
		if balance[number]++; r.Balance != balance[number] {
			return fmt.Errorf("account %s: balance %d, want %d", number, r.Balance, balance[number])
		}
		hosts[r.Node] = append(hosts[r.Node], number)
	}
	var live []string
	for n := 1; n <= nodes; n++ {
		if id := nodeID(n); id != leader {
			live = append(live, id)
			d.say("client: deposited 1 into each account: %s hosts %s", id, strings.Join(hosts[id], " "))
		}
	}

	// Graceful stop: SIGTERM, on which a node leaves the cluster and
	// hands its accounts off (saved, released) before it stops; the
	// next call of each finds it on the last node at once.
	first, last := byID[live[0]], byID[live[1]]
	left := time.Now()
	if err := d.stop(first, syscall.SIGTERM); err != nil {
		return err
	}
	if first.err != nil {
		return fmt.Errorf("%s after SIGTERM: %v", first.id, first.err)
	}
	d.say("SIGTERM %s: it left the cluster and exited (%v)", first.id, time.Since(left).Round(time.Millisecond))
	t0 := time.Now()
	for _, number := range hosts[first.id] {
		acct, err := AccountByKey(client, number)
		if err != nil {
			return err
		}
		r, err := acct.Balance(ctx)
		if err != nil {
			return fmt.Errorf("account %s after %s left: %w", number, first.id, err)
		}
		if r.Balance != balance[number] || r.Node != last.id {
			return fmt.Errorf("account %s after %s left: balance %d on %s, want %d on %s", number, first.id, r.Balance, r.Node, balance[number], last.id)
		}
	}
	d.say("client: %s's accounts %s answer on %s with their balances, %v for all of them, no call failed",
		first.id, strings.Join(hosts[first.id], " "), last.id, time.Since(t0).Round(time.Millisecond))
	if err := d.stop(last, syscall.SIGTERM); err != nil {
		return err
	}
	if last.err != nil {
		return fmt.Errorf("%s after SIGTERM: %v", last.id, last.err)
	}
	d.say("SIGTERM %s: it left the cluster and exited; no node runs", last.id)

	return d.checkStore(ctx, etcd.Endpoint, numbers)
}

// checkStore checks that the store the nodes shared holds a record of
// every account, and no other.
func (d *demo) checkStore(ctx context.Context, etcd string, numbers []string) error {
	store, err := openEtcdStore([]string{etcd}, statePrefix)
	if err != nil {
		return err
	}
	defer store.Close()
	want := map[remoting.ObjectID]string{}
	for _, number := range numbers {
		want[remoting.KeyID(AccountInterface, number)] = number
	}
	n := 0
	err = store.List(ctx, func(id remoting.ObjectID, rec passivation.Record) error {
		if _, ok := want[id]; !ok {
			return fmt.Errorf("the store has a record of %v, no account of the demo", id)
		}
		n++
		return nil
	})
	if err != nil {
		return err
	}
	if n != len(want) {
		return fmt.Errorf("the store has %d records, want one per account, %d", n, len(want))
	}
	d.say("store: one record per account, %d in all, in etcd under %s", n, statePrefix)
	return nil
}

// retry calls call until it succeeds, each try bounded to half a
// second, for at most the lease TTL and 3 s after since; it returns the
// result and how long after since it came.
func retry[T any](ctx context.Context, since time.Time, call func(context.Context) (T, error)) (T, time.Duration, error) {
	deadline := since.Add(ttl + 3*time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		v, err := call(cctx)
		cancel()
		if err == nil {
			return v, time.Since(since), nil
		}
		if time.Now().After(deadline) {
			return v, time.Since(since), fmt.Errorf("still failing %v later: %w", time.Since(since).Round(time.Millisecond), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// await polls cond until it holds, for at most 10 s.
func await(ctx context.Context, what string, cond func() bool) error {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("no %s after 10s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

func memberIDs(c *cluster.Client) string {
	var ids []string
	for _, m := range c.Members() {
		ids = append(ids, m.ID)
	}
	slices.Sort(ids)
	return strings.Join(ids, " ")
}
