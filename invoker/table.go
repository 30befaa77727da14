package invoker

import (
	"sync"

	"github.com/remoting-go/remoting"
)

// tableShards spreads the object table over independently locked shards
// so that lookups on many cores do not contend on one lock.
const tableShards = 32

// objectTable maps object ids to objects. It replaces a sync.Map, whose
// hashing of interface-typed keys cost more than the rest of a lookup on
// the call path; here the [16]byte key hashes directly and lookups take a
// read lock on one shard. Its methods mirror sync.Map's.
type objectTable struct {
	shards [tableShards]struct {
		mu sync.RWMutex
		m  map[remoting.ObjectID]*object
		_  [40]byte // keep shards on separate cache lines
	}
}

func (t *objectTable) shard(id remoting.ObjectID) int { return int(id[15]) % tableShards }

// Load returns the object with id.
func (t *objectTable) Load(id remoting.ObjectID) (any, bool) {
	s := &t.shards[t.shard(id)]
	s.mu.RLock()
	obj, ok := s.m[id]
	s.mu.RUnlock()
	if !ok {
		return nil, false
	}
	return obj, true
}

// LoadOrStore stores v under id unless id is taken; it returns the object
// under id and whether it was already there.
func (t *objectTable) LoadOrStore(id remoting.ObjectID, v any) (any, bool) {
	s := &t.shards[t.shard(id)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[id]; ok {
		return old, true
	}
	if s.m == nil {
		s.m = make(map[remoting.ObjectID]*object)
	}
	s.m[id] = v.(*object)
	return v, false
}

// LoadAndDelete removes id and returns what was there.
func (t *objectTable) LoadAndDelete(id remoting.ObjectID) (any, bool) {
	s := &t.shards[t.shard(id)]
	s.mu.Lock()
	obj, ok := s.m[id]
	delete(s.m, id)
	s.mu.Unlock()
	if !ok {
		return nil, false
	}
	return obj, true
}

// Range calls f for each object until f returns false. f must not modify
// the table.
func (t *objectTable) Range(f func(k, v any) bool) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		objs := make([]*object, 0, len(s.m))
		for _, o := range s.m {
			objs = append(objs, o)
		}
		s.mu.RUnlock()
		for _, o := range objs {
			if !f(o.id, o) {
				return
			}
		}
	}
}
