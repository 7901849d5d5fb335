package guardbench

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"goroscope.dev/guard"
)

// limit is the concurrency bound of every limiter under test: above GOMAXPROCS, as in a service
// whose goroutines mostly wait on I/O.
const limit = 64

// starter starts fn (which must run exactly once) under one of the limiters; stop releases the
// limiter's own resources after every fn has run.
type starter struct {
	name  string
	setup func(limit int) (start func(fn func()), stop func())
}

var starters = []starter{
	{"plain-go-unbounded", func(int) (func(func()), func()) {
		return func(fn func()) { go fn() }, func() {}
	}},
	{"chan-semaphore", func(n int) (func(func()), func()) {
		s := make(ChanSem, n)
		return s.Go, func() {}
	}},
	{"errgroup-SetLimit", func(n int) (func(func()), func()) {
		var g Group
		g.SetLimit(n)
		return func(fn func()) { g.Go(func() error { fn(); return nil }) }, func() { _ = g.Wait() }
	}},
	{"semaphore-Weighted", func(n int) (func(func()), func()) {
		s := NewWeighted(int64(n))
		ctx := context.Background()
		return func(fn func()) {
			if err := s.Acquire(ctx, 1); err != nil {
				panic(err)
			}
			go func() {
				defer s.Release(1)
				fn()
			}()
		}, func() {}
	}},
	{"fixed-pool", func(n int) (func(func()), func()) {
		p := NewFixedPool(n, n)
		return p.Submit, p.Close
	}},
	{"guard-no-limit", func(n int) (func(func()), func()) {
		g := guard.New()
		return guardStart(g), func() {}
	}},
	{"guard-1-limit", func(n int) (func(func()), func()) {
		g := guard.New()
		g.Limit("svc/m", n)
		return guardStart(g), func() {}
	}},
	{"guard-3-levels", func(n int) (func(func()), func()) {
		g := guard.New()
		g.Limit(guard.Process, 500_000)
		g.Limit("svc", 8_000)
		g.Limit("svc/m", n)
		return guardStart(g), func() {}
	}},
	{"guard-pool-fixed", func(n int) (func(func()), func()) {
		p, err := guard.NewPool(guard.PoolOptions{Name: "bench", Min: n, Max: n, Queue: n})
		if err != nil {
			panic(err)
		}
		ctx := context.Background()
		return func(fn func()) {
			if err := p.Submit(ctx, fn); err != nil {
				panic(err)
			}
		}, func() { _ = p.Close() }
	}},
}

func guardStart(g *guard.Guard) func(func()) {
	ctx := context.Background()
	return func(fn func()) {
		if err := g.Go(ctx, "svc/m", func(context.Context) { fn() }); err != nil {
			panic(err)
		}
	}
}

// TestEveryLimiterHoldsItsLimitAndRunsEveryTask: a comparison is only fair between limiters
// that do the same job.
func TestEveryLimiterHoldsItsLimitAndRunsEveryTask(t *testing.T) {
	const n, tasks = 4, 2000
	for _, s := range starters {
		var inside, peak, ran atomic.Int64
		var wg sync.WaitGroup
		wg.Add(tasks)
		start, stop := s.setup(n)
		for i := 0; i < tasks; i++ {
			start(func() {
				defer wg.Done()
				now := inside.Add(1)
				for {
					p := peak.Load()
					if now <= p || peak.CompareAndSwap(p, now) {
						break
					}
				}
				runtime.Gosched()
				inside.Add(-1)
				ran.Add(1)
			})
		}
		wg.Wait()
		stop()
		if ran.Load() != tasks {
			t.Errorf("%s: %d of %d tasks ran", s.name, ran.Load(), tasks)
		}
		if s.name != "plain-go-unbounded" && s.name != "guard-no-limit" && peak.Load() > n {
			t.Errorf("%s: %d tasks at once, limit %d", s.name, peak.Load(), n)
		}
	}
}

// BenchmarkGo: the cost of starting one bounded task from one caller (ns/op, allocs/op), the
// task itself doing nothing but counting down.
func BenchmarkGo(b *testing.B) {
	for _, s := range starters {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			var wg sync.WaitGroup
			done := func() { wg.Done() }
			start, stop := s.setup(limit)
			wg.Add(b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start(done)
			}
			wg.Wait()
			b.StopTimer()
			stop()
		})
	}
}

// BenchmarkGoParallel: the same from GOMAXPROCS callers at once (contention on the limiter).
func BenchmarkGoParallel(b *testing.B) {
	for _, s := range starters {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			var wg sync.WaitGroup
			done := func() { wg.Done() }
			start, stop := s.setup(limit)
			wg.Add(b.N)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					start(done)
				}
			})
			wg.Wait()
			b.StopTimer()
			stop()
		})
	}
}
