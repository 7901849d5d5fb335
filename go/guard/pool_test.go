package guard

import (
	"context"
	"encoding/json"
	"errors"
	"expvar"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// newTestPool starts a pool on a fake clock and closes it when the test ends.
func newTestPool(t *testing.T, o PoolOptions) (*Pool, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	o.Clock = clk
	p, err := NewPool(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p, clk
}

// waitTicks waits until the pool has processed n ticks.
func waitTicks(t *testing.T, p *Pool, n uint64) {
	t.Helper()
	waitFor(t, "tick", func() bool { return p.Stats().Ticks >= n })
}

// second runs one interval of fake time: it submits n tasks that each take `latency` of fake
// time (from submission to completion), then lets the interval end (one tick).
func second(t *testing.T, p *Pool, clk *fakeClock, n int, latency time.Duration) {
	t.Helper()
	before := p.Stats()
	gate := make(chan struct{})
	for i := 0; i < n; i++ {
		if err := p.Submit(context.Background(), func() { <-gate }); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the tasks to start", func() bool { return p.Stats().Busy == n })
	clk.Advance(latency)
	close(gate)
	// Completion is recorded after the task returns: wait for the pool to count it before time
	// moves on, or the measured latency would include the rest of the interval.
	waitFor(t, "the tasks to finish", func() bool { return p.Stats().Completed == before.Completed+uint64(n) })
	clk.Advance(p.Options().Interval - latency)
	waitTicks(t, p, before.Ticks+1)
}

func TestPoolDefaultsAreTheDocumentedOnes(t *testing.T) {
	p, _ := newTestPool(t, PoolOptions{})
	o := p.Options()
	want := PoolOptions{
		Name: "pool", Min: 1, Max: 64, Queue: 64, LatencyTarget: 100 * time.Millisecond,
		QPSWeight: 0, GrowStep: 0.25, GrowAfter: 30 * time.Second, ShrinkStep: 0.20,
		IdleShare: 0.85, ShrinkAfter: 60 * time.Second, Interval: time.Second, Clock: o.Clock,
	}
	if o != want {
		t.Errorf("defaults:\n got %+v\nwant %+v", o, want)
	}
	if st := p.Stats(); st.Workers != 1 || st.Target != 1 {
		t.Errorf("a new pool runs %d workers (target %d), want Min = 1", st.Workers, st.Target)
	}
}

func TestPoolOptionsAreValidated(t *testing.T) {
	for _, o := range []PoolOptions{
		{Min: -1},
		{QPSWeight: 1.5},
		{QPSWeight: -0.1},
		{GrowStep: -1},
		{ShrinkStep: 1},
		{IdleShare: 1.2},
		{GrowAfter: -time.Second},
	} {
		if p, err := NewPool(o); err == nil {
			p.Close()
			t.Errorf("NewPool(%+v) did not fail", o)
		}
	}
}

func TestPoolGrowsAfterP95StaysAboveTargetForTheWindow(t *testing.T) {
	p, clk := newTestPool(t, PoolOptions{Min: 4, Max: 10})
	// 29 slow seconds, one fast second (the streak breaks), 29 slow seconds: no growth.
	for i := 0; i < 29; i++ {
		second(t, p, clk, 4, 200*time.Millisecond)
	}
	second(t, p, clk, 4, 50*time.Millisecond)
	for i := 0; i < 29; i++ {
		second(t, p, clk, 4, 200*time.Millisecond)
	}
	st := p.Stats()
	if st.Target != 4 || st.Grows != 0 {
		t.Fatalf("grew before 30 s above target: %+v", st)
	}
	if st.LastP95 != 200*time.Millisecond || st.LastPressure != 2 {
		t.Errorf("last interval: p95 %v pressure %v", st.LastP95, st.LastPressure)
	}
	// The 30th slow second in a row: +25 % of 4 = 1 worker.
	second(t, p, clk, 4, 200*time.Millisecond)
	if st := p.Stats(); st.Target != 5 || st.Grows != 1 {
		t.Fatalf("after 30 s above target: target %d grows %d, want 5 and 1", st.Target, st.Grows)
	}
	waitFor(t, "the fifth worker", func() bool { return p.Stats().Workers == 5 })
	// Another 30 s: 5 + ceil(1.25) = 7; then 7 + 2 = 9; then 9 + 3 = 12, capped at Max 10.
	for _, want := range []int{7, 9, 10} {
		for i := 0; i < 30; i++ {
			second(t, p, clk, 4, 200*time.Millisecond)
		}
		if st := p.Stats(); st.Target != want {
			t.Fatalf("target %d, want %d", st.Target, want)
		}
	}
	for i := 0; i < 30; i++ {
		second(t, p, clk, 4, 200*time.Millisecond)
	}
	if st := p.Stats(); st.Target != 10 || st.Grows != 4 {
		t.Fatalf("grew past Max: %+v", st)
	}
	waitFor(t, "ten workers", func() bool { return p.Stats().Workers == 10 })
}

// p95 is a percentile: a few slow tasks among many fast ones do not make the pool grow.
func TestPoolP95IgnoresTheSlowestFivePercent(t *testing.T) {
	p, clk := newTestPool(t, PoolOptions{Min: 20, Max: 40, GrowAfter: 3 * time.Second})
	for i := 0; i < 5; i++ {
		before := p.Stats()
		fast, slow := make(chan struct{}), make(chan struct{})
		for j := 0; j < 20; j++ {
			gate := fast
			if j == 0 { // 1 of 20 = 5 %: not above the 95th percentile
				gate = slow
			}
			if err := p.Submit(context.Background(), func() { <-gate }); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "the tasks to start", func() bool { return p.Stats().Busy == 20 })
		clk.Advance(10 * time.Millisecond)
		close(fast)
		waitFor(t, "the fast tasks", func() bool { return p.Stats().Completed == before.Completed+19 })
		clk.Advance(500 * time.Millisecond)
		close(slow)
		waitFor(t, "the slow task", func() bool { return p.Stats().Completed == before.Completed+20 })
		clk.Advance(490 * time.Millisecond)
		waitTicks(t, p, before.Ticks+1)
	}
	if st := p.Stats(); st.Grows != 0 || st.LastP95 != 10*time.Millisecond {
		t.Fatalf("p95 with one slow task in 20: %+v", st)
	}
}

func TestPoolShrinksAfterIdleShareStaysAboveTheLevelForTheWindow(t *testing.T) {
	p, clk := newTestPool(t, PoolOptions{Min: 2, Max: 10})
	p.mu.Lock()
	p.resizeLocked(10)
	p.mu.Unlock()
	for i := 1; i <= 59; i++ {
		clk.Advance(time.Second)
		waitTicks(t, p, uint64(i))
	}
	if st := p.Stats(); st.Target != 10 || st.LastIdleShare != 1 {
		t.Fatalf("shrank before 60 s idle: %+v", st)
	}
	clk.Advance(time.Second)
	waitTicks(t, p, 60)
	if st := p.Stats(); st.Target != 8 || st.Shrinks != 1 { // -20 % of 10
		t.Fatalf("after 60 s idle: %+v", st)
	}
	waitFor(t, "two workers to retire", func() bool { return p.Stats().Workers == 8 })
	for i := 61; i <= 120; i++ {
		clk.Advance(time.Second)
		waitTicks(t, p, uint64(i))
	}
	if st := p.Stats(); st.Target != 6 { // 8 - ceil(1.6)
		t.Fatalf("after 120 s idle: %+v", st)
	}
	for i := 121; i <= 300; i++ {
		clk.Advance(time.Second)
		waitTicks(t, p, uint64(i))
	}
	if st := p.Stats(); st.Target != 2 || st.Shrinks != 5 { // 6 → 4 → 3 → 2 (Min)
		t.Fatalf("after 300 s idle: %+v", st)
	}
	waitFor(t, "Min workers", func() bool { return p.Stats().Workers == 2 })
}

// Workers half busy are not idle: no shrinking, however long it lasts.
func TestPoolDoesNotShrinkWhileWorkersAreBusy(t *testing.T) {
	p, clk := newTestPool(t, PoolOptions{Min: 2, Max: 10})
	p.mu.Lock()
	p.resizeLocked(10)
	p.mu.Unlock()
	gate := make(chan struct{})
	for i := 0; i < 5; i++ {
		if err := p.Submit(context.Background(), func() { <-gate }); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "five busy workers", func() bool { return p.Stats().Busy == 5 })
	for i := 1; i <= 120; i++ {
		clk.Advance(time.Second)
		waitTicks(t, p, uint64(i))
	}
	st := p.Stats()
	if st.Target != 10 || st.Shrinks != 0 || st.LastIdleShare != 0.5 {
		t.Fatalf("half-busy pool: %+v", st)
	}
	close(gate)
}

// With QPSWeight 1 only the throughput counts: slow tasks that keep up with arrivals do not
// make the pool grow, and arrivals outpacing completions do.
func TestPoolQPSWeightChoosesTheSignal(t *testing.T) {
	p, clk := newTestPool(t, PoolOptions{Min: 2, Max: 10, QPSWeight: 1, Queue: 1000})
	for i := 0; i < 40; i++ {
		second(t, p, clk, 2, 500*time.Millisecond) // p95 5× the target, arrivals = completions
	}
	if st := p.Stats(); st.Grows != 0 || st.LastPressure != 1 {
		t.Fatalf("QPSWeight 1 grew on latency alone: %+v", st)
	}
	// Now 2 arrivals per second, 1 completion.
	permits := make(chan struct{})
	for i := 1; i <= 30; i++ {
		before := p.Stats()
		for j := 0; j < 2; j++ {
			if err := p.Submit(context.Background(), func() { <-permits }); err != nil {
				t.Fatal(err)
			}
		}
		if i > 1 { // the pool's 2 workers are busy from the first second on
			permits <- struct{}{}
			waitFor(t, "one completion", func() bool { return p.Stats().Completed == before.Completed+1 })
		}
		clk.Advance(time.Second)
		waitTicks(t, p, before.Ticks+1)
	}
	st := p.Stats()
	if st.Grows != 1 || st.Target != 3 {
		t.Fatalf("arrivals twice the completions for 30 s: %+v", st)
	}
	close(permits)
}

func TestPoolCloseRunsQueuedTasksStopsEveryWorkerAndRefusesLaterSubmits(t *testing.T) {
	p, err := NewPool(PoolOptions{Name: "closing", Min: 3, Max: 3, Queue: 10})
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	var ran atomic.Int64
	for i := 0; i < 10; i++ {
		if err := p.Submit(context.Background(), func() { <-gate; ran.Add(1) }); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan error)
	go func() { closed <- p.Close() }()
	waitFor(t, "Close to begin", func() bool { return p.Stats().Closed })
	if err := p.Submit(context.Background(), func() {}); err != ErrClosed {
		t.Errorf("Submit after Close: %v", err)
	}
	if err := p.TrySubmit(func() {}); err != ErrClosed {
		t.Errorf("TrySubmit after Close: %v", err)
	}
	close(gate)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if n := ran.Load(); n != 10 {
		t.Errorf("%d of 10 queued tasks ran before Close returned", n)
	}
	if st := p.Stats(); st.Workers != 0 || st.Busy != 0 {
		t.Errorf("after Close: %+v", st)
	}
	for _, g := range strings.Split(stacks(), "\n\n") {
		if strings.Contains(g, "guard.(*Pool)") {
			t.Errorf("a pool goroutine survived Close:\n%s", g)
		}
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestPoolSubmitBlockedOnAFullQueueReturnsErrClosedWhenCloseBegins(t *testing.T) {
	p, err := NewPool(PoolOptions{Min: 1, Max: 1, Queue: 1})
	if err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	for i := 0; i < 2; i++ { // one running, one queued
		if err := p.Submit(context.Background(), func() { <-gate }); err != nil {
			t.Fatal(err)
		}
	}
	blocked := make(chan error)
	go func() { blocked <- p.Submit(context.Background(), func() { t.Error("ran") }) }()
	closed := make(chan error)
	go func() { closed <- p.Close() }()
	// The gate is still shut: Submit must return now, not when the queue drains.
	if err := <-blocked; err != ErrClosed {
		t.Fatalf("Submit blocked on a full queue during Close: %v", err)
	}
	close(gate)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}

func TestPoolLosesNoTaskWhenSubmitsRaceClose(t *testing.T) {
	p, err := NewPool(PoolOptions{Min: 2, Max: 4, Queue: 8})
	if err != nil {
		t.Fatal(err)
	}
	var accepted, ran atomic.Int64
	var submitters sync.WaitGroup
	for i := 0; i < 8; i++ {
		submitters.Add(1)
		go func() {
			defer submitters.Done()
			for {
				err := p.Submit(context.Background(), func() { ran.Add(1) })
				if err == ErrClosed {
					return
				}
				if err != nil {
					t.Errorf("Submit: %v", err)
					return
				}
				accepted.Add(1)
			}
		}()
	}
	waitFor(t, "some work", func() bool { return ran.Load() > 100 })
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	submitters.Wait()
	if a, r := accepted.Load(), ran.Load(); a != r {
		t.Fatalf("%d tasks accepted, %d ran", a, r)
	}
}

func TestPoolRefusesWhenFullWithATypedError(t *testing.T) {
	p, _ := newTestPool(t, PoolOptions{Name: "tiny", Min: 1, Max: 1, Queue: 1})
	gate := make(chan struct{})
	defer close(gate)
	for i := 0; i < 2; i++ {
		if err := p.Submit(context.Background(), func() { <-gate }); err != nil {
			t.Fatal(err)
		}
	}
	err := p.TrySubmit(func() {})
	var le *LimitError
	if !errors.As(err, &le) || !errors.Is(err, ErrLimit) || le.Limit != "tiny" || le.Max != 1 {
		t.Fatalf("TrySubmit on a full queue: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Submit(ctx, func() {}); !errors.Is(err, context.Canceled) || !errors.Is(err, ErrLimit) {
		t.Fatalf("Submit with a cancelled context on a full queue: %v", err)
	}
	if st := p.Stats(); st.Rejected != 2 || st.Submitted != 2 {
		t.Errorf("stats: %+v", st)
	}
}

func TestPoolGoroutinesCarryThePoolsLabels(t *testing.T) {
	p, _ := newTestPool(t, PoolOptions{Name: "labelled-pool", Min: 1, Max: 1})
	gate := make(chan struct{})
	var started, exited sync.WaitGroup
	started.Add(2)
	exited.Add(1)
	if err := p.Submit(context.Background(), func() {
		defer exited.Done()
		parkedParent(context.Background(), gate, &started, &exited)
	}); err != nil {
		t.Fatal(err)
	}
	started.Wait()
	n := 0
	for _, r := range goroutineRecords(t) {
		if strings.Contains(r, "guard.parkedParent+") || strings.Contains(r, "guard.parkedChild+") {
			n++
			if !strings.Contains(r, `"guard.site":"labelled-pool"`) || !strings.Contains(r, `"guard.limit":"labelled-pool"`) {
				t.Errorf("record without the pool's labels:\n%s", r)
			}
		}
	}
	if n != 2 {
		t.Errorf("%d labelled records, want the task and its child", n)
	}
	close(gate)
	exited.Wait()
}

func TestPoolStatsArePublishedThroughExpvar(t *testing.T) {
	p, _ := newTestPool(t, PoolOptions{Name: "published", Min: 3, Max: 5})
	name := expvarName("guard_test_pool")
	if err := p.Publish(name); err != nil {
		t.Fatal(err)
	}
	var st PoolStats
	if err := json.Unmarshal([]byte(expvar.Get(name).String()), &st); err != nil {
		t.Fatal(err)
	}
	if st.Name != "published" || st.Workers != 3 || st.Min != 3 || st.Max != 5 {
		t.Errorf("published: %+v", st)
	}
}

func TestLatencySamplesStayBoundedAndKeepTheDistribution(t *testing.T) {
	p := &Pool{stride: 1}
	for i := 1; i <= 100000; i++ {
		p.record(time.Duration(i))
	}
	if n := len(p.samples); n > maxLatencySamples || n < maxLatencySamples/2 {
		t.Fatalf("%d samples kept", n)
	}
	if got := p.p95(); got < 94000 || got > 96000 {
		t.Errorf("p95 of 1..100000 = %d", got)
	}
}

func stacks() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

// Tasks slower than the interval finish in no interval: their age so far counts, or the pool
// would never hear of them.
func TestPoolGrowsOnTasksThatOutlastTheInterval(t *testing.T) {
	p, clk := newTestPool(t, PoolOptions{Min: 2, Max: 4})
	gate := make(chan struct{})
	for i := 0; i < 2; i++ {
		if err := p.Submit(context.Background(), func() { <-gate }); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "two busy workers", func() bool { return p.Stats().Busy == 2 })
	for i := 1; i <= 30; i++ {
		clk.Advance(time.Second)
		waitTicks(t, p, uint64(i))
	}
	st := p.Stats()
	if st.Completed != 0 || st.Grows != 1 || st.Target != 3 || st.LastP95 != 30*time.Second {
		t.Fatalf("tasks running for 30 s, none finished: %+v", st)
	}
	close(gate)
}
