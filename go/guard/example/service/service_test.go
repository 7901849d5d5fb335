package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"goroscope.dev/guard"
	"goroscope.dev/guard/internal/leakcheck"
)

// The example must not leak either: no goroutine is left once its tests are done.
func TestMain(m *testing.M) { leakcheck.Main(m) }

// start serves a service with its own guard and pool; everything is stopped when the test ends.
func start(t *testing.T, limits string) (*service, *httptest.Server) {
	t.Helper()
	g := guard.New()
	cfg, err := guard.ParseLimits(limits)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	pool, err := guard.NewPool(guard.PoolOptions{Name: "audit", Min: 1, Max: 4})
	if err != nil {
		t.Fatal(err)
	}
	svc := newService(g, pool)
	srv := httptest.NewServer(svc.handler())
	svc.inventory = srv.URL + "/inventory"
	t.Cleanup(func() {
		srv.Close()
		if err := svc.close(); err != nil {
			t.Error(err)
		}
	})
	return svc, srv
}

func order(t *testing.T, c *http.Client, url, budget string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/orders", nil)
	if budget != "" {
		req.Header.Set(guard.BudgetHeader, budget)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var v map[string]any
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
	}
	return resp.StatusCode, v, resp.Header
}

func TestAnOrderPassesABudgetOfAtMostTheInventoryShare(t *testing.T) {
	svc, srv := start(t, "http=100,http/orders=10,orders/notify=10")
	code, v, _ := order(t, srv.Client(), srv.URL, "5000")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	ms, err := strconv.Atoi(v["inventory_budget_ms"].(string))
	if err != nil || ms > int(inventoryShare/time.Millisecond) || ms < 1 {
		t.Errorf("inventory budget %v ms, want at most the %v share", v["inventory_budget_ms"], inventoryShare)
	}
	// A budget smaller than the share is what the inventory gets (less the reserve and the time
	// spent so far).
	code, v, _ = order(t, srv.Client(), srv.URL, "150")
	if ms, _ := strconv.Atoi(v["inventory_budget_ms"].(string)); code != 200 || ms >= 150-10 {
		t.Errorf("with a 150 ms budget: status %d, inventory budget %v", code, v["inventory_budget_ms"])
	}
	if v["notified"] != true {
		t.Errorf("not notified: %v", v)
	}
	svc.notify.Wait()
	waitFor(t, func() bool { return svc.audited() == 2 })
}

func TestASpentBudgetIsRefusedBeforeAnyWork(t *testing.T) {
	svc, srv := start(t, "http=100")
	if code, _, _ := order(t, srv.Client(), srv.URL, "5"); code != http.StatusGatewayTimeout {
		t.Errorf("a budget inside the 10 ms reserve: status %d, want 504", code)
	}
	if n := svc.orderID.Load(); n != 0 {
		t.Errorf("%d orders made", n)
	}
}

func TestAFullMethodLimitShedsWithRetryAfter(t *testing.T) {
	svc, srv := start(t, "http=100,http/orders=1")
	gate := make(chan struct{})
	entered := make(chan struct{}, 1)
	svc.stockDelay = func(ctx context.Context) error {
		entered <- struct{}{}
		select {
		case <-gate:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if code, _, _ := order(t, srv.Client(), srv.URL, "20000"); code != 200 {
			t.Errorf("first order: %d", code)
		}
	}()
	<-entered
	code, _, h := order(t, srv.Client(), srv.URL, "20000")
	if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
		t.Errorf("second order while the method is full: %d, Retry-After %q", code, h.Get("Retry-After"))
	}
	close(gate)
	wg.Wait()
	// The inventory (another method) was never limited by orders' limit.
	st := svc.guard.Stats()
	var sites []string
	for _, s := range st.Sites {
		sites = append(sites, s.Site+"="+s.Limit)
	}
	if got := strings.Join(sites, " "); got != "http/inventory=http http/orders=http/orders orders/notify=none" {
		t.Errorf("sites: %s", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(100 * time.Microsecond)
	}
}
