// Package testservice is a remote interface and implementation that the
// runtime's own tests and benchmarks call: echo, sleep, fail in chosen ways,
// panic, and large payloads.
package testservice

//go:generate go tool stubgen -type Echo

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/remoting-go/remoting"
)

// Payload is a small structured argument.
type Payload struct {
	Name  string
	Seq   int64
	Tags  []string
	Attrs map[string]int
	When  time.Time
	Data  []byte
}

// Echo is the test interface.
type Echo interface {
	// Echo returns its argument.
	Echo(ctx context.Context, s string) (string, error)
	// Round returns the payload it got.
	Round(ctx context.Context, p Payload) (Payload, error)
	// Sleep returns after d or when ctx ends, with ctx's error.
	Sleep(ctx context.Context, d time.Duration) error
	// Fail returns an error with the given code, or a plain error for 0, or
	// a *QuotaError for -1.
	Fail(ctx context.Context, code int, msg string) error
	// Panic panics.
	Panic(ctx context.Context) error
	// Blob returns n bytes.
	Blob(ctx context.Context, n int) ([]byte, error)
	// Count counts its calls and returns the count.
	Count(ctx context.Context) (int64, error)
}

// QuotaError is an application error type registered for the wire.
type QuotaError struct {
	Limit int
	Used  int
}

func (e *QuotaError) Error() string { return fmt.Sprintf("quota %d/%d used", e.Used, e.Limit) }

func init() { remoting.RegisterError[*QuotaError]("testservice.QuotaError") }

// Impl implements Echo. Its zero value is ready.
type Impl struct {
	calls atomic.Int64
	// Canceled counts Sleep calls that ended by their context.
	Canceled atomic.Int64
	entered  atomic.Pointer[chan struct{}]
}

// NotifyEntered makes Sleep send on a new channel with capacity n when it
// starts, and returns the channel. It is safe while the server runs.
func (e *Impl) NotifyEntered(n int) chan struct{} {
	ch := make(chan struct{}, n)
	e.entered.Store(&ch)
	return ch
}

// Entered returns the channel of the last NotifyEntered, or nil.
func (e *Impl) Entered() chan struct{} {
	if p := e.entered.Load(); p != nil {
		return *p
	}
	return nil
}

var _ Echo = (*Impl)(nil)

func (e *Impl) Echo(_ context.Context, s string) (string, error) { return s, nil }

func (e *Impl) Round(_ context.Context, p Payload) (Payload, error) { return p, nil }

func (e *Impl) Sleep(ctx context.Context, d time.Duration) error {
	if ch := e.Entered(); ch != nil {
		ch <- struct{}{}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		e.Canceled.Add(1)
		return ctx.Err()
	}
}

func (e *Impl) Fail(_ context.Context, code int, msg string) error {
	switch code {
	case 0:
		return errors.New(msg)
	case -1:
		return fmt.Errorf("wrapped: %w", &QuotaError{Limit: 10, Used: 11})
	default:
		return remoting.Errorf(remoting.Code(code), "%s", msg)
	}
}

func (e *Impl) Panic(context.Context) error { panic("deliberate panic") }

func (e *Impl) Blob(_ context.Context, n int) ([]byte, error) { return make([]byte, n), nil }

func (e *Impl) Count(context.Context) (int64, error) { return e.calls.Add(1), nil }
