package interceptor_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/interceptor"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/adapt/svc"
)

func TestMetrics(t *testing.T) {
	m := interceptor.NewMetrics(interceptor.MetricsOptions{})
	srv := startServer(t, invoker.Options{
		Interceptors: []remoting.Interceptor{m.Server()},
		Observers:    []remoting.Observer{m},
	})
	_, p := dial(t, srv.endpoint, requestor.Options{Interceptors: []remoting.Interceptor{m.Client()}})
	ctx := ctxT(t)
	for i := range 3 {
		_, err := p.Echo(ctx, i)
		require.NoError(t, err)
	}
	for range 2 {
		require.Error(t, p.Fail(ctx, int(remoting.CodeNotFound), "gone"))
	}
	require.Error(t, p.Fail(ctx, int(remoting.CodeResourceExhausted), "full"))
	require.NoError(t, p.Sleep(ctx, 30*time.Millisecond))

	for _, side := range []interceptor.Side{interceptor.Client, interceptor.Server} {
		echo, ok := m.Method(side, "Probe.Echo")
		require.True(t, ok, "Method(%s, Probe.Echo)", side)
		assert.Equal(t, uint64(3), echo.Calls, "%s Echo calls", side)
		assert.Equal(t, uint64(0), echo.Errors, "%s Echo errors", side)
		assert.Equal(t, map[string]uint64{"OK": 3}, echo.Codes, "%s Echo codes", side)
		assert.Equal(t, uint64(3), echo.Buckets[len(echo.Buckets)-1].Count, "%s Echo histogram count", side)
		assert.Equal(t, time.Duration(-1), echo.Buckets[len(echo.Buckets)-1].UpperBound, "%s Echo last bound", side)

		fail, ok := m.Method(side, "Probe.Fail")
		require.True(t, ok, "Method(%s, Probe.Fail)", side)
		assert.Equal(t, uint64(3), fail.Calls, "%s Fail calls", side)
		assert.Equal(t, uint64(3), fail.Errors, "%s Fail errors", side)
		assert.Equal(t, map[string]uint64{"NotFound": 2, "ResourceExhausted": 1}, fail.Codes, "%s Fail codes", side)

		sleep, ok := m.Method(side, "Probe.Sleep")
		require.True(t, ok, "Method(%s, Probe.Sleep)", side)
		assert.GreaterOrEqual(t, sleep.Sum, 30*time.Millisecond, "%s Sleep sum", side)
		// The one call lies in the bucket (lower, upper] that holds its
		// time (30ms or, on a loaded machine, more): the median
		// interpolates there.
		lower, upper := time.Duration(0), time.Duration(-1)
		for _, b := range sleep.Buckets {
			if b.Count > 0 {
				upper = b.UpperBound
				break
			}
			lower = b.UpperBound
		}
		assert.GreaterOrEqual(t, lower, 25*time.Millisecond, "%s Sleep bucket", side)
		assert.Greater(t, sleep.Quantile(0.5), lower, "%s Sleep p50", side)
		if upper >= 0 {
			assert.LessOrEqual(t, sleep.Quantile(0.5), upper, "%s Sleep p50", side)
		}
	}
	_, ok := m.Method(interceptor.Server, "remoting.Lookup")
	assert.False(t, ok, "the naming service does not pass the server chain")

	// PerRequest: one activation and one deactivation per call that reached
	// the object (lookups do not).
	var activated, deactivated uint64
	for _, c := range m.Events() {
		if c.Interface != svc.ProbeInterface {
			continue
		}
		switch c.Kind {
		case remoting.EventActivated:
			activated = c.N
		case remoting.EventDeactivated:
			deactivated = c.N
		}
	}
	assert.Equal(t, uint64(7), activated, "Activated events")
	require.Eventually(t, func() bool {
		for _, c := range m.Events() {
			if c.Interface == svc.ProbeInterface && c.Kind == remoting.EventDeactivated {
				deactivated = c.N
			}
		}
		return deactivated == 7
	}, 5*time.Second, time.Millisecond, "Deactivated events: %d", deactivated)
}

func TestMetricsQuantile(t *testing.T) {
	b := func(bound time.Duration, n uint64) interceptor.Bucket {
		return interceptor.Bucket{UpperBound: bound, Count: n}
	}
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		s    interceptor.MethodStats
		q    float64
		want time.Duration
	}{
		{"empty", interceptor.MethodStats{}, 0.5, 0},
		{"all in first bucket", interceptor.MethodStats{Calls: 4, Buckets: []interceptor.Bucket{b(ms, 4), b(2*ms, 4), b(-1, 4)}}, 0.5, ms / 2},
		{"interpolated", interceptor.MethodStats{Calls: 4, Buckets: []interceptor.Bucket{b(ms, 2), b(3*ms, 4), b(-1, 4)}}, 0.75, 2 * ms},
		{"unbounded bucket", interceptor.MethodStats{Calls: 4, Buckets: []interceptor.Bucket{b(ms, 2), b(3*ms, 2), b(-1, 4)}}, 0.99, 3 * ms},
		{"max", interceptor.MethodStats{Calls: 2, Buckets: []interceptor.Bucket{b(ms, 1), b(4*ms, 2), b(-1, 2)}}, 1, 4 * ms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.s.Quantile(tc.q), "Quantile(%v)", tc.q)
		})
	}
}
