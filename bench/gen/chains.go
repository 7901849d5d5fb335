package main

// Call chains that put 2–30 real frames between a goroutine's entry and its blocking call, so the
// dump has the stack depths and frame shapes of a service: mutually recursive methods on pointer
// receivers, plain recursion, a generic function, a linked-structure walk and a middleware chain
// of closures. Every chain ends by calling park, which blocks for the rest of the process.

const (
	chainService = iota
	chainRecursive
	chainGeneric
	chainTree
	chainMiddleware
	numChains
)

var chainNames = [numChains]string{"service", "recursive", "generic", "tree", "middleware"}

// descend runs park under depth frames of the chain kind.
func descend(kind, depth int, park func()) {
	switch kind {
	case chainService:
		theRouter.ServeRequest(depth, park)
	case chainRecursive:
		_ = recurse(depth, park)
	case chainGeneric:
		switch depth % 3 {
		case 0:
			descendT(depth, depth, park)
		case 1:
			descendT(depth, "tenant", park)
		default:
			descendT(depth, &Order{ID: uint64(depth)}, park)
		}
	case chainTree:
		treeOfDepth(depth).walk(park)
	default:
		applyMiddleware(depth, park)
	}
}

// Service chain: router → service → repository → retry → router …

type Order struct {
	ID     uint64
	Tenant string
}

type Router struct{ svc *OrderService }
type OrderService struct{ repo *OrderRepository }
type OrderRepository struct {
	table string
	retry int
}

var theRouter = &Router{svc: &OrderService{repo: &OrderRepository{table: "orders", retry: 3}}}

//go:noinline
func (r *Router) ServeRequest(depth int, park func()) {
	if depth <= 0 {
		park()
		return
	}
	r.svc.PlaceOrder(depth-1, park)
}

//go:noinline
func (s *OrderService) PlaceOrder(depth int, park func()) {
	if depth <= 0 {
		park()
		return
	}
	s.repo.Insert(depth-1, park)
}

//go:noinline
func (r *OrderRepository) Insert(depth int, park func()) {
	if depth <= 0 {
		park()
		return
	}
	withRetry(depth-1, r.retry, park)
}

//go:noinline
func withRetry(depth, attempts int, park func()) {
	if depth <= 0 || attempts <= 0 {
		park()
		return
	}
	theRouter.ServeRequest(depth-1, park)
}

//go:noinline
func recurse(depth int, park func()) int {
	if depth <= 0 {
		park()
		return 0
	}
	return recurse(depth-1, park) + 1
}

//go:noinline
func descendT[T any](depth int, v T, park func()) {
	if depth <= 0 {
		park()
		return
	}
	descendT(depth-1, v, park)
}

// Tree walk: a shared linked chain of nodes per depth.

type node struct {
	next  *node
	level int
}

var trees [maxDepth + 1]*node

func init() {
	for d := range trees {
		var head *node
		for l := range d {
			head = &node{next: head, level: l}
		}
		trees[d] = head
	}
}

func treeOfDepth(d int) *node {
	return trees[min(max(d, 0), maxDepth)]
}

//go:noinline
func (n *node) walk(park func()) {
	if n == nil || n.next == nil {
		park()
		return
	}
	n.next.walk(park)
}

// Middleware chain: handlers wrapped in closures, as net/http middleware does.

type handlerFunc func()

func logging(next handlerFunc) handlerFunc    { return func() { next(); logSink++ } }
func auth(next handlerFunc) handlerFunc       { return func() { next(); authChecks++ } }
func instrument(next handlerFunc) handlerFunc { return func() { next(); requestsSeen++ } }
func tracing(next handlerFunc) handlerFunc    { return func() { next(); spans++ } }
func recoverer(next handlerFunc) handlerFunc {
	return func() {
		defer func() { _ = recover() }()
		next()
	}
}

var (
	middlewares                              = []func(handlerFunc) handlerFunc{logging, auth, instrument, tracing, recoverer}
	logSink, authChecks, requestsSeen, spans int
)

func applyMiddleware(depth int, park func()) {
	h := handlerFunc(park)
	for i := range depth {
		h = middlewares[i%len(middlewares)](h)
	}
	h()
}
