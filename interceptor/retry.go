package interceptor

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/remoting-go/remoting"
)

// RetryOptions configure [Retry]. Only Idempotent is required.
type RetryOptions struct {
	// Idempotent are the wire names ("Cart.Items") of the methods that
	// may be retried: those that do no harm when they run more than once.
	// Calls of other methods pass through. Default none.
	Idempotent []string
	// Attempts is the number of attempts, the first included. Default 3.
	Attempts int
	// Backoff is the wait before the second attempt; it doubles per
	// attempt up to MaxBackoff, and each wait is drawn at random from its
	// upper half (jitter), so that clients that failed together do not
	// retry together. Defaults 20ms and 1s.
	Backoff    time.Duration
	MaxBackoff time.Duration
}

// Retry returns a client interceptor that retries ModeSync calls of the
// idempotent methods that failed with [remoting.CodeUnavailable]: the
// server could not be reached, the connection died, or the server said it
// is unavailable (shutting down, say). Such a call may or may not have
// run, which is why only idempotent methods are retried.
//
// Other codes are not retried. DeadlineExceeded and Canceled mean the
// caller's own budget is spent; ResourceExhausted is the server asking
// for less load, which a retry would add to; the rest will fail the same
// way again.
//
// Retry honours ctx: it does not wait past ctx's deadline (it returns the
// last error when the next wait would end after it), and a ctx that ends
// while it waits ends the call with Canceled or DeadlineExceeded. Calls
// in the other invocation modes pass through unretried, since their
// callers do not wait for the outcome.
func Retry(opts RetryOptions) remoting.Interceptor {
	if opts.Attempts <= 0 {
		opts.Attempts = 3
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 20 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = time.Second
	}
	idempotent := make(map[string]bool, len(opts.Idempotent))
	for _, m := range opts.Idempotent {
		idempotent[m] = true
	}
	return func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		if inv.Mode != remoting.ModeSync || !idempotent[inv.Method] {
			return next(ctx, inv)
		}
		backoff := opts.Backoff
		for attempt := 1; ; attempt++ {
			err := next(ctx, inv)
			if err == nil || attempt == opts.Attempts || remoting.CodeOf(err) != remoting.CodeUnavailable {
				return err
			}
			wait := backoff/2 + rand.N(backoff/2+1)
			backoff = min(2*backoff, opts.MaxBackoff)
			if d, ok := ctx.Deadline(); ok && time.Until(d) < wait {
				return err
			}
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				code := remoting.CodeCanceled
				if ctx.Err() == context.DeadlineExceeded {
					code = remoting.CodeDeadlineExceeded
				}
				return &remoting.Error{Code: code, Message: "retry of " + inv.Method + " gave up: " + ctx.Err().Error() + "; last attempt: " + err.Error(), Cause: ctx.Err()}
			}
		}
	}
}
