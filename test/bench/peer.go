package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"
)

// A Peer is an RPC system under comparison. Start runs a server of it on
// loopback TCP and a client connected to that server, and returns the
// client and a stop function that closes both and waits for every
// goroutine they started. A Peer can be started again after stop.
type Peer interface {
	Start() (c Client, stop func(), err error)
}

// A Client makes echo calls: Call sends p to the server, which returns it
// unchanged. Call is safe for concurrent use.
type Client interface {
	Call(ctx context.Context, p []byte) ([]byte, error)
}

// ClientFunc adapts a function, such as a generated proxy's method, to a
// Client.
type ClientFunc func(ctx context.Context, p []byte) ([]byte, error)

// Call calls f(ctx, p).
func (f ClientFunc) Call(ctx context.Context, p []byte) ([]byte, error) { return f(ctx, p) }

// Kind says what a row is compared as.
type Kind int

// The kinds of rows.
const (
	// KindSubject is the middleware itself.
	KindSubject Kind = 1
	// KindPeer is another RPC system; the best peer of a column is the
	// reference for the subject's ratios.
	KindPeer Kind = 2
	// KindFloor is a bare transport that does no RPC work: what the
	// network and the multiplexer cost on their own.
	KindFloor Kind = 3
	// KindDesign is a design the middleware deliberately avoids, measured
	// to show why.
	KindDesign Kind = 4
)

// FloorRow is the name of the row that ratios "to the floor" refer to: the
// middleware runs on yamux, so this is the least it can cost.
const FloorRow = "yamux-floor"

// A Row is one line of the tables.
type Row struct {
	Name string
	Kind Kind
	Peer Peer
}

// Rows returns every row, in table order.
func Rows() []Row {
	return []Row{
		{Name: "remoting", Kind: KindSubject, Peer: Remoting{}},
		{Name: "net/rpc", Kind: KindPeer, Peer: NetRPC{}},
		{Name: "grpc", Kind: KindPeer, Peer: GRPC{}},
		{Name: "drpc", Kind: KindPeer, Peer: DRPC{}},
		{Name: "tcp-floor", Kind: KindFloor, Peer: TCPFloor{}},
		{Name: FloorRow, Kind: KindFloor, Peer: YamuxFloor{}},
		{Name: "yamux-stream-per-call", Kind: KindDesign, Peer: YamuxStreamPerCall{}},
	}
}

// A Payload is the size of the byte slice sent in each call and echoed
// back.
type Payload struct {
	Name string
	Size int
}

// The payloads measured by default.
var (
	Small = Payload{Name: "small", Size: 100}
	KiB4  = Payload{Name: "4k", Size: 4096}
)

// ParsePayload reads a payload name: "small" (100 bytes), or a size in
// bytes with an optional k suffix for KiB ("4k", "512").
func ParsePayload(s string) (Payload, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == Small.Name {
		return Small, nil
	}
	num, mult := s, 1
	if n, ok := strings.CutSuffix(s, "k"); ok {
		num, mult = n, 1024
	}
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 {
		return Payload{}, fmt.Errorf("payload %q: want small or a size such as 4k or 512", s)
	}
	return Payload{Name: s, Size: n * mult}, nil
}

// Bytes returns a fresh random payload of p's size. Random bytes keep any
// compression or run-length trick from flattering a row.
func (p Payload) Bytes() []byte {
	b := make([]byte, p.Size)
	rand.Read(b)
	return b
}
