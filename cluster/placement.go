package cluster

import (
	"hash/fnv"

	"github.com/remoting-go/remoting"
)

// A Placement chooses the node on which a keyed object that is active
// nowhere activates. A cluster Client asks it when its directory knows
// of no node for the object; the chosen node claims the object in etcd
// and, if another node claimed it first, forwards the call there. So a
// Placement decides where objects go, never whether one is active twice.
type Placement interface {
	// Place returns the member of members (never empty, sorted by ID) on
	// which the object id of key should activate. local is the id of the
	// node the client runs on, or empty for a client outside the cluster.
	Place(id remoting.ObjectID, key string, members []Member, local string) Member
}

// The placements.
var (
	// Hash places an object on the member with the highest rendezvous
	// hash of the object id and the member id: every client picks the same
	// node from the same members, and a member's arrival or departure
	// moves only the objects that go to it or came from it. The default.
	Hash Placement = hashPlacement{}
	// Local places an object on the node of the caller when the caller
	// runs on a node of the cluster, and as Hash does otherwise.
	Local Placement = localPlacement{}
	// LeastLoaded places an object on the member with the fewest active
	// keyed objects, as the members last published it (every few seconds),
	// breaking ties by Hash.
	LeastLoaded Placement = leastLoaded{}
)

type hashPlacement struct{}

func score(id remoting.ObjectID, member string) uint64 {
	h := fnv.New64a()
	h.Write(id[:])
	h.Write([]byte(member))
	return mix(h.Sum64())
}

// mix is a finaliser (splitmix64's) that spreads FNV's low-entropy bits.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func (hashPlacement) Place(id remoting.ObjectID, _ string, members []Member, _ string) Member {
	best, bestScore := members[0], score(id, members[0].ID)
	for _, m := range members[1:] {
		if s := score(id, m.ID); s > bestScore {
			best, bestScore = m, s
		}
	}
	return best
}

type localPlacement struct{}

func (localPlacement) Place(id remoting.ObjectID, key string, members []Member, local string) Member {
	for _, m := range members {
		if m.ID == local {
			return m
		}
	}
	return Hash.Place(id, key, members, local)
}

type leastLoaded struct{}

func (leastLoaded) Place(id remoting.ObjectID, _ string, members []Member, _ string) Member {
	best, bestScore := members[0], score(id, members[0].ID)
	for _, m := range members[1:] {
		s := score(id, m.ID)
		if m.Load < best.Load || m.Load == best.Load && s > bestScore {
			best, bestScore = m, s
		}
	}
	return best
}
