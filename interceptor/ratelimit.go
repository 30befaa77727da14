package interceptor

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/remoting-go/remoting"
)

// RateLimit returns a server interceptor that lets calls through at rate
// per second on average, with bursts of up to burst calls (a token
// bucket that holds burst tokens, starts full and gains rate tokens per
// second). A call that finds the bucket empty fails at once with a
// [*remoting.Error] with [remoting.CodeResourceExhausted]; it does not
// wait, and the object is not activated for it. One bucket serves every
// call that passes this interceptor; see [RateLimitBy] for one bucket per
// caller or method. A rate of zero or less refuses every call; burst is
// at least 1.
func RateLimit(rate float64, burst int) remoting.Interceptor {
	b := newBucket(rate, burst, time.Now())
	return func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		if !b.take(time.Now()) {
			return exhausted(inv, rate, burst)
		}
		return next(ctx, inv)
	}
}

// RateLimitBy is [RateLimit] with one bucket per key: key names the
// bucket of each invocation, as [ByPeer] and [ByMethod] do. Buckets that
// have been full for a while are dropped, so that keys that come and go
// (client peers) do not accumulate.
func RateLimitBy(rate float64, burst int, key func(ctx context.Context, inv *remoting.Invocation) string) remoting.Interceptor {
	l := &keyedLimiter{rate: rate, burst: burst, buckets: make(map[string]*bucket)}
	return func(ctx context.Context, inv *remoting.Invocation, next remoting.Handler) error {
		if !l.take(key(ctx, inv), time.Now()) {
			return exhausted(inv, rate, burst)
		}
		return next(ctx, inv)
	}
}

// ByPeer keys a rate limit by the caller's id, so that each client
// gets its own bucket.
func ByPeer(ctx context.Context, _ *remoting.Invocation) string {
	if info := remoting.ServerInfoFrom(ctx); info != nil {
		return info.Caller.String()
	}
	return ""
}

// ByMethod keys a rate limit by method.
func ByMethod(_ context.Context, inv *remoting.Invocation) string { return inv.Method }

func exhausted(inv *remoting.Invocation, rate float64, burst int) error {
	return remoting.Errorf(remoting.CodeResourceExhausted, "%s: rate limit of %g calls/s (burst %d) exceeded", inv.Method, rate, burst)
}

// bucket is a token bucket.
type bucket struct {
	mu     sync.Mutex
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate float64, burst int, now time.Time) *bucket {
	burst = max(burst, 1)
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

// take takes one token if there is one.
func (b *bucket) take(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refillLocked(now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (b *bucket) refillLocked(now time.Time) {
	if dt := now.Sub(b.last).Seconds(); dt > 0 && b.rate > 0 {
		b.tokens = math.Min(b.burst, b.tokens+dt*b.rate)
	}
	b.last = now
}

// full reports whether the bucket is full at now.
func (b *bucket) full(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refillLocked(now)
	return b.tokens >= b.burst
}

// keyedLimiter holds one bucket per key.
type keyedLimiter struct {
	rate  float64
	burst int

	mu      sync.Mutex
	buckets map[string]*bucket
	sweep   int // len(buckets) at which full buckets are dropped next
}

func (l *keyedLimiter) take(key string, now time.Time) bool {
	l.mu.Lock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= max(l.sweep, 1024) {
			// A full bucket is the same as a new one: drop them.
			for k, old := range l.buckets {
				if old.full(now) {
					delete(l.buckets, k)
				}
			}
			l.sweep = 2 * len(l.buckets)
		}
		b = newBucket(l.rate, l.burst, now)
		l.buckets[key] = b
	}
	l.mu.Unlock()
	return b.take(now)
}
