package guardbench

import (
	"context"
	"math"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"goroscope.dev/guard"
)

// The bursty workload: open-loop arrivals (the generator never waits for the pool) of tasks that
// each wait 10 ms (a downstream call), alternating bursts of 1200 tasks/s for 3 s (12 workers'
// worth) with quiet spells of 100 tasks/s for 3 s, three times. Latency is from submission to
// completion, queueing included.
const (
	burstTask   = 10 * time.Millisecond
	burstRate   = 1200.0
	burstFor    = 3 * time.Second
	quietRate   = 100.0
	quietFor    = 3 * time.Second
	burstCycles = 3
	poolMin     = 8
	poolMax     = 64
)

// The adaptive pool's rule with every window divided by 100 (a run takes 18 s, not 30 min):
// grow 25 % after p95 stayed above the 50 ms target for 300 ms, shrink 20 % after 85 % idle for
// 600 ms, measured every 10 ms. Steps, shares and levels are the defaults.
var adaptiveOpts = guard.PoolOptions{
	Name: "adaptive", Min: poolMin, Max: poolMax, Queue: 1 << 16,
	LatencyTarget: 50 * time.Millisecond,
	Interval:      10 * time.Millisecond,
	GrowAfter:     300 * time.Millisecond,
	ShrinkAfter:   600 * time.Millisecond,
}

type burstResult struct {
	p50, p99, max  time.Duration
	meanG, peakG   float64
	tasks          int
	grows, shrinks uint64
	meanW, peakW   float64
	elapsed        time.Duration
}

// runBurst runs the workload on pool and samples the process's goroutine count (less the
// count before the pool started) and the pool's workers every 10 ms.
func runBurst(tb testing.TB, opts guard.PoolOptions) burstResult {
	base := runtime.NumGoroutine()
	p, err := guard.NewPool(opts)
	if err != nil {
		tb.Fatal(err)
	}
	total := burstCycles * int(burstRate*burstFor.Seconds()+quietRate*quietFor.Seconds())
	lat := make([]int64, total+burstCycles*2)
	var n atomic.Int64
	var wg sync.WaitGroup

	stopSampling := make(chan struct{})
	var samples, sumG, peakG, sumW, peakW float64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
				g := float64(runtime.NumGoroutine() - base - 1) // less this sampler
				w := float64(p.Stats().Workers)
				samples++
				sumG += g
				sumW += w
				peakG = math.Max(peakG, g)
				peakW = math.Max(peakW, w)
			}
		}
	}()

	ctx := context.Background()
	submit := func() {
		start := time.Now()
		wg.Add(1)
		if err := p.Submit(ctx, func() {
			time.Sleep(burstTask)
			i := n.Add(1) - 1
			lat[i] = int64(time.Since(start))
			wg.Done()
		}); err != nil {
			tb.Fatal(err)
		}
	}
	began := time.Now()
	for c := 0; c < burstCycles; c++ {
		for _, phase := range []struct {
			rate float64
			d    time.Duration
		}{{burstRate, burstFor}, {quietRate, quietFor}} {
			t0 := time.Now()
			sent := 0
			for {
				el := time.Since(t0)
				if el >= phase.d {
					break
				}
				for want := int(phase.rate * el.Seconds()); sent < want; sent++ {
					submit()
				}
				time.Sleep(time.Millisecond)
			}
			for want := int(phase.rate * phase.d.Seconds()); sent < want; sent++ {
				submit()
			}
		}
	}
	wg.Wait()
	elapsed := time.Since(began)
	close(stopSampling)
	<-sampled
	st := p.Stats()
	if err := p.Close(); err != nil {
		tb.Fatal(err)
	}
	got := lat[:n.Load()]
	sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
	q := func(f float64) time.Duration { return time.Duration(got[int(math.Ceil(f*float64(len(got))))-1]) }
	return burstResult{
		p50: q(0.50), p99: q(0.99), max: time.Duration(got[len(got)-1]),
		meanG: sumG / samples, peakG: peakG, meanW: sumW / samples, peakW: peakW,
		tasks: len(got), grows: st.Grows, shrinks: st.Shrinks, elapsed: elapsed,
	}
}

// BenchmarkBurst runs the bursty workload once per b.N on a fixed pool of Min workers, a fixed
// pool of Max workers, and the adaptive pool between them. Run it with -benchtime=1x.
func BenchmarkBurst(b *testing.B) {
	fixed := func(n int) guard.PoolOptions {
		return guard.PoolOptions{Name: "fixed", Min: n, Max: n, Queue: 1 << 16}
	}
	for _, c := range []struct {
		name string
		opts guard.PoolOptions
	}{
		{"fixed-min-8", fixed(poolMin)},
		{"fixed-max-64", fixed(poolMax)},
		{"adaptive-8-64", adaptiveOpts},
	} {
		b.Run(c.name, func(b *testing.B) {
			var r burstResult
			for i := 0; i < b.N; i++ {
				r = runBurst(b, c.opts)
			}
			b.ReportMetric(float64(r.p50)/1e6, "p50-ms")
			b.ReportMetric(float64(r.p99)/1e6, "p99-ms")
			b.ReportMetric(float64(r.max)/1e6, "max-ms")
			b.ReportMetric(r.meanG, "mean-goroutines")
			b.ReportMetric(r.peakG, "peak-goroutines")
			b.ReportMetric(r.meanW, "mean-workers")
			b.ReportMetric(float64(r.grows), "grows")
			b.ReportMetric(float64(r.shrinks), "shrinks")
			b.ReportMetric(float64(r.tasks), "tasks")
			b.ReportMetric(r.elapsed.Seconds(), "run-s")
		})
	}
}
