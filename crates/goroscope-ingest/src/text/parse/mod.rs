//! The line state machine: turns the lines of a text stream into goroutines and events.
//!
//! A [`Parser`] is resumable: it can be fed several consecutive blocks of whole lines. Blocks
//! that start at a goroutine header can be parsed by independent parsers (the header resets
//! every piece of per-goroutine state); the merger then puts their outputs together in order.
//! Everything a parser produces is owned (interned into its own [`Interner`] and [`ArgStore`]),
//! so a parser can outlive the bytes it read.
//!
//! Beside this state machine: [`frames`] (the frame cache behind the one-step path for frames
//! seen before), [`prefix`] (log prefixes and the report markers waiting for a header), and
//! [`args`] (the argument words printed after function names).

mod args;
mod frames;
mod prefix;

pub(crate) use prefix::Candidate;

use super::line::{self, FileLine, MarkerKind};
use frames::FrameCache;
use goroscope_model::{
    Ancestor, ArgKeeper, ArgRole, ArgStore, Elision, FrameId, Goid, Goroutine, Interner,
    LabelSetId, RunFrame, StateText, Sym, Warning,
};
use prefix::Prefix;
use rustc_hash::FxHashMap;

/// Frames kept per stack; Go prints at most 100 (+ ancestors), so this only stops hostile input.
const MAX_FRAMES: usize = 4096;
/// Ancestor blocks kept per goroutine (`tracebackancestors` is capped far lower by Go).
const MAX_ANCESTORS: usize = 1024;
/// Consecutive unrecognised lines after which an open goroutine is considered finished.
const MAX_NOISE_IN_GOROUTINE: u32 = 8;
/// How much of a marker line (`panic: …`) is kept as the snapshot's reason.
const MAX_REASON: usize = 1024;
/// Warnings one parser keeps (hostile input could otherwise make one per line).
const MAX_WARNINGS: usize = 1000;
/// Marker lines remembered while looking for the next header.
const MAX_CANDIDATES: usize = 8;

/// Per-goroutine facts the merger needs besides the [`Goroutine`] itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GInfo {
    /// Line of the header, relative to the parser's first line (1-based).
    pub line: u64,
    /// Lowest Go minor version the goroutine's text implies (0: nothing implied).
    pub hint: u8,
}

/// Something between goroutines that matters to snapshot boundaries or diagnostics.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    /// Number of goroutines this parser had emitted when the event happened.
    pub at: usize,
    pub kind: EventKind,
}

#[derive(Debug, Clone)]
pub(crate) enum EventKind {
    /// A report's first line (`panic: …`, `SIGQUIT: quit`), accepted because a goroutine header
    /// followed it; or a `debug=1` profile header, which ends the dump before it.
    Marker {
        kind: MarkerKind,
        text: String,
        line: u64,
        /// A `GOTRACEBACK=crash` per-thread section of the report before it (after `-----`).
        continues: bool,
        /// `running tests:` listed under the marker (a `go test` timeout).
        tests: Vec<String>,
    },
    /// A warning whose line is relative to the parser's first line.
    Warning(Warning),
    /// A race report or Delve listing, which are not goroutine dumps.
    NotDump { race: bool, line: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Frame,
    CreatedBy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not inside a goroutine.
    Outside,
    /// Inside a `runtime stack:` block (a thread's system stack): skipped until a blank line.
    SkipBlock,
    /// Inside a goroutine, expecting a function line (or a tail line).
    Func,
    /// Inside a goroutine, expecting the file line of the previous function line.
    File(Target),
}

/// An ancestor block being read.
#[derive(Debug, Clone)]
struct AncestorBuf {
    goid: u64,
    start: usize,
    created_by: Option<FrameId>,
}

/// The goroutine being read.
#[derive(Debug)]
struct Cur {
    g: Goroutine,
    line: u64,
    hint: u8,
    frames: Vec<FrameId>,
    anc: Vec<AncestorBuf>,
    anc_frames: Vec<FrameId>,
    frames_capped: bool,
    /// Argument words of its frames kept, in order, and per frame what [`args::parse`] found
    /// (with the frame's index in the stack).
    arg_words: Vec<u64>,
    arg_frames: Vec<RunFrame>,
    /// The keep policy's state over its frames so far.
    keeper: ArgKeeper,
}

/// Cached result of a header's bracket text.
#[derive(Debug, Clone)]
struct StateTemplate {
    g: Goroutine,
    hint: u8,
}

/// Turns lines into goroutines (see the module docs).
pub(crate) struct Parser {
    pub interner: Interner,
    pub goroutines: Vec<Goroutine>,
    pub info: Vec<GInfo>,
    pub events: Vec<Event>,
    /// Lines consumed so far.
    pub lines: u64,
    /// The input ended inside a goroutine.
    pub truncated: bool,

    state: State,
    prefix: Option<Prefix>,
    /// A header was found inside a line at this position; the next line decides whether the
    /// dump is glued to log text or every line carries a prefix.
    probe: Option<(Prefix, u8)>,
    cur: Option<Cur>,
    /// The allocations of the last finished goroutine, reused by the next.
    spare: Option<Cur>,
    candidates: Vec<Candidate>,
    /// A run of unrecognised lines outside goroutines: (first line, count).
    noise_run: Option<(u64, u64)>,
    noise_in_g: u32,
    seen_header: bool,
    not_dump_seen: bool,
    /// The last line had no newline (end of input).
    partial_line: bool,
    /// …and it visibly stops in the middle (after a space, `+`, `=`…).
    partial_cut: bool,
    warnings_kept: usize,
    warnings_dropped: u64,

    pend_name: Vec<u8>,
    pend_dots: bool,
    pend_creator: Option<u64>,

    /// Argument words of the goroutines finished so far ([`Goroutine::args`] points here).
    pub args: ArgStore,
    /// The pending function line's words are kept (already appended to the goroutine's
    /// words): what was found, and the frame's role.
    pend_args: Option<(args::Parsed, ArgRole)>,
    /// The last line outside goroutines was a `-----` thread separator.
    after_separator: bool,
    /// A candidate is reading its `running tests:` list.
    reading_tests: bool,
    frames: FrameCache,
    states: FxHashMap<Box<[u8]>, StateTemplate>,
    labels: FxHashMap<Box<[u8]>, LabelSetId>,
}

fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// Functions a complete stack usually ends in.
fn is_terminal_function(name: &str) -> bool {
    matches!(
        name,
        "main.main"
            | "runtime.main"
            | "runtime.goexit"
            | "runtime.goexit0"
            | "runtime.mstart"
            | "runtime.mstart0"
            | "runtime.mstart1"
            | "runtime.rt0_go"
            | "runtime.mcall"
            | "runtime.systemstack"
            | "runtime.morestack"
            | "runtime.asmcgocall"
            | "runtime.cgocallback"
            | "testing.tRunner"
    )
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

impl Parser {
    pub fn new() -> Parser {
        Parser {
            interner: Interner::new(),
            goroutines: Vec::new(),
            info: Vec::new(),
            events: Vec::new(),
            lines: 0,
            truncated: false,
            state: State::Outside,
            prefix: None,
            probe: None,
            cur: None,
            spare: None,
            candidates: Vec::new(),
            noise_run: None,
            noise_in_g: 0,
            seen_header: false,
            not_dump_seen: false,
            partial_line: false,
            partial_cut: false,
            warnings_kept: 0,
            warnings_dropped: 0,
            pend_name: Vec::new(),
            pend_dots: false,
            pend_creator: None,
            args: ArgStore::default(),
            pend_args: None,
            after_separator: false,
            reading_tests: false,
            frames: FrameCache::new(),
            states: FxHashMap::default(),
            labels: FxHashMap::default(),
        }
    }

    /// Feeds whole lines. `buf` must end with `\n` unless it is the end of the input.
    pub fn feed(&mut self, buf: &[u8]) {
        let mut start = 0;
        let nls = line::NewlineFinder::new();
        while let Some(nl) = nls.find(buf, start) {
            // The common case, a function line and its file line seen before: both lines in one
            // step, without copying the name or dispatching per line.
            if self.state == State::Func && self.prefix.is_none() && self.probe.is_none() {
                let next = nl + 1;
                if buf.get(next) == Some(&b'\t') {
                    if let Some(nl2) = nls.find(buf, next) {
                        if self.known_frame_pair(&buf[start..nl], &buf[next..nl2]) {
                            start = nl2 + 1;
                            continue;
                        }
                    }
                }
            }
            self.line(&buf[start..nl]);
            start = nl + 1;
        }
        if start < buf.len() {
            self.partial_line = true;
            let last = &buf[start..];
            let header_start = match memchr::memmem::find(last, b"goroutine ") {
                Some(p) => last.get(p + 10).is_none_or(u8::is_ascii_digit).then_some(p),
                None => (last.len() >= 4 && b"goroutine".starts_with(last)).then_some(0),
            };
            if let Some(p) = header_start {
                if line::parse_header(&last[p..]).is_none() {
                    self.truncated = true;
                    let msg = "input ends in the middle of a goroutine header";
                    self.warn(Warning::new(msg).at_line(self.lines + 1));
                }
            }
            // A last line of white space without its newline is not a blank line: it ends
            // nothing (the input was cut).
            if line::is_blank(last) {
                self.lines += 1;
            } else {
                // A line that stops right after a separator was cut even if it still parses.
                self.partial_cut = matches!(
                    last.last(),
                    Some(b' ' | b'+' | b'=' | b':' | b'(' | b',' | b'{' | b'[' | b'x')
                );
                self.line(last);
            }
        }
    }

    /// Adds a warning about the next line to be fed.
    pub fn warn_next_line(&mut self, message: String) {
        let line = self.lines + 1;
        self.warn(Warning::new(message).at_line(line));
    }

    fn warn(&mut self, w: Warning) {
        if self.warnings_kept >= MAX_WARNINGS {
            self.warnings_dropped += 1;
            return;
        }
        self.warnings_kept += 1;
        self.events.push(Event {
            at: self.goroutines.len(),
            kind: EventKind::Warning(w),
        });
    }

    /// A warning that is never dropped (the input was cut).
    fn warn_always(&mut self, w: Warning) {
        self.events.push(Event {
            at: self.goroutines.len(),
            kind: EventKind::Warning(w),
        });
    }

    /// Says how many warnings were not kept (called when the parser is finished).
    fn flush_dropped_warnings(&mut self) {
        if self.warnings_dropped > 0 {
            let n = std::mem::take(&mut self.warnings_dropped);
            self.events.push(Event {
                at: self.goroutines.len(),
                kind: EventKind::Warning(Warning::new(format!(
                    "{n} more warnings up to line {} were not kept",
                    self.lines
                ))),
            });
        }
    }

    /// Marker lines still waiting for a header (the header is in the next block).
    pub fn take_candidates(&mut self) -> Vec<Candidate> {
        std::mem::take(&mut self.candidates)
    }

    /// Whether the first thing this parser found was an accepted report marker.
    pub fn starts_with_marker(&self) -> bool {
        self.events
            .iter()
            .take_while(|e| e.at == 0)
            .any(|e| matches!(e.kind, EventKind::Marker { .. }))
    }

    /// The next block starts with a goroutine header: whatever is open is complete.
    pub fn close_at_cut(&mut self) {
        if self.cur.is_some() {
            self.close_goroutine();
        }
        self.state = State::Outside;
        self.flush_noise();
        self.flush_dropped_warnings();
    }

    /// The input ended: decide whether the last goroutine was cut off.
    pub fn finish_eof(&mut self) {
        self.flush_noise();
        self.flush_dropped_warnings();
        // Last, so that it is the last warning (kept when warnings are capped).
        self.eof_truncation();
    }

    fn eof_truncation(&mut self) {
        self.flush_noise();
        let Some(c) = self.cur.as_ref() else {
            return;
        };
        let (goid, line) = (c.g.goid, c.line);
        let cut_mid_frame = matches!(self.state, State::File(_));
        let complete = !cut_mid_frame
            && !self.partial_cut
            && (c.g.stack_unavailable
                || c.g.elided == Elision::Additional
                || c.g.created_by.is_some()
                || c.anc.last().is_some_and(|a| a.created_by.is_some())
                || c.frames.last().is_some_and(|f| {
                    is_terminal_function(self.interner.str(self.interner.frame(*f).function))
                }));
        if cut_mid_frame {
            // Drop the frame whose file line is missing: keep only what is complete.
            self.state = State::Func;
        }
        self.close_goroutine();
        if !complete {
            self.truncated = true;
            let how = if self.partial_line {
                "in the middle of a line"
            } else {
                "before the stack looks complete"
            };
            self.warn_always(
                Warning::new(format!(
                    "input ends inside goroutine {goid} (header at line {line}), {how}: its stack may be incomplete"
                ))
                .at_line(self.lines),
            );
        }
    }

    /// A function line followed by a tab-indented file line, when the frame is already in the
    /// cache: counts both lines and pushes the frame. Anything else (a new frame, a line that is
    /// not a function line) returns `false` with nothing changed, for the line-by-line path.
    #[inline]
    fn known_frame_pair(&mut self, func: &[u8], file: &[u8]) -> bool {
        let func = func.strip_suffix(b"\r").unwrap_or(func);
        let file = file.strip_suffix(b"\r").unwrap_or(file);
        let Some(f) = line::split_func(func) else {
            return false;
        };
        let dots = f.args == b"...";
        let key = line::file_key(file);
        let Some(k) = self.frames.step(f.name, key, dots) else {
            return false;
        };
        // The same bytes were a valid name when cached, unless they came from a `created by`
        // line: only a name with a space needs the full check again.
        let valid = if k.spaced {
            line::valid_name(f.name)
        } else {
            !f.name.ends_with(b":")
        };
        if !valid {
            return false;
        }
        let (id, role) = (k.id, k.role);
        self.lines += 2;
        self.noise_in_g = 0;
        self.note_args(f.args);
        self.pend_args = self.keep_args(f.args, role);
        self.push_frame(Target::Frame, id);
        true
    }

    /// Appends the words of a frame's arguments to the goroutine's, when the keep policy
    /// ([`goroscope_model::ArgKeeper`], shared with attach) keeps them. Frames of ancestors
    /// are not kept.
    #[inline(always)]
    fn keep_args(&mut self, args: &[u8], role: ArgRole) -> Option<(args::Parsed, ArgRole)> {
        let c = self.cur.as_mut()?;
        // Most frames are not kept: decide before any call. Inlined frames print `(...)`.
        if args.is_empty() || args == b"..." || !c.anc.is_empty() {
            return None;
        }
        let max = c.keeper.max_words(role);
        if max == 0 {
            return None;
        }
        Self::parse_kept(c, args, role, max)
    }

    /// The words of a frame [`Parser::keep_args`] keeps, appended to the goroutine's.
    fn parse_kept(
        c: &mut Cur,
        args: &[u8],
        role: ArgRole,
        max: usize,
    ) -> Option<(args::Parsed, ArgRole)> {
        // A deeper receiver printed with `?` is never kept: known without parsing.
        if c.keeper.as_receiver(role) && args::first_uncertain(args) {
            return None;
        }
        let before = c.arg_words.len();
        let p = args::parse(args, max, &mut c.arg_words);
        if !c.keeper.accepts(role, &c.arg_words[before..], p.uncertain) {
            c.arg_words.truncate(before);
            return None;
        }
        Some((p, role))
    }

    /// What a function line's arguments say about the Go version.
    #[inline]
    fn note_args(&mut self, args: &[u8]) {
        if let Some(c) = self.cur.as_mut() {
            if c.hint < 18 && !args.is_empty() {
                if memchr::memchr(b'?', args).is_some() {
                    c.hint = 18;
                } else if c.hint < 17 && memchr::memchr(b'{', args).is_some() {
                    c.hint = 17;
                }
            }
        }
    }

    #[inline]
    fn line(&mut self, raw: &[u8]) {
        self.lines += 1;
        let raw = match raw.last() {
            Some(b'\r') => &raw[..raw.len() - 1],
            _ => raw,
        };
        if self.probe.is_some() {
            self.probe_prefix(raw);
        }
        let content = match &self.prefix {
            None => raw,
            Some(p) => p.strip(raw),
        };
        match self.state {
            State::Func => self.in_func(raw, content),
            State::File(t) => {
                // Most file lines were seen before with the same function: look the frame up by
                // its raw bytes and parse the line only when it is new.
                let key = line::file_key(content);
                if let Some(id) = self
                    .frames
                    .get(&self.pend_name, key, self.pend_dots)
                    .map(|k| k.id)
                {
                    self.noise_in_g = 0;
                    self.push_frame(t, id);
                    self.state = State::Func;
                } else if let Some(f) = line::parse_file(content) {
                    self.noise_in_g = 0;
                    self.complete_frame(t, Some(f));
                    self.state = State::Func;
                } else if !recognised(raw, content) {
                    // A stray line between a function and its file line (another writer's
                    // log line): skip it and keep waiting for the file line.
                    self.noise_line(raw);
                } else {
                    let what = match t {
                        Target::Frame => "function",
                        Target::CreatedBy => "`created by`",
                    };
                    let msg = format!("{what} line without its file line");
                    self.warn(Warning::new(msg).at_line(self.lines - 1));
                    self.complete_frame(t, None);
                    self.state = State::Func;
                    self.in_func(raw, content);
                }
            }
            State::Outside => self.outside(raw, content),
            State::SkipBlock => {
                if line::is_blank(content) {
                    self.state = State::Outside;
                } else if line::parse_func(content).is_none()
                    && line::parse_file(content).is_none()
                    && line::parse_elided(content).is_none()
                    && !content.starts_with(b"created by ")
                {
                    self.state = State::Outside;
                    self.outside(raw, content);
                }
            }
        }
    }

    /// Decides how the lines after a header found inside a line are prefixed.
    fn probe_prefix(&mut self, raw: &[u8]) {
        let Some((p, tries)) = self.probe.take() else {
            return;
        };
        let fits = |c: &[u8]| {
            line::parse_func(c).is_some()
                || c.starts_with(b"created by ")
                || line::is_unavailable(c)
                || line::parse_ancestor(c).is_some()
                || line::parse_elided(c).is_some()
        };
        if fits(raw) {
            self.prefix = None;
            return;
        }
        if raw.len() > p.len && fits(p.strip(raw)) {
            self.prefix = Some(p);
            return;
        }
        if tries < 3 {
            self.probe = Some((p, tries + 1));
        } else {
            self.prefix = None;
        }
    }

    fn in_func(&mut self, raw: &[u8], content: &[u8]) {
        if let Some(f) = line::parse_func(content) {
            self.noise_in_g = 0;
            self.pend_name.clear();
            self.pend_name.extend_from_slice(f.name);
            self.pend_dots = f.args == b"...";
            self.note_args(f.args);
            self.pend_args = self.keep_args(f.args, ArgRole::of(f.name));
            self.state = State::File(Target::Frame);
            return;
        }
        if content.starts_with(b"created by ") {
            if let Some((name, creator)) = line::parse_created_by(content) {
                self.noise_in_g = 0;
                self.pend_name.clear();
                self.pend_name.extend_from_slice(name);
                self.pend_dots = false;
                self.pend_creator = creator;
                self.state = State::File(Target::CreatedBy);
                return;
            }
        }
        if line::is_blank(content) {
            self.close_goroutine();
            return;
        }
        if content.starts_with(b"goroutine ") {
            if let Some(h) = line::parse_header(content) {
                self.start_goroutine(h, raw, None);
                return;
            }
        }
        if let Some(id) = line::parse_ancestor(content) {
            self.noise_in_g = 0;
            if let Some(c) = self.cur.as_mut() {
                if c.anc.len() < MAX_ANCESTORS {
                    c.anc.push(AncestorBuf {
                        goid: id,
                        start: c.anc_frames.len(),
                        created_by: None,
                    });
                }
            }
            return;
        }
        if let Some(e) = line::parse_elided(content) {
            self.noise_in_g = 0;
            if let Some(c) = self.cur.as_mut() {
                if c.anc.is_empty() {
                    c.g.elided = match e {
                        None => Elision::Additional,
                        Some(n) => {
                            c.hint = c.hint.max(21);
                            Elision::Count(n)
                        }
                    };
                }
            }
            return;
        }
        if line::is_unavailable(content) {
            self.noise_in_g = 0;
            if let Some(c) = self.cur.as_mut() {
                c.g.stack_unavailable = true;
            }
            return;
        }
        if line::strip_indent(content).starts_with(b"non-Go function") {
            self.noise_in_g = 0;
            self.pend_name.clear();
            self.pend_name.extend_from_slice(b"non-Go function");
            self.pend_dots = false;
            self.complete_frame(Target::Frame, None);
            return;
        }
        // A header glued to text or behind a different prefix, or a new report: the goroutine
        // is over.
        if line::trim_end(raw).ends_with(b":") {
            if let Some(p) = line::find_header(raw) {
                let h = line::parse_header(&raw[p..]).expect("find_header checked it");
                self.start_goroutine(h, raw, Some(p));
                return;
            }
        }
        if line::marker_at(content).is_some()
            || line::marker_at(raw).is_some()
            || line::is_known_noise(content)
        {
            self.close_goroutine();
            self.outside(raw, content);
            return;
        }
        self.noise_line(raw);
    }

    /// An unrecognised line inside a goroutine: warned with its line number.
    fn noise_line(&mut self, raw: &[u8]) {
        self.noise_in_g += 1;
        let msg = format!(
            "skipped a line inside goroutine {}: {:?}",
            self.cur.as_ref().map_or(0, |c| c.g.goid.0),
            shorten(raw)
        );
        self.warn(Warning::new(msg).at_line(self.lines));
        if self.noise_in_g >= MAX_NOISE_IN_GOROUTINE {
            self.close_goroutine();
        }
    }

    fn outside(&mut self, raw: &[u8], content: &[u8]) {
        if line::is_blank(content) {
            return;
        }
        if self.reading_tests {
            if let Some(name) = line::parse_running_test(content) {
                if let Some(c) = self.candidates.last_mut() {
                    if c.tests.len() < prefix::MAX_TESTS {
                        c.tests.push(lossy(name).into_owned());
                    }
                }
                return;
            }
            self.reading_tests = false;
        }
        let t = line::trim_end(raw);
        if t.ends_with(b":") && content.starts_with(b"goroutine ") {
            if let Some(h) = line::parse_header(content) {
                self.start_goroutine(h, raw, None);
                return;
            }
        }
        let stripped = line::trim_end(line::strip_indent(content));
        if stripped == b"running tests:" && !self.candidates.is_empty() {
            self.reading_tests = true;
            return;
        }
        if stripped == b"-----" {
            // The separator between the per-thread sections of a `GOTRACEBACK=crash` report.
            self.after_separator = true;
            return;
        }
        if t.ends_with(b":") {
            if let Some(p) = line::find_header(raw) {
                let h = line::parse_header(&raw[p..]).expect("find_header checked it");
                self.start_goroutine(h, raw, Some(p));
                return;
            }
            if line::trim_end(content) == b"runtime stack:" {
                self.state = State::SkipBlock;
                return;
            }
        }
        if let Some((pos, kind)) = line::find_marker(raw) {
            self.flush_noise();
            let text =
                lossy(line::trim_end(&raw[pos..raw.len().min(pos + MAX_REASON)])).into_owned();
            if kind == MarkerKind::Debug1 && (pos == 0 || content.len() + pos == raw.len()) {
                self.candidates.clear();
                self.events.push(Event {
                    at: self.goroutines.len(),
                    kind: EventKind::Marker {
                        kind,
                        text,
                        line: self.lines,
                        continues: false,
                        tests: Vec::new(),
                    },
                });
                return;
            }
            if self.candidates.len() < MAX_CANDIDATES {
                self.candidates.push(Candidate {
                    kind,
                    text,
                    pos,
                    before: raw[..pos.min(256)].to_vec(),
                    line: self.lines,
                    continues: std::mem::take(&mut self.after_separator),
                    tests: Vec::new(),
                });
            }
            return;
        }
        if (line::is_race(raw) || line::is_delve(content)) && !self.not_dump_seen {
            self.not_dump_seen = true;
            self.events.push(Event {
                at: self.goroutines.len(),
                kind: EventKind::NotDump {
                    race: line::is_race(raw),
                    line: self.lines,
                },
            });
            return;
        }
        if line::is_known_noise(content) || !self.seen_header {
            return;
        }
        match &mut self.noise_run {
            Some((_, n)) => *n += 1,
            None => self.noise_run = Some((self.lines, 1)),
        }
    }

    fn flush_noise(&mut self) {
        if let Some((first, n)) = self.noise_run.take() {
            let msg = if n == 1 {
                "skipped 1 line that is not part of a goroutine".to_string()
            } else {
                format!(
                    "skipped {n} lines that are not part of a goroutine (lines {first}-{})",
                    first + n - 1
                )
            };
            self.warn(Warning::new(msg).at_line(first));
        }
    }

    fn start_goroutine(&mut self, h: line::Header<'_>, raw: &[u8], found_at: Option<usize>) {
        if self.cur.is_some() {
            self.close_goroutine();
        }
        self.flush_noise();
        self.seen_header = true;
        self.noise_in_g = 0;
        match found_at {
            // A header at the start of the raw line: this dump has no prefix.
            None if raw.starts_with(b"goroutine ") => self.prefix = None,
            None => {}
            Some(0) => self.prefix = None,
            Some(p) => {
                let pre = Prefix::from_header_prefix(&raw[..p]);
                // Glued to log text, or every line carries a prefix: the next line decides.
                self.probe = Some((pre, 0));
            }
        }
        // A marker line before this header starts a new report.
        if !self.candidates.is_empty() {
            let pre = match (found_at, &self.prefix) {
                (Some(p), _) => Prefix::from_header_prefix(&raw[..p]),
                (None, Some(p)) => p.clone(),
                (None, None) => Prefix::default(),
            };
            if let Some(i) = self.candidates.iter().position(|c| pre.accepts(c)) {
                let c = self.candidates.swap_remove(i);
                self.events.push(Event {
                    at: self.goroutines.len(),
                    kind: EventKind::Marker {
                        kind: c.kind,
                        text: c.text,
                        line: c.line,
                        continues: c.continues,
                        tests: c.tests,
                    },
                });
            }
            self.candidates.clear();
        }
        self.after_separator = false;
        self.reading_tests = false;

        let mut hint;
        let mut g = match self.states.get(h.state) {
            Some(t) => {
                hint = t.hint;
                let mut g = t.g.clone();
                g.goid = Goid(h.goid);
                g
            }
            None => {
                let text = lossy(h.state);
                let st = StateText::parse(&text);
                let mut g = Goroutine::new(Goid(h.goid), goroscope_model::StackId(0));
                g.set_state(&st, &mut self.interner);
                let mut th = 0u8;
                if st.leaked {
                    th = 26;
                } else if st.synctest_bubble.is_some() || text.contains("(durable)") {
                    th = 24;
                }
                self.states.insert(
                    h.state.into(),
                    StateTemplate {
                        g: g.clone(),
                        hint: th,
                    },
                );
                hint = th;
                g
            }
        };
        if h.has_gp {
            hint = hint.max(22);
            g.gp = h.gp;
            g.m = h.m;
        }
        if let Some(lb) = h.labels {
            if !lb.is_empty() {
                hint = 27;
            }
            g.labels = match self.labels.get(lb) {
                Some(&id) => id,
                None => {
                    let id = match line::parse_labels(lb) {
                        Some(pairs) => {
                            let pairs = pairs
                                .iter()
                                .map(|(k, v)| {
                                    (self.interner.intern_str(k), self.interner.intern_str(v))
                                })
                                .collect();
                            self.interner.intern_labels(pairs)
                        }
                        None => {
                            let msg = format!(
                                "could not read the labels of goroutine {}: {:?}",
                                h.goid,
                                shorten(lb)
                            );
                            self.warn(Warning::new(msg).at_line(self.lines));
                            Interner::NO_LABELS
                        }
                    };
                    self.labels.insert(lb.into(), id);
                    id
                }
            };
        }
        let mut c = self.spare.take().unwrap_or_else(|| Cur {
            g: g.clone(),
            line: 0,
            hint: 0,
            frames: Vec::new(),
            anc: Vec::new(),
            anc_frames: Vec::new(),
            frames_capped: false,
            arg_words: Vec::new(),
            arg_frames: Vec::new(),
            keeper: ArgKeeper::new(),
        });
        c.g = g;
        c.line = self.lines;
        c.hint = hint;
        c.frames.clear();
        c.anc.clear();
        c.anc_frames.clear();
        c.frames_capped = false;
        c.arg_words.clear();
        c.arg_frames.clear();
        c.keeper = ArgKeeper::new();
        self.pend_args = None;
        self.cur = Some(c);
        self.state = State::Func;
    }

    /// Finishes the pending function or `created by` line with its file line (or none).
    fn complete_frame(&mut self, t: Target, f: Option<FileLine<'_>>) {
        let id = self.frames.frame_id(
            &mut self.interner,
            &self.pend_name,
            self.pend_dots,
            f.as_ref(),
        );
        self.push_frame(t, id);
    }

    /// Adds a finished frame to the goroutine (or its current ancestor).
    #[inline(always)]
    fn push_frame(&mut self, t: Target, id: FrameId) {
        let Some(c) = self.cur.as_mut() else {
            return;
        };
        match t {
            Target::Frame => {
                let dst = if c.anc.is_empty() {
                    &mut c.frames
                } else {
                    &mut c.anc_frames
                };
                if dst.len() < MAX_FRAMES {
                    if let Some((p, role)) = self.pend_args.filter(|_| c.anc.is_empty()) {
                        self.pend_args = None;
                        let first = c.arg_words[c.arg_words.len() - usize::from(p.n)];
                        c.keeper.kept(role, first);
                        c.arg_frames.push(RunFrame {
                            frame: dst.len() as u16,
                            words: p.n,
                            uncertain: p.uncertain,
                            more: p.more,
                        });
                    }
                    dst.push(id);
                } else if !c.frames_capped {
                    c.frames_capped = true;
                    let msg = format!(
                        "goroutine {} has more than {MAX_FRAMES} frames; the rest were skipped",
                        c.g.goid
                    );
                    let line = self.lines;
                    self.warn(Warning::new(msg).at_line(line));
                }
            }
            Target::CreatedBy => match c.anc.last_mut() {
                Some(a) => a.created_by = Some(id),
                None => {
                    c.g.created_by = Some(id);
                    c.g.creator_goid = self.pend_creator.map(Goid);
                    if self.pend_creator.is_some() {
                        c.hint = c.hint.max(21);
                    }
                }
            },
        }
        self.pend_creator = None;
        // Words of a frame that was not kept (past the frame cap): take them back.
        if let (Some((p, _)), Some(c)) = (self.pend_args.take(), self.cur.as_mut()) {
            let keep = c.arg_words.len() - usize::from(p.n);
            c.arg_words.truncate(keep);
        }
    }

    fn close_goroutine(&mut self) {
        if let State::File(t) = self.state {
            let msg = match t {
                Target::Frame => "function line without its file line",
                Target::CreatedBy => "`created by` line without its file line",
            };
            self.warn(Warning::new(msg).at_line(self.lines));
            self.complete_frame(t, None);
        }
        self.state = State::Outside;
        let Some(c) = self.cur.take() else {
            return;
        };
        let mut g = c.g.clone();
        g.stack = self.interner.intern_stack(&c.frames);
        if !c.anc.is_empty() {
            let mut out = Vec::with_capacity(c.anc.len());
            for (i, a) in c.anc.iter().enumerate() {
                let end = c.anc.get(i + 1).map_or(c.anc_frames.len(), |n| n.start);
                out.push(Ancestor {
                    goid: Goid(a.goid),
                    stack: self.interner.intern_stack(&c.anc_frames[a.start..end]),
                    created_by: a.created_by,
                    creator_goid: c.anc.get(i + 1).map(|n| Goid(n.goid)),
                });
            }
            if g.creator_goid.is_none() {
                g.creator_goid = Some(out[0].goid);
            }
            g.ancestors = out.into_boxed_slice();
        }
        if !c.arg_frames.is_empty() {
            g.args = self.args.push_run(&c.arg_words, &c.arg_frames);
        }
        self.goroutines.push(g);
        self.info.push(GInfo {
            line: c.line,
            hint: c.hint,
        });
        // Keep the allocations for the next goroutine.
        self.spare = Some(c);
    }

    /// A symbol by id, for callers holding only the parser.
    #[allow(dead_code)]
    pub fn sym(&self, s: Sym) -> &str {
        self.interner.str(s)
    }
}

/// Whether a line is one the dump grammar knows (anything but noise).
fn recognised(raw: &[u8], content: &[u8]) -> bool {
    line::is_blank(content)
        || line::parse_func(content).is_some()
        || content.starts_with(b"created by ")
        || content.starts_with(b"goroutine ")
        || line::parse_ancestor(content).is_some()
        || line::parse_elided(content).is_some()
        || line::is_unavailable(content)
        || line::marker_at(content).is_some()
        || line::is_known_noise(content)
        || (line::trim_end(raw).ends_with(b":") && line::find_header(raw).is_some())
}

/// A line for a warning: at most 120 characters.
fn shorten(b: &[u8]) -> String {
    let s = lossy(&b[..b.len().min(160)]);
    let mut out: String = s.chars().take(120).collect();
    if out.len() < s.len() || b.len() > 160 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack_names(p: &Parser, g: usize) -> Vec<&str> {
        let i = &p.interner;
        i.stack(p.goroutines[g].stack)
            .iter()
            .map(|f| i.str(i.frame(*f).function))
            .collect()
    }

    #[test]
    fn cached_frame_pairs_read_like_single_lines() {
        // The second goroutine repeats the first's frames (the one-step path); a `created by`
        // name with a space must not make the same bytes a function name later.
        let text = b"goroutine 1 [running]:\nmain.f(0x1)\n\t/a/main.go:3 +0x1\ncreated by x y\n\t/a/main.go:9 +0x2\n\ngoroutine 2 [running]:\nmain.f(0x2?)\n\t/a/main.go:3 +0x1\nx y()\n\t/a/main.go:9 +0x2\nmain.f(...)\n\t/a/main.go:3 +0x1\n";
        let mut p = Parser::new();
        p.feed(text);
        p.finish_eof();
        assert_eq!(p.goroutines.len(), 2);
        assert_eq!(stack_names(&p, 0), ["main.f"]);
        assert_eq!(stack_names(&p, 1), ["main.f", "main.f"]);
        assert_eq!(p.info[1].hint, 18, "`?` in the arguments of a cached frame");
        // `x y()` was skipped as noise, its file line with it.
        let warned = p.events.iter().any(
            |e| matches!(&e.kind, EventKind::Warning(w) if w.message.contains("skipped a line")),
        );
        assert!(warned, "{:?}", p.events);
        assert_eq!(p.lines, 13);
    }
}

#[cfg(test)]
mod guess_tests {
    use super::*;

    #[test]
    fn a_wrong_guess_of_the_next_frame_falls_back_to_the_cache() {
        let g = |id: u32, second: &str| {
            format!(
                "goroutine {id} [select]:\nmain.a(0x1)\n\t/m.go:1 +0x1\nmain.{second}()\n\t/m.go:2 +0x2\n\n"
            )
        };
        // Every frame pair after the first goroutine is known; the frame after `main.a` changes.
        let text = [g(1, "b"), g(2, "c"), g(3, "b"), g(4, "c"), g(5, "c")].concat();
        let mut p = Parser::new();
        p.feed(text.as_bytes());
        p.finish_eof();
        let i = &p.interner;
        let names: Vec<String> = p
            .goroutines
            .iter()
            .map(|g| {
                let s = i.stack(g.stack);
                let f = i.frame(s[1]);
                format!("{}:{}:{}", s.len(), i.str(f.function), f.line)
            })
            .collect();
        assert_eq!(
            names,
            [
                "2:main.b:2",
                "2:main.c:2",
                "2:main.b:2",
                "2:main.c:2",
                "2:main.c:2"
            ]
        );
        assert!(p.events.is_empty(), "{:?}", p.events);
    }
}
