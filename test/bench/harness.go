package bench

import (
	"bytes"
	"context"
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

// A Result holds one row's figures for one payload.
type Result struct {
	Row     Row
	Payload Payload
	// Calls is the number of sequential calls P50, P99 and the
	// allocations were taken from.
	Calls    int
	P50, P99 time.Duration
	// AllocsPerCall and BytesPerCall are heap allocations per sequential
	// call, client and server together (they share the process).
	AllocsPerCall, BytesPerCall float64
	// Throughput maps a number of concurrent callers to calls per second.
	Throughput map[int]float64
	// Leaked is the number of goroutines still running a while after the
	// row was stopped; it should be 0.
	Leaked int
}

// maxSamples bounds the latencies kept from one sequential run, so that
// recording them never allocates.
const maxSamples = 1 << 20

// Measure starts row's peer, warms it up, checks one echo, measures it
// with pl and cfg, and stops it.
func Measure(row Row, pl Payload, cfg Config) (Result, error) {
	cfg = cfg.withDefaults()
	res := Result{Row: row, Payload: pl, Throughput: make(map[int]float64)}
	before := runtime.NumGoroutine()

	c, stop, err := row.Peer.Start()
	if err != nil {
		return res, err
	}
	err = measure(c, pl, cfg, &res)
	stop()
	res.Leaked = settleGoroutines(before, 5*time.Second)
	if err != nil {
		return res, fmt.Errorf("%s, %s payload: %w", row.Name, pl.Name, err)
	}
	return res, nil
}

func measure(c Client, pl Payload, cfg Config, res *Result) error {
	p := pl.Bytes()
	if err := Check(c, p); err != nil {
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

	if _, err := Parallel(ctx, c, p, slices.Max(cfg.Callers), cfg.Warmup); err != nil {
		return fmt.Errorf("warmup: %w", err)
	}

	lat, allocs, allocBytes, err := Sequential(ctx, c, p, cfg.Duration)
	if err != nil {
		return err
	}
	res.Calls = len(lat)
	res.P50, res.P99 = Percentile(lat, 0.50), Percentile(lat, 0.99)
	res.AllocsPerCall, res.BytesPerCall = allocs, allocBytes
	fmt.Fprintf(cfg.Log, "%-22s %-6s sequential: %d calls, p50 %v, p99 %v, %.1f allocs/call\n",
		res.Row.Name, pl.Name, res.Calls, res.P50, res.P99, allocs)

	for _, n := range cfg.Callers {
		rate, err := Parallel(ctx, c, p, n, cfg.Duration)
		if err != nil {
			return fmt.Errorf("%d callers: %w", n, err)
		}
		res.Throughput[n] = rate
		fmt.Fprintf(cfg.Log, "%-22s %-6s %3d callers: %.0f calls/s\n", res.Row.Name, pl.Name, n, rate)
	}
	return nil
}

// stuckAfter is how long calls may run past the end of a measurement
// before they are canceled.
const stuckAfter = 30 * time.Second

// Check makes one call with p and checks that it echoes p, within 10s.
func Check(c Client, p []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := c.Call(ctx, p)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, p) {
		return fmt.Errorf("echo returned %d bytes that differ from the %d sent", len(got), len(p))
	}
	return nil
}

// Sequential calls c with p back to back for d and returns each call's
// latency (sorted), and the heap allocations and bytes allocated per call
// by the whole process meanwhile.
func Sequential(ctx context.Context, c Client, p []byte, d time.Duration) (lat []time.Duration, allocs, allocBytes float64, err error) {
	lat = make([]time.Duration, 0, maxSamples)
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	start := time.Now()
	end := start.Add(d)
	for t := start; t.Before(end) && len(lat) < cap(lat); {
		if _, err := c.Call(ctx, p); err != nil {
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

// Parallel runs n goroutines that call c with p in a loop for d, and
// returns the calls completed per second. It stops at the first error.
func Parallel(ctx context.Context, c Client, p []byte, n int, d time.Duration) (float64, error) {
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
				if _, err := c.Call(ctx, p); err != nil {
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
