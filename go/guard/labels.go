package guard

// The pprof label keys the guard sets on every goroutine it starts (Go), on every request
// goroutine its HTTP middleware admits (Handler) and on every pool worker (Pool).
//
// Goroutines inherit their creator's labels, so a goroutine started with a plain `go` statement
// inside a guarded function carries the same labels: a goroutine dump (pprof debug=1 and
// protobuf on every Go release, debug=2 with GODEBUG=tracebacklabels=1 on Go 1.27+, and goroscope's
// attach/run from memory) attributes it to the guarded site that caused it. goroscope groups,
// budgets and reports by these keys without configuration.
const (
	// LabelSite is the site name passed to Go (or the Handler's site, or the Pool's name).
	LabelSite = "guard.site"
	// LabelLimit is the name of the most specific limit that admitted the goroutine ("process"
	// when only the process-wide limit applies, "none" when no limit applies; a Pool's name
	// for its workers).
	LabelLimit = "guard.limit"
)

// NoLimit is the LabelLimit value of goroutines that no limit governs.
const NoLimit = "none"
