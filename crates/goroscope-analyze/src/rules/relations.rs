//! Patterns decided by relations, size, context and lifecycles rather than by one group's
//! frames: the relation layer ([`crate::relate`]), the lifecycle rule ([`crate::lifecycle`]) and
//! the judge ([`crate::judge`]) name them, and they are in
//! the catalog so `-A`/`-W`/`-D`, the config file and `goroscope rules` know them. Their `check`
//! never fires on its own.

use super::{Ctx, Finding, Rule};

fn decided_elsewhere(_: &Ctx<'_>) -> Option<Finding> {
    None
}

pub const DEADLOCK: Rule = Rule {
    id: "deadlock",
    summary: "goroutines that wait on each other in a cycle, or a program in which nothing can run",
    why: "each goroutine of the cycle waits for another one of it to send, receive, unlock or call Done, so none ever proceeds; when every user goroutine waits on a channel or lock and nothing (I/O, a timer, a signal) can wake one, the whole program is stuck, as the runtime's own detector would say",
    example: "fixtures/go/relations/deadlock-pipeline/main.go: pipeline stages connected by unbuffered channels, each blocked sending to the next while the last sends back to the first",
    fix: "break the cycle: take locks in one global order, do not send on an unbuffered channel while its receiver waits for you (buffer it or select on ctx.Done()), never Wait on a WaitGroup before its workers can finish",
    check: decided_elsewhere,
};

pub const LOCK_HELD_TOO_LONG: Rule = Rule {
    id: "lock-held-too-long",
    summary: "goroutines waiting on a lock whose holder is busy (running) inside the object that contains it",
    why: "the lock is not leaked but held for the whole of a long computation or call, so every other user queues behind it: a lock convoy that shows as goroutines blocked for minutes",
    example: "fixtures/go/relations/lock-chain/main.go: 13 goroutines wait on a Node's mutex held by a goroutine that waits on a Sim's mutex held by a goroutine computing in (*Sim).Update",
    fix: "shorten the critical section: copy what you need under the lock and do the work (I/O, computation, calls) after Unlock; or split the lock",
    check: decided_elsewhere,
};

pub const LOCK_HELD_WHILE_BLOCKED: Rule = Rule {
    id: "lock-held-while-blocked",
    summary: "goroutines waiting on a lock whose holder is itself blocked (on I/O, a channel, a sleep) while holding it",
    why: "whatever the holder waits for, everyone behind the lock waits for too; if the holder's wait never ends, neither do theirs",
    example: "fixtures/go/relations/rw-starved/main.go: readers hold a store's read lock across a slow call, the writer and every later reader queue behind them",
    fix: "never block (on a channel, I/O, another lock) while holding a mutex: release it first, or give the blocking call a deadline",
    check: decided_elsewhere,
};

pub const TRANSPORT_PER_CALL: Rule = Rule {
    id: "transport-per-call",
    summary: "more idle HTTP client connections than one default http.Transport keeps",
    why: "an http.Transport (or a Client with its own Transport) made per request keeps its idle connection, and that connection's read and write loop goroutines, until CloseIdleConnections; one shared default Transport keeps at most 100 idle connections (2 per host)",
    example: "fixtures/go/relations/transport-per-call/main.go: a client that makes a new http.Transport for every call",
    fix: "make one http.Client (and its Transport) at startup and reuse it; allow this rule (-A transport-per-call) where the limits were raised on purpose",
    check: decided_elsewhere,
};

pub const MAGNITUDE: Rule = Rule {
    id: "magnitude",
    summary: "one blocking or creation site holding most of the process's goroutines, or ten thousand of them",
    why: "whatever the reason, a site that size is where the memory and scheduler time go, and a pool that large is rare; one snapshot cannot say why they wait there, a second says whether they grow",
    example: "fixtures/go/relations/magnitude/main.go: 9,500 of 10,000 goroutines blocked at one receive from one go statement",
    fix: "find what stops these goroutines from finishing (the blocking line) and bound how many can wait there: a context deadline, a worker pool, a semaphore",
    check: decided_elsewhere,
};

pub const BLOCKED_AT_EXIT: Rule = Rule {
    id: "blocked-at-exit",
    summary: "a goroutine still blocked when the process (or its test) exited, matching no other pattern",
    why: "at exit nothing can wake it any more: whatever started it returned without stopping it (goleak's rule)",
    example: "fixtures/gotest/leaky/leaky.go: a test that returns while its goroutines are still blocked",
    fix: "stop every goroutine you start before returning: cancel its context or close its channel, and wait for it (sync.WaitGroup, errgroup)",
    check: decided_elsewhere,
};

pub const RUNNING_AT_EXIT: Rule = Rule {
    id: "running-at-exit",
    summary: "a goroutine of the program still running when the process exited",
    why: "whoever started it did not wait for it to finish; its work is cut off at exit",
    example:
        "fixtures/gotest/leaky/leaky.go: the same shape, with the goroutine busy instead of blocked",
    fix: "wait for the goroutines you start before returning (sync.WaitGroup, errgroup)",
    check: decided_elsewhere,
};

pub const LIFECYCLE_LEAK: Rule = Rule {
    id: "lifecycle-leak",
    summary: "goroutines an execution window shows leaking: born and never ending while their siblings from the same go statement end, or more of them alive all through the window",
    why: "a window of seconds is several samples: goroutines of one go statement that outlive, by an order of magnitude, those that end, or whose number rises in every part of the window while none ends, are left behind by the code that started them, at the rate the window measures",
    example: "fixtures/go/exectrace_churn/main.go: go statements whose goroutines all end beside ones that leak a receiver, a sender, a select {} and a mutex waiter every round",
    fix: "find why the goroutines of this go statement do not return: give what they wait on an end on every path (close the channel, cancel the context, release the lock, set a deadline), and wait for them (sync.WaitGroup, errgroup)",
    check: decided_elsewhere,
};
