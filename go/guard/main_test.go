package guard

import (
	"testing"
	"time"

	"goroscope.dev/guard/internal/leakcheck"
)

// TestMain fails the test binary when any goroutine is left once the tests are done: the
// package must not leak what it exists to prevent. (goroscope's own Rust tests also run this
// binary under `goroscope run`.)
func TestMain(m *testing.M) { leakcheck.Main(m) }

// waitFor polls cond until it holds; it fails the test after 30 s. Tests wait by looking at
// state, never by sleeping a guessed time.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Microsecond)
	}
}
