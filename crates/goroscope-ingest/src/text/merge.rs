//! Putting parser outputs together, in input order, into one [`Snapshot`] per dump.
//!
//! Parsers work on blocks independently; the merger walks their goroutines and events in order,
//! decides where one dump ends and the next begins (a report marker such as `panic:` or
//! `SIGQUIT:`, a `debug=1` profile header, or a goroutine id seen twice), and moves each
//! goroutine's interned ids into its snapshot's interner through a lazy, cached translation,
//! and its argument words into its snapshot's store.
//!
//! A `GOTRACEBACK=crash` report goes on after its goroutines with one section per thread
//! (`-----`, `SIGQUIT: quit`, the thread's `goroutine 0` g0 or signal stack, the goroutine it
//! was running, registers): such a marker continues the snapshot instead of starting one;
//! `goroutine 0` stacks (in every section, and at the top of a `system`/`crash` dump) become
//! [`Snapshot::system_stacks`], never goroutines; and a goroutine printed again in its
//! thread's section replaces its `stack unavailable` entry.
//!
//! The snapshots of one input (of all inputs sharing a [`Budget`]) are capped: past the cap,
//! dumps are counted and dropped, never held, and the last snapshot kept says so.

use super::line::MarkerKind;
use super::parse::{EventKind, Parser};
use crate::{IngestError, Result};
use goroscope_model::{
    Appended, Context, Format, FrameId, Goroutine, Interner, LabelSetId, ProfileKind, Snapshot,
    Source, StackId, Sym, TestRun, Warning,
};
use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Warnings kept per snapshot; the rest are counted in one last warning.
const MAX_WARNINGS: usize = 1000;

const UNMAPPED: u32 = u32::MAX;

/// Lazily translates one parser's ids into one snapshot's interner.
#[derive(Default)]
struct Remap {
    strings: Vec<u32>,
    frames: Vec<u32>,
    stacks: Vec<u32>,
    labels: Vec<u32>,
    buf: Vec<FrameId>,
}

#[inline]
fn slot(v: &mut Vec<u32>, i: usize) -> &mut u32 {
    if i >= v.len() {
        v.resize(i + 1, UNMAPPED);
    }
    &mut v[i]
}

impl Remap {
    fn clear(&mut self) {
        self.strings.clear();
        self.frames.clear();
        self.stacks.clear();
        self.labels.clear();
    }

    fn sym(&mut self, src: &Interner, dst: &mut Interner, s: Sym) -> Sym {
        let e = slot(&mut self.strings, s.index());
        if *e == UNMAPPED {
            *e = dst.intern_str(src.str(s)).0;
        }
        Sym(*e)
    }

    fn frame(&mut self, src: &Interner, dst: &mut Interner, f: FrameId) -> FrameId {
        if let Some(&m) = self.frames.get(f.index()) {
            if m != UNMAPPED {
                return FrameId(m);
            }
        }
        let mut fr = *src.frame(f);
        fr.function = self.sym(src, dst, fr.function);
        fr.file = self.sym(src, dst, fr.file);
        let id = dst.intern_frame(fr);
        *slot(&mut self.frames, f.index()) = id.0;
        id
    }

    fn stack(&mut self, src: &Interner, dst: &mut Interner, s: StackId) -> StackId {
        if let Some(&m) = self.stacks.get(s.index()) {
            if m != UNMAPPED {
                return StackId(m);
            }
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        for &f in src.stack(s) {
            buf.push(self.frame(src, dst, f));
        }
        let id = dst.intern_stack(&buf);
        self.buf = buf;
        *slot(&mut self.stacks, s.index()) = id.0;
        id
    }

    fn labels(&mut self, src: &Interner, dst: &mut Interner, l: LabelSetId) -> LabelSetId {
        if l == Interner::NO_LABELS {
            return l;
        }
        if let Some(&m) = self.labels.get(l.index()) {
            if m != UNMAPPED {
                return LabelSetId(m);
            }
        }
        let pairs = src
            .labels(l)
            .iter()
            .map(|&(k, v)| (self.sym(src, dst, k), self.sym(src, dst, v)))
            .collect();
        let id = dst.intern_labels(pairs);
        *slot(&mut self.labels, l.index()) = id.0;
        id
    }
}

/// A snapshot being filled.
struct Building {
    snap: Snapshot,
    seen: SeenIds,
    hint: u8,
    /// Inside the per-thread sections of a `GOTRACEBACK=crash` report.
    threads: bool,
    /// Goroutines printed as `stack unavailable` (running on another thread): goid → index,
    /// for their thread's section to fill in.
    unavailable: FxHashMap<u64, usize>,
    /// Which snapshot this is (counting every one started), to tell where a parser's
    /// argument words were appended.
    id: u64,
}

/// How many more snapshots may be made, shared by the mergers of one input.
#[derive(Debug, Clone)]
pub(crate) struct Budget(Arc<AtomicUsize>);

impl Budget {
    pub fn new(max: usize) -> Self {
        Budget(Arc::new(AtomicUsize::new(max)))
    }

    /// Takes one snapshot's place; false when none is left.
    fn take(&self) -> bool {
        self.0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// Dumps dropped past the budget.
struct Skipped {
    /// Line where the first dropped dump starts.
    from_line: u64,
    dumps: u64,
    goroutines: u64,
    /// Ids of the dump being dropped (a repeated id starts the next one).
    seen: SeenIds,
}

/// A report's first line, confirmed by the goroutine header after it.
#[derive(Debug, Clone)]
pub(crate) struct Marker {
    pub text: String,
    /// Absolute line.
    pub line: u64,
    /// A per-thread section of the report before it (after `-----`).
    pub continues: bool,
    pub tests: Vec<String>,
}

/// The runtime's own deadlock verdicts: every goroutine, or a `testing/synctest` bubble
/// (Go 1.24+).
const DEADLOCKS: &[&str] = &[
    "all goroutines are asleep - deadlock!",
    "deadlock: main bubble goroutine has exited but blocked goroutines remain",
    "deadlock: all goroutines in bubble are blocked",
];

/// What a report's first line says about the moment of the snapshot.
fn context_of(reason: &str) -> Context {
    if DEADLOCKS.iter().any(|d| reason.contains(d)) {
        Context::Deadlock
    } else if reason.starts_with("panic: test timed out after ") {
        Context::Test
    } else {
        Context::Crash
    }
}

/// Goroutine ids seen in one snapshot: a bitmap for the usual small, dense ids, a hash set
/// for the rest.
#[derive(Default)]
struct SeenIds {
    bits: Vec<u64>,
    rest: FxHashSet<u64>,
}

/// Ids below this go to the bitmap (at most 8 MiB of it).
const BITMAP_IDS: u64 = 1 << 26;

impl SeenIds {
    /// Records `id`; false when it was already there.
    #[inline]
    fn insert(&mut self, id: u64) -> bool {
        if id >= BITMAP_IDS {
            return self.rest.insert(id);
        }
        let (w, b) = ((id / 64) as usize, id % 64);
        if w >= self.bits.len() {
            self.bits.resize((w + 1).next_power_of_two(), 0);
        }
        let fresh = self.bits[w] & (1 << b) == 0;
        self.bits[w] |= 1 << b;
        fresh
    }

    #[inline]
    fn contains(&self, id: u64) -> bool {
        if id >= BITMAP_IDS {
            return self.rest.contains(&id);
        }
        let (w, b) = ((id / 64) as usize, id % 64);
        self.bits.get(w).is_some_and(|x| x & (1 << b) != 0)
    }
}

/// Collects snapshots from parsers drained in input order.
pub(crate) struct Merger<'a> {
    name: &'a str,
    done: Vec<Snapshot>,
    cur: Option<Building>,
    /// A report marker waiting for its first goroutine.
    pending: Option<Marker>,
    /// Warnings seen before the first snapshot exists.
    early_warnings: Vec<Warning>,
    /// A race report / Delve listing was seen: (race?, absolute line).
    not_dump: Option<(bool, u64)>,
    /// Lines consumed by the parsers drained so far.
    pub base_line: u64,
    remap: Remap,
    truncated: bool,
    budget: Budget,
    skipped: Option<Skipped>,
    /// The dump being read is being dropped (past the budget).
    skipping: bool,
    /// Snapshots started so far.
    started: u64,
}

impl<'a> Merger<'a> {
    pub fn new(name: &'a str, budget: Budget) -> Self {
        Merger {
            name,
            done: Vec::new(),
            cur: None,
            pending: None,
            early_warnings: Vec::new(),
            not_dump: None,
            base_line: 0,
            remap: Remap::default(),
            truncated: false,
            budget,
            skipped: None,
            skipping: false,
            started: 0,
        }
    }

    fn finish_current(&mut self) {
        self.skipping = false;
        let Some(b) = self.cur.take() else {
            return;
        };
        let mut s = b.snap;
        let mut hint = b.hint;
        if s.reason
            .as_deref()
            .is_some_and(|r| r.contains("[recovered, repanicked]"))
        {
            hint = hint.max(24);
        }
        if hint > 0 {
            s.go_version_min = Some(format!("go1.{hint}"));
        }
        if s.warnings.len() > MAX_WARNINGS {
            // Keep the first ones and the last one (where a cut-off input is reported).
            let last = s.warnings.pop().expect("more than MAX_WARNINGS");
            let extra = s.warnings.len() - MAX_WARNINGS;
            s.warnings.truncate(MAX_WARNINGS);
            s.warnings
                .push(Warning::new(format!("{extra} more warnings not shown")));
            s.warnings.push(last);
        }
        s.source.index = self.done.len();
        self.done.push(s);
    }

    fn warn(&mut self, w: Warning) {
        if self.skipping {
            return;
        }
        match self.cur.as_mut() {
            Some(b) => b.snap.warnings.push(w),
            None => match self.done.last_mut() {
                Some(s) if self.pending.is_none() => s.warnings.push(w),
                _ => self.early_warnings.push(w),
            },
        }
    }

    fn handle(&mut self, kind: &EventKind) {
        let base = self.base_line;
        match kind {
            EventKind::Marker {
                kind,
                text,
                line,
                continues,
                tests,
            } => {
                if *kind == MarkerKind::Debug1 {
                    self.finish_current();
                    self.pending = None;
                    let w = Warning::new(format!(
                        "a pprof debug=1 profile ({text}) starts here; it is not part of a text dump and was skipped (read it on its own)"
                    ))
                    .at_line(base + line);
                    match self.done.last_mut() {
                        Some(s) => s.warnings.push(w),
                        None => self.early_warnings.push(w),
                    }
                } else {
                    self.marker(Marker {
                        text: text.clone(),
                        line: base + line,
                        continues: *continues,
                        tests: tests.clone(),
                    });
                }
            }
            EventKind::Warning(w) => {
                let mut w = w.clone();
                w.line = w.line.map(|l| l + base);
                self.warn(w);
            }
            EventKind::NotDump { race, line } => {
                if self.not_dump.is_none() {
                    self.not_dump = Some((*race, base + line));
                }
                let what = if *race {
                    "a race detector report (WARNING: DATA RACE) was skipped: it is not a goroutine dump"
                } else {
                    "a Delve `goroutines` listing was skipped: it is not a goroutine dump"
                };
                self.warn(Warning::new(what).at_line(base + line));
            }
        }
    }

    /// A report marker: a new report, or a thread section of the current one.
    fn marker(&mut self, m: Marker) {
        if m.continues && (self.cur.is_some() || self.skipping) {
            if let Some(b) = self.cur.as_mut() {
                b.threads = true;
            }
            return;
        }
        self.finish_current();
        self.pending = Some(m);
    }

    /// Starts the snapshot of a new dump (or, past the budget, starts dropping it).
    fn start(&mut self, line: u64) {
        let pending = self.pending.take();
        if !self.budget.take() {
            let sk = self.skipped.get_or_insert(Skipped {
                from_line: pending.as_ref().map_or(line, |m| m.line),
                dumps: 0,
                goroutines: 0,
                seen: SeenIds::default(),
            });
            sk.dumps += 1;
            sk.seen = SeenIds::default();
            self.early_warnings.clear();
            self.skipping = true;
            return;
        }
        let (format, line) = match &pending {
            Some(m) => (Format::Traceback, m.line),
            None => (Format::Debug2, line),
        };
        let mut snap = Snapshot::new(Source {
            input: self.name.to_string(),
            index: 0,
            line: Some(line),
            format,
            kind: ProfileKind::Goroutine,
        });
        if let Some(m) = pending {
            snap.context = Some(context_of(&m.text));
            if !m.tests.is_empty() {
                snap.test = Some(TestRun {
                    package: None,
                    tests: m.tests,
                });
            }
            snap.reason = Some(m.text);
        }
        snap.warnings.append(&mut self.early_warnings);
        self.remap.clear();
        self.started += 1;
        self.cur = Some(Building {
            snap,
            seen: SeenIds::default(),
            hint: 0,
            threads: false,
            unavailable: FxHashMap::default(),
            id: self.started,
        });
    }

    /// A report marker from the end of the previous block, confirmed by the header that starts
    /// the next one (`line` is absolute).
    pub fn carried_marker(&mut self, m: Marker) {
        self.marker(m);
    }

    /// Moves what a parser produced so far into snapshots; the parser may go on. `fresh`
    /// says this parser was not drained before (its ids are new to the merger).
    pub fn drain_part(&mut self, p: &mut Parser, fresh: bool) {
        let base = self.base_line;
        let events = std::mem::take(&mut p.events);
        let mut ev = events.iter().peekable();
        let goroutines = std::mem::take(&mut p.goroutines);
        let info = std::mem::take(&mut p.info);
        // Every goroutine whose words are in it is drained below. They move into a snapshot's
        // store all at once, the first time one of them lands in it (the snapshot it went to,
        // and where): goroutines of other snapshots (past a dump boundary) copy their own.
        let args = &p.args;
        let mut appended: Option<(u64, Appended)> = None;
        if fresh {
            // A new parser: translations from the previous one do not apply.
            self.remap.clear();
        }
        for (i, (mut g, inf)) in goroutines.into_iter().zip(info).enumerate() {
            while let Some(e) = ev.next_if(|e| e.at <= i) {
                self.handle(&e.kind);
            }
            let goid = g.goid.0;
            // `goroutine 0`: a thread's g0 or signal stack, not a goroutine.
            let system = goid == 0;
            if self.skipping {
                let sk = self.skipped.as_mut().expect("skipping has its counts");
                if !system && !sk.seen.insert(goid) {
                    self.start(base + inf.line);
                    let sk = self.skipped.as_mut().expect("still skipping");
                    sk.seen.insert(goid);
                }
                if !system {
                    self.skipped.as_mut().expect("still skipping").goroutines += 1;
                }
                continue;
            }
            let repeat = !system && self.cur.as_ref().is_some_and(|b| b.seen.contains(goid));
            let mut replace = None;
            if repeat {
                let b = self.cur.as_mut().expect("repeat implies a snapshot");
                if b.threads {
                    // Printed again in its thread's section: fill in a `stack unavailable`
                    // entry, or drop the copy.
                    match b.unavailable.remove(&goid) {
                        Some(at) => replace = Some(at),
                        None => continue,
                    }
                } else {
                    self.finish_current();
                }
            }
            if self.cur.is_none() {
                self.start(base + inf.line);
                if self.skipping {
                    let sk = self.skipped.as_mut().expect("skipping has its counts");
                    if !system {
                        sk.seen.insert(goid);
                        sk.goroutines += 1;
                    }
                    continue;
                }
            }
            let b = self.cur.as_mut().expect("started above");
            b.hint = b.hint.max(inf.hint);
            remap_goroutine(&mut self.remap, &p.interner, &mut b.snap.interner, &mut g);
            if !g.args.is_empty() {
                g.args = match appended {
                    Some((id, at)) if id == b.id => at.rebase(g.args),
                    None => match b.snap.args.append(args) {
                        Some(at) => {
                            appended = Some((b.id, at));
                            at.rebase(g.args)
                        }
                        None => b.snap.args.copy_from(args, g.args),
                    },
                    Some(_) => b.snap.args.copy_from(args, g.args),
                };
            }
            if system {
                b.snap.system_stacks.push(g);
                continue;
            }
            match replace {
                Some(at) => b.snap.goroutines[at] = g,
                None => {
                    b.seen.insert(goid);
                    if g.stack_unavailable && b.unavailable.len() < MAX_UNAVAILABLE {
                        b.unavailable.insert(goid, b.snap.goroutines.len());
                    }
                    b.snap.goroutines.push(g);
                }
            }
        }
        for e in ev {
            self.handle(&e.kind);
        }
        // Every goroutine with words there was drained above; the allocation is kept for the
        // parser's next goroutines.
        p.args.clear();
    }

    /// A parser is finished: later parsers' lines count from its end.
    pub fn end_parser(&mut self, p: &Parser) {
        self.truncated |= p.truncated;
        self.base_line += p.lines;
    }

    /// The snapshots, or the error that says why there are none.
    pub fn finish(mut self) -> Result<Vec<Snapshot>> {
        if self.truncated {
            if let Some(b) = self.cur.as_mut() {
                b.snap.truncated = true;
            }
        }
        self.finish_current();
        let kept = self.done.len();
        if let (Some(sk), Some(last)) = (&self.skipped, self.done.last_mut()) {
            last.warnings.push(
                Warning::new(format!(
                    "the input holds more dumps than the {} kept: {} more dumps ({} goroutines) from here on were skipped",
                    kept,
                    sk.dumps,
                    sk.goroutines
                ))
                .at_line(sk.from_line),
            );
        }
        if self.done.is_empty() {
            let msg = match self.not_dump {
                Some((true, line)) => {
                    return Err(IngestError::not_a_dump(
                        self.name,
                        "this is a Go race detector report (WARNING: DATA RACE), not a goroutine dump; \
                         goroscope reads goroutine dumps (runtime.Stack, /debug/pprof/goroutine?debug=2, panics, SIGQUIT)",
                    )
                    .at_line(line))
                }
                Some((false, line)) => {
                    return Err(IngestError::not_a_dump(
                        self.name,
                        "this is a Delve `goroutines` listing, not a goroutine dump; \
                         in Delve, run `goroutines -t` or dump with `curl …/debug/pprof/goroutine?debug=2`",
                    )
                    .at_line(line))
                }
                None => format!(
                    "no goroutine dump found in {} (no `goroutine N [state]:` header)",
                    self.name
                ),
            };
            return Err(IngestError::not_a_dump(self.name, msg));
        }
        Ok(self.done)
    }
}

/// `stack unavailable` entries remembered per snapshot (hostile input could print millions).
const MAX_UNAVAILABLE: usize = 1 << 16;

/// Translates a goroutine's interned ids from a parser's interner into a snapshot's.
fn remap_goroutine(r: &mut Remap, src: &Interner, dst: &mut Interner, g: &mut Goroutine) {
    g.state = r.sym(src, dst, g.state);
    g.labels = r.labels(src, dst, g.labels);
    g.stack = r.stack(src, dst, g.stack);
    g.created_by = g.created_by.map(|f| r.frame(src, dst, f));
    for a in g.ancestors.iter_mut() {
        a.stack = r.stack(src, dst, a.stack);
        a.created_by = a.created_by.map(|f| r.frame(src, dst, f));
    }
}
