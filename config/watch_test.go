package config_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/remoting-go/remoting/config"
)

const baseYAML = `
types:
  render: {pool: {min: 1, max: 4}}
  cart: {lease_ttl: 30s}
interceptors: {server: [a]}
`

// watch starts a watcher of a file with content; the test closes it.
func watch(t *testing.T, content string, opts config.WatchOptions) (*config.Watcher, string) {
	t.Helper()
	file := writeFile(t, t.TempDir(), "svc.yaml", content)
	w, err := config.Watch(config.Source{File: file, EnvPrefix: "-"}, opts)
	require.NoError(t, err, "Watch")
	t.Cleanup(func() { w.Close() })
	return w, file
}

// rewrite replaces the file the way editors do: write a temporary file,
// then rename it over the old one.
func rewrite(t *testing.T, file, content string) {
	t.Helper()
	tmp := file + ".tmp"
	require.NoError(t, os.WriteFile(tmp, []byte(content), 0o600))
	require.NoError(t, os.Rename(tmp, file))
}

type change struct{ old, new *config.Config }

func TestWatcherPublishesValidChanges(t *testing.T) {
	w, file := watch(t, baseYAML, config.WatchOptions{Debounce: 10 * time.Millisecond})
	first := w.Current()
	assert.Equal(t, 4, first.Types["render"].Pool.Max)

	changes := make(chan change, 10)
	w.Subscribe(func(old, new *config.Config) { changes <- change{old, new} })

	rewrite(t, file, `
types:
  render: {pool: {min: 1, max: 9}}
  cart: {lease_ttl: 30s}
interceptors: {server: [a, b]}
`)
	ch := waitChange(t, changes)
	assert.Same(t, first, ch.old, "old is the snapshot that was current")
	assert.Same(t, w.Current(), ch.new, "new is the current snapshot")
	assert.Equal(t, 9, ch.new.Types["render"].Pool.Max)
	assert.Equal(t, []string{"a", "b"}, ch.new.Interceptors.Server)
	assert.Equal(t, 4, first.Types["render"].Pool.Max, "the old snapshot did not change")

	// Writing in place (not by rename) is seen too.
	require.NoError(t, os.WriteFile(file, []byte(baseYAML), 0o600))
	ch = waitChange(t, changes)
	assert.Equal(t, 4, ch.new.Types["render"].Pool.Max)

	// The same content again publishes nothing.
	rewrite(t, file, baseYAML)
	require.NoError(t, w.Reload())
	select {
	case ch := <-changes:
		t.Fatalf("unchanged file published %+v", ch.new)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestWatcherRejectsInvalidFiles(t *testing.T) {
	rejected := make(chan error, 10)
	var log logBuffer
	w, file := watch(t, baseYAML, config.WatchOptions{
		Debounce: 10 * time.Millisecond,
		Logger:   log.logger(),
		OnReject: func(err error) { rejected <- err },
		Check: func(c *config.Config) error {
			for _, n := range c.Interceptors.Server {
				if n == "unknown" {
					return errors.New("interceptors.server: unknown interceptor \"unknown\"")
				}
			}
			return nil
		},
	})
	good := w.Current()
	changes := make(chan change, 10)
	w.Subscribe(func(old, new *config.Config) { changes <- change{old, new} })

	for _, tc := range []struct{ name, content, want string }{
		{"does not validate", "types:\n  render: {pool: {min: 5, max: 2}}\n", "types.render.pool: min 5 is above max 2"},
		{"does not parse", "types: [\n", "config: read"},
		{"refused by Check", "interceptors: {server: [unknown]}\n", "unknown interceptor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rewrite(t, file, tc.content)
			select {
			case err := <-rejected:
				assert.Contains(t, err.Error(), tc.want, "rejection")
			case <-time.After(5 * time.Second):
				t.Fatal("the invalid file was not rejected")
			}
			assert.Same(t, good, w.Current(), "the running configuration stays")
			assert.Contains(t, log.String(), tc.want, "the rejection is logged")
			assert.Contains(t, log.String(), "the running configuration stays", "the rejection is logged")
		})
	}
	select {
	case ch := <-changes:
		t.Fatalf("an invalid file was published: %+v", ch.new)
	default:
	}
	// A valid file after invalid ones is taken.
	rewrite(t, file, "types:\n  render: {pool: {max: 6}}\n")
	assert.Equal(t, 6, waitChange(t, changes).new.Types["render"].Pool.Max)
}

func TestWatchFailsOnAnInvalidStart(t *testing.T) {
	file := writeFile(t, t.TempDir(), "svc.yaml", "limits: {max_frame_size: -1}\n")
	_, err := config.Watch(config.Source{File: file, EnvPrefix: "-"}, config.WatchOptions{})
	assert.ErrorContains(t, err, "limits.max_frame_size: -1 is negative")
	_, err = config.Watch(config.Source{}, config.WatchOptions{})
	assert.ErrorIs(t, err, config.ErrNoFile)
}

// TestWatcherReloadUnderLoad reads snapshots from many goroutines while
// the file changes: with -race, this shows that readers and reloads share
// nothing unsynchronized, and every snapshot a reader sees is whole.
func TestWatcherReloadUnderLoad(t *testing.T) {
	w, file := watch(t, baseYAML, config.WatchOptions{Debounce: time.Millisecond})
	var applied atomic.Int64
	w.Subscribe(func(old, new *config.Config) { applied.Add(1) })
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var reads atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				c := w.Current()
				// Every file written below has max = 10*min.
				p := c.Types["render"].Pool
				if p.Min != 1 && p.Max != 10*p.Min {
					t.Errorf("torn snapshot: %+v", p)
					return
				}
				reads.Add(1)
			}
		}()
	}
	for i := 2; i <= 20; i++ {
		content := "types:\n  render: {pool: {min: " + itoa(i) + ", max: " + itoa(10*i) + "}}\n"
		rewrite(t, file, content)
		if i%2 == 0 {
			require.NoError(t, w.Reload(), "Reload %d", i)
		}
		time.Sleep(2 * time.Millisecond)
	}
	require.NoError(t, w.Reload())
	cancel()
	wg.Wait()
	assert.Equal(t, 200, w.Current().Types["render"].Pool.Max, "the last file wins")
	assert.Positive(t, applied.Load(), "subscribers were told")
	assert.Positive(t, reads.Load())
}

func TestWatcherCloseIsIdempotent(t *testing.T) {
	w, _ := watch(t, baseYAML, config.WatchOptions{})
	require.NoError(t, w.Close())
	require.NoError(t, w.Close())
}

func TestWatcherSeesSymlinkSwaps(t *testing.T) {
	// As a Kubernetes ConfigMap volume does: the file is a symlink into a
	// directory that is swapped by renaming a symlink.
	dir := t.TempDir()
	for _, v := range []string{"v1", "v2"} {
		require.NoError(t, os.Mkdir(filepath.Join(dir, v), 0o700))
	}
	writeFile(t, filepath.Join(dir, "v1"), "svc.yaml", "types:\n  render: {pool: {max: 1}}\n")
	writeFile(t, filepath.Join(dir, "v2"), "svc.yaml", "types:\n  render: {pool: {max: 2}}\n")
	require.NoError(t, os.Symlink("v1", filepath.Join(dir, "data")))
	require.NoError(t, os.Symlink(filepath.Join("data", "svc.yaml"), filepath.Join(dir, "svc.yaml")))
	w, err := config.Watch(config.Source{File: filepath.Join(dir, "svc.yaml"), EnvPrefix: "-"}, config.WatchOptions{Debounce: 10 * time.Millisecond})
	require.NoError(t, err)
	defer w.Close()
	changes := make(chan change, 10)
	w.Subscribe(func(old, new *config.Config) { changes <- change{old, new} })
	require.NoError(t, os.Symlink("v2", filepath.Join(dir, "data.new")))
	require.NoError(t, os.Rename(filepath.Join(dir, "data.new"), filepath.Join(dir, "data")))
	assert.Equal(t, 2, waitChange(t, changes).new.Types["render"].Pool.Max)
}

func waitChange(t *testing.T, ch <-chan change) change {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no configuration was published")
		panic("unreachable")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// logBuffer collects log output; it is safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }
