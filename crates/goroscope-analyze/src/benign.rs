//! Built-in knowledge of goroutines that wait by design: data, not `if`s.
//!
//! An entry matches a group when one of its frames matches `function` (a glob, see
//! [`crate::config::glob_match`]) and, if `states` is not empty, the group's wait reason is one
//! of them, and, if `std_only`, no frame of the stack is outside the standard library (so a user
//! handler blocked *inside* an HTTP server connection is still judged by the rules).

use goroscope_model::WaitReason as W;

/// One entry of the table.
#[derive(Debug, Clone, Copy)]
pub struct Benign {
    /// Shown as the group's `pattern` (`benign:<id>`).
    pub id: &'static str,
    pub function: &'static str,
    pub states: &'static [W],
    pub std_only: bool,
    pub reason: &'static str,
    /// Rules whose finding overrides this entry (their evidence is specific enough).
    pub unless: &'static [&'static str],
    /// Still benign when the process exits (`exit`/`test` contexts): goroutines that live as
    /// long as the process by design (runtime workers, the signal loop, the test harness). The
    /// others — servers, connections, pools — left running at exit are leaks, as goleak holds.
    pub at_exit: bool,
}

const IDLE_IO: &[W] = &[W::IoWait, W::Select];

/// The table, checked in order.
pub const TABLE: &[Benign] = &[
    Benign {
        id: "main-goroutine",
        function: "runtime.main",
        states: &[],
        std_only: false,
        reason: "the main goroutine: the program lives as long as it does, so it cannot leak",
        unless: &[],
        at_exit: true,
    },
    Benign {
        id: "main-goroutine",
        function: "main.main",
        states: &[],
        std_only: false,
        reason: "the main goroutine (tracebacks hide runtime.main): the program lives as long as it does, so it cannot leak",
        unless: &[],
        at_exit: true,
    },
    Benign {
        id: "runtime-worker",
        function: "runtime.*",
        states: &[
            W::GcWorkerIdle,
            W::GcWorkerActive,
            W::GcSweepWait,
            W::GcScavengeWait,
            W::FinalizerWait,
            W::ForceGcIdle,
            W::UpdateGomaxprocsIdle,
            W::CleanupWait,
            W::GcWeakToStrongWait,
            W::TraceReaderBlocked,
            W::WaitForGcCycle,
        ],
        std_only: true,
        reason: "a runtime worker (GC, sweeper, scavenger, finalizers) that idles by design",
        unless: &[],
        at_exit: true,
    },
    Benign {
        id: "runtime-worker",
        function: "runtime.gcBgMarkWorker",
        states: &[],
        std_only: true,
        reason: "a GC mark worker that idles between cycles",
        unless: &[],
        at_exit: true,
    },
    Benign {
        id: "runtime-worker",
        function: "runtime.forcegchelper",
        states: &[],
        std_only: true,
        reason: "the runtime's periodic GC helper",
        unless: &[],
        at_exit: true,
    },
    Benign {
        id: "runtime-worker",
        function: "runtime.bg*",
        states: &[],
        std_only: true,
        reason: "a runtime background worker",
        unless: &[],
        at_exit: true,
    },
    Benign {
        id: "runtime-worker",
        function: "runtime.runfinq",
        states: &[],
        std_only: true,
        reason: "the finalizer goroutine",
        unless: &[],
        at_exit: true,
    },
    Benign {
        id: "runtime-worker",
        function: "runtime.unique_runtime_registerUniqueMapCleanup*",
        states: &[],
        std_only: true,
        reason: "the unique package's map cleanup goroutine",
        unless: &[],
        at_exit: true,
    },
    Benign {
        id: "runtime-worker",
        function: "runtime.(*cleanupQueue).*",
        states: &[],
        std_only: true,
        reason: "the runtime.AddCleanup worker",
        unless: &[],
        at_exit: true,
    },
    Benign {
        id: "runtime-worker",
        function: "runtime.updateMaxProcsGoroutine",
        states: &[],
        std_only: true,
        reason: "the GOMAXPROCS updater (Go 1.25+)",
        unless: &[],
        at_exit: true,
    },
    Benign {
        id: "signal-loop",
        function: "os/signal.*",
        states: &[],
        std_only: true,
        reason: "os/signal's delivery loop, one per process",
        unless: &[],
        at_exit: true,
    },
    Benign {
        id: "signal-loop",
        function: "runtime.ensureSigM*",
        states: &[],
        std_only: true,
        reason: "the runtime's signal mask thread",
        unless: &[],
        at_exit: true,
    },
    Benign {
        id: "accept-loop",
        function: "net.(**Listener).Accept",
        states: &[W::IoWait],
        std_only: false,
        reason: "a server waiting for the next connection",
        unless: &[],
        at_exit: false,
    },
    Benign {
        id: "accept-loop",
        function: "net.(*netFD).accept",
        states: &[W::IoWait],
        std_only: false,
        reason: "a server waiting for the next connection",
        unless: &[],
        at_exit: false,
    },
    Benign {
        id: "http-server-idle",
        function: "net/http.(*conn).serve",
        states: IDLE_IO,
        std_only: true,
        reason: "an HTTP server connection waiting for the next request (keep-alive)",
        unless: &[],
        at_exit: false,
    },
    Benign {
        id: "http-server-idle",
        function: "net/http.(*http2serverConn).serve",
        states: IDLE_IO,
        std_only: true,
        reason: "an HTTP/2 server connection waiting for frames",
        unless: &[],
        at_exit: false,
    },
    Benign {
        id: "http-server-idle",
        function: "net/http.(*connReader).backgroundRead",
        states: &[W::IoWait],
        std_only: true,
        reason: "an HTTP server connection watching for the client to go away during a request",
        unless: &[],
        at_exit: false,
    },
    Benign {
        id: "http-client-idle",
        function: "net/http.(*persistConn).readLoop",
        states: &[W::IoWait],
        std_only: true,
        reason: "an idle pooled HTTP client connection waiting for its next response",
        unless: &[],
        at_exit: false,
    },
    Benign {
        id: "http-client-idle",
        function: "net/http.(*persistConn).writeLoop",
        states: &[W::Select],
        std_only: true,
        reason: "an HTTP client connection's writer waiting for the next request",
        unless: &["http-body-not-closed"],
        at_exit: false,
    },
    Benign {
        id: "http-client-idle",
        function: "net/http.(*http2ClientConn).readLoop",
        states: &[W::IoWait],
        std_only: true,
        reason: "an HTTP/2 client connection reading frames",
        unless: &[],
        at_exit: false,
    },
    Benign {
        id: "http-client-idle",
        function: "net/http.(*http2clientConnReadLoop).run",
        states: &[W::IoWait],
        std_only: true,
        reason: "an HTTP/2 client connection reading frames",
        unless: &[],
        at_exit: false,
    },
    Benign {
        id: "database-sql",
        function: "database/sql.(*DB).connection*",
        states: &[],
        std_only: false,
        reason: "database/sql's connection opener/cleaner, one per sql.DB",
        unless: &[],
        at_exit: false,
    },
    Benign {
        id: "test-harness",
        function: "testing.(*T).Run",
        states: &[],
        std_only: false,
        reason: "the testing package waiting for a subtest",
        unless: &[],
        at_exit: true,
    },
    Benign {
        id: "test-harness",
        function: "testing.(*M).*",
        states: &[],
        std_only: false,
        reason: "the testing package's main loop",
        unless: &[],
        at_exit: true,
    },
    Benign {
        id: "test-harness",
        function: "testing.tRunner*",
        states: &[W::ChanReceive, W::Select],
        std_only: true,
        reason: "the testing package waiting for parallel subtests",
        unless: &[],
        at_exit: true,
    },
    Benign {
        id: "lifecycle-group",
        function: "github.com/oklog/run.(*Group).Run",
        states: &[W::ChanReceive],
        std_only: false,
        reason: "an oklog/run actor group waiting for its first actor to return (it then interrupts the others): the service's lifetime",
        unless: &[],
        at_exit: false,
    },
    Benign {
        id: "lifecycle-group",
        function: "golang.org/x/sync/errgroup.(*Group).Wait",
        states: &[W::SyncWaitGroupWait, W::Semacquire],
        std_only: false,
        reason: "an errgroup waiting for its goroutines, which are listed on their own (a leak among them is judged there)",
        unless: &[],
        at_exit: false,
    },
    Benign {
        id: "profiler",
        function: "runtime/pprof.profileWriter",
        states: &[],
        std_only: false,
        reason: "the CPU profile writer",
        unless: &[],
        at_exit: true,
    },
    Benign {
        id: "k8s-workqueue-idle",
        function: "k8s.io/client-go/util/workqueue.(*Type*).Get",
        states: &[W::SyncCondWait],
        std_only: false,
        reason: "a Kubernetes controller worker waiting for the next item of its work queue",
        unless: &[],
        at_exit: false,
    },
    Benign {
        id: "k8s-workqueue-idle",
        function: "k8s.io/client-go/util/workqueue.(*delayingType*).waitingLoop",
        states: &[W::Select],
        std_only: false,
        reason: "a Kubernetes delaying queue's timer loop",
        unless: &[],
        at_exit: false,
    },
    Benign {
        id: "k8s-wait-loop",
        function: "k8s.io/apimachinery/pkg/util/wait.*",
        states: &[W::Select, W::Sleep],
        std_only: false,
        reason: "a wait.Until/JitterUntil periodic loop between runs (it stops with its stop channel)",
        unless: &[],
        at_exit: false,
    },
    Benign {
        id: "grpc-transport",
        function: "google.golang.org/grpc/internal/transport.*",
        states: &[W::Select, W::IoWait, W::SyncCondWait, W::ChanReceive],
        std_only: false,
        reason: "a gRPC connection's transport loop (reader, writer, keepalive), one set per connection",
        unless: &[],
        at_exit: false,
    },
    Benign {
        id: "grpc-transport",
        function: "google.golang.org/grpc/internal/grpcsync.(*CallbackSerializer).run",
        states: &[W::Select, W::ChanReceive],
        std_only: false,
        reason: "a gRPC client channel's callback serializer, one per ClientConn",
        unless: &[],
        at_exit: false,
    },
    Benign {
        id: "well-known-daemon",
        function: "*.(*loggingT).flushDaemon",
        states: &[],
        std_only: false,
        reason: "glog/klog's flush daemon, one per process",
        unless: &[],
        at_exit: true,
    },
    Benign {
        id: "well-known-daemon",
        function: "go.opencensus.io/stats/view.(*worker).start",
        states: &[],
        std_only: false,
        reason: "OpenCensus' stats worker, one per process",
        unless: &[],
        at_exit: true,
    },
];

#[cfg(test)]
mod tests {
    use crate::rules::testkit::*;
    use crate::Verdict;

    #[test]
    fn well_known_library_loops_are_benign() {
        let worker = [
            ("sync.(*Cond).Wait", "cond.go", 70),
            (
                "k8s.io/client-go/util/workqueue.(*Typed[...]).Get",
                "queue.go",
                282,
            ),
            (
                "k8s.io/sample-controller.(*Controller).processNextWorkItem",
                "controller.go",
                190,
            ),
            (
                "k8s.io/sample-controller.(*Controller).runWorker",
                "controller.go",
                180,
            ),
            (
                "k8s.io/apimachinery/pkg/util/wait.JitterUntil",
                "backoff.go",
                204,
            ),
        ];
        let g = one(&[G::new("sync.Cond.Wait", &worker)
            .by((
                "k8s.io/sample-controller.(*Controller).Run",
                "controller.go",
                160,
            ))
            .creator(40)
            .times(2)]);
        assert_eq!(
            (g.verdict, g.pattern.as_deref()),
            (Verdict::Benign, Some("benign:k8s-workqueue-idle"))
        );
        let loopy = [
            (
                "google.golang.org/grpc/internal/transport.(*controlBuffer).get",
                "controlbuf.go",
                418,
            ),
            (
                "google.golang.org/grpc/internal/transport.(*loopyWriter).run",
                "controlbuf.go",
                552,
            ),
        ];
        let g = one(&[G::new("select", &loopy).times(30)]);
        assert_eq!(g.verdict, Verdict::Benign);
        // The same library frames under a user's lock wait are still judged by the rules.
        let g = one(&[G::new(
            "sync.Mutex.Lock",
            &[
                ("sync.(*Mutex).Lock", "mutex.go", 1),
                ("main.h", "main.go", 1),
            ],
        )]);
        assert_eq!(
            (g.verdict, g.pattern.as_deref()),
            (Verdict::NeedMoreSamples, Some("mutex-never-unlocked"))
        );
    }

    #[test]
    fn lifecycle_groups_and_signal_waiters_are_benign() {
        let g = one(&[G::new(
            "chan receive",
            &[
                ("github.com/oklog/run.(*Group).Run", "group.go", 43),
                (
                    "github.com/acme/app/inhibit.(*Inhibitor).Run",
                    "inhibit.go",
                    108,
                ),
            ],
        )]);
        assert_eq!(g.pattern.as_deref(), Some("benign:lifecycle-group"));
        let g = one(&[G::new(
            "semacquire",
            &[
                ("sync.runtime_Semacquire", "sema.go", 62),
                ("sync.(*WaitGroup).Wait", "waitgroup.go", 139),
                (
                    "golang.org/x/sync/errgroup.(*Group).Wait",
                    "errgroup.go",
                    53,
                ),
                ("main.run", "main.go", 546),
            ],
        )]);
        assert_eq!(g.pattern.as_deref(), Some("benign:lifecycle-group"));
        // A receive in a function named like a signal handler's, with os/signal's loop running.
        let waiter = G::new(
            "chan receive",
            &[(
                "go.etcd.io/etcd/pkg/osutil.HandleInterrupts.func1",
                "interrupt_unix.go",
                62,
            )],
        );
        let loop_ = G::new(
            "syscall",
            &[
                ("os/signal.signal_recv", "sigqueue.go", 152),
                ("os/signal.loop", "signal_unix.go", 23),
            ],
        );
        let r = report(&[waiter.clone(), loop_]);
        let g = r
            .groups
            .iter()
            .find(|g| g.stack[0].function.contains("HandleInterrupts"))
            .unwrap();
        assert_eq!(g.pattern.as_deref(), Some("benign:signal-waiter"), "{g:#?}");
        // Without the signal loop, the name alone proves nothing.
        let g = one(&[waiter]);
        assert_eq!(g.verdict, Verdict::NeedMoreSamples);
    }
}
