package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/remoting-go/remoting/test/bench/echosvc"
)

// A Shape is what a payload is made of.
type Shape int

// The shapes of payloads.
const (
	// ShapeBytes is a byte slice of the payload's Size.
	ShapeBytes Shape = 1
	// ShapeRecord is one echosvc.Record: strings, numbers, a time and a
	// slice of three strings.
	ShapeRecord Shape = 2
	// ShapeBlob is an echosvc.Blob with 4 KiB of data.
	ShapeBlob Shape = 3
	// ShapeBatch is an echosvc.Batch of 20 Records.
	ShapeBatch Shape = 4
	// ShapeOrder is an echosvc.Order: json tags, a pointer, a map and
	// three Lines.
	ShapeOrder Shape = 5
)

// A Payload is what each call sends and gets back: a byte slice of Size
// bytes, or a struct whose CBOR encoding is Size bytes long.
type Payload struct {
	Name  string
	Size  int
	Shape Shape
}

// blobData is the size of a Blob's Data, and batchLen the number of
// Records in a Batch.
const (
	blobData = 4 << 10
	batchLen = 20
)

// The payloads.
var (
	Small  = Payload{Name: "small", Size: 100, Shape: ShapeBytes}
	KiB4   = Payload{Name: "4k", Size: 4096, Shape: ShapeBytes}
	Struct = Payload{Name: "struct", Size: encodedSize(newRecord(0)), Shape: ShapeRecord}
	Blob   = Payload{Name: "struct-4k", Size: encodedSize(newBlob()), Shape: ShapeBlob}
	Nested = Payload{Name: "nested", Size: encodedSize(newBatch()), Shape: ShapeBatch}
	Order  = Payload{Name: "order", Size: encodedSize(newOrder()), Shape: ShapeOrder}
)

// StructPayloads are the struct payloads, in table order.
var StructPayloads = []Payload{Struct, Blob, Nested, Order}

// ParsePayload reads a payload name: "struct", "struct-4k", "nested", "order",
// "small" (100 bytes), or a size in bytes with an optional k suffix for
// KiB ("4k", "512").
func ParsePayload(s string) (Payload, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, pl := range []Payload{Small, Struct, Blob, Nested, Order} {
		if s == pl.Name {
			return pl, nil
		}
	}
	num, mult := s, 1
	if n, ok := strings.CutSuffix(s, "k"); ok {
		num, mult = n, 1024
	}
	n, err := strconv.Atoi(num)
	if err != nil || n <= 0 {
		return Payload{}, fmt.Errorf("payload %q: want struct, struct-4k, nested, small or a size such as 4k or 512", s)
	}
	return Payload{Name: s, Size: n * mult, Shape: ShapeBytes}, nil
}

// Bytes returns a fresh random byte slice of p's size. Random bytes keep
// any compression or run-length trick from flattering a row.
func (p Payload) Bytes() []byte {
	b := make([]byte, p.Size)
	rand.Read(b)
	return b
}

// IsStruct reports whether p is a struct payload.
func (p Payload) IsStruct() bool { return p.Shape != ShapeBytes && p.Shape != 0 }

// newRecord returns the Record every row sends; i varies its id.
func newRecord(i int) echosvc.Record {
	return echosvc.Record{
		ID:    fmt.Sprintf("order-%06d", 4711+i),
		Count: 1_234_567_890_123,
		Score: 0.8125,
		At:    time.Date(2026, 12, 1, 9, 30, 15, 123456789, time.FixedZone("", 3600)),
		Tags:  []string{"priority", "express", "gift-wrapped"},
	}
}

func newBlob() echosvc.Blob {
	r := newRecord(0)
	b := echosvc.Blob{ID: r.ID, At: r.At, Data: make([]byte, blobData)}
	rand.Read(b.Data)
	return b
}

func newBatch() echosvc.Batch {
	b := echosvc.Batch{Records: make([]echosvc.Record, batchLen)}
	for i := range b.Records {
		b.Records[i] = newRecord(i)
	}
	return b
}

// newOrder returns the Order every row sends: an address, three lines and
// one label, and no shipping time or note, which are left out.
func newOrder() echosvc.Order {
	r := newRecord(0)
	return echosvc.Order{
		ID:       r.ID,
		Customer: "customer-0815",
		Placed:   r.At,
		Address:  &echosvc.Address{Street: "Hauptstrasse 12", City: "Basel", Country: "CH"},
		Lines: []echosvc.Line{
			{SKU: "sku-1001", Qty: 2, Price: 19.5},
			{SKU: "sku-2002", Qty: 1, Price: 5.25},
			{SKU: "sku-3003", Qty: 12, Price: 0.75},
		},
		Labels: map[string]string{"channel": "web"},
		Total:  53.25,
	}
}

func encodedSize(v any) int {
	b, err := cborEnc.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("bench: encode payload: %v", err))
	}
	return len(b)
}

// caller returns a function that makes one call of pl through c, and one
// that makes a call and checks the echo. A struct payload goes through the
// row's codec if c is a Calls, and as a byte slice of pl.Size otherwise.
func (pl Payload) caller(c Client) (call, check func(context.Context) error) {
	cs, codec := c.(Calls)
	switch {
	case pl.Shape == ShapeRecord && codec:
		v := newRecord(0)
		return func(ctx context.Context) error { _, err := cs.Record(ctx, v); return err },
			func(ctx context.Context) error {
				got, err := cs.Record(ctx, v)
				if err == nil && !sameRecord(got, v) {
					err = fmt.Errorf("echo returned %+v, not %+v", got, v)
				}
				return err
			}
	case pl.Shape == ShapeBlob && codec:
		v := newBlob()
		return func(ctx context.Context) error { _, err := cs.Blob(ctx, v); return err },
			func(ctx context.Context) error {
				got, err := cs.Blob(ctx, v)
				if err == nil && (got.ID != v.ID || !sameTime(got.At, v.At) || !bytes.Equal(got.Data, v.Data)) {
					err = fmt.Errorf("echo returned a Blob that differs from the one sent")
				}
				return err
			}
	case pl.Shape == ShapeBatch && codec:
		v := newBatch()
		return func(ctx context.Context) error { _, err := cs.Batch(ctx, v); return err },
			func(ctx context.Context) error {
				got, err := cs.Batch(ctx, v)
				if err == nil && !slices.EqualFunc(got.Records, v.Records, sameRecord) {
					err = fmt.Errorf("echo returned a Batch that differs from the one sent")
				}
				return err
			}
	case pl.Shape == ShapeOrder && codec:
		v := newOrder()
		return func(ctx context.Context) error { _, err := cs.Order(ctx, v); return err },
			func(ctx context.Context) error {
				got, err := cs.Order(ctx, v)
				if err == nil && !sameOrder(got, v) {
					err = fmt.Errorf("echo returned %+v, not %+v", got, v)
				}
				return err
			}
	}
	p := pl.Bytes()
	return func(ctx context.Context) error { _, err := c.Call(ctx, p); return err },
		func(ctx context.Context) error {
			got, err := c.Call(ctx, p)
			if err == nil && !bytes.Equal(got, p) {
				err = fmt.Errorf("echo returned %d bytes that differ from the %d sent", len(got), len(p))
			}
			return err
		}
}

func sameRecord(a, b echosvc.Record) bool {
	return a.ID == b.ID && a.Count == b.Count && a.Score == b.Score && sameTime(a.At, b.At) && slices.Equal(a.Tags, b.Tags)
}

func sameOrder(a, b echosvc.Order) bool {
	at, bt := a.Placed, b.Placed
	a.Placed, b.Placed = time.Time{}, time.Time{}
	return sameTime(at, bt) && reflect.DeepEqual(a, b)
}

// sameTime reports whether a and b are the same instant, to the
// nanosecond, with the same zone offset.
func sameTime(a, b time.Time) bool {
	_, ao := a.Zone()
	_, bo := b.Zone()
	return a.Equal(b) && ao == bo
}
