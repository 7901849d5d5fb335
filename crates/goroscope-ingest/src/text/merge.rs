//! Putting parser outputs together, in input order, into one [`Snapshot`] per dump.
//!
//! Parsers work on blocks independently; the merger walks their goroutines and events in order,
//! decides where one dump ends and the next begins (a report marker such as `panic:` or
//! `SIGQUIT:`, a `debug=1` profile header, or a goroutine id seen twice), and moves each
//! goroutine's interned ids into its snapshot's interner through a lazy, cached translation.

use super::line::MarkerKind;
use super::parse::{EventKind, Parser};
use crate::{IngestError, Result};
use goroscope_model::{
    Format, FrameId, Interner, LabelSetId, ProfileKind, Snapshot, Source, StackId, Sym, Warning,
};
use rustc_hash::FxHashSet;

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
    /// A report marker waiting for its first goroutine: (text, absolute line).
    pending: Option<(String, u64)>,
    /// Warnings seen before the first snapshot exists.
    early_warnings: Vec<Warning>,
    /// A race report / Delve listing was seen: (race?, absolute line).
    not_dump: Option<(bool, u64)>,
    /// Lines consumed by the parsers drained so far.
    pub base_line: u64,
    remap: Remap,
    truncated: bool,
}

impl<'a> Merger<'a> {
    pub fn new(name: &'a str) -> Self {
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
        }
    }

    fn finish_current(&mut self) {
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
            EventKind::Marker { kind, text, line } => {
                self.finish_current();
                if *kind == MarkerKind::Debug1 {
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
                    self.pending = Some((text.clone(), base + line));
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

    fn start(&mut self, line: u64) {
        let (reason, line, format) = match self.pending.take() {
            Some((r, l)) => (Some(r), l, Format::Traceback),
            None => (None, line, Format::Debug2),
        };
        let mut snap = Snapshot::new(Source {
            input: self.name.to_string(),
            index: 0,
            line: Some(line),
            format,
            kind: ProfileKind::Goroutine,
        });
        snap.reason = reason;
        snap.warnings.append(&mut self.early_warnings);
        self.remap.clear();
        self.cur = Some(Building {
            snap,
            seen: SeenIds::default(),
            hint: 0,
        });
    }

    /// A report marker from the end of the previous block, confirmed by the header that starts
    /// the next one (`line` is absolute).
    pub fn carried_marker(&mut self, text: String, line: u64) {
        self.finish_current();
        self.pending = Some((text, line));
    }

    /// Moves everything a parser produced into snapshots. The parser must be finished
    /// ([`Parser::close_at_cut`] or [`Parser::finish_eof`]).
    pub fn drain(&mut self, p: &mut Parser) {
        self.drain_part(p, true);
        self.end_parser(p);
    }

    /// Moves what a parser produced so far into snapshots; the parser may go on. `fresh`
    /// says this parser was not drained before (its ids are new to the merger).
    pub fn drain_part(&mut self, p: &mut Parser, fresh: bool) {
        let base = self.base_line;
        let events = std::mem::take(&mut p.events);
        let mut ev = events.iter().peekable();
        let goroutines = std::mem::take(&mut p.goroutines);
        let n = goroutines.len();
        let info = std::mem::take(&mut p.info);
        if fresh {
            // A new parser: translations from the previous one do not apply.
            self.remap.clear();
        }
        for (i, (mut g, inf)) in goroutines.into_iter().zip(info).enumerate() {
            while let Some(e) = ev.next_if(|e| e.at <= i) {
                self.handle(&e.kind);
            }
            let repeat = self.cur.as_ref().is_some_and(|b| b.seen.contains(g.goid.0));
            if repeat {
                self.finish_current();
            }
            if self.cur.is_none() {
                self.start(base + inf.line);
            }
            let b = self.cur.as_mut().expect("started above");
            if b.snap.goroutines.capacity() == b.snap.goroutines.len() {
                b.snap.goroutines.reserve((n - i).max(1024));
            }
            b.seen.insert(g.goid.0);
            b.hint = b.hint.max(inf.hint);
            let src = &p.interner;
            let dst = &mut b.snap.interner;
            let r = &mut self.remap;
            g.state = r.sym(src, dst, g.state);
            g.labels = r.labels(src, dst, g.labels);
            g.stack = r.stack(src, dst, g.stack);
            g.created_by = g.created_by.map(|f| r.frame(src, dst, f));
            for a in g.ancestors.iter_mut() {
                a.stack = r.stack(src, dst, a.stack);
                a.created_by = a.created_by.map(|f| r.frame(src, dst, f));
            }
            b.snap.goroutines.push(g);
        }
        for e in ev {
            self.handle(&e.kind);
        }
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
        if self.done.is_empty() {
            let msg = match self.not_dump {
                Some((true, line)) => {
                    return Err(IngestError::new(
                        self.name,
                        "this is a Go race detector report (WARNING: DATA RACE), not a goroutine dump; \
                         goroscope reads goroutine dumps (runtime.Stack, /debug/pprof/goroutine?debug=2, panics, SIGQUIT)",
                    )
                    .at_line(line))
                }
                Some((false, line)) => {
                    return Err(IngestError::new(
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
            return Err(IngestError::new(self.name, msg));
        }
        Ok(self.done)
    }
}
