package guard

import (
	"context"
	"fmt"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Process is the name of the process-wide limit: Limit(Process, n) bounds every goroutine the
// guard starts, whatever its site.
const Process = "process"

// maxCachedSites bounds the per-site cache (and the sites Stats lists): a site name built from
// unbounded input (a raw URL path) must not grow memory without bound. Sites beyond it still work
// and are limited and labelled; they are not listed in Stats.
const maxCachedSites = 4096

// Guard starts goroutines under named limits and labels them. The zero value is not usable; call
// New. Default is the guard of the package-level functions.
//
// Sites are names in a hierarchy separated by '/': a limit named "orders" applies to the sites
// "orders", "orders/Create" and "orders/Create/audit"; a limit named "orders/Create" only to the
// last two; the limit named Process to every site. Use one level per scope you want to bound:
// Process for the whole process, a service name ("http", "orders") for a service, and
// "service/method" for one method. A call takes a slot of every limit that applies, innermost
// first, so a call waiting for its method's slot holds no service or process slot meanwhile.
//
// A Guard starts no goroutine of its own: the only goroutines it starts run the functions given
// to Go and TryGo, and they end when those functions return.
type Guard struct {
	mu     sync.Mutex
	limits map[string]*Limiter
	gen    atomic.Uint64 // bumped whenever a limit is added or removed

	plans  sync.Map // site -> *plan
	nplans atomic.Int64
}

// New returns a guard with no limits.
func New() *Guard {
	return &Guard{limits: map[string]*Limiter{}}
}

// Default is the guard behind the package-level Go, TryGo, Limit and Handler.
var Default = New()

// plan is what a site needs, computed once per site and limit change.
type plan struct {
	gen      uint64
	site     string
	limit    string     // LabelLimit value
	limiters []*Limiter // innermost first
	labels   pprof.LabelSet
	lctx     context.Context // context.Background() with labels
	ctr      *siteCounters   // shared by every plan of the site, across limit changes
}

type siteCounters struct {
	running atomic.Int64
	started atomic.Uint64
}

// Limit sets the limit called name to n concurrent goroutines, creating it (with policy Wait)
// if needed, and returns it; n < 1 removes the limit and returns nil. See Guard for which sites
// a name applies to; Process applies to all.
func (g *Guard) Limit(name string, n int) *Limiter {
	g.mu.Lock()
	defer g.mu.Unlock()
	l := g.limits[name]
	switch {
	case n < 1:
		if l != nil {
			delete(g.limits, name)
			g.gen.Add(1)
		}
		return nil
	case l != nil:
		l.SetMax(n)
		return l
	}
	l = NewLimiter(name, n)
	g.limits[name] = l
	g.gen.Add(1)
	return l
}

// Limiter returns the limit called name, or nil.
func (g *Guard) Limiter(name string) *Limiter {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.limits[name]
}

// applies reports whether the limit called name governs site.
func applies(name, site string) bool {
	if name == Process || name == site {
		return true
	}
	return len(site) > len(name) && site[len(name)] == '/' && strings.HasPrefix(site, name)
}

func (g *Guard) plan(site string) *plan {
	gen := g.gen.Load()
	if v, ok := g.plans.Load(site); ok {
		if p := v.(*plan); p.gen == gen {
			return p
		}
	}
	g.mu.Lock()
	gen = g.gen.Load()
	p := &plan{gen: gen, site: site, limit: NoLimit, ctr: &siteCounters{}}
	for name, l := range g.limits {
		if applies(name, site) {
			p.limiters = append(p.limiters, l)
		}
	}
	g.mu.Unlock()
	// Innermost first: longer names are deeper in the hierarchy; Process is outermost.
	sort.Slice(p.limiters, func(i, j int) bool {
		a, b := p.limiters[i].name, p.limiters[j].name
		if (a == Process) != (b == Process) {
			return b == Process
		}
		return len(a) > len(b)
	})
	if len(p.limiters) > 0 {
		p.limit = p.limiters[0].name
	}
	p.labels = pprof.Labels(LabelSite, site, LabelLimit, p.limit)
	p.lctx = pprof.WithLabels(context.Background(), p.labels)
	if old, loaded := g.plans.Load(site); loaded {
		// Goroutines started under the previous plan keep counting in the same counters.
		p.ctr = old.(*plan).ctr
		g.plans.Store(site, p)
	} else if g.nplans.Load() < maxCachedSites {
		if _, loaded := g.plans.LoadOrStore(site, p); !loaded {
			g.nplans.Add(1)
		} else {
			return g.plan(site)
		}
	}
	return p
}

// acquire takes a slot of every limit of the plan, innermost first; on failure it gives back
// what it took. force Reject never waits; a non-zero deadline bounds waits besides ctx.
func (p *plan) acquire(ctx context.Context, force Policy, deadline time.Time) error {
	for i, l := range p.limiters {
		pol := l.Policy()
		if force == Reject {
			pol = Reject
		}
		if err := l.acquire(ctx, p.site, pol, deadline); err != nil {
			for j := i - 1; j >= 0; j-- {
				p.limiters[j].Release()
			}
			return err
		}
	}
	return nil
}

func (p *plan) release() {
	for i := len(p.limiters) - 1; i >= 0; i-- {
		p.limiters[i].Release()
	}
}

// Go runs fn(ctx') in a new goroutine once every limit that applies to site has a free slot,
// and returns nil; or returns a *LimitError (errors.Is(err, ErrLimit)) without starting
// anything when a limit with policy Reject is full, or when ctx is done before the slots free
// (ctx's deadline bounds the wait; it is not checked when the slots are free at once).
//
// ctx' is ctx with the pprof labels LabelSite = site and LabelLimit (merged with the labels ctx
// already carries), and the goroutine runs with those labels, so goroutines it starts inherit
// them. The slots are released when fn returns, also when it panics (the panic still crashes the
// program, as with a plain go statement).
func (g *Guard) Go(ctx context.Context, site string, fn func(ctx context.Context)) error {
	return g.start(ctx, site, Wait, fn)
}

// TryGo is Go that never waits: when a limit that applies to site is full it returns a
// *LimitError at once, whatever the limit's policy.
func (g *Guard) TryGo(ctx context.Context, site string, fn func(ctx context.Context)) error {
	return g.start(ctx, site, Reject, fn)
}

func (g *Guard) start(ctx context.Context, site string, force Policy, fn func(context.Context)) error {
	if fn == nil {
		panic("guard: Go with a nil function")
	}
	p := g.plan(site)
	if err := p.acquire(ctx, force, time.Time{}); err != nil {
		return err
	}
	p.ctr.running.Add(1)
	p.ctr.started.Add(1)
	go run(p, p.withLabels(ctx), fn)
	return nil
}

// withLabels returns ctx with the plan's labels merged in. A ctx without pprof labels (the
// common case) is wrapped in one allocation instead of pprof.WithLabels' three.
func (p *plan) withLabels(ctx context.Context) context.Context {
	has := false
	pprof.ForLabels(ctx, func(string, string) bool {
		has = true
		return false
	})
	if has {
		return pprof.WithLabels(ctx, p.labels)
	}
	return &labelCtx{Context: ctx, labels: p.lctx}
}

// labelCtx is a context that carries no pprof labels of its own, plus a plan's labels: pprof
// reads labels with Value, which asks labels (Background with the labels) first.
type labelCtx struct {
	context.Context
	labels context.Context
}

func (c *labelCtx) Value(key any) any {
	if v := c.labels.Value(key); v != nil {
		return v
	}
	return c.Context.Value(key)
}

func (c *labelCtx) String() string {
	return fmt.Sprintf("%v.WithLabels(%v)", c.Context, c.labels)
}

// run is every guarded goroutine's first frame.
func run(p *plan, ctx context.Context, fn func(context.Context)) {
	defer func() {
		p.release()
		p.ctr.running.Add(-1) // after the release: Running 0 means every slot is back
	}()
	pprof.SetGoroutineLabels(ctx)
	fn(ctx)
}

// SiteStats is what the guard knows of one site.
type SiteStats struct {
	Site string `json:"site"`
	// Limit is the LabelLimit value of the site's goroutines.
	Limit string `json:"limit"`
	// Running counts goroutines of the site that have not returned yet.
	Running int64 `json:"running"`
	// Started counts goroutines started for the site.
	Started uint64 `json:"started"`
}

// Stats is a guard's state: its limits and its sites.
type Stats struct {
	// Running counts guarded goroutines (and requests inside the Handler) not finished yet, over
	// the listed sites.
	Running int64 `json:"running"`
	// Limits are sorted by name.
	Limits []LimitStats `json:"limits"`
	// Sites are sorted by name; at most 4096 sites are tracked.
	Sites []SiteStats `json:"sites"`
}

// Stats returns the current gauges and counters.
func (g *Guard) Stats() Stats {
	var s Stats
	g.mu.Lock()
	for _, l := range g.limits {
		s.Limits = append(s.Limits, l.Stats())
	}
	g.mu.Unlock()
	sort.Slice(s.Limits, func(i, j int) bool { return s.Limits[i].Name < s.Limits[j].Name })
	g.plans.Range(func(_, v any) bool {
		p := v.(*plan)
		r := p.ctr.running.Load()
		s.Running += r
		s.Sites = append(s.Sites, SiteStats{Site: p.site, Limit: p.limit, Running: r, Started: p.ctr.started.Load()})
		return true
	})
	sort.Slice(s.Sites, func(i, j int) bool { return s.Sites[i].Site < s.Sites[j].Site })
	return s
}

// String is a one-line summary for logs.
func (s Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "running=%d", s.Running)
	for _, l := range s.Limits {
		fmt.Fprintf(&b, " %s=%d/%d", l.Name, l.InUse, l.Max)
	}
	return b.String()
}

// Go runs fn under Default's limits; see Guard.Go.
func Go(ctx context.Context, site string, fn func(ctx context.Context)) error {
	return Default.Go(ctx, site, fn)
}

// TryGo runs fn under Default's limits without waiting; see Guard.TryGo.
func TryGo(ctx context.Context, site string, fn func(ctx context.Context)) error {
	return Default.TryGo(ctx, site, fn)
}

// Limit sets a limit of Default; see Guard.Limit.
func Limit(name string, n int) *Limiter {
	return Default.Limit(name, n)
}
