// Command pooling demonstrates the Pooling pattern: workers that are
// expensive to start serve calls from a pool of at most three. A call
// borrows a worker and gives it back, and the worker is reset before it
// serves again, so the start-up cost is paid per worker, not per call. A
// call that finds every worker busy waits in line; if its deadline comes
// first, it gets a ResourceExhausted error that says so.
//
// It runs a server and a client in one process over real loopback TCP:
//
//	go run ./examples/pooling
package main

//go:generate go tool stubgen -type Worker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
)

// Report says what a worker did for one job.
type Report struct {
	Worker int64 // the worker's serial number
	Jobs   int   // jobs the worker has done, counting this one
	Output string
}

// Worker is the remote interface.
type Worker interface {
	// Render renders job, working on it for the given time.
	Render(ctx context.Context, job string, work time.Duration) (Report, error)
}

// worker is the servant: it keeps a scratch buffer that must not leak
// into the next job, and is not safe for concurrent use.
type worker struct {
	serial  int64
	jobs    int
	scratch []byte
	say     func(string, ...any)
}

const maxWorkers = 3

// startWorker is the expensive constructor.
func startWorker(serials *atomic.Int64, say func(string, ...any)) func(context.Context) (*worker, error) {
	return func(ctx context.Context) (*worker, error) {
		n := serials.Add(1)
		say("server:   starting worker #%d (takes 100ms) ...", n)
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return &worker{serial: n, say: say}, nil
	}
}

func (w *worker) Render(ctx context.Context, job string, work time.Duration) (Report, error) {
	if len(w.scratch) != 0 {
		return Report{}, remoting.Errorf(remoting.CodeInternal, "worker #%d was not reset: %q", w.serial, w.scratch)
	}
	w.jobs++
	w.scratch = append(w.scratch, strings.ToUpper(job)...)
	select {
	case <-time.After(work):
	case <-ctx.Done():
		return Report{}, ctx.Err()
	}
	return Report{Worker: w.serial, Jobs: w.jobs, Output: string(w.scratch)}, nil
}

// Activate, Reset and Deactivate are the optional lifecycle hooks.
func (w *worker) Activate(context.Context) error {
	w.say("server:   worker #%d activated", w.serial)
	return nil
}

func (w *worker) Reset(context.Context) error {
	w.say("server:   worker #%d reset after job %d (scratch %q cleared)", w.serial, w.jobs, w.scratch)
	w.scratch = w.scratch[:0]
	return nil
}

func (w *worker) Deactivate(context.Context) error {
	w.say("server:   worker #%d deactivated after %d jobs", w.serial, w.jobs)
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "pooling:", err)
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
	strategy := lifecycle.Pooled(startWorker(&serials, say), lifecycle.PoolOptions{Max: maxWorkers})
	if _, err := srv.Register("worker", WorkerInvoker(), strategy); err != nil {
		return err
	}
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	say("server: \"worker\" registered with Pooling, at most %d workers, listening on %s", maxWorkers, lis.Addr())

	c, err := requestor.Dial(ctx, "tcp://"+lis.Addr().String(), requestor.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	w, err := LookupWorker(ctx, c, "worker")
	if err != nil {
		return err
	}

	// Six jobs at once: three workers start, and serve all six.
	const jobs = 6
	say("client: sending %d jobs at once", jobs)
	reports, errs := renderAll(ctx, w, jobs, 50*time.Millisecond)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i, r := range reports {
		say("client: job %d rendered %q by worker #%d (its job %d)", i, r.Output, r.Worker, r.Jobs)
	}
	if n := serials.Load(); n > maxWorkers {
		return fmt.Errorf("want at most %d workers, %d were started", maxWorkers, n)
	}
	say("client: %d jobs, %d workers started", jobs, serials.Load())

	// Exhaustion: three long jobs hold every worker, and a call with a
	// 150ms deadline waits in vain.
	say("client: three long jobs take every worker; then a call with a 150ms deadline")
	longDone := make(chan error, 1)
	go func() {
		_, errs := renderAll(ctx, w, maxWorkers, 600*time.Millisecond)
		longDone <- errors.Join(errs...)
	}()
	time.Sleep(100 * time.Millisecond) // let the long jobs borrow the workers
	short, cancelShort := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancelShort()
	t0 := time.Now()
	_, err = w.Render(short, "impatient", time.Millisecond)
	took := time.Since(t0)
	if !errors.Is(err, remoting.ErrResourceExhausted) {
		return fmt.Errorf("want ResourceExhausted from an exhausted pool, got %v", err)
	}
	say("client: the impatient call failed after %v with code %v: %v", took.Round(time.Millisecond), remoting.CodeOf(err), err)
	if err := <-longDone; err != nil {
		return err
	}
	say("client: the long jobs finished")

	// The pool recovers: a worker is free again, and none was started.
	before := serials.Load()
	r, err := w.Render(ctx, "after", time.Millisecond)
	if err != nil {
		return err
	}
	say("client: a job after the long ones rendered %q by worker #%d (its job %d)", r.Output, r.Worker, r.Jobs)
	if serials.Load() != before {
		return fmt.Errorf("a new worker was started although %d were idle", before)
	}

	if err := srv.Shutdown(ctx); err != nil {
		return err
	}
	<-served
	iface := WorkerInterface
	say("server: shut down; events: Activated %d, PoolBorrow %d, PoolReturn %d, PoolExhausted %d, Deactivated %d",
		counts.Get(iface, remoting.EventActivated), counts.Get(iface, remoting.EventPoolBorrow),
		counts.Get(iface, remoting.EventPoolReturn), counts.Get(iface, remoting.EventPoolExhausted),
		counts.Get(iface, remoting.EventDeactivated))
	if counts.Get(iface, remoting.EventPoolExhausted) != 1 ||
		counts.Get(iface, remoting.EventDeactivated) != counts.Get(iface, remoting.EventActivated) {
		return fmt.Errorf("want 1 exhaustion and every worker deactivated, got %+v", counts.Snapshot())
	}
	return nil
}

// renderAll sends n jobs at once and returns their reports and errors.
func renderAll(ctx context.Context, w Worker, n int, work time.Duration) ([]Report, []error) {
	reports, errs := make([]Report, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { reports[i], errs[i] = w.Render(ctx, fmt.Sprintf("job-%d", i), work) })
	}
	wg.Wait()
	return reports, errs
}
