package bench

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/remoting-go/remoting"
	"github.com/remoting-go/remoting/lease"
)

// LeasesRow is the name of the lease bookkeeping measurement, for -rows.
const LeasesRow = "leases"

// A LeaseResult is what a lease.Manager costs with many live leases.
type LeaseResult struct {
	// Leases is the number of live leases, all of one owner.
	Leases int
	// HeapPerLease is the heap the manager holds per live lease, in bytes.
	HeapPerLease float64
	// Grant is the time one Grant took, on average.
	Grant time.Duration
	// Sweep is the time the sweeper took to end every lease, when all
	// came due at once: one wake-up of the sweeper, which ends them in
	// batches and calls OnEnd for each.
	Sweep time.Duration
}

// MeasureLeases grants n leases on a lease.Manager of its own, measures
// the heap they hold, then moves the manager's clock past their deadline
// and times the sweep that ends them all.
func MeasureLeases(n int) (LeaseResult, error) {
	res := LeaseResult{Leases: n}
	const ttl = 200 * time.Millisecond
	// The manager's clock stands still while the leases are granted, so
	// that all of them come due at the same moment, and jumps past their
	// deadline afterwards. The sweeper sleeps on a real timer for what
	// the clock says is left (ttl), wakes, reads the clock, and finds
	// them all due: the first reading after the jump is when the sweep
	// starts.
	base := time.Now()
	var (
		offset     atomic.Int64
		sweepStart atomic.Int64
		sweepEnd   atomic.Int64
		ended      atomic.Int64
	)
	allEnded := make(chan struct{})
	clock := func() time.Time {
		o := offset.Load()
		if o != 0 {
			sweepStart.CompareAndSwap(0, time.Now().UnixNano())
		}
		return base.Add(time.Duration(o))
	}
	onEnd := func(remoting.ObjectID, lease.Reason) {
		if ended.Add(1) == int64(n) {
			sweepEnd.Store(time.Now().UnixNano())
			close(allEnded)
		}
	}
	ids := make([]remoting.ObjectID, n)
	for i := range ids {
		ids[i] = remoting.NewObjectID()
	}
	const owner = "client"

	before := heapInUse()
	m := lease.NewManager(lease.Options{Now: clock, OnEnd: onEnd})
	defer m.Close()
	start := time.Now()
	for _, id := range ids {
		if _, err := m.Grant(id, owner, ttl); err != nil {
			return res, fmt.Errorf("%s: %w", LeasesRow, err)
		}
	}
	res.Grant = time.Since(start) / time.Duration(n)
	res.HeapPerLease = float64(heapInUse()-before) / float64(n)
	if got := m.Len(); got != n {
		return res, fmt.Errorf("%s: %d live leases after %d grants", LeasesRow, got, n)
	}

	offset.Store(int64(2 * ttl))
	select {
	case <-allEnded:
	case <-time.After(time.Minute):
		return res, fmt.Errorf("%s: %d of %d leases ended within a minute", LeasesRow, ended.Load(), n)
	}
	res.Sweep = time.Duration(sweepEnd.Load() - sweepStart.Load())
	if m.Len() != 0 {
		return res, fmt.Errorf("%s: %d leases live after the sweep", LeasesRow, m.Len())
	}
	runtime.KeepAlive(ids)
	return res, nil
}

// heapInUse returns the bytes of live heap objects after a full
// collection.
func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
