// Package svc is the remote interface the lifecycle tests call, with an
// implementation that records its lifecycle: which instance served each
// call, which hooks ran, and whether an instance was ever shared or
// reused uncleaned.
package svc

//go:generate go tool stubgen -type Probe

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// Probe is a remote interface whose calls say which instance served them.
type Probe interface {
	// Who returns the serial number of the instance that served the call.
	Who(ctx context.Context) (int64, error)
	// Hold keeps the instance busy for d, or until ctx ends, and returns
	// its serial number.
	Hold(ctx context.Context, d time.Duration) (int64, error)
	// Echo returns n and does nothing else.
	Echo(ctx context.Context, n int64) (int64, error)
}

// ErrNew is what Tracker.New returns while Tracker.FailNext is positive.
var ErrNew = errors.New("svc: constructor failed")

// Tracker makes Instances and counts what happens to them. Its counters
// may be read at any time.
type Tracker struct {
	// Delay is how long New takes (less if its context ends first).
	Delay time.Duration
	// FailNext is how many more calls of New fail with ErrNew.
	FailNext atomic.Int64

	News        atomic.Int64 // calls of New
	Created     atomic.Int64 // instances New returned
	Activated   atomic.Int64
	Deactivated atomic.Int64
	Resets      atomic.Int64
	Live        atomic.Int64 // instances activated and not yet deactivated
	Peak        atomic.Int64 // the most instances live at once
	Calls       atomic.Int64 // calls served
	Reused      atomic.Int64 // calls served by an instance that had served one before
	Unreset     atomic.Int64 // calls served by an instance not Reset since its last call
	Overlaps    atomic.Int64 // calls that found their instance serving another call
}

// New is a constructor for the lifecycle strategies.
func (tr *Tracker) New(ctx context.Context) (*Instance, error) {
	tr.News.Add(1)
	if tr.Delay > 0 {
		t := time.NewTimer(tr.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	if tr.FailNext.Load() > 0 && tr.FailNext.Add(-1) >= 0 {
		return nil, ErrNew
	}
	return &Instance{Serial: tr.Created.Add(1), tr: tr}, nil
}

// Instance implements Probe and the Activator, Deactivator and Resetter
// hooks of package lifecycle.
type Instance struct {
	Serial int64
	tr     *Tracker
	busy   atomic.Bool
	served atomic.Int64 // calls served
	dirty  atomic.Bool  // served a call since the last Reset
}

var _ Probe = (*Instance)(nil)

// begin and end bracket a call. Only strategies that give an instance to
// one call at a time (per-request, pooled) can promise no Overlaps.
func (in *Instance) begin() {
	in.tr.Calls.Add(1)
	if !in.busy.CompareAndSwap(false, true) {
		in.tr.Overlaps.Add(1)
	}
	if in.served.Add(1) > 1 {
		in.tr.Reused.Add(1)
	}
	if in.dirty.Swap(true) {
		in.tr.Unreset.Add(1)
	}
}

func (in *Instance) end() { in.busy.Store(false) }

func (in *Instance) Who(context.Context) (int64, error) {
	in.begin()
	defer in.end()
	return in.Serial, nil
}

func (in *Instance) Hold(ctx context.Context, d time.Duration) (int64, error) {
	in.begin()
	defer in.end()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return in.Serial, nil
}

func (in *Instance) Echo(_ context.Context, n int64) (int64, error) {
	in.begin()
	defer in.end()
	return n, nil
}

func (in *Instance) Activate(context.Context) error {
	in.tr.Activated.Add(1)
	n := in.tr.Live.Add(1)
	for p := in.tr.Peak.Load(); n > p && !in.tr.Peak.CompareAndSwap(p, n); p = in.tr.Peak.Load() {
	}
	return nil
}

func (in *Instance) Deactivate(context.Context) error {
	in.tr.Deactivated.Add(1)
	in.tr.Live.Add(-1)
	return nil
}

func (in *Instance) Reset(context.Context) error {
	in.tr.Resets.Add(1)
	in.dirty.Store(false)
	return nil
}

// Bare implements Probe and nothing else, for benchmarks: Echo is all it
// does.
type Bare struct{}

var _ Probe = (*Bare)(nil)

// NewBare is a constructor for the lifecycle strategies that costs one
// small allocation.
func NewBare(context.Context) (*Bare, error) { return new(Bare), nil }

func (*Bare) Who(context.Context) (int64, error)                 { return 0, nil }
func (*Bare) Hold(context.Context, time.Duration) (int64, error) { return 0, nil }
func (*Bare) Echo(_ context.Context, n int64) (int64, error)     { return n, nil }
