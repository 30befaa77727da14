// Command accounts demonstrates keyed objects: bank accounts named by their
// numbers, which any client calls through AccountByKey without a lookup or
// a factory. The first call of an account number activates its object from
// the store; an account that sits idle is passivated (state saved, instance
// dropped); each deposit is saved before it is acknowledged
// (lifecycle.SaveEveryCall), so a server that restarts on the same store,
// or dies, loses none.
//
// It runs two servers, one after the other, on a bbolt file in a
// temporary directory, and two clients, in one process over real loopback
// TCP, and prints what happens at each step:
//
//	go run ./examples/accounts                  # on a bbolt file: nothing to install
//	go run ./examples/accounts -store postgres -url postgres://user@127.0.0.1:5432/db
//	go run ./examples/accounts -store redis -url redis://127.0.0.1:6379/0
//
// Against PostgreSQL or Redis each run keeps its accounts under names of
// its own (a table, a key prefix), so that runs do not see each other's.
package main

//go:generate go tool stubgen -type Account

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/passivation"
	"github.com/remoting-go/remoting/passivation/bolt"
	"github.com/remoting-go/remoting/passivation/postgres"
	"github.com/remoting-go/remoting/passivation/redis"
	"github.com/remoting-go/remoting/requestor"
)

// Account is a bank account, a keyed object: its key is its number.
type Account interface {
	// Deposit adds amount and returns the new balance.
	Deposit(ctx context.Context, amount int64) (int64, error)
	// Withdraw takes amount out, if the balance covers it, and returns the
	// new balance.
	Withdraw(ctx context.Context, amount int64) (int64, error)
	// Balance returns the balance. It changes nothing, so the server does
	// not save the account after it.
	//
	//remoting:readonly
	Balance(ctx context.Context) (int64, error)
}

// ErrInsufficientFunds is what Withdraw returns for more than the balance.
var ErrInsufficientFunds = errors.New("insufficient funds")

// account is the servant. A keyed object serves one call at a time, so it
// needs no lock.
type account struct {
	number string
	state  accountState
	say    func(string, ...any)
}

// accountState is what the store keeps of an account.
type accountState struct {
	Balance int64
	Ops     int
}

const accountSchema = 1

func newAccount(say func(string, ...any)) func(context.Context, string) (*account, error) {
	return func(_ context.Context, number string) (*account, error) {
		return &account{number: number, say: say}, nil
	}
}

func (a *account) Deposit(_ context.Context, amount int64) (int64, error) {
	a.state.Balance += amount
	a.state.Ops++
	return a.state.Balance, nil
}

func (a *account) Withdraw(_ context.Context, amount int64) (int64, error) {
	if amount > a.state.Balance {
		return a.state.Balance, ErrInsufficientFunds
	}
	a.state.Balance -= amount
	a.state.Ops++
	return a.state.Balance, nil
}

func (a *account) Balance(context.Context) (int64, error) { return a.state.Balance, nil }

// SaveState and RestoreState are the hooks of passivation.
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

func (a *account) Activate(context.Context) error {
	a.say("server: account %s activated (balance %d after %d operations)", a.number, a.state.Balance, a.state.Ops)
	return nil
}

func (a *account) Deactivate(context.Context) error {
	a.say("server: account %s instance dropped", a.number)
	return nil
}

const idle = 200 * time.Millisecond

func main() {
	storeKind := flag.String("store", "bolt", "the store of the accounts' states: bolt (a bbolt file in a temporary directory), postgres or redis")
	flag.StringVar(&storeURL, "url", os.Getenv("REMOTING_STORE_URL"), "the server of -store postgres or redis (default $REMOTING_STORE_URL)")
	flag.Parse()
	if err := run(*storeKind); err != nil {
		fmt.Fprintln(os.Stderr, "accounts:", err)
		os.Exit(1)
	}
}

// storeURL is the server of a PostgreSQL or Redis store.
var storeURL string

// runName names this run's table or key prefix in a shared store.
var runName = fmt.Sprintf("accounts_%d", time.Now().UnixNano())

// openStore opens the store of the accounts' states. Any
// passivation.Store serves: each kind is opened here, by the name -store
// gives it; every run of the servers below opens the same one.
func openStore(kind, dir string) (passivation.Store, string, error) {
	switch kind {
	case "bolt":
		path := filepath.Join(dir, "accounts.db")
		s, err := bolt.Open(path, bolt.Options{})
		return s, path, err
	case "postgres":
		if storeURL == "" {
			return nil, "", errors.New("-store postgres needs -url")
		}
		s, err := postgres.Open(storeURL, postgres.Options{Table: runName})
		return s, "table " + runName, err
	case "redis":
		if storeURL == "" {
			return nil, "", errors.New("-store redis needs -url")
		}
		s, err := redis.Open(storeURL, redis.Options{Prefix: runName + ":"})
		return s, "keys " + runName + ":*", err
	}
	return nil, "", fmt.Errorf("-store %q: unknown store (want bolt, postgres or redis)", kind)
}

// server is one run of the bank's server on the store.
type server struct {
	srv    *invoker.Server
	store  passivation.Store
	served chan error
	events chan remoting.Event
}

func startServer(kind, dir string, lis net.Listener, say func(string, ...any)) (*server, error) {
	store, where, err := openStore(kind, dir)
	if err != nil {
		return nil, err
	}
	s := &server{store: store, served: make(chan error, 1), events: make(chan remoting.Event, 64)}
	watch := remoting.ObserverFunc(func(e remoting.Event) {
		if e.Kind != remoting.EventPassivated {
			return
		}
		if e.Err != nil {
			say("server: passivating account %s failed, it stays in memory: %v", e.Key, e.Err)
		} else {
			say("server: account %s passivated: state in %s", e.Key, filepath.Base(where))
		}
		select {
		case s.events <- e:
		default:
		}
	})
	s.srv = invoker.NewServer(invoker.Options{Observers: []remoting.Observer{watch}})
	accounts := lifecycle.Keyed(newAccount(say), lifecycle.KeyedOptions{
		Store:          store,
		PassivateAfter: idle,
		Durability:     lifecycle.SaveEveryCall,
	})
	if err := s.srv.Keyed(AccountInvoker(), accounts); err != nil {
		store.Close()
		return nil, err
	}
	go func() { s.served <- s.srv.Serve(lis) }()
	return s, nil
}

func (s *server) stop(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	<-s.served
	return errors.Join(err, s.store.Close())
}

// awaitPassivated waits until n accounts have passivated.
func (s *server) awaitPassivated(n int) error {
	timeout := time.After(5 * time.Second)
	for n > 0 {
		select {
		case e := <-s.events:
			if e.Err == nil {
				n--
			}
		case <-timeout:
			return errors.New("accounts did not passivate")
		}
	}
	return nil
}

// listed returns the keys of the keyed objects the server has in memory.
func (s *server) listed() []string {
	var keys []string
	for _, o := range s.srv.Objects() {
		if o.Strategy == lifecycle.NameKeyed {
			keys = append(keys, o.Key)
		}
	}
	return keys
}

func run(kind string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf("[%7.1fms] %s\n", float64(time.Since(start).Microseconds())/1000, fmt.Sprintf(format, args...))
	}
	dir, err := os.MkdirTemp("", "remoting-accounts-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := lis.Addr().String()
	s1, err := startServer(kind, dir, lis, say)
	if err != nil {
		return err
	}
	say("server: accounts are keyed objects on the %s store, saved on every call, passivated after %v idle; listening on %s", kind, idle, addr)

	// Two clients, each with its own connection, call accounts by number.
	dial := func() (*requestor.Client, error) {
		return requestor.Dial(ctx, "tcp://"+addr, requestor.Options{RedialBackoff: 20 * time.Millisecond})
	}
	alice, err := dial()
	if err != nil {
		return err
	}
	defer alice.Close()
	bob, err := dial()
	if err != nil {
		return err
	}
	defer bob.Close()
	a1001, err := AccountByKey(alice, "1001")
	if err != nil {
		return err
	}
	b1001, err := AccountByKey(bob, "1001")
	if err != nil {
		return err
	}
	b2002, err := AccountByKey(bob, "2002")
	if err != nil {
		return err
	}
	say("client: account 1001 is %v (computed, no call made)", a1001.Ref())
	if _, err := a1001.Deposit(ctx, 100); err != nil {
		return err
	}
	if _, err := b1001.Deposit(ctx, 50); err != nil {
		return err
	}
	if _, err := b2002.Deposit(ctx, 7); err != nil {
		return err
	}
	if _, err := a1001.Withdraw(ctx, 1000); !errors.Is(err, remoting.ErrApplication) {
		return fmt.Errorf("withdraw over the balance: want an application error, got %v", err)
	}
	n, err := a1001.Balance(ctx)
	if err != nil {
		return err
	}
	say("client: alice deposited 100 and bob 50 into account 1001; both see balance %d; bob put 7 into 2002", n)
	if n != 150 {
		return fmt.Errorf("balance of 1001: %d, want 150", n)
	}
	say("server: accounts in memory: %v", s1.listed())

	// Idle accounts passivate; the next call brings them back.
	if err := s1.awaitPassivated(2); err != nil {
		return err
	}
	if keys := s1.listed(); len(keys) != 0 {
		return fmt.Errorf("accounts in memory after passivation: %v, want none", keys)
	}
	say("client: after %v idle, accounts in memory: none", idle)
	if n, err = b1001.Deposit(ctx, 25); err != nil {
		return err
	}
	say("client: bob deposited 25 into 1001: balance %d", n)
	if n != 175 {
		return fmt.Errorf("balance of 1001 after reactivation: %d, want 175", n)
	}

	// Restart: every deposit was saved when it was acknowledged, so the
	// next server on the same store has them all.
	if err := s1.stop(ctx); err != nil {
		return err
	}
	say("server: shut down")
	lis2, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s2, err := startServer(kind, dir, lis2, say)
	if err != nil {
		return err
	}
	say("server: restarted on the same store; accounts in memory: %d", len(s2.listed()))
	for _, c := range []struct {
		p *AccountProxy
		w int64
	}{{a1001, 175}, {b2002, 7}} {
		p, w := c.p, c.w
		var got int64
		for t0 := time.Now(); ; {
			got, err = p.Balance(ctx) // the clients reconnect
			if err == nil || time.Since(t0) > 5*time.Second {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			return fmt.Errorf("account %s after the restart: %w", p.Ref().Key, err)
		}
		say("client: after the restart account %s has balance %d", p.Ref().Key, got)
		if got != w {
			return fmt.Errorf("account %s after the restart: balance %d, want %d", p.Ref().Key, got, w)
		}
	}
	return s2.stop(ctx)
}
