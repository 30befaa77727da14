// Command reconfigure demonstrates configuration reloads on a running
// server: the demo writes a configuration file, serves a pool of
// renderers and an interceptor chain as the file says, then rewrites the
// file. The watcher validates the new file, publishes it as a new
// snapshot, and the server takes the new pool size and the new chain
// without a restart; calls in flight are not disturbed. Last, the demo
// writes an invalid file: it is rejected, and the running configuration
// stays.
//
// It runs a server and a client in one process over real loopback TCP:
//
//	go run ./examples/reconfigure
package main

//go:generate go tool stubgen -type Renderer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/config"
	"github.com/remoting-go/remoting/interceptor"
	"github.com/remoting-go/remoting/invoker"
	"github.com/remoting-go/remoting/lifecycle"
	"github.com/remoting-go/remoting/pool"
	"github.com/remoting-go/remoting/requestor"
)

// Renderer is the remote interface.
type Renderer interface {
	// Render works on job for d and returns the renderer's serial number.
	Render(ctx context.Context, job string, d time.Duration) (int64, error)
}

// renderer is the servant; a pool holds them.
type renderer struct{ serial int64 }

func (r *renderer) Render(ctx context.Context, _ string, d time.Duration) (int64, error) {
	select {
	case <-time.After(d):
		return r.serial, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

const version1 = `# version 1
types:
  render: {pool: {max: 1}}
interceptors:
  server: [metrics]
`

const version2 = `# version 2
types:
  render: {pool: {max: 4}}
interceptors:
  server: [audit, metrics]
`

const invalid = `# version 3, invalid
types:
  render: {pool: {min: 6, max: 2}}
interceptors:
  server: [audit, metrics, tracing]
`

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "reconfigure:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Printf("[%6.1fms] %s\n", float64(time.Since(start).Microseconds())/1000, fmt.Sprintf(format, args...))
	}

	dir, err := os.MkdirTemp("", "reconfigure-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "service.yaml")
	if err := write(file, version1); err != nil {
		return err
	}

	// The interceptors the configuration may name. Metrics is made once,
	// so that its counts survive reloads.
	metrics := interceptor.NewMetrics(interceptor.MetricsOptions{})
	var audited atomic.Int64
	registry := config.Registry{
		"metrics": func(*config.Config) (remoting.Interceptor, error) { return metrics.Server(), nil },
		"audit": func(*config.Config) (remoting.Interceptor, error) {
			return func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
				audited.Add(1)
				return next(ctx, inv)
			}, nil
		},
	}
	rejected := make(chan error, 4)
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		switch a.Key {
		case slog.TimeKey, "file", "err": // the demo prints the error itself, below
			return slog.Attr{}
		}
		return a
	}}))
	w, err := config.Watch(config.Source{File: file, EnvPrefix: "-"}, config.WatchOptions{
		Logger:   logger,
		Check:    registry.Check,
		OnReject: func(err error) { rejected <- err },
	})
	if err != nil {
		return err
	}
	defer w.Close()
	cfg := w.Current()
	say("config: loaded %s: render pool max %d, server chain %v", filepath.Base(file), cfg.Types["render"].Pool.Max, cfg.Interceptors.Server)

	// The server, built from the first snapshot.
	opts, err := cfg.ServerOptions(registry)
	if err != nil {
		return err
	}
	srv := invoker.NewServer(opts)
	var serials atomic.Int64
	renderers := lifecycle.Pooled(func(context.Context) (*renderer, error) {
		return &renderer{serial: serials.Add(1)}, nil
	}, lifecycle.PoolOptions{IdleTimeout: -1})
	if _, err := srv.Register("render", RendererInvoker(), renderers); err != nil {
		return err
	}
	targets := &config.Targets{
		Interceptors: registry,
		Servers:      []config.ChainSetter{srv},
		Pools:        map[string]pool.Sizer{"render": renderers},
	}
	if err := targets.Apply(nil, cfg); err != nil {
		return err
	}
	applied := make(chan *config.Config, 4)
	w.Subscribe(func(old, new *config.Config) {
		if err := targets.Apply(old, new); err != nil {
			say("config: apply: %v", err)
		}
		applied <- new
	})
	lis, err := invoker.Listen("tcp://127.0.0.1:0", nil)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	c, err := requestor.Dial(ctx, "tcp://"+lis.Addr().String(), requestor.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	r, err := LookupRenderer(ctx, c, "render")
	if err != nil {
		return err
	}
	poolMax := func() int { return renderers.Stats().Max }

	// burst renders 4 jobs at once and reports how many renderers served
	// them and how long it took.
	burst := func() (int, time.Duration, error) {
		t0 := time.Now()
		var mu sync.Mutex
		seen := map[int64]bool{}
		var wg sync.WaitGroup
		var firstErr error
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				serial, err := r.Render(ctx, fmt.Sprintf("job-%d", i), 50*time.Millisecond)
				mu.Lock()
				defer mu.Unlock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				seen[serial] = true
			}()
		}
		wg.Wait()
		return len(seen), time.Since(t0), firstErr
	}

	n, took, err := burst()
	if err != nil {
		return err
	}
	say("client: 4 jobs of 50ms at once: %d renderer served them in %v (pool max %d)", n, took.Round(time.Millisecond), poolMax())
	if n != 1 || audited.Load() != 0 {
		return fmt.Errorf("version 1: want 1 renderer and no audit, got %d renderers and %d audited calls", n, audited.Load())
	}

	// Version 2: a bigger pool and an audit interceptor in front.
	if err := write(file, version2); err != nil {
		return err
	}
	say("config: rewrote the file: render pool max 4, server chain [audit metrics]")
	select {
	case cfg = <-applied:
	case <-time.After(5 * time.Second):
		return errors.New("version 2 was not applied")
	}
	say("config: the watcher published the new snapshot; pool max is now %d", poolMax())
	n, took, err = burst()
	if err != nil {
		return err
	}
	say("client: 4 jobs of 50ms at once: %d renderers served them in %v; the audit interceptor saw %d calls", n, took.Round(time.Millisecond), audited.Load())
	if n != 4 || audited.Load() != 4 {
		return fmt.Errorf("version 2: want 4 renderers and 4 audited calls, got %d and %d", n, audited.Load())
	}

	// Version 3 is invalid: rejected, and version 2 stays.
	if err := write(file, invalid); err != nil {
		return err
	}
	say("config: rewrote the file with min 6 > max 2 and an unknown interceptor")
	select {
	case err := <-rejected:
		say("config: rejected:\n    %s", strings.ReplaceAll(err.Error(), "\n", "\n    "))
	case <-time.After(5 * time.Second):
		return errors.New("the invalid file was not rejected")
	}
	if w.Current() != cfg || poolMax() != 4 {
		return fmt.Errorf("the invalid file changed the configuration (pool max %d)", poolMax())
	}
	n, _, err = burst()
	if err != nil {
		return err
	}
	say("client: still %d renderers, pool max %d, chain [audit metrics] (%d audited calls)", n, poolMax(), audited.Load())
	st, _ := metrics.Method(interceptor.Server, "Renderer.Render")
	say("metrics: %d Render calls counted across both chains", st.Calls)
	if st.Calls != 12 {
		return fmt.Errorf("metrics counted %d calls, want 12", st.Calls)
	}

	if err := srv.Shutdown(ctx); err != nil {
		return err
	}
	<-served
	say("server: shut down")
	return nil
}

// write replaces file with content by rename, as editors and deployment
// tools do, so that the watcher never reads half a file.
func write(file, content string) error {
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}
