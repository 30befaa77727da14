package pool

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/remoting-go/remoting"
)

// AdaptiveOptions configure [NewAdaptive]. The zero value works.
type AdaptiveOptions struct {
	// Min and Max bound the size (the pool's Max) that the controller
	// sets. Defaults 1, and four times the pool's Max when the controller
	// starts.
	Min, Max int

	// TargetWait is the mean time a borrower should wait for an instance.
	// Default 5ms.
	TargetWait time.Duration

	// Period is the control period: the controller measures over one
	// period and then decides. Default one second.
	Period time.Duration

	// Samples is how often per period the controller reads the pool's
	// occupancy (waiters, instances in use). Default 10.
	Samples int

	// Tolerance is the dead band around TargetWait, as a fraction of it:
	// the pool grows when the wait exceeds TargetWait*(1+Tolerance) and
	// may shrink only when it is below TargetWait*(1-Tolerance). Default
	// 0.5.
	Tolerance float64

	// ShrinkUtilization is the share of the size in use below which a
	// pool whose borrowers do not wait counts as oversized. Default 0.5.
	ShrinkUtilization float64

	// ShrinkAfter is the number of consecutive oversized periods after
	// which the controller shrinks the pool. Default 3.
	ShrinkAfter int

	// Cooldown is the number of periods the controller holds the size
	// after changing it, while the pool settles. Default 1; a negative
	// value holds for none.
	Cooldown int

	// History is the number of recent decisions kept for
	// [Adaptive.Decisions]. Default 32.
	History int

	// OnDecision, if set, is told of every change of size (and of every
	// failed attempt at one), on the controller's goroutine.
	OnDecision func(Decision)
}

func (o AdaptiveOptions) withDefaults(poolMax int) (AdaptiveOptions, error) {
	if o.Min == 0 {
		o.Min = 1
	}
	if o.Max == 0 {
		o.Max = max(4*poolMax, o.Min)
	}
	if o.TargetWait <= 0 {
		o.TargetWait = 5 * time.Millisecond
	}
	if o.Period <= 0 {
		o.Period = time.Second
	}
	if o.Samples <= 0 {
		o.Samples = 10
	}
	if o.Tolerance <= 0 {
		o.Tolerance = 0.5
	}
	if o.ShrinkUtilization <= 0 {
		o.ShrinkUtilization = 0.5
	}
	if o.ShrinkAfter <= 0 {
		o.ShrinkAfter = 3
	}
	if o.Cooldown < 0 {
		o.Cooldown = 0
	} else if o.Cooldown == 0 {
		o.Cooldown = 1
	}
	if o.History <= 0 {
		o.History = 32
	}
	if o.Min < 1 || o.Max < o.Min || o.Tolerance >= 1 || o.ShrinkUtilization >= 1 {
		return o, remoting.Errorf(remoting.CodeInvalidArgument,
			"pool: adaptive: want 1 <= min <= max, tolerance and shrink utilization below 1; have min %d, max %d, tolerance %g, shrink utilization %g",
			o.Min, o.Max, o.Tolerance, o.ShrinkUtilization)
	}
	return o, nil
}

// Sample is what the controller measured over one control period.
type Sample struct {
	Time time.Time // the end of the period
	Size int       // the size during the period

	// Wait is the mean time a borrower waited for an instance: measured
	// if waits were reported ([Adaptive.ObserveWait]), otherwise
	// estimated from the mean number of waiters and the borrow rate
	// (Little's law).
	Wait     time.Duration
	Measured bool

	// Waiters and InUse are the mean numbers of borrowers waiting and of
	// instances in use; Utilization is InUse/Size.
	Waiters, InUse, Utilization float64

	// Borrows and Exhausted count the borrows that succeeded and those
	// that gave up, during the period.
	Borrows, Exhausted uint64
}

// Decision is a change of size the controller made, or tried to.
type Decision struct {
	Time     time.Time
	From, To int
	// Reason says why, in words, such as "wait 12ms above 7.5ms".
	Reason string
	// Sample is the measurement the decision was based on.
	Sample Sample
	// Err is the error of the Resize, if it failed; the size stayed From.
	Err error
}

// AdaptiveStats is a snapshot of a controller, for introspection.
type AdaptiveStats struct {
	Size       int
	Min, Max   int
	TargetWait time.Duration
	Periods    uint64     // control periods evaluated
	Last       Sample     // the last period's measurement
	Decisions  []Decision // the most recent, oldest first
}

// Adaptive is a controller that sizes a pool to its load: it moves the
// pool's Max between [AdaptiveOptions] Min and Max to hold the mean
// borrow wait near TargetWait.
//
// Every Period it measures the mean wait of the borrowers and the share
// of the instances in use, and decides:
//
//   - Wait above TargetWait*(1+Tolerance): grow to the demand (the mean
//     number of instances in use plus waiters), at least by one and at
//     most to twice the size.
//   - Wait below TargetWait*(1-Tolerance) and utilization below
//     ShrinkUtilization for ShrinkAfter periods in a row: shrink to the
//     size at which the instances in use would fill the midpoint between
//     ShrinkUtilization and 1, at most to half the size.
//   - Otherwise, and for Cooldown periods after each change: hold.
//
// The dead band between the two thresholds, the run of quiet periods a
// shrink needs, the cooldown and the limit of a factor of two per step
// keep the size from oscillating. The size never leaves [Min, Max]; the
// pool's own Min is kept, lowered only if the size falls below it.
//
// Waits are measured if the pool's events are passed to
// [Adaptive.Observe] (or waits to [Adaptive.ObserveWait]); otherwise they
// are estimated from the pool's Stats.
//
// NewAdaptive starts one goroutine, the control loop; Close stops it. An
// Adaptive is safe for concurrent use.
type Adaptive struct {
	target  Sizer
	opts    AdaptiveOptions
	poolMin int

	waitSum   atomic.Int64 // nanoseconds, since the last period
	waitCount atomic.Int64

	mu        sync.Mutex
	size      int
	quiet     int // consecutive oversized periods
	cooldown  int // periods left to hold
	periods   uint64
	last      Sample
	decisions []Decision

	// the control loop's own state
	samples             int
	sumWaiters, sumUsed float64
	borrows, exhausted  uint64

	closeOnce sync.Once
	stop      chan struct{}
	done      chan struct{}
}

// NewAdaptive starts a controller of target. It takes the size to start
// from from target's Stats (its Max), brought into [Min, Max]. It fails
// with an error matching [remoting.ErrInvalidArgument] for invalid
// options, and with the error of target's Resize if the size had to be
// brought into bounds and that failed.
func NewAdaptive(target Sizer, opts AdaptiveOptions) (*Adaptive, error) {
	st := target.Stats()
	opts, err := opts.withDefaults(st.Max)
	if err != nil {
		return nil, err
	}
	a := &Adaptive{
		target:    target,
		opts:      opts,
		poolMin:   st.Min,
		size:      min(max(st.Max, opts.Min), opts.Max),
		borrows:   st.Borrows,
		exhausted: st.Exhausted,
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	if a.size != st.Max {
		if err := target.Resize(min(a.poolMin, a.size), a.size); err != nil {
			return nil, fmt.Errorf("pool: adaptive: initial size %d: %w", a.size, err)
		}
	}
	go a.run()
	return a, nil
}

// Observe takes a pool event: the waits of EventBorrow and EventExhausted
// are what the controller measures. It fits [Options.Observe] (chain it
// with another observer if there is one); for a lifecycle.Pooled
// strategy, pass the Wait of the remoting.EventPoolBorrow and
// EventPoolExhausted events to ObserveWait instead.
func (a *Adaptive) Observe(e Event) {
	if e.Kind == EventBorrow || e.Kind == EventExhausted {
		a.ObserveWait(e.Wait)
	}
}

// ObserveWait records how long one borrower waited for an instance (zero
// for one that did not wait).
func (a *Adaptive) ObserveWait(d time.Duration) {
	a.waitSum.Add(int64(d))
	a.waitCount.Add(1)
}

// Size returns the size the controller last set.
func (a *Adaptive) Size() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.size
}

// Decisions returns the most recent decisions, oldest first.
func (a *Adaptive) Decisions() []Decision {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.decisions)
}

// Stats returns a snapshot of the controller.
func (a *Adaptive) Stats() AdaptiveStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return AdaptiveStats{
		Size:       a.size,
		Min:        a.opts.Min,
		Max:        a.opts.Max,
		TargetWait: a.opts.TargetWait,
		Periods:    a.periods,
		Last:       a.last,
		Decisions:  slices.Clone(a.decisions),
	}
}

// Close stops the control loop and waits for it; the pool keeps the size
// it has. Close is idempotent and returns nil.
func (a *Adaptive) Close() error {
	a.closeOnce.Do(func() { close(a.stop) })
	<-a.done
	return nil
}

// run is the control loop.
func (a *Adaptive) run() {
	defer close(a.done)
	tick := time.NewTicker(a.opts.Period / time.Duration(a.opts.Samples))
	defer tick.Stop()
	for {
		select {
		case <-a.stop:
			return
		case now := <-tick.C:
			st := a.target.Stats()
			a.sumWaiters += float64(st.Waiters)
			a.sumUsed += float64(st.InUse)
			a.samples++
			if a.samples < a.opts.Samples {
				continue
			}
			s := a.measure(now, st)
			if d, ok := a.decide(s); ok {
				a.apply(d)
			}
		}
	}
}

// measure closes a period: it turns the samples into a Sample.
func (a *Adaptive) measure(now time.Time, st Stats) Sample {
	a.mu.Lock()
	size := a.size
	a.mu.Unlock()
	s := Sample{
		Time:      now,
		Size:      size,
		Waiters:   a.sumWaiters / float64(a.samples),
		InUse:     a.sumUsed / float64(a.samples),
		Borrows:   st.Borrows - a.borrows,
		Exhausted: st.Exhausted - a.exhausted,
	}
	s.Utilization = s.InUse / float64(size)
	a.borrows, a.exhausted = st.Borrows, st.Exhausted
	a.sumWaiters, a.sumUsed, a.samples = 0, 0, 0

	sum, n := a.waitSum.Swap(0), a.waitCount.Swap(0)
	switch through := s.Borrows + s.Exhausted; {
	case n > 0:
		s.Wait, s.Measured = time.Duration(sum/n), true
	case through > 0:
		// Little's law: waiters = arrival rate * wait.
		s.Wait = time.Duration(s.Waiters * float64(a.opts.Period) / float64(through))
	case s.Waiters > 0:
		s.Wait = a.opts.Period // nobody got through all period
	}
	return s
}

// decide applies the control law to one period's sample. It returns the
// decision to change the size, if any.
func (a *Adaptive) decide(s Sample) (Decision, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.periods++
	a.last = s
	o := &a.opts
	size := a.size
	if a.cooldown > 0 {
		a.cooldown--
		a.quiet = 0
		return Decision{}, false
	}
	high := time.Duration(float64(o.TargetWait) * (1 + o.Tolerance))
	low := time.Duration(float64(o.TargetWait) * (1 - o.Tolerance))
	switch {
	case s.Wait > high:
		a.quiet = 0
		if size >= o.Max {
			return Decision{}, false
		}
		demand := int(math.Ceil(s.InUse + s.Waiters))
		to := min(max(size+1, demand), 2*size, o.Max)
		return Decision{Time: s.Time, From: size, To: to, Sample: s,
			Reason: fmt.Sprintf("wait %v above %v (%.1f waiting, %.1f in use)", shortWait(s.Wait), shortWait(high), s.Waiters, s.InUse)}, true
	case s.Wait < low && s.Utilization < o.ShrinkUtilization:
		a.quiet++
		if a.quiet < o.ShrinkAfter || size <= o.Min {
			return Decision{}, false
		}
		a.quiet = 0
		fill := (1 + o.ShrinkUtilization) / 2
		to := max(int(math.Ceil(s.InUse/fill)), (size+1)/2, o.Min)
		if to >= size {
			return Decision{}, false
		}
		return Decision{Time: s.Time, From: size, To: to, Sample: s,
			Reason: fmt.Sprintf("utilization %.0f%% below %.0f%% for %d periods, wait %v", 100*s.Utilization, 100*o.ShrinkUtilization, o.ShrinkAfter, shortWait(s.Wait))}, true
	}
	a.quiet = 0
	return Decision{}, false
}

// shortWait rounds d to about two significant digits, for reasons.
func shortWait(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(10 * time.Microsecond)
}

// apply resizes the target and records the decision.
func (a *Adaptive) apply(d Decision) {
	d.Err = a.target.Resize(min(a.poolMin, d.To), d.To)
	a.mu.Lock()
	if d.Err == nil {
		a.size = d.To
	}
	a.cooldown = a.opts.Cooldown
	if len(a.decisions) == a.opts.History {
		a.decisions = slices.Delete(a.decisions, 0, 1)
	}
	a.decisions = append(a.decisions, d)
	a.mu.Unlock()
	if a.opts.OnDecision != nil {
		a.opts.OnDecision(d)
	}
}
