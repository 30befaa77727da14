package adapt_test

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/config"
	"github.com/remoting-go/remoting/interceptor"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/pool"
	"github.com/remoting-go/remoting/requestor"
	"github.com/remoting-go/remoting/test/adapt/svc"
)

// tagged returns a server interceptor that adds tag=v to the method's
// invocation context.
func tagged(v string) remoting.Interceptor {
	return func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		md := maps.Clone(remoting.MetadataFrom(ctx))
		if md == nil {
			md = remoting.Metadata{}
		}
		md["tag"] = v
		return next(remoting.WithMetadata(ctx, md), inv)
	}
}

// reloadable is a server whose configuration comes from a watched file.
type reloadable struct {
	*server
	file    string
	w       *config.Watcher
	workers *lifecycle.PooledStrategy[*svc.WorkerImpl]
	metrics *interceptor.Metrics
	applied chan *config.Config // each snapshot applied
	reject  chan error

	mu   sync.Mutex
	ttls map[string]time.Duration // what the lease hook was told
}

func (r *reloadable) ttl(typ string) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ttls[typ]
}

func (r *reloadable) poolMax() int { return r.workers.Stats().Max }

func startReloadable(t *testing.T, content string) *reloadable {
	t.Helper()
	r := &reloadable{
		file:    filepath.Join(t.TempDir(), "svc.yaml"),
		metrics: interceptor.NewMetrics(interceptor.MetricsOptions{}),
		applied: make(chan *config.Config, 100),
		reject:  make(chan error, 100),
		ttls:    map[string]time.Duration{},
	}
	require.NoError(t, os.WriteFile(r.file, []byte(content), 0o600))
	reg := config.Registry{
		"metrics": func(*config.Config) (remoting.Interceptor, error) { return r.metrics.Server(), nil },
		"tag":     func(*config.Config) (remoting.Interceptor, error) { return tagged("on"), nil },
	}
	w, err := config.Watch(config.Source{File: r.file, EnvPrefix: "-"}, config.WatchOptions{
		Debounce: 5 * time.Millisecond,
		Check:    reg.Check,
		OnReject: func(err error) { r.reject <- err },
	})
	require.NoError(t, err)
	t.Cleanup(func() { w.Close() })
	r.w = w

	cur := w.Current()
	opts, err := cur.ServerOptions(reg)
	require.NoError(t, err)
	r.server = startServer(t, opts)
	r.workers = lifecycle.Pooled(r.server.serials.NewWorker, lifecycle.PoolOptions{IdleTimeout: -1})
	r.register(t, "worker", svc.WorkerInvoker(), r.workers)
	r.register(t, "probe", svc.ProbeInvoker(), lifecycle.Static(&svc.ProbeImpl{}))

	targets := &config.Targets{
		Interceptors: reg,
		Servers:      []config.ChainSetter{r.Server},
		Pools:        map[string]pool.Sizer{"worker": r.workers},
		// An application passes the TTL on to Server.SetLeaseTTL for the
		// type's skeleton (test/lifecycle proves that leases follow it);
		// this test records what the hook is told.
		LeaseTTL: func(typ string, ttl time.Duration) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.ttls[typ] = ttl
			return nil
		},
	}
	require.NoError(t, targets.Apply(nil, cur), "apply the first configuration")
	w.Subscribe(func(old, new *config.Config) {
		assert.NoError(t, targets.Apply(old, new), "apply a reloaded configuration")
		r.applied <- new
	})
	return r
}

// rewriteConfig replaces the file by rename, as editors do.
func rewriteConfig(t *testing.T, file, content string) {
	t.Helper()
	tmp := file + ".tmp"
	require.NoError(t, os.WriteFile(tmp, []byte(content), 0o600))
	require.NoError(t, os.Rename(tmp, file))
}

func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// instances calls Work n times at once, each holding its instance for
// hold, and returns how many distinct instances served them.
func instances(t *testing.T, p *svc.WorkerProxy, n int, hold time.Duration) int {
	t.Helper()
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			serial, err := p.Work(ctxT(t), hold)
			if assert.NoError(t, err, "Work") {
				mu.Lock()
				seen[serial] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return len(seen)
}

const reloadV1 = `
types:
  worker: {pool: {max: 2}}
  cart: {lease_ttl: 30s}
interceptors:
  server: [metrics]
`

const reloadV2 = `
types:
  worker: {pool: {max: 5}}
  cart: {lease_ttl: 45s}
interceptors:
  server: [metrics, tag]
`

func TestReloadAppliesValidChanges(t *testing.T) {
	r := startReloadable(t, reloadV1)
	c := dial(t, r.endpoint, requestor.Options{})
	w, p := worker(t, c, "worker"), probe(t, c, "probe")

	assert.Equal(t, 2, r.poolMax(), "pool max from the first file")
	assert.Equal(t, 2, instances(t, w, 6, 50*time.Millisecond), "instances serving 6 calls at once")
	assert.Equal(t, 30*time.Second, r.ttl("cart"), "lease TTL from the first file")
	s, err := p.Seen(ctxT(t), "v1")
	require.NoError(t, err)
	assert.NotContains(t, s.Meta, "tag", "no tag interceptor yet")

	rewriteConfig(t, r.file, reloadV2)
	cfg := waitFor(t, r.applied, "the new configuration")
	assert.Same(t, cfg, r.w.Current())

	assert.Equal(t, 5, r.poolMax(), "pool max after the reload")
	assert.Equal(t, 5, instances(t, w, 6, 50*time.Millisecond), "instances serving 6 calls at once after the reload")
	assert.Equal(t, 45*time.Second, r.ttl("cart"), "lease TTL after the reload")
	s, err = p.Seen(ctxT(t), "v2")
	require.NoError(t, err)
	assert.Equal(t, "on", s.Meta["tag"], "the new server chain runs")
	ms, _ := r.metrics.Method(interceptor.Server, "Probe.Seen")
	assert.Equal(t, uint64(2), ms.Calls, "the metrics interceptor kept its counts across the reload")
}

func TestReloadRejectsInvalidFiles(t *testing.T) {
	r := startReloadable(t, reloadV2)
	c := dial(t, r.endpoint, requestor.Options{})
	p := probe(t, c, "probe")
	good := r.w.Current()

	for _, tc := range []struct{ name, content, want string }{
		{"invalid pool", "types:\n  worker: {pool: {min: 9, max: 3}}\ninterceptors: {server: [metrics]}\n", "types.worker.pool: min 9 is above max 3"},
		{"unknown interceptor", "types:\n  worker: {pool: {max: 1}}\ninterceptors: {server: [metrics, tracing]}\n", `unknown interceptor "tracing"`},
		{"not YAML", "types: {worker: [\n", "config: read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rewriteConfig(t, r.file, tc.content)
			err := waitFor(t, r.reject, "the rejection")
			assert.Contains(t, err.Error(), tc.want)
			assert.Same(t, good, r.w.Current(), "the old snapshot stays")
			assert.Equal(t, 5, r.poolMax(), "the pool keeps its size")
			s, err := p.Seen(ctxT(t), "x")
			require.NoError(t, err)
			assert.Equal(t, "on", s.Meta["tag"], "the server chain stays")
		})
	}
	select {
	case cfg := <-r.applied:
		t.Fatalf("an invalid file was applied: %+v", cfg)
	default:
	}
}

// TestReloadUnderLoad reloads the configuration many times while calls
// run: with -race this shows the reload path and the call path share
// nothing unsynchronized; every call succeeds, and the last file wins.
func TestReloadUnderLoad(t *testing.T) {
	r := startReloadable(t, reloadV1)
	c := dial(t, r.endpoint, requestor.Options{})
	w, p := worker(t, c, "worker"), probe(t, c, "probe")

	ctx, cancel := context.WithCancel(ctxT(t))
	var wg sync.WaitGroup
	var calls atomic.Int64
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				var err error
				if i%2 == 0 {
					_, err = w.Work(ctxT(t), time.Millisecond)
				} else {
					_, err = p.Seen(ctxT(t), "load")
				}
				if !assert.NoError(t, err) {
					return
				}
				calls.Add(1)
			}
		}()
	}
	versions := []string{reloadV1, reloadV2}
	for i := range 12 {
		rewriteConfig(t, r.file, versions[i%2])
		require.NoError(t, r.w.Reload(), "Reload %d", i)
		time.Sleep(5 * time.Millisecond)
	}
	rewriteConfig(t, r.file, reloadV2)
	require.NoError(t, r.w.Reload())
	cancel()
	wg.Wait()
	assert.Equal(t, 5, r.poolMax(), "the last file's pool max")
	assert.Equal(t, 45*time.Second, r.ttl("cart"), "the last file's lease TTL")
	s, err := p.Seen(ctxT(t), "after")
	require.NoError(t, err)
	assert.Equal(t, "on", s.Meta["tag"], "the last file's chain")
	t.Logf("%d calls during the reloads", calls.Load())
	assert.Positive(t, calls.Load())
}
