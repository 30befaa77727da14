package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/remoting-go/remoting/cluster"
	"github.com/remoting-go/remoting/cluster/node"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/passivation"
)

// The cluster every process of the demo is part of.
const (
	clusterName = "bank"
	// ttl is the lease of a node: the longest a dead node's accounts stay
	// unreachable.
	ttl = 2 * time.Second
	// statePrefix is where the etcd store keeps the accounts' states.
	statePrefix = "/remoting-demo/bank/accounts/"
	// coordinatorName is the name of the cluster singleton.
	coordinatorName = "coordinator"
)

func clusterOptions(etcd string, logger *slog.Logger) cluster.Options {
	return cluster.Options{Endpoints: []string{etcd}, Name: clusterName, TTL: ttl, Logger: logger}
}

// nodeID is the id of the n-th node. The demo names its nodes so that
// they place its accounts the same way every run; a cluster's nodes
// normally take the random ids node.Join gives them.
func nodeID(n int) string { return fmt.Sprintf("node-%d", n) }

// account is the servant of Account. A keyed object serves one call at a
// time, so it needs no lock.
type account struct {
	number, node string
	state        accountState
	say          func(string, ...any)
}

// accountState is what the store keeps of an account.
type accountState struct {
	Balance int64
	Ops     int
}

const accountSchema = 1

func (a *account) Deposit(_ context.Context, amount int64) (Receipt, error) {
	a.state.Balance += amount
	a.state.Ops++
	return Receipt{Balance: a.state.Balance, Node: a.node}, nil
}

func (a *account) Balance(context.Context) (Receipt, error) {
	return Receipt{Balance: a.state.Balance, Node: a.node}, nil
}

func (a *account) SaveState(context.Context) ([]byte, error) {
	return passivation.Encode(accountSchema, a.state)
}

func (a *account) RestoreState(_ context.Context, data []byte) error {
	schema, err := passivation.Decode(data, &a.state)
	if err == nil && schema != accountSchema {
		err = fmt.Errorf("account state of schema %d, want %d", schema, accountSchema)
	}
	return err
}

// Activate reports an account that comes back from the store: one that
// another node hosted before.
func (a *account) Activate(context.Context) error {
	if a.state.Ops > 0 {
		a.say("account %s activated here with balance %d from the store", a.number, a.state.Balance)
	}
	return nil
}

// coordinator is the servant of the cluster singleton.
type coordinator struct{ node string }

func (c coordinator) Node(context.Context) (string, error) { return c.node, nil }

// runNode is the process of node n: a server on a loopback port that
// joins the cluster on the etcd at etcd, serves the accounts on the
// shared store and stands for the coordinator, until SIGTERM, when it
// leaves gracefully. It prints "ready <endpoint>" once it serves, and
// other lines for the demo to show. It exits at once, without leaving,
// when its standard input ends: the demo that started it holds the other
// end, so a node never outlives the demo, however the demo ends.
func runNode(n int, etcd string) error {
	id := nodeID(n)
	say := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{} // the demo stamps each line
			}
			return a
		},
	}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	orphaned := make(chan struct{})
	go func() { // ends with the process
		io.Copy(io.Discard, os.Stdin)
		close(orphaned)
	}()

	store, err := openEtcdStore([]string{etcd}, statePrefix)
	if err != nil {
		return err
	}
	defer store.Close()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := invoker.NewServer(invoker.Options{})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	nd, err := node.Join(ctx, node.Options{
		Options:  clusterOptions(etcd, logger),
		Endpoint: "tcp://" + lis.Addr().String(),
		Server:   srv,
		ID:       id,
	})
	if err != nil {
		srv.Close()
		<-served
		return err
	}
	newAccount := func(_ context.Context, number string) (*account, error) {
		return &account{number: number, node: id, say: say}, nil
	}
	accounts := lifecycle.Keyed(newAccount, lifecycle.KeyedOptions{
		Store:      store,
		Durability: lifecycle.SaveEveryCall,
		Directory:  nd,
	})
	err = srv.Keyed(AccountInvoker(), accounts)
	if err == nil {
		err = nd.Singleton(coordinatorName, CoordinatorInvoker(), func() lifecycle.Strategy {
			return lifecycle.Static(coordinator{node: id})
		})
	}
	if err != nil {
		nd.Close()
		srv.Close()
		<-served
		return err
	}
	fmt.Println("ready", nd.Endpoint())

	select {
	case <-ctx.Done():
		say("SIGTERM: leaving the cluster")
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := nd.Shutdown(sctx) // hands the accounts off, then stops the server
		<-served
		if err != nil {
			return fmt.Errorf("leave: %w", err)
		}
		say("left the cluster: %d accounts saved and released", nd.Status().Evicted)
		return nil
	case <-orphaned:
		// As a crash would: the etcd may be gone with the demo, and a
		// node that closed could wait for it.
		fmt.Fprintln(os.Stderr, "cluster: the demo that started this node has gone")
		os.Exit(1)
		return nil
	}
}
