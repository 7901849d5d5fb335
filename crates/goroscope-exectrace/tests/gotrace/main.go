// Command goroscopecheck prints the runtime's own view of an execution trace, for
// goroscope-exectrace's tests and benchmarks to compare against. It imports internal/trace,
// so it is built inside the toolchain's GOROOT with `go build -overlay` (the tree itself is
// left untouched).
//
//	goroscopecheck summary TRACE   one JSON line per goroutine: internal/trace's goroutine
//	                               summary (what `go tool trace` shows), plus the creator
//	                               and creation stack's first frame
//	goroscopecheck parse TRACE     read every event and print the count (the parser's cost)
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"internal/trace"
	"io"
	"os"
	"sort"
)

type goroutine struct {
	ID           int64            `json:"id"`
	Name         string           `json:"name"`
	CreationTime int64            `json:"creation_time"`
	StartTime    int64            `json:"start_time"`
	EndTime      int64            `json:"end_time"`
	ExecTime     int64            `json:"exec_time"`
	SchedWait    int64            `json:"sched_wait_time"`
	Syscall      int64            `json:"syscall_time"`
	SyscallBlock int64            `json:"syscall_block_time"`
	TotalTime    int64            `json:"total_time"`
	Block        map[string]int64 `json:"block_time_by_reason"`
	Creator      int64            `json:"creator"`
	CreatedBy    string           `json:"created_by"`
	CreatedLine  uint64           `json:"created_by_line"`
	Starts       int              `json:"starts"`
	LastState    string           `json:"last_state"`
	LastReason   string           `json:"last_reason"`
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: goroscopecheck summary|parse TRACE")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	r, err := trace.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	summary := os.Args[1] == "summary"
	s := trace.NewSummarizer()
	extra := map[trace.GoID]*goroutine{}
	get := func(id trace.GoID) *goroutine {
		g := extra[id]
		if g == nil {
			g = &goroutine{ID: int64(id), Creator: -1}
			extra[id] = g
		}
		return g
	}
	events := 0
	var readErr error
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		events++
		if !summary {
			continue
		}
		s.Event(&ev)
		if ev.Kind() != trace.EventStateTransition {
			continue
		}
		st := ev.StateTransition()
		if st.Resource.Kind != trace.ResourceGoroutine {
			continue
		}
		from, to := st.Goroutine()
		g := get(st.Resource.Goroutine())
		if from == to {
			continue
		}
		if from == trace.GoNotExist && to != trace.GoNotExist {
			g.Creator = int64(ev.Goroutine())
			if fr, ok := firstFrame(ev.Stack()); ok {
				g.CreatedBy = fr.Func
				g.CreatedLine = fr.Line
			}
		}
		if to == trace.GoRunning {
			g.Starts++
		}
		g.LastState = to.String()
		g.LastReason = st.Reason
	}
	if !summary {
		fmt.Printf("%d events\n", events)
	} else {
		sum := s.Finalize()
		ids := make([]int, 0, len(sum.Goroutines))
		for id := range sum.Goroutines {
			ids = append(ids, int(id))
		}
		sort.Ints(ids)
		enc := json.NewEncoder(os.Stdout)
		for _, id := range ids {
			gs := sum.Goroutines[trace.GoID(id)]
			g := get(trace.GoID(id))
			g.Name = gs.Name
			g.CreationTime = int64(gs.CreationTime)
			g.StartTime = int64(gs.StartTime)
			g.EndTime = int64(gs.EndTime)
			g.ExecTime = int64(gs.ExecTime)
			g.SchedWait = int64(gs.SchedWaitTime)
			g.Syscall = int64(gs.SyscallTime)
			g.SyscallBlock = int64(gs.SyscallBlockTime)
			g.TotalTime = int64(gs.TotalTime)
			g.Block = map[string]int64{}
			for k, v := range gs.BlockTimeByReason {
				g.Block[k] = int64(v)
			}
			enc.Encode(g)
		}
	}
	if readErr != nil {
		fmt.Fprintf(os.Stderr, "ERROR %v\n", readErr)
	}
}
