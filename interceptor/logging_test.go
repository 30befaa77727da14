package interceptor_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/interceptor"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/requestor"
)

// logBuffer collects JSON log records; it is safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) records(t *testing.T) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(b.buf.Bytes()))
	for dec.More() {
		var rec map[string]any
		require.NoError(t, dec.Decode(&rec))
		out = append(out, rec)
	}
	return out
}

func TestLogging(t *testing.T) {
	var clientLog, serverLog logBuffer
	newLogger := func(w *logBuffer) *slog.Logger {
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv := startServer(t, invoker.Options{Interceptors: []remoting.Interceptor{
		interceptor.Logging(newLogger(&serverLog), interceptor.LoggingOptions{Side: interceptor.Server}),
	}})
	c, p := dial(t, srv.endpoint, requestor.Options{Interceptors: []remoting.Interceptor{
		interceptor.Logging(newLogger(&clientLog), interceptor.LoggingOptions{}),
	}})
	ctx := ctxT(t)

	_, err := p.Echo(ctx, 7)
	require.NoError(t, err)
	err = p.Fail(ctx, int(remoting.CodeNotFound), "gone")
	require.Error(t, err)
	n, err := p.Async().Echo(ctx, 9).Result(ctx)
	require.NoError(t, err)
	assert.Equal(t, 9, n, "Async().Echo")
	require.NoError(t, p.SyncWithServer().Echo(ctx, 1))

	type want struct{ method, mode, code, level string }
	wants := []want{
		{"Probe.Echo", "Sync", "OK", "INFO"},
		{"Probe.Fail", "Sync", "NotFound", "WARN"},
		{"Probe.Echo", "Async", "OK", "INFO"},
		{"Probe.Echo", "SyncWithServer", "OK", "INFO"},
	}
	check := func(side string, recs []map[string]any, modes []string) {
		t.Helper()
		require.Len(t, recs, len(wants), "%s records", side)
		for i, w := range wants {
			r := recs[i]
			assert.Equal(t, "remoting: call", r["msg"], "%s record %d", side, i)
			assert.Equal(t, side, r["side"], "%s record %d", side, i)
			assert.Equal(t, w.method, r["method"], "%s record %d", side, i)
			assert.Equal(t, modes[i], r["mode"], "%s record %d", side, i)
			assert.Equal(t, w.code, r["code"], "%s record %d", side, i)
			assert.Equal(t, w.level, r["level"], "%s record %d", side, i)
			assert.Equal(t, p.Ref().ID.String(), r["object"], "%s record %d", side, i)
			assert.Contains(t, r, "duration", "%s record %d", side, i)
			if w.code != "OK" {
				assert.Contains(t, r["err"], "gone", "%s record %d", side, i)
			}
			if side == "server" {
				assert.NotEmpty(t, r["peer"], "server record %d", i)
				assert.Contains(t, r["remote"], "127.0.0.1:", "server record %d", i)
			} else {
				assert.NotContains(t, r, "peer", "client record %d", i)
			}
		}
	}
	// The server runs the calls in the order they were made, since each
	// waited for the previous one's outcome. An Async call is an ordinary
	// request to the server.
	// A SyncWithServer call returns before the method ran.
	require.Eventually(t, func() bool { return len(serverLog.records(t)) == len(wants) }, 5*time.Second, time.Millisecond)
	check("server", serverLog.records(t), []string{"Sync", "Sync", "Sync", "SyncWithServer"})
	// The client chain also saw the naming service's lookup, first.
	recs := clientLog.records(t)
	require.NotEmpty(t, recs)
	assert.Equal(t, "remoting.Lookup", recs[0]["method"], "first client record")
	check("client", recs[1:], []string{"Sync", "Sync", "Async", "SyncWithServer"})
	_ = c
}

func TestLoggingDisabledLevelWritesNothing(t *testing.T) {
	var log logBuffer
	srv := startServer(t, invoker.Options{})
	_, p := dial(t, srv.endpoint, requestor.Options{Interceptors: []remoting.Interceptor{
		interceptor.Logging(slog.New(slog.NewJSONHandler(&log, &slog.HandlerOptions{Level: slog.LevelError})), interceptor.LoggingOptions{}),
	}})
	_, err := p.Echo(ctxT(t), 1)
	require.NoError(t, err)
	require.Error(t, p.Fail(ctxT(t), int(remoting.CodeInternal), "x"))
	assert.Empty(t, log.records(t), "records below the handler's level")
}
