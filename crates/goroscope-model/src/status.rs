//! Goroutine status and wait reasons, in the runtime's own words.
//!
//! The text between the brackets of a traceback header (`[chan receive (leaked), 3 minutes,
//! locked to thread]`) is parsed into a [`StateText`]; the wait reason itself is kept as text
//! beside the parsed [`WaitReason`], so a reason added by a future Go release survives a round
//! trip as [`WaitReason::Other`].

use std::fmt;

/// Scheduler status of a goroutine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    Idle,
    Runnable,
    Running,
    Syscall,
    Waiting,
    Dead,
    CopyStack,
    Preempted,
    /// `_Gleaked` (Go 1.26+): blocked on something no live goroutine can reach, as proven by the
    /// runtime's goroutine leak detector.
    Leaked,
    /// The format does not say (pprof `debug=1` and protobuf profiles).
    Unknown,
}

impl Status {
    /// The runtime's name for the status.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Idle => "idle",
            Status::Runnable => "runnable",
            Status::Running => "running",
            Status::Syscall => "syscall",
            Status::Waiting => "waiting",
            Status::Dead => "dead",
            Status::CopyStack => "copystack",
            Status::Preempted => "preempted",
            Status::Leaked => "leaked",
            Status::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! wait_reasons {
    ($($variant:ident => $text:literal,)*) => {
        /// Why a waiting goroutine is parked: the runtime's `waitReason`, named by the string
        /// tracebacks print for it (the union over Go 1.13–1.27).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum WaitReason {
            $($variant,)*
            /// A reason this build does not know (a newer Go release); its text is kept in
            /// [`StateText::reason`].
            Other,
        }

        impl WaitReason {
            /// Every known reason.
            pub const ALL: &'static [WaitReason] = &[$(WaitReason::$variant,)*];

            /// The string tracebacks print for this reason (`""` for [`WaitReason::Other`]).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(WaitReason::$variant => $text,)*
                    WaitReason::Other => "",
                }
            }

            /// Parses a wait-reason string exactly as the runtime prints it.
            pub fn from_text(s: &str) -> WaitReason {
                match s {
                    $($text => WaitReason::$variant,)*
                    _ => WaitReason::Other,
                }
            }
        }
    };
}

wait_reasons! {
    GcAssistMarking => "GC assist marking",
    IoWait => "IO wait",
    ChanReceiveNilChan => "chan receive (nil chan)",
    ChanSendNilChan => "chan send (nil chan)",
    DumpingHeap => "dumping heap",
    GarbageCollection => "garbage collection",
    GarbageCollectionScan => "garbage collection scan",
    PanicWait => "panicwait",
    Select => "select",
    SelectNoCases => "select (no cases)",
    GcAssistWait => "GC assist wait",
    GcSweepWait => "GC sweep wait",
    GcScavengeWait => "GC scavenge wait",
    ChanReceive => "chan receive",
    ChanSend => "chan send",
    FinalizerWait => "finalizer wait",
    ForceGcIdle => "force gc (idle)",
    UpdateGomaxprocsIdle => "GOMAXPROCS updater (idle)",
    Semacquire => "semacquire",
    Sleep => "sleep",
    SyncCondWait => "sync.Cond.Wait",
    SyncMutexLock => "sync.Mutex.Lock",
    SyncRwMutexRLock => "sync.RWMutex.RLock",
    SyncRwMutexLock => "sync.RWMutex.Lock",
    SyncWaitGroupWait => "sync.WaitGroup.Wait",
    TraceReaderBlocked => "trace reader (blocked)",
    WaitForGcCycle => "wait for GC cycle",
    GcWorkerIdle => "GC worker (idle)",
    GcWorkerActive => "GC worker (active)",
    Preempted => "preempted",
    DebugCall => "debug call",
    GcMarkTermination => "GC mark termination",
    StoppingTheWorld => "stopping the world",
    FlushProcCaches => "flushing proc caches",
    TraceGoroutineStatus => "trace goroutine status",
    TraceProcStatus => "trace proc status",
    PageTraceFlush => "page trace flush",
    Coroutine => "coroutine",
    GcWeakToStrongWait => "GC weak to strong wait",
    SynctestRun => "synctest.Run",
    SynctestWait => "synctest.Wait",
    SynctestChanReceive => "chan receive (durable)",
    SynctestChanSend => "chan send (durable)",
    SynctestSelect => "select (durable)",
    SynctestWaitGroupWait => "sync.WaitGroup.Wait (durable)",
    CleanupWait => "cleanup wait",
}

impl fmt::Display for WaitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The parsed text between the brackets of a traceback header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateText<'a> {
    /// The status word or wait-reason string, without the markers below
    /// (`chan receive`, `running`, `GC worker (idle)`).
    pub reason: &'a str,
    pub status: Status,
    pub wait_reason: Option<WaitReason>,
    /// `(leaked)`: proven leaked by the runtime (Go 1.26+).
    pub leaked: bool,
    /// `(scan)`: the GC was scanning its stack.
    pub scan: bool,
    /// `, N minutes`: a lower bound of how long it has been blocked.
    pub wait_minutes: Option<u32>,
    /// `, locked to thread`.
    pub locked_to_thread: bool,
    /// `, synctest bubble N` (Go 1.25+).
    pub synctest_bubble: Option<u64>,
}

/// Status words the runtime prints instead of a wait reason.
fn status_word(s: &str) -> Option<Status> {
    Some(match s {
        "idle" => Status::Idle,
        "runnable" => Status::Runnable,
        "running" => Status::Running,
        "syscall" => Status::Syscall,
        "waiting" => Status::Waiting,
        "dead" => Status::Dead,
        "copystack" => Status::CopyStack,
        "preempted" => Status::Preempted,
        "leaked" => Status::Leaked,
        "moribund" => Status::Dead,
        "enqueue" => Status::Runnable,
        _ => return None,
    })
}

impl<'a> StateText<'a> {
    /// Parses the text inside the brackets, e.g. `chan receive (leaked), 3 minutes, locked to
    /// thread`. Never fails: unknown parts are ignored, an unknown reason becomes
    /// [`WaitReason::Other`] with the text kept in `reason`.
    pub fn parse(text: &'a str) -> StateText<'a> {
        let mut parts = text.split(", ");
        let mut reason = parts.next().unwrap_or("").trim();
        let mut leaked = false;
        let mut scan = false;
        loop {
            if let Some(r) = reason.strip_suffix(" (leaked)") {
                leaked = true;
                reason = r;
            } else if let Some(r) = reason.strip_suffix(" (scan)") {
                scan = true;
                reason = r;
            } else {
                break;
            }
        }
        let mut st = StateText {
            reason,
            status: Status::Waiting,
            wait_reason: None,
            leaked,
            scan,
            wait_minutes: None,
            locked_to_thread: false,
            synctest_bubble: None,
        };
        for p in parts {
            let p = p.trim();
            if p == "locked to thread" {
                st.locked_to_thread = true;
            } else if let Some(n) = p
                .strip_suffix(" minutes")
                .or_else(|| p.strip_suffix(" minute"))
            {
                st.wait_minutes = n.trim().parse().ok();
            } else if let Some(n) = p.strip_prefix("synctest bubble ") {
                st.synctest_bubble = n.trim().parse().ok();
            }
        }
        if let Some(s) = status_word(reason) {
            st.status = s;
        } else {
            st.wait_reason = Some(WaitReason::from_text(reason));
        }
        if leaked {
            st.status = Status::Leaked;
        }
        st
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_header_state() {
        let s = StateText::parse("chan receive (leaked), 3 minutes, locked to thread");
        assert_eq!(s.reason, "chan receive");
        assert_eq!(s.wait_reason, Some(WaitReason::ChanReceive));
        assert_eq!(s.status, Status::Leaked);
        assert!(s.leaked && s.locked_to_thread);
        assert_eq!(s.wait_minutes, Some(3));
    }

    #[test]
    fn keeps_unknown_reasons_and_status_words() {
        let s = StateText::parse("frobnicating the widget, 1 minutes");
        assert_eq!(s.wait_reason, Some(WaitReason::Other));
        assert_eq!(s.reason, "frobnicating the widget");
        let r = StateText::parse("running");
        assert_eq!((r.status, r.wait_reason), (Status::Running, None));
        let g = StateText::parse("GC worker (idle)");
        assert_eq!(g.wait_reason, Some(WaitReason::GcWorkerIdle));
        let b = StateText::parse("chan receive (durable), synctest bubble 7");
        assert_eq!(b.wait_reason, Some(WaitReason::SynctestChanReceive));
        assert_eq!(b.synctest_bubble, Some(7));
    }

    #[test]
    fn every_reason_round_trips() {
        for r in WaitReason::ALL {
            assert_eq!(WaitReason::from_text(r.as_str()), *r);
        }
    }
}
