//go:build !go1.25

package main

import "internal/trace"

func firstFrame(s trace.Stack) (trace.StackFrame, bool) {
	var first trace.StackFrame
	ok := false
	s.Frames(func(f trace.StackFrame) bool {
		first, ok = f, true
		return false
	})
	return first, ok
}
