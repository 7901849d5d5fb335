package leakcheck

import (
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

// parkedHere blocks until release is closed; its name must show up in the leak report.
func parkedHere(entered, release, exited chan struct{}) {
	defer close(exited)
	close(entered)
	<-release
}

func TestLeakedFindsAParkedGoroutineAndForgetsItOnceItExits(t *testing.T) {
	entered, release, exited := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go parkedHere(entered, release, exited)
	<-entered // from here on its stack shows parkedHere, parked or about to be
	left := Leaked(10 * time.Millisecond)
	found := false
	for _, g := range left {
		found = found || strings.Contains(g, "leakcheck.parkedHere")
	}
	if !found {
		t.Fatalf("the parked goroutine is not reported: %q", left)
	}
	close(release)
	<-exited
	// Inside a test the goroutine running the test binary's main is also "left"; only the parked
	// one matters here (Main checks after every test has returned, with nothing else running).
	for _, g := range Leaked(0) {
		if strings.Contains(g, "leakcheck.parkedHere") {
			t.Fatalf("the parked goroutine is still reported after it exited:\n%s", g)
		}
	}
}
