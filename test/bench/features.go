package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/remoting-go/remoting/codegen"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/bench/echosvc"
)

// The feature rows measure the middleware against itself: the same echo
// call to a Static Instance (the reference row, sync-static) under each
// lifecycle strategy and in each invocation mode, all on one server and one
// connection, with the small payload. They answer what a strategy or a
// mode costs, where the peer rows answer what the middleware costs.

// FeatureRef is the name of the feature row the others are compared with.
const FeatureRef = "sync-static"

// The groups of feature rows.
const (
	GroupLifecycle = "lifecycle"
	GroupMode      = "mode"
)

// A Goal is the least ratio to FeatureRef's calls/s a feature row should
// reach, at every number of callers.
type Goal struct {
	Min  float64
	Text string
}

// within110 is the goal of the rows that should cost no more than a tenth
// over the reference: the reference makes at most 1.10 times their calls.
var within110 = &Goal{Min: 1 / 1.10, Text: "≥ 0.91 (within 1.10×)"}

// within105 is the goal of the asynchronous modes, which do the work of a
// sync call and hand it out differently: within a twentieth of it.
var within105 = &Goal{Min: 1 / 1.05, Text: "≥ 0.95 (within 1.05×)"}

// A FeatureRow is one line of the feature table: a way to make the echo
// call on the feature server.
type FeatureRow struct {
	Name  string
	Group string
	// What says in a few words what a call does.
	What string
	// Goal is nil for a row without one.
	Goal *Goal
	// call returns the function one caller makes its calls with.
	call func(r *featureRig) featureCall
}

// A featureCall makes one call with p; done is the caller's own channel,
// for the calls that complete on another goroutine.
type featureCall func(ctx context.Context, p []byte, done chan error) error

// FeatureRows returns every feature row, the reference first.
func FeatureRows() []FeatureRow {
	syncTo := func(name string) func(r *featureRig) featureCall {
		return func(r *featureRig) featureCall { return syncCall(r.proxies[name]) }
	}
	return []FeatureRow{
		{Name: FeatureRef, Group: GroupLifecycle, What: "sync call, Static Instance (the reference)", call: syncTo("static")},
		{Name: "lazy", Group: GroupLifecycle, What: "Lazy Acquisition: one instance, made by the first call", Goal: within110, call: syncTo("lazy")},
		{Name: "per-request", Group: GroupLifecycle, What: "Per-Request Instance: a trivial constructor per call", Goal: within110, call: syncTo("per-request")},
		{Name: "pooled", Group: GroupLifecycle, What: "Pooling, at most 64 instances", Goal: within110, call: syncTo("pooled")},
		{Name: "client-dependent", Group: GroupLifecycle, What: "made by a remote factory for this client, 30s lease renewed by calls", Goal: within110, call: syncTo("client-dependent")},
		{Name: "oneway", Group: GroupMode, What: "Fire and Forget: returns once the call is handed to the connection", Goal: &Goal{Min: 3, Text: "≥ 3"}, call: func(r *featureRig) featureCall {
			v := r.proxies["static"].Oneway()
			return func(ctx context.Context, p []byte, _ chan error) error { return v.Echo(ctx, p) }
		}},
		{Name: "sync-with-server", Group: GroupMode, What: "Sync with Server: returns on the server's ack", call: func(r *featureRig) featureCall {
			v := r.proxies["static"].SyncWithServer()
			return func(ctx context.Context, p []byte, _ chan error) error { return v.Echo(ctx, p) }
		}},
		{Name: "async-future", Group: GroupMode, What: "Poll Object: start, then wait for Result", Goal: within105, call: func(r *featureRig) featureCall {
			v := r.proxies["static"].Async()
			return func(ctx context.Context, p []byte, _ chan error) error {
				_, err := v.Echo(ctx, p).Result(ctx)
				return err
			}
		}},
		{Name: "callback", Group: GroupMode, What: "Result Callback, waited for on a channel", Goal: within105, call: func(r *featureRig) featureCall {
			v := r.proxies["static"].Callback()
			return func(ctx context.Context, p []byte, done chan error) error {
				v.Echo(ctx, p, func(_ []byte, err error) { done <- err })
				return <-done
			}
		}},
	}
}

func syncCall(p *echosvc.EchoProxy) featureCall {
	return func(ctx context.Context, p0 []byte, _ chan error) error {
		_, err := p.Echo(ctx, p0)
		return err
	}
}

// A FeatureResult holds one feature row's calls per second.
type FeatureResult struct {
	Row FeatureRow
	// Throughput maps a number of concurrent callers to calls per second.
	Throughput map[int]float64
}

// countingEcho is the remote object of the feature rows: it counts the
// calls it ran, so that a call that returns before the server runs it (a
// one-way call) is counted only once it has been served.
type countingEcho struct{ served *atomic.Int64 }

func (e *countingEcho) Echo(_ context.Context, p []byte) ([]byte, error) {
	e.served.Add(1)
	return p, nil
}

// countingFactory is the remote factory of the client-dependent row.
type countingFactory struct{ served *atomic.Int64 }

func (f countingFactory) NewEcho(context.Context) (echosvc.Echo, error) {
	return &countingEcho{served: f.served}, nil
}

// featureRig is the server and the client the feature rows call.
type featureRig struct {
	served  atomic.Int64
	srv     *invoker.Server
	c       *requestor.Client
	proxies map[string]*echosvc.EchoProxy
	stop    func()
}

// startFeatureRig starts a server with one echo object per lifecycle and
// connects a client to it.
func startFeatureRig() (*featureRig, error) {
	r := &featureRig{proxies: make(map[string]*echosvc.EchoProxy)}
	newEcho := func(context.Context) (*countingEcho, error) { return &countingEcho{served: &r.served}, nil }
	srv := invoker.NewServer(invoker.Options{})
	if err := srv.Policy(echosvc.EchoInvoker(), lifecycle.ClientDependent(lifecycle.ClientDependentOptions{TTL: 30 * time.Second})); err != nil {
		srv.Close()
		return nil, fmt.Errorf("features: %w", err)
	}
	objects := []struct {
		name     string
		sk       *codegen.Invoker
		strategy lifecycle.Strategy
	}{
		{"static", echosvc.EchoInvoker(), lifecycle.Static(&countingEcho{served: &r.served})},
		{"lazy", echosvc.EchoInvoker(), lifecycle.Lazy(newEcho)},
		{"per-request", echosvc.EchoInvoker(), lifecycle.PerRequest(newEcho)},
		// Max covers every caller: this measures the pool, not waiting
		// for an instance.
		{"pooled", echosvc.EchoInvoker(), lifecycle.Pooled(newEcho, lifecycle.PoolOptions{Max: 64})},
		{"factory", echosvc.FactoryInvoker(), lifecycle.Static(countingFactory{served: &r.served})},
	}
	for _, o := range objects {
		if _, err := srv.Register(o.name, o.sk, o.strategy); err != nil {
			srv.Close()
			return nil, fmt.Errorf("features: register %s: %w", o.name, err)
		}
	}
	c, stop, err := serveAndDial(srv)
	if err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	r.srv, r.c, r.stop = srv, c, stop

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, o := range objects[:4] {
		p, err := echosvc.LookupEcho(ctx, c, o.name)
		if err != nil {
			stop()
			return nil, fmt.Errorf("features: %w", err)
		}
		r.proxies[o.name] = p
	}
	f, err := echosvc.LookupFactory(ctx, c, "factory")
	if err != nil {
		stop()
		return nil, fmt.Errorf("features: %w", err)
	}
	// The client holds the proxy the factory returned, and renews the
	// object's lease, until the rig stops.
	dep, err := f.NewEcho(ctx)
	if err != nil {
		stop()
		return nil, fmt.Errorf("features: %w", err)
	}
	r.proxies["client-dependent"] = dep.(*echosvc.EchoProxy)
	return r, nil
}

// serveAndDial serves srv on a loopback port and dials a client to it. The
// returned stop closes the client and the server and waits for both.
func serveAndDial(srv *invoker.Server) (*requestor.Client, func(), error) {
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	stopServer := func() {
		srv.Close()
		<-served
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := requestor.Dial(ctx, "tcp://"+lis.Addr().String(), requestor.Options{})
	if err != nil {
		stopServer()
		return nil, nil, err
	}
	return c, func() {
		c.Close()
		stopServer()
	}, nil
}

// featureSlice is the length of one turn of a feature row: the rows take
// turns, so that a change in the machine's load while they are measured
// affects each of them alike, rather than whichever ran at the time.
const featureSlice = 500 * time.Millisecond

// MeasureFeatures measures rows with the small payload at each of
// cfg.FeatureCallers, the reference row among them whether rows has it or
// not, on one server started for them. Each row is warmed up for
// cfg.Warmup; then, for each number of callers, the rows take turns of
// about half a second, forwards and backwards, until each has run for
// cfg.Duration. The results are in rows' order, the reference first.
func MeasureFeatures(rows []FeatureRow, cfg Config) ([]FeatureResult, error) {
	cfg = cfg.withDefaults()
	if !slices.ContainsFunc(rows, func(r FeatureRow) bool { return r.Name == FeatureRef }) {
		rows = append([]FeatureRow{FeatureRows()[0]}, rows...)
	}
	before := runtime.NumGoroutine()
	r, err := startFeatureRig()
	if err != nil {
		return nil, err
	}
	results, err := r.measureAll(rows, cfg)
	r.stop()
	if err != nil {
		return nil, err
	}
	if n := settleGoroutines(before, 5*time.Second); n > 0 {
		return results, fmt.Errorf("features: %d goroutines left running after the server was stopped", n)
	}
	return results, nil
}

func (r *featureRig) measureAll(rows []FeatureRow, cfg Config) ([]FeatureResult, error) {
	p := Small.Bytes()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watchdog := time.AfterFunc(time.Duration(len(rows))*(cfg.Warmup+time.Duration(len(cfg.FeatureCallers))*cfg.Duration)+stuckAfter, cancel)
	defer watchdog.Stop()

	calls := make([]featureCall, len(rows))
	for i, row := range rows {
		calls[i] = row.call(r)
		if err := calls[i](ctx, p, make(chan error, 1)); err != nil {
			return nil, fmt.Errorf("%s: %w", row.Name, err)
		}
		if _, _, err := r.parallel(ctx, calls[i], p, slices.Max(cfg.FeatureCallers), cfg.Warmup); err != nil {
			return nil, fmt.Errorf("%s: warmup: %w", row.Name, err)
		}
	}

	results := make([]FeatureResult, len(rows))
	for i, row := range rows {
		results[i] = FeatureResult{Row: row, Throughput: make(map[int]float64)}
	}
	turns := max(1, int((cfg.Duration+featureSlice/2)/featureSlice))
	turn := cfg.Duration / time.Duration(turns)
	for _, n := range cfg.FeatureCallers {
		sent := make([]int64, len(rows))
		took := make([]time.Duration, len(rows))
		for t := range turns {
			for k := range rows {
				i := k
				if t%2 == 1 {
					i = len(rows) - 1 - k
				}
				s, d, err := r.parallel(ctx, calls[i], p, n, turn)
				if err != nil {
					return nil, fmt.Errorf("%s: %d callers: %w", rows[i].Name, n, err)
				}
				sent[i] += s
				took[i] += d
			}
		}
		for i := range rows {
			rate := float64(sent[i]) / took[i].Seconds()
			results[i].Throughput[n] = rate
			fmt.Fprintf(cfg.Log, "%-22s %-6s %3d callers: %.0f calls/s\n", rows[i].Name, Small.Name, n, rate)
		}
	}
	return results, nil
}

// parallel runs n goroutines that call for d and waits until the server
// has run every call they made. It returns the number of calls and the
// time from the start until then, and stops at the first error.
func (r *featureRig) parallel(ctx context.Context, call featureCall, p []byte, n int, d time.Duration) (int64, time.Duration, error) {
	var (
		stop     atomic.Bool
		sent     atomic.Int64
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
	)
	base := r.served.Load()
	start := time.Now()
	for range n {
		wg.Go(func() {
			done := make(chan error, 1)
			calls := int64(0)
			for !stop.Load() {
				if err := call(ctx, p, done); err != nil {
					errOnce.Do(func() { firstErr = err })
					stop.Store(true)
					break
				}
				calls++
			}
			sent.Add(calls)
		})
	}
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	wg.Wait()
	timer.Stop()
	if firstErr != nil {
		return 0, 0, firstErr
	}
	for r.served.Load()-base < sent.Load() {
		if ctx.Err() != nil {
			return 0, 0, fmt.Errorf("the server ran %d of the %d calls made", r.served.Load()-base, sent.Load())
		}
		time.Sleep(50 * time.Microsecond)
	}
	return sent.Load(), time.Since(start), nil
}

// CheckFeatures starts the feature server, makes one call of each row and
// checks its echo where the row returns one, and stops the server.
func CheckFeatures(rows []FeatureRow) error {
	r, err := startFeatureRig()
	if err != nil {
		return err
	}
	defer r.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var errs []error
	for _, row := range rows {
		base := r.served.Load()
		if err := row.call(r)(ctx, Small.Bytes(), make(chan error, 1)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", row.Name, err))
			continue
		}
		for r.served.Load() == base && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		if r.served.Load() == base {
			errs = append(errs, fmt.Errorf("%s: the server did not run the call", row.Name))
		}
	}
	for name, p := range r.proxies {
		if err := Check(ClientFunc(p.Echo), Small); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}
