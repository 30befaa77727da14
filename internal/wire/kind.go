package wire

import "github.com/remoting-go/remoting"

//go:generate go tool stringer -type=Kind -trimprefix=Kind

// Kind is the type of a frame. The values are part of the protocol.
type Kind uint8

// Frame kinds. See PROTOCOL.md for the layout and meaning of each.
const (
	KindHello    Kind = 1 // control stream, caller -> callee: protocol version and limits
	KindWelcome  Kind = 2 // control stream, callee -> caller: the handshake is accepted
	KindRequest  Kind = 3 // call stream: invoke a method on an object
	KindReply    Kind = 4 // call stream: the results of a request
	KindError    Kind = 5 // call or control stream: a request (or the handshake) failed
	KindCancel   Kind = 6 // call stream: the caller gave up on a request
	KindAck      Kind = 7 // call stream: a request with FlagAck was received
	KindGoAway   Kind = 8 // control stream: the peer is draining; open no new calls
	KindPing     Kind = 9 // control stream: liveness probe, answered by KindPong
	KindPong     Kind = 10
	maxKindValue      = KindPong
)

// Valid reports whether k is a kind this version of the protocol knows.
func (k Kind) Valid() bool { return k >= KindHello && k <= maxKindValue }

// Flags modify a request. The values are part of the protocol.
type Flags uint8

// Request flags.
const (
	// FlagNoReply marks a fire-and-forget request: the callee sends neither
	// a reply nor an error.
	FlagNoReply Flags = 1 << 0
	// FlagAck asks the callee to send KindAck as soon as it has accepted the
	// request, before executing it (Sync with Server).
	FlagAck Flags = 1 << 1
	// FlagKey says that a key string follows the metadata: the request is
	// for a keyed object, which the callee may have to activate.
	FlagKey Flags = 1 << 2
)

// StreamType is the first byte a peer writes on a yamux stream it opens,
// saying what the stream carries.
type StreamType uint8

// Stream types. The values are part of the protocol.
const (
	StreamControl StreamType = 1 // handshake, go-away, pings; the first stream of a session
	StreamCalls   StreamType = 2 // pipelined requests from the opener, replies from the acceptor
)

// FlagsOf returns the request flags that carry invocation mode m, and
// false for a mode the protocol does not know. Async calls are sync calls
// on the wire: only the caller's waiting differs.
func FlagsOf(m remoting.Mode) (Flags, bool) {
	switch m {
	case remoting.ModeSync, remoting.ModeAsync:
		return 0, true
	case remoting.ModeOneway:
		return FlagNoReply, true
	case remoting.ModeSyncWithServer:
		return FlagNoReply | FlagAck, true
	}
	return 0, false
}

// ModeOf returns the invocation mode that request flags fl carry, as the
// callee sees it (ModeSync for a sync or an async call).
func ModeOf(fl Flags) remoting.Mode {
	switch {
	case fl&FlagAck != 0:
		return remoting.ModeSyncWithServer
	case fl&FlagNoReply != 0:
		return remoting.ModeOneway
	}
	return remoting.ModeSync
}
