// Package leakcheck verifies, at the end of a test binary, that no goroutine but the caller is
// left, in the spirit of goleak's VerifyTestMain, with the standard library only.
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// ignored are goroutines the standard library keeps for the rest of the process once started,
// matched by a function in their stack.
var ignored = []string{
	"os/signal.signal_recv", // signal.Notify's receive loop: started once, never stops
}

// Leaked returns the stacks of goroutines other than the caller's, after waiting up to patience
// for them to finish (goroutines that are exiting need a moment). It polls, it does not guess.
func Leaked(patience time.Duration) []string {
	deadline := time.Now().Add(patience)
	delay := time.Millisecond
	for {
		left := others()
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(delay)
		if delay < 100*time.Millisecond {
			delay *= 2
		}
	}
}

func others() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for i, g := range strings.Split(strings.TrimSpace(string(buf)), "\n\n") {
		if i == 0 { // the caller
			continue
		}
		skip := false
		for _, s := range ignored {
			if strings.Contains(g, s) {
				skip = true
				break
			}
		}
		if !skip {
			out = append(out, g)
		}
	}
	return out
}

// Main runs the tests, then fails the binary (exit 1) if any goroutine is left over: call it
// as TestMain(m) { leakcheck.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if left := Leaked(10 * time.Second); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "leakcheck: %d goroutines left after the tests:\n\n%s\n", len(left), strings.Join(left, "\n\n"))
			code = 1
		}
	}
	os.Exit(code)
}
