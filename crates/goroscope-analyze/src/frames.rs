//! Facts about frames and stacks: runtime plumbing, standard library, blocking site, and the
//! state a goroutine is in when the format does not say (inferred from runtime frames).

use goroscope_model::{Snapshot, StackId, WaitReason};

/// Top-level import paths of the Go standard library (first path element).
const STD_ROOTS: &[&str] = &[
    "archive",
    "bufio",
    "builtin",
    "bytes",
    "cmp",
    "compress",
    "container",
    "context",
    "crypto",
    "database",
    "debug",
    "embed",
    "encoding",
    "errors",
    "expvar",
    "flag",
    "fmt",
    "go",
    "hash",
    "html",
    "image",
    "index",
    "internal",
    "io",
    "iter",
    "log",
    "maps",
    "math",
    "mime",
    "net",
    "os",
    "path",
    "plugin",
    "reflect",
    "regexp",
    "runtime",
    "slices",
    "sort",
    "strconv",
    "strings",
    "structs",
    "sync",
    "syscall",
    "testing",
    "text",
    "time",
    "unicode",
    "unique",
    "unsafe",
    "vendor",
    "weak",
];

/// The import path of a Go function name: `net/http.(*conn).serve` → `net/http`.
pub fn package_of(function: &str) -> &str {
    let start = function.rfind('/').map_or(0, |i| i + 1);
    match function[start..].find('.') {
        Some(i) => &function[..start + i],
        None => function,
    }
}

/// Whether a function belongs to the standard library (`main` and module paths do not).
pub fn is_std(function: &str) -> bool {
    let pkg = package_of(function);
    let root = pkg.split('/').next().unwrap_or(pkg);
    STD_ROOTS.contains(&root)
}

/// Runtime and synchronisation plumbing: frames that say *how* a goroutine waits, never *where*
/// in the program. The blocking site is the first frame after these.
pub fn is_plumbing(function: &str) -> bool {
    let pkg = package_of(function);
    matches!(
        pkg,
        "runtime" | "sync" | "sync/atomic" | "syscall" | "internal/poll" | "time" | "context"
    ) || pkg.starts_with("internal/")
        || pkg.starts_with("runtime/internal")
        || pkg.starts_with("vendor/")
}

/// Low-level I/O and buffering packages of the standard library: for goroutines that live
/// entirely in the standard library, the blocking site skips these too, so an idle HTTP server
/// connection blocks in `net/http.(*connReader).Read`, not `net.(*netFD).Read`.
pub fn is_io_plumbing(function: &str) -> bool {
    matches!(
        package_of(function),
        "net" | "bufio" | "io" | "os" | "crypto/tls" | "net/textproto" | "io/ioutil"
    )
}

/// Runtime (and sync/poll) functions that tell what a goroutine waits for. The outermost match
/// among the plumbing frames wins (`sync.(*WaitGroup).Wait` over `runtime.semacquire1`).
const STATE_FRAMES: &[(&str, WaitReason)] = &[
    ("runtime.chanrecv", WaitReason::ChanReceive),
    ("runtime.chanrecv1", WaitReason::ChanReceive),
    ("runtime.chanrecv2", WaitReason::ChanReceive),
    ("runtime.chansend", WaitReason::ChanSend),
    ("runtime.chansend1", WaitReason::ChanSend),
    ("runtime.selectgo", WaitReason::Select),
    ("runtime.block", WaitReason::SelectNoCases),
    ("runtime.netpollblock", WaitReason::IoWait),
    ("internal/poll.runtime_pollWait", WaitReason::IoWait),
    ("time.Sleep", WaitReason::Sleep),
    ("runtime.timeSleep", WaitReason::Sleep),
    (
        "sync.runtime_SemacquireWaitGroup",
        WaitReason::SyncWaitGroupWait,
    ),
    ("sync.(*WaitGroup).Wait", WaitReason::SyncWaitGroupWait),
    ("sync.runtime_SemacquireMutex", WaitReason::SyncMutexLock),
    ("sync.(*Mutex).Lock", WaitReason::SyncMutexLock),
    ("sync.(*Mutex).lockSlow", WaitReason::SyncMutexLock),
    ("internal/sync.(*Mutex).Lock", WaitReason::SyncMutexLock),
    ("internal/sync.(*Mutex).lockSlow", WaitReason::SyncMutexLock),
    (
        "sync.runtime_SemacquireRWMutexR",
        WaitReason::SyncRwMutexRLock,
    ),
    ("sync.(*RWMutex).RLock", WaitReason::SyncRwMutexRLock),
    (
        "sync.runtime_SemacquireRWMutex",
        WaitReason::SyncRwMutexLock,
    ),
    ("sync.(*RWMutex).Lock", WaitReason::SyncRwMutexLock),
    ("sync.runtime_notifyListWait", WaitReason::SyncCondWait),
    ("sync.(*Cond).Wait", WaitReason::SyncCondWait),
    ("sync.runtime_Semacquire", WaitReason::Semacquire),
    ("runtime.gcBgMarkWorker", WaitReason::GcWorkerIdle),
    ("runtime.bgsweep", WaitReason::GcSweepWait),
    ("runtime.bgscavenge", WaitReason::GcScavengeWait),
    ("runtime.runfinq", WaitReason::FinalizerWait),
    ("runtime.forcegchelper", WaitReason::ForceGcIdle),
];

/// Lines of `runtime/chan.go` where `chansend`/`chanrecv` park on a nil channel, per Go release
/// (1.21: 165/469, 1.23: 176/516, 1.25–1.27: 181/536). Stateless forms (protobuf) show the
/// same functions for nil and ordinary channel waits; the parking line tells them apart. The
/// ordinary parks (1.21: 259/583, 1.23: 270/639, 1.25–1.27: 283/667) are disjoint from these,
/// checked by a test against the installed Go sources.
pub const NIL_CHAN_SEND_LINES: &[u32] = &[165, 176, 181];
pub const NIL_CHAN_RECV_LINES: &[u32] = &[469, 516, 536];

fn nil_chan_park(function: &str, file: &str, line: u32) -> Option<WaitReason> {
    if !file.ends_with("runtime/chan.go") {
        return None;
    }
    match function {
        "runtime.chansend" if NIL_CHAN_SEND_LINES.contains(&line) => {
            Some(WaitReason::ChanSendNilChan)
        }
        "runtime.chanrecv" if NIL_CHAN_RECV_LINES.contains(&line) => {
            Some(WaitReason::ChanReceiveNilChan)
        }
        _ => None,
    }
}

fn state_of_frame(function: &str) -> Option<WaitReason> {
    STATE_FRAMES
        .iter()
        .find(|(f, _)| *f == function)
        .map(|(_, r)| *r)
}

/// Per distinct stack facts, computed once per stack (never per goroutine).
#[derive(Debug, Clone, Default)]
pub struct StackFacts {
    /// Index of the blocking frame: first non-plumbing frame that is outside the standard
    /// library if there is one, else the first non-plumbing frame, else 0.
    pub blocking: Option<usize>,
    /// Index of the first frame that is not plumbing (may be standard library).
    pub first_non_plumbing: Option<usize>,
    /// Whether any frame is outside the standard library.
    pub has_user_frame: bool,
    /// State inferred from the frames.
    pub inferred: Option<WaitReason>,
    /// `runtime.chanrecv2` is on the stack (`for range` or `v, ok := <-ch`).
    pub recv2: bool,
    /// Hash of the function names (lines and offsets ignored), from the first non-plumbing
    /// frame outwards, so forms with and without runtime frames agree.
    pub sig_functions: u64,
    /// Hash of functions, files and lines from the first non-plumbing frame outwards.
    pub sig_exact: u64,
    /// Hash of the blocking function.
    pub sig_blocking: u64,
    /// Hash of the first [`HEAD_FRAMES`] function names of `sig_functions` (all of them when
    /// fewer): what a deep stack can still be matched on when one form cuts it short.
    pub sig_head: u64,
    /// Number of frames in the stack (all of them, runtime frames included).
    pub depth: usize,
}

/// How many frames, from the first non-plumbing frame outwards, deep stacks are matched on.
/// Tracebacks of 100 frames or more print the innermost 50 and the outermost 50 (Go 1.21+;
/// older releases the innermost 100), and profiles keep the innermost 128 program counters
/// (Go 1.23+): the innermost 32 frames outside runtime plumbing are in every form.
pub const HEAD_FRAMES: usize = 32;

/// Stacks with at least this many frames may be cut short: tracebacks elide frames from 100
/// on, and profiles truncate at 128 program counters.
pub const DEEP_FRAMES: usize = 100;

/// FNV-1a, stable across builds and platforms (group ids must not change between releases).
#[derive(Clone, Copy)]
pub struct Fnv(pub u64);

impl Fnv {
    pub fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    pub fn bytes(mut self, b: &[u8]) -> Self {
        for &x in b {
            self.0 ^= x as u64;
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        self
    }
    pub fn str(self, s: &str) -> Self {
        self.bytes(s.as_bytes()).bytes(&[0xff])
    }
    pub fn u64(self, v: u64) -> Self {
        self.bytes(&v.to_le_bytes())
    }
}

impl Default for Fnv {
    fn default() -> Self {
        Self::new()
    }
}

/// For stacks entirely in the runtime (GC workers in a SIGQUIT dump): the outermost frame that
/// is not `runtime.goexit`, e.g. `runtime.gcBgMarkWorker` rather than `runtime.gopark`.
fn outermost_runtime_frame(snap: &Snapshot, frames: &[goroscope_model::FrameId]) -> Option<usize> {
    frames
        .iter()
        .rposition(|&f| snap.function(f) != "runtime.goexit")
        .or(if frames.is_empty() { None } else { Some(0) })
}

/// Computes the facts of one stack.
pub fn stack_facts(snap: &Snapshot, stack: StackId) -> StackFacts {
    let frames = snap.stack(stack);
    let mut f = StackFacts::default();
    let mut first_non_plumbing = None;
    let mut first_user = None;
    let mut first_above_io = None;
    for (i, &fr) in frames.iter().enumerate() {
        let name = snap.function(fr);
        if first_non_plumbing.is_none() && !is_plumbing(name) {
            first_non_plumbing = Some(i);
        }
        if first_above_io.is_none() && !is_plumbing(name) && !is_io_plumbing(name) {
            first_above_io = Some(i);
        }
        if first_user.is_none() && !is_std(name) {
            first_user = Some(i);
        }
        if name == "runtime.chanrecv2" {
            f.recv2 = true;
        }
    }
    f.first_non_plumbing = first_non_plumbing;
    f.has_user_frame = first_user.is_some();
    f.blocking = first_user
        .or(first_above_io)
        .or(first_non_plumbing)
        .or_else(|| outermost_runtime_frame(snap, frames));
    // The state: the outermost state-telling frame before the first non-plumbing frame (or
    // before the user frame, so `net.(*conn).Read` still reaches `runtime_pollWait`).
    let limit = first_user.unwrap_or(frames.len());
    let mut nil_chan = None;
    for &fr in &frames[..limit] {
        if let Some(r) = state_of_frame(snap.function(fr)) {
            f.inferred = Some(r);
        }
        let site = snap.frame_site(fr);
        nil_chan = nil_chan.or(nil_chan_park(site.function, site.file, site.line));
    }
    if nil_chan.is_some() {
        f.inferred = nil_chan;
    }
    let start = first_non_plumbing.unwrap_or(0);
    let mut hf = Fnv::new();
    let mut he = Fnv::new();
    let mut head = None;
    let mut counted = 0;
    for &fr in &frames[start..] {
        let s = snap.frame_site(fr);
        if s.function == "runtime.goexit" {
            continue; // printed by protobuf profiles, not by tracebacks
        }
        hf = hf.str(s.function);
        he = he.str(s.function).str(s.file).u64(s.line as u64);
        counted += 1;
        if counted == HEAD_FRAMES {
            head = Some(hf.0);
        }
    }
    f.sig_functions = hf.0;
    f.sig_head = head.unwrap_or(hf.0);
    f.depth = frames.len();
    f.sig_exact = he.0;
    f.sig_blocking = match f.blocking {
        Some(i) => Fnv::new().str(snap.function(frames[i])).0,
        None => Fnv::new().0,
    };
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nil-channel park lines match the installed Go sources (`scripts/install-go.sh`).
    #[test]
    fn nil_chan_lines_match_installed_go_sources() {
        // goroscope-fixtures finds the toolchains (and panics, naming the fix, without any).
        let mut checked = 0;
        for tc in goroscope_fixtures::toolchains() {
            let chan = tc.goroot().join("src/runtime/chan.go");
            let Ok(src) = std::fs::read_to_string(&chan) else {
                continue;
            };
            for (i, l) in src.lines().enumerate() {
                let line = i as u32 + 1;
                if l.contains("gopark(nil, nil, waitReasonChanSendNilChan") {
                    assert!(
                        NIL_CHAN_SEND_LINES.contains(&line),
                        "{}: send nil park at {line}",
                        chan.display()
                    );
                } else if l.contains("gopark(nil, nil, waitReasonChanReceiveNilChan") {
                    assert!(
                        NIL_CHAN_RECV_LINES.contains(&line),
                        "{}: recv nil park at {line}",
                        chan.display()
                    );
                } else if l.contains("gopark(chanparkcommit") {
                    assert!(
                        !NIL_CHAN_SEND_LINES.contains(&line)
                            && !NIL_CHAN_RECV_LINES.contains(&line)
                    );
                }
            }
            checked += 1;
        }
        eprintln!("checked {checked} Go sources");
    }

    #[test]
    fn packages_and_std() {
        assert_eq!(package_of("net/http.(*conn).serve"), "net/http");
        assert_eq!(package_of("main.leak.func1"), "main");
        assert_eq!(package_of("github.com/a/b.(*T).M"), "github.com/a/b");
        assert_eq!(
            package_of("goroscope.test/fixtures/internal/fx.Serve"),
            "goroscope.test/fixtures/internal/fx"
        );
        assert!(is_std("net/http.(*conn).serve"));
        assert!(is_std("runtime.gopark"));
        assert!(!is_std("main.main"));
        assert!(!is_std("github.com/a/b.F"));
        assert!(!is_std("goroscope.test/fixtures/internal/fx.Serve"));
        assert!(is_plumbing("sync.(*WaitGroup).Wait"));
        assert!(is_plumbing("internal/poll.(*FD).Read"));
        assert!(!is_plumbing("net/http.(*conn).serve"));
        assert!(!is_plumbing("main.f"));
    }
}
