//! Goroutine lifecycles and creation sites, built from the ordered events.
//!
//! Time accounting follows the runtime's goroutine summaries (`internal/trace/summary.go` of
//! Go 1.27, what `go tool trace` shows per goroutine): execution, scheduler wait, syscall,
//! syscall-blocked and blocked time by reason; a goroutine that existed before the window is
//! accounted from the window's start. Beyond the summary, goroscope keeps the creator and the
//! creation stack, each blocked episode's stack, the state at the end, and per creation site
//! the births, deaths, lifetimes and an alive series.

use crate::event::*;
use crate::reader::{Error, Reader};
use crate::reason::dump_wait_reason;
use crate::stats::{Grid, Histogram, Series};
use crate::wire::Version;
use goroscope_model::lifecycle::{
    AlivePoint as ModelAlivePoint, BlockedTime, Created, GoroutineLifecycle, LifecycleSource,
    Lifecycles, Lifetimes as ModelLifetimes, SiteKey as ModelSiteKey, SiteLifecycle,
};
use goroscope_model::{
    Context, FrameId, Goid, Goroutine, Interner, ProfileKind, Snapshot, Source, StackId, StateText,
    Sym,
};
use rustc_hash::FxHashMap;
use std::io::Read;
use std::time::{Duration, SystemTime};

/// How a trace is read into an [`Analysis`].
#[derive(Debug, Clone)]
pub struct Options {
    /// The input as the user named it (a path, `-`, a URL): [`Source::input`].
    pub input: String,
    /// Lifecycles of goroutines that ended in the window kept individually; beyond it they
    /// are only counted in their site (see [`Analysis::ended_not_kept`]). Goroutines alive at
    /// the end are always kept.
    pub max_ended_lifecycles: usize,
    /// Generations larger than this are refused (the reader buffers one whole generation).
    pub max_generation_bytes: u64,
    /// Points of each site's alive series, at most.
    pub series_points: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            input: String::new(),
            max_ended_lifecycles: 10_000,
            max_generation_bytes: crate::reader::DEFAULT_MAX_GENERATION_BYTES,
            series_points: 128,
        }
    }
}

/// Where a goroutine was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Creation {
    /// Trace time (ns).
    pub at: i64,
    /// The goroutine that ran the `go` statement (`None` when the runtime created it outside
    /// any goroutine).
    pub creator: Option<Goid>,
    /// The creator's stack at the `go` statement, innermost first: its first frame is the
    /// `created by` frame of a dump.
    pub stack: Option<StackId>,
}

/// Time blocked for one reason at one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked {
    /// The trace's block reason (`chan receive`, `sync`, `network`…; empty for a goroutine
    /// blocked since before the window, whose status event has no reason).
    pub reason: Sym,
    /// Where it blocked.
    pub stack: Option<StackId>,
    /// Episodes (an episode open at the end of the window counts).
    pub count: u32,
    /// Nanoseconds, the open episode up to the end of the window included.
    pub total_ns: i64,
    /// The longest episode.
    pub max_ns: i64,
}

/// A goroutine's state at the end of the window (or when it ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndState {
    pub state: GoState,
    /// Since when (ns); the window's start for a goroutine that was already in this state.
    pub since: i64,
    /// The block reason when waiting (trace words).
    pub reason: Sym,
    /// The last stack seen for it: where it blocked, stopped or entered a syscall, its status
    /// stack, or its entry for one that never ran.
    pub stack: Option<StackId>,
}

/// Everything the window shows about one goroutine.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    pub goid: Goid,
    /// `None`: it existed when the window began.
    pub created: Option<Creation>,
    /// When it appeared: its creation, or the window's start.
    pub first_seen: i64,
    /// The stack it was created with (its entry function), when created in the window.
    pub start_stack: Option<StackId>,
    /// The root function of its stacks (the summary's `Name`).
    pub entry_function: Option<Sym>,
    /// The first time it ran.
    pub started: Option<i64>,
    /// When it ended, if in the window.
    pub ended: Option<i64>,
    /// When it blocked forever (`select {}`, nil channel): the runtime's summary counts that
    /// as its end; goroscope keeps it alive and blocked.
    pub blocked_forever_at: Option<i64>,
    /// Times it started running.
    pub runs: u32,
    pub exec_ns: i64,
    pub sched_wait_ns: i64,
    pub syscall_ns: i64,
    pub syscall_block_ns: i64,
    /// Blocked time by reason and place, in order of first occurrence.
    pub blocked: Vec<Blocked>,
    pub end: EndState,
    /// Its entry function is the runtime's (`runtime.*` other than `runtime.main`): a dump
    /// leaves it out, and so does [`Analysis::snapshot`].
    pub system: bool,
    /// Index into [`Analysis::sites`].
    pub site: usize,
    // Accounting as the runtime's summarizer keeps it (0 = unset).
    last_start: i64,
    last_runnable: i64,
    last_block: i64,
    last_syscall: i64,
    last_syscall_block: i64,
    block_slot: usize,
    total_ns: i64,
}

impl Lifecycle {
    /// Blocked nanoseconds for one reason, summed over places.
    pub fn blocked_ns(&self, reason: Sym) -> i64 {
        self.blocked
            .iter()
            .filter(|b| b.reason == reason)
            .map(|b| b.total_ns)
            .sum()
    }

    /// Nanoseconds in the window: from creation (or the window's start) to its end (or the
    /// window's end).
    pub fn total_ns(&self) -> i64 {
        self.total_ns
    }
}

/// What identifies a creation site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SiteKey {
    /// The `go` statement: the first frame of the creator's stack.
    GoStatement(FrameId),
    /// Goroutines that existed before the window (or whose creation stack is empty): their
    /// entry function only.
    Entry(Sym),
    /// Existed before the window, entry function never seen.
    Unknown,
}

/// A point of a site's alive series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlivePoint {
    /// End of the bucket (trace ns).
    pub at: i64,
    /// Goroutines of the site alive at that time.
    pub alive: i64,
}

/// Lifetime percentiles of goroutines born and ended in the window (within 1/64 of the true
/// value; count, min, max and mean exact).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub count: u64,
    pub min_ns: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
    pub mean_ns: u64,
}

/// Per creation site.
#[derive(Debug, Clone)]
pub struct SiteStats {
    pub key: SiteKey,
    /// The entry function of its goroutines (of the first one seen).
    pub entry_function: Option<Sym>,
    /// Created in the window.
    pub born: u64,
    /// Ended in the window (whenever born).
    pub ended: u64,
    /// Alive at the end of the window (whenever born).
    pub alive_at_end: u64,
    /// Alive when the window began.
    pub existed_at_start: u64,
    /// Blocked nanoseconds by trace block reason, summed over the site's goroutines.
    pub blocked_ns: Vec<(Sym, i64)>,
    lifetimes: Histogram,
    series: Series,
    /// The series as points, filled at the end.
    pub alive_series: Vec<AlivePoint>,
}

impl SiteStats {
    fn new(key: SiteKey) -> Self {
        SiteStats {
            key,
            entry_function: None,
            born: 0,
            ended: 0,
            alive_at_end: 0,
            existed_at_start: 0,
            blocked_ns: Vec::new(),
            lifetimes: Histogram::default(),
            series: Series::default(),
            alive_series: Vec::new(),
        }
    }

    /// Lifetimes of the goroutines born and ended in the window.
    pub fn lifetimes(&self) -> Option<Lifetimes> {
        let h = &self.lifetimes;
        Some(Lifetimes {
            count: h.count(),
            min_ns: h.min()?,
            p50_ns: h.quantile(0.5)?,
            p90_ns: h.quantile(0.9)?,
            p99_ns: h.quantile(0.99)?,
            max_ns: h.max()?,
            mean_ns: h.mean()?,
        })
    }

    /// The lifetime histogram (for other quantiles).
    pub fn lifetime_histogram(&self) -> &Histogram {
        &self.lifetimes
    }

    /// Blocked nanoseconds for one reason.
    pub fn blocked_ns_for(&self, reason: Sym) -> i64 {
        self.blocked_ns
            .iter()
            .filter(|(r, _)| *r == reason)
            .map(|(_, n)| n)
            .sum()
    }
}

/// The window a trace covers.
#[derive(Debug, Clone)]
pub struct Window {
    pub version: Version,
    /// Trace time (ns) of the first and the last event.
    pub start: i64,
    pub end: i64,
    /// Complete generations read.
    pub generations: u64,
    /// Events read.
    pub events: u64,
    /// Bytes read (of the decompressed stream).
    pub bytes: u64,
    /// The wall clock at `end`, when the trace has a clock snapshot (Go 1.25+).
    pub wall_end: Option<SystemTime>,
}

impl Window {
    pub fn duration(&self) -> Duration {
        Duration::from_nanos((self.end.saturating_sub(self.start)).max(0) as u64)
    }
}

/// What goroscope reads from one execution trace.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The goroutines alive at the end of the window, as a dump would show them (system
    /// goroutines left out); its interner holds every frame and stack of the lifecycles.
    pub snapshot: Snapshot,
    /// Goroutines, in order of first appearance (ended ones up to
    /// [`Options::max_ended_lifecycles`]).
    pub goroutines: Vec<Lifecycle>,
    pub sites: Vec<SiteStats>,
    pub window: Window,
    /// Ended goroutines counted in their sites but not kept individually.
    pub ended_not_kept: u64,
}

impl Analysis {
    /// The lifecycle of a goroutine.
    pub fn goroutine(&self, goid: Goid) -> Option<&Lifecycle> {
        self.goroutines.iter().find(|l| l.goid == goid)
    }

    /// A site's `function (file:line)`, or its entry function.
    pub fn site_name(&self, s: &SiteStats) -> String {
        match s.key {
            SiteKey::GoStatement(f) => self.snapshot.frame_site(f).to_string(),
            SiteKey::Entry(sym) => {
                format!("{} (existed before the window)", self.snapshot.str(sym))
            }
            SiteKey::Unknown => "(existed before the window; entry unknown)".into(),
        }
    }
}

/// Reads a whole trace (gzipped or not) into an [`Analysis`].
pub fn read<R: Read>(r: R, opts: &Options) -> Result<Analysis, Error> {
    let reader = Reader::with_limit(r, opts.max_generation_bytes)?;
    let mut b = Builder::new(reader, opts);
    b.run()?;
    Ok(b.finish())
}

/// Reads a trace file.
pub fn read_path(path: &std::path::Path, opts: &Options) -> Result<Analysis, Error> {
    let f = std::fs::File::open(path)?;
    read(std::io::BufReader::with_capacity(1 << 16, f), opts)
}

struct Builder<'o, 'a> {
    r: Reader<'a>,
    opts: &'o Options,
    interner: Interner,
    alive: FxHashMap<u64, usize>,
    slots: Vec<Lifecycle>,
    free: Vec<usize>,
    ended: Vec<Lifecycle>,
    ended_not_kept: u64,
    sites: Vec<SiteStats>,
    site_index: FxHashMap<SiteKey, usize>,
    syscalling_p: FxHashMap<u64, u64>,
    syscalling_g: FxHashMap<u64, u64>,
    sync_ts: i64,
    last_ts: i64,
    start: Option<i64>,
    events: u64,
    grid: Grid,
    forever: Sym,
    empty_stack: StackId,
}

impl<'o, 'a> Builder<'o, 'a> {
    fn new(r: Reader<'a>, opts: &'o Options) -> Self {
        let mut interner = Interner::new();
        let forever = interner.intern_str("forever");
        let empty_stack = interner.intern_stack(&[]);
        let mut b = Builder {
            r,
            opts,
            interner,
            alive: FxHashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            ended: Vec::new(),
            ended_not_kept: 0,
            sites: Vec::new(),
            site_index: FxHashMap::default(),
            syscalling_p: FxHashMap::default(),
            syscalling_g: FxHashMap::default(),
            sync_ts: 0,
            last_ts: 0,
            start: None,
            events: 0,
            grid: Grid::new(opts.series_points),
            forever,
            empty_stack,
        };
        b.site(SiteKey::Unknown);
        b
    }

    fn site(&mut self, key: SiteKey) -> usize {
        if let Some(&i) = self.site_index.get(&key) {
            return i;
        }
        self.sites.push(SiteStats::new(key));
        self.site_index.insert(key, self.sites.len() - 1);
        self.sites.len() - 1
    }

    /// The series bucket of `t`, growing the grid as needed.
    fn bucket(&mut self, t: i64) -> usize {
        loop {
            if let Some(i) = self.grid.index(t) {
                return i;
            }
            self.grid.width = self.grid.width.saturating_mul(2);
            for s in &mut self.sites {
                s.series.halve();
            }
        }
    }

    fn run(&mut self) -> Result<(), Error> {
        while let Some(ev) = self.r.next_event()? {
            self.events += 1;
            self.event(ev);
        }
        Ok(())
    }

    fn event(&mut self, ev: Event) {
        if self.start.is_none() {
            self.start = Some(ev.time);
            self.sync_ts = ev.time;
            self.grid.start = ev.time;
        }
        self.last_ts = ev.time;
        match ev.kind {
            EventKind::Sync { .. } => self.sync_ts = ev.time,
            EventKind::Goroutine(t) => self.transition(ev, t),
            EventKind::Proc { id, from, to } => {
                if from != to && to == ProcState::Idle {
                    if let Some(g) = self.syscalling_p.remove(&id) {
                        if let Some(&slot) = self.alive.get(&g) {
                            self.slots[slot].last_syscall_block = ev.time;
                        }
                    }
                }
            }
            EventKind::Other { .. } => {}
        }
    }

    fn new_lifecycle(&mut self, goid: u64, first_seen: i64) -> usize {
        let l = Lifecycle {
            goid: Goid(goid),
            created: None,
            first_seen,
            start_stack: None,
            entry_function: None,
            started: None,
            ended: None,
            blocked_forever_at: None,
            runs: 0,
            exec_ns: 0,
            sched_wait_ns: 0,
            syscall_ns: 0,
            syscall_block_ns: 0,
            blocked: Vec::new(),
            end: EndState {
                state: GoState::Undetermined,
                since: first_seen,
                reason: Interner::EMPTY,
                stack: None,
            },
            system: false,
            site: 0,
            last_start: 0,
            last_runnable: 0,
            last_block: 0,
            last_syscall: 0,
            last_syscall_block: 0,
            block_slot: usize::MAX,
            total_ns: 0,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s] = l;
                s
            }
            None => {
                self.slots.push(l);
                self.slots.len() - 1
            }
        };
        self.alive.insert(goid, slot);
        slot
    }

    /// Opens a blocked episode (or adds to the one at the same reason and place).
    fn block_slot(l: &mut Lifecycle, reason: Sym, stack: Option<StackId>) -> usize {
        if let Some(i) = l
            .blocked
            .iter()
            .position(|b| b.reason == reason && b.stack == stack)
        {
            l.blocked[i].count += 1;
            return i;
        }
        l.blocked.push(Blocked {
            reason,
            stack,
            count: 1,
            total_ns: 0,
            max_ns: 0,
        });
        l.blocked.len() - 1
    }

    fn transition(&mut self, ev: Event, t: GoTransition) {
        let time = ev.time;
        // Stacks and strings of this event must be resolved now, while its generation is
        // current.
        let stack = self.r.intern_stack(t.stack, &mut self.interner);
        let reason = self.r.intern_string(t.reason, &mut self.interner);
        if t.from == t.to {
            // A status repeated at a generation's start: nothing new, but a goroutine first
            // seen without a stack may get one.
            if let (Some(&slot), Some(st)) = (self.alive.get(&t.goid), stack) {
                if self.slots[slot].end.stack.is_none() {
                    self.slots[slot].end.stack = Some(st);
                }
                self.learn_entry(slot, st);
            }
            return;
        }
        let slot = match t.from {
            GoState::Undetermined => {
                let slot = self.new_lifecycle(t.goid, self.sync_ts);
                if t.to == GoState::Syscall {
                    // The summary books the time since the window's start as syscall time
                    // (with a proc) or syscall-blocked time (without).
                    let state_time = time.saturating_sub(self.sync_ts);
                    let l = &mut self.slots[slot];
                    if ev.p == NONE {
                        l.syscall_block_ns += state_time;
                    } else {
                        l.syscall_ns += state_time;
                    }
                }
                // The Unknown site until a stack names the entry.
                self.sites[0].existed_at_start += 1;
                self.sites[0].series.initial += 1;
                slot
            }
            GoState::NotExist => {
                let slot = self.new_lifecycle(t.goid, time);
                let creator_stack = self.r.intern_stack(t.creator_stack, &mut self.interner);
                let creator = (ev.g != NONE).then_some(Goid(ev.g));
                {
                    let l = &mut self.slots[slot];
                    l.created = Some(Creation {
                        at: time,
                        creator,
                        stack: creator_stack,
                    });
                    if matches!(t.to, GoState::Runnable | GoState::Waiting) {
                        l.start_stack = stack;
                    }
                }
                let top = creator_stack.and_then(|s| self.interner.stack(s).first().copied());
                let entry = stack
                    .and_then(|s| self.interner.stack(s).last().copied())
                    .map(|f| self.interner.frame(f).function);
                let key = match (top, entry) {
                    (Some(f), _) => SiteKey::GoStatement(f),
                    (None, Some(e)) => SiteKey::Entry(e),
                    (None, None) => SiteKey::Unknown,
                };
                let s = self.site(key);
                let b = self.bucket(time);
                let site = &mut self.sites[s];
                site.born += 1;
                site.series.add(b, 1);
                if site.entry_function.is_none() {
                    site.entry_function = entry;
                }
                self.slots[slot].site = s;
                slot
            }
            _ => match self.alive.get(&t.goid) {
                Some(&s) => s,
                // A goroutine the ordering knows but we dropped cannot happen; be safe.
                None => return,
            },
        };
        let sync_ts = self.sync_ts;
        {
            let l = &mut self.slots[slot];
            match t.from {
                GoState::Running => {
                    l.exec_ns += time.saturating_sub(l.last_start);
                    l.last_start = 0;
                }
                GoState::Waiting if l.last_block != 0 => {
                    let d = time.saturating_sub(l.last_block);
                    let b = &mut l.blocked[l.block_slot];
                    b.total_ns += d;
                    b.max_ns = b.max_ns.max(d);
                    l.last_block = 0;
                }
                GoState::Runnable if l.last_runnable != 0 => {
                    l.sched_wait_ns += time.saturating_sub(l.last_runnable);
                    l.last_runnable = 0;
                }
                GoState::Syscall if l.last_syscall != 0 => {
                    if l.last_syscall_block != 0 {
                        l.syscall_block_ns += time.saturating_sub(l.last_syscall_block);
                        l.syscall_ns += l.last_syscall_block.saturating_sub(l.last_syscall);
                    } else {
                        l.syscall_ns += time.saturating_sub(l.last_syscall);
                    }
                    l.last_syscall = 0;
                    l.last_syscall_block = 0;
                    if let Some(p) = self.syscalling_g.remove(&t.goid) {
                        self.syscalling_p.remove(&p);
                    }
                }
                _ => {}
            }
        }
        if let Some(st) = stack {
            self.learn_entry(slot, st);
        }
        let forever = self.forever;
        let l = &mut self.slots[slot];
        // A goroutine first seen in a state has been in it since the window's start: the
        // summary books that time to the state, and so does opening it at the start.
        let since = if t.from == GoState::Undetermined {
            sync_ts
        } else {
            time
        };
        l.end.since = since;
        l.end.state = t.to;
        if stack.is_some() {
            l.end.stack = stack;
        }
        match t.to {
            GoState::Running => {
                l.last_start = since;
                l.runs += 1;
                if l.started.is_none() {
                    l.started = Some(time);
                }
            }
            GoState::Runnable => l.last_runnable = since,
            GoState::Waiting => {
                l.end.reason = reason;
                if reason == forever {
                    l.blocked_forever_at = Some(time);
                }
                l.last_block = since;
                l.block_slot = Self::block_slot(l, reason, stack.or(l.end.stack));
            }
            GoState::NotExist => {
                l.ended = Some(time);
                self.end_goroutine(slot, time);
            }
            GoState::Syscall => {
                self.syscalling_p.insert(ev.p, t.goid);
                self.syscalling_g.insert(t.goid, ev.p);
                l.last_syscall = time;
            }
            GoState::Undetermined => {}
        }
    }

    /// Names a goroutine's entry from the root of a stack (the summary's rule: the first
    /// non-empty stack seen), and moves a goroutine that existed before the window from the
    /// unknown site to its entry function's.
    fn learn_entry(&mut self, slot: usize, st: StackId) {
        if self.slots[slot].entry_function.is_some() {
            return;
        }
        let Some(&root) = self.interner.stack(st).last() else {
            return;
        };
        let f = self.interner.frame(root).function;
        let system = is_system(self.interner.str(f));
        let l = &mut self.slots[slot];
        l.entry_function = Some(f);
        l.system = system;
        if l.created.is_none() && l.site == 0 && l.ended.is_none() {
            let s = self.site(SiteKey::Entry(f));
            self.sites[0].existed_at_start -= 1;
            self.sites[0].series.initial -= 1;
            let site = &mut self.sites[s];
            site.existed_at_start += 1;
            site.series.initial += 1;
            if site.entry_function.is_none() {
                site.entry_function = Some(f);
            }
            self.slots[slot].site = s;
        }
    }

    fn end_goroutine(&mut self, slot: usize, time: i64) {
        let goid = self.slots[slot].goid.0;
        self.alive.remove(&goid);
        let total = time.saturating_sub(self.slots[slot].first_seen);
        self.slots[slot].total_ns = total;
        let s = self.slots[slot].site;
        let b = self.bucket(time);
        let l = &self.slots[slot];
        let site = &mut self.sites[s];
        site.ended += 1;
        site.series.add(b, -1);
        if let Some(c) = l.created {
            site.lifetimes
                .record((time.saturating_sub(c.at)).max(0) as u64);
        }
        for bl in &l.blocked {
            add_blocked(&mut site.blocked_ns, bl.reason, bl.total_ns);
        }
        if let Some(p) = self.syscalling_g.remove(&goid) {
            self.syscalling_p.remove(&p);
        }
        let l = std::mem::replace(&mut self.slots[slot], placeholder());
        self.free.push(slot);
        if self.ended.len() < self.opts.max_ended_lifecycles {
            self.ended.push(l);
        } else {
            self.ended_not_kept += 1;
        }
    }

    fn finish(mut self) -> Analysis {
        let end = self.last_ts;
        let start = self.start.unwrap_or(0);
        // Close what is still open at the end of the window.
        let mut alive: Vec<(u64, usize)> = self.alive.iter().map(|(&g, &s)| (g, s)).collect();
        alive.sort_unstable();
        let mut kept = Vec::with_capacity(alive.len());
        for &(_, slot) in &alive {
            let l = &mut self.slots[slot];
            l.total_ns = end.saturating_sub(l.first_seen);
            if l.last_start != 0 {
                l.exec_ns += end.saturating_sub(l.last_start);
            }
            if l.last_runnable != 0 {
                l.sched_wait_ns += end.saturating_sub(l.last_runnable);
            }
            if l.last_block != 0 {
                let d = end.saturating_sub(l.last_block);
                let b = &mut l.blocked[l.block_slot];
                b.total_ns += d;
                b.max_ns = b.max_ns.max(d);
            }
            if l.last_syscall != 0 {
                l.syscall_ns += end.saturating_sub(l.last_syscall);
            }
            if l.last_syscall_block != 0 {
                // As the summary does: the blocked part counts as scheduler wait.
                l.sched_wait_ns += end.saturating_sub(l.last_syscall_block);
            }
            let site = &mut self.sites[l.site];
            site.alive_at_end += 1;
            for bl in &l.blocked {
                add_blocked(&mut site.blocked_ns, bl.reason, bl.total_ns);
            }
            kept.push(slot);
        }
        // Series points.
        let n_buckets = self.grid.index(end).map_or(self.grid.cap, |i| i + 1);
        for s in &mut self.sites {
            let mut alive = s.series.initial;
            s.alive_series = (0..n_buckets)
                .map(|i| {
                    alive += s.series.deltas.get(i).copied().unwrap_or(0);
                    AlivePoint {
                        at: self
                            .grid
                            .start
                            .saturating_add((i as i64 + 1).saturating_mul(self.grid.width))
                            .min(end),
                        alive,
                    }
                })
                .collect();
        }
        // The snapshot of the goroutines alive at the end.
        let version = self.r.version();
        let mut snap = Snapshot::new(Source {
            input: self.opts.input.clone(),
            index: 0,
            line: None,
            format: goroscope_model::Format::ExecTrace,
            kind: ProfileKind::Goroutine,
        });
        snap.go_version_min = Some(format!("go1.{}", version.minor()));
        snap.warnings = self.r.take_warnings();
        snap.truncated = !snap.warnings.is_empty()
            && snap
                .warnings
                .iter()
                .any(|w| w.message.starts_with("the trace is cut off"));
        let wall_end = self.r.wall_clock().map(|(t, wall)| {
            let d = end.saturating_sub(t);
            if d >= 0 {
                wall + Duration::from_nanos(d as u64)
            } else {
                wall - Duration::from_nanos(d.unsigned_abs())
            }
        });
        snap.taken_at = wall_end;
        let mut goroutines = Vec::new();
        for &slot in &kept {
            let l = &self.slots[slot];
            if l.system {
                continue;
            }
            goroutines.push(dump_goroutine(
                &mut self.interner,
                l,
                self.empty_stack,
                end,
                version.minor(),
            ));
        }
        snap.goroutines = goroutines;
        snap.lifecycle = Some(Box::new(self.model(&kept, start, end, wall_end)));
        // Lifecycles: ended ones and the alive ones, by first appearance.
        let mut lifecycles = std::mem::take(&mut self.ended);
        for slot in kept {
            lifecycles.push(std::mem::replace(&mut self.slots[slot], placeholder()));
        }
        lifecycles.sort_by_key(|l| (l.first_seen, l.goid));
        snap.interner = self.interner;
        // A trace a test binary wrote (`go test -trace`) ends as the tests return: left for the
        // analysis to infer from the test frames (goleak's rule). Any other trace is a window
        // of a running program.
        if !has_test_frames(&snap) {
            snap.context = Some(Context::Live);
        }
        Analysis {
            snapshot: snap,
            goroutines: lifecycles,
            sites: self.sites,
            window: Window {
                version,
                start,
                end,
                generations: self.r.generations(),
                events: self.events,
                bytes: self.r.offset(),
                wall_end,
            },
            ended_not_kept: self.ended_not_kept,
        }
    }
}

impl Builder<'_, '_> {
    /// The window in the model's terms ([`goroscope_model::lifecycle`]): sites in the same
    /// order as [`Analysis::sites`], the goroutines the snapshot lists, times from `start`.
    fn model(
        &self,
        kept: &[usize],
        start: i64,
        end: i64,
        wall_end: Option<SystemTime>,
    ) -> Lifecycles {
        let rel = |t: i64| t.saturating_sub(start).max(0) as u64;
        let sites = self
            .sites
            .iter()
            .map(|s| {
                let mut blocked: Vec<BlockedTime> = s
                    .blocked_ns
                    .iter()
                    .filter(|(_, ns)| *ns > 0)
                    .map(|&(reason, ns)| BlockedTime {
                        reason,
                        ns: ns as u64,
                    })
                    .collect();
                blocked.sort_by(|a, b| b.ns.cmp(&a.ns).then(a.reason.cmp(&b.reason)));
                SiteLifecycle {
                    key: match s.key {
                        SiteKey::GoStatement(f) => ModelSiteKey::GoStatement(f),
                        SiteKey::Entry(e) => ModelSiteKey::Entry(e),
                        SiteKey::Unknown => ModelSiteKey::Unknown,
                    },
                    entry: s.entry_function,
                    system: s
                        .entry_function
                        .is_some_and(|f| is_system(self.interner.str(f))),
                    born: s.born,
                    ended: s.ended,
                    existed_at_start: s.existed_at_start,
                    alive_at_end: s.alive_at_end,
                    lifetimes: s.lifetimes().map(|l| ModelLifetimes {
                        count: l.count,
                        min_ns: l.min_ns,
                        p50_ns: l.p50_ns,
                        p90_ns: l.p90_ns,
                        p99_ns: l.p99_ns,
                        max_ns: l.max_ns,
                        mean_ns: l.mean_ns,
                    }),
                    blocked,
                    alive_series: s
                        .alive_series
                        .iter()
                        .map(|p| ModelAlivePoint {
                            at_ns: rel(p.at),
                            alive: p.alive.max(0) as u64,
                        })
                        .collect(),
                }
            })
            .collect();
        let mut goroutines: Vec<GoroutineLifecycle> = kept
            .iter()
            .map(|&slot| &self.slots[slot])
            .filter(|l| !l.system)
            .map(|l| GoroutineLifecycle {
                goid: l.goid,
                site: l.site,
                created: l.created.map(|c| Created {
                    at_ns: rel(c.at),
                    creator: c.creator,
                }),
                runs: l.runs,
                blocked_since_ns: (l.end.state == GoState::Waiting).then(|| rel(l.end.since)),
                block_reason: if l.end.state == GoState::Waiting {
                    l.end.reason
                } else {
                    Interner::EMPTY
                },
                exec_ns: l.exec_ns.max(0) as u64,
                blocked_ns: l.blocked.iter().map(|b| b.total_ns.max(0) as u64).sum(),
            })
            .collect();
        goroutines.sort_by_key(|g| g.goid);
        Lifecycles {
            source: LifecycleSource::ExecTrace,
            window_ns: rel(end),
            wall_end,
            sites,
            goroutines,
        }
    }
}

/// A runtime goroutine's entry function (`runtime.main` is the program's).
fn is_system(entry: &str) -> bool {
    entry != "runtime.main" && entry.starts_with("runtime.")
}

/// Whether a goroutine of the snapshot runs under the testing package (a test binary's trace).
fn has_test_frames(snap: &Snapshot) -> bool {
    snap.goroutines.iter().any(|g| {
        snap.stack(g.stack).iter().any(|&f| {
            let name = snap.function(f);
            name == "testing.tRunner" || name == "testing.(*M).Run"
        })
    })
}

/// A goroutine alive at the end, as a dump would show it.
fn dump_goroutine(
    interner: &mut Interner,
    l: &Lifecycle,
    empty_stack: StackId,
    end: i64,
    minor: u32,
) -> Goroutine {
    let stack = l.end.stack.or(l.start_stack).unwrap_or(empty_stack);
    let mut g = Goroutine::new(l.goid, stack);
    let text = match l.end.state {
        GoState::Running => "running".to_owned(),
        GoState::Runnable => "runnable".to_owned(),
        GoState::Syscall => "syscall".to_owned(),
        _ => {
            let fns = interner
                .stack(stack)
                .iter()
                .map(|&f| interner.str(interner.frame(f).function));
            dump_wait_reason(interner.str(l.end.reason), fns, minor)
        }
    };
    let st = StateText::parse(&text);
    g.set_state(&st, interner);
    if l.end.state == GoState::Waiting {
        let mins = (end.saturating_sub(l.end.since)) / 60_000_000_000;
        if mins >= 1 {
            g.wait_minutes = Some(mins as u32);
        }
    }
    if let Some(c) = l.created {
        g.created_by = c.stack.and_then(|s| interner.stack(s).first().copied());
        g.creator_goid = c.creator;
    }
    g
}

fn add_blocked(v: &mut Vec<(Sym, i64)>, reason: Sym, ns: i64) {
    match v.iter_mut().find(|(r, _)| *r == reason) {
        Some((_, n)) => *n += ns,
        None => v.push((reason, ns)),
    }
}

fn placeholder() -> Lifecycle {
    Lifecycle {
        goid: Goid(0),
        created: None,
        first_seen: 0,
        start_stack: None,
        entry_function: None,
        started: None,
        ended: None,
        blocked_forever_at: None,
        runs: 0,
        exec_ns: 0,
        sched_wait_ns: 0,
        syscall_ns: 0,
        syscall_block_ns: 0,
        blocked: Vec::new(),
        end: EndState {
            state: GoState::NotExist,
            since: 0,
            reason: Interner::EMPTY,
            stack: None,
        },
        system: false,
        site: 0,
        last_start: 0,
        last_runnable: 0,
        last_block: 0,
        last_syscall: 0,
        last_syscall_block: 0,
        block_slot: usize::MAX,
        total_ns: 0,
    }
}
