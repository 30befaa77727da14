package remoting

//go:generate go tool stringer -type=Mode -trimprefix=Mode

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
	// it is sent, otherwise on a goroutine of the runtime's (see
	// Invocation.Done). If the call's context ends first, Done gets its
	// error at once if the call is older than 2 ms, and otherwise within
	// about 2 ms (10 ms on a connection that carries no other calls): a
	// call's context is watched only once the call is that old, as most
	// calls end sooner. Poll Objects and Result Callbacks are built on it.
	ModeAsync Mode = 3
)
