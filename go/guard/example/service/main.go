// Command service is a small orders API that shows goroscope.dev/guard at work: quotas per
// process, service and method with load shedding, an adaptive pool, and timeout budgets that
// shrink from hop to hop. Its goroutines carry the guard's pprof labels, so
//
//	goroscope analyze http://127.0.0.1:8080/debug/pprof/goroutine
//
// groups them by guarded site. Limits come from the code below, then GUARD_CONFIG (a JSON file)
// and GUARD_LIMITS (e.g. "http/orders=50:reject"). Gauges and counters: /debug/vars.
//
//	go run ./example/service -addr 127.0.0.1:8080
//	curl -H 'X-Timeout-Budget-Ms: 500' http://127.0.0.1:8080/orders
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof" // /debug/pprof on http.DefaultServeMux
	"os"
	"os/signal"
	"syscall"
	"time"

	"goroscope.dev/guard"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	if err := run(*addr); err != nil {
		log.Fatal(err)
	}
}

func run(addr string) error {
	g := guard.Default
	g.Limit(guard.Process, 500_000)           // every guarded goroutine of the process
	g.Limit("http", 8_000)                    // the service's concurrent requests
	g.Limit("http/orders", 200)               // one method
	g.Limit("orders/notify", 100)             // background notifications
	if err := guard.Configure(); err != nil { // GUARD_CONFIG, GUARD_LIMITS
		return err
	}
	pool, err := guard.NewPool(guard.PoolOptions{Name: "audit", Min: 2, Max: 32, LatencyTarget: 50 * time.Millisecond})
	if err != nil {
		return err
	}
	if err := g.Publish("guard"); err != nil {
		return err
	}
	if err := pool.Publish("guard_pool_audit"); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	svc := newService(g, pool)
	svc.inventory = "http://" + ln.Addr().String() + "/inventory"
	mux := http.NewServeMux()
	mux.Handle("/debug/", http.DefaultServeMux) // pprof and expvar
	mux.Handle("/", svc.handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Printf("listening on http://%s (orders at /orders, stats at /debug/vars)", ln.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return svc.close()
}
