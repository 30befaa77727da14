// Command adaptivepool demonstrates adaptive pool sizing: a controller
// watches how long calls wait for a pooled instance and how busy the
// instances are, and moves the pool's size between bounds to hold a target
// wait. The demo drives load up (16 callers) and down (one caller) and
// prints the size following it.
//
// It runs a server and a client in one process over real loopback TCP:
//
//	go run ./examples/adaptivepool
package main

//go:generate go tool stubgen -type Encoder

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/pool"
	"github.com/remoting-go/remoting/requestor"
)

// Encoder is the remote interface.
type Encoder interface {
	// Encode works on frame for d.
	Encode(ctx context.Context, frame int, d time.Duration) error
}

// encoder is the servant: not safe for concurrent use, so a pool holds
// them.
type encoder struct{}

func (encoder) Encode(ctx context.Context, _ int, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

const (
	period = 100 * time.Millisecond // control period
	work   = 5 * time.Millisecond   // one call's work
	minMax = 1
	maxMax = 16
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "adaptivepool:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Printf("[%7.1fms] %s\n", float64(time.Since(start).Microseconds())/1000, fmt.Sprintf(format, args...))
	}

	// The controller learns each borrower's wait from the server's
	// lifecycle events.
	var ctl atomic.Pointer[pool.Adaptive]
	waits := remoting.ObserverFunc(func(e remoting.Event) {
		if e.Kind == remoting.EventPoolBorrow || e.Kind == remoting.EventPoolExhausted {
			if a := ctl.Load(); a != nil {
				a.ObserveWait(e.Wait)
			}
		}
	})
	srv := invoker.NewServer(invoker.Options{Observers: []remoting.Observer{waits}})
	encoders := lifecycle.Pooled(func(context.Context) (encoder, error) { return encoder{}, nil },
		lifecycle.PoolOptions{Max: 1, IdleTimeout: -1})
	if _, err := srv.Register("encoder", EncoderInvoker(), encoders); err != nil {
		return err
	}
	var mu sync.Mutex
	var sizes []int
	a, err := pool.NewAdaptive(encoders, pool.AdaptiveOptions{
		Min: minMax, Max: maxMax, TargetWait: time.Millisecond, Period: period, ShrinkAfter: 2,
		OnDecision: func(d pool.Decision) {
			if d.Err != nil {
				say("controller: resize %d -> %d failed: %v", d.From, d.To, d.Err)
				return
			}
			mu.Lock()
			sizes = append(sizes, d.To)
			mu.Unlock()
			say("controller: pool size %2d -> %2d  (%s)", d.From, d.To, d.Reason)
		},
	})
	if err != nil {
		return err
	}
	ctl.Store(a)
	defer a.Close()
	say("server: encoder pool starts at size %d; the controller keeps it in [%d, %d] for a mean wait near 1ms, every %v",
		a.Size(), minMax, maxMax, period)

	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	c, err := requestor.Dial(ctx, "tcp://"+lis.Addr().String(), requestor.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	enc, err := LookupEncoder(ctx, c, "encoder")
	if err != nil {
		return err
	}

	// phase runs callers that call Encode back to back until the
	// controller's size meets done (or the phase runs out of periods).
	var calls atomic.Int64
	phase := func(name string, callers, maxPeriods int, done func(size int) bool) (int, error) {
		who := fmt.Sprintf("%d callers", callers)
		if callers == 1 {
			who = "1 caller"
		}
		say("load: %s: %s, each call working %v", name, who, work)
		pctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		errs := make(chan error, callers)
		for range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for frame := 0; pctx.Err() == nil; frame++ {
					if err := enc.Encode(ctx, frame, work); err != nil {
						errs <- err
						return
					}
					calls.Add(1)
				}
			}()
		}
		first := a.Stats().Periods
		var took int
		for {
			time.Sleep(period / 4)
			took = int(a.Stats().Periods - first)
			if done(a.Size()) || took >= maxPeriods {
				break
			}
		}
		stop()
		wg.Wait()
		close(errs)
		return took, <-errs
	}

	took, err := phase("peak", 16, 20, func(size int) bool { return size >= 12 })
	if err != nil {
		return err
	}
	peak := a.Size()
	say("load: the size reached %d within %d control periods", peak, took)
	if peak < 12 {
		return fmt.Errorf("under 16 callers the pool grew only to %d", peak)
	}
	took, err = phase("quiet", 1, 40, func(size int) bool { return size <= 2 })
	if err != nil {
		return err
	}
	low := a.Size()
	say("load: the size fell back to %d within %d control periods", low, took)
	if low > 2 {
		return fmt.Errorf("under 1 caller the pool stayed at %d", low)
	}

	if err := a.Close(); err != nil {
		return err
	}
	mu.Lock()
	for _, s := range sizes {
		if s < minMax || s > maxMax {
			mu.Unlock()
			return fmt.Errorf("the size left [%d, %d]: %d", minMax, maxMax, s)
		}
	}
	say("controller: sizes %v over %d periods, %d calls served, never outside [%d, %d]", sizes, a.Stats().Periods, calls.Load(), minMax, maxMax)
	mu.Unlock()

	if err := srv.Shutdown(ctx); err != nil {
		return err
	}
	<-served
	say("server: shut down")
	return nil
}
