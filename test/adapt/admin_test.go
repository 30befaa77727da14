package adapt_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/admin"
	"github.com/remoting-go/remoting/interceptor"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/pool"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/adapt/svc"
)

// getJSON fetches path from the admin endpoint with token and decodes the
// body into v; it returns the status code.
func getJSON(t *testing.T, base, path, token string, v any) int {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	require.NoError(t, err, "GET %s", path)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if v != nil && resp.StatusCode == http.StatusOK {
		require.NoError(t, json.Unmarshal(body, v), "GET %s: %s", path, body)
	}
	return resp.StatusCode
}

// TestAdminMatchesServer runs a scripted sequence of calls and checks that
// /debug/remoting shows what the server, its pool and its metrics hold.
func TestAdminMatchesServer(t *testing.T) {
	m := interceptor.NewMetrics(interceptor.MetricsOptions{})
	srv := startServer(t, invoker.Options{
		Interceptors: []remoting.Interceptor{m.Server()},
		Observers:    []remoting.Observer{m},
	})
	workers := lifecycle.Pooled(srv.serials.NewWorker, lifecycle.PoolOptions{Max: 3, IdleTimeout: -1})
	srv.register(t, "worker", svc.WorkerInvoker(), workers)
	srv.register(t, "probe", svc.ProbeInvoker(), lifecycle.Static(&svc.ProbeImpl{}))
	objects := func() []admin.ObjectInfo {
		return []admin.ObjectInfo{
			{ID: remoting.NameID("probe").String(), Name: "probe", Interface: svc.ProbeInterface, Strategy: "static"},
			{ID: remoting.NameID("worker").String(), Name: "worker", Interface: svc.WorkerInterface, Strategy: "pooled"},
		}
	}
	adm, err := admin.Start(admin.Options{
		Token:   "tok",
		Server:  srv.Server,
		Objects: objects,
		Metrics: m,
		Pools:   map[string]pool.Sizer{"worker": workers},
	})
	require.NoError(t, err)
	t.Cleanup(func() { adm.Close() })

	c1 := dial(t, srv.endpoint, requestor.Options{})
	c2 := dial(t, srv.endpoint, requestor.Options{})
	p, w := probe(t, c1, "probe"), worker(t, c2, "worker")
	// The script: 5 Echo, 2 Fail(NotFound), 1 Fail(ResourceExhausted), 3
	// Work at once, 1 Work alone.
	for i := range 5 {
		_, err := p.Echo(ctxT(t), i)
		require.NoError(t, err)
	}
	for range 2 {
		require.Error(t, p.Fail(ctxT(t), int(remoting.CodeNotFound), "x"))
	}
	require.Error(t, p.Fail(ctxT(t), int(remoting.CodeResourceExhausted), "x"))
	assert.Equal(t, 3, instances(t, w, 3, 20*time.Millisecond), "three Work calls at once")
	_, err = w.Work(ctxT(t), 0)
	require.NoError(t, err)

	// The server counts a call's reply just after sending it: let the
	// counts settle (2 lookups, 5 Echo and 4 Work replied to).
	require.Eventually(t, func() bool {
		st := srv.Stats()
		return st.Running == 0 && st.Replies == 11
	}, 5*time.Second, time.Millisecond, "server counts settle: %+v", srv.Stats())

	assert.Equal(t, http.StatusUnauthorized, getJSON(t, adm.URL(), "/debug/remoting", "", nil), "without the token")
	var health map[string]string
	require.Equal(t, http.StatusOK, getJSON(t, adm.URL(), "/healthz", "tok", &health))
	assert.Equal(t, "ready", health["status"])

	var got admin.Snapshot
	require.Equal(t, http.StatusOK, getJSON(t, adm.URL(), "/debug/remoting", "tok", &got))

	st := srv.Stats()
	require.NotNil(t, got.Server, "server section")
	assert.Equal(t, admin.ServerStats{Connections: st.Connections, Objects: st.Objects, Running: st.Running,
		Replies: st.Replies, Errors: st.Errors, Acks: st.Acks}, *got.Server, "server stats")
	assert.Equal(t, 2, got.Server.Connections)
	assert.Equal(t, 2, got.Server.Objects)
	assert.Equal(t, uint64(3), got.Server.Errors, "error frames: the three Fail calls")
	assert.Equal(t, objects(), got.Objects)

	ps := workers.Stats()
	assert.Equal(t, admin.PoolInfo{Min: ps.Min, Max: ps.Max, Live: ps.Live, Idle: ps.Idle, InUse: ps.InUse, Waiters: ps.Waiters,
		Borrows: ps.Borrows, Exhausted: ps.Exhausted, Created: ps.Created, Destroyed: ps.Destroyed}, got.Pools["worker"], "pool")
	assert.Equal(t, 3, got.Pools["worker"].Live)
	assert.Equal(t, uint64(4), got.Pools["worker"].Borrows)

	methods := map[string]admin.MethodInfo{}
	for _, mi := range got.Methods {
		assert.Equal(t, "server", mi.Side)
		methods[mi.Method] = mi
	}
	assert.Equal(t, uint64(5), methods["Probe.Echo"].Calls)
	assert.Equal(t, uint64(0), methods["Probe.Echo"].Errors)
	assert.Equal(t, uint64(3), methods["Probe.Fail"].Calls)
	assert.Equal(t, map[string]uint64{"NotFound": 2, "ResourceExhausted": 1}, methods["Probe.Fail"].Codes)
	assert.Equal(t, uint64(4), methods["Worker.Work"].Calls)
	assert.Greater(t, methods["Worker.Work"].P90Ms, 10.0, "p90 of Work, three of four held 20ms")
	for _, mi := range got.Methods {
		ms, ok := m.Method(interceptor.Server, mi.Method)
		require.True(t, ok)
		assert.Equal(t, ms.Calls, mi.Calls, "%s calls as the metrics hold them", mi.Method)
		assert.LessOrEqual(t, mi.P50Ms, mi.P99Ms, "%s percentiles", mi.Method)
	}

	events := map[string]uint64{}
	for _, e := range got.Lifecycle {
		events[e.Interface+" "+e.Kind] = e.N
	}
	for _, c := range srv.counts.Snapshot() {
		assert.Equal(t, c.N, events[c.Interface+" "+c.Kind.String()], "%s %s as remoting.EventCounts holds it", c.Interface, c.Kind)
	}
	assert.Equal(t, uint64(3), events[svc.WorkerInterface+" Activated"], "pooled instances created")
	assert.Equal(t, uint64(4), events[svc.WorkerInterface+" PoolBorrow"])
	live := map[string]int64{}
	for _, ic := range got.Instances {
		live[ic.Interface] = ic.Live
	}
	assert.Equal(t, int64(1), live[svc.ProbeInterface], "the static probe")
	assert.Equal(t, int64(3), live[svc.WorkerInterface], "the pooled workers")

	// Draining shows on /healthz.
	adm.SetDraining(true)
	assert.Equal(t, http.StatusServiceUnavailable, getJSON(t, adm.URL(), "/healthz", "tok", nil))
}
