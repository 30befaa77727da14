package interceptor

import (
	"bufio"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The metric families WritePrometheus writes.
const (
	metricCalls    = "remoting_calls_total"
	metricDuration = "remoting_call_duration_seconds"
	metricEvents   = "remoting_lifecycle_events_total"
)

// PrometheusContentType is the Content-Type of the text exposition format
// that [Metrics.WritePrometheus] writes.
const PrometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

// WritePrometheus writes the metrics to w in the Prometheus text
// exposition format (version 0.0.4), sorted, so that equal counts give
// equal output:
//
//	remoting_calls_total{side,method,code}                 counter
//	remoting_call_duration_seconds{side,method}            histogram (_bucket{le}, _sum, _count)
//	remoting_lifecycle_events_total{interface,kind,result} counter; result is "ok" or "failed"
//
// The format is written here rather than through the Prometheus client
// library, so that neither this package nor the runtime depends on it; a
// program that uses that library can export [Metrics.Snapshot] from a
// Collector of its own.
func (m *Metrics) WritePrometheus(w io.Writer) error {
	bw := bufio.NewWriter(w)
	snap := m.Snapshot()

	header(bw, metricCalls, "counter", "Invocations that ended, by side, method and outcome code.")
	for _, s := range snap {
		for _, code := range slices.Sorted(maps.Keys(s.Codes)) {
			sample(bw, metricCalls, s.Codes[code], "side", string(s.Side), "method", s.Method, "code", code)
		}
	}

	header(bw, metricDuration, "histogram", "Time from the start of an invocation to its outcome, by side and method.")
	for _, s := range snap {
		for _, b := range s.Buckets {
			le := "+Inf"
			if b.UpperBound >= 0 {
				le = strconv.FormatFloat(b.UpperBound.Seconds(), 'g', -1, 64)
			}
			sample(bw, metricDuration+"_bucket", b.Count, "side", string(s.Side), "method", s.Method, "le", le)
		}
		labels(bw, metricDuration+"_sum", "side", string(s.Side), "method", s.Method)
		bw.WriteString(strconv.FormatFloat(s.Sum.Seconds(), 'g', -1, 64))
		bw.WriteByte('\n')
		var count uint64
		if len(s.Buckets) > 0 {
			count = s.Buckets[len(s.Buckets)-1].Count
		}
		sample(bw, metricDuration+"_count", count, "side", string(s.Side), "method", s.Method)
	}

	header(bw, metricEvents, "counter", "Lifecycle events of registered objects, by interface, kind and result.")
	for _, c := range m.Events() {
		if c.N > 0 {
			sample(bw, metricEvents, c.N, "interface", c.Interface, "kind", c.Kind.String(), "result", "ok")
		}
		if c.Failed > 0 {
			sample(bw, metricEvents, c.Failed, "interface", c.Interface, "kind", c.Kind.String(), "result", "failed")
		}
	}
	return bw.Flush()
}

// Handler returns an http.Handler that serves the metrics in the
// Prometheus text format, for a /metrics endpoint.
func (m *Metrics) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", PrometheusContentType)
		m.WritePrometheus(w)
	})
}

func header(w *bufio.Writer, name, typ, help string) {
	w.WriteString("# HELP " + name + " " + help + "\n# TYPE " + name + " " + typ + "\n")
}

// sample writes one line: name{labels} value.
func sample(w *bufio.Writer, name string, v uint64, kv ...string) {
	labels(w, name, kv...)
	w.WriteString(strconv.FormatUint(v, 10))
	w.WriteByte('\n')
}

// labels writes the name and the label set, and the space before the
// value.
func labels(w *bufio.Writer, name string, kv ...string) {
	w.WriteString(name)
	if len(kv) == 0 {
		w.WriteByte(' ')
		return
	}
	w.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(kv[i])
		w.WriteString(`="`)
		w.WriteString(labelEscaper.Replace(kv[i+1]))
		w.WriteByte('"')
	}
	w.WriteString("} ")
}

// labelEscaper escapes a label value as the text format requires.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// WritePrometheusLine writes one sample line in the text format, for
// callers (such as the admin endpoint) that add gauges of their own after
// WritePrometheus: name, label pairs (name, value, name, value, ...) and
// the value.
func WritePrometheusLine(w io.Writer, name string, value float64, kv ...string) error {
	bw := bufio.NewWriter(w)
	labels(bw, name, kv...)
	bw.WriteString(strconv.FormatFloat(value, 'g', -1, 64))
	bw.WriteByte('\n')
	return bw.Flush()
}
