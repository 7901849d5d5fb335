package guard

import (
	"sort"
	"sync"
	"time"
)

// fakeClock is a Clock whose time moves only when the test says so.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*fakeTicker
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTicker(d time.Duration) Ticker {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTicker{c: make(chan time.Time), stop: make(chan struct{}), every: d, next: c.now.Add(d), clock: c}
	c.tickers = append(c.tickers, t)
	return t
}

// Advance moves time forward by d, one due tick at a time. Each tick is handed over on an
// unbuffered channel, so when Advance returns every tick but the last has been fully processed
// by the ticker's reader (which takes the next one only after finishing the previous).
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var due []*fakeTicker
		for _, t := range c.tickers {
			if !t.stopped && !t.next.After(end) {
				due = append(due, t)
			}
		}
		if len(due) == 0 {
			c.now = end
			c.mu.Unlock()
			return
		}
		sort.Slice(due, func(i, j int) bool { return due[i].next.Before(due[j].next) })
		t := due[0]
		c.now = t.next
		t.next = t.next.Add(t.every)
		now := c.now
		c.mu.Unlock()
		select {
		case t.c <- now:
		case <-t.stop:
		}
	}
}

type fakeTicker struct {
	c       chan time.Time
	every   time.Duration
	next    time.Time
	clock   *fakeClock
	stopped bool
	stop    chan struct{}
}

func (t *fakeTicker) C() <-chan time.Time { return t.c }

func (t *fakeTicker) Stop() {
	t.clock.mu.Lock()
	defer t.clock.mu.Unlock()
	if t.stopped {
		return
	}
	t.stopped = true
	close(t.stop)
}
