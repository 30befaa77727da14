package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Config says what Measure measures and for how long. The zero value of
// a field means its default.
type Config struct {
	// Callers are the numbers of concurrent callers the throughput columns
	// are measured with. Default 1, 16, 64, 256.
	Callers []int
	// FeatureCallers are the numbers of concurrent callers the feature
	// rows are measured with. Default 1, 64.
	FeatureCallers []int
	// Duration is the length of each measurement: the sequential run and
	// each throughput run. Default 3s.
	Duration time.Duration
	// Warmup is how long a row is called before it is measured, by as many
	// callers as the largest of Callers (which also lets connection pools
	// reach their size). Default 500ms.
	Warmup time.Duration
	// Log receives one line per measurement as it ends. Default: discard.
	Log io.Writer
}

func (c Config) withDefaults() Config {
	if len(c.Callers) == 0 {
		c.Callers = []int{1, 16, 64, 256}
	}
	if len(c.FeatureCallers) == 0 {
		c.FeatureCallers = []int{1, 64}
	}
	if c.Duration <= 0 {
		c.Duration = 3 * time.Second
	}
	if c.Warmup <= 0 {
		c.Warmup = 500 * time.Millisecond
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c
}

// A Result holds one row's figures for one payload. From MeasureRounds
// each figure is the median over the rounds, and Spread holds the
// smallest and largest value of each.
type Result struct {
	Row     Row
	Payload Payload
	// Calls is the number of sequential calls the latencies and the
	// allocations were taken from (in the median round of P50). P25 and
	// P75 show the shape of the latencies around the median: two rows'
	// p50s compare differently where their distributions cross near it.
	Calls              int
	P25, P50, P75, P99 time.Duration
	// AllocsPerCall and BytesPerCall are heap allocations per sequential
	// call, client and server together (they share the process).
	AllocsPerCall, BytesPerCall float64
	// Throughput maps a number of concurrent callers to calls per second.
	Throughput map[int]float64
	// Rounds is the number of rounds the figures are the medians of (1 for
	// Measure).
	Rounds int
	// Spread holds, per column, the lowest and highest value over the
	// rounds; nil for Measure.
	Spread *Spread
	// Leaked is the number of goroutines still running a while after the
	// row was stopped (the most of any round); it should be 0.
	Leaked int
}

// Spread is the range of a Result's figures over its rounds.
type Spread struct {
	P25, P50, P75, P99, AllocsPerCall, BytesPerCall [2]float64
	Throughput                                      map[int][2]float64
}

// maxSamples bounds the latencies kept from one sequential run, so that
// recording them never allocates.
const maxSamples = 1 << 20

// Measure starts row's peer, warms it up, checks one echo, measures it
// with pl and cfg, and stops it.
func Measure(row Row, pl Payload, cfg Config) (Result, error) {
	rs, err := measureRow(row, []Payload{pl}, cfg.withDefaults())
	return rs[0], err
}

// measureRow starts row's peer, measures it with each of pls in turn, and
// stops it. It returns one Result per payload.
func measureRow(row Row, pls []Payload, cfg Config) ([]Result, error) {
	rs := make([]Result, len(pls))
	for i, pl := range pls {
		rs[i] = Result{Row: row, Payload: pl, Rounds: 1, Throughput: make(map[int]float64)}
	}
	before := runtime.NumGoroutine()
	c, stop, err := row.Peer.Start()
	if err != nil {
		return rs, err
	}
	var errs []error
	for i, pl := range pls {
		if err := measure(c, pl, cfg, &rs[i]); err != nil {
			errs = append(errs, fmt.Errorf("%s, %s payload: %w", row.Name, pl.Name, err))
		}
	}
	stop()
	leaked := settleGoroutines(before, 5*time.Second)
	for i := range rs {
		rs[i].Leaked = leaked
	}
	return rs, errors.Join(errs...)
}

// MeasureRounds measures every row with every payload in rounds: in each
// round every row is started, measured with each payload (warmup, the
// sequential run, then each number of callers) and stopped, the rows
// taking turns forwards in even rounds and backwards in odd ones. A
// change in the machine's load then moves every row alike instead of
// whichever ran at the time. Each Result holds the medians of its figures
// over the rounds and their spread; a row that failed in any round is
// left out and its error returned.
func MeasureRounds(rows []Row, pls []Payload, rounds int, cfg Config) ([]Result, []error) {
	cfg = cfg.withDefaults()
	rounds = max(rounds, 1)
	all := make([][][]Result, len(rows)) // row, payload, round
	for i := range all {
		all[i] = make([][]Result, len(pls))
	}
	failed := make([]error, len(rows))
	for round := range rounds {
		fmt.Fprintf(cfg.Log, "round %d of %d\n", round+1, rounds)
		for k := range rows {
			i := k
			if round%2 == 1 {
				i = len(rows) - 1 - k
			}
			if failed[i] != nil {
				continue
			}
			rs, err := measureRow(rows[i], pls, cfg)
			if err != nil {
				failed[i] = err
				continue
			}
			for j := range pls {
				all[i][j] = append(all[i][j], rs[j])
			}
		}
	}
	var out []Result
	var errs []error
	for j := range pls {
		for i := range rows {
			if failed[i] != nil {
				if j == 0 {
					errs = append(errs, failed[i])
				}
				continue
			}
			out = append(out, median(all[i][j]))
		}
	}
	return out, errs
}

// median folds the rounds of one row and payload into one Result.
func median(rounds []Result) Result {
	res := rounds[0]
	res.Rounds = len(rounds)
	res.Throughput = make(map[int]float64)
	sp := &Spread{Throughput: make(map[int][2]float64)}
	res.Spread = sp
	fold := func(get func(Result) float64) (float64, [2]float64) {
		vs := make([]float64, len(rounds))
		for i, r := range rounds {
			vs[i] = get(r)
		}
		slices.Sort(vs)
		return vs[len(vs)/2], [2]float64{vs[0], vs[len(vs)-1]}
	}
	latency := func(get func(Result) time.Duration) (time.Duration, [2]float64) {
		v, sp := fold(func(r Result) float64 { return float64(get(r)) })
		return time.Duration(v), sp
	}
	res.P25, sp.P25 = latency(func(r Result) time.Duration { return r.P25 })
	res.P50, sp.P50 = latency(func(r Result) time.Duration { return r.P50 })
	res.P75, sp.P75 = latency(func(r Result) time.Duration { return r.P75 })
	res.P99, sp.P99 = latency(func(r Result) time.Duration { return r.P99 })
	res.AllocsPerCall, sp.AllocsPerCall = fold(func(r Result) float64 { return r.AllocsPerCall })
	res.BytesPerCall, sp.BytesPerCall = fold(func(r Result) float64 { return r.BytesPerCall })
	for n := range rounds[0].Throughput {
		res.Throughput[n], sp.Throughput[n] = fold(func(r Result) float64 { return r.Throughput[n] })
	}
	for _, r := range rounds {
		res.Leaked = max(res.Leaked, r.Leaked)
	}
	return res
}

func measure(c Client, pl Payload, cfg Config, res *Result) error {
	call, _ := pl.caller(c)
	if err := Check(c, pl); err != nil {
		return err
	}
	// The measured calls get a context that is canceled only if calls are
	// still running well after their measurement should have ended, so
	// that a stuck row fails instead of hanging the run.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	phases := 2 + len(cfg.Callers)
	watchdog := time.AfterFunc(cfg.Warmup+time.Duration(phases)*cfg.Duration+stuckAfter, cancel)
	defer watchdog.Stop()

	if _, err := Parallel(ctx, call, slices.Max(cfg.Callers), cfg.Warmup); err != nil {
		return fmt.Errorf("warmup: %w", err)
	}

	lat, allocs, allocBytes, err := Sequential(ctx, call, cfg.Duration)
	if err != nil {
		return err
	}
	res.Calls = len(lat)
	res.P25, res.P50, res.P75, res.P99 = Percentile(lat, 0.25), Percentile(lat, 0.50), Percentile(lat, 0.75), Percentile(lat, 0.99)
	res.AllocsPerCall, res.BytesPerCall = allocs, allocBytes
	fmt.Fprintf(cfg.Log, "%-22s %-9s sequential: %d calls, p50 %v, p99 %v, %.1f allocs/call\n",
		res.Row.Name, pl.Name, res.Calls, res.P50, res.P99, allocs)

	for _, n := range cfg.Callers {
		rate, err := Parallel(ctx, call, n, cfg.Duration)
		if err != nil {
			return fmt.Errorf("%d callers: %w", n, err)
		}
		res.Throughput[n] = rate
		fmt.Fprintf(cfg.Log, "%-22s %-9s %3d callers: %.0f calls/s\n", res.Row.Name, pl.Name, n, rate)
	}
	return nil
}

// stuckAfter is how long calls may run past the end of a measurement
// before they are canceled.
const stuckAfter = 30 * time.Second

// Check makes one call of pl through c and checks the echo, within 10s.
func Check(c Client, pl Payload) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, check := pl.caller(c)
	return check(ctx)
}

// Sequential runs call back to back for d and returns each call's latency
// (sorted), and the heap allocations and bytes allocated per call by the
// whole process meanwhile.
func Sequential(ctx context.Context, call func(context.Context) error, d time.Duration) (lat []time.Duration, allocs, allocBytes float64, err error) {
	lat = make([]time.Duration, 0, maxSamples)
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start := time.Now()
	end := start.Add(d)
	for t := start; t.Before(end) && len(lat) < cap(lat); {
		if err := call(ctx); err != nil {
			return nil, 0, 0, err
		}
		now := time.Now()
		lat = append(lat, now.Sub(t))
		t = now
	}
	runtime.ReadMemStats(&m1)
	n := float64(len(lat))
	slices.Sort(lat)
	return lat, float64(m1.Mallocs-m0.Mallocs) / n, float64(m1.TotalAlloc-m0.TotalAlloc) / n, nil
}

// Parallel runs n goroutines that run call in a loop for d, and returns
// the calls completed per second. It stops at the first error.
func Parallel(ctx context.Context, call func(context.Context) error, n int, d time.Duration) (float64, error) {
	var (
		stop     atomic.Bool
		total    atomic.Int64
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range n {
		wg.Go(func() {
			calls := int64(0)
			for !stop.Load() {
				if err := call(ctx); err != nil {
					errOnce.Do(func() { firstErr = err })
					stop.Store(true)
					break
				}
				calls++
			}
			total.Add(calls)
		})
	}
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	wg.Wait()
	timer.Stop()
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(total.Load()) / time.Since(start).Seconds(), nil
}

// Percentile returns the q-quantile (0 < q <= 1) of sorted latencies, by
// the nearest-rank method.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q * float64(len(sorted))))
	return sorted[max(0, min(rank-1, len(sorted)-1))]
}

// settleGoroutines waits up to timeout for the number of goroutines to
// fall back to before, and returns how many more are still running.
func settleGoroutines(before int, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for {
		n := runtime.NumGoroutine() - before
		if n <= 0 || time.Now().After(deadline) {
			return max(n, 0)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
