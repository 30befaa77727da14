package prom

import (
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/remoting-go/remoting/interceptor"
)

// The metric family names.
const (
	CallsName    = "remoting_calls_total"
	DurationName = "remoting_call_duration_seconds"
	EventsName   = "remoting_lifecycle_events_total"
)

// Collector is a prometheus.Collector of the counts of one
// [interceptor.Metrics].
type Collector struct {
	m                      *interceptor.Metrics
	calls, duration, event *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a Collector of m's counts.
func NewCollector(m *interceptor.Metrics) *Collector {
	return &Collector{
		m: m,
		calls: prometheus.NewDesc(CallsName, "Invocations that ended, by side, method and outcome code.",
			[]string{"side", "method", "code"}, nil),
		duration: prometheus.NewDesc(DurationName, "Time from the start of an invocation to its outcome, by side and method.",
			[]string{"side", "method"}, nil),
		event: prometheus.NewDesc(EventsName, "Lifecycle events of registered objects, by interface, kind and result.",
			[]string{"interface", "kind", "result"}, nil),
	}
}

// Describe sends the descriptors of the three families.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.calls
	ch <- c.duration
	ch <- c.event
}

// Collect sends the current counts.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.m.Snapshot() {
		side := string(s.Side)
		for _, code := range slices.Sorted(maps.Keys(s.Codes)) {
			ch <- prometheus.MustNewConstMetric(c.calls, prometheus.CounterValue, float64(s.Codes[code]), side, s.Method, code)
		}
		var count uint64
		buckets := make(map[float64]uint64, len(s.Buckets))
		for _, b := range s.Buckets {
			if b.UpperBound < 0 {
				count = b.Count // the unbounded bucket: every call
				continue
			}
			buckets[b.UpperBound.Seconds()] = b.Count
		}
		ch <- prometheus.MustNewConstHistogram(c.duration, count, s.Sum.Seconds(), buckets, side, s.Method)
	}
	for _, e := range c.m.Events() {
		if e.N > 0 {
			ch <- prometheus.MustNewConstMetric(c.event, prometheus.CounterValue, float64(e.N), e.Interface, e.Kind.String(), "ok")
		}
		if e.Failed > 0 {
			ch <- prometheus.MustNewConstMetric(c.event, prometheus.CounterValue, float64(e.Failed), e.Interface, e.Kind.String(), "failed")
		}
	}
}
