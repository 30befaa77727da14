// Command pollobject demonstrates the Poll Object pattern: the client asks
// several suppliers for a quote at once through p.Async(), which returns a
// typed future per call, goes on with its own work, polls the futures with
// Ready between steps, and collects each quote with Result once it is in.
// A Result bounded by a context gives up when the context ends, and the
// call goes on; it can be collected later.
//
// It runs a server and a client in one process over real loopback TCP:
//
//	go run ./examples/pollobject
package main

//go:generate go tool stubgen -type Pricer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
)

// Pricer is the remote interface: a broker that asks suppliers for prices.
type Pricer interface {
	// Quote asks supplier for the price of qty units of sku, and how many
	// days delivery takes.
	Quote(ctx context.Context, supplier, sku string, qty int) (cents int64, days int, err error)
}

// UnknownSupplierError is the application error of a quote from a supplier
// the broker does not know.
type UnknownSupplierError struct{ Supplier string }

func (e *UnknownSupplierError) Error() string { return "unknown supplier " + e.Supplier }

func init() {
	remoting.RegisterError[*UnknownSupplierError]("examples/pollobject.UnknownSupplierError")
}

// supplier is how long one supplier takes to answer and what it charges.
type supplier struct {
	delay     time.Duration
	unitCents int64
	days      int
}

// broker is the servant.
type broker struct {
	suppliers map[string]supplier
	say       func(string, ...any)
}

func (b *broker) Quote(ctx context.Context, name, sku string, qty int) (int64, int, error) {
	s, ok := b.suppliers[name]
	if !ok {
		return 0, 0, &UnknownSupplierError{Supplier: name}
	}
	t := time.NewTimer(s.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
	b.say("server: %s quoted %d x %s", name, qty, sku)
	return s.unitCents * int64(qty), s.days, nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "pollobject:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Printf("[%6.1fms] %s\n", float64(time.Since(start).Microseconds())/1000, fmt.Sprintf(format, args...))
	}

	srv := invoker.NewServer(invoker.Options{})
	impl := &broker{say: say, suppliers: map[string]supplier{
		"acme":    {delay: 60 * time.Millisecond, unitCents: 420, days: 5},
		"globex":  {delay: 150 * time.Millisecond, unitCents: 399, days: 9},
		"initech": {delay: 250 * time.Millisecond, unitCents: 405, days: 2},
		"sloth":   {delay: 700 * time.Millisecond, unitCents: 100, days: 30},
	}}
	if _, err := srv.Register("pricer", PricerInvoker(), lifecycle.Static(impl)); err != nil {
		return err
	}
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	defer func() {
		srv.Close()
		<-served
	}()
	say("server: pricer listening on %s", lis.Addr())

	c, err := requestor.Dial(ctx, "tcp://"+lis.Addr().String(), requestor.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	p, err := LookupPricer(ctx, c, "pricer")
	if err != nil {
		return err
	}

	// Start three quotes; each call returns its Poll Object at once.
	names := []string{"acme", "globex", "initech"}
	t0 := time.Now()
	futures := make([]*PricerQuoteFuture, len(names))
	for i, name := range names {
		futures[i] = p.Async().Quote(ctx, name, "tea-01", 12)
	}
	say("client: started %d quotes in %v", len(names), time.Since(t0).Round(time.Microsecond))
	for i, f := range futures {
		if f.Ready() {
			return fmt.Errorf("quote from %s was ready before the supplier could answer", names[i])
		}
	}

	// Do other work, and look at the futures between steps without
	// blocking.
	collected := make([]bool, len(futures))
	best, bestName := int64(-1), ""
	steps := 0
	for left := len(futures); left > 0; {
		time.Sleep(20 * time.Millisecond) // a step of the client's own work
		steps++
		for i, f := range futures {
			if collected[i] || !f.Ready() {
				continue
			}
			cents, days, err := f.Result(ctx) // ready: does not block
			if err != nil {
				return fmt.Errorf("quote from %s: %w", names[i], err)
			}
			collected[i] = true
			left--
			say("client: after %d steps of other work, %s is ready: %d.%02d EUR, %d days", steps, names[i], cents/100, cents%100, days)
			if best < 0 || cents < best {
				best, bestName = cents, names[i]
			}
		}
	}
	say("client: best of %d quotes: %s at %d.%02d EUR", len(names), bestName, best/100, best%100)
	if bestName != "globex" || best != 399*12 {
		return fmt.Errorf("want globex at 47.88 EUR, got %s at %d cents", bestName, best)
	}

	// A Result bounded by a context: the slow supplier is given 100ms.
	slow := p.Async().Quote(ctx, "sloth", "tea-01", 12)
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	t0 = time.Now()
	_, _, err = slow.Result(short)
	say("client: Result of sloth with a 100ms context gave up after %v with code %v; Ready() = %v",
		time.Since(t0).Round(time.Millisecond), remoting.CodeOf(err), slow.Ready())
	if !errors.Is(err, remoting.ErrDeadlineExceeded) || slow.Ready() {
		return fmt.Errorf("want DeadlineExceeded and the call still running, got %v and Ready() = %v", err, slow.Ready())
	}
	// The call went on; the future can still be waited on, here with a
	// select over its Done channel.
	select {
	case <-slow.Done():
	case <-ctx.Done():
		return ctx.Err()
	}
	cents, days, err := slow.Result(ctx)
	if err != nil {
		return err
	}
	say("client: sloth answered after all: %d.%02d EUR, %d days", cents/100, cents%100, days)

	// A failed call completes its future with the error, typed.
	_, _, err = p.Async().Quote(ctx, "hooli", "tea-01", 1).Result(ctx)
	var unknown *UnknownSupplierError
	if !errors.As(err, &unknown) {
		return fmt.Errorf("want an UnknownSupplierError, got %v", err)
	}
	say("client: quote from hooli failed: %v (typed %T)", err, unknown)
	return nil
}
