// Package tally is the remote factory and the client-dependent object the
// lifecycle tests of leasing and passivation call: a Maker makes Tallies,
// counters whose state survives passivation, and a Tracker counts what
// happens to them.
package tally

//go:generate go tool stubgen -type Maker,Tally

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/remoting-go/remoting/passivation"
)

// Maker is a remote factory.
type Maker interface {
	// NewTally makes a Tally for the caller, starting at start.
	NewTally(ctx context.Context, start int64) (Tally, error)
}

// Tally is a counter that belongs to the client that made it.
type Tally interface {
	// Add adds n and returns the new value.
	Add(ctx context.Context, n int64) (int64, error)
	// Get returns the value.
	Get(ctx context.Context) (int64, error)
	// Hold keeps the call running for d, or until ctx ends, and returns
	// the value.
	Hold(ctx context.Context, d time.Duration) (int64, error)
}

// stateSchema is the schema number of a Counter's saved state.
const stateSchema = 1

// state is a Counter's saved state.
type state struct {
	N    int64
	Note string
}

// ErrSave is what SaveState returns while Tracker.FailSaves is set.
var ErrSave = errors.New("tally: save failed")

// Tracker makes Counters and counts what happens to them. Its counters may
// be read at any time.
type Tracker struct {
	// RestoreDelay is how long RestoreState takes.
	RestoreDelay time.Duration
	// Note is saved with each state, to make it larger.
	Note string
	// FailSaves makes SaveState fail with ErrSave.
	FailSaves atomic.Bool

	Made        atomic.Int64 // Counters NewTally made
	News        atomic.Int64 // Counters New made, for reactivation
	Saves       atomic.Int64 // SaveState calls that succeeded
	Restores    atomic.Int64 // RestoreState calls
	Activated   atomic.Int64
	Deactivated atomic.Int64
	Closed      atomic.Int64
	Calls       atomic.Int64
}

// Maker returns the factory.
func (tr *Tracker) Maker() Maker { return maker{tr} }

type maker struct{ tr *Tracker }

func (m maker) NewTally(_ context.Context, start int64) (Tally, error) {
	m.tr.Made.Add(1)
	return &Counter{n: start, tr: m.tr}, nil
}

// New is the constructor of reactivated Counters, for lifecycle.Passivate.
func (tr *Tracker) New(context.Context) (*Counter, error) {
	tr.News.Add(1)
	return &Counter{tr: tr}, nil
}

// Counter implements Tally and the lifecycle hooks.
type Counter struct {
	tr *Tracker
	mu sync.Mutex
	n  int64
}

var _ Tally = (*Counter)(nil)

func (c *Counter) Add(_ context.Context, n int64) (int64, error) {
	c.tr.Calls.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += n
	return c.n, nil
}

func (c *Counter) Get(context.Context) (int64, error) {
	c.tr.Calls.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n, nil
}

func (c *Counter) Hold(ctx context.Context, d time.Duration) (int64, error) {
	c.tr.Calls.Add(1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return c.Get(ctx)
}

func (c *Counter) SaveState(context.Context) ([]byte, error) {
	if c.tr.FailSaves.Load() {
		return nil, ErrSave
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	data, err := passivation.Encode(stateSchema, state{N: c.n, Note: c.tr.Note})
	if err == nil {
		c.tr.Saves.Add(1)
	}
	return data, err
}

func (c *Counter) RestoreState(ctx context.Context, data []byte) error {
	c.tr.Restores.Add(1)
	if c.tr.RestoreDelay > 0 {
		t := time.NewTimer(c.tr.RestoreDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var s state
	if _, err := passivation.Decode(data, &s); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n = s.N
	return nil
}

func (c *Counter) Activate(context.Context) error {
	c.tr.Activated.Add(1)
	return nil
}

func (c *Counter) Deactivate(context.Context) error {
	c.tr.Deactivated.Add(1)
	return nil
}

func (c *Counter) Close(context.Context) error {
	c.tr.Closed.Add(1)
	return nil
}
