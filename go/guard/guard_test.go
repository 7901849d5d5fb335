package guard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"expvar"
	"fmt"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// gauge tracks how many are inside and the most seen at once.
type gauge struct{ now, peak atomic.Int64 }

func (g *gauge) enter() {
	n := g.now.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

func (g *gauge) leave() { g.now.Add(-1) }

func TestLimitsHoldAtEveryLevelUnderConcurrentLoad(t *testing.T) {
	g := New()
	g.Limit(Process, 6)
	g.Limit("svc", 4)
	g.Limit("svc/m", 2)
	var process, svc, method gauge
	sites := []string{"svc/m", "svc/other", "batch"}
	const callers, calls = 24, 40
	var done sync.WaitGroup
	done.Add(callers * calls)
	var callersWG sync.WaitGroup
	for c := 0; c < callers; c++ {
		site := sites[c%len(sites)]
		callersWG.Add(1)
		go func() {
			defer callersWG.Done()
			for i := 0; i < calls; i++ {
				err := g.Go(context.Background(), site, func(context.Context) {
					defer done.Done()
					process.enter()
					if strings.HasPrefix(site, "svc") {
						svc.enter()
					}
					if site == "svc/m" {
						method.enter()
					}
					runtime.Gosched()
					if site == "svc/m" {
						method.leave()
					}
					if strings.HasPrefix(site, "svc") {
						svc.leave()
					}
					process.leave()
				})
				if err != nil {
					t.Errorf("Go(%s): %v", site, err)
					done.Done()
				}
			}
		}()
	}
	callersWG.Wait()
	done.Wait()
	if p := process.peak.Load(); p > 6 {
		t.Errorf("process limit 6 exceeded: %d at once", p)
	}
	if p := svc.peak.Load(); p > 4 {
		t.Errorf("service limit 4 exceeded: %d at once", p)
	}
	if p := method.peak.Load(); p > 2 {
		t.Errorf("method limit 2 exceeded: %d at once", p)
	}
	// The goroutines have run fn; they release their slots right after. Wait for that by looking.
	waitFor(t, "every slot released", func() bool { return g.Stats().Running == 0 })
	st := g.Stats()
	for _, l := range st.Limits {
		if l.InUse != 0 || l.Waiting != 0 {
			t.Errorf("limit %s: in use %d, waiting %d after the load", l.Name, l.InUse, l.Waiting)
		}
		if l.Peak > l.Max {
			t.Errorf("limit %s: peak %d above max %d", l.Name, l.Peak, l.Max)
		}
	}
	if got := limitStats(t, g, Process).Admitted; got != callers*calls {
		t.Errorf("process admitted %d, want %d", got, callers*calls)
	}
	var started uint64
	for _, s := range st.Sites {
		started += s.Started
	}
	if started != callers*calls {
		t.Errorf("sites started %d, want %d", started, callers*calls)
	}
}

// Limits changed, removed and re-added while calls run: every call still runs, every slot comes
// back, and no waiter is stranded (run it with -race).
func TestLimitChangesUnderLoad(t *testing.T) {
	g := New()
	l := g.Limit("dyn", 2)
	const callers, calls = 8, 50
	var ran atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	changed := make(chan struct{})
	go func() {
		defer close(changed)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			switch i % 4 {
			case 3:
				g.Limit("dyn/x", 0)
			case 2:
				g.Limit("dyn/x", 1)
			default:
				g.Limit("dyn", 1+i%3)
			}
			runtime.Gosched()
		}
	}()
	for c := 0; c < callers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < calls; i++ {
				var done sync.WaitGroup
				done.Add(1)
				if err := g.Go(context.Background(), "dyn/x", func(context.Context) {
					defer done.Done()
					ran.Add(1)
					runtime.Gosched()
				}); err != nil {
					t.Errorf("Go: %v", err)
					done.Done()
				}
				done.Wait()
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-changed
	if n := ran.Load(); n != callers*calls {
		t.Fatalf("%d of %d calls ran", n, callers*calls)
	}
	g.Limit("dyn", 1)
	waitFor(t, "every slot back", func() bool { return g.Stats().Running == 0 })
	if l.InUse() != 0 || l.Stats().Waiting != 0 {
		t.Errorf("after the load: %+v", l.Stats())
	}
	if x := g.Limiter("dyn/x"); x != nil && (x.InUse() != 0 || x.Stats().Waiting != 0) {
		t.Errorf("after the load: %+v", x.Stats())
	}
}

func limitStats(t *testing.T, g *Guard, name string) LimitStats {
	t.Helper()
	for _, l := range g.Stats().Limits {
		if l.Name == name {
			return l
		}
	}
	t.Fatalf("no limit %q in %+v", name, g.Stats())
	return LimitStats{}
}

// occupy starts n goroutines at site that hold their slots until the returned func is called
// (which also waits for them to finish).
func occupy(t *testing.T, g *Guard, site string, n int) (release func()) {
	t.Helper()
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		if err := g.Go(context.Background(), site, func(context.Context) { defer wg.Done(); <-gate }); err != nil {
			t.Fatalf("occupy %s: %v", site, err)
		}
	}
	return func() {
		close(gate)
		wg.Wait()
	}
}

func TestTryGoRejectsAtAFullLimitWithATypedError(t *testing.T) {
	g := New()
	g.Limit("a", 1)
	release := occupy(t, g, "a/x", 1)
	ran := false
	err := g.TryGo(context.Background(), "a/x", func(context.Context) { ran = true })
	var le *LimitError
	if !errors.Is(err, ErrLimit) || !errors.As(err, &le) {
		t.Fatalf("TryGo at a full limit: %v, want a *LimitError", err)
	}
	if le.Limit != "a" || le.Site != "a/x" || le.Max != 1 || le.Err != nil {
		t.Errorf("LimitError = %+v", le)
	}
	if ran {
		t.Error("a rejected fn ran")
	}
	if st := limitStats(t, g, "a"); st.Rejected != 1 || st.InUse != 1 {
		t.Errorf("stats after a rejection: %+v", st)
	}
	release()
	waitFor(t, "the slot to free", func() bool { return g.Limiter("a").InUse() == 0 })
	done := make(chan struct{})
	if err := g.TryGo(context.Background(), "a/x", func(context.Context) { close(done) }); err != nil {
		t.Fatalf("TryGo with a free slot: %v", err)
	}
	<-done
}

func TestRejectPolicyMakesGoFailAtOnce(t *testing.T) {
	g := New()
	g.Limit("a", 1).SetPolicy(Reject)
	release := occupy(t, g, "a", 1)
	defer release()
	err := g.Go(context.Background(), "a", func(context.Context) { t.Error("ran") })
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("Go under policy Reject: %v", err)
	}
}

func TestGoWaitsForASlotInOrder(t *testing.T) {
	g := New()
	l := g.Limit("a", 1)
	release := occupy(t, g, "a", 1)
	var order []int
	var mu sync.Mutex
	var ran sync.WaitGroup
	errs := make(chan error, 2)
	for i := 1; i <= 2; i++ {
		i := i
		ran.Add(1)
		go func() {
			errs <- g.Go(context.Background(), "a", func(context.Context) {
				defer ran.Done()
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
			})
		}()
		waitFor(t, fmt.Sprintf("waiter %d to queue", i), func() bool { return l.Stats().Waiting == int64(i) })
	}
	release()
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("waiting Go: %v", err)
		}
	}
	ran.Wait()
	if fmt.Sprint(order) != "[1 2]" {
		t.Errorf("waiters ran in order %v, want FIFO [1 2]", order)
	}
	if st := l.Stats(); st.Waited != 2 || st.Admitted != 3 {
		t.Errorf("stats: %+v", st)
	}
}

func TestGoGivesUpWhenItsContextEnds(t *testing.T) {
	g := New()
	l := g.Limit("a", 1)
	release := occupy(t, g, "a", 1)
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() { errc <- g.Go(ctx, "a", func(context.Context) { t.Error("ran") }) }()
	waitFor(t, "the waiter", func() bool { return l.Stats().Waiting == 1 })
	cancel()
	err := <-errc
	if !errors.Is(err, ErrLimit) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Go after cancel: %v", err)
	}
	// A deadline bounds the wait the same way.
	dctx, dcancel := context.WithTimeout(context.Background(), 0)
	defer dcancel()
	if err := g.Go(dctx, "a", func(context.Context) { t.Error("ran") }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Go past its deadline: %v", err)
	}
	if st := l.Stats(); st.Abandoned != 2 || st.Waiting != 0 || st.InUse != 1 {
		t.Errorf("stats: %+v", st)
	}
}

// A call waiting for its method's slot holds no slot of the outer limits meanwhile.
func TestAWaiterHoldsNoOuterSlot(t *testing.T) {
	g := New()
	proc := g.Limit(Process, 2)
	m := g.Limit("a/m", 1)
	release := occupy(t, g, "a/m", 1)
	errc := make(chan error)
	go func() { errc <- g.Go(context.Background(), "a/m", func(context.Context) {}) }()
	waitFor(t, "the waiter", func() bool { return m.Stats().Waiting == 1 })
	if n := proc.InUse(); n != 1 {
		t.Errorf("process slots in use while one call waits on its method: %d, want 1", n)
	}
	other := make(chan struct{})
	if err := g.TryGo(context.Background(), "b", func(context.Context) { close(other) }); err != nil {
		t.Errorf("another site could not use the free process slot: %v", err)
	}
	<-other
	release()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every slot released", func() bool { return proc.InUse() == 0 && m.InUse() == 0 })
}

func TestLimitChangesReachNewAndWaitingCalls(t *testing.T) {
	g := New()
	l := g.Limit("a", 1)
	release := occupy(t, g, "a", 1)
	errc := make(chan error)
	go func() { errc <- g.Go(context.Background(), "a", func(context.Context) {}) }()
	waitFor(t, "the waiter", func() bool { return l.Stats().Waiting == 1 })
	if g.Limit("a", 2) != l {
		t.Fatal("changing a limit replaced it")
	}
	if err := <-errc; err != nil { // raising the limit admitted the waiter
		t.Fatal(err)
	}
	if g.Limit("a", 0) != nil || g.Limiter("a") != nil {
		t.Fatal("Limit(name, 0) did not remove the limit")
	}
	// Without the limit the site is unbounded, and labelled "none".
	labels := make(chan string, 1)
	if err := g.TryGo(context.Background(), "a", func(ctx context.Context) {
		v, _ := pprof.Label(ctx, LabelLimit)
		labels <- v
	}); err != nil {
		t.Fatal(err)
	}
	if v := <-labels; v != NoLimit {
		t.Errorf("label %s = %q, want %q", LabelLimit, v, NoLimit)
	}
	release()
	waitFor(t, "every goroutine", func() bool { return g.Stats().Running == 0 })
	// The site's counters survived the limit changes.
	for _, s := range g.Stats().Sites {
		if s.Site == "a" && s.Started != 3 {
			t.Errorf("site a started %d, want 3", s.Started)
		}
	}
}

func TestLimitNamesApplyToTheirSubtree(t *testing.T) {
	for _, c := range []struct {
		name, site string
		want       bool
	}{
		{Process, "anything", true},
		{"orders", "orders", true},
		{"orders", "orders/Create", true},
		{"orders", "orders/Create/audit", true},
		{"orders/Create", "orders", false},
		{"orders", "ordersX", false},
		{"orders", "order", false},
		{"orders/Create", "orders/CreateMany", false},
	} {
		if got := applies(c.name, c.site); got != c.want {
			t.Errorf("applies(%q, %q) = %v", c.name, c.site, got)
		}
	}
}

func parkedParent(ctx context.Context, gate <-chan struct{}, started *sync.WaitGroup, exited *sync.WaitGroup) {
	exited.Add(1)
	go parkedChild(gate, started, exited) // a plain go statement: the child inherits the labels
	started.Done()
	<-gate
}

func parkedChild(gate <-chan struct{}, started *sync.WaitGroup, exited *sync.WaitGroup) {
	defer exited.Done()
	started.Done()
	<-gate
}

// goroutineRecords returns the debug=1 goroutine profile split into records.
func goroutineRecords(t *testing.T) []string {
	t.Helper()
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		t.Fatal(err)
	}
	return strings.Split(buf.String(), "\n\n")
}

func TestGuardedGoroutinesAndTheirChildrenCarryTheLabels(t *testing.T) {
	g := New()
	g.Limit("svc", 10)
	gate := make(chan struct{})
	var started, exited sync.WaitGroup
	started.Add(2)
	exited.Add(1)
	ctx := pprof.WithLabels(context.Background(), pprof.Labels("request", "42"))
	err := g.Go(ctx, "svc/m", func(ctx context.Context) {
		defer exited.Done()
		for k, want := range map[string]string{LabelSite: "svc/m", LabelLimit: "svc", "request": "42"} {
			if v, _ := pprof.Label(ctx, k); v != want {
				t.Errorf("fn's context: label %s = %q, want %q", k, v, want)
			}
		}
		parkedParent(ctx, gate, &started, &exited)
	})
	if err != nil {
		t.Fatal(err)
	}
	started.Wait()
	found := map[string]bool{}
	for _, r := range goroutineRecords(t) {
		for _, fn := range []string{"guard.parkedParent", "guard.parkedChild"} {
			if !strings.Contains(r, fn+"+") {
				continue
			}
			found[fn] = true
			for _, want := range []string{`"guard.site":"svc/m"`, `"guard.limit":"svc"`, `"request":"42"`} {
				if !strings.Contains(r, want) {
					t.Errorf("%s's profile record lacks %s:\n%s", fn, want, r)
				}
			}
		}
	}
	if len(found) != 2 {
		t.Errorf("records found for %v, want parent and child", found)
	}
	close(gate)
	exited.Wait()
}

type ctxKey struct{}

// fn's context is the caller's (values, deadline, cancellation) with the labels added, whether
// the caller's context had labels (merged by pprof.WithLabels) or not (the one-allocation
// wrapper).
func TestFnsContextIsTheCallersWithTheLabels(t *testing.T) {
	g := New()
	for _, withLabels := range []bool{false, true} {
		parent, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
		if withLabels {
			parent = pprof.WithLabels(parent, pprof.Labels("outer", "x"))
		}
		got := make(chan context.Context, 1)
		if err := g.Go(parent, "ctx", func(ctx context.Context) { got <- ctx }); err != nil {
			t.Fatal(err)
		}
		ctx := <-got
		if ctx.Value(ctxKey{}) != "v" {
			t.Errorf("labels=%v: the caller's value is lost", withLabels)
		}
		if v, _ := pprof.Label(ctx, LabelSite); v != "ctx" {
			t.Errorf("labels=%v: %s = %q", withLabels, LabelSite, v)
		}
		if v, ok := pprof.Label(ctx, "outer"); ok != withLabels || (ok && v != "x") {
			t.Errorf("labels=%v: outer label %q %v", withLabels, v, ok)
		}
		// A context derived from fn's is cancelled with the caller's.
		child, stop := context.WithCancel(ctx)
		cancel()
		<-child.Done()
		stop()
		if ctx.Err() != context.Canceled {
			t.Errorf("labels=%v: fn's context did not end with the caller's: %v", withLabels, ctx.Err())
		}
		// Labels added inside fn keep the guard's.
		inner := pprof.WithLabels(ctx, pprof.Labels("inner", "y"))
		if v, _ := pprof.Label(inner, LabelSite); v != "ctx" {
			t.Errorf("labels=%v: pprof.WithLabels inside fn dropped %s", withLabels, LabelSite)
		}
		if s := fmt.Sprint(ctx); !strings.Contains(s, "WithCancel") {
			t.Errorf("labels=%v: fn's context prints as %q", withLabels, s)
		}
	}
}

func TestStatsArePublishedThroughExpvar(t *testing.T) {
	g := New()
	g.Limit("pub", 3)
	release := occupy(t, g, "pub/x", 2)
	defer release()
	name := expvarName("guard_test_stats")
	if err := g.Publish(name); err != nil {
		t.Fatal(err)
	}
	if err := g.Publish(name); err == nil {
		t.Error("publishing a taken name did not fail")
	}
	var st Stats
	if err := json.Unmarshal([]byte(expvar.Get(name).String()), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Limits) != 1 || st.Limits[0].Name != "pub" || st.Limits[0].InUse != 2 || st.Limits[0].Max != 3 {
		t.Errorf("published limits: %+v", st.Limits)
	}
	if len(st.Sites) != 1 || st.Sites[0].Running != 2 || st.Sites[0].Limit != "pub" || st.Running != 2 {
		t.Errorf("published sites: %+v", st)
	}
	if s := st.String(); s != "running=2 pub=2/3" {
		t.Errorf("Stats.String() = %q", s)
	}
}

var expvarSeq atomic.Int64

// expvarName is a name not published yet: expvar names are process-wide and permanent, and a
// test may run more than once in one process (-count).
func expvarName(prefix string) string {
	return fmt.Sprintf("%s_%d", prefix, expvarSeq.Add(1))
}

func TestTheSiteCacheIsBoundedAndSitesBeyondItStillWork(t *testing.T) {
	g := New()
	lim := g.Limit("many", 1)
	var wg sync.WaitGroup
	for i := 0; i < maxCachedSites+10; i++ {
		wg.Add(1)
		if err := g.Go(context.Background(), fmt.Sprintf("many/%d", i), func(context.Context) { wg.Done() }); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if n := len(g.Stats().Sites); n != maxCachedSites {
		t.Errorf("%d sites tracked, want %d", n, maxCachedSites)
	}
	waitFor(t, "the last slot", func() bool { return lim.InUse() == 0 })
	if st := lim.Stats(); st.Admitted != maxCachedSites+10 || st.Peak != 1 {
		t.Errorf("limit over uncached sites: %+v", st)
	}
}

func TestLimiterOnItsOwn(t *testing.T) {
	l := NewLimiter("raw", 0) // raised to 1
	if l.Max() != 1 || l.Name() != "raw" || l.Policy() != Wait {
		t.Fatalf("NewLimiter: max %d name %q policy %v", l.Max(), l.Name(), l.Policy())
	}
	if err := l.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	if l.TryAcquire() {
		t.Fatal("TryAcquire on a full limiter succeeded")
	}
	l.Release()
	if !l.TryAcquire() {
		t.Fatal("TryAcquire on a free limiter failed")
	}
	l.Release()
	defer func() {
		if recover() == nil {
			t.Error("Release without Acquire did not panic")
		}
	}()
	l.Release()
}

func TestParsePolicy(t *testing.T) {
	for in, want := range map[string]Policy{"": Wait, "wait": Wait, "reject": Reject} {
		if got, err := ParsePolicy(in); err != nil || got != want {
			t.Errorf("ParsePolicy(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParsePolicy("shed"); err == nil {
		t.Error("ParsePolicy(shed) did not fail")
	}
	if Reject.String() != "reject" || Policy(9).String() != "Policy(9)" {
		t.Error("Policy.String")
	}
}
