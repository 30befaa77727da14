package admin

import (
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/remoting-go/remoting/interceptor/prom"
)

// metricsHandler returns the handler of /metrics: the Prometheus client
// library's, over a registry of the endpoint's own that holds the
// interceptor metrics (package interceptor/prom) and the gauges of
// [gauges], followed by Options.Gatherer.
func (h *Handler) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	if h.opts.Metrics != nil {
		reg.MustRegister(prom.NewCollector(h.opts.Metrics))
	}
	reg.MustRegister(newGauges(h))
	g := prometheus.Gatherers{reg}
	if h.opts.Gatherer != nil {
		g = append(g, h.opts.Gatherer)
	}
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:      promLogger{h.opts.Logger},
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// promLogger hands the library's errors to the endpoint's Logger.
type promLogger struct{ l *slog.Logger }

func (p promLogger) Println(v ...any) { p.l.Debug("admin: metrics: " + fmt.Sprint(v...)) }

// gauges collects what the endpoint knows beside the interceptor metrics:
//
//	remoting_server_connections          gauge: open client connections
//	remoting_server_objects              gauge: registered objects
//	remoting_server_running_calls        gauge: calls running now
//	remoting_pool_instances{pool,state}  gauge: a pool's instances by state (max, live, idle, in_use, waiting)
//	remoting_ready                       gauge: 1 while /readyz answers 200, else 0
type gauges struct {
	h                                          *Handler
	connections, objects, running, pool, ready *prometheus.Desc
}

func newGauges(h *Handler) *gauges {
	return &gauges{
		h:           h,
		connections: prometheus.NewDesc("remoting_server_connections", "Open client connections of the server.", nil, nil),
		objects:     prometheus.NewDesc("remoting_server_objects", "Objects registered with the server.", nil, nil),
		running:     prometheus.NewDesc("remoting_server_running_calls", "Calls the server is running now.", nil, nil),
		pool:        prometheus.NewDesc("remoting_pool_instances", "Instances of a pool by state: max, live, idle, in_use, waiting (calls in line).", []string{"pool", "state"}, nil),
		ready:       prometheus.NewDesc("remoting_ready", "1 while the server accepts calls (/readyz answers 200), else 0.", nil, nil),
	}
}

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{g.connections, g.objects, g.running, g.pool, g.ready} {
		ch <- d
	}
}

func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if src := g.h.opts.Server; src != nil {
		st := src.Stats()
		gauge(g.connections, float64(st.Connections))
		gauge(g.objects, float64(st.Objects))
		gauge(g.running, float64(st.Running))
	}
	pools := g.h.opts.Pools
	for _, name := range slices.Sorted(maps.Keys(pools)) {
		st := pools[name].Stats()
		for _, s := range []struct {
			state string
			n     int
		}{{"max", st.Max}, {"live", st.Live}, {"idle", st.Idle}, {"in_use", st.InUse}, {"waiting", st.Waiters}} {
			gauge(g.pool, float64(s.n), name, s.state)
		}
	}
	ready := 0.0
	if g.h.Status() == "ready" {
		ready = 1
	}
	gauge(g.ready, ready)
}
