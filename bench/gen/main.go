// Command gen starts N real goroutines parked in dozens of realistic shapes and writes the dumps
// goroscope reads, for benchmarks:
//
//	goroutines-N.debug2.txt   runtime.Stack(buf, true), the debug=2 text (not capped at 64 MiB)
//	goroutines-N.debug1.txt   pprof goroutine profile, debug=1
//	goroutines-N.pb.gz        pprof goroutine profile, debug=0 (gzipped protobuf)
//	goroutines-N.manifest.json  the exact goroutine count of each file, states, sizes, timings
//
// Usage: go run . -n 100000 -out ../data
//
// Go 1.27 prints pprof labels in traceback headers when the main module says go >= 1.27
// (GODEBUG tracebacklabels); the directive below makes that explicit.
//
//go:debug tracebacklabels=1
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"
)

var (
	expected atomic.Int64 // goroutines that will call arrive() before parking
	arrived  atomic.Int64
	launched sync.WaitGroup // supervisors still launching
)

// arrive is called by a goroutine right before its final blocking call.
func arrive() { arrived.Add(1) }

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gen: "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gen: "+format+"\n", args...)
}

// splitmix64: a deterministic hash for per-goroutine choices.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

var labelSets = func() []pprof.LabelSet {
	handlers := []string{"/api/orders", "/api/users", "/api/payments", "/v1/search", "/internal/sync", "/healthz"}
	tenants := []string{"acme corp", "globex", "initech", "umbrella"}
	var sets []pprof.LabelSet
	for i, h := range handlers {
		for j, t := range tenants {
			if (i+j)%3 == 0 {
				sets = append(sets, pprof.Labels("handler", h, "tenant", t, "region", "eu-west-1"))
			} else {
				sets = append(sets, pprof.Labels("handler", h, "tenant", t))
			}
		}
	}
	return append(sets, pprof.Labels("job", "nightly-reindex"), pprof.Labels("worker", "batch-7"))
}()

// member is one bulk goroutine: which group it blocks on, and the call chain above the block.
type member struct {
	grp    blocker
	i      int
	kind   int
	depth  int
	labels *pprof.LabelSet
}

func runMember(m *member) {
	if m.labels != nil {
		pprof.Do(context.Background(), *m.labels, func(context.Context) { m.descend() })
		return
	}
	m.descend()
}

func (m *member) run() { runMember(m) }

func (m *member) descend() { descend(m.kind, m.depth, m.park) }

func (m *member) park() {
	arrive()
	m.grp.Block(m.i)
}

// supervisor launches one chunk of a shape, then waits for its children (which never finish),
// as an errgroup-style owner would.
type supervisor struct {
	shape    *shape
	shapeIdx int
	from, to int
	seed     uint64
	children sync.WaitGroup
	labeled  int
}

const chunk = 5000

// variants is how many call sites each shape has.
const variants = 8

// variant is one call site of a shape: the chain above the blocking call, how the goroutine is
// started, and which label sets its labelled members carry.
type variant struct {
	kind, depth   int
	launch        int
	inheritLabels bool
	labelSets     [2]int
}

func variantOf(seed uint64, shapeIdx, v int) variant {
	s := &shapes[shapeIdx]
	h := mix(seed ^ uint64(shapeIdx)<<40 ^ uint64(v)<<20 ^ 0x5eed)
	u := float64(h>>11) / (1 << 53)
	return variant{
		kind:          int(h % numChains),
		depth:         s.minDepth + int(float64(s.maxDepth-s.minDepth+1)*u*u*u*u),
		launch:        int((h >> 4) % 3),
		inheritLabels: (h>>6)%2 == 0,
		labelSets:     [2]int{int((h >> 8) % uint64(len(labelSets))), int((h >> 16) % uint64(len(labelSets)))},
	}
}

//go:noinline
func (sv *supervisor) run() {
	var grp blocker
	s := sv.shape
	for i := sv.from; i < sv.to; i++ {
		if (i-sv.from)%s.groupSize == 0 {
			grp = s.newGroup()
		}
		// A service has a handful of call sites per kind of wait, some much busier than others:
		// pick one of the shape's variants (skewed towards the first), then labels.
		h := mix(sv.seed ^ uint64(sv.shapeIdx)<<40 ^ uint64(i))
		u := float64(h>>11) / (1 << 53)
		v := variantOf(sv.seed, sv.shapeIdx, int(float64(variants)*u*u))
		m := &member{grp: grp, i: i, kind: v.kind, depth: v.depth}
		expected.Add(1)
		sv.children.Add(1)
		if h%3 == 0 { // about a third carry pprof labels
			sv.labeled++
			set := &labelSets[v.labelSets[(h>>8)%2]]
			if v.inheritLabels {
				// Inherited: the go statement runs inside pprof.Do.
				pprof.Do(context.Background(), *set, func(context.Context) { go runMember(m) })
				continue
			}
			m.labels = set // set by the goroutine itself: runtime/pprof.Do is on its stack
		}
		switch v.launch {
		case 0:
			go runMember(m)
		case 1:
			go func() { runMember(m) }()
		default:
			go m.run()
		}
	}
	expected.Add(1)
	launched.Done()
	arrive()
	sv.children.Wait()
}

type fileInfo struct {
	Format     string  `json:"format"`
	Path       string  `json:"path"`
	Bytes      int64   `json:"bytes"`
	Lines      int64   `json:"lines,omitempty"`
	Goroutines int64   `json:"goroutines"`
	Labeled    int64   `json:"labeled_goroutines,omitempty"`
	Records    int64   `json:"records,omitempty"`
	Seconds    float64 `json:"seconds"`
}

type shapeCount struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

type manifest struct {
	Generator    string           `json:"generator"`
	GoVersion    string           `json:"go_version"`
	Requested    int              `json:"requested"`
	Seed         uint64           `json:"seed"`
	Goroutines   int64            `json:"goroutines"`
	NumGoroutine int              `json:"num_goroutine"`
	Consistent   bool             `json:"consistent"`
	States       map[string]int64 `json:"states"`
	Shapes       []shapeCount     `json:"shapes"`
	Files        []fileInfo       `json:"files"`
	SpawnSeconds float64          `json:"spawn_seconds"`
	SettleSecs   float64          `json:"settle_seconds"`
}

func main() {
	n := flag.Int("n", 10000, "goroutines to start (10000, 100000, 1000000, or any count >= 100)")
	out := flag.String("out", "bench/data", "output folder")
	seed := flag.Uint64("seed", 1, "seed for the per-goroutine choices")
	timeout := flag.Duration("timeout", 10*time.Minute, "how long to wait for every goroutine to park")
	flag.Parse()
	if *n < 100 {
		fatalf("-n must be at least 100, got %d", *n)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fatalf("%v", err)
	}

	t0 := time.Now()
	special := countsFor(*n)
	bulk := *n - special.members()
	totalWeight := 0
	for _, s := range shapes {
		totalWeight += s.weight
	}
	counts := make([]int, len(shapes))
	assigned := 0
	for i, s := range shapes {
		counts[i] = bulk * s.weight / totalWeight
		assigned += counts[i]
	}
	counts[0] += bulk - assigned

	var svs []*supervisor
	for si := range shapes {
		for from := 0; from < counts[si]; from += chunk {
			svs = append(svs, &supervisor{shape: &shapes[si], shapeIdx: si, from: from, to: min(from+chunk, counts[si]), seed: *seed})
		}
	}
	launched.Add(len(svs))
	for _, sv := range svs {
		go sv.run()
	}
	startSpecial(special)
	launched.Wait()
	spawn := time.Since(t0)
	logf("started %d goroutines in %.2fs; waiting for them to park", expected.Load(), spawn.Seconds())

	t1 := time.Now()
	if err := waitParked(t1.Add(*timeout)); err != nil {
		fatalf("%v", err)
	}
	settle := time.Since(t1)

	m := manifest{
		Generator:    "goroscope bench/gen",
		GoVersion:    runtime.Version(),
		Requested:    *n,
		Seed:         *seed,
		Consistent:   true,
		SpawnSeconds: spawn.Seconds(),
		SettleSecs:   settle.Seconds(),
	}
	for si, s := range shapes {
		m.Shapes = append(m.Shapes, shapeCount{s.name, counts[si]})
	}
	m.Shapes = append(m.Shapes,
		shapeCount{"tcp-io-wait", 2 * special.tcpConns},
		shapeCount{"http-handler", special.httpCalls},
		shapeCount{"pipe-io-wait", special.pipes},
		shapeCount{"syscall", special.syscalls},
		shapeCount{"locked-to-thread", special.locked},
		shapeCount{"deep-elided", special.deepElided},
	)
	base := filepath.Join(*out, fmt.Sprintf("goroutines-%d", *n))

	// debug=2: runtime.Stack with a buffer large enough for everything (WriteTo(w, 2) caps at 64 MiB).
	t := time.Now()
	size := *n*1600 + 64<<20
	var buf []byte
	for {
		buf = make([]byte, size)
		k := runtime.Stack(buf, true)
		if k < len(buf) {
			buf = buf[:k]
			break
		}
		size *= 2
	}
	m.NumGoroutine = runtime.NumGoroutine()
	d2 := fileInfo{Format: "debug2", Path: base + ".debug2.txt", Seconds: time.Since(t).Seconds()}
	m.States = map[string]int64{}
	d2.Goroutines, d2.Labeled, d2.Lines = scanDebug2(buf, m.States)
	writeFile(d2.Path, buf)
	d2.Bytes = int64(len(buf))
	buf = nil
	m.Goroutines = d2.Goroutines
	m.Files = append(m.Files, d2)
	runtime.GC()

	var b bytes.Buffer
	t = time.Now()
	if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
		fatalf("debug=1 profile: %v", err)
	}
	d1 := fileInfo{Format: "debug1", Path: base + ".debug1.txt", Seconds: time.Since(t).Seconds(), Bytes: int64(b.Len())}
	total, sum, records, err := scanDebug1(b.Bytes())
	if err != nil {
		fatalf("debug=1 profile: %v", err)
	}
	if total != sum {
		logf("debug=1 header says total %d but the records add up to %d", total, sum)
		m.Consistent = false
	}
	d1.Goroutines, d1.Records, d1.Lines = total, records, int64(bytes.Count(b.Bytes(), []byte{'\n'}))
	writeFile(d1.Path, b.Bytes())
	m.Files = append(m.Files, d1)

	b.Reset()
	t = time.Now()
	if err := pprof.Lookup("goroutine").WriteTo(&b, 0); err != nil {
		fatalf("debug=0 profile: %v", err)
	}
	d0 := fileInfo{Format: "proto", Path: base + ".pb.gz", Seconds: time.Since(t).Seconds(), Bytes: int64(b.Len())}
	d0.Goroutines, d0.Records, err = countProto(b.Bytes())
	if err != nil {
		fatalf("debug=0 profile: %v", err)
	}
	writeFile(d0.Path, b.Bytes())
	m.Files = append(m.Files, d0)

	for _, f := range m.Files {
		if f.Goroutines != m.Goroutines {
			logf("%s has %d goroutines, debug=2 has %d", f.Format, f.Goroutines, m.Goroutines)
			m.Consistent = false
		}
	}
	if int64(m.NumGoroutine) != m.Goroutines {
		logf("runtime.NumGoroutine() = %d, debug=2 has %d", m.NumGoroutine, m.Goroutines)
		m.Consistent = false
	}
	j, err := json.MarshalIndent(&m, "", "  ")
	if err != nil {
		fatalf("%v", err)
	}
	writeFile(base+".manifest.json", append(j, '\n'))
	logf("wrote %s.{debug2.txt,debug1.txt,pb.gz,manifest.json}: %d goroutines, debug=2 %.1f MB in %.2fs",
		base, m.Goroutines, float64(d2.Bytes)/1e6, d2.Seconds)
	if !m.Consistent {
		os.Exit(3)
	}
}

// waitParked waits until every instrumented goroutine has reached its blocking call and the
// scheduler has nothing left to run (bar this goroutine) for several consecutive readings.
func waitParked(deadline time.Time) error {
	for arrived.Load() < expected.Load() {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d goroutines reached their blocking call in time", arrived.Load(), expected.Load())
		}
		time.Sleep(2 * time.Millisecond)
	}
	samples := []metrics.Sample{
		{Name: "/sched/goroutines/runnable:goroutines"},
		{Name: "/sched/goroutines/running:goroutines"},
	}
	calm := 0
	for calm < 5 {
		if time.Now().After(deadline) {
			return fmt.Errorf("the scheduler never went quiet: %d runnable, %d running",
				samples[0].Value.Uint64(), samples[1].Value.Uint64())
		}
		time.Sleep(5 * time.Millisecond)
		metrics.Read(samples)
		if samples[0].Value.Uint64() == 0 && samples[1].Value.Uint64() <= 1 {
			calm++
		} else {
			calm = 0
		}
	}
	return nil
}

// writeFile writes data next to path and renames it into place, so an interrupted run never
// leaves a file that looks complete.
func writeFile(path string, data []byte) {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		fatalf("%v", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		fatalf("%v", err)
	}
}

// scanDebug2 counts goroutine headers, labelled headers and lines, and tallies header states.
func scanDebug2(buf []byte, states map[string]int64) (goroutines, labeled, lines int64) {
	for len(buf) > 0 {
		line := buf
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			line, buf = buf[:i], buf[i+1:]
		} else {
			buf = nil
		}
		lines++
		if !bytes.HasPrefix(line, []byte("goroutine ")) || !bytes.HasSuffix(line, []byte(":")) {
			continue
		}
		open := bytes.IndexByte(line, '[')
		end := bytes.IndexByte(line, ']')
		if open < 0 || end < open {
			continue
		}
		goroutines++
		states[string(line[open+1:end])]++
		if bytes.Contains(line[end:], []byte("] {")) {
			labeled++
		}
	}
	return goroutines, labeled, lines
}

// scanDebug1 reads the declared total and adds up the "N @" record counts of a debug=1 profile.
func scanDebug1(b []byte) (total, sum, records int64, err error) {
	lines := bytes.Split(b, []byte{'\n'})
	if len(lines) == 0 {
		return 0, 0, 0, fmt.Errorf("empty")
	}
	if _, err := fmt.Sscanf(string(lines[0]), "goroutine profile: total %d", &total); err != nil {
		return 0, 0, 0, fmt.Errorf("first line %q: %v", lines[0], err)
	}
	for _, l := range lines[1:] {
		var c int64
		if i := bytes.Index(l, []byte(" @")); i > 0 && l[0] >= '0' && l[0] <= '9' {
			if _, err := fmt.Sscanf(string(l[:i]), "%d", &c); err == nil {
				sum += c
				records++
			}
		}
	}
	return total, sum, records, nil
}
