//! The live set and per-site statistics, fed by events (and seeded by an attach snapshot).
//!
//! State is keyed by goid (never reused, unlike a `g`'s address). A creation site is the `go`
//! statement (`gopc`, symbolized the way a traceback prints `created by`); goroutines whose
//! creation was not seen (they existed when tracing began) count in the site their `g` names
//! too (the exit event carries `gopc`), or, for the seed, the `created by` frame attach read.
//!
//! Pure bookkeeping, no I/O: the tracer feeds it decoded events, tests feed it made-up ones.

use crate::event::{Counters, Event, Kind};
use goroscope_model::Snapshot;
use std::collections::HashMap;

/// What identifies a creation site.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SiteKey {
    /// The `go` statement: the function holding it (as a traceback prints it) and its line.
    GoStatement {
        function: String,
        file: String,
        line: u32,
    },
    /// No creator (the main goroutine, or a `gopc` outside the function table).
    Unknown,
}

impl std::fmt::Display for SiteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SiteKey::GoStatement {
                function,
                file,
                line,
            } => {
                let base = file.rsplit('/').next().unwrap_or(file);
                write!(f, "{function} ({base}:{line})")
            }
            SiteKey::Unknown => f.write_str("(no creator)"),
        }
    }
}

/// Turns runtime addresses into names: the attach symbolizer over the target's binary, or a
/// table in tests.
pub trait Symbolize {
    /// The site of a `go` statement at `gopc`, and whether a traceback shows it (`false`: the
    /// runtime's own goroutines).
    fn site(&mut self, gopc: u64) -> (SiteKey, bool);
    /// The function at `pc` (a goroutine's `startpc`).
    fn function(&mut self, pc: u64) -> Option<String>;
}

/// Lifetimes of goroutines born and ended in the window: exact count, min, max and sum, and a
/// log-linear histogram (64 buckets per power of two: percentiles within 1/64 of the true
/// value, like the execution-trace reader's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lifetimes {
    pub count: u64,
    pub min_ns: u64,
    pub max_ns: u64,
    pub sum_ns: u128,
    buckets: Vec<u64>,
}

/// log2 of the buckets per power of two.
const BITS: u32 = 6;
const SUB: u32 = 1 << BITS;

fn bucket_of(ns: u64) -> usize {
    if ns < SUB as u64 {
        return ns as usize;
    }
    let exp = 63 - ns.leading_zeros(); // ≥ BITS
    let mant = (ns >> (exp - BITS)) & (SUB as u64 - 1);
    ((exp - BITS + 1) * SUB) as usize + mant as usize
}

/// The largest value of a bucket.
fn bucket_high(b: usize) -> u64 {
    if b < SUB as usize {
        return b as u64;
    }
    let exp = b as u32 / SUB + BITS - 1;
    let mant = b as u64 % SUB as u64;
    let low = (SUB as u64 + mant) << (exp - BITS);
    low.saturating_add((1u64 << (exp - BITS)) - 1)
}

impl Lifetimes {
    pub fn add(&mut self, ns: u64) {
        if self.count == 0 || ns < self.min_ns {
            self.min_ns = ns;
        }
        self.max_ns = self.max_ns.max(ns);
        self.count += 1;
        self.sum_ns += ns as u128;
        let b = bucket_of(ns);
        if self.buckets.len() <= b {
            self.buckets.resize(b + 1, 0);
        }
        self.buckets[b] += 1;
    }

    /// The `q` quantile (0..=1), clamped to the exact min and max.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        // The first and the last are known exactly.
        if rank == 1 {
            return self.min_ns;
        }
        if rank == self.count {
            return self.max_ns;
        }
        let mut seen = 0;
        for (b, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return bucket_high(b).clamp(self.min_ns, self.max_ns);
            }
        }
        self.max_ns
    }

    pub fn mean_ns(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            (self.sum_ns / self.count as u128) as u64
        }
    }

    /// Counts per power of two of nanoseconds: `(upper bound ns, count)`, for histograms.
    pub fn octaves(&self) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for (b, &n) in self.buckets.iter().enumerate() {
            if n == 0 {
                continue;
            }
            let hi = bucket_high(b).saturating_add(1).next_power_of_two();
            match out.last_mut() {
                Some(last) if last.0 == hi => last.1 += n,
                _ => out.push((hi, n)),
            }
        }
        out
    }
}

/// One creation site.
#[derive(Debug, Clone)]
pub struct Site {
    pub key: SiteKey,
    /// The function its goroutines run (of the first one seen).
    pub entry: Option<String>,
    /// The runtime's own (a traceback hides the `go` statement).
    pub system: bool,
    /// Created while tracing.
    pub born: u64,
    /// Ended while tracing (whenever born).
    pub ended: u64,
    /// Alive when tracing began (seeded, or seen ending without being seen born).
    pub existed_at_start: u64,
    /// Alive now.
    pub live: u64,
    pub lifetimes: Lifetimes,
    /// Sampled parks, and the time from each to the goroutine's next run, by wait reason.
    pub parks: u64,
    pub blocked_ns: HashMap<u8, u64>,
    /// `(ns since the start, alive)` at each tick.
    pub series: Vec<(u64, u64)>,
    /// born/ended at the previous tick, for rates.
    last: (u64, u64),
    /// Births and deaths per second over the last tick.
    pub births_per_s: f64,
    pub deaths_per_s: f64,
}

impl Site {
    fn new(key: SiteKey, system: bool) -> Site {
        Site {
            key,
            entry: None,
            system,
            born: 0,
            ended: 0,
            existed_at_start: 0,
            live: 0,
            lifetimes: Lifetimes::default(),
            parks: 0,
            blocked_ns: HashMap::new(),
            series: Vec::new(),
            last: (0, 0),
            births_per_s: 0.0,
            deaths_per_s: 0.0,
        }
    }

    /// Goroutines per minute the live count grew by over the last `span_ns` of the series (a
    /// least-squares slope), `None` with fewer than 3 points in it.
    pub fn growth_per_min(&self, span_ns: u64) -> Option<f64> {
        let end = self.series.last()?.0;
        let pts: Vec<&(u64, u64)> = self
            .series
            .iter()
            .filter(|p| end - p.0 <= span_ns)
            .collect();
        if pts.len() < 3 {
            return None;
        }
        let n = pts.len() as f64;
        let mx = pts.iter().map(|p| p.0 as f64).sum::<f64>() / n;
        let my = pts.iter().map(|p| p.1 as f64).sum::<f64>() / n;
        let sxx: f64 = pts.iter().map(|p| (p.0 as f64 - mx).powi(2)).sum();
        let sxy: f64 = pts
            .iter()
            .map(|p| (p.0 as f64 - mx) * (p.1 as f64 - my))
            .sum();
        if sxx == 0.0 {
            return None;
        }
        Some(sxy / sxx * 60e9)
    }
}

/// A goroutine alive now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveG {
    pub site: usize,
    /// Monotonic ns of its creation; `None`: it existed when tracing began.
    pub born: Option<u64>,
    pub parent: Option<u64>,
}

/// Everything known so far.
#[derive(Debug, Clone)]
pub struct State {
    pub sites: Vec<Site>,
    index: HashMap<SiteKey, usize>,
    /// `gopc` → site, once symbolized.
    by_gopc: HashMap<u64, usize>,
    pub live: HashMap<u64, LiveG>,
    /// Monotonic ns when tracing began (the probes were in place).
    pub start_ns: u64,
    /// Monotonic ns of the last tick or event.
    pub now_ns: u64,
    /// The BPF program's counters at the last read.
    pub counters: Counters,
    /// Events decoded.
    pub events: u64,
    /// Parks sampled 1 in this many goroutines (by goid).
    pub park_sample: u32,
    /// Creations per `(site, stack id)`, when stacks are taken.
    pub create_stacks: HashMap<(usize, u32), u64>,
    /// Sampled parks per `(site, stack id)`, when stacks are taken.
    pub park_stacks: HashMap<(usize, u32), u64>,
    /// Most points kept in each site's alive series (the oldest go first); `None`: all of
    /// them (a trace's report charts its whole window; a long-running watcher keeps a few).
    pub series_points: Option<usize>,
    last_tick: Option<u64>,
}

impl State {
    /// Empty state for a window starting at `start_ns` (CLOCK_MONOTONIC).
    pub fn new(start_ns: u64) -> State {
        State {
            sites: Vec::new(),
            index: HashMap::new(),
            by_gopc: HashMap::new(),
            live: HashMap::new(),
            start_ns,
            now_ns: start_ns,
            counters: Counters::default(),
            events: 0,
            park_sample: 1,
            create_stacks: HashMap::new(),
            park_stacks: HashMap::new(),
            series_points: None,
            last_tick: None,
        }
    }

    fn site_id(&mut self, key: SiteKey, system: bool) -> usize {
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        let i = self.sites.len();
        self.sites.push(Site::new(key.clone(), system));
        self.index.insert(key, i);
        i
    }

    fn site_of(&mut self, sym: &mut dyn Symbolize, gopc: u64, startpc: u64) -> usize {
        let i = match self.by_gopc.get(&gopc) {
            Some(&i) => i,
            None => {
                let (key, visible) = sym.site(gopc);
                let i = self.site_id(key, !visible);
                self.by_gopc.insert(gopc, i);
                i
            }
        };
        if self.sites[i].entry.is_none() && startpc != 0 {
            self.sites[i].entry = sym.function(startpc);
        }
        i
    }

    /// Seeds the live set with the goroutines of a snapshot taken after the probes were in
    /// place: they existed when tracing began, unless an event says they were born after (see
    /// [`State::apply`]). Call before applying any event.
    pub fn seed(&mut self, snap: &Snapshot) {
        for g in &snap.goroutines {
            let key = match g.created_by {
                Some(f) => {
                    let fr = snap.interner.frame(f);
                    SiteKey::GoStatement {
                        function: snap.interner.str(fr.function).to_string(),
                        file: snap.interner.str(fr.file).to_string(),
                        line: fr.line,
                    }
                }
                None => SiteKey::Unknown,
            };
            let system = match &key {
                SiteKey::GoStatement { function, .. } => {
                    !goroscope_attach::walk::visible_name(function)
                }
                SiteKey::Unknown => false,
            };
            let site = self.site_id(key, system);
            if self.live.contains_key(&g.goid.0) {
                continue;
            }
            let s = &mut self.sites[site];
            s.existed_at_start += 1;
            s.live += 1;
            self.live.insert(
                g.goid.0,
                LiveG {
                    site,
                    born: None,
                    parent: g.creator_goid.map(|c| c.0),
                },
            );
        }
    }

    /// Applies one event; returns the index of its goroutine's site, when known.
    pub fn apply(&mut self, e: &Event, sym: &mut dyn Symbolize) -> Option<usize> {
        self.events += 1;
        self.now_ns = self.now_ns.max(e.ts);
        match e.kind {
            Kind::Create => {
                let site = self.site_of(sym, e.gopc, e.startpc);
                // Seeded by a snapshot taken after it was born: it did not exist at the start.
                if let Some(old) = self.live.get(&e.goid).copied() {
                    if old.born.is_none() {
                        let s = &mut self.sites[old.site];
                        s.existed_at_start = s.existed_at_start.saturating_sub(1);
                        s.live = s.live.saturating_sub(1);
                    }
                }
                if let Some(id) = e.stack_id {
                    *self.create_stacks.entry((site, id)).or_default() += 1;
                }
                let s = &mut self.sites[site];
                s.born += 1;
                s.live += 1;
                self.live.insert(
                    e.goid,
                    LiveG {
                        site,
                        born: Some(e.ts),
                        parent: (e.parent_goid != 0).then_some(e.parent_goid),
                    },
                );
                Some(site)
            }
            Kind::Exit => match self.live.remove(&e.goid) {
                Some(g) => {
                    let s = &mut self.sites[g.site];
                    s.ended += 1;
                    s.live = s.live.saturating_sub(1);
                    if let Some(b) = g.born {
                        s.lifetimes.add(e.ts.saturating_sub(b));
                    }
                    Some(g.site)
                }
                None => {
                    // Alive when tracing began, ended before the seed read it.
                    let site = self.site_of(sym, e.gopc, e.startpc);
                    let s = &mut self.sites[site];
                    s.existed_at_start += 1;
                    s.ended += 1;
                    Some(site)
                }
            },
            Kind::Park => {
                let g = self.live.get(&e.goid)?;
                self.sites[g.site].parks += 1;
                if let Some(id) = e.stack_id {
                    *self.park_stacks.entry((g.site, id)).or_default() += 1;
                }
                Some(g.site)
            }
            Kind::Resume => {
                let g = self.live.get(&e.goid)?;
                let k = self.park_sample.max(1) as u64;
                *self.sites[g.site].blocked_ns.entry(e.reason).or_default() +=
                    e.blocked_ns.saturating_mul(k);
                Some(g.site)
            }
        }
    }

    /// Records every site's alive count at `now_ns` and its rates since the last tick.
    pub fn tick(&mut self, now_ns: u64) {
        let now = now_ns.max(self.now_ns);
        self.now_ns = now;
        let dt = self
            .last_tick
            .map(|t| now.saturating_sub(t))
            .unwrap_or_else(|| now.saturating_sub(self.start_ns));
        let at = now.saturating_sub(self.start_ns);
        for s in &mut self.sites {
            if s.series.last().is_some_and(|p| p.0 == at) {
                s.series.pop();
            }
            s.series.push((at, s.live));
            if let Some(max) = self.series_points {
                if s.series.len() > max {
                    let extra = s.series.len() - max;
                    s.series.drain(..extra);
                }
            }
            if dt > 0 {
                s.births_per_s = (s.born - s.last.0) as f64 * 1e9 / dt as f64;
                s.deaths_per_s = (s.ended - s.last.1) as f64 * 1e9 / dt as f64;
            }
            s.last = (s.born, s.ended);
        }
        self.last_tick = Some(now);
    }

    /// Ages (ns) of a site's live goroutines (`None` for the site: all sites), youngest first;
    /// a goroutine from before the start counts as old as the window ("≥ since start").
    pub fn ages(&self, site: Option<usize>) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .live
            .values()
            .filter(|g| site.is_none_or(|s| g.site == s))
            .map(|g| self.now_ns.saturating_sub(g.born.unwrap_or(self.start_ns)))
            .collect();
        v.sort_unstable();
        v
    }

    /// The `n` oldest live goroutines: `(goid, live entry)`, those from before the start first
    /// (by goid), then by creation time.
    pub fn oldest(&self, n: usize) -> Vec<(u64, LiveG)> {
        let mut v: Vec<(u64, LiveG)> = self.live.iter().map(|(&g, &l)| (g, l)).collect();
        v.sort_by_key(|(goid, l)| (l.born.unwrap_or(0), *goid));
        v.truncate(n);
        v
    }

    /// The site of a key, if seen.
    pub fn site(&self, key: &SiteKey) -> Option<&Site> {
        self.index.get(key).map(|&i| &self.sites[i])
    }

    /// Whether the counts are partial: events were lost.
    pub fn partial(&self) -> bool {
        self.counters.lost() > 0
    }
}

/// `q` quantile of sorted values.
pub fn quantile(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some(sorted[i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use goroscope_model::{Format, Frame, Goid, Goroutine, ProfileKind, Source};

    /// gopc 0x100 + line → `main.spawn` at that line; 0x900 → a runtime site.
    struct Table;
    impl Symbolize for Table {
        fn site(&mut self, gopc: u64) -> (SiteKey, bool) {
            if gopc == 0x900 {
                return (
                    SiteKey::GoStatement {
                        function: "runtime.gcenable".into(),
                        file: "mgc.go".into(),
                        line: 200,
                    },
                    false,
                );
            }
            if gopc == 0 {
                return (SiteKey::Unknown, true);
            }
            (
                SiteKey::GoStatement {
                    function: "main.spawn".into(),
                    file: "/src/main.go".into(),
                    line: (gopc - 0x100) as u32,
                },
                true,
            )
        }
        fn function(&mut self, pc: u64) -> Option<String> {
            Some(format!("main.worker{pc:x}"))
        }
    }

    fn ev(kind: Kind, ts: u64, goid: u64, gopc: u64) -> Event {
        Event {
            kind,
            ts,
            goid,
            parent_goid: 1,
            blocked_ns: 0,
            gopc,
            startpc: 0x200,
            reason: 0,
            stack_id: None,
        }
    }

    fn key(line: u32) -> SiteKey {
        SiteKey::GoStatement {
            function: "main.spawn".into(),
            file: "/src/main.go".into(),
            line,
        }
    }

    #[test]
    fn births_deaths_lifetimes_per_site() {
        let mut st = State::new(1_000);
        let sym = &mut Table;
        st.apply(&ev(Kind::Create, 1_100, 10, 0x10a), sym);
        st.apply(&ev(Kind::Create, 1_200, 11, 0x10a), sym);
        st.apply(&ev(Kind::Create, 1_300, 12, 0x10b), sym);
        st.apply(&ev(Kind::Exit, 1_600, 10, 0x10a), sym);
        let s = st.site(&key(10)).unwrap();
        assert_eq!((s.born, s.ended, s.live, s.existed_at_start), (2, 1, 1, 0));
        assert_eq!(s.lifetimes.count, 1);
        assert_eq!(s.lifetimes.min_ns, 500);
        assert_eq!(s.entry.as_deref(), Some("main.worker200"));
        assert!(!s.system);
        assert_eq!(st.site(&key(11)).unwrap().live, 1);
        assert_eq!(st.live.len(), 2);
        st.tick(2_000);
        assert_eq!(st.ages(None), vec![700, 800]);
        assert_eq!(st.oldest(1)[0].0, 11);
        assert_eq!(st.sites[0].series, vec![(1_000, 1)]);
    }

    #[test]
    fn a_capped_series_keeps_the_newest_points() {
        let mut st = State::new(0);
        st.series_points = Some(3);
        let sym = &mut Table;
        st.apply(&ev(Kind::Create, 10, 1, 0x10a), sym);
        for (i, t) in [100u64, 200, 300, 400, 500].iter().enumerate() {
            st.apply(&ev(Kind::Create, *t, 100 + i as u64, 0x10a), sym);
            st.tick(*t);
        }
        let s = st.site(&key(10)).unwrap();
        assert_eq!(s.series, vec![(300, 4), (400, 5), (500, 6)]);
        // The counts are untouched by the cap.
        assert_eq!((s.born, s.live), (6, 6));
        let mut all = State::new(0);
        all.apply(&ev(Kind::Create, 10, 1, 0x10a), sym);
        for t in [100u64, 200, 300, 400, 500] {
            all.tick(t);
        }
        assert_eq!(all.sites[0].series.len(), 5, "no cap: every tick");
    }

    #[test]
    fn goroutines_from_before_the_start() {
        let mut snap = Snapshot::new(Source {
            input: "pid 1".into(),
            index: 0,
            line: None,
            format: Format::Attach,
            kind: ProfileKind::Goroutine,
        });
        let f = snap.interner.intern_str("main.spawn");
        let file = snap.interner.intern_str("/src/main.go");
        let frame = snap.interner.intern_frame(Frame {
            function: f,
            file,
            line: 10,
            offset: None,
            inlined: false,
        });
        let empty = snap.interner.intern_stack(&[]);
        for goid in [1u64, 5, 6, 7] {
            let mut g = Goroutine::new(Goid(goid), empty);
            if goid != 1 {
                g.created_by = Some(frame);
            }
            snap.goroutines.push(g);
        }
        let mut st = State::new(1_000);
        st.seed(&snap);
        let sym = &mut Table;
        assert_eq!(st.site(&key(10)).unwrap().existed_at_start, 3);
        assert_eq!(st.site(&SiteKey::Unknown).unwrap().live, 1);
        // 7 was born after the probes were in place (the snapshot came later): born, not seed.
        st.apply(&ev(Kind::Create, 1_050, 7, 0x10a), sym);
        // 5 from before ends; 3 from before ended before the snapshot read it.
        st.apply(&ev(Kind::Exit, 1_100, 5, 0x10a), sym);
        st.apply(&ev(Kind::Exit, 1_150, 3, 0x10a), sym);
        let s = st.site(&key(10)).unwrap();
        assert_eq!(
            (s.existed_at_start, s.born, s.ended, s.live),
            (3, 1, 2, 2),
            "{s:?}"
        );
        // Only the goroutine born in the window has a lifetime.
        assert_eq!(s.lifetimes.count, 0);
        st.tick(3_000);
        // 6 existed before: as old as the window.
        assert_eq!(st.ages(None), vec![1_950, 2_000, 2_000]);
        assert_eq!(
            st.oldest(2).iter().map(|x| x.0).collect::<Vec<_>>(),
            vec![1, 6]
        );
    }

    #[test]
    fn runtime_sites_are_system_and_parks_add_blocked_time() {
        let mut st = State::new(0);
        st.park_sample = 4;
        let sym = &mut Table;
        st.apply(&ev(Kind::Create, 10, 8, 0x900), sym);
        assert!(st.sites[0].system);
        st.apply(&ev(Kind::Park, 20, 8, 0), sym);
        let mut r = ev(Kind::Resume, 50, 8, 0);
        r.blocked_ns = 30;
        r.reason = 14;
        st.apply(&r, sym);
        assert_eq!(st.sites[0].parks, 1);
        // Sampled 1 in 4: scaled.
        assert_eq!(st.sites[0].blocked_ns.get(&14), Some(&120));
    }

    #[test]
    fn rates_and_growth() {
        let mut st = State::new(0);
        let sym = &mut Table;
        let mut goid = 100;
        // 10 born a second, 9 end: the live count grows by 1 a second (60 a minute).
        let mut ends = Vec::new();
        for sec in 0..10u64 {
            for k in 0..10u64 {
                goid += 1;
                let t = sec * 1_000_000_000 + k * 1000;
                st.apply(&ev(Kind::Create, t, goid, 0x10a), sym);
                if k < 9 {
                    ends.push((t + 500, goid));
                }
            }
            for (t, g) in ends.drain(..) {
                st.apply(&ev(Kind::Exit, t, g, 0x10a), sym);
            }
            st.tick((sec + 1) * 1_000_000_000);
        }
        let s = &st.sites[0];
        assert_eq!((s.born, s.ended, s.live), (100, 90, 10));
        assert!((s.births_per_s - 10.0).abs() < 1e-9);
        assert!((s.deaths_per_s - 9.0).abs() < 1e-9);
        let g = s.growth_per_min(u64::MAX).unwrap();
        assert!((g - 60.0).abs() < 1e-6, "{g}");
        assert_eq!(s.lifetimes.quantile(0.5), 500);
    }

    #[test]
    fn lifetime_quantiles_are_within_a_64th() {
        let mut l = Lifetimes::default();
        for ns in 1..=10_000u64 {
            l.add(ns * 1000);
        }
        for q in [0.5, 0.9, 0.99] {
            let exact = (q * 10_000.0) as u64 * 1000;
            let got = l.quantile(q);
            assert!(
                got >= exact && got <= exact + exact / 64 + 1,
                "{q}: {got} vs {exact}"
            );
        }
        assert_eq!(l.quantile(1.0), 10_000_000);
        assert_eq!(l.quantile(0.0), 1000);
        assert_eq!(l.mean_ns(), 5_000_500);
        let o = l.octaves();
        assert_eq!(o.iter().map(|x| x.1).sum::<u64>(), 10_000);
        assert!(o.windows(2).all(|w| w[0].0 < w[1].0));
        for ns in [0, 1, 7, 8, 9, 15, 16, 1 << 40, u64::MAX] {
            let b = bucket_of(ns);
            assert!(bucket_high(b) >= ns, "{ns}");
            if b > 0 {
                assert!(bucket_high(b - 1) < ns, "{ns}");
            }
        }
    }
}
