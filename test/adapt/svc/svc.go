// Package svc holds the remote interfaces that the adaptation tests call:
// a Probe whose methods report what they saw of the invocation context,
// and a Worker to serve from a pool.
package svc

//go:generate go tool stubgen -type Probe,Worker

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/interceptor"
)

// Seen is what a Probe method saw of its invocation.
type Seen struct {
	Tag         string
	Identity    string
	HasIdentity bool
	Meta        map[string]string // the invocation context, from remoting.MetadataFrom
	Peer        string            // the caller's id, from remoting.ServerInfoFrom
	Deadline    time.Duration     // the time left when the method ran; 0 for none
	Instance    int64             // the serial number of the instance that served the call
}

// Probe is a remote interface whose methods say what they saw.
type Probe interface {
	// Seen returns what the method saw, with tag.
	Seen(ctx context.Context, tag string) (Seen, error)
	// Echo returns n.
	Echo(ctx context.Context, n int) (int, error)
	// Fail fails with a *remoting.Error with the given code.
	Fail(ctx context.Context, code int, msg string) error
	// Flaky fails with Unavailable the first failures times it is called
	// with key, then returns how often it was called with key.
	Flaky(ctx context.Context, key string, failures int) (int, error)
	// Sleep returns after d, or when ctx ends.
	Sleep(ctx context.Context, d time.Duration) error
}

// Worker is a remote interface for pooled instances.
type Worker interface {
	// Work keeps the instance busy for d and returns its serial number.
	Work(ctx context.Context, d time.Duration) (int64, error)
}

// Serials numbers instances.
type Serials struct{ n atomic.Int64 }

// ProbeImpl implements Probe. It is safe for concurrent use.
type ProbeImpl struct {
	Serial int64

	mu    sync.Mutex
	flaky map[string]int
}

// NewProbe returns a Probe with the next serial number of s; it fits
// lifecycle.Lazy and lifecycle.PerRequest.
func (s *Serials) NewProbe(context.Context) (*ProbeImpl, error) {
	return &ProbeImpl{Serial: s.n.Add(1)}, nil
}

// NewWorker returns a Worker with the next serial number of s; it fits
// lifecycle.Pooled.
func (s *Serials) NewWorker(context.Context) (*WorkerImpl, error) {
	return &WorkerImpl{Serial: s.n.Add(1)}, nil
}

// Seen implements Probe.
func (p *ProbeImpl) Seen(ctx context.Context, tag string) (Seen, error) {
	s := Seen{Tag: tag, Meta: maps.Clone(remoting.MetadataFrom(ctx)), Instance: p.Serial}
	s.Identity, s.HasIdentity = interceptor.IdentityFrom(ctx)
	if info := remoting.ServerInfoFrom(ctx); info != nil {
		s.Peer = info.Caller.String()
	}
	if d, ok := ctx.Deadline(); ok {
		s.Deadline = time.Until(d)
	}
	return s, nil
}

// Echo implements Probe.
func (p *ProbeImpl) Echo(_ context.Context, n int) (int, error) { return n, nil }

// Fail implements Probe.
func (p *ProbeImpl) Fail(_ context.Context, code int, msg string) error {
	return &remoting.Error{Code: remoting.Code(code), Message: msg}
}

// Flaky implements Probe.
func (p *ProbeImpl) Flaky(_ context.Context, key string, failures int) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.flaky == nil {
		p.flaky = make(map[string]int)
	}
	p.flaky[key]++
	if n := p.flaky[key]; n <= failures {
		return 0, remoting.Errorf(remoting.CodeUnavailable, "flaky: call %d of %q fails", n, key)
	}
	return p.flaky[key], nil
}

// Sleep implements Probe.
func (p *ProbeImpl) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WorkerImpl implements Worker; one instance serves one call at a time.
type WorkerImpl struct{ Serial int64 }

// Work implements Worker.
func (w *WorkerImpl) Work(ctx context.Context, d time.Duration) (int64, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return w.Serial, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}
