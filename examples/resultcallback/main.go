// Command resultcallback demonstrates the Result Callback pattern: the
// client starts calls through p.Callback(), passing a typed function that
// the runtime calls exactly once with the results or the error, and is
// free until then. A callback never runs on the connection's reader, so it
// may make calls of its own. When the server dies, the callbacks of the
// calls in flight run at once with Unavailable; a call that cannot be sent
// runs its callback with the error before it returns.
//
// It runs a server and a client in one process over real loopback TCP:
//
//	go run ./examples/resultcallback
package main

//go:generate go tool stubgen -type Thumbnailer

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

// Thumbnailer is the remote interface.
type Thumbnailer interface {
	// Render renders a thumbnail of the image name, size pixels wide, and
	// returns its size in bytes; larger sizes take longer.
	Render(ctx context.Context, name string, size int) (bytes int, err error)
}

// thumbnailer is the servant.
type thumbnailer struct{ say func(string, ...any) }

func (th *thumbnailer) Render(ctx context.Context, name string, size int) (int, error) {
	if size <= 0 {
		return 0, fmt.Errorf("size %d of %s is not positive", size, name)
	}
	t := time.NewTimer(time.Duration(size) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	th.say("server: rendered %s at %dpx", name, size)
	return size * size / 8, nil
}

// outcome is what one callback was called with.
type outcome struct {
	name  string
	bytes int
	err   error
}

// calls starts renders with callbacks and counts how often each callback
// runs.
type calls struct {
	p   *ThumbnailerProxy
	say func(string, ...any)

	wg   sync.WaitGroup
	mu   sync.Mutex
	runs map[string]int
	outs []outcome
}

// render starts one render; its callback records the outcome.
func (cs *calls) render(ctx context.Context, name string, size int) {
	cs.wg.Add(1)
	started := time.Now()
	cs.p.Callback().Render(ctx, name, size, func(bytes int, err error) {
		cs.mu.Lock()
		cs.runs[name]++
		cs.outs = append(cs.outs, outcome{name, bytes, err})
		cs.mu.Unlock()
		if err != nil {
			cs.say("client: callback of %s ran after %v with code %v: %v", name, time.Since(started).Round(100*time.Microsecond), remoting.CodeOf(err), err)
		} else {
			cs.say("client: callback of %s ran after %v: %d bytes", name, time.Since(started).Round(100*time.Microsecond), bytes)
		}
		cs.wg.Done()
	})
}

// check waits for every callback started so far, then for a second run
// that must not come, and returns the outcomes by name.
func (cs *calls) check() (map[string]outcome, error) {
	cs.wg.Wait()
	time.Sleep(50 * time.Millisecond)
	cs.mu.Lock()
	defer cs.mu.Unlock()
	byName := make(map[string]outcome)
	for name, n := range cs.runs {
		if n != 1 {
			return nil, fmt.Errorf("the callback of %s ran %d times", name, n)
		}
	}
	for _, o := range cs.outs {
		byName[o.name] = o
	}
	return byName, nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "resultcallback:", err)
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
	if _, err := srv.Register("thumbs", ThumbnailerInvoker(), lifecycle.Static(&thumbnailer{say: say})); err != nil {
		return err
	}
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	say("server: thumbnailer listening on %s", lis.Addr())

	c, err := requestor.Dial(ctx, "tcp://"+lis.Addr().String(), requestor.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	p, err := LookupThumbnailer(ctx, c, "thumbs")
	if err != nil {
		return err
	}
	cs := &calls{p: p, say: say, runs: make(map[string]int)}

	// Start four renders and one that fails; the client is free at once.
	t0 := time.Now()
	cs.render(ctx, "cat.png", 160)
	cs.render(ctx, "dog.png", 40)
	cs.render(ctx, "owl.png", 100)
	cs.render(ctx, "bad.png", 0)
	var chained atomic.Int64
	cs.wg.Add(1)
	p.Callback().Render(ctx, "fox.png", 20, func(bytes int, err error) {
		defer cs.wg.Done()
		if err != nil {
			say("client: callback of fox.png: %v", err)
			return
		}
		// A callback may call the server again, even synchronously.
		big, err := p.Render(ctx, "fox.png", 80)
		if err != nil {
			say("client: fox.png at 80px from inside a callback: %v", err)
			return
		}
		chained.Store(int64(big))
		say("client: callback of fox.png got %d bytes and rendered it again at 80px inside the callback: %d bytes", bytes, big)
	})
	say("client: started 5 renders in %v; doing other things", time.Since(t0).Round(time.Microsecond))
	outs, err := cs.check()
	if err != nil {
		return err
	}
	for name, want := range map[string]int{"cat.png": 160 * 160 / 8, "dog.png": 40 * 40 / 8, "owl.png": 100 * 100 / 8} {
		if o := outs[name]; o.err != nil || o.bytes != want {
			return fmt.Errorf("callback of %s: want %d bytes, got %d, %v", name, want, o.bytes, o.err)
		}
	}
	if o := outs["bad.png"]; !errors.Is(o.err, remoting.ErrApplication) {
		return fmt.Errorf("callback of bad.png: want an application error, got %v", o.err)
	}
	if chained.Load() != 80*80/8 {
		return fmt.Errorf("the call from inside the callback of fox.png did not complete")
	}

	// The server dies while three slow renders run: their callbacks run
	// at once, with Unavailable.
	cs.render(ctx, "map-1.tif", 2000)
	cs.render(ctx, "map-2.tif", 2000)
	cs.render(ctx, "map-3.tif", 2000)
	time.Sleep(50 * time.Millisecond)
	say("server: dying with 3 renders in flight")
	if err := srv.Close(); err != nil {
		return err
	}
	<-served
	outs, err = cs.check()
	if err != nil {
		return err
	}
	for _, name := range []string{"map-1.tif", "map-2.tif", "map-3.tif"} {
		if !errors.Is(outs[name].err, remoting.ErrUnavailable) {
			return fmt.Errorf("callback of %s: want Unavailable, got %v", name, outs[name].err)
		}
	}

	// A call started after the client saw the server die cannot be
	// sent: its callback runs before Render returns.
	var returned atomic.Bool
	ranFirst := make(chan bool, 1)
	cs.wg.Add(1)
	p.Callback().Render(ctx, "late.png", 10, func(_ int, err error) {
		defer cs.wg.Done()
		say("client: callback of late.png ran with code %v: %v", remoting.CodeOf(err), err)
		if errors.Is(err, remoting.ErrUnavailable) {
			ranFirst <- !returned.Load()
		} else {
			ranFirst <- false
		}
	})
	returned.Store(true)
	say("client: Callback().Render(late.png) returned")
	if !<-ranFirst {
		return fmt.Errorf("the callback of late.png did not run with Unavailable before Render returned")
	}
	if outs, err = cs.check(); err != nil {
		return err
	}
	say("client: each of the %d callbacks ran exactly once", len(outs)+2)
	return nil
}
