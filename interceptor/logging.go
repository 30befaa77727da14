package interceptor

import (
	"context"
	"log/slog"
	"time"

	"github.com/remoting-go/remoting"
)

// Side names the end of a connection an interceptor runs on.
type Side string

// The sides.
const (
	Client Side = "client"
	Server Side = "server"
)

// LoggingOptions configure [Logging]. The zero value works.
type LoggingOptions struct {
	// Side is the chain the interceptor is on; it is logged, and on the
	// Server side the caller's id and address are added. Default:
	// Server when the invocation's context carries server information
	// ([remoting.ServerInfoFrom]), Client otherwise. A call that a server
	// method makes with its own context carries that information too, so
	// set Side when servers call other servers.
	Side Side
	// Level is the level of the record of a call that succeeded. Default
	// slog.LevelInfo.
	Level slog.Level
	// ErrorLevel is the level of the record of a call that failed.
	// Default slog.LevelWarn; since the zero slog.Level is Info, the
	// default also stands for Info: failures are never logged at Info.
	ErrorLevel slog.Level
}

// Logging returns an interceptor that writes one record to logger per
// invocation when it ends, with the attributes side, method (the wire name, such as "Cart.Add"), interface,
// object (the Object ID), mode, duration and code, and err for a call that
// failed; on the server also peer and remote, the caller's id and
// address. A nil logger discards the records.
//
// For a ModeAsync call on the client the record is written when the
// outcome arrives (Logging wraps inv.Done), so its duration is the call's.
// Logging checks logger.Enabled first: at a disabled level it costs a
// clock read and a level check per call.
func Logging(logger *slog.Logger, opts LoggingOptions) remoting.Interceptor {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.ErrorLevel == slog.LevelInfo {
		opts.ErrorLevel = slog.LevelWarn
	}
	lowest := min(opts.Level, opts.ErrorLevel)
	write := func(ctx context.Context, inv *remoting.Invocation, start time.Time, err error) {
		level := opts.Level
		if err != nil {
			level = opts.ErrorLevel
		}
		if !logger.Enabled(ctx, level) {
			return
		}
		info := remoting.ServerInfoFrom(ctx)
		side := opts.Side
		if side == "" {
			side = sideOf(info)
		}
		if side != Server {
			info = nil
		}
		attrs := make([]slog.Attr, 0, 10)
		attrs = append(attrs,
			slog.String("side", string(side)),
			slog.String("method", inv.Method),
			slog.String("interface", inv.Target.Interface),
			slog.String("object", inv.Target.ID.String()),
			slog.String("mode", inv.Mode.String()),
			slog.Duration("duration", time.Since(start)),
			slog.String("code", remoting.CodeOf(err).String()),
		)
		if info != nil {
			attrs = append(attrs, slog.String("peer", info.Caller.String()), slog.String("remote", info.Remote))
		}
		if err != nil {
			attrs = append(attrs, slog.String("err", err.Error()))
		}
		logger.LogAttrs(ctx, level, "remoting: call", attrs...)
	}
	return func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		if !logger.Enabled(ctx, lowest) {
			return next(ctx, inv)
		}
		start := time.Now()
		if !isAsync(inv) {
			err := next(ctx, inv)
			write(ctx, inv, start, err)
			return err
		}
		return observeAsync(ctx, inv, next, func(err error) { write(ctx, inv, start, err) })
	}
}

// sideOf guesses the side an invocation runs on.
func sideOf(info *remoting.ServerInfo) Side {
	if info != nil {
		return Server
	}
	return Client
}

// isAsync reports whether inv is a client call whose outcome arrives
// through inv.Done after next returns.
func isAsync(inv *remoting.Invocation) bool {
	return inv.Mode == remoting.ModeAsync && inv.Done != nil
}

// observeAsync calls next for an async call and then done with its
// outcome, exactly once: when inv.Done is called, or when next fails
// without calling it.
func observeAsync(ctx context.Context, inv *remoting.Invocation, next remoting.Handler, done func(error)) error {
	var once onceFlag
	userDone := inv.Done
	inv.Done = func(err error) {
		if once.first() {
			done(err)
		}
		userDone(err)
	}
	err := next(ctx, inv)
	if err != nil && once.first() {
		done(err)
	}
	return err
}
