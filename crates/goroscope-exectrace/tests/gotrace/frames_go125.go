//go:build go1.25

package main

import "internal/trace"

func firstFrame(s trace.Stack) (trace.StackFrame, bool) {
	for f := range s.Frames() {
		return f, true
	}
	return trace.StackFrame{}, false
}
