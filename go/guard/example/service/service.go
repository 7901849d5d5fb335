package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"goroscope.dev/guard"
)

// routes are the paths the service serves; any other path is one site, "http/other", so that
// site names (and label values) stay few whatever clients send.
var routes = map[string]bool{"/orders": true, "/inventory": true}

func site(r *http.Request) string {
	if routes[r.URL.Path] {
		return "http" + r.URL.Path
	}
	return "http/other"
}

// service is an orders API that uses all three parts of the guard:
//   - quotas: every request is admitted by Guard.Handler under the limits "http" (the service)
//     and "http/orders" (one method), and the notification each order sends runs in a guarded
//     goroutine under "orders/notify";
//   - the adaptive pool "audit" writes the audit log;
//   - timeout budgets: BudgetHandler derives each request's context from X-Timeout-Budget-Ms,
//     and the call to the inventory goes through a BudgetTransport with a 300 ms share.
type service struct {
	guard  *guard.Guard
	pool   *guard.Pool
	client *http.Client
	// inventory is the URL of the inventory endpoint: this service's own, to keep the example
	// self-contained. In real life it is another service. Calling yourself through your own
	// "http" limit can starve: N orders holding all N slots while their inventory calls wait
	// for one; MaxWait turns that into 503s instead of a hang, but give such calls a limit (or
	// a service) of their own.
	inventory string

	// stockDelay is how long the inventory lookup takes; tests make it block.
	stockDelay func(ctx context.Context) error

	mu      sync.Mutex
	audit   []string
	orderID atomic.Int64
	notify  sync.WaitGroup
}

// inventoryShare is the most a call to the inventory may take of a request's budget.
const inventoryShare = 300 * time.Millisecond

func newService(g *guard.Guard, pool *guard.Pool) *service {
	return &service{
		guard:  g,
		pool:   pool,
		client: &http.Client{Transport: &guard.BudgetTransport{Share: inventoryShare}},
		stockDelay: func(ctx context.Context) error {
			t := time.NewTimer(2 * time.Millisecond)
			defer t.Stop()
			select {
			case <-t.C:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	}
}

// handler is the service's HTTP handler: budgets outside, quotas inside.
func (s *service) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/orders", s.orders)
	mux.HandleFunc("/inventory", s.stock)
	limited := s.guard.Handler(mux, guard.HandlerOptions{SiteFunc: site, MaxWait: 50 * time.Millisecond})
	return guard.BudgetHandler(limited, guard.BudgetOptions{
		Default: 2 * time.Second,  // a request without a budget gets 2 s
		Max:     10 * time.Second, // and none gets more than 10 s
		Reserve: 10 * time.Millisecond,
	})
}

func (s *service) stock(w http.ResponseWriter, r *http.Request) {
	if err := s.stockDelay(r.Context()); err != nil {
		http.Error(w, err.Error(), http.StatusGatewayTimeout)
		return
	}
	fmt.Fprintf(w, `{"in_stock": 7, "budget_ms": %q}`, r.Header.Get(guard.BudgetHeader))
}

func (s *service) orders(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	req, err := http.NewRequestWithContext(ctx, "GET", s.inventory, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	resp, err := s.client.Do(req)
	if err != nil {
		status := http.StatusBadGateway
		if errors.Is(err, guard.ErrBudgetExhausted) || errors.Is(err, context.DeadlineExceeded) {
			status = http.StatusGatewayTimeout
		}
		http.Error(w, err.Error(), status)
		return
	}
	defer resp.Body.Close()
	var inv struct {
		InStock  int    `json:"in_stock"`
		BudgetMs string `json:"budget_ms"`
	}
	if resp.StatusCode != http.StatusOK {
		http.Error(w, "inventory: "+resp.Status, http.StatusBadGateway)
		return
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&inv); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	id := s.orderID.Add(1)

	// The notification outlives the request (WithoutCancel) but not by more than a second, and
	// at most 100 of them run at once (the "orders/notify" limit): a slow notifier cannot pile
	// up goroutines. TryGo: when they are all busy the order still succeeds, unnotified.
	nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	s.notify.Add(1)
	err = s.guard.TryGo(nctx, "orders/notify", func(ctx context.Context) {
		defer s.notify.Done()
		defer cancel()
		s.send(ctx, id)
	})
	if err != nil {
		s.notify.Done()
		cancel()
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"order": %d, "in_stock": %d, "inventory_budget_ms": %s, "notified": %t}`+"\n",
		id, inv.InStock, strconv.Quote(inv.BudgetMs), err == nil)
}

// send writes the order's audit record through the pool, waiting for room at most as long as
// the notification may take.
func (s *service) send(ctx context.Context, id int64) {
	_ = s.pool.Submit(ctx, func() {
		s.mu.Lock()
		s.audit = append(s.audit, fmt.Sprintf("order %d", id))
		s.mu.Unlock()
	})
}

// close waits for the notifications in flight, then stops the pool.
func (s *service) close() error {
	s.notify.Wait()
	s.client.CloseIdleConnections()
	return s.pool.Close()
}

func (s *service) audited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.audit)
}
