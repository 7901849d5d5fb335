package guard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Policy says what a call does when a limit it needs is full.
type Policy int32

const (
	// Wait blocks until a slot frees or the caller's context is done (its deadline or its
	// cancellation), whichever comes first. It is the default.
	Wait Policy = iota
	// Reject fails at once with a *LimitError; the HTTP middleware sheds the request with 503 and
	// Retry-After.
	Reject
)

// String returns "wait" or "reject".
func (p Policy) String() string {
	switch p {
	case Wait:
		return "wait"
	case Reject:
		return "reject"
	}
	return fmt.Sprintf("Policy(%d)", int32(p))
}

// ParsePolicy reads "wait" or "reject" (the empty string is "wait").
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "", "wait":
		return Wait, nil
	case "reject":
		return Reject, nil
	}
	return Wait, fmt.Errorf("guard: unknown policy %q (want wait or reject)", s)
}

// ErrLimit is matched (errors.Is) by every error that reports a full limit: a rejected call, a
// wait that ended with its context, a shed request, a full pool queue.
var ErrLimit = errors.New("guard: limit reached")

// LimitError reports that a limit refused a call. errors.Is(err, ErrLimit) is true; when the
// call waited and its context ended first, Err is the context's error and errors.Is(err,
// context.DeadlineExceeded) (or context.Canceled) is true as well.
type LimitError struct {
	// Limit is the name of the limit that was full.
	Limit string
	// Site is the site of the refused call.
	Site string
	// Max is the limit's value at the time.
	Max int
	// Err is the context's error when the call waited; nil when it was rejected at once.
	Err error
}

// Error describes the refusal.
func (e *LimitError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("guard: site %q waited for limit %q (max %d): %v", e.Site, e.Limit, e.Max, e.Err)
	}
	return fmt.Sprintf("guard: site %q rejected: limit %q (max %d) reached", e.Site, e.Limit, e.Max)
}

// Is reports whether target is ErrLimit.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// Unwrap returns the context's error, if any.
func (e *LimitError) Unwrap() error { return e.Err }

// Limiter bounds how many holders may be inside at once: a counting semaphore with a FIFO queue
// of waiters, an atomic fast path, and gauges and counters. Guard.Limit creates and registers
// them; a Limiter can also be used on its own with Acquire and Release.
//
// A Limiter starts no goroutine.
type Limiter struct {
	name   string
	max    atomic.Int64
	policy atomic.Int32

	inUse   atomic.Int64
	waiting atomic.Int64 // len(waiters), readable without mu
	peak    atomic.Int64

	admitted  atomic.Uint64
	waited    atomic.Uint64
	rejected  atomic.Uint64
	abandoned atomic.Uint64

	mu      sync.Mutex
	waiters []*waiter // FIFO
}

type waiter struct {
	// ready receives one value when the slot is granted (under mu, to listed waiters only).
	// A buffered channel, not a closed one, so that waiters can be reused.
	ready chan struct{}
}

// waiters are reused: a waiter goes back to the pool only when its channel is empty and it is
// off every list, so no grant can reach it there.
var waiterPool = sync.Pool{New: func() any { return &waiter{ready: make(chan struct{}, 1)} }}

// NewLimiter returns a limiter called name that admits up to max holders at once (max < 1 is
// treated as 1) with policy Wait.
func NewLimiter(name string, max int) *Limiter {
	l := &Limiter{name: name}
	l.SetMax(max)
	return l
}

// Name returns the limiter's name.
func (l *Limiter) Name() string { return l.name }

// Max returns the current limit.
func (l *Limiter) Max() int { return int(l.max.Load()) }

// SetMax changes the limit (max < 1 is treated as 1). Raising it admits waiters at once;
// lowering it lets current holders finish and admits no one until fewer than max remain.
func (l *Limiter) SetMax(max int) {
	if max < 1 {
		max = 1
	}
	l.max.Store(int64(max))
	if l.waiting.Load() > 0 {
		l.mu.Lock()
		l.grantLocked()
		l.mu.Unlock()
	}
}

// Policy returns what callers do when the limiter is full.
func (l *Limiter) Policy() Policy { return Policy(l.policy.Load()) }

// SetPolicy sets what callers do when the limiter is full.
func (l *Limiter) SetPolicy(p Policy) { l.policy.Store(int32(p)) }

// InUse returns how many holders are inside now.
func (l *Limiter) InUse() int { return int(l.inUse.Load()) }

// tryAcquire takes a slot if one is free.
func (l *Limiter) tryAcquire() bool {
	for {
		c := l.inUse.Load()
		if c >= l.max.Load() {
			return false
		}
		if l.inUse.CompareAndSwap(c, c+1) {
			for {
				p := l.peak.Load()
				if c+1 <= p || l.peak.CompareAndSwap(p, c+1) {
					break
				}
			}
			return true
		}
	}
}

// TryAcquire takes a slot if one is free now and reports whether it did; it never waits and
// counts a refusal as rejected.
func (l *Limiter) TryAcquire() bool {
	if l.waiting.Load() == 0 && l.tryAcquire() {
		l.admitted.Add(1)
		return true
	}
	l.rejected.Add(1)
	return false
}

// Acquire takes a slot, following the limiter's policy when it is full: with Wait it waits in
// FIFO order until a slot frees or ctx is done; with Reject it fails at once. The error is a
// *LimitError (Site empty). Every successful Acquire needs one Release.
func (l *Limiter) Acquire(ctx context.Context) error {
	return l.acquire(ctx, "", l.Policy(), time.Time{})
}

// acquire takes a slot with policy p; a Wait ends when ctx is done or, if deadline is not zero,
// at deadline.
func (l *Limiter) acquire(ctx context.Context, site string, p Policy, deadline time.Time) error {
	// Fast path: nobody queued and a slot free. Queued waiters go first (no barging while the
	// queue is non-empty), which keeps waiting FIFO and bounded.
	if l.waiting.Load() == 0 && l.tryAcquire() {
		l.admitted.Add(1)
		return nil
	}
	if p == Reject {
		l.rejected.Add(1)
		return &LimitError{Limit: l.name, Site: site, Max: l.Max()}
	}
	if ctx.Err() != nil {
		l.abandoned.Add(1)
		return &LimitError{Limit: l.name, Site: site, Max: l.Max(), Err: ctx.Err()}
	}
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	w := waiterPool.Get().(*waiter)
	l.mu.Lock()
	l.waiters = append(l.waiters, w)
	l.waiting.Add(1)
	// A release that ran before our waiting.Add(1) was visible did not look for waiters; grant
	// here so that slot is not lost.
	l.grantLocked()
	l.mu.Unlock()
	select {
	case <-w.ready:
		waiterPool.Put(w)
		l.admitted.Add(1)
		l.waited.Add(1)
		return nil
	case <-ctx.Done():
	}
	l.mu.Lock()
	select {
	case <-w.ready:
		// Granted while the context ended: hand the slot on.
		l.mu.Unlock()
		waiterPool.Put(w)
		l.Release()
	default:
		for i, x := range l.waiters {
			if x == w {
				copy(l.waiters[i:], l.waiters[i+1:])
				l.waiters[len(l.waiters)-1] = nil
				l.waiters = l.waiters[:len(l.waiters)-1]
				l.waiting.Add(-1)
				break
			}
		}
		// Leaving may unblock the next waiter if a slot is free.
		l.grantLocked()
		l.mu.Unlock()
		waiterPool.Put(w)
	}
	l.abandoned.Add(1)
	return &LimitError{Limit: l.name, Site: site, Max: l.Max(), Err: ctx.Err()}
}

// grantLocked hands free slots to waiters in FIFO order. l.mu is held.
func (l *Limiter) grantLocked() {
	for len(l.waiters) > 0 && l.tryAcquire() {
		w := l.waiters[0]
		l.waiters[0] = nil
		l.waiters = l.waiters[1:]
		l.waiting.Add(-1)
		w.ready <- struct{}{} // never blocks: one grant per listing, room for one
	}
	if len(l.waiters) == 0 {
		l.waiters = nil // let the array go once the queue drains
	}
}

// Release returns a slot taken by Acquire or TryAcquire.
func (l *Limiter) Release() {
	if l.inUse.Add(-1) < 0 {
		panic("guard: Release without Acquire on limiter " + l.name)
	}
	if l.waiting.Load() > 0 {
		l.mu.Lock()
		l.grantLocked()
		l.mu.Unlock()
	}
}

// LimitStats is a limiter's state: gauges (Max, InUse, Waiting, Peak) and counters that only grow.
type LimitStats struct {
	Name   string `json:"name"`
	Policy string `json:"policy"`
	// Max is the limit.
	Max int64 `json:"max"`
	// InUse is how many holders are inside now.
	InUse int64 `json:"in_use"`
	// Waiting is how many callers wait for a slot now.
	Waiting int64 `json:"waiting"`
	// Peak is the highest InUse seen.
	Peak int64 `json:"peak"`
	// Admitted counts calls that got a slot (at once or after waiting).
	Admitted uint64 `json:"admitted"`
	// Waited counts admitted calls that had to wait.
	Waited uint64 `json:"waited"`
	// Rejected counts calls refused at once (policy Reject, TryGo, a shed request).
	Rejected uint64 `json:"rejected"`
	// Abandoned counts calls whose context ended while they waited.
	Abandoned uint64 `json:"abandoned"`
}

// Stats returns the limiter's gauges and counters.
func (l *Limiter) Stats() LimitStats {
	return LimitStats{
		Name:      l.name,
		Policy:    l.Policy().String(),
		Max:       l.max.Load(),
		InUse:     l.inUse.Load(),
		Waiting:   l.waiting.Load(),
		Peak:      l.peak.Load(),
		Admitted:  l.admitted.Load(),
		Waited:    l.waited.Load(),
		Rejected:  l.rejected.Load(),
		Abandoned: l.abandoned.Load(),
	}
}
