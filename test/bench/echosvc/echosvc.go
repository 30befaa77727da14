// Package echosvc is the remote interface the benchmarks call through the
// remoting middleware: one method that returns its argument, so that a call
// measures the middleware and the network and nothing else, and a remote
// factory of such objects, for the client-dependent lifecycle. Structs
// echoes the struct payloads, which every peer carries as the same Go
// types.
package echosvc

import (
	"context"
	"time"
)

//go:generate go tool stubgen -type Echo,Factory,Structs

// Echo returns what it is given.
type Echo interface {
	// Echo returns p.
	Echo(ctx context.Context, p []byte) ([]byte, error)
}

// Factory makes Echo objects that belong to the client that asks for
// them (Client-Dependent Instances): their lifecycle is the Policy the
// server sets for Echo.
type Factory interface {
	// NewEcho makes an Echo for the caller.
	NewEcho(ctx context.Context) (Echo, error)
}

// Structs returns the struct it is given, one method per payload shape.
type Structs interface {
	// EchoRecord returns r.
	EchoRecord(ctx context.Context, r Record) (Record, error)
	// EchoBlob returns b.
	EchoBlob(ctx context.Context, b Blob) (Blob, error)
	// EchoBatch returns b.
	EchoBatch(ctx context.Context, b Batch) (Batch, error)
	// EchoOrder returns o.
	EchoOrder(ctx context.Context, o Order) (Order, error)
}

// Record is the small struct payload: what a typical message of a user
// holds. It carries no CBOR tags, as a user's type would not.
type Record struct {
	ID    string
	Count int64
	Score float64
	At    time.Time
	Tags  []string
}

// Blob is a Record's header with a block of opaque bytes.
type Blob struct {
	ID   string
	At   time.Time
	Data []byte
}

// Batch is a nested payload: a slice of Records.
type Batch struct {
	Records []Record
}

// Order is a struct as an application shares it with its JSON API: json
// tags, optional parts left out when empty, a pointer, a map of labels and
// a slice of small structs.
type Order struct {
	ID       string            `json:"id"`
	Customer string            `json:"customer"`
	Placed   time.Time         `json:"placed"`
	Shipped  *time.Time        `json:"shipped,omitempty"`
	Address  *Address          `json:"address,omitempty"`
	Lines    []Line            `json:"lines"`
	Labels   map[string]string `json:"labels,omitempty"`
	Note     string            `json:"note,omitempty"`
	Total    float64           `json:"total"`
}

// Address is where an Order goes.
type Address struct {
	Street  string `json:"street"`
	City    string `json:"city"`
	Country string `json:"country"`
}

// Line is one item of an Order.
type Line struct {
	SKU   string  `json:"sku"`
	Qty   int32   `json:"qty"`
	Price float32 `json:"price"`
}
