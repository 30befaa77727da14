package transport

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// DefaultMaxBuffered is the default of Options.MaxBuffered: the bytes one
// connection may hold in frames being read and frames queued to be
// written. It is room for a largest frame in each direction on each of a
// few streams.
const DefaultMaxBuffered = 64 << 20

// ErrOverBudget is returned by reads that would take a connection past
// its Options.MaxBuffered; the session is closed.
var ErrOverBudget = errors.New("transport: connection over its buffer budget")

// Budget counts the bytes that the sessions sharing it hold in frames
// being read and frames queued to be written, so that a server can refuse
// new connections when all of them together hold too much. It is safe for
// concurrent use.
type Budget struct {
	limit int64
	used  atomic.Int64
}

// NewBudget returns a Budget of limit bytes.
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// Used returns the bytes held now.
func (b *Budget) Used() int64 { return b.used.Load() }

// Exhausted reports whether the bytes held have reached the limit.
func (b *Budget) Exhausted() bool { return b.used.Load() >= b.limit }

// meter is one session's count of buffered bytes, added to its Budget.
type meter struct {
	limit int64
	used  atomic.Int64
	pool  *Budget // nil if the session shares none
}

// charge adds delta bytes; a positive delta that takes the session past
// its limit is not added and returns an error wrapping ErrOverBudget.
func (m *meter) charge(delta int) error {
	d := int64(delta)
	if u := m.used.Add(d); d > 0 && u > m.limit {
		m.used.Add(-d)
		return fmt.Errorf("%w: %d bytes held, limit %d", ErrOverBudget, u-d, m.limit)
	}
	if m.pool != nil {
		m.pool.used.Add(d)
	}
	return nil
}

// account adds delta bytes whatever the limit: for queued writes, which
// are bounded by the writers' back-pressure.
func (m *meter) account(delta int) {
	if m == nil {
		return
	}
	m.used.Add(int64(delta))
	if m.pool != nil {
		m.pool.used.Add(int64(delta))
	}
}
