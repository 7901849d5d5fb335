package guard_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"time"

	"goroscope.dev/guard"
)

func ExampleGuard_Go() {
	g := guard.New()
	g.Limit(guard.Process, 500_000)
	g.Limit("orders", 8_000)
	g.Limit("orders/Create", 200)

	done := make(chan struct{})
	err := g.Go(context.Background(), "orders/Create", func(ctx context.Context) {
		defer close(done)
		site, _ := pprof.Label(ctx, guard.LabelSite)
		limit, _ := pprof.Label(ctx, guard.LabelLimit)
		fmt.Println("running with labels", site, limit)
	})
	if err != nil {
		fmt.Println(err)
	}
	<-done
	// Output: running with labels orders/Create orders/Create
}

func ExampleGuard_TryGo() {
	g := guard.New()
	g.Limit("reports", 1)
	release := make(chan struct{})
	_ = g.Go(context.Background(), "reports/render", func(context.Context) { <-release })

	err := g.TryGo(context.Background(), "reports/render", func(context.Context) {})
	fmt.Println(errors.Is(err, guard.ErrLimit), err)
	close(release)
	// Output: true guard: site "reports/render" rejected: limit "reports" (max 1) reached
}

func ExampleGuard_Handler() {
	g := guard.New()
	l := g.Limit("http", 1)
	h := g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	}), guard.HandlerOptions{RetryAfter: 2 * time.Second})

	// Another request holds the only slot.
	_ = l.Acquire(context.Background())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Code, rec.Header().Get("Retry-After"))

	l.Release()
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// 503 2
	// 200 hello
}

func ExampleNewPool() {
	p, err := guard.NewPool(guard.PoolOptions{Name: "resize", Min: 2, Max: 16})
	if err != nil {
		fmt.Println(err)
		return
	}
	results := make(chan int, 3)
	for i := 1; i <= 3; i++ {
		i := i
		if err := p.Submit(context.Background(), func() { results <- i * i }); err != nil {
			fmt.Println(err)
		}
	}
	_ = p.Close() // runs what is queued, stops every worker, waits
	close(results)
	sum := 0
	for r := range results {
		sum += r
	}
	fmt.Println(sum, p.Stats().Workers, p.Submit(context.Background(), func() {}))
	// Output: 14 0 guard: pool closed
}

func ExampleWithBudget() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://inventory.internal/stock", nil)

	// This hop may take 300 ms of the 10 s left; the callee reads the header.
	req, done, err := guard.WithBudget(req, 300*time.Millisecond)
	if err != nil {
		fmt.Println(err) // less than 1 ms left: do not call
		return
	}
	defer done()
	fmt.Println(req.Header.Get(guard.BudgetHeader))
	// Output: 300
}

func ExampleBudgetHandler() {
	h := guard.BudgetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		left, bounded := guard.Remaining(r.Context())
		fmt.Println(bounded, left <= 200*time.Millisecond)
	}), guard.BudgetOptions{Reserve: 50 * time.Millisecond})

	req := httptest.NewRequest("GET", "/stock", nil)
	req.Header.Set(guard.BudgetHeader, "250")
	h.ServeHTTP(httptest.NewRecorder(), req)
	// Output: true true
}

func ExampleParseLimits() {
	cfg, err := guard.ParseLimits("process=500000,http=8000:reject,orders/Create=200")
	if err != nil {
		fmt.Println(err)
		return
	}
	g := guard.New()
	if err := g.Apply(cfg); err != nil {
		fmt.Println(err)
		return
	}
	for _, l := range g.Stats().Limits {
		fmt.Println(l.Name, l.Max, l.Policy)
	}
	// Output:
	// http 8000 reject
	// orders/Create 200 wait
	// process 500000 wait
}
