// Command lazy demonstrates the Lazy Acquisition pattern: a catalog that
// is expensive to load is registered without being loaded, and the first
// call loads it. However many first calls arrive together, they share one
// load; a load that fails fails the calls that waited for it, and the next
// call loads again.
//
// It runs a server and clients in one process over real loopback TCP:
//
//	go run ./examples/lazy
package main

//go:generate go tool stubgen -type Catalog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
)

// Item is one article of the catalog.
type Item struct {
	SKU   string
	Name  string
	Cents int64
}

// Catalog is the remote interface.
type Catalog interface {
	Get(ctx context.Context, sku string) (Item, error)
	Size(ctx context.Context) (int, error)
}

// catalog is the servant; loading it is the expensive part.
type catalog struct {
	items map[string]Item
	say   func(string, ...any)
}

func (c *catalog) Get(_ context.Context, sku string) (Item, error) {
	it, ok := c.items[sku]
	if !ok {
		return Item{}, remoting.Errorf(remoting.CodeNotFound, "no item %q", sku)
	}
	return it, nil
}

func (c *catalog) Size(context.Context) (int, error) { return len(c.items), nil }

// Activate and Deactivate are the optional lifecycle hooks.
func (c *catalog) Activate(context.Context) error {
	c.say("server: catalog activated with %d items; it serves every call from now on", len(c.items))
	return nil
}

func (c *catalog) Deactivate(context.Context) error {
	c.say("server: catalog deactivated at shutdown")
	return nil
}

// loader loads the catalog; its first attempt fails, as if a backend were
// briefly down.
type loader struct {
	attempts atomic.Int64
	say      func(string, ...any)
}

func (l *loader) load(ctx context.Context) (*catalog, error) {
	n := l.attempts.Add(1)
	l.say("server: loading the catalog (attempt %d) ...", n)
	select {
	case <-time.After(150 * time.Millisecond):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if n == 1 {
		l.say("server: load attempt %d failed: the price service is unavailable", n)
		return nil, remoting.Errorf(remoting.CodeUnavailable, "price service unavailable")
	}
	c := &catalog{items: make(map[string]Item), say: l.say}
	for i := range 5000 {
		sku := fmt.Sprintf("sku-%04d", i)
		c.items[sku] = Item{SKU: sku, Name: fmt.Sprintf("Article %d", i), Cents: int64(100 + i)}
	}
	l.say("server: load attempt %d done", n)
	return c, nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "lazy:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Printf("[%6.1fms] %s\n", float64(time.Since(start).Microseconds())/1000, fmt.Sprintf(format, args...))
	}

	// Server: register the catalog lazily; nothing is loaded yet.
	counts := new(remoting.EventCounts)
	srv := invoker.NewServer(invoker.Options{Observers: []remoting.Observer{counts}})
	ld := &loader{say: say}
	if _, err := srv.Register("catalog", CatalogInvoker(), lifecycle.Lazy(ld.load)); err != nil {
		return err
	}
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	say("server: \"catalog\" registered with Lazy Acquisition, listening on %s; load attempts so far: %d", lis.Addr(), ld.attempts.Load())

	c, err := requestor.Dial(ctx, "tcp://"+lis.Addr().String(), requestor.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	cat, err := LookupCatalog(ctx, c, "catalog")
	if err != nil {
		return err
	}
	say("client: looked up \"catalog\" (a lookup does not load it); load attempts so far: %d", ld.attempts.Load())

	// Round 1: the first calls arrive together, and the load fails.
	const n = 20
	errs := concurrently(n, func() error { _, err := cat.Get(ctx, "sku-0042"); return err })
	failed := 0
	for _, err := range errs {
		if errors.Is(err, remoting.ErrUnavailable) {
			failed++
		}
	}
	say("client: %d concurrent first calls: %d failed with %v", n, failed, remoting.CodeOf(errs[0]))
	if failed != n || ld.attempts.Load() != 1 {
		return fmt.Errorf("want %d calls failed by 1 load attempt, got %d failed by %d attempts (first error: %v)", n, failed, ld.attempts.Load(), errs[0])
	}
	say("client: they all waited for the same attempt: load attempts so far: %d", ld.attempts.Load())

	// Round 2: the next calls try again, and share one load.
	t0 := time.Now()
	errs = concurrently(n, func() error { _, err := cat.Get(ctx, "sku-0042"); return err })
	if err := errors.Join(errs...); err != nil {
		return err
	}
	say("client: %d concurrent calls after the failure all succeeded in %v; load attempts so far: %d",
		n, time.Since(t0).Round(time.Millisecond), ld.attempts.Load())
	if ld.attempts.Load() != 2 {
		return fmt.Errorf("want 2 load attempts, got %d", ld.attempts.Load())
	}

	// Later calls find the catalog loaded.
	t0 = time.Now()
	it, err := cat.Get(ctx, "sku-1234")
	if err != nil {
		return err
	}
	size, err := cat.Size(ctx)
	if err != nil {
		return err
	}
	say("client: Get(sku-1234) = %s, %d.%02d EUR, and Size() = %d, in %v together: no load",
		it.Name, it.Cents/100, it.Cents%100, size, time.Since(t0).Round(time.Microsecond))
	if ld.attempts.Load() != 2 {
		return fmt.Errorf("want no load after the catalog was loaded, got %d attempts", ld.attempts.Load())
	}

	if err := srv.Shutdown(ctx); err != nil {
		return err
	}
	<-served
	iface := CatalogInterface
	say("server: shut down; events: Activated %d (failed %d), Deactivated %d",
		counts.Get(iface, remoting.EventActivated), counts.Failed(iface, remoting.EventActivated), counts.Get(iface, remoting.EventDeactivated))
	if counts.Get(iface, remoting.EventActivated) != 1 || counts.Failed(iface, remoting.EventActivated) != 1 || counts.Get(iface, remoting.EventDeactivated) != 1 {
		return fmt.Errorf("want 1 activation, 1 failed activation and 1 deactivation, got %+v", counts.Snapshot())
	}
	return nil
}

// concurrently runs fn n times at once and returns the errors.
func concurrently(n int, fn func() error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = fn() })
	}
	wg.Wait()
	return errs
}
