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
    },
    Benign {
        id: "main-goroutine",
        function: "main.main",
        states: &[],
        std_only: false,
        reason: "the main goroutine (tracebacks hide runtime.main): the program lives as long as it does, so it cannot leak",
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
    },
    Benign {
        id: "runtime-worker",
        function: "runtime.gcBgMarkWorker",
        states: &[],
        std_only: true,
        reason: "a GC mark worker that idles between cycles",
    },
    Benign {
        id: "runtime-worker",
        function: "runtime.forcegchelper",
        states: &[],
        std_only: true,
        reason: "the runtime's periodic GC helper",
    },
    Benign {
        id: "runtime-worker",
        function: "runtime.bg*",
        states: &[],
        std_only: true,
        reason: "a runtime background worker",
    },
    Benign {
        id: "runtime-worker",
        function: "runtime.runfinq",
        states: &[],
        std_only: true,
        reason: "the finalizer goroutine",
    },
    Benign {
        id: "runtime-worker",
        function: "runtime.unique_runtime_registerUniqueMapCleanup*",
        states: &[],
        std_only: true,
        reason: "the unique package's map cleanup goroutine",
    },
    Benign {
        id: "runtime-worker",
        function: "runtime.(*cleanupQueue).*",
        states: &[],
        std_only: true,
        reason: "the runtime.AddCleanup worker",
    },
    Benign {
        id: "runtime-worker",
        function: "runtime.updateMaxProcsGoroutine",
        states: &[],
        std_only: true,
        reason: "the GOMAXPROCS updater (Go 1.25+)",
    },
    Benign {
        id: "signal-loop",
        function: "os/signal.*",
        states: &[],
        std_only: true,
        reason: "os/signal's delivery loop, one per process",
    },
    Benign {
        id: "signal-loop",
        function: "runtime.ensureSigM*",
        states: &[],
        std_only: true,
        reason: "the runtime's signal mask thread",
    },
    Benign {
        id: "accept-loop",
        function: "net.(**Listener).Accept",
        states: &[W::IoWait],
        std_only: false,
        reason: "a server waiting for the next connection",
    },
    Benign {
        id: "accept-loop",
        function: "net.(*netFD).accept",
        states: &[W::IoWait],
        std_only: false,
        reason: "a server waiting for the next connection",
    },
    Benign {
        id: "http-server-idle",
        function: "net/http.(*conn).serve",
        states: IDLE_IO,
        std_only: true,
        reason: "an HTTP server connection waiting for the next request (keep-alive)",
    },
    Benign {
        id: "http-server-idle",
        function: "net/http.(*http2serverConn).serve",
        states: IDLE_IO,
        std_only: true,
        reason: "an HTTP/2 server connection waiting for frames",
    },
    Benign {
        id: "http-server-idle",
        function: "net/http.(*connReader).backgroundRead",
        states: &[W::IoWait],
        std_only: true,
        reason: "an HTTP server connection watching for the client to go away during a request",
    },
    Benign {
        id: "http-client-idle",
        function: "net/http.(*persistConn).readLoop",
        states: &[W::IoWait],
        std_only: true,
        reason: "an idle pooled HTTP client connection waiting for its next response",
    },
    Benign {
        id: "http-client-idle",
        function: "net/http.(*http2ClientConn).readLoop",
        states: &[W::IoWait],
        std_only: true,
        reason: "an HTTP/2 client connection reading frames",
    },
    Benign {
        id: "http-client-idle",
        function: "net/http.(*http2clientConnReadLoop).run",
        states: &[W::IoWait],
        std_only: true,
        reason: "an HTTP/2 client connection reading frames",
    },
    Benign {
        id: "database-sql",
        function: "database/sql.(*DB).connection*",
        states: &[],
        std_only: false,
        reason: "database/sql's connection opener/cleaner, one per sql.DB",
    },
    Benign {
        id: "test-harness",
        function: "testing.(*T).Run",
        states: &[],
        std_only: false,
        reason: "the testing package waiting for a subtest",
    },
    Benign {
        id: "test-harness",
        function: "testing.(*M).*",
        states: &[],
        std_only: false,
        reason: "the testing package's main loop",
    },
    Benign {
        id: "test-harness",
        function: "testing.tRunner*",
        states: &[W::ChanReceive, W::Select],
        std_only: true,
        reason: "the testing package waiting for parallel subtests",
    },
    Benign {
        id: "profiler",
        function: "runtime/pprof.profileWriter",
        states: &[],
        std_only: false,
        reason: "the CPU profile writer",
    },
    Benign {
        id: "well-known-daemon",
        function: "*.(*loggingT).flushDaemon",
        states: &[],
        std_only: false,
        reason: "glog/klog's flush daemon, one per process",
    },
    Benign {
        id: "well-known-daemon",
        function: "go.opencensus.io/stats/view.(*worker).start",
        states: &[],
        std_only: false,
        reason: "OpenCensus' stats worker, one per process",
    },
];
