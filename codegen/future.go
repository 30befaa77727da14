package codegen

import (
	"context"
	"sync/atomic"

	"github.com/remoting-go/remoting"
)

// Future is the untyped core of a Poll Object: it completes once, with an
// error or nil, and can be polled, waited on or selected on. Generated
// typed futures embed it, so its methods are theirs. It is safe for concurrent use.
type Future struct {
	completed atomic.Bool
	done      chan struct{}
	err       error
}

// NewFuture returns a Future that is not complete.
func NewFuture() *Future { return &Future{done: make(chan struct{})} }

// Complete completes the future with err; later calls do nothing. It is
// what Invocation.Done is set to for a Poll Object.
func (f *Future) Complete(err error) {
	if f.completed.CompareAndSwap(false, true) {
		f.err = err
		close(f.done)
	}
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
// future's error, or a *remoting.Error with CodeDeadlineExceeded or CodeCanceled if
// ctx ended first (the call itself goes on).
func (f *Future) Wait(ctx context.Context) error {
	if ctx.Done() == nil { // ctx never ends: no select needed
		<-f.done
		return f.err
	}
	select {
	case <-f.done:
		return f.err
	default:
	}
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		code := remoting.CodeCanceled
		if ctx.Err() == context.DeadlineExceeded {
			code = remoting.CodeDeadlineExceeded
		}
		return &remoting.Error{Code: code, Message: "waiting for result: " + ctx.Err().Error(), Cause: ctx.Err()}
	}
}
