package interceptor

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/remoting-go/remoting"
)

// latencyBuckets are the default upper bounds of the latency histogram,
// from 50µs (a loopback call) to 10s.
var latencyBuckets = []time.Duration{
	50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// MetricsOptions configure [NewMetrics]. The zero value works.
type MetricsOptions struct {
	// Buckets are the upper bounds of the latency histogram, in
	// increasing order; a last bucket without bound (+Inf) is always
	// added. Default 17 bounds from 50µs to 10s (50µs, 100µs, 250µs,
	// 500µs, 1ms, 2.5ms, 5ms, ... 10s).
	Buckets []time.Duration
}

// Metrics counts invocations per side and method (calls, outcomes by
// [remoting.Code], a latency histogram with fixed buckets) and lifecycle
// events per interface and kind. Its Client and Server interceptors
// record calls on either chain (one Metrics may serve both); as a
// [remoting.Observer] (invoker.Options.Observers) it counts events. It
// is read from Go with Snapshot and Events; package interceptor/prom
// exports it to Prometheus, and package admin serves that on /metrics.
//
// Metrics is safe for concurrent use. Recording a call takes no lock once
// its method has been seen: a map load and a few atomic adds.
type Metrics struct {
	buckets []time.Duration
	client  sync.Map // method name -> *methodStats
	server  sync.Map
	events  remoting.EventCounts
}

// codeSlots index outcome counters: codes 0 to 14 by number, then
// Application, then any other code.
const (
	slotApplication = 15
	slotOther       = 16
	codeSlots       = 17
)

func slotOf(c remoting.Code) int {
	switch {
	case c <= remoting.CodeUnavailable:
		return int(c)
	case c == remoting.CodeApplication:
		return slotApplication
	}
	return slotOther
}

func codeOfSlot(i int) remoting.Code {
	switch i {
	case slotApplication:
		return remoting.CodeApplication
	case slotOther:
		return remoting.CodeUnknown
	}
	return remoting.Code(i)
}

type methodStats struct {
	codes  [codeSlots]atomic.Uint64
	counts []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sum    atomic.Int64    // nanoseconds
}

// NewMetrics returns empty metrics.
func NewMetrics(opts MetricsOptions) *Metrics {
	b := opts.Buckets
	if len(b) == 0 {
		b = latencyBuckets
	}
	b = slices.Clone(b)
	slices.Sort(b)
	return &Metrics{buckets: slices.Compact(b)}
}

var _ remoting.Observer = (*Metrics)(nil)

// Client returns the interceptor for a client chain: it records each
// invocation's outcome code and how long the rest of the chain took,
// under side "client". For a ModeAsync call the time is taken when the
// outcome arrives; for Oneway and SyncWithServer calls it is the time
// until the runtime let the caller go on.
func (m *Metrics) Client() remoting.Interceptor { return m.interceptor(Client) }

// Server returns the interceptor for a server chain: it records each
// invocation's outcome code and how long the rest of the chain (the
// method included) took, under side "server".
func (m *Metrics) Server() remoting.Interceptor { return m.interceptor(Server) }

func (m *Metrics) interceptor(side Side) remoting.Interceptor {
	methods := &m.client
	if side == Server {
		methods = &m.server
	}
	return func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		start := time.Now()
		if !isAsync(inv) {
			err := next(ctx, inv)
			m.record(methods, inv.Method, err, time.Since(start))
			return err
		}
		return observeAsync(ctx, inv, next, func(err error) {
			m.record(methods, inv.Method, err, time.Since(start))
		})
	}
}

// record counts one call in methods.
func (m *Metrics) record(methods *sync.Map, method string, err error, d time.Duration) {
	v, ok := methods.Load(method)
	if !ok {
		v, _ = methods.LoadOrStore(method, &methodStats{counts: make([]atomic.Uint64, len(m.buckets)+1)})
	}
	s := v.(*methodStats)
	code := remoting.CodeOK
	if err != nil {
		code = remoting.CodeOf(err)
	}
	s.codes[slotOf(code)].Add(1)
	i, _ := slices.BinarySearch(m.buckets, d) // first bound >= d
	s.counts[i].Add(1)
	s.sum.Add(int64(d))
}

// Observe counts a lifecycle event; it makes Metrics a
// [remoting.Observer].
func (m *Metrics) Observe(e remoting.Event) { m.events.Observe(e) }

// Events returns the lifecycle event counts, sorted by interface and kind.
func (m *Metrics) Events() []remoting.EventCount { return m.events.Snapshot() }

// Bucket is one bucket of a latency histogram.
type Bucket struct {
	// UpperBound is the bucket's inclusive upper bound; the last bucket's
	// is -1, for no bound (+Inf).
	UpperBound time.Duration
	// Count is the number of calls that took at most UpperBound:
	// cumulative, as in Prometheus.
	Count uint64
}

// MethodStats are the counts of one method on one side.
type MethodStats struct {
	Side   Side   // Client or Server
	Method string // the wire name, such as "Cart.Add"
	// Calls is the number of calls that ended; Errors those of them that
	// failed (any code but OK).
	Calls, Errors uint64
	// Codes counts the calls by outcome, by code name ("OK", "NotFound",
	// ...); codes that did not occur are absent.
	Codes map[string]uint64
	// Buckets is the latency histogram, cumulative, the last bucket
	// unbounded.
	Buckets []Bucket
	// Sum is the total time of all calls.
	Sum time.Duration
}

// Mean returns the mean latency, 0 without calls.
func (s MethodStats) Mean() time.Duration {
	if s.Calls == 0 {
		return 0
	}
	return s.Sum / time.Duration(s.Calls)
}

// Quantile estimates the latency below which the fraction q (0 to 1) of
// the calls fall, by linear interpolation within the histogram bucket
// that holds it (as Prometheus's histogram_quantile does). A quantile
// that falls into the unbounded last bucket is reported as the largest
// bound. It returns 0 without calls.
func (s MethodStats) Quantile(q float64) time.Duration {
	if s.Calls == 0 || len(s.Buckets) == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := q * float64(s.Calls)
	var lower time.Duration
	var below uint64
	for i, b := range s.Buckets {
		if float64(b.Count) >= rank && b.Count > below {
			if b.UpperBound < 0 {
				if i == 0 {
					return 0
				}
				return s.Buckets[i-1].UpperBound
			}
			frac := (rank - float64(below)) / float64(b.Count-below)
			return lower + time.Duration(frac*float64(b.UpperBound-lower))
		}
		if b.UpperBound >= 0 {
			lower = b.UpperBound
		}
		below = b.Count
	}
	return lower
}

// Snapshot returns the counts of every method seen, sorted by side and
// method. Calls that end while it runs may or may not be included, and
// one method's counts may be read in the middle of a call's update (its
// histogram count and Calls may then differ by a few).
func (m *Metrics) Snapshot() []MethodStats {
	var out []MethodStats
	for _, side := range []Side{Client, Server} {
		methods := &m.client
		if side == Server {
			methods = &m.server
		}
		methods.Range(func(k, v any) bool {
			out = append(out, m.stats(side, k.(string), v.(*methodStats)))
			return true
		})
	}
	slices.SortFunc(out, func(a, b MethodStats) int {
		return cmp.Or(cmp.Compare(a.Side, b.Side), cmp.Compare(a.Method, b.Method))
	})
	return out
}

// stats reads one method's counters.
func (m *Metrics) stats(side Side, method string, s *methodStats) MethodStats {
	ms := MethodStats{Side: side, Method: method, Codes: map[string]uint64{}, Sum: time.Duration(s.sum.Load())}
	for i := range s.codes {
		if n := s.codes[i].Load(); n > 0 {
			code := codeOfSlot(i)
			ms.Codes[code.String()] += n
			ms.Calls += n
			if code != remoting.CodeOK {
				ms.Errors += n
			}
		}
	}
	var cum uint64
	ms.Buckets = make([]Bucket, len(s.counts))
	for i := range s.counts {
		cum += s.counts[i].Load()
		bound := time.Duration(-1)
		if i < len(m.buckets) {
			bound = m.buckets[i]
		}
		ms.Buckets[i] = Bucket{UpperBound: bound, Count: cum}
	}
	return ms
}

// Method returns the counts of one method on one side, and false if it
// has not been called there.
func (m *Metrics) Method(side Side, method string) (MethodStats, bool) {
	methods := &m.client
	if side == Server {
		methods = &m.server
	}
	v, ok := methods.Load(method)
	if !ok {
		return MethodStats{}, false
	}
	return m.stats(side, method, v.(*methodStats)), true
}

// onceFlag reports true to the first caller of first only.
type onceFlag struct{ done atomic.Bool }

func (o *onceFlag) first() bool { return o.done.CompareAndSwap(false, true) }
