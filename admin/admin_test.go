package admin_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/admin"
	"github.com/remoting-go/remoting/interceptor"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/pool"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fakeServer struct{ st invoker.Stats }

func (f fakeServer) Stats() invoker.Stats { return f.st }

type fakePool struct{ st pool.Stats }

func (f fakePool) Stats() pool.Stats { return f.st }

func (f fakePool) Resize(int, int) error { return nil }

func get(t *testing.T, h http.Handler, path, token string) (int, http.Header, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Header(), rec.Body.String()
}

func TestHealth(t *testing.T) {
	var draining, fenced bool
	h := admin.NewHandler(admin.Options{Draining: func() bool { return draining }, Fenced: func() bool { return fenced }})
	for _, tc := range []struct {
		name   string
		set    func()
		ready  int
		status string
	}{
		{"ready", func() {}, http.StatusOK, "ready"},
		{"SetDraining", func() { h.SetDraining(true) }, http.StatusServiceUnavailable, "draining"},
		{"SetDraining(false)", func() { h.SetDraining(false) }, http.StatusOK, "ready"},
		{"Options.Draining", func() { draining = true }, http.StatusServiceUnavailable, "draining"},
		{"draining and fenced", func() { h.SetFenced(true) }, http.StatusServiceUnavailable, "draining"},
		{"SetFenced", func() { draining = false }, http.StatusServiceUnavailable, "fenced"},
		{"Options.Fenced", func() { h.SetFenced(false); fenced = true }, http.StatusServiceUnavailable, "fenced"},
		{"ready again", func() { fenced = false }, http.StatusOK, "ready"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.set()
			code, hdr, body := get(t, h, "/livez", "")
			assert.Equal(t, http.StatusOK, code, "GET /livez")
			assert.JSONEq(t, `{"status":"live"}`, body, "GET /livez")
			for _, path := range []string{"/readyz", "/healthz"} {
				code, hdr, body = get(t, h, path, "")
				assert.Equal(t, tc.ready, code, "GET %s", path)
				assert.Equal(t, "application/json", hdr.Get("Content-Type"), "GET %s", path)
				assert.JSONEq(t, `{"status":"`+tc.status+`"}`, body, "GET %s", path)
			}
			assert.Equal(t, tc.status, h.Snapshot().Status, "Snapshot().Status")
			_, _, text := get(t, h, "/metrics", "")
			ready := "1"
			if tc.status != "ready" {
				ready = "0"
			}
			assert.Contains(t, text, "\nremoting_ready "+ready+"\n", "GET /metrics")
		})
	}
}

// TestDrainingServer checks that an *invoker.Server's Shutdown makes
// /readyz fail by itself.
func TestDrainingServer(t *testing.T) {
	srv := invoker.NewServer(invoker.Options{})
	h := admin.NewHandler(admin.Options{Server: srv})
	code, _, _ := get(t, h, "/readyz", "")
	assert.Equal(t, http.StatusOK, code, "before Shutdown")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	code, _, body := get(t, h, "/readyz", "")
	assert.Equal(t, http.StatusServiceUnavailable, code, "after Shutdown")
	assert.JSONEq(t, `{"status":"draining"}`, body)
	code, _, _ = get(t, h, "/livez", "")
	assert.Equal(t, http.StatusOK, code, "live after Shutdown")
}

func TestToken(t *testing.T) {
	h := admin.NewHandler(admin.Options{Token: "s3cret"})
	public := admin.NewHandler(admin.Options{Token: "s3cret", PublicHealth: true})
	for _, tc := range []struct {
		name, path, token string
		want              int
	}{
		{"no token", "/healthz", "", http.StatusUnauthorized},
		{"wrong token", "/debug/remoting", "guess", http.StatusUnauthorized},
		{"no token on metrics", "/metrics", "", http.StatusUnauthorized},
		{"right token", "/healthz", "s3cret", http.StatusOK},
		{"right token, debug", "/debug/remoting", "s3cret", http.StatusOK},
		{"unknown route", "/nope", "s3cret", http.StatusNotFound},
		{"public health: livez", "/livez", "", http.StatusOK},
		{"public health: readyz", "/readyz", "", http.StatusOK},
		{"public health: healthz", "/healthz", "", http.StatusOK},
		{"public health: debug still needs it", "/debug/remoting", "", http.StatusUnauthorized},
		{"public health: metrics still need it", "/metrics", "", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := h
			if strings.HasPrefix(tc.name, "public health") {
				h = public
			}
			code, hdr, _ := get(t, h, tc.path, tc.token)
			assert.Equal(t, tc.want, code, "GET %s", tc.path)
			if tc.want == http.StatusUnauthorized {
				assert.Contains(t, hdr.Get("WWW-Authenticate"), "Bearer")
			}
		})
	}
}

func TestDebugSnapshot(t *testing.T) {
	counts := &remoting.EventCounts{}
	for range 3 {
		counts.Observe(remoting.Event{Interface: "svc.Worker", Kind: remoting.EventActivated})
	}
	counts.Observe(remoting.Event{Interface: "svc.Worker", Kind: remoting.EventDeactivated})
	counts.Observe(remoting.Event{Interface: "svc.Worker", Kind: remoting.EventPoolBorrow})
	counts.Observe(remoting.Event{Interface: "svc.Cart", Kind: remoting.EventActivated})
	counts.Observe(remoting.Event{Interface: "svc.Cart", Kind: remoting.EventPassivated})
	h := admin.NewHandler(admin.Options{
		Server: fakeServer{invoker.Stats{Connections: 2, Objects: 3, Running: 1, Replies: 10, Errors: 2}},
		Objects: func() []admin.ObjectInfo {
			return []admin.ObjectInfo{{ID: "b", Interface: "svc.Worker", Strategy: "pooled"}, {ID: "a", Interface: "svc.Cart", Strategy: "static"}}
		},
		Counts: counts,
		Pools:  map[string]pool.Sizer{"worker": fakePool{pool.Stats{Min: 1, Max: 4, Live: 2, InUse: 1, Idle: 1}}},
	})
	code, _, body := get(t, h, "/debug/remoting", "")
	require.Equal(t, http.StatusOK, code)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &got), body)
	assert.Equal(t, "ready", got["status"])
	assert.Equal(t, map[string]any{"connections": 2.0, "objects": 3.0, "running": 1.0, "replies": 10.0, "errors": 2.0, "acks": 0.0}, got["server"])
	assert.Equal(t, []any{
		map[string]any{"id": "a", "interface": "svc.Cart", "strategy": "static"},
		map[string]any{"id": "b", "interface": "svc.Worker", "strategy": "pooled"},
	}, got["objects"], "objects, sorted")
	assert.Equal(t, []any{
		map[string]any{"interface": "svc.Cart", "live": 0.0, "passivated": 1.0, "lease_renewals": 0.0, "lease_expiries": 0.0, "pool_borrows": 0.0, "pool_exhausted": 0.0},
		map[string]any{"interface": "svc.Worker", "live": 2.0, "passivated": 0.0, "lease_renewals": 0.0, "lease_expiries": 0.0, "pool_borrows": 1.0, "pool_exhausted": 0.0},
	}, got["instances"])
	assert.Equal(t, map[string]any{"worker": map[string]any{"min": 1.0, "max": 4.0, "live": 2.0, "idle": 1.0, "in_use": 1.0, "waiters": 0.0,
		"borrows": 0.0, "exhausted": 0.0, "created": 0.0, "destroyed": 0.0}}, got["pools"])
	assert.NotContains(t, got, "methods", "no metrics given")

	_, _, text := get(t, h, "/metrics", "")
	for _, line := range []string{
		"remoting_server_connections 2\n",
		`remoting_pool_instances{pool="worker",state="max"} 4` + "\n",
		"remoting_ready 1\n",
	} {
		assert.Contains(t, text, line)
	}
}

// TestMetrics checks that /metrics is the library's exposition of the
// interceptor metrics and the endpoint's gauges, that it passes the
// library's lint, and that Options.Gatherer's families follow.
func TestMetrics(t *testing.T) {
	m := interceptor.NewMetrics(interceptor.MetricsOptions{})
	err := m.Server()(context.Background(), &remoting.Invocation{Method: "Cart.Add"}, func(context.Context, *remoting.Invocation) error {
		return remoting.Errorf(remoting.CodeNotFound, "gone")
	})
	require.Error(t, err)
	m.Observe(remoting.Event{Kind: remoting.EventActivated, Interface: "svc.Cart"})
	extra := prometheus.NewRegistry()
	extra.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "app_temperature_celsius", Help: "A gauge of the application's."}, func() float64 { return 21 }))
	h := admin.NewHandler(admin.Options{
		Server:   fakeServer{invoker.Stats{Connections: 1}},
		Metrics:  m,
		Pools:    map[string]pool.Sizer{"worker": fakePool{pool.Stats{Max: 4}}},
		Gatherer: extra,
	})
	code, hdr, text := get(t, h, "/metrics", "")
	require.Equal(t, http.StatusOK, code)
	assert.True(t, strings.HasPrefix(hdr.Get("Content-Type"), "text/plain; version=0.0.4"), "Content-Type %q", hdr.Get("Content-Type"))
	for _, line := range []string{
		"# TYPE remoting_calls_total counter\n",
		`remoting_calls_total{code="NotFound",method="Cart.Add",side="server"} 1` + "\n",
		`remoting_call_duration_seconds_count{method="Cart.Add",side="server"} 1` + "\n",
		`remoting_lifecycle_events_total{interface="svc.Cart",kind="Activated",result="ok"} 1` + "\n",
		"remoting_server_connections 1\n",
		`remoting_pool_instances{pool="worker",state="max"} 4` + "\n",
		"remoting_ready 1\n",
		"app_temperature_celsius 21\n",
	} {
		assert.Contains(t, text, line, "GET /metrics")
	}
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	require.NoError(t, err, "Lint")
	assert.Empty(t, problems, "lint problems of /metrics")
}

func TestStart(t *testing.T) {
	srv, err := admin.Start(admin.Options{Token: "t"})
	require.NoError(t, err)
	defer srv.Close()
	assert.True(t, strings.HasPrefix(srv.Addr().String(), "127.0.0.1:"), "loopback by default: %s", srv.Addr())

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/healthz", nil)
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	req.Header.Set("Authorization", "Bearer t")
	resp, err = client.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.JSONEq(t, `{"status":"ready"}`, string(body))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	require.NoError(t, srv.Close(), "Close after Shutdown")
	_, err = client.Do(req)
	assert.Error(t, err, "the endpoint is gone")
}
