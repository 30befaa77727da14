// Command perrequest demonstrates the Per-Request Instance pattern: every
// call gets a calculator of its own, created for the call and deactivated
// after it, so no state passes from one call to another and the servant
// needs no locks, however many calls run at once.
//
// It runs a server and a client in one process over real loopback TCP:
//
//	go run ./examples/perrequest
package main

//go:generate go tool stubgen -type Calculator

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

// Op is one step of a computation: "+", "-", "*" or "/" with an operand.
type Op struct {
	Code string
	Arg  float64
}

// Result is a computation's value and the instance that computed it.
type Result struct {
	Value    float64
	Instance int64
}

// Calculator is the remote interface.
type Calculator interface {
	// Eval applies ops, in order, to an accumulator that starts at zero.
	Eval(ctx context.Context, ops []Op) (Result, error)
}

// calculator is the servant: a plain, unsynchronized accumulator.
type calculator struct {
	serial int64
	acc    float64
	say    func(string, ...any)
	quiet  bool // say nothing, in the concurrent round
}

func (c *calculator) Eval(_ context.Context, ops []Op) (Result, error) {
	for _, op := range ops {
		switch op.Code {
		case "+":
			c.acc += op.Arg
		case "-":
			c.acc -= op.Arg
		case "*":
			c.acc *= op.Arg
		case "/":
			if op.Arg == 0 {
				return Result{}, remoting.Errorf(remoting.CodeInvalidArgument, "division by zero")
			}
			c.acc /= op.Arg
		default:
			return Result{}, remoting.Errorf(remoting.CodeInvalidArgument, "unknown operation %q", op.Code)
		}
	}
	return Result{Value: c.acc, Instance: c.serial}, nil
}

// Activate and Deactivate are the optional lifecycle hooks.
func (c *calculator) Activate(context.Context) error {
	if !c.quiet {
		c.say("server:   calculator #%d activated (accumulator %g)", c.serial, c.acc)
	}
	return nil
}

func (c *calculator) Deactivate(context.Context) error {
	if !c.quiet {
		c.say("server:   calculator #%d deactivated (accumulator was %g)", c.serial, c.acc)
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "perrequest:", err)
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

	counts := new(remoting.EventCounts)
	srv := invoker.NewServer(invoker.Options{Observers: []remoting.Observer{counts}})
	var serials atomic.Int64
	var quiet atomic.Bool
	newCalculator := func(context.Context) (*calculator, error) {
		return &calculator{serial: serials.Add(1), say: say, quiet: quiet.Load()}, nil
	}
	if _, err := srv.Register("calculator", CalculatorInvoker(), lifecycle.PerRequest(newCalculator)); err != nil {
		return err
	}
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	say("server: \"calculator\" registered with Per-Request Instance, listening on %s", lis.Addr())

	c, err := requestor.Dial(ctx, "tcp://"+lis.Addr().String(), requestor.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	calc, err := LookupCalculator(ctx, c, "calculator")
	if err != nil {
		return err
	}

	// One call after another: each starts from a fresh accumulator.
	seen := map[int64]bool{}
	for _, ops := range [][]Op{
		{{"+", 2}, {"*", 21}},
		{{"+", 10}, {"/", 4}},
		{{"-", 1}},
	} {
		say("client: Eval(%v) ...", ops)
		r, err := calc.Eval(ctx, ops)
		if err != nil {
			return err
		}
		say("client: ... = %g, computed by calculator #%d", r.Value, r.Instance)
		if seen[r.Instance] {
			return fmt.Errorf("calculator #%d served two calls", r.Instance)
		}
		seen[r.Instance] = true
	}
	r, err := calc.Eval(ctx, []Op{{"+", 1}, {"/", 0}})
	if !errors.Is(err, remoting.ErrInvalidArgument) {
		return fmt.Errorf("want InvalidArgument for a division by zero, got %v, %v", r, err)
	}
	say("client: Eval(1/0) failed as expected: %v; its calculator was deactivated all the same", err)

	// Many calls at once: as many instances, none shared.
	quiet.Store(true)
	const n = 32
	results := make([]Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i], errs[i] = calc.Eval(ctx, []Op{{"+", float64(i)}, {"*", 2}}) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i, r := range results {
		if r.Value != float64(2*i) {
			return fmt.Errorf("call %d: want %d, got %g: state leaked between calls", i, 2*i, r.Value)
		}
		if seen[r.Instance] {
			return fmt.Errorf("calculator #%d served two calls", r.Instance)
		}
		seen[r.Instance] = true
	}
	say("client: %d concurrent calls were computed by %d distinct calculators, each result correct", n, n)

	if err := srv.Shutdown(ctx); err != nil {
		return err
	}
	<-served
	iface := CalculatorInterface
	activated, deactivated := counts.Get(iface, remoting.EventActivated), counts.Get(iface, remoting.EventDeactivated)
	say("server: shut down; %d calls, %d calculators created: events Activated %d, Deactivated %d",
		len(seen)+1, serials.Load(), activated, deactivated)
	if want := uint64(len(seen) + 1); activated != want || deactivated != want {
		return fmt.Errorf("want %d activations and deactivations, got %d and %d", want, activated, deactivated)
	}
	return nil
}
