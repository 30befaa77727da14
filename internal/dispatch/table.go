package dispatch

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
// read lock on one shard.
type objectTable struct {
	shards [tableShards]struct {
		mu sync.RWMutex
		m  map[remoting.ObjectID]*Object
		_  [40]byte // keep shards on separate cache lines
	}
}

func (t *objectTable) shard(id remoting.ObjectID) int { return int(id[15]) % tableShards }

// Load returns the object with id.
func (t *objectTable) Load(id remoting.ObjectID) (*Object, bool) {
	s := &t.shards[t.shard(id)]
	s.mu.RLock()
	obj, ok := s.m[id]
	s.mu.RUnlock()
	return obj, ok
}

// LoadOrStore stores obj under its id unless the id is taken; it returns
// the object under the id and whether it was already there.
func (t *objectTable) LoadOrStore(id remoting.ObjectID, obj *Object) (*Object, bool) {
	s := &t.shards[t.shard(id)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[id]; ok {
		return old, true
	}
	if s.m == nil {
		s.m = make(map[remoting.ObjectID]*Object)
	}
	s.m[id] = obj
	return obj, false
}

// LoadAndDelete removes id and returns what was there.
func (t *objectTable) LoadAndDelete(id remoting.ObjectID) (*Object, bool) {
	s := &t.shards[t.shard(id)]
	s.mu.Lock()
	obj, ok := s.m[id]
	delete(s.m, id)
	s.mu.Unlock()
	return obj, ok
}

// Range calls f for each object until f returns false. f may modify the
// table: each shard is copied before f sees its objects.
func (t *objectTable) Range(f func(*Object) bool) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		objs := make([]*Object, 0, len(s.m))
		for _, o := range s.m {
			objs = append(objs, o)
		}
		s.mu.RUnlock()
		for _, o := range objs {
			if !f(o) {
				return
			}
		}
	}
}

// CompareAndDelete removes id if match reports true for the object
// under it, and reports whether it did.
func (t *objectTable) CompareAndDelete(id remoting.ObjectID, match func(*Object) bool) bool {
	s := &t.shards[t.shard(id)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if obj, ok := s.m[id]; ok && match(obj) {
		delete(s.m, id)
		return true
	}
	return false
}
