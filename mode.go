package remoting

import (
	"context"
	"strconv"
	"sync"
)

// Mode is the invocation mode of one call, chosen by the caller per call
// through the typed views of a generated proxy (p.Oneway(), p.Async(), ...).
// The values are part of the protocol's meaning, not of its encoding.
type Mode uint8

// Invocation modes.
const (
	// ModeSync waits for the reply: results and error.
	ModeSync Mode = 0
	// ModeOneway (Fire and Forget) returns once the request is handed to
	// the connection; the server sends no reply, results are discarded.
	ModeOneway Mode = 1
	// ModeSyncWithServer returns when the server has received and accepted
	// the request, before it runs; errors of the execution are not
	// reported.
	ModeSyncWithServer Mode = 2
	// ModeAsync returns at once (Invoke returns nil); Invocation.Done runs
	// exactly once when the reply (decoded into Invocation.Reply) or the
	// failure arrives: on the calling goroutine if the call fails before
	// it is sent, otherwise on a goroutine of the runtime's, never on a
	// connection's reader goroutine. Poll Objects and Result Callbacks are
	// built on it.
	ModeAsync Mode = 3
)

var modeNames = [...]string{"Sync", "Oneway", "SyncWithServer", "Async"}

// String returns the mode's name.
func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// Future is the untyped core of a Poll Object: it completes once, with an
// error or nil, and can be polled, waited on or selected on. Generated
// typed futures wrap it. It is safe for concurrent use.
type Future struct {
	once sync.Once
	done chan struct{}
	err  error
}

// NewFuture returns a Future that is not complete.
func NewFuture() *Future { return &Future{done: make(chan struct{})} }

// Complete completes the future with err; later calls do nothing. It is
// what Invocation.Done is set to for a Poll Object.
func (f *Future) Complete(err error) {
	f.once.Do(func() {
		f.err = err
		close(f.done)
	})
}

// Ready reports, without blocking, whether the future is complete.
func (f *Future) Ready() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

// Done is closed when the future is complete.
func (f *Future) Done() <-chan struct{} { return f.done }

// Wait waits until the future is complete or ctx ends. It returns the
// future's error, or a *Error with CodeDeadlineExceeded or CodeCanceled if
// ctx ended first (the call itself goes on).
func (f *Future) Wait(ctx context.Context) error {
	select {
	case <-f.done:
		return f.err
	default:
	}
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		code := CodeCanceled
		if ctx.Err() == context.DeadlineExceeded {
			code = CodeDeadlineExceeded
		}
		return &Error{Code: code, Message: "waiting for result: " + ctx.Err().Error(), Cause: ctx.Err()}
	}
}
