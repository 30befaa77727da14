package passivation

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/remoting-go/remoting"
)

var _ Store = (*MemoryStore)(nil)

// MemoryStore is a [Store] in memory: fast, and gone with the process. It
// suits tests and servers that passivate only to save memory.
type MemoryStore struct {
	mu      sync.RWMutex
	records map[remoting.ObjectID]Record
	last    uint64 // the last version given
	closed  bool
}

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{records: make(map[remoting.ObjectID]Record)}
}

// Load implements [Store.Load].
func (s *MemoryStore) Load(ctx context.Context, id remoting.ObjectID) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, fmt.Errorf("passivation: load %v: %w", id, err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return Record{}, fmt.Errorf("passivation: load %v: %w", id, ErrClosed)
	}
	rec, ok := s.records[id]
	if !ok {
		return Record{}, fmt.Errorf("passivation: load %v: %w", id, ErrNotFound)
	}
	return Record{Data: bytes.Clone(rec.Data), Version: rec.Version}, nil
}

// Save implements [Store.Save].
func (s *MemoryStore) Save(ctx context.Context, id remoting.ObjectID, data []byte, expected uint64) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("passivation: save %v: %w", id, err)
	}
	data = append(make([]byte, 0, len(data)), data...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, fmt.Errorf("passivation: save %v: %w", id, ErrClosed)
	}
	if cur := s.records[id].Version; cur != expected {
		return 0, Conflict("save", id, expected, cur)
	}
	s.last++
	s.records[id] = Record{Data: data, Version: s.last}
	return s.last, nil
}

// Delete implements [Store.Delete].
func (s *MemoryStore) Delete(ctx context.Context, id remoting.ObjectID, expected uint64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("passivation: delete %v: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("passivation: delete %v: %w", id, ErrClosed)
	}
	if cur := s.records[id].Version; expected != 0 && cur != expected {
		return Conflict("delete", id, expected, cur)
	}
	delete(s.records, id)
	return nil
}

// List implements [Store.List]. It copies every record before it calls fn.
func (s *MemoryStore) List(ctx context.Context, fn func(id remoting.ObjectID, rec Record) error) error {
	type entry struct {
		id  remoting.ObjectID
		rec Record
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return fmt.Errorf("passivation: list: %w", ErrClosed)
	}
	all := make([]entry, 0, len(s.records))
	for id, rec := range s.records {
		all = append(all, entry{id, Record{Data: bytes.Clone(rec.Data), Version: rec.Version}})
	}
	s.mu.RUnlock()
	for _, e := range all {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("passivation: list: %w", err)
		}
		if err := fn(e.id, e.rec); err != nil {
			return err
		}
	}
	return nil
}

// Close implements [Store.Close]: it drops every record.
func (s *MemoryStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.records = nil
	return nil
}
