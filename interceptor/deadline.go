package interceptor

import (
	"context"
	"time"

	"github.com/remoting-go/remoting"
)

// DefaultDeadline returns a client interceptor that gives an invocation
// whose context has no deadline one d from now; a context with a deadline
// is left as it is, even a later one. The deadline crosses the wire with
// the call, so the server's method sees it too. For a ModeAsync call the
// deadline lasts until the outcome arrives (DefaultDeadline wraps
// inv.Done); for the other modes until next returns. A d of zero or less
// leaves every call as it is.
func DefaultDeadline(d time.Duration) remoting.Interceptor {
	return func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		if _, ok := ctx.Deadline(); ok || d <= 0 {
			return next(ctx, inv)
		}
		ctx, cancel := context.WithTimeout(ctx, d)
		if inv.Mode == remoting.ModeAsync && inv.Done != nil {
			done := inv.Done
			inv.Done = func(err error) {
				cancel()
				done(err)
			}
			err := next(ctx, inv)
			if err != nil {
				cancel()
			}
			return err
		}
		defer cancel()
		return next(ctx, inv)
	}
}
