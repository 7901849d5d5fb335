package guard

import (
	"expvar"
	"fmt"
)

// publish registers f under name in expvar (served as JSON at /debug/vars).
func publish(name string, f func() any) error {
	if expvar.Get(name) != nil {
		return fmt.Errorf("guard: expvar %q is already published", name)
	}
	expvar.Publish(name, expvar.Func(f))
	return nil
}

// Publish makes the guard's Stats readable through expvar under name (served as JSON by the
// expvar handler, /debug/vars on http.DefaultServeMux). Each call reads the live gauges and
// counters; nothing runs in the background. It fails if name is taken (expvar names are global
// and cannot be removed).
func (g *Guard) Publish(name string) error {
	return publish(name, func() any { return g.Stats() })
}
