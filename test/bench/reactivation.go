package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/passivation"
	"github.com/remoting-go/remoting/passivation/bolt"
	"github.com/remoting-go/remoting/test/bench/echosvc"
)

// ReactivationRow is the name of the reactivation measurement, for -rows.
const ReactivationRow = "reactivation"

// A ReactivationResult compares the first call to a passivated object,
// which reactivates it from a bbolt file, with the next call, to the same
// object live.
type ReactivationResult struct {
	// Objects is the number of objects, each called twice.
	Objects int
	// After is the idle time after which they were passivated.
	After time.Duration
	// StateBytes is the size of each object's saved state.
	StateBytes int
	// FirstP50 and FirstP99 are the latencies of the first calls; LiveP50
	// and LiveP99 those of the second.
	FirstP50, FirstP99 time.Duration
	LiveP50, LiveP99   time.Duration
}

// stateSchema is the schema number of a statefulEcho's saved state.
const stateSchema = 1

// echoState is what a statefulEcho saves: a count of its calls and a
// payload-sized note.
type echoState struct {
	_     struct{} `cbor:",toarray"`
	Calls int64
	Note  []byte
}

// statefulEcho is an Echo that can be passivated.
type statefulEcho struct {
	mu sync.Mutex
	st echoState
}

func newStatefulEcho(context.Context) (*statefulEcho, error) { return new(statefulEcho), nil }

func (e *statefulEcho) Echo(_ context.Context, p []byte) ([]byte, error) {
	e.mu.Lock()
	e.st.Calls++
	e.mu.Unlock()
	return p, nil
}

func (e *statefulEcho) SaveState(context.Context) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return passivation.Encode(stateSchema, e.st)
}

func (e *statefulEcho) RestoreState(_ context.Context, data []byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err := passivation.Decode(data, &e.st)
	return err
}

// statefulFactory makes statefulEchoes with a note of the small payload's
// size.
type statefulFactory struct{}

func (statefulFactory) NewEcho(context.Context) (echosvc.Echo, error) {
	return &statefulEcho{st: echoState{Note: Small.Bytes()}}, nil
}

// MeasureReactivation makes objects client-dependent objects through a
// remote factory on a server that passivates them to a bbolt file in a
// temporary directory once they have been idle for after, waits until all
// are passivated, and then calls each twice in a row, one object after the
// other: the first call reactivates it (the store's read, the decoding,
// the constructor, RestoreState) and the second finds it live. after must be
// longer than the calls take, or objects passivate again meanwhile, which
// is reported as an error.
func MeasureReactivation(objects int, after time.Duration) (ReactivationResult, error) {
	res := ReactivationResult{Objects: objects, After: after}
	before := runtime.NumGoroutine()
	dir, err := os.MkdirTemp("", "bench-reactivation-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	store, err := bolt.Open(filepath.Join(dir, "state.db"), bolt.Options{})
	if err != nil {
		return res, err
	}
	err = measureReactivation(&res, store)
	store.Close()
	if err != nil {
		return res, fmt.Errorf("%s: %w", ReactivationRow, err)
	}
	if n := settleGoroutines(before, 5*time.Second); n > 0 {
		return res, fmt.Errorf("%s: %d goroutines left running after the server was stopped", ReactivationRow, n)
	}
	return res, nil
}

func measureReactivation(res *ReactivationResult, store passivation.Store) error {
	counts := new(remoting.EventCounts)
	srv := invoker.NewServer(invoker.Options{Observers: []remoting.Observer{counts}})
	err := srv.Policy(echosvc.EchoInvoker(), lifecycle.ClientDependent(lifecycle.ClientDependentOptions{
		TTL:         time.Minute,
		Passivation: lifecycle.Passivate(newStatefulEcho, lifecycle.PassivationOptions{After: res.After, Store: store}),
	}))
	if err != nil {
		srv.Close()
		return err
	}
	if _, err := srv.Register("factory", echosvc.FactoryInvoker(), lifecycle.Static(statefulFactory{})); err != nil {
		srv.Close()
		return err
	}
	c, stop, err := serveAndDial(srv)
	if err != nil {
		return err
	}
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute+res.After)
	defer cancel()
	f, err := echosvc.LookupFactory(ctx, c, "factory")
	if err != nil {
		return err
	}
	objs := make([]echosvc.Echo, res.Objects)
	for i := range objs {
		if objs[i], err = f.NewEcho(ctx); err != nil {
			return err
		}
	}
	if st, err := (&statefulEcho{st: echoState{Note: Small.Bytes()}}).SaveState(ctx); err == nil {
		res.StateBytes = len(st)
	}
	passivated := func() uint64 { return counts.Get(echosvc.EchoInterface, remoting.EventPassivated) }
	for passivated() < uint64(res.Objects) {
		if ctx.Err() != nil {
			return fmt.Errorf("%d of %d objects passivated", passivated(), res.Objects)
		}
		time.Sleep(10 * time.Millisecond)
	}
	p := Small.Bytes()
	first := make([]time.Duration, 0, len(objs))
	live := make([]time.Duration, 0, len(objs))
	for _, o := range objs {
		for _, lat := range []*[]time.Duration{&first, &live} {
			t := time.Now()
			if _, err := o.Echo(ctx, p); err != nil {
				return err
			}
			*lat = append(*lat, time.Since(t))
		}
	}
	slices.Sort(first)
	slices.Sort(live)
	if n := counts.Get(echosvc.EchoInterface, remoting.EventReactivated); n != uint64(res.Objects) {
		return fmt.Errorf("%d reactivations for %d objects: the idle time of %v is too short for this machine", n, res.Objects, res.After)
	}
	if n := counts.Failed(echosvc.EchoInterface, remoting.EventReactivated); n > 0 {
		return fmt.Errorf("%d reactivations failed", n)
	}
	res.FirstP50, res.FirstP99 = Percentile(first, 0.50), Percentile(first, 0.99)
	res.LiveP50, res.LiveP99 = Percentile(live, 0.50), Percentile(live, 0.99)
	runtime.KeepAlive(objs) // the client renews the leases of the objects it holds
	return nil
}
