// Command static demonstrates the Static Instance pattern: one instance,
// created before the server starts, serves every call from every client
// until the server shuts down.
//
// It runs a server and a client in one process over real loopback TCP:
//
//	go run ./examples/static
//
// With -serve it only serves the catalog, on the address given, until
// Ctrl-C or SIGTERM, for other clients such as the command-line client
// cmd/remoting:
//
//	go run ./examples/static -serve 127.0.0.1:4000
package main

//go:generate go tool stubgen -type Catalog

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
	Tags  []string
}

// Catalog is the remote interface: ordinary Go, context first, error last.
type Catalog interface {
	// Get returns the item sku names; an unknown sku is an
	// *UnknownSKUError.
	Get(ctx context.Context, sku string) (Item, error)
	// Search returns up to limit items that have tag, by SKU.
	Search(ctx context.Context, tag string, limit int) ([]Item, error)
	// Served returns how many calls the instance has served, and since
	// when it exists.
	Served(ctx context.Context) (calls int64, since time.Time, err error)
}

// UnknownSKUError is an application error that crosses the wire as its own type.
type UnknownSKUError struct{ SKU string }

func (e *UnknownSKUError) Error() string { return "unknown sku " + e.SKU }

func init() { remoting.RegisterError[*UnknownSKUError]("examples/static.UnknownSKUError") }

// catalog is the servant: one instance for everybody.
type catalog struct {
	items   map[string]Item
	calls   atomic.Int64
	created time.Time
}

func newCatalog() *catalog {
	c := &catalog{items: map[string]Item{}, created: time.Now()}
	for _, it := range []Item{
		{"tea-01", "Sencha", 1250, []string{"tea", "green"}},
		{"tea-02", "Assam", 990, []string{"tea", "black"}},
		{"pot-01", "Kyusu teapot", 4500, []string{"teaware"}},
	} {
		c.items[it.SKU] = it
	}
	return c
}

func (c *catalog) Get(_ context.Context, sku string) (Item, error) {
	c.calls.Add(1)
	it, ok := c.items[sku]
	if !ok {
		return Item{}, &UnknownSKUError{SKU: sku}
	}
	return it, nil
}

func (c *catalog) Search(_ context.Context, tag string, limit int) ([]Item, error) {
	c.calls.Add(1)
	var out []Item
	for _, it := range c.items {
		for _, t := range it.Tags {
			if t == tag {
				out = append(out, it)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SKU < out[j].SKU })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (c *catalog) Served(context.Context) (int64, time.Time, error) {
	return c.calls.Add(1), c.created, nil
}

func main() {
	addr := flag.String("serve", "", "only serve the catalog on this `address` (host:port) until Ctrl-C or SIGTERM")
	flag.Parse()
	if *addr != "" {
		if err := serve(*addr); err != nil {
			fmt.Fprintln(os.Stderr, "static:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "static:", err)
		os.Exit(1)
	}
}

// serve serves the catalog on addr until SIGTERM or Ctrl-C, then shuts
// down gracefully.
func serve(addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	srv := invoker.NewServer(invoker.Options{})
	if _, err := srv.Register("catalog", CatalogInvoker(), lifecycle.Static(newCatalog())); err != nil {
		return err
	}
	lis, err := invoker.Listen("tcp://"+addr, nil)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	fmt.Printf("serving \"catalog\" on tcp://%s; Ctrl-C stops\n", lis.Addr())
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, invoker.ErrServerClosed) {
		return err
	}
	return nil
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Printf("[%6.1fms] %s\n", float64(time.Since(start).Microseconds())/1000, fmt.Sprintf(format, args...))
	}

	// Server: register one instance under a well-known name, then serve.
	srv := invoker.NewServer(invoker.Options{})
	impl := newCatalog()
	if _, err := srv.Register("catalog", CatalogInvoker(), lifecycle.Static(impl)); err != nil {
		return err
	}
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	say("server: static Catalog instance created at registration, listening on %s", lis.Addr())

	// Client: dial, look the name up, call through the typed proxy.
	c, err := requestor.Dial(ctx, "tcp://"+lis.Addr().String(), requestor.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	cat, err := LookupCatalog(ctx, c, "catalog")
	if err != nil {
		return err
	}
	say("client: looked up \"catalog\" -> %s", cat.Ref())

	it, err := cat.Get(ctx, "tea-01")
	if err != nil {
		return err
	}
	say("client: Get(tea-01) = %s, %d.%02d EUR", it.Name, it.Cents/100, it.Cents%100)

	teas, err := cat.Search(ctx, "tea", 10)
	if err != nil {
		return err
	}
	names := make([]string, len(teas))
	for i, t := range teas {
		names[i] = t.Name
	}
	say("client: Search(tea) = [%s]", strings.Join(names, ", "))

	_, err = cat.Get(ctx, "nope-99")
	var unknown *UnknownSKUError
	if !errors.As(err, &unknown) || !errors.Is(err, remoting.ErrApplication) {
		return fmt.Errorf("want an UnknownSKUError, got %v", err)
	}
	say("client: Get(nope-99) failed as expected: %v (code %v, typed %T)", err, remoting.CodeOf(err), unknown)

	// Many clients, one instance.
	var wg sync.WaitGroup
	for range 4 {
		c2, err := requestor.Dial(ctx, "tcp://"+lis.Addr().String(), requestor.Options{})
		if err != nil {
			return err
		}
		p := NewCatalogProxy(c2, remoting.Ref{Endpoint: c2.Endpoint(), ID: cat.Ref().ID, Interface: CatalogInterface})
		for range 25 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.Get(ctx, "tea-02")
			}()
		}
		defer c2.Close()
	}
	wg.Wait()
	calls, since, err := cat.Served(ctx)
	if err != nil {
		return err
	}
	say("client: 5 connections, 100 concurrent calls later the one instance (alive since %s) has served %d calls",
		since.Format("15:04:05.000"), calls)

	ctxDeadline, cancelDeadline := context.WithTimeout(ctx, time.Nanosecond)
	defer cancelDeadline()
	time.Sleep(time.Millisecond)
	_, err = cat.Get(ctxDeadline, "tea-01")
	say("client: call with an expired deadline: %v", err)

	if err := srv.Shutdown(ctx); err != nil {
		return err
	}
	<-served
	say("server: shut down gracefully; the static instance ends with the server")
	_, err = cat.Get(ctx, "tea-01")
	say("client: call after shutdown: %v", err)
	if !errors.Is(err, remoting.ErrUnavailable) {
		return fmt.Errorf("want Unavailable after shutdown, got %v", err)
	}
	return nil
}
