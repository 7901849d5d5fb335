//go:build ignore

// Writes the small real traces beside this file (seed-go1.NN.trace), which the property tests
// mutate: a goroutine from before the window, short-lived workers, a chan-send leak, a select{}
// and a mutex waiter, over two generations (the runtime starts one per second).
//
//	GOTOOLCHAIN=local go run seed.go seed-go1.27.trace
package main

import (
	"os"
	"runtime/trace"
	"sync"
	"time"
)

func main() {
	pre := make(chan int)
	go func() { <-pre }()
	time.Sleep(10 * time.Millisecond)
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := trace.Start(f); err != nil {
		panic(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); time.Sleep(time.Millisecond) }()
	}
	wg.Wait()
	leak := make(chan int)
	go func() { leak <- 1 }()
	go func() { select {} }()
	var mu sync.Mutex
	mu.Lock()
	go func() { mu.Lock() }()
	time.Sleep(1100 * time.Millisecond)
	close(pre)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); time.Sleep(time.Millisecond) }()
	}
	wg.Wait()
	time.Sleep(10 * time.Millisecond)
	trace.Stop()
	f.Close()
}
