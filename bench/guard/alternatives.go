// Package guardbench measures goroscope.dev/guard beside what a Go engineer would use instead:
// a buffered-channel semaphore, golang.org/x/sync/errgroup with SetLimit and
// golang.org/x/sync/semaphore.Weighted (both reproduced here with the standard library: there is
// no module proxy on this machine; the reproductions follow the documented semantics and the
// structure of those packages, they are not copies), and a fixed worker pool.
package guardbench

import (
	"container/list"
	"context"
	"sync"
)

// ChanSem is the classic buffered-channel semaphore around a go statement.
type ChanSem chan struct{}

// Go waits for a slot, then runs fn in a new goroutine that gives the slot back.
func (s ChanSem) Go(fn func()) {
	s <- struct{}{}
	go func() {
		defer func() { <-s }()
		fn()
	}()
}

// Group has errgroup.Group's semantics with SetLimit: Go blocks while limit goroutines are
// active, Wait waits for all and returns the first error.
type Group struct {
	wg      sync.WaitGroup
	sem     chan struct{}
	errOnce sync.Once
	err     error
}

// SetLimit bounds the active goroutines to n.
func (g *Group) SetLimit(n int) { g.sem = make(chan struct{}, n) }

// Go runs f in a new goroutine once a slot is free.
func (g *Group) Go(f func() error) {
	if g.sem != nil {
		g.sem <- struct{}{}
	}
	g.wg.Add(1)
	go func() {
		defer g.done()
		if err := f(); err != nil {
			g.errOnce.Do(func() { g.err = err })
		}
	}()
}

func (g *Group) done() {
	if g.sem != nil {
		<-g.sem
	}
	g.wg.Done()
}

// Wait waits for every goroutine and returns the first error.
func (g *Group) Wait() error {
	g.wg.Wait()
	return g.err
}

// Weighted has semaphore.Weighted's semantics: a mutex, a counter and a FIFO list of waiters,
// each with a channel closed when it is admitted.
type Weighted struct {
	size    int64
	cur     int64
	mu      sync.Mutex
	waiters list.List
}

type weightedWaiter struct {
	n     int64
	ready chan struct{}
}

// NewWeighted returns a semaphore of the given size.
func NewWeighted(n int64) *Weighted { return &Weighted{size: n} }

// Acquire takes n, waiting in FIFO order until it can or ctx is done.
func (s *Weighted) Acquire(ctx context.Context, n int64) error {
	done := ctx.Done()
	s.mu.Lock()
	select {
	case <-done:
		s.mu.Unlock()
		return ctx.Err()
	default:
	}
	if s.size-s.cur >= n && s.waiters.Len() == 0 {
		s.cur += n
		s.mu.Unlock()
		return nil
	}
	ready := make(chan struct{})
	elem := s.waiters.PushBack(weightedWaiter{n: n, ready: ready})
	s.mu.Unlock()
	select {
	case <-done:
		s.mu.Lock()
		select {
		case <-ready:
			s.cur -= n
			s.notifyWaiters()
		default:
			isFront := s.waiters.Front() == elem
			s.waiters.Remove(elem)
			if isFront && s.size > s.cur {
				s.notifyWaiters()
			}
		}
		s.mu.Unlock()
		return ctx.Err()
	case <-ready:
		return nil
	}
}

// Release gives n back.
func (s *Weighted) Release(n int64) {
	s.mu.Lock()
	s.cur -= n
	if s.cur < 0 {
		s.mu.Unlock()
		panic("semaphore: released more than held")
	}
	s.notifyWaiters()
	s.mu.Unlock()
}

func (s *Weighted) notifyWaiters() {
	for {
		next := s.waiters.Front()
		if next == nil {
			break
		}
		w := next.Value.(weightedWaiter)
		if s.size-s.cur < w.n {
			break
		}
		s.cur += w.n
		s.waiters.Remove(next)
		close(w.ready)
	}
}

// FixedPool is n long-lived workers reading tasks from a channel.
type FixedPool struct {
	tasks chan func()
	wg    sync.WaitGroup
}

// NewFixedPool starts n workers with a queue of queue tasks.
func NewFixedPool(n, queue int) *FixedPool {
	p := &FixedPool{tasks: make(chan func(), queue)}
	p.wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			defer p.wg.Done()
			for f := range p.tasks {
				f()
			}
		}()
	}
	return p
}

// Submit queues fn, waiting while the queue is full.
func (p *FixedPool) Submit(fn func()) { p.tasks <- fn }

// Close lets the workers finish the queue and waits for them.
func (p *FixedPool) Close() {
	close(p.tasks)
	p.wg.Wait()
}
