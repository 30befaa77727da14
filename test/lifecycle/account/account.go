// Package account is the keyed object the lifecycle tests of keyed
// objects call: an Account per key, whose balance survives passivation,
// and a Tracker that counts what happens to accounts and can make their
// hooks fail.
package account

//go:generate go tool stubgen -type Account

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/passivation"
)

// Account is a balance named by a key.
type Account interface {
	// Deposit adds n and returns the new balance.
	Deposit(ctx context.Context, n int64) (int64, error)
	// Balance returns the balance.
	//
	//remoting:readonly
	Balance(ctx context.Context) (int64, error)
	// Key returns the key the account was made for.
	//
	//remoting:readonly
	Key(ctx context.Context) (string, error)
	// Hold keeps the call running for d, or until ctx ends, and returns
	// the balance.
	//
	//remoting:readonly
	Hold(ctx context.Context, d time.Duration) (int64, error)
	// Fail adds n and then returns an error.
	Fail(ctx context.Context, n int64) error
	// Panic adds n and then panics.
	Panic(ctx context.Context, n int64) error
}

// ErrInjected is what a hook returns while the Tracker says it must fail.
var ErrInjected = errors.New("account: injected failure")

// Tracker makes Accounts and counts what happens to them. Its fields may
// be read and set at any time.
type Tracker struct {
	// NewDelay is how long the constructor takes.
	NewDelay time.Duration
	// FailNew, FailRestore and FailSave make the hooks fail with ErrInjected.
	FailNew, FailRestore, FailSave atomic.Bool

	News, Restores, Saves, Activates, Deactivates atomic.Int64
}

// New is the constructor for lifecycle.Keyed.
func (t *Tracker) New(ctx context.Context, key string) (*Impl, error) {
	if t.NewDelay > 0 {
		time.Sleep(t.NewDelay)
	}
	if t.FailNew.Load() {
		return nil, ErrInjected
	}
	t.News.Add(1)
	return &Impl{t: t, key: key}, nil
}

// Impl is an Account. It serves one call at a time, as keyed objects do.
type Impl struct {
	t   *Tracker
	key string
	n   int64
}

var _ Account = (*Impl)(nil)

func (a *Impl) Deposit(ctx context.Context, n int64) (int64, error) { a.n += n; return a.n, nil }
func (a *Impl) Balance(ctx context.Context) (int64, error)          { return a.n, nil }
func (a *Impl) Key(ctx context.Context) (string, error)             { return a.key, nil }
func (a *Impl) Fail(ctx context.Context, n int64) error {
	a.n += n
	return errors.New("account: failed on purpose")
}
func (a *Impl) Panic(ctx context.Context, n int64) error {
	a.n += n
	panic("account: panic on purpose")
}

func (a *Impl) Hold(ctx context.Context, d time.Duration) (int64, error) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	return a.n, nil
}

const stateSchema = 1

type state struct{ N int64 }

// State returns the state of an Account whose balance is n, as its
// SaveState encodes it: for stores filled without calls.
func State(n int64) ([]byte, error) { return passivation.Encode(stateSchema, state{N: n}) }

// SaveState implements lifecycle.StateSaver.
func (a *Impl) SaveState(ctx context.Context) ([]byte, error) {
	if a.t.FailSave.Load() {
		return nil, ErrInjected
	}
	a.t.Saves.Add(1)
	return State(a.n)
}

// RestoreState implements lifecycle.StateRestorer.
func (a *Impl) RestoreState(ctx context.Context, b []byte) error {
	if a.t.FailRestore.Load() {
		return ErrInjected
	}
	var s state
	if _, err := passivation.Decode(b, &s); err != nil {
		return err
	}
	a.t.Restores.Add(1)
	a.n = s.N
	return nil
}

// Activate implements lifecycle.Activator.
func (a *Impl) Activate(context.Context) error { a.t.Activates.Add(1); return nil }

// Deactivate implements lifecycle.Deactivator.
func (a *Impl) Deactivate(context.Context) error { a.t.Deactivates.Add(1); return nil }

// CountingStore is a passivation.Store that counts Loads and Saves and can
// make Saves fail.
type CountingStore struct {
	passivation.Store
	Loads, Saves atomic.Int64
	FailSaves    atomic.Bool
}

// Load counts and loads.
func (s *CountingStore) Load(ctx context.Context, id remoting.ObjectID) (passivation.Record, error) {
	s.Loads.Add(1)
	return s.Store.Load(ctx, id)
}

// Save counts and saves, or fails with ErrInjected while FailSaves is set.
func (s *CountingStore) Save(ctx context.Context, id remoting.ObjectID, data []byte, expected uint64) (uint64, error) {
	if s.FailSaves.Load() {
		return 0, ErrInjected
	}
	s.Saves.Add(1)
	return s.Store.Save(ctx, id, data, expected)
}
