//! The goroutine snapshot model shared by every goroscope reader and command.
//!
//! One model, many doors: text tracebacks, pprof `debug=1`, pprof protobuf, live processes,
//! core files and execution traces all produce a [`Snapshot`]; sources that watch a window of
//! time (execution traces, eBPF) add births, deaths and lifetimes per creation site to it
//! ([`lifecycle`]). Formats with per-goroutine detail fill
//! [`Snapshot::goroutines`]; aggregated formats fill [`Snapshot::records`] (`count × stack ×
//! labels`). [`Snapshot::entries`] answers the same questions over both.
//!
//! Names follow Go's own words (`goid`, `wait reason`, `created by`), since users read them in
//! every dump.

mod args;
mod context;
mod intern;
pub mod lifecycle;
mod memory;
mod redact;
mod status;

pub use args::{
    is_method, Appended, ArgKeeper, ArgRole, ArgStore, ArgsRef, FrameArgs, FrameWords,
    NewFrameArgs, RunFrame, INNER_ARG_FRAMES, INNER_ARG_WORDS, MAX_ARG_WORDS_PER_FRAME,
    MAX_RECEIVERS,
};
pub use context::Context;
pub use intern::{Frame, FrameId, Interner, LabelSetId, StackId, Sym};
pub use lifecycle::Lifecycles;
pub use memory::{
    ChanState, HoldKind, Holder, MemWait, MemoryFacts, ObjectKind, WaitOp, MAX_RECEIVER_PREFIX,
};
pub use redact::{redact_url, redact_urls_in, REDACTED};
pub use status::{StateText, Status, WaitReason};

use std::fmt;
use std::time::SystemTime;

/// A goroutine id as the runtime prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Goid(pub u64);

impl fmt::Display for Goid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The form a snapshot was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `runtime.Stack(buf, true)` / pprof `debug=2`: per-goroutine, no crash header.
    Debug2,
    /// A crash traceback: panic, `fatal error:`, SIGQUIT, `go test` timeout.
    Traceback,
    /// pprof legacy text (`debug=1`).
    Debug1,
    /// pprof protobuf (`debug=0`), gzipped or raw.
    Proto,
    /// Read from a live process's memory.
    Attach,
    /// Read from a core file.
    Core,
    /// A Go execution trace: the goroutines alive at the end of its window, with
    /// [`Snapshot::lifecycle`] for the window.
    ExecTrace,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Debug2 => "debug2",
            Format::Traceback => "traceback",
            Format::Debug1 => "debug1",
            Format::Proto => "proto",
            Format::Attach => "attach",
            Format::Core => "core",
            Format::ExecTrace => "exectrace",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which runtime profile the snapshot is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ProfileKind {
    /// Every goroutine (`goroutine` profile, tracebacks, attach).
    #[default]
    Goroutine,
    /// Only the goroutines the runtime's leak detector proved leaked (`goroutineleak`, Go 1.26+).
    GoroutineLeak,
}

/// Where a snapshot came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The input as the user named it: a path, `-` (stdin), a URL, `pid 1234`.
    pub input: String,
    /// Position of this snapshot among the dumps found in the same input (0-based).
    pub index: usize,
    /// 1-based line of the input where this snapshot starts, for text inputs.
    pub line: Option<u64>,
    pub format: Format,
    pub kind: ProfileKind,
}

/// The `go test` run a snapshot came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestRun {
    /// The package under test (a `go test -json` event's `Package`), when known.
    pub package: Option<String>,
    /// The tests running when the dump was taken: a timeout's `running tests:` list, or the
    /// test a `go test -json` stream attributes the dump's output to.
    pub tests: Vec<String>,
}

/// Facts about the process the snapshot was taken from, when known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: Option<u32>,
    pub executable: Option<String>,
    pub args: Vec<String>,
}

/// Something a reader noticed but could read past: a cut-off goroutine, an unparsable line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub message: String,
    /// 1-based line in the input, for text inputs.
    pub line: Option<u64>,
    /// Byte offset in the input.
    pub offset: Option<u64>,
}

impl Warning {
    pub fn new(message: impl Into<String>) -> Self {
        Warning {
            message: message.into(),
            line: None,
            offset: None,
        }
    }
    pub fn at_line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }
    pub fn at_offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.offset) {
            (Some(l), _) => write!(f, "line {l}: {}", self.message),
            (None, Some(o)) => write!(f, "byte {o}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

/// How a stack was cut short by the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Elision {
    #[default]
    None,
    /// `...additional frames elided...` (before Go 1.21): the outermost frames are missing.
    Additional,
    /// `...N frames elided...` (Go 1.21+): N frames in the middle are missing.
    Count(u32),
}

/// One goroutine's ancestor, printed with `GODEBUG=tracebackancestors=N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ancestor {
    pub goid: Goid,
    /// The stack the ancestor had when it created its child.
    pub stack: StackId,
    pub created_by: Option<FrameId>,
    pub creator_goid: Option<Goid>,
}

/// One goroutine, from a format that has per-goroutine detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Goroutine {
    pub goid: Goid,
    pub status: Status,
    /// Parsed wait reason; `None` when not waiting (or the format does not say).
    pub wait_reason: Option<WaitReason>,
    /// The status or wait-reason text exactly as the source gave it, without the markers that
    /// have fields of their own (`(leaked)`, minutes, `locked to thread`).
    pub state: Sym,
    /// `, N minutes`: a lower bound (the runtime stamps it from the GC, see the docs).
    pub wait_minutes: Option<u32>,
    pub locked_to_thread: bool,
    /// `(leaked)` in the header or `_Gleaked` in memory: proven by the runtime.
    pub leaked: bool,
    pub synctest_bubble: Option<u64>,
    pub labels: LabelSetId,
    /// Innermost frame first.
    pub stack: StackId,
    pub elided: Elision,
    /// `goroutine running on other thread; stack unavailable`.
    pub stack_unavailable: bool,
    /// The `created by` frame: the `go` statement that started this goroutine.
    pub created_by: Option<FrameId>,
    /// `created by … in goroutine N` (Go 1.21+).
    pub creator_goid: Option<Goid>,
    pub ancestors: Box<[Ancestor]>,
    /// `gp=0x…` in `GOTRACEBACK=system|crash` headers, or the address read from memory.
    pub gp: Option<u64>,
    /// `m=N` in such headers: the thread it runs on.
    pub m: Option<u32>,
    /// The argument words printed after some of its frames' names, stored in
    /// [`Snapshot::args`] (see [`Snapshot::frame_args`]). Empty when the format has none.
    pub args: ArgsRef,
}

impl Goroutine {
    /// A waiting goroutine with no labels, creator or ancestors; readers fill in the rest.
    pub fn new(goid: Goid, stack: StackId) -> Self {
        Goroutine {
            goid,
            status: Status::Unknown,
            wait_reason: None,
            state: Interner::EMPTY,
            wait_minutes: None,
            locked_to_thread: false,
            leaked: false,
            synctest_bubble: None,
            labels: Interner::NO_LABELS,
            stack,
            elided: Elision::None,
            stack_unavailable: false,
            created_by: None,
            creator_goid: None,
            ancestors: Box::new([]),
            gp: None,
            m: None,
            args: ArgsRef::EMPTY,
        }
    }

    /// Applies a parsed header state (see [`StateText::parse`]).
    pub fn set_state(&mut self, st: &StateText<'_>, interner: &mut Interner) {
        self.status = st.status;
        self.wait_reason = st.wait_reason;
        self.state = interner.intern_str(st.reason);
        self.wait_minutes = st.wait_minutes;
        self.locked_to_thread = st.locked_to_thread;
        self.leaked = st.leaked;
        self.synctest_bubble = st.synctest_bubble;
    }
}

/// `count` goroutines sharing one stack and label set, from an aggregated format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub count: u64,
    pub stack: StackId,
    pub labels: LabelSetId,
}

/// One view over both [`Goroutine`]s and [`Record`]s.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub count: u64,
    pub stack: StackId,
    pub labels: LabelSetId,
    /// The goroutine, when the format had per-goroutine detail.
    pub goroutine: Option<&'a Goroutine>,
}

/// Everything read from one goroutine dump.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub source: Source,
    /// When the dump was taken, when the format records it (pprof `time_nanos`, attach).
    pub taken_at: Option<SystemTime>,
    /// For delta profiles (`?seconds=N`): the window in nanoseconds. Counts are then growth
    /// and may be negative in the profile; such records keep their signed value in
    /// [`Snapshot::delta_counts`].
    pub duration_nanos: Option<i64>,
    /// Exact Go version (`go1.27.3`) when the input states it.
    pub go_version: Option<String>,
    /// A lower bound inferred from what the format shows (`go1.21` for `in goroutine N`).
    pub go_version_min: Option<String>,
    pub process: Option<ProcessInfo>,
    /// The first line of a crash report: `panic: …`, `fatal error: …`, `SIGQUIT: quit`.
    pub reason: Option<String>,
    /// What the moment of the snapshot means, when the reader knows it (a runtime-declared
    /// deadlock, a crash, a process's exit, a live service). `None`: the analysis infers it.
    pub context: Option<Context>,
    /// The `go test` run the snapshot came from, when the input says (a timeout's `running
    /// tests:` list, a `go test -json` stream's package and test).
    pub test: Option<TestRun>,
    /// The total the format itself declares (`goroutine profile: total N`), to check against.
    pub declared_total: Option<u64>,
    pub goroutines: Vec<Goroutine>,
    /// Stacks of the runtime's threads, printed beside the goroutines in `GOTRACEBACK=system`
    /// and `crash` dumps as `goroutine 0 gp=… m=N …`: a thread's g0 (scheduler) stack or its
    /// signal-handler stack, one per thread section of a crash report. They are not
    /// goroutines: never counted, grouped or judged; their `goid` is 0 and `m` names the
    /// thread.
    pub system_stacks: Vec<Goroutine>,
    pub records: Vec<Record>,
    /// Signed per-record counts of a delta profile, parallel to `records` (empty otherwise).
    pub delta_counts: Vec<i64>,
    pub warnings: Vec<Warning>,
    /// The input ended inside this dump: the last goroutine may be incomplete.
    pub truncated: bool,
    pub interner: Interner,
    /// Frame argument words of the goroutines ([`Goroutine::args`]).
    pub args: ArgStore,
    /// Births, deaths and lifetimes over a window of time, from a source that watched one (an
    /// execution trace, eBPF); the snapshot is then the window's end. See [`lifecycle`].
    pub lifecycle: Option<Box<Lifecycles>>,
    /// What memory says about who waits on what (attach and cores); `None` for every form
    /// read from text or a profile.
    pub memory: Option<MemoryFacts>,
}

impl Snapshot {
    /// An empty snapshot for `source`.
    pub fn new(source: Source) -> Self {
        Snapshot {
            source,
            taken_at: None,
            duration_nanos: None,
            go_version: None,
            go_version_min: None,
            process: None,
            reason: None,
            context: None,
            test: None,
            declared_total: None,
            goroutines: Vec::new(),
            system_stacks: Vec::new(),
            records: Vec::new(),
            delta_counts: Vec::new(),
            warnings: Vec::new(),
            truncated: false,
            interner: Interner::new(),
            args: ArgStore::default(),
            lifecycle: None,
            memory: None,
        }
    }

    /// The argument words of `g`'s frames that the reader kept, innermost frame first (see
    /// [`ArgStore`] for which frames are kept).
    pub fn frame_args(&self, g: &Goroutine) -> impl Iterator<Item = FrameArgs<'_>> + '_ {
        self.args.frames(g.args)
    }

    /// The number of goroutines this snapshot stands for: individual goroutines plus the
    /// counts of aggregated records.
    pub fn total_goroutines(&self) -> u64 {
        self.goroutines.len() as u64 + self.records.iter().map(|r| r.count).sum::<u64>()
    }

    /// Whether the snapshot has per-goroutine detail (ids, states, creators).
    pub fn has_goroutine_detail(&self) -> bool {
        !self.goroutines.is_empty() || self.records.is_empty()
    }

    /// Every goroutine and record, as entries.
    pub fn entries(&self) -> impl Iterator<Item = Entry<'_>> + '_ {
        self.goroutines
            .iter()
            .map(|g| Entry {
                count: 1,
                stack: g.stack,
                labels: g.labels,
                goroutine: Some(g),
            })
            .chain(self.records.iter().map(|r| Entry {
                count: r.count,
                stack: r.stack,
                labels: r.labels,
                goroutine: None,
            }))
    }

    /// The text of a symbol.
    #[inline]
    pub fn str(&self, s: Sym) -> &str {
        self.interner.str(s)
    }

    /// A frame by id.
    #[inline]
    pub fn frame(&self, f: FrameId) -> &Frame {
        self.interner.frame(f)
    }

    /// A stack's frames, innermost first.
    #[inline]
    pub fn stack(&self, s: StackId) -> &[FrameId] {
        self.interner.stack(s)
    }

    /// A frame's function name.
    #[inline]
    pub fn function(&self, f: FrameId) -> &str {
        self.interner.str(self.interner.frame(f).function)
    }

    /// A label set as `(key, value)` strings.
    pub fn labels(&self, l: LabelSetId) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.interner
            .labels(l)
            .iter()
            .map(|(k, v)| (self.interner.str(*k), self.interner.str(*v)))
    }

    /// A frame as `function`, `file:line` strings.
    pub fn frame_site(&self, f: FrameId) -> Site<'_> {
        let fr = self.interner.frame(f);
        Site {
            function: self.interner.str(fr.function),
            file: self.interner.str(fr.file),
            line: fr.line,
        }
    }
}

/// A source location: function, file and line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Site<'a> {
    pub function: &'a str,
    pub file: &'a str,
    pub line: u32,
}

impl fmt::Display for Site<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.file.is_empty() {
            f.write_str(self.function)
        } else {
            write!(f, "{} ({}:{})", self.function, self.file, self.line)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> Source {
        Source {
            input: "t".into(),
            index: 0,
            line: None,
            format: Format::Debug2,
            kind: ProfileKind::Goroutine,
        }
    }

    fn one_frame(s: &mut Snapshot, func: &str) -> StackId {
        let function = s.interner.intern_str(func);
        let file = s.interner.intern_str("main.go");
        let f = s.interner.intern_frame(Frame {
            function,
            file,
            line: 7,
            offset: None,
            inlined: false,
        });
        s.interner.intern_stack(&[f])
    }

    #[test]
    fn entries_cover_goroutines_and_records() {
        let mut s = Snapshot::new(src());
        let st = one_frame(&mut s, "main.a");
        s.goroutines.push(Goroutine::new(Goid(1), st));
        s.records.push(Record {
            count: 5,
            stack: st,
            labels: Interner::NO_LABELS,
        });
        assert_eq!(s.total_goroutines(), 6);
        assert_eq!(s.entries().map(|e| e.count).sum::<u64>(), 6);
        assert_eq!(
            s.frame_site(s.stack(st)[0]).to_string(),
            "main.a (main.go:7)"
        );
    }
}
