package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets the test binary run the generator itself (in a child process: the generator
// leaves its goroutines parked and exits).
func TestMain(m *testing.M) {
	if os.Getenv("GOROSCOPE_GEN_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestGeneratesConsistentDumps(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-n", "2000", "-out", dir, "-timeout", "2m")
	cmd.Env = append(os.Environ(), "GOROSCOPE_GEN_RUN_MAIN=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("generator failed: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "goroutines-2000.manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if !m.Consistent || m.Goroutines < 2000 || m.Goroutines > 2200 {
		t.Fatalf("manifest: consistent=%v goroutines=%d", m.Consistent, m.Goroutines)
	}
	if len(m.Files) != 3 {
		t.Fatalf("want 3 files, got %+v", m.Files)
	}
	for _, f := range m.Files {
		st, err := os.Stat(f.Path)
		if err != nil || st.Size() != f.Bytes {
			t.Errorf("%s: stat %v, size %d, manifest says %d", f.Path, err, st.Size(), f.Bytes)
		}
		if f.Goroutines != m.Goroutines {
			t.Errorf("%s: %d goroutines, debug=2 has %d", f.Format, f.Goroutines, m.Goroutines)
		}
	}
	for _, state := range []string{
		"chan receive", "chan send", "chan receive (nil chan)", "chan send (nil chan)",
		"select", "select (no cases)", "sync.Mutex.Lock", "sync.RWMutex.RLock",
		"sync.WaitGroup.Wait", "sync.Cond.Wait", "sleep", "IO wait", "syscall",
		"chan receive, locked to thread", "running",
	} {
		if m.States[state] == 0 {
			t.Errorf("no goroutine in state %q: %v", state, m.States)
		}
	}
	d2 := m.Files[0]
	if d2.Labeled*4 < d2.Goroutines || d2.Labeled*5 > 2*d2.Goroutines {
		t.Errorf("labelled goroutines %d of %d: want about a third", d2.Labeled, d2.Goroutines)
	}
	text, err := os.ReadFile(d2.Path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		// Function names without the package: a test binary names package main by its path.
		"frames elided...", `tenant: "acme corp"`, ".(*supervisor).run in goroutine ",
		".descendT[...](", ".(*Queue[...]).Pop(", ".(*Registry[...]).WaitFor(", ".stage[...](",
		"runtime/pprof.Do(", "net/http.(*conn).serve(", "sync.(*Once).doSlow(",
	} {
		if !bytes.Contains(text, []byte(want)) {
			t.Errorf("debug=2 dump lacks %q", want)
		}
	}
	d1, err := os.ReadFile(m.Files[1].Path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(d1), "goroutine profile: total ") {
		t.Errorf("debug=1 starts with %q", d1[:min(len(d1), 40)])
	}
}

func TestScanDebug1RejectsOtherText(t *testing.T) {
	if _, _, _, err := scanDebug1([]byte("goroutine 1 [running]:\n")); err == nil {
		t.Fatal("want an error for debug=2 text")
	}
	total, sum, records, err := scanDebug1([]byte("goroutine profile: total 5\n3 @ 0x1 0x2\n#\t0x1\n\n2 @ 0x3\n"))
	if err != nil || total != 5 || sum != 5 || records != 2 {
		t.Fatalf("got %d %d %d %v", total, sum, records, err)
	}
}

func TestCountProtoRejectsGarbage(t *testing.T) {
	if _, _, err := countProto([]byte("not gzip")); err == nil {
		t.Fatal("want an error")
	}
}
