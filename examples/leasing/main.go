// Command leasing demonstrates Client-Dependent Instances with Leasing: a
// shop's remote factory, Shop.NewCart, makes a shopping cart for each
// client that asks, which only that client can use. Each cart has a lease
// of 600ms: calls renew it, and so does the client, in the background,
// while it holds the cart's proxy. A cart ends when its client releases
// it, when its lease runs out (its proxy was dropped), or when its client
// has been gone for longer than the server's grace period.
//
// It runs a server and several clients in one process over real loopback
// TCP, and prints what happens at each step of a cart's life:
//
//	go run ./examples/leasing
package main

//go:generate go tool stubgen -type Shop,Cart

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
)

// Item is one line of a cart.
type Item struct {
	SKU string
	Qty int
}

// Shop is the remote factory.
type Shop interface {
	// NewCart makes an empty cart for the calling client.
	NewCart(ctx context.Context, customer string) (Cart, error)
}

// Cart is a client-dependent object: each belongs to the client that made
// it.
type Cart interface {
	Add(ctx context.Context, sku string, qty int) error
	Items(ctx context.Context) ([]Item, error)
}

// shop is the factory's servant.
type shop struct{ say func(string, ...any) }

func (s shop) NewCart(_ context.Context, customer string) (Cart, error) {
	return &cart{customer: customer, items: map[string]int{}, say: s.say}, nil
}

// cart is one client's cart.
type cart struct {
	customer string
	say      func(string, ...any)
	mu       sync.Mutex
	items    map[string]int
}

func (c *cart) Add(_ context.Context, sku string, qty int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.items[sku] += qty
	return nil
}

func (c *cart) Items(context.Context) ([]Item, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Item, 0, len(c.items))
	for sku, qty := range c.items {
		out = append(out, Item{sku, qty})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SKU < out[j].SKU })
	return out, nil
}

// Deactivate is the lifecycle hook that runs when a cart ends.
func (c *cart) Deactivate(context.Context) error {
	c.say("server: %s's cart ends (Deactivate), with %d SKUs in it", c.customer, len(c.items))
	return nil
}

const (
	ttl   = 600 * time.Millisecond
	grace = 800 * time.Millisecond
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "leasing:", err)
		os.Exit(1)
	}
}

// watcher prints the lifecycle events of carts and lets the demo wait for
// them.
type watcher struct {
	say      func(string, ...any)
	renewals atomic.Int64
	mu       sync.Mutex
	seen     map[remoting.ObjectID][]remoting.EventKind
	changed  chan struct{}
}

func (w *watcher) Observe(e remoting.Event) {
	if e.Interface != CartInterface {
		return
	}
	switch e.Kind {
	case remoting.EventLeaseRenewed:
		w.renewals.Add(1)
	case remoting.EventLeaseExpired:
		w.say("server: the lease of cart %s expired", short(e.ObjectID))
	}
	w.mu.Lock()
	w.seen[e.ObjectID] = append(w.seen[e.ObjectID], e.Kind)
	w.mu.Unlock()
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// wait waits until cart id had an event of kind, or 5 seconds pass.
func (w *watcher) wait(id remoting.ObjectID, kind remoting.EventKind) error {
	deadline := time.After(5 * time.Second)
	for {
		w.mu.Lock()
		for _, k := range w.seen[id] {
			if k == kind {
				w.mu.Unlock()
				return nil
			}
		}
		w.mu.Unlock()
		select {
		case <-w.changed:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			return fmt.Errorf("cart %s: no %v event", short(id), kind)
		}
	}
}

func (w *watcher) has(id remoting.ObjectID, kind remoting.EventKind) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, k := range w.seen[id] {
		if k == kind {
			return true
		}
	}
	return false
}

func short(id remoting.ObjectID) string { return id.String()[:8] }

func refOf(c Cart) remoting.Ref { return c.(*CartProxy).Ref() }

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Printf("[%7.1fms] %s\n", float64(time.Since(start).Microseconds())/1000, fmt.Sprintf(format, args...))
	}

	// Server: carts live by a client-dependent policy with a lease.
	w := &watcher{say: say, seen: map[remoting.ObjectID][]remoting.EventKind{}, changed: make(chan struct{}, 1)}
	srv := invoker.NewServer(invoker.Options{OwnerGrace: grace, Observers: []remoting.Observer{w}})
	if err := srv.Policy(CartInvoker(), lifecycle.ClientDependent(lifecycle.ClientDependentOptions{TTL: ttl})); err != nil {
		return err
	}
	if _, err := srv.Register("shop", ShopInvoker(), lifecycle.Static(shop{say: say})); err != nil {
		return err
	}
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	endpoint := "tcp://" + lis.Addr().String()
	say("server: carts live by a lease of %v, renewed by calls and by their client; a vanished client's carts end %v after it left", ttl, grace)

	dial := func() (*requestor.Client, *ShopProxy, error) {
		c, err := requestor.Dial(ctx, endpoint, requestor.Options{})
		if err != nil {
			return nil, nil, err
		}
		s, err := LookupShop(ctx, c, "shop")
		if err != nil {
			c.Close()
			return nil, nil, err
		}
		return c, s, nil
	}

	// 1. Alice makes a cart and fills it.
	alice, aliceShop, err := dial()
	if err != nil {
		return err
	}
	defer alice.Close()
	ac, err := aliceShop.NewCart(ctx, "alice")
	if err != nil {
		return err
	}
	aliceCart := refOf(ac)
	if err := ac.Add(ctx, "tea", 2); err != nil {
		return err
	}
	if err := ac.Add(ctx, "scones", 6); err != nil {
		return err
	}
	say("alice: Shop.NewCart made cart %s for her; added tea and scones", short(aliceCart.ID))

	// 2. She makes no call for more than three TTLs: her client's renewer
	// keeps the cart.
	idle := 4 * ttl
	time.Sleep(idle)
	items, err := ac.Items(ctx)
	if err != nil {
		return fmt.Errorf("alice's cart after %v without a call: %w", idle, err)
	}
	say("alice: after %v without a call the cart is still there: %v (%d lease renewals so far, by calls and by her client's renewer)", idle, items, w.renewals.Load())
	if len(items) != 2 {
		return fmt.Errorf("alice's cart: want 2 lines, got %v", items)
	}

	// 3. Bob has the reference of Alice's cart, but it is not his.
	bob, _, err := dial()
	if err != nil {
		return err
	}
	defer bob.Close()
	_, err = NewCartProxy(bob, aliceCart).Items(ctx)
	say("bob: Items on alice's cart: %v", err)
	if !errors.Is(err, remoting.ErrNotFound) {
		return fmt.Errorf("bob on alice's cart: want NotFound, got %v", err)
	}

	// 4. Alice checks out and releases the cart: it ends at once.
	if err := alice.Release(ctx, aliceCart); err != nil {
		return err
	}
	say("alice: released her cart; her client holds %d objects now", alice.Held())
	if !w.has(aliceCart.ID, remoting.EventDeactivated) {
		return fmt.Errorf("alice's cart was not deactivated when Release returned")
	}
	_, err = ac.Items(ctx)
	say("alice: Items on the released cart: %v", err)
	if !errors.Is(err, remoting.ErrNotFound) {
		return fmt.Errorf("a released cart: want NotFound, got %v", err)
	}

	// 5. Carol drops her cart's proxy without releasing it: nothing
	// renews the lease any more, so the cart expires.
	carol, carolShop, err := dial()
	if err != nil {
		return err
	}
	defer carol.Close()
	carolCart, err := func() (remoting.Ref, error) {
		cc, err := carolShop.NewCart(ctx, "carol")
		if err != nil {
			return remoting.Ref{}, err
		}
		return refOf(cc), cc.Add(ctx, "jam", 1)
	}()
	if err != nil {
		return err
	}
	say("carol: made cart %s, added jam, and dropped the proxy", short(carolCart.ID))
	dropped := time.Now()
	for carol.Held() > 0 && time.Since(dropped) < 5*time.Second {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	say("carol: the proxy was garbage collected; her client holds %d objects and stopped renewing", carol.Held())
	if err := w.wait(carolCart.ID, remoting.EventDeactivated); err != nil {
		return err
	}
	say("server: carol's cart ended %v after she dropped it (the TTL is %v)", time.Since(dropped).Round(time.Millisecond), ttl)
	_, err = NewCartProxy(carol, carolCart).Items(ctx)
	say("carol: Items with the cart's old reference: %v", err)
	if !errors.Is(err, remoting.ErrFailedPrecondition) {
		return fmt.Errorf("an expired cart: want FailedPrecondition, got %v", err)
	}

	// 6. Dave makes a cart and vanishes: after the grace period his cart
	// ends, although its lease was being renewed.
	dave, daveShop, err := dial()
	if err != nil {
		return err
	}
	dc, err := daveShop.NewCart(ctx, "dave")
	if err != nil {
		dave.Close()
		return err
	}
	daveCart := refOf(dc)
	if err := dc.Add(ctx, "bread", 1); err != nil {
		dave.Close()
		return err
	}
	dave.Close()
	gone := time.Now()
	say("dave: made cart %s, added bread, and disconnected", short(daveCart.ID))
	if err := w.wait(daveCart.ID, remoting.EventDeactivated); err != nil {
		return err
	}
	after := time.Since(gone)
	say("server: dave's cart ended %v after he left (the grace period is %v)", after.Round(time.Millisecond), grace)
	if after < grace*3/4 {
		return fmt.Errorf("dave's cart ended %v after he left, before the grace period of %v", after, grace)
	}

	if err := srv.Shutdown(ctx); err != nil {
		return err
	}
	<-served
	say("server: shut down after %d lease renewals", w.renewals.Load())
	return nil
}
