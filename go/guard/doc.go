// Package guard is the in-process half of goroscope: it bounds, labels and times the goroutines
// of a Go service from inside, so that leaks are refused before they pile up, and those that
// happen anyway are named by the site that made them. It uses the standard library only.
//
// # Quotas
//
// Go starts a goroutine once every limit that applies to its site has a free slot:
//
//	guard.Limit(guard.Process, 500_000) // every guarded goroutine of the process
//	guard.Limit("http", 8_000)          // the service: sites "http" and "http/..."
//	guard.Limit("orders/Create", 200)   // one method
//	err := guard.Go(ctx, "orders/Create", func(ctx context.Context) { ... })
//
// At a full limit the caller chooses: Go waits until ctx is done (its deadline bounds the wait),
// TryGo or a limit with policy Reject fails at once with a *LimitError (errors.Is(err,
// ErrLimit)), and Handler, the HTTP middleware, sheds the request with 503 and Retry-After.
// Limits come from code (Limit), a JSON file (LoadConfig) or the environment (GUARD_CONFIG,
// GUARD_LIMITS; see Configure). Gauges and counters are read with Stats, or through expvar
// after Publish. A Guard starts no goroutine of its own.
//
// # Labels goroscope reads
//
// Every goroutine started by Go or TryGo, every request admitted by Handler and every Pool
// worker runs with the pprof labels LabelSite ("guard.site") and LabelLimit ("guard.limit").
// Goroutines inherit the labels of the goroutine that starts them, so a goroutine leaked by a
// plain go statement deep inside a guarded function still carries its guarded site. goroscope
// shows the labels in every report (the JSON group's "labels"), from pprof debug=1 and protobuf
// dumps on every Go release, from debug=2 dumps on Go 1.27+ with GODEBUG=tracebacklabels=1, and
// from memory with goroscope attach and goroscope run.
//
// # Adaptive pool
//
// NewPool starts a worker pool that grows by 25 % after its p95 latency stayed above a target
// for 30 s and shrinks by 20 % after its workers stayed more than 85 % idle for 60 s, between a
// minimum and a maximum (PoolOptions has every knob and a Clock for tests). Close stops every
// worker and waits; Submit after Close returns ErrClosed.
//
// # Timeout budgets
//
// A request's remaining time travels to the next hop in the X-Timeout-Budget-Ms header:
// WithBudget (or BudgetTransport) sends min(remaining, share) and BudgetHandler derives the
// server's context from it, so every hop gets at most what is left. BudgetHeader describes the
// gRPC metadata equivalent.
package guard
