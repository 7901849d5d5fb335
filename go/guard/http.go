package guard

import (
	"context"
	"fmt"
	"net/http"
	"runtime/pprof"
	"strconv"
	"time"
)

// HandlerOptions configures Handler.
type HandlerOptions struct {
	// Site is the site of every request; default "http". A limit named after it (Limit("http",
	// 8000)) bounds the service's concurrent handlers.
	Site string
	// SiteFunc, when set, names the site per request, e.g. "http/" + route, so method-level limits
	// ("http/POST /orders") apply. Keep its values few (a route, not a raw path): at most 4096
	// sites are tracked in Stats.
	SiteFunc func(r *http.Request) string
	// MaxWait is how long a request may wait for a slot (bounded by the request's own context)
	// before it is shed; 0 sheds at once. Limits with policy Reject always shed at once.
	MaxWait time.Duration
	// RetryAfter is the Retry-After a shed request gets, rounded up to whole seconds; default 1s.
	RetryAfter time.Duration
}

// Handler wraps h: each request takes a slot of every limit that applies to its site, runs with
// the pprof labels LabelSite and LabelLimit (restored when it returns, so a reused keep-alive
// connection goroutine does not keep them; goroutines the handler starts inherit them), and
// gives its slots back when h returns. A request that finds a limit full waits up to MaxWait,
// then is shed: 503 Service Unavailable with a Retry-After header, and h is not called.
func (g *Guard) Handler(h http.Handler, opts HandlerOptions) http.Handler {
	site := opts.Site
	if site == "" {
		site = "http"
	}
	retry := opts.RetryAfter
	if retry <= 0 {
		retry = time.Second
	}
	retrySecs := strconv.FormatInt(int64((retry+time.Second-1)/time.Second), 10)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := site
		if opts.SiteFunc != nil {
			s = opts.SiteFunc(r)
		}
		p := g.plan(s)
		ctx := r.Context()
		force, deadline := Reject, time.Time{}
		if opts.MaxWait > 0 {
			force, deadline = Wait, time.Now().Add(opts.MaxWait)
		}
		if err := p.acquire(ctx, force, deadline); err != nil {
			w.Header().Set("Retry-After", retrySecs)
			http.Error(w, fmt.Sprintf("%v; retry later", err), http.StatusServiceUnavailable)
			return
		}
		p.ctr.running.Add(1)
		p.ctr.started.Add(1)
		defer func() {
			p.release()
			p.ctr.running.Add(-1) // after the release: Running 0 means every slot is back
		}()
		pprof.Do(ctx, p.labels, func(ctx context.Context) {
			h.ServeHTTP(w, r.WithContext(ctx))
		})
	})
}

// Handler wraps h under Default's limits; see Guard.Handler.
func Handler(h http.Handler, opts HandlerOptions) http.Handler {
	return Default.Handler(h, opts)
}
