package main

import (
	"context"
	"sync"
	"time"
)

// The bulk of the dump: goroutines parked in the ways services park them. Each shape shares one
// group object (a channel, a lock, a queue) among up to groupSize goroutines, as real fan-out does.
// A group's Block is what one member runs after its call chain; it must block for good.

type blocker interface {
	Block(i int)
}

type shape struct {
	name      string
	weight    int // share of the bulk
	groupSize int
	minDepth  int
	maxDepth  int
	newGroup  func() blocker
}

const maxDepth = 30

var shapes = []shape{
	{"chan-receive", 12, 1000, 2, 30, func() blocker { return &Inbox{ch: make(chan Message)} }},
	{"chan-send", 6, 1000, 2, 30, func() blocker { return &Outbox{ch: make(chan Message)} }},
	{"chan-receive-nil", 2, 1, 2, 12, func() blocker { return nilChans{} }},
	{"chan-send-nil", 1, 1, 2, 12, func() blocker { return nilChans{} }},
	{"select", 8, 500, 2, 30, func() blocker { return newConn() }},
	{"select-many", 4, 500, 2, 20, func() blocker { return newBroker() }},
	{"select-timer", 3, 1000, 2, 16, func() blocker { return &Watcher{events: make(chan string)} }},
	{"select-no-cases", 1, 1, 2, 8, func() blocker { return forever{} }},
	{"mutex", 8, 500, 2, 30, newAccount},
	{"rwmutex", 5, 500, 2, 24, newCache},
	{"waitgroup", 5, 500, 2, 20, newBatch},
	{"cond", 5, 500, 2, 20, newWorkQueue},
	{"once", 2, 500, 2, 16, newConfig},
	{"sleep", 5, 1, 2, 30, func() blocker { return backoff{} }},
	{"context-done", 5, 1000, 2, 30, newSession},
	{"semaphore", 3, 500, 2, 16, newSemaphore},
	{"pipeline-stage", 4, 1, 2, 12, newPipeline},
	{"worker-pool", 8, 256, 2, 6, func() blocker { return &Pool{jobs: make(chan func())} }},
	{"generic-queue", 4, 1000, 2, 20, newQueues},
	{"generic-consume", 3, 1000, 2, 12, func() blocker { return &Feed{ticks: make(chan int64), names: make(chan string)} }},
	{"generic-registry", 2, 1000, 2, 12, newRegistry},
	{"nested-closure", 2, 1000, 2, 12, func() blocker { return &Server{quit: make(chan struct{})} }},
	{"request-reply", 3, 1, 2, 20, func() blocker { return &Request{reply: make(chan Response)} }},
	{"global-channel", 2, 1, 2, 10, func() blocker { return globalListener{} }},
	{"ticker-loop", 2, 1000, 2, 10, newHeartbeat},
}

// chan receive / send.

type Message struct {
	Key   string
	Value []byte
}

type Inbox struct{ ch chan Message }

func (b *Inbox) Block(int) { _ = b.Receive() }

//go:noinline
func (b *Inbox) Receive() Message { return <-b.ch }

type Outbox struct{ ch chan Message }

func (o *Outbox) Block(i int) { o.Publish(Message{Key: "order", Value: []byte{byte(i)}}) }

//go:noinline
func (o *Outbox) Publish(m Message) { o.ch <- m }

type nilChans struct{}

func (nilChans) Block(i int) {
	if i%2 == 0 {
		waitOnNilChannel()
	} else {
		sendOnNilChannel(i)
	}
}

//go:noinline
func waitOnNilChannel() {
	var c chan int
	<-c
}

//go:noinline
func sendOnNilChannel(v int) {
	var c chan int
	c <- v
}

// select.

type Conn struct {
	data   chan []byte
	closed chan struct{}
}

func newConn() blocker { return &Conn{data: make(chan []byte), closed: make(chan struct{})} }

func (c *Conn) Block(int) { _ = c.readOrClose() }

//go:noinline
func (c *Conn) readOrClose() []byte {
	select {
	case b := <-c.data:
		return b
	case <-c.closed:
		return nil
	}
}

type Broker struct {
	orders, payments, refunds chan Message
	control                   chan string
	quit                      chan struct{}
}

func newBroker() blocker {
	return &Broker{make(chan Message), make(chan Message), make(chan Message), make(chan string), make(chan struct{})}
}

func (b *Broker) Block(int) { b.dispatch() }

//go:noinline
func (b *Broker) dispatch() {
	for {
		select {
		case m := <-b.orders:
			_ = m
		case m := <-b.payments:
			_ = m
		case m := <-b.refunds:
			_ = m
		case c := <-b.control:
			_ = c
		case <-b.quit:
			return
		}
	}
}

type Watcher struct{ events chan string }

func (w *Watcher) Block(i int) {
	_ = w.pollWithTimeout(2*time.Hour + time.Duration(i)*time.Millisecond)
}

//go:noinline
func (w *Watcher) pollWithTimeout(d time.Duration) string {
	select {
	case e := <-w.events:
		return e
	case <-time.After(d):
		return ""
	}
}

type forever struct{}

func (forever) Block(int) { blockForever() }

//go:noinline
func blockForever() { select {} }

// sync.Mutex held by a goroutine that is itself stuck.

type Account struct {
	mu      sync.Mutex
	balance int64
	audit   chan struct{}
}

func newAccount() blocker {
	a := &Account{audit: make(chan struct{})}
	locked := make(chan struct{})
	expected.Add(1)
	go a.auditLocked(locked)
	<-locked
	return a
}

//go:noinline
func (a *Account) auditLocked(locked chan<- struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	close(locked)
	arrive()
	<-a.audit
}

func (a *Account) Block(i int) { a.Withdraw(int64(i)) }

//go:noinline
func (a *Account) Withdraw(n int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.balance -= n
}

// sync.RWMutex: a writer holds it; readers wait in RLock, other writers in Lock.

type Cache struct {
	mu    sync.RWMutex
	items map[string][]byte
	stall chan struct{}
}

func newCache() blocker {
	c := &Cache{items: map[string][]byte{}, stall: make(chan struct{})}
	locked := make(chan struct{})
	expected.Add(1)
	go c.rebuild(locked)
	<-locked
	return c
}

//go:noinline
func (c *Cache) rebuild(locked chan<- struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	close(locked)
	arrive()
	<-c.stall
}

func (c *Cache) Block(i int) {
	if i%4 == 0 {
		c.Set("k", nil)
	} else {
		_ = c.Get("k")
	}
}

//go:noinline
func (c *Cache) Get(k string) []byte {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.items[k]
}

//go:noinline
func (c *Cache) Set(k string, v []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.items[k] = v
}

// sync.WaitGroup whose Done never comes.

type Batch struct{ wg sync.WaitGroup }

func newBatch() blocker {
	b := &Batch{}
	b.wg.Add(1)
	return b
}

func (b *Batch) Block(int) { b.AwaitFlush() }

//go:noinline
func (b *Batch) AwaitFlush() { b.wg.Wait() }

// sync.Cond with nothing ever signalled.

type WorkQueue struct {
	mu    sync.Mutex
	cond  *sync.Cond
	items []int
}

func newWorkQueue() blocker {
	q := &WorkQueue{}
	q.cond = sync.NewCond(&q.mu)
	return q
}

func (q *WorkQueue) Block(int) { _ = q.Pop() }

//go:noinline
func (q *WorkQueue) Pop() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 {
		q.cond.Wait()
	}
	v := q.items[0]
	q.items = q.items[1:]
	return v
}

// sync.Once whose initialiser is stuck: later callers wait on the Once's mutex.

type Config struct {
	once   sync.Once
	values map[string]string
	source chan map[string]string
}

func newConfig() blocker {
	c := &Config{source: make(chan map[string]string)}
	inside := make(chan struct{})
	expected.Add(1)
	go c.loadFirst(inside)
	<-inside
	return c
}

//go:noinline
func (c *Config) loadFirst(inside chan<- struct{}) {
	c.once.Do(func() {
		close(inside)
		arrive()
		c.values = <-c.source
	})
}

func (c *Config) Block(int) { _ = c.Lookup("region") }

//go:noinline
func (c *Config) Lookup(k string) string {
	c.once.Do(func() { c.values = <-c.source })
	return c.values[k]
}

// time.Sleep.

type backoff struct{}

func (backoff) Block(i int) { retryAfter(3*time.Hour + time.Duration(i)*time.Microsecond) }

//go:noinline
func retryAfter(d time.Duration) { time.Sleep(d) }

// <-ctx.Done() on a context nobody cancels.

type Session struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func newSession() blocker {
	ctx, cancel := context.WithCancel(context.Background())
	return &Session{ctx: ctx, cancel: cancel}
}

func (s *Session) Block(int) { s.awaitCancel() }

//go:noinline
func (s *Session) awaitCancel() { <-s.ctx.Done() }

// A semaphore (full buffered channel).

type Semaphore struct{ slots chan struct{} }

func newSemaphore() blocker {
	s := &Semaphore{slots: make(chan struct{}, 4)}
	for range cap(s.slots) {
		s.slots <- struct{}{}
	}
	return s
}

func (s *Semaphore) Block(int) { s.Acquire() }

//go:noinline
func (s *Semaphore) Acquire() { s.slots <- struct{}{} }

// A generic pipeline stage waiting for input.

type Pipeline struct {
	ints      chan int
	intsOut   chan int
	strings   chan string
	stringOut chan string
}

func newPipeline() blocker {
	return &Pipeline{make(chan int), make(chan int), make(chan string), make(chan string)}
}

func (p *Pipeline) Block(i int) {
	if i%2 == 0 {
		stage(p.ints, p.intsOut)
	} else {
		stage(p.strings, p.stringOut)
	}
}

//go:noinline
func stage[T any](in <-chan T, out chan<- T) {
	for v := range in {
		out <- v
	}
	close(out)
}

// A worker pool whose job channel stays open and empty.

type Pool struct{ jobs chan func() }

func (p *Pool) Block(i int) { p.worker(i) }

//go:noinline
func (p *Pool) worker(id int) {
	for job := range p.jobs {
		job()
	}
	_ = id
}

// A generic queue (method on a generic pointer receiver).

type Queue[T any] struct {
	items  chan T
	closed chan struct{}
}

//go:noinline
func (q *Queue[T]) Pop() (T, bool) {
	select {
	case v := <-q.items:
		return v, true
	case <-q.closed:
		var zero T
		return zero, false
	}
}

type queues struct {
	orders *Queue[Order]
	names  *Queue[string]
}

func newQueues() blocker {
	return &queues{
		&Queue[Order]{items: make(chan Order), closed: make(chan struct{})},
		&Queue[string]{items: make(chan string), closed: make(chan struct{})},
	}
}

func (q *queues) Block(i int) {
	if i%3 == 0 {
		_, _ = q.names.Pop()
	} else {
		_, _ = q.orders.Pop()
	}
}

// A generic consumer function.

type Feed struct {
	ticks chan int64
	names chan string
}

func (f *Feed) Block(i int) {
	if i%2 == 0 {
		Consume(f.ticks, func(int64) {})
	} else {
		Consume(f.names, func(string) {})
	}
}

//go:noinline
func Consume[T any](ch <-chan T, fn func(T)) {
	for v := range ch {
		fn(v)
	}
}

// A generic registry with two type parameters: callers wait for a key to appear.

type Registry[K comparable, V any] struct {
	mu      sync.Mutex
	waiters map[K][]chan V
}

//go:noinline
func (r *Registry[K, V]) WaitFor(k K) V {
	w := make(chan V)
	r.mu.Lock()
	r.waiters[k] = append(r.waiters[k], w)
	r.mu.Unlock()
	return <-w
}

type registries struct {
	services *Registry[string, *Order]
	shards   *Registry[int, []string]
}

func newRegistry() blocker {
	return &registries{
		&Registry[string, *Order]{waiters: map[string][]chan *Order{}},
		&Registry[int, []string]{waiters: map[int][]chan []string{}},
	}
}

func (r *registries) Block(i int) {
	if i%2 == 0 {
		_ = r.services.WaitFor("payments")
	} else {
		_ = r.shards.WaitFor(i % 16)
	}
}

// Closures nested in a method.

type Server struct{ quit chan struct{} }

func (s *Server) Block(i int) { s.handleConn(i) }

//go:noinline
func (s *Server) handleConn(id int) {
	serve := func() {
		drain := func() {
			<-s.quit
		}
		drain()
	}
	serve()
	_ = id
}

// A request waiting for its reply.

type Response struct {
	Status int
	Body   []byte
}

type Request struct{ reply chan Response }

func (r *Request) Block(int) { _ = r.awaitReply() }

//go:noinline
func (r *Request) awaitReply() Response { return <-r.reply }

// A listener on a channel that a global keeps reachable (a healthy wait, not a leak).

var globalEvents = make(chan string)

type globalListener struct{}

func (globalListener) Block(int) { listenGlobal() }

//go:noinline
func listenGlobal() {
	for e := range globalEvents {
		_ = e
	}
}

// A ticker loop that will not tick for hours.

type Heartbeat struct {
	ticker *time.Ticker
	done   chan struct{}
}

func newHeartbeat() blocker {
	return &Heartbeat{ticker: time.NewTicker(6 * time.Hour), done: make(chan struct{})}
}

func (h *Heartbeat) Block(int) { h.loop() }

//go:noinline
func (h *Heartbeat) loop() {
	for {
		select {
		case <-h.ticker.C:
		case <-h.done:
			return
		}
	}
}
