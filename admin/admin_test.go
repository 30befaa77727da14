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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/admin"
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

func TestHealthz(t *testing.T) {
	draining := false
	h := admin.NewHandler(admin.Options{Draining: func() bool { return draining }})
	code, hdr, body := get(t, h, "/healthz", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "application/json", hdr.Get("Content-Type"))
	assert.JSONEq(t, `{"status":"ready"}`, body)

	h.SetDraining(true)
	code, _, body = get(t, h, "/healthz", "")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.JSONEq(t, `{"status":"draining"}`, body)
	h.SetDraining(false)
	draining = true
	code, _, _ = get(t, h, "/healthz", "")
	assert.Equal(t, http.StatusServiceUnavailable, code, "Options.Draining")
}

func TestToken(t *testing.T) {
	h := admin.NewHandler(admin.Options{Token: "s3cret"})
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
	} {
		t.Run(tc.name, func(t *testing.T) {
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
