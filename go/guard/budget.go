package guard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// BudgetHeader carries a request's timeout budget to the next hop, in whole milliseconds.
//
// Over gRPC, send the same value as the metadata key "x-timeout-budget-ms" (metadata keys are
// lower case) and read it in a server interceptor with the same rules as BudgetHandler. gRPC
// itself already sends the context deadline as "grpc-timeout"; the explicit budget is what makes
// a hop's share visible and lets the server keep a Reserve for its reply.
const BudgetHeader = "X-Timeout-Budget-Ms"

// ErrBudgetExhausted is returned when less than a millisecond of budget is left for the next hop.
var ErrBudgetExhausted = errors.New("guard: timeout budget exhausted")

// Remaining returns the time left until ctx's deadline, and false when ctx has no deadline.
// It is negative once the deadline passed.
func Remaining(ctx context.Context) (time.Duration, bool) {
	d, ok := ctx.Deadline()
	if !ok {
		return 0, false
	}
	return time.Until(d), true
}

// HopBudget returns the budget of the next hop: min(Remaining(ctx), share), where a missing
// deadline or a share ≤ 0 does not bound it. bounded is false when neither does.
func HopBudget(ctx context.Context, share time.Duration) (budget time.Duration, bounded bool) {
	rem, ok := Remaining(ctx)
	switch {
	case ok && share > 0:
		return min(rem, share), true
	case ok:
		return rem, true
	case share > 0:
		return share, true
	}
	return 0, false
}

// WithBudget prepares req for the next hop with budget min(remaining, share) (see HopBudget):
// it sets BudgetHeader to the budget in whole milliseconds and returns a copy of req whose context
// ends when the budget does, so the caller stops waiting when the callee stops working. Call
// cancel when done with the response. Without a bound req is returned unchanged (no header). With
// less than a millisecond left it returns ErrBudgetExhausted: do not make the call.
func WithBudget(req *http.Request, share time.Duration) (*http.Request, context.CancelFunc, error) {
	b, bounded := HopBudget(req.Context(), share)
	if !bounded {
		return req, func() {}, nil
	}
	if b < time.Millisecond {
		return nil, func() {}, ErrBudgetExhausted
	}
	ctx, cancel := context.WithTimeout(req.Context(), b)
	out := req.Clone(ctx)
	out.Header.Set(BudgetHeader, strconv.FormatInt(int64(b/time.Millisecond), 10))
	return out, cancel, nil
}

// BudgetTransport is an http.RoundTripper that applies WithBudget to every request: each call
// gets min(remaining budget of the request's context, Share).
type BudgetTransport struct {
	// Base does the request; default http.DefaultTransport.
	Base http.RoundTripper
	// Share bounds every hop; ≤ 0 passes only the remaining budget on.
	Share time.Duration
}

// RoundTrip sets the budget and sends req through Base; the budget's context is released when
// the response body is closed (or at once on error).
func (t *BudgetTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	out, cancel, err := WithBudget(req, t.Share)
	if err != nil {
		if req.Body != nil {
			req.Body.Close() // a RoundTripper must close the body, even on errors
		}
		return nil, err
	}
	resp, err := base.RoundTrip(out)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// ParseBudget reads BudgetHeader: the budget and true, or false when the header is absent; an
// error when it is not a non-negative integer.
func ParseBudget(h http.Header) (time.Duration, bool, error) {
	v := h.Get(BudgetHeader)
	if v == "" {
		return 0, false, nil
	}
	ms, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || ms < 0 || ms > math.MaxInt64/int64(time.Millisecond) {
		return 0, false, fmt.Errorf("guard: %s %q is not a number of milliseconds", BudgetHeader, v)
	}
	return time.Duration(ms) * time.Millisecond, true, nil
}

// BudgetOptions configures BudgetHandler.
type BudgetOptions struct {
	// Default is the budget of a request without the header; 0 leaves such requests unbounded
	// (apart from their own context).
	Default time.Duration
	// Max caps an incoming budget (a caller cannot ask for more); 0: no cap.
	Max time.Duration
	// Reserve is kept back from the budget for writing the reply, so the handler's context ends
	// before the caller gives up; 0: none.
	Reserve time.Duration
}

// BudgetFrom returns the budget of an incoming request after opts (header, Default, Max,
// Reserve), whether there is one, and an error for a malformed header.
func BudgetFrom(h http.Header, opts BudgetOptions) (time.Duration, bool, error) {
	b, ok, err := ParseBudget(h)
	if err != nil {
		return 0, false, err
	}
	if !ok {
		if opts.Default <= 0 {
			return 0, false, nil
		}
		b = opts.Default
	}
	if opts.Max > 0 && b > opts.Max {
		b = opts.Max
	}
	return b - opts.Reserve, true, nil
}

// BudgetHandler derives each request's context from its budget (BudgetFrom): the handler's
// context ends when the budget does, and calls it makes with WithBudget or BudgetTransport pass
// on what is left. A malformed header gets 400 Bad Request; a budget already spent (0 ms, or
// not more than Reserve) gets 504 Gateway Timeout without calling h.
func BudgetHandler(h http.Handler, opts BudgetOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok, err := BudgetFrom(r.Header, opts)
		switch {
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		case !ok:
			h.ServeHTTP(w, r)
			return
		case b <= 0:
			http.Error(w, ErrBudgetExhausted.Error(), http.StatusGatewayTimeout)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), b)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}
