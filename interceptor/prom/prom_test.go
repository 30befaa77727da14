package prom_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/interceptor"
	"github.com/remoting-go/remoting/interceptor/prom"
)

// record runs one call of method through the interceptor ic; the call
// takes d and fails with err.
func record(t *testing.T, ic remoting.Interceptor, method string, d time.Duration, err error) {
	t.Helper()
	got := ic(context.Background(), &remoting.Invocation{Method: method}, func(context.Context, *remoting.Invocation) error {
		time.Sleep(d)
		return err
	})
	require.Equal(t, err, got, "%s through the interceptor", method)
}

func metrics(t *testing.T) *interceptor.Metrics {
	m := interceptor.NewMetrics(interceptor.MetricsOptions{Buckets: []time.Duration{time.Millisecond, 50 * time.Millisecond}})
	for range 3 {
		record(t, m.Client(), "Cart.Add", 0, nil)
	}
	record(t, m.Server(), "Cart.Add", 0, nil)
	record(t, m.Server(), "Cart.Get", 0, remoting.Errorf(remoting.CodeNotFound, "gone"))
	record(t, m.Server(), "Cart.Get", 2*time.Millisecond, remoting.Errorf(remoting.CodeNotFound, "gone"))
	m.Observe(remoting.Event{Kind: remoting.EventActivated, Interface: `shop."Cart"`})
	m.Observe(remoting.Event{Kind: remoting.EventActivated, Interface: `shop."Cart"`, Err: remoting.Errorf(remoting.CodeInternal, "no")})
	return m
}

func TestCollector(t *testing.T) {
	c := prom.NewCollector(metrics(t))
	want := `
# HELP remoting_calls_total Invocations that ended, by side, method and outcome code.
# TYPE remoting_calls_total counter
remoting_calls_total{code="NotFound",method="Cart.Get",side="server"} 2
remoting_calls_total{code="OK",method="Cart.Add",side="client"} 3
remoting_calls_total{code="OK",method="Cart.Add",side="server"} 1
# HELP remoting_lifecycle_events_total Lifecycle events of registered objects, by interface, kind and result.
# TYPE remoting_lifecycle_events_total counter
remoting_lifecycle_events_total{interface="shop.\"Cart\"",kind="Activated",result="failed"} 1
remoting_lifecycle_events_total{interface="shop.\"Cart\"",kind="Activated",result="ok"} 1
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), prom.CallsName, prom.EventsName), "CollectAndCompare")

	problems, err := testutil.CollectAndLint(c)
	require.NoError(t, err, "CollectAndLint")
	assert.Empty(t, problems, "lint problems")

	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c), "Register with a pedantic registry")
	families, err := reg.Gather()
	require.NoError(t, err, "Gather")
	var found bool
	for _, f := range families {
		if f.GetName() != prom.DurationName {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["side"] != "server" || labels["method"] != "Cart.Get" {
				continue
			}
			found = true
			h := m.GetHistogram()
			assert.Equal(t, uint64(2), h.GetSampleCount(), "count")
			assert.GreaterOrEqual(t, h.GetSampleSum(), 0.002, "sum in seconds")
			require.Len(t, h.GetBucket(), 2, "buckets without +Inf")
			assert.Equal(t, 0.001, h.GetBucket()[0].GetUpperBound(), "first bound in seconds")
			assert.Equal(t, uint64(1), h.GetBucket()[0].GetCumulativeCount(), "calls within 1ms")
			assert.Equal(t, uint64(2), h.GetBucket()[1].GetCumulativeCount(), "calls within 50ms")
		}
	}
	assert.True(t, found, "histogram of server Cart.Get")
}

// TestHandler serves the collector through the library's handler, as
// package admin does.
func TestHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prom.NewCollector(metrics(t)))
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Header().Get("Content-Type"), "text/plain", "Content-Type")
	assert.Contains(t, rec.Body.String(), `remoting_call_duration_seconds_bucket{method="Cart.Get",side="server",le="+Inf"} 2`, "body")
}
