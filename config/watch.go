package config

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// ErrNoFile is returned by [Watch] for a Source without a file.
var ErrNoFile = errors.New("config: watch: no configuration file")

// WatchOptions configure [Watch]. The zero value works.
type WatchOptions struct {
	// Logger receives the reloads and the rejected files. Default:
	// discard.
	Logger *slog.Logger
	// Check, if set, validates a configuration beyond [Config.Validate],
	// for what only the application knows: that every interceptor name
	// is in its [Registry] ([Registry.Check]), say. A configuration it
	// refuses is rejected like an invalid file.
	Check func(*Config) error
	// OnReject, if set, is told of each rejected reload, after it was
	// logged, on the watcher's goroutine.
	OnReject func(error)
	// Debounce is how long the watcher waits after a change of the file
	// for more changes before it reads it: editors and deployment tools
	// write a file in several steps. Default 50ms.
	Debounce time.Duration
}

// Watcher publishes configuration snapshots: it reads the file when it
// changes, validates the result and, if it is valid and differs from the
// current snapshot, publishes it (see [Watcher.Current]) and tells the
// subscribers. A file that does not parse or does not validate is
// rejected with a logged error, and the current snapshot stays.
//
// The running system reads snapshots only: each reload reads with a
// viper instance of its own, on the watcher's goroutine, and viper is
// never used once the snapshot is published (viper is not safe for
// concurrent use). The watcher watches the file's directory, so that
// files replaced by rename (as editors and Kubernetes ConfigMaps do) are
// seen.
//
// Watch starts one goroutine, which reads the file system's events and
// runs the reloads and the subscribers; Close stops it. Current,
// Subscribe, Reload and Close are safe for concurrent use.
type Watcher struct {
	src  Source
	opts WatchOptions
	file string // cleaned absolute path

	cur atomic.Pointer[Config]

	reload sync.Mutex // serializes reloads and the subscriber calls
	subsMu sync.Mutex
	subs   []*subscriber

	fsw       *fsnotify.Watcher
	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
}

type subscriber struct{ fn func(old, new *Config) }

// Watch loads the configuration from src, which must name a file, and
// watches the file. It fails if the first load fails: a service should
// not start on a configuration it cannot read.
func Watch(src Source, opts WatchOptions) (*Watcher, error) {
	file := src.File
	if src.Flags != nil {
		if f := src.Flags.Lookup("config"); f != nil && f.Changed {
			file = f.Value.String()
		}
	}
	if file == "" {
		return nil, ErrNoFile
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, fmt.Errorf("config: watch %s: %w", file, err)
	}
	src.File = abs
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 50 * time.Millisecond
	}
	w := &Watcher{src: src, opts: opts, file: filepath.Clean(abs), stop: make(chan struct{}), done: make(chan struct{})}
	// Watch first, then load: a change made after the load is an event.
	w.fsw, err = fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("config: watch %s: %w", file, err)
	}
	if err := w.fsw.Add(filepath.Dir(w.file)); err != nil {
		w.fsw.Close()
		return nil, fmt.Errorf("config: watch %s: %w", file, err)
	}
	real, _ := filepath.EvalSymlinks(w.file)
	c, err := w.load()
	if err != nil {
		w.fsw.Close()
		return nil, err
	}
	w.cur.Store(c)
	go w.run(real)
	return w, nil
}

// Current returns the current snapshot. It never returns nil, takes no
// lock and is cheap enough for the request path, although a request
// path is better served by the values a subscriber derived from it.
func (w *Watcher) Current() *Config { return w.cur.Load() }

// Subscribe registers fn to be called with the old and the new snapshot
// each time a new one is published, on the watcher's goroutine (or on the
// goroutine that calls Reload), one call at a time, in order. fn should
// return promptly. The returned function cancels the subscription.
func (w *Watcher) Subscribe(fn func(old, new *Config)) (cancel func()) {
	s := &subscriber{fn: fn}
	w.subsMu.Lock()
	w.subs = append(w.subs, s)
	w.subsMu.Unlock()
	return func() {
		w.subsMu.Lock()
		defer w.subsMu.Unlock()
		w.subs = slices.DeleteFunc(w.subs, func(o *subscriber) bool { return o == s })
	}
}

// Reload reads the file now, as a change of it would, and returns why
// the configuration was rejected, or nil if it was published or did not
// change. It is for a SIGHUP handler, say.
func (w *Watcher) Reload() error {
	w.reload.Lock()
	defer w.reload.Unlock()
	c, err := w.load()
	if err != nil {
		w.opts.Logger.Error("config: rejected; the running configuration stays", "file", w.file, "err", err)
		if w.opts.OnReject != nil {
			w.opts.OnReject(err)
		}
		return err
	}
	old := w.cur.Load()
	if reflect.DeepEqual(old, c) {
		return nil
	}
	w.cur.Store(c)
	w.opts.Logger.Info("config: reloaded", "file", w.file)
	w.subsMu.Lock()
	subs := slices.Clone(w.subs)
	w.subsMu.Unlock()
	for _, s := range subs {
		s.fn(old, c)
	}
	return nil
}

// load reads and checks the configuration.
func (w *Watcher) load() (*Config, error) { return load(w.src, w.opts.Check) }

// Close stops watching and waits for the watcher's goroutine, including
// a reload in progress. It is idempotent.
func (w *Watcher) Close() error {
	var err error
	w.closeOnce.Do(func() {
		close(w.stop)
		err = w.fsw.Close()
	})
	<-w.done
	return err
}

// run is the watcher's goroutine: it collects the events that concern
// the file (a change of the file, or of what its path resolves to, real
// at first) and reloads once they pause for the debounce time.
func (w *Watcher) run(real string) {
	defer close(w.done)
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	for {
		select {
		case <-w.stop:
			return
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			now, _ := filepath.EvalSymlinks(w.file)
			if filepath.Clean(ev.Name) == w.file || now != real {
				real = now
				debounce.Reset(w.opts.Debounce)
			}
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			w.opts.Logger.Warn("config: watching the file", "file", w.file, "err", err)
		case <-debounce.C:
			w.Reload()
		}
	}
}
