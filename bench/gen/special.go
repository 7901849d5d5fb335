package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"syscall"
)

// Goroutines that need real kernel objects: loopback TCP connections and an HTTP server whose
// handlers hang (IO wait, select), pipes (IO wait), raw blocking reads ([syscall]), goroutines
// locked to their thread, and a few stacks deep enough for the runtime to elide frames.

// specialCounts says how many goroutines each special shape gets for a dump of n.
type specialCounts struct {
	tcpConns   int // each gives a server reader and a client reader
	httpCalls  int // each gives a hanging handler plus net/http's own goroutines
	pipes      int
	syscalls   int
	locked     int
	deepElided int
}

func countsFor(n int) specialCounts {
	clamp := func(v, lo, hi int) int { return min(max(v, lo), hi) }
	if n < 1000 {
		return specialCounts{}
	}
	return specialCounts{
		tcpConns:   clamp(n/100, 1, 300),
		httpCalls:  clamp(n/1000, 1, 50),
		pipes:      8,
		syscalls:   2,
		locked:     2,
		deepElided: 4,
	}
}

// members is how many of n's goroutines the special shapes account for.
func (c specialCounts) members() int {
	return 2*c.tcpConns + c.httpCalls + c.pipes + c.syscalls + c.locked + c.deepElided
}

// EchoServer accepts loopback connections and reads lines that never come.
type EchoServer struct {
	ln       net.Listener
	want     int
	accepted int
}

//go:noinline
func (s *EchoServer) acceptLoop() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			fatalf("accept: %v", err)
		}
		s.accepted++
		labels := s.accepted%2 == 0
		if labels {
			pprof.Do(context.Background(), pprof.Labels("listener", "echo", "peer", "loopback"), func(context.Context) {
				go s.serveConn(c)
			})
		} else {
			go s.serveConn(c)
		}
		if s.accepted == s.want {
			arrive() // the next Accept parks for good
		}
	}
}

//go:noinline
func (s *EchoServer) serveConn(c net.Conn) {
	r := bufio.NewReader(c)
	arrive()
	line, err := r.ReadString('\n')
	_, _ = line, err
	select {} // the peer never writes nor closes; unreachable
}

// EchoClient waits for replies to requests it never sent.
type EchoClient struct{ conn net.Conn }

//go:noinline
func (c *EchoClient) readReplies() {
	buf := make([]byte, 64)
	arrive()
	_, err := io.ReadFull(c.conn, buf)
	_ = err
	select {}
}

// OrdersAPI is an HTTP handler that hangs: its clients wait for headers forever.
type OrdersAPI struct{ backend chan Order }

func (a *OrdersAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	pprof.Do(r.Context(), pprof.Labels("handler", r.URL.Path, "method", r.Method), func(ctx context.Context) {
		a.waitForBackend(ctx, w)
	})
}

//go:noinline
func (a *OrdersAPI) waitForBackend(ctx context.Context, w http.ResponseWriter) {
	arrive()
	select {
	case o := <-a.backend:
		fmt.Fprintln(w, o.ID)
	case <-ctx.Done():
	}
}

//go:noinline
func callOrders(client *http.Client, url string) {
	resp, err := client.Get(url)
	if err == nil {
		resp.Body.Close()
	}
}

//go:noinline
func pipeReader(f *os.File) {
	buf := make([]byte, 16)
	arrive()
	_, _ = f.Read(buf)
	select {}
}

//go:noinline
func rawBlockingRead(fd int) {
	buf := make([]byte, 16)
	arrive()
	_, _ = syscall.Read(fd, buf)
	select {}
}

//go:noinline
func lockedWorker(never chan struct{}) {
	runtime.LockOSThread()
	arrive()
	<-never
}

// keep holds the kernel objects alive (and unclosed) for the life of the process.
var keep []any

// startSpecial starts the special goroutines from the calling goroutine.
func startSpecial(c specialCounts) {
	if c.tcpConns > 0 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fatalf("listen: %v", err)
		}
		srv := &EchoServer{ln: ln, want: c.tcpConns}
		expected.Add(int64(1 + c.tcpConns))
		go srv.acceptLoop()
		for range c.tcpConns {
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				fatalf("dial loopback: %v", err)
			}
			keep = append(keep, conn)
			expected.Add(1)
			go (&EchoClient{conn: conn}).readReplies()
		}
		keep = append(keep, ln)
	}
	if c.httpCalls > 0 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fatalf("listen: %v", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/api/orders/", &OrdersAPI{backend: make(chan Order)})
		server := &http.Server{Handler: mux}
		go func() { _ = server.Serve(ln) }()
		client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, DisableCompression: true}}
		expected.Add(int64(c.httpCalls))
		for i := range c.httpCalls {
			go callOrders(client, fmt.Sprintf("http://%s/api/orders/%d", ln.Addr(), i%5))
		}
		keep = append(keep, server, ln)
	}
	for range c.pipes {
		r, w, err := os.Pipe()
		if err != nil {
			fatalf("pipe: %v", err)
		}
		keep = append(keep, r, w)
		expected.Add(1)
		go pipeReader(r)
	}
	for range c.syscalls {
		var fds [2]int
		if err := syscall.Pipe(fds[:]); err != nil {
			fatalf("pipe: %v", err)
		}
		keep = append(keep, fds)
		expected.Add(1)
		go rawBlockingRead(fds[0])
	}
	never := make(chan struct{})
	for range c.locked {
		expected.Add(1)
		go lockedWorker(never)
	}
	for range c.deepElided {
		expected.Add(1)
		go recurse(140, func() { arrive(); <-never })
	}
}
