package guard

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by Submit and TrySubmit once Close has begun.
var ErrClosed = errors.New("guard: pool closed")

// PoolOptions configures NewPool. A zero field takes the default in its comment.
//
// Every Interval the pool measures the interval just ended: the p95 latency of the tasks that
// finished in it (from Submit to the end of the task, queueing included) and of the tasks still
// running (their age so far, a lower bound), the arrival and completion counts, and the idle
// share of its workers (idle worker-time over worker-time).
// From these it computes a pressure,
//
//	pressure = (1-QPSWeight) * p95/LatencyTarget + QPSWeight * arrivals/completions
//
// and grows by GrowStep (rounded up, at least one worker, at most Max) once the pressure has
// stayed above 1 for GrowAfter; it shrinks by ShrinkStep (rounded up, at least one worker, at
// least Min) once the idle share has stayed above IdleShare for ShrinkAfter, with no pressure.
// With the default QPSWeight of 0 the rule is the plain one: grow after p95 stayed above the
// target for 30 s, shrink after the workers stayed more than 85 % idle for 60 s.
type PoolOptions struct {
	// Name is the value of LabelSite and LabelLimit on the pool's goroutines and the Limit of
	// its errors; default "pool".
	Name string
	// Min is the fewest workers; default 1.
	Min int
	// Max is the most workers; default 64 (raised to Min if lower).
	Max int
	// Queue is how many submitted tasks may wait for a worker; default Max. Beyond it Submit
	// waits (bounded by its context) and TrySubmit fails. A negative value means none: a task is
	// handed straight to an idle worker.
	Queue int
	// LatencyTarget is the p95 latency the pool aims for; default 100 ms.
	LatencyTarget time.Duration
	// QPSWeight is the weight of the throughput signal (arrivals/completions) against the
	// latency signal (p95/LatencyTarget) in the pressure, in [0, 1]; default 0 (latency only).
	QPSWeight float64
	// GrowStep is the share of workers added at a time; default 0.25 (25 %).
	GrowStep float64
	// GrowAfter is how long the pressure must stay above 1 before the pool grows; default 30 s.
	GrowAfter time.Duration
	// ShrinkStep is the share of workers removed at a time, in (0, 1); default 0.20 (20 %).
	ShrinkStep float64
	// IdleShare is the idle share above which the pool counts as idle, in (0, 1); default 0.85.
	IdleShare float64
	// ShrinkAfter is how long the pool must stay idle before it shrinks; default 60 s.
	ShrinkAfter time.Duration
	// Interval is how often the pool measures and decides; default 1 s.
	Interval time.Duration
	// Clock is the time source; default SystemClock. Tests pass a fake one.
	Clock Clock
}

// The PoolOptions defaults.
const (
	DefaultPoolMin           = 1
	DefaultPoolMax           = 64
	DefaultLatencyTarget     = 100 * time.Millisecond
	DefaultGrowStep          = 0.25
	DefaultGrowAfter         = 30 * time.Second
	DefaultShrinkStep        = 0.20
	DefaultIdleShare         = 0.85
	DefaultShrinkAfter       = 60 * time.Second
	DefaultPoolInterval      = time.Second
	defaultPoolName          = "pool"
	maxLatencySamples        = 4096
	maxThroughputPressureCap = 10
)

func (o PoolOptions) withDefaults() (PoolOptions, error) {
	if o.Name == "" {
		o.Name = defaultPoolName
	}
	if o.Min == 0 {
		o.Min = DefaultPoolMin
	}
	if o.Max == 0 {
		o.Max = DefaultPoolMax
	}
	if o.Max < o.Min {
		o.Max = o.Min
	}
	switch {
	case o.Queue == 0:
		o.Queue = o.Max
	case o.Queue < 0:
		o.Queue = 0
	}
	if o.LatencyTarget == 0 {
		o.LatencyTarget = DefaultLatencyTarget
	}
	if o.GrowStep == 0 {
		o.GrowStep = DefaultGrowStep
	}
	if o.GrowAfter == 0 {
		o.GrowAfter = DefaultGrowAfter
	}
	if o.ShrinkStep == 0 {
		o.ShrinkStep = DefaultShrinkStep
	}
	if o.IdleShare == 0 {
		o.IdleShare = DefaultIdleShare
	}
	if o.ShrinkAfter == 0 {
		o.ShrinkAfter = DefaultShrinkAfter
	}
	if o.Interval == 0 {
		o.Interval = DefaultPoolInterval
	}
	if o.Clock == nil {
		o.Clock = SystemClock
	}
	switch {
	case o.Min < 1:
		return o, fmt.Errorf("guard: pool %q: Min %d (want at least 1)", o.Name, o.Min)
	case o.LatencyTarget < 0, o.GrowAfter < 0, o.ShrinkAfter < 0, o.Interval < 0:
		return o, fmt.Errorf("guard: pool %q: negative duration", o.Name)
	case !(o.QPSWeight >= 0 && o.QPSWeight <= 1):
		return o, fmt.Errorf("guard: pool %q: QPSWeight %v (want 0 to 1)", o.Name, o.QPSWeight)
	case !(o.GrowStep > 0) || math.IsInf(o.GrowStep, 0):
		return o, fmt.Errorf("guard: pool %q: GrowStep %v (want above 0)", o.Name, o.GrowStep)
	case !(o.ShrinkStep > 0 && o.ShrinkStep < 1):
		return o, fmt.Errorf("guard: pool %q: ShrinkStep %v (want between 0 and 1)", o.Name, o.ShrinkStep)
	case !(o.IdleShare > 0 && o.IdleShare < 1):
		return o, fmt.Errorf("guard: pool %q: IdleShare %v (want between 0 and 1)", o.Name, o.IdleShare)
	}
	return o, nil
}

// Pool is a worker pool that sizes itself between Min and Max from latency and load (see
// PoolOptions). Its goroutines, Min to Max workers and one controller, carry the pprof labels
// LabelSite = LabelLimit = Name, and so do the goroutines its tasks start. They live until
// Close, which stops every one of them and waits.
type Pool struct {
	o     PoolOptions
	lctx  context.Context // carries the labels
	tasks chan task
	quit  chan struct{} // retirement tokens: a worker that takes one exits
	// closing is closed when Close begins: the controller stops and blocked Submits give up.
	closing chan struct{}
	wg      sync.WaitGroup // workers and the controller
	senders sync.WaitGroup // Submits between their closed check and their send

	submitted atomic.Uint64
	rejected  atomic.Uint64
	arrivals  atomic.Uint64 // this interval

	mu         sync.Mutex
	closed     bool
	target     int // workers wanted
	live       int // workers running their loop
	busy       int // workers running a task
	peak       int
	lastChange time.Time
	busyInt    float64 // busy workers × nanoseconds, this interval
	liveInt    float64 // live workers × nanoseconds, this interval
	start      time.Time
	samples    []int64              // latencies (ns) this interval, every stride-th
	inflight   map[uint64]time.Time // submission times of the tasks running now, by run number
	runs       uint64
	stride     int
	skip       int
	done       uint64 // completions this interval
	aboveSince time.Time
	idleSince  time.Time
	completed  uint64
	grows      uint64
	shrinks    uint64
	ticks      uint64
	lastP95    time.Duration
	lastIdle   float64
	lastPress  float64
}

type task struct {
	fn    func()
	start time.Time
}

// NewPool starts a pool of opts.Min workers and its controller.
func NewPool(opts PoolOptions) (*Pool, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Pool{
		o:        o,
		lctx:     pprof.WithLabels(context.Background(), pprof.Labels(LabelSite, o.Name, LabelLimit, o.Name)),
		tasks:    make(chan task, o.Queue),
		quit:     make(chan struct{}, o.Max),
		closing:  make(chan struct{}),
		stride:   1,
		samples:  make([]int64, 0, 64),
		inflight: map[uint64]time.Time{},
	}
	now := o.Clock.Now()
	p.lastChange, p.start = now, now
	ticker := o.Clock.NewTicker(o.Interval)
	p.mu.Lock()
	p.resizeLocked(o.Min)
	p.mu.Unlock()
	p.wg.Add(1)
	go p.control(ticker)
	return p, nil
}

// Submit queues fn to run on a worker. When the queue is full it waits for room until ctx is
// done (then it returns a *LimitError wrapping ctx's error) or Close begins (ErrClosed). After
// Close it returns ErrClosed at once. fn runs with the pool's labels; a panic in fn crashes the
// program, as in any goroutine.
func (p *Pool) Submit(ctx context.Context, fn func()) error {
	return p.submit(ctx, fn, true)
}

// TrySubmit queues fn if there is room now; otherwise it returns a *LimitError at once
// (ErrClosed after Close).
func (p *Pool) TrySubmit(fn func()) error {
	return p.submit(context.Background(), fn, false)
}

func (p *Pool) submit(ctx context.Context, fn func(), wait bool) error {
	if fn == nil {
		panic("guard: Submit of a nil function")
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.senders.Add(1)
	p.mu.Unlock()
	defer p.senders.Done()
	t := task{fn: fn, start: p.o.Clock.Now()}
	select {
	case p.tasks <- t:
		p.accepted()
		return nil
	default:
	}
	full := &LimitError{Limit: p.o.Name, Site: p.o.Name, Max: cap(p.tasks)}
	if !wait {
		p.rejected.Add(1)
		return full
	}
	select {
	case p.tasks <- t:
		p.accepted()
		return nil
	case <-p.closing:
		return ErrClosed
	case <-ctx.Done():
		p.rejected.Add(1)
		full.Err = ctx.Err()
		return full
	}
}

func (p *Pool) accepted() {
	p.submitted.Add(1)
	p.arrivals.Add(1)
}

// Close stops taking tasks, lets the workers finish the tasks already queued, stops every
// worker and the controller, and waits for them. Submits blocked on a full queue return
// ErrClosed. Calling Close again waits the same way and returns nil.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return nil
	}
	p.closed = true
	close(p.closing)
	p.mu.Unlock()
	p.senders.Wait() // no send can start or be under way after this
	close(p.tasks)
	p.wg.Wait()
	return nil
}

func (p *Pool) control(t Ticker) {
	defer p.wg.Done()
	defer t.Stop()
	pprof.SetGoroutineLabels(p.lctx)
	for {
		select {
		case <-p.closing:
			return
		case <-t.C():
			p.tick(p.o.Clock.Now())
		}
	}
}

func (p *Pool) worker() {
	defer p.wg.Done()
	pprof.SetGoroutineLabels(p.lctx)
	for {
		select {
		case t, ok := <-p.tasks:
			if !ok {
				p.exit()
				return
			}
			p.run(t)
		case <-p.quit:
			p.exit()
			return
		}
	}
}

func (p *Pool) exit() {
	now := p.o.Clock.Now()
	p.mu.Lock()
	p.integrate(now)
	p.live--
	p.mu.Unlock()
}

func (p *Pool) run(t task) {
	now := p.o.Clock.Now()
	p.mu.Lock()
	p.integrate(now)
	p.busy++
	p.runs++
	id := p.runs
	p.inflight[id] = t.start
	p.mu.Unlock()
	t.fn()
	end := p.o.Clock.Now()
	p.mu.Lock()
	p.integrate(end)
	p.busy--
	delete(p.inflight, id)
	p.done++
	p.completed++
	p.record(end.Sub(t.start))
	p.mu.Unlock()
}

// integrate accumulates worker-time up to now. p.mu is held.
func (p *Pool) integrate(now time.Time) {
	if dt := now.Sub(p.lastChange); dt > 0 {
		p.busyInt += float64(p.busy) * float64(dt)
		p.liveInt += float64(p.live) * float64(dt)
		p.lastChange = now
	}
}

// record keeps a latency sample; past maxLatencySamples in one interval it keeps every other
// sample and doubles the stride (a systematic subsample, deterministic). p.mu is held.
func (p *Pool) record(d time.Duration) {
	p.skip++
	if p.skip < p.stride {
		return
	}
	p.skip = 0
	if len(p.samples) == maxLatencySamples {
		j := 0
		for i := 1; i < len(p.samples); i += 2 {
			p.samples[j] = p.samples[i]
			j++
		}
		p.samples = p.samples[:j]
		p.stride *= 2
	}
	p.samples = append(p.samples, int64(d))
}

// p95 is the nearest-rank 95th percentile of the samples (0 without samples). p.mu is held.
func (p *Pool) p95() time.Duration {
	n := len(p.samples)
	if n == 0 {
		return 0
	}
	slices.Sort(p.samples)
	return time.Duration(p.samples[int(math.Ceil(0.95*float64(n)))-1])
}

// tick measures the interval that ended at now and resizes the pool.
func (p *Pool) tick(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.integrate(now)
	began := p.start
	p.start = now
	// Tasks still running count with their age so far, a lower bound of their latency: tasks
	// slower than the interval must not leave it without samples (and the pool deaf to them).
	for _, submitted := range p.inflight {
		p.samples = append(p.samples, int64(now.Sub(submitted)))
	}
	n := len(p.samples)
	p95 := p.p95()
	p.samples, p.stride, p.skip = p.samples[:0], 1, 0
	arrivals, done := p.arrivals.Swap(0), p.done
	p.done = 0
	idle := 1.0
	if p.liveInt > 0 {
		idle = 1 - p.busyInt/p.liveInt
	}
	p.busyInt, p.liveInt = 0, 0

	latency := 0.0
	if n > 0 {
		latency = float64(p95) / float64(p.o.LatencyTarget)
	}
	throughput := 0.0
	if arrivals > 0 {
		throughput = math.Min(float64(arrivals)/math.Max(float64(done), 1), maxThroughputPressureCap)
	}
	pressure := (1-p.o.QPSWeight)*latency + p.o.QPSWeight*throughput
	p.ticks++
	p.lastP95, p.lastIdle, p.lastPress = p95, idle, pressure

	if pressure > 1 {
		p.idleSince = time.Time{}
		if p.aboveSince.IsZero() {
			p.aboveSince = began
		}
		if now.Sub(p.aboveSince) >= p.o.GrowAfter && p.target < p.o.Max {
			step := int(math.Ceil(float64(p.target) * p.o.GrowStep))
			p.resizeLocked(p.target + max(step, 1))
			p.grows++
			p.aboveSince = now
		}
		return
	}
	p.aboveSince = time.Time{}
	if idle <= p.o.IdleShare {
		p.idleSince = time.Time{}
		return
	}
	if p.idleSince.IsZero() {
		p.idleSince = began
	}
	if now.Sub(p.idleSince) >= p.o.ShrinkAfter && p.target > p.o.Min {
		step := int(math.Ceil(float64(p.target) * p.o.ShrinkStep))
		p.resizeLocked(p.target - max(step, 1))
		p.shrinks++
		p.idleSince = now
	}
}

// resizeLocked moves the target to n (clamped to [Min, Max]): it starts workers, or cancels
// pending retirements, to grow; it posts retirement tokens to shrink (idle workers take them at
// once, busy ones after their task). p.mu is held.
func (p *Pool) resizeLocked(n int) {
	n = min(max(n, p.o.Min), p.o.Max)
	for p.target < n {
		select {
		case <-p.quit: // a worker that was to retire stays
		default:
			p.integrate(p.o.Clock.Now())
			p.live++
			p.peak = max(p.peak, p.live)
			p.wg.Add(1)
			go p.worker()
		}
		p.target++
	}
	for p.target > n {
		// Never blocks: pending tokens (live - target) stay below Max, the channel's capacity.
		p.quit <- struct{}{}
		p.target--
	}
}

// PoolStats is a pool's state.
type PoolStats struct {
	Name string `json:"name"`
	// Workers counts worker goroutines alive now (it follows Target as workers retire).
	Workers int `json:"workers"`
	// Target is the size the pool is heading for.
	Target int `json:"target"`
	// PeakWorkers is the most workers alive at once.
	PeakWorkers int `json:"peak_workers"`
	// Busy counts workers running a task.
	Busy int `json:"busy"`
	// Queued counts tasks waiting for a worker.
	Queued int `json:"queued"`
	Min    int `json:"min"`
	Max    int `json:"max"`
	// Submitted, Completed and Rejected count tasks.
	Submitted uint64 `json:"submitted"`
	Completed uint64 `json:"completed"`
	Rejected  uint64 `json:"rejected"`
	// Grows and Shrinks count resizes; Ticks counts measured intervals.
	Grows   uint64 `json:"grows"`
	Shrinks uint64 `json:"shrinks"`
	Ticks   uint64 `json:"ticks"`
	// LastP95, LastIdleShare and LastPressure describe the last measured interval.
	LastP95       time.Duration `json:"last_p95_ns"`
	LastIdleShare float64       `json:"last_idle_share"`
	LastPressure  float64       `json:"last_pressure"`
	Closed        bool          `json:"closed"`
}

// Stats returns the pool's gauges and counters.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PoolStats{
		Name: p.o.Name, Workers: p.live, Target: p.target, PeakWorkers: p.peak, Busy: p.busy,
		Queued: len(p.tasks), Min: p.o.Min, Max: p.o.Max,
		Submitted: p.submitted.Load(), Completed: p.completed, Rejected: p.rejected.Load(),
		Grows: p.grows, Shrinks: p.shrinks, Ticks: p.ticks,
		LastP95: p.lastP95, LastIdleShare: p.lastIdle, LastPressure: p.lastPress, Closed: p.closed,
	}
}

// Options returns the options in effect (defaults filled in).
func (p *Pool) Options() PoolOptions { return p.o }

// Publish makes the pool's Stats readable through expvar under name; it fails if name is taken.
func (p *Pool) Publish(name string) error {
	return publish(name, func() any { return p.Stats() })
}
