package bench

import (
	"context"

	"github.com/remoting-go/remoting/test/bench/echosvc"
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

// Calls is the Client of a row that has a codec: besides the byte slice it
// echoes the struct payloads, as the same Go types on every row. A row
// without a codec (a floor) returns a plain Client, and a struct payload
// is sent to it as a byte slice as long as the struct's CBOR encoding.
type Calls struct {
	Bytes  func(ctx context.Context, p []byte) ([]byte, error)
	Record func(ctx context.Context, r echosvc.Record) (echosvc.Record, error)
	Blob   func(ctx context.Context, b echosvc.Blob) (echosvc.Blob, error)
	Batch  func(ctx context.Context, b echosvc.Batch) (echosvc.Batch, error)
	Order  func(ctx context.Context, o echosvc.Order) (echosvc.Order, error)
}

// Call calls c.Bytes(ctx, p).
func (c Calls) Call(ctx context.Context, p []byte) ([]byte, error) { return c.Bytes(ctx, p) }

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
