package guard

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// blockingServer serves h behind g.Handler: requests to /block wait until the returned release
// is called; entered receives one value per request that reached the handler.
func blockingServer(t *testing.T, g *Guard, opts HandlerOptions) (srv *httptest.Server, entered chan string, release func()) {
	t.Helper()
	gate := make(chan struct{})
	entered = make(chan string, 16)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		site, _ := pprof.Label(r.Context(), LabelSite)
		limit, _ := pprof.Label(r.Context(), LabelLimit)
		entered <- r.URL.Path
		if r.URL.Path == "/block" {
			<-gate
		}
		fmt.Fprintf(w, "%s %s", site, limit)
	})
	srv = httptest.NewServer(g.Handler(h, opts))
	closed := false
	release = func() {
		if !closed {
			closed = true
			close(gate)
		}
	}
	t.Cleanup(func() {
		release()
		srv.Close()
	})
	return srv, entered, release
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp, string(b)
}

func TestHandlerShedsWith503AndRetryAfterWhenFull(t *testing.T) {
	g := New()
	g.Limit("http", 1)
	srv, entered, release := blockingServer(t, g, HandlerOptions{RetryAfter: 1500 * time.Millisecond})
	c := srv.Client()
	first := make(chan string)
	go func() {
		resp, body := get(t, c, srv.URL+"/block")
		first <- fmt.Sprint(resp.StatusCode, " ", body)
	}()
	<-entered
	resp, body := get(t, c, srv.URL+"/other")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second request at a full limit: %d %s", resp.StatusCode, body)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "2" {
		t.Errorf("Retry-After = %q, want 2 (1.5 s rounded up)", ra)
	}
	if !strings.Contains(body, `limit "http"`) {
		t.Errorf("503 body does not name the limit: %q", body)
	}
	release()
	if got := <-first; got != "200 http http" {
		t.Errorf("first request: %q", got)
	}
	if st := limitStats(t, g, "http"); st.Rejected != 1 || st.Admitted != 1 {
		t.Errorf("stats: %+v", st)
	}
}

func TestHandlerWaitsUpToMaxWait(t *testing.T) {
	g := New()
	l := g.Limit("http", 1)
	srv, entered, release := blockingServer(t, g, HandlerOptions{MaxWait: time.Minute})
	c := srv.Client()
	first := make(chan int)
	go func() {
		resp, _ := get(t, c, srv.URL+"/block")
		first <- resp.StatusCode
	}()
	<-entered
	second := make(chan int)
	go func() {
		resp, _ := get(t, c, srv.URL+"/other")
		second <- resp.StatusCode
	}()
	waitFor(t, "the second request to wait", func() bool { return l.Stats().Waiting == 1 })
	release()
	if a, b := <-first, <-second; a != 200 || b != 200 {
		t.Fatalf("statuses %d, %d; want the waiting request served too", a, b)
	}
	if st := l.Stats(); st.Waited != 1 || st.Rejected != 0 {
		t.Errorf("stats: %+v", st)
	}
}

func TestHandlerShedsOnceMaxWaitIsOver(t *testing.T) {
	g := New()
	l := g.Limit("http", 1)
	srv, entered, release := blockingServer(t, g, HandlerOptions{MaxWait: time.Millisecond})
	c := srv.Client()
	first := make(chan int)
	go func() {
		resp, _ := get(t, c, srv.URL+"/block")
		first <- resp.StatusCode
	}()
	<-entered
	resp, body := get(t, c, srv.URL+"/other")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("after MaxWait: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if !strings.Contains(body, "deadline exceeded") {
		t.Errorf("503 body does not say the wait ran out: %q", body)
	}
	release()
	<-first
	if st := l.Stats(); st.Abandoned != 1 {
		t.Errorf("stats: %+v", st)
	}
}

func TestHandlerSiteFuncGivesMethodLevelLimitsAndLabels(t *testing.T) {
	g := New()
	g.Limit("http", 10)
	slow := g.Limit("http/block", 1).Name()
	srv, entered, release := blockingServer(t, g, HandlerOptions{
		SiteFunc: func(r *http.Request) string { return "http" + r.URL.Path },
	})
	c := srv.Client()
	first := make(chan string)
	go func() {
		_, body := get(t, c, srv.URL+"/block")
		first <- body
	}()
	<-entered
	// The method limit of /block is full; another method still gets in, with its own labels.
	resp, body := get(t, c, srv.URL+"/fast")
	if resp.StatusCode != 200 || body != "http/fast http" {
		t.Errorf("/fast: %d %q", resp.StatusCode, body)
	}
	<-entered
	resp, _ = get(t, c, srv.URL+"/block")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("second /block: %d, want 503 from limit %s", resp.StatusCode, slow)
	}
	release()
	if got := <-first; got != "http/block http/block" {
		t.Errorf("/block labels: %q", got)
	}
}

// A handler that panics still gives its slot back (net/http recovers the panic).
func TestHandlerReleasesItsSlotWhenTheHandlerPanics(t *testing.T) {
	g := New()
	l := g.Limit("http", 1)
	srv := httptest.NewUnstartedServer(g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler) // aborts the response without a log line
	}), HandlerOptions{}))
	srv.Start()
	defer srv.Close()
	c := srv.Client()
	if _, err := c.Get(srv.URL); err == nil {
		t.Fatal("an aborted handler produced a response")
	}
	waitFor(t, "the slot", func() bool { return l.InUse() == 0 })
	c.CloseIdleConnections()
}

func TestPackageLevelHandlerUsesDefault(t *testing.T) {
	const site = "handler-default-test"
	defer Limit(site, 0)
	Limit(site, 1)
	srv := httptest.NewServer(Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, _ := pprof.Label(r.Context(), LabelLimit)
		io.WriteString(w, v)
	}), HandlerOptions{Site: site}))
	defer srv.Close()
	if _, body := get(t, srv.Client(), srv.URL); body != site {
		t.Errorf("label %s = %q", LabelLimit, body)
	}
	ctx := context.Background()
	done := make(chan struct{})
	if err := Go(ctx, site, func(context.Context) { close(done) }); err != nil {
		t.Fatal(err)
	}
	<-done
}
