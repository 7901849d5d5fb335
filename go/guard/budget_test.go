package guard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestHopBudgetIsTheSmallerOfRemainingAndShare(t *testing.T) {
	bg := context.Background()
	if _, bounded := HopBudget(bg, 0); bounded {
		t.Error("no deadline and no share is bounded")
	}
	if b, bounded := HopBudget(bg, time.Second); !bounded || b != time.Second {
		t.Errorf("share only: %v %v", b, bounded)
	}
	ctx, cancel := context.WithTimeout(bg, time.Hour)
	defer cancel()
	if b, _ := HopBudget(ctx, time.Second); b != time.Second {
		t.Errorf("share below remaining: %v", b)
	}
	if b, _ := HopBudget(ctx, 2*time.Hour); b > time.Hour || b < time.Hour-time.Minute {
		t.Errorf("remaining below share: %v", b)
	}
	if b, _ := HopBudget(ctx, 0); b > time.Hour || b < time.Hour-time.Minute {
		t.Errorf("remaining only: %v", b)
	}
	if _, ok := Remaining(bg); ok {
		t.Error("Remaining of a context without deadline")
	}
}

func TestWithBudgetSetsTheHeaderAndTheRequestsDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://example.invalid/", nil)
	before := time.Now()
	out, done, err := WithBudget(req, 1500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	if h := out.Header.Get(BudgetHeader); h != "1500" {
		t.Errorf("header %s = %q", BudgetHeader, h)
	}
	if req.Header.Get(BudgetHeader) != "" {
		t.Error("WithBudget changed the caller's request")
	}
	dl, ok := out.Context().Deadline()
	if !ok || dl.Before(before.Add(1500*time.Millisecond)) || dl.After(time.Now().Add(1500*time.Millisecond)) {
		t.Errorf("deadline %v not 1.5 s after the call", dl)
	}

	// No bound: the request goes as it is.
	plain, _ := http.NewRequest("GET", "http://example.invalid/", nil)
	if out, _, err := WithBudget(plain, 0); err != nil || out != plain || out.Header.Get(BudgetHeader) != "" {
		t.Errorf("unbounded: %v %v", out, err)
	}
	// Spent: do not call.
	spent, cancel2 := context.WithTimeout(context.Background(), 0)
	defer cancel2()
	req2, _ := http.NewRequestWithContext(spent, "GET", "http://example.invalid/", nil)
	if _, _, err := WithBudget(req2, time.Second); !errors.Is(err, ErrBudgetExhausted) {
		t.Errorf("spent budget: %v", err)
	}
}

func TestBudgetHandlerDerivesTheContext(t *testing.T) {
	type seen struct {
		called  bool
		left    time.Duration
		bounded bool
	}
	var last seen
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		left, ok := Remaining(r.Context())
		last = seen{true, left, ok}
	})
	for _, c := range []struct {
		name    string
		header  string
		opts    BudgetOptions
		status  int
		bounded bool
		atMost  time.Duration
	}{
		{"header", "250", BudgetOptions{}, 200, true, 250 * time.Millisecond},
		{"reserve", "250", BudgetOptions{Reserve: 50 * time.Millisecond}, 200, true, 200 * time.Millisecond},
		{"capped", "99999", BudgetOptions{Max: time.Second}, 200, true, time.Second},
		{"default", "", BudgetOptions{Default: 300 * time.Millisecond}, 200, true, 300 * time.Millisecond},
		{"none", "", BudgetOptions{}, 200, false, 0},
		{"malformed", "soon", BudgetOptions{}, 400, false, 0},
		{"negative", "-5", BudgetOptions{}, 400, false, 0},
		{"spent", "0", BudgetOptions{}, 504, false, 0},
		{"eaten by the reserve", "40", BudgetOptions{Reserve: 50 * time.Millisecond}, 504, false, 0},
	} {
		last = seen{}
		req := httptest.NewRequest("GET", "/", nil)
		if c.header != "" {
			req.Header.Set(BudgetHeader, c.header)
		}
		rec := httptest.NewRecorder()
		BudgetHandler(h, c.opts).ServeHTTP(rec, req)
		if rec.Code != c.status {
			t.Errorf("%s: status %d, want %d (%s)", c.name, rec.Code, c.status, rec.Body)
			continue
		}
		if c.status != 200 {
			if last.called {
				t.Errorf("%s: the handler ran", c.name)
			}
			continue
		}
		if last.bounded != c.bounded || last.left > c.atMost || (c.bounded && last.left < c.atMost-time.Second) {
			t.Errorf("%s: handler saw %+v, want bounded=%v at most %v", c.name, last, c.bounded, c.atMost)
		}
	}
}

// Two hops: the client's share bounds the first, and the first hop's remaining time bounds the
// second even though the second hop's share is larger.
func TestBudgetsShrinkAcrossHops(t *testing.T) {
	headers := make(chan string, 2)
	second := httptest.NewServer(BudgetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		headers <- r.Header.Get(BudgetHeader)
	}), BudgetOptions{}))
	defer second.Close()
	next := &http.Client{Transport: &BudgetTransport{Base: second.Client().Transport, Share: time.Hour}}
	defer next.CloseIdleConnections()
	first := httptest.NewServer(BudgetHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		headers <- r.Header.Get(BudgetHeader)
		req, _ := http.NewRequestWithContext(r.Context(), "GET", second.URL, nil)
		resp, err := next.Do(req)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}), BudgetOptions{Reserve: 100 * time.Millisecond}))
	defer first.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	client := &http.Client{Transport: &BudgetTransport{Base: first.Client().Transport, Share: 30 * time.Second}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, "GET", first.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	h1, _ := strconv.Atoi(<-headers)
	h2, _ := strconv.Atoi(<-headers)
	if h1 != 30000 {
		t.Errorf("first hop got %d ms, want the client's share 30000", h1)
	}
	if h2 > h1-100 || h2 < h1-100-5000 {
		t.Errorf("second hop got %d ms, want at most the first hop's %d minus its 100 ms reserve", h2, h1)
	}
}

func TestBudgetTransportRefusesASpentBudget(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	called := false
	tr := &BudgetTransport{Base: roundTripFunc(func(*http.Request) (*http.Response, error) {
		called = true
		return nil, fmt.Errorf("unreachable")
	})}
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://example.invalid/", strings.NewReader("x"))
	if _, err := tr.RoundTrip(req); !errors.Is(err, ErrBudgetExhausted) || called {
		t.Errorf("RoundTrip with a spent budget: %v (base called: %v)", err, called)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
