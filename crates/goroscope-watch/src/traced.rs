//! `--trace`: births and deaths per creation site for `pid:` targets, from goroscope's eBPF
//! tracer ([`goroscope_trace::Tracer`]).
//!
//! A traced target has the tracer attached to its process for as long as it is watched (uprobes
//! on the runtime's goroutine creation and exit, seeded with an attach snapshot so goroutines
//! from before count). At each poll the watcher reads the per-site counters
//! ([`goroscope_trace::Tracer::site_counts`]) and judges each `go` statement over the detection
//! window ([`SiteTracker`]):
//!
//! * **leaking**: its live set grows steadily (the groups' test: at least `min_points` points,
//!   Mann–Kendall one-sided p < `alpha`, a positive Theil–Sen slope, at least `min_growth`
//!   goroutines of growth, above every earlier hourly maximum once 12 hours are known) **while
//!   births and deaths both run**: goroutines are born at the site during the window and
//!   goroutines end in the process (it is serving, not starting up or idle). The rate is the
//!   slope of the live set, in goroutines per minute;
//! * **recovered** after `min_points` polls without such growth; **growing** for a positive
//!   trend that is not significant yet; **steady** otherwise.
//!
//! The runtime's own goroutines (a traceback hides their `go` statement) are counted but judged
//! only with `include_benign`. If the tracer cannot start, or stops (the process exited, an
//! error), it is tried again with backoff; the error is on the target's page. Stopping the
//! watcher or dropping the target detaches every probe (dropping a [`Tracer`] does), and since
//! the probes belong to the watcher's file descriptors even a SIGKILL of the watcher removes
//! them.

use crate::config::DetectSection;
use crate::detect::{new_high, note_hourly, push_point, trend, Growth};
use goroscope_trace::state::SiteKey;
use goroscope_trace::{SiteCount, TraceOptions, Tracer};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

/// Why this build or machine cannot trace (`None`: it can try): the `ebpf` feature, the
/// privileges, the kernel's uprobes, its version. Checked when the watcher starts, so a traced
/// target never fails later for a reason known up front.
pub fn cannot_trace() -> Option<String> {
    if !goroscope_trace::BUILT_IN {
        return Some(goroscope_trace::TraceError::NotBuiltIn.to_string());
    }
    let missing = goroscope_trace::preflight::Facts::gather().missing();
    if missing.is_empty() {
        None
    } else {
        Some(goroscope_trace::TraceError::Missing { missing }.to_string())
    }
}

/// An error and its sources on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        s.push_str(": ");
        s.push_str(&x.to_string());
        src = x.source();
    }
    s
}

/// A creation site's stable id: a hash of its `go` statement.
pub fn site_id(key: &SiteKey) -> String {
    let text = match key {
        SiteKey::GoStatement {
            function,
            file,
            line,
        } => format!("{function}\n{file}\n{line}"),
        SiteKey::Unknown => "(no creator)".to_string(),
    };
    format!("{:016x}", crate::config::fnv1a(text.as_bytes()))
}

/// One creation site as `/metrics`, the dashboard and the alerts see it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SiteView {
    pub id: String,
    /// `function (file.go:line)`, as a traceback's `created by` names it.
    pub site: String,
    pub function: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    /// The function its goroutines run.
    pub entry: Option<String>,
    /// The runtime's own goroutines.
    pub system: bool,
    /// Alive at the last poll.
    pub live: u64,
    /// Born and ended since the watcher began tracing the target.
    pub born: u64,
    pub ended: u64,
    /// Over the last poll interval.
    pub births_per_second: f64,
    pub deaths_per_second: f64,
    /// In the detection window.
    pub born_in_window: u64,
    pub ended_in_window: u64,
    pub growth: Growth,
    /// Goroutines per minute the live set grows by (Theil–Sen over the window).
    pub slope: f64,
    pub p_value: f64,
    pub evidence: Vec<String>,
    /// The window's points (unix seconds, live).
    pub points: Vec<(f64, u64)>,
}

/// A traced target's tracer and sites, for `/metrics` and the dashboard.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TraceView {
    /// `starting`, `up` (the probes are attached), or `retrying` (the last start failed or the
    /// tracer stopped; `error` says why).
    pub state: &'static str,
    pub error: Option<String>,
    /// Unix seconds the current tracer started.
    pub since: Option<f64>,
    /// Tracers started for this target (1 unless one had to be started again).
    pub sessions: u64,
    pub go_version: Option<String>,
    /// The probes in place: `create at runtime.newproc1+0x… (push rbp)`…
    pub probes: Vec<String>,
    /// Births, deaths and lost events since the watcher began tracing the target.
    pub born: u64,
    pub ended: u64,
    pub lost: u64,
    /// Leaking first, then by live goroutines.
    pub sites: Vec<SiteView>,
}

/// One site over time.
#[derive(Debug, Clone)]
struct SiteTrack {
    key: SiteKey,
    entry: Option<String>,
    system: bool,
    live: u64,
    born: u64,
    ended: u64,
    /// The tracer's counters at the last poll (per session), for the deltas.
    last_born: u64,
    last_ended: u64,
    session: u64,
    last_t: Option<f64>,
    births_per_second: f64,
    deaths_per_second: f64,
    /// (t, born, ended) since the previous poll, over the window.
    deltas: VecDeque<(f64, u64, u64)>,
    points: VecDeque<(f64, u64)>,
    hourly: VecDeque<(i64, u64)>,
    growth: Growth,
    slope: f64,
    p_value: f64,
    calm: u32,
    absent: u32,
    evidence: Vec<String>,
}

/// What the site detector noticed.
#[derive(Debug, Clone, PartialEq)]
pub enum SiteEvent {
    LeakStarted { id: String, rate: f64 },
    Recovered { id: String },
}

/// The site detector of one traced target.
#[derive(Debug, Clone, Default)]
pub struct SiteTracker {
    sites: HashMap<String, SiteTrack>,
    /// Deaths in the whole process per poll, over the window.
    deaths: VecDeque<(f64, u64)>,
    warm_until: f64,
    polls: u64,
}

impl SiteTracker {
    /// A restart of the process (the watcher's restart detection): the windows start over and
    /// the ramp-up in the next `warmup` is not a leak; a leaking site stays leaking until the
    /// new process shows it flat.
    pub fn restart(&mut self, t: f64, cfg: &DetectSection) {
        self.warm_until = t + cfg.warmup.0.as_secs_f64();
        self.deaths.clear();
        for s in self.sites.values_mut() {
            s.points.clear();
            s.deltas.clear();
            s.calm = 0;
            if !matches!(s.growth, Growth::Leaking { .. }) {
                s.growth = Growth::Steady;
            }
        }
    }

    /// Takes the tracer's counts at `t` (unix seconds); `session` numbers the tracer they come
    /// from (its counters start at 0). Returns the leaks that started and ended.
    pub fn update(
        &mut self,
        t: f64,
        session: u64,
        counts: &[SiteCount],
        cfg: &DetectSection,
    ) -> Vec<SiteEvent> {
        self.polls += 1;
        if self.polls == 1 {
            self.warm_until = t;
        }
        let window = cfg.window.0.as_secs_f64();
        let mut deaths_now = 0;
        let mut seen = std::collections::HashSet::with_capacity(counts.len());
        for c in counts {
            let id = site_id(&c.site);
            let s = self.sites.entry(id.clone()).or_insert_with(|| SiteTrack {
                key: c.site.clone(),
                entry: None,
                system: c.system,
                live: 0,
                born: 0,
                ended: 0,
                last_born: 0,
                last_ended: 0,
                session,
                last_t: None,
                births_per_second: 0.0,
                deaths_per_second: 0.0,
                deltas: VecDeque::new(),
                points: VecDeque::new(),
                hourly: VecDeque::new(),
                growth: Growth::Steady,
                slope: 0.0,
                p_value: 1.0,
                calm: 0,
                absent: 0,
                evidence: Vec::new(),
            });
            // A new tracer counts from 0 again.
            let (db, de) = if s.session != session {
                (c.born, c.ended)
            } else {
                (
                    c.born.saturating_sub(s.last_born),
                    c.ended.saturating_sub(s.last_ended),
                )
            };
            s.session = session;
            s.last_born = c.born;
            s.last_ended = c.ended;
            s.born += db;
            s.ended += de;
            if let Some(lt) = s.last_t.filter(|&lt| t > lt) {
                s.births_per_second = db as f64 / (t - lt);
                s.deaths_per_second = de as f64 / (t - lt);
            }
            s.last_t = Some(t);
            s.deltas.push_back((t, db, de));
            if s.entry.is_none() {
                s.entry = c.entry.clone();
            }
            s.live = c.live;
            s.absent = 0;
            deaths_now += de;
            seen.insert(id);
        }
        self.deaths.push_back((t, deaths_now));
        while self.deaths.front().is_some_and(|&(pt, _)| pt < t - window) {
            self.deaths.pop_front();
        }
        let mut gone = Vec::new();
        for (id, s) in self.sites.iter_mut() {
            if !seen.contains(id) {
                // Not in this tracer's table: none alive, none born.
                s.absent += 1;
                s.live = 0;
                s.births_per_second = 0.0;
                s.deaths_per_second = 0.0;
                s.last_t = Some(t);
                if s.points.back().is_none_or(|p| t - p.0 > window)
                    && !matches!(s.growth, Growth::Leaking { .. })
                {
                    gone.push(id.clone());
                    continue;
                }
            }
            while s.deltas.front().is_some_and(|&(pt, _, _)| pt < t - window) {
                s.deltas.pop_front();
            }
            note_hourly(&mut s.hourly, t, s.live);
            if t >= self.warm_until {
                push_point(&mut s.points, t, s.live, window);
            }
        }
        for id in gone {
            self.sites.remove(&id);
        }
        let mut events = Vec::new();
        for (id, s) in self.sites.iter_mut() {
            let start = s.points.front().map_or(t, |p| p.0);
            let process_deaths: u64 = self
                .deaths
                .iter()
                .filter(|d| d.0 > start)
                .map(|d| d.1)
                .sum();
            judge(id, s, t, process_deaths, cfg, &mut events);
        }
        events
    }

    /// The sites, leaking first, then by live goroutines.
    pub fn views(&self) -> Vec<SiteView> {
        let mut v: Vec<SiteView> = self
            .sites
            .iter()
            .map(|(id, s)| {
                let (function, file, line) = match &s.key {
                    SiteKey::GoStatement {
                        function,
                        file,
                        line,
                    } => (Some(function.clone()), Some(file.clone()), Some(*line)),
                    SiteKey::Unknown => (None, None, None),
                };
                let start = s.points.front().map_or(f64::MAX, |p| p.0);
                let (bw, ew) = s
                    .deltas
                    .iter()
                    .filter(|d| d.0 > start)
                    .fold((0, 0), |a, d| (a.0 + d.1, a.1 + d.2));
                SiteView {
                    id: id.clone(),
                    site: s.key.to_string(),
                    function,
                    file,
                    line,
                    entry: s.entry.clone(),
                    system: s.system,
                    live: s.live,
                    born: s.born,
                    ended: s.ended,
                    births_per_second: s.births_per_second,
                    deaths_per_second: s.deaths_per_second,
                    born_in_window: bw,
                    ended_in_window: ew,
                    growth: s.growth,
                    slope: s.slope,
                    p_value: s.p_value,
                    evidence: s.evidence.clone(),
                    points: s.points.iter().copied().collect(),
                }
            })
            .collect();
        v.sort_by(|a, b| {
            let lk = |s: &SiteView| u8::from(matches!(s.growth, Growth::Leaking { .. }));
            lk(b)
                .cmp(&lk(a))
                .then(b.live.cmp(&a.live))
                .then(b.born.cmp(&a.born))
                .then(a.site.cmp(&b.site))
        });
        v
    }

    /// Total births and deaths seen.
    pub fn totals(&self) -> (u64, u64) {
        self.sites
            .values()
            .fold((0, 0), |a, s| (a.0 + s.born, a.1 + s.ended))
    }
}

fn judge(
    id: &str,
    s: &mut SiteTrack,
    t: f64,
    process_deaths: u64,
    cfg: &DetectSection,
    events: &mut Vec<SiteEvent>,
) {
    let n = s.points.len();
    let (slope, p) = trend(&s.points);
    s.slope = slope;
    s.p_value = p;
    s.evidence.clear();
    let first = s.points.front().map_or(0, |p| p.1);
    let last = s.points.back().map_or(0, |p| p.1);
    let start = s.points.front().map_or(t, |p| p.0);
    let growth = last.saturating_sub(first);
    let (born, ended) = s
        .deltas
        .iter()
        .filter(|d| d.0 > start)
        .fold((0u64, 0u64), |a, d| (a.0 + d.1, a.1 + d.2));
    let judged = cfg.include_benign || !s.system;
    let cond = n >= cfg.min_points
        && p < cfg.alpha
        && slope > 0.0
        && growth >= cfg.min_growth
        && born > 0
        && process_deaths > 0
        && new_high(&s.hourly, start, last)
        && judged;
    match s.growth {
        Growth::Leaking { since } => {
            if cond {
                s.calm = 0;
            } else if n >= cfg.min_points {
                s.calm += 1;
                if s.calm >= cfg.min_points as u32 {
                    s.growth = Growth::Recovered { at: t };
                    s.calm = 0;
                    events.push(SiteEvent::Recovered { id: id.to_string() });
                } else {
                    s.growth = Growth::Leaking { since };
                }
            }
        }
        _ if cond => {
            s.growth = Growth::Leaking { since: t };
            s.calm = 0;
            events.push(SiteEvent::LeakStarted {
                id: id.to_string(),
                rate: slope,
            });
        }
        Growth::Steady | Growth::Growing => {
            s.growth = if n >= 3 && slope > 0.0 && p < 0.2 && growth > 0 {
                Growth::Growing
            } else {
                Growth::Steady
            };
        }
        Growth::Recovered { .. } => {}
    }
    let span = if n >= 2 {
        (s.points[n - 1].0 - s.points[0].0) / 60.0
    } else {
        0.0
    };
    match s.growth {
        Growth::Leaking { .. } => s.evidence.push(format!(
            "alive {first} → {last} over {n} polls ({span:.1} min), +{slope:.2}/min (Mann-Kendall p={p:.4}); {born} born and {ended} ended here, {process_deaths} ended in the process: goroutines from this go statement do not end"
        )),
        Growth::Recovered { at } => s.evidence.push(format!(
            "was growing; no significant growth since {}",
            crate::util::rfc3339(at)
        )),
        Growth::Growing => s.evidence.push(format!(
            "growing {slope:.2}/min over {n} polls ({span:.1} min), not yet significant (p={p:.3})"
        )),
        Growth::Steady if n >= 2 => s.evidence.push(format!(
            "{born} born and {ended} ended over {span:.1} min; alive {first} → {last}"
        )),
        Growth::Steady => {}
    }
}

/// The tracer of one traced target, started (and started again) by its task.
pub(crate) struct Tracing {
    pid: u32,
    tracer: Option<Tracer>,
    sessions: u64,
    since: Option<SystemTime>,
    failures: u32,
    next_try: Instant,
    error: Option<String>,
    lost_before: u64,
    go_version: Option<String>,
    probes: Vec<String>,
    pub tracker: SiteTracker,
}

impl Tracing {
    pub fn new(pid: u32) -> Tracing {
        Tracing {
            pid,
            tracer: None,
            sessions: 0,
            since: None,
            failures: 0,
            next_try: Instant::now(),
            error: None,
            lost_before: 0,
            go_version: None,
            probes: Vec::new(),
            tracker: SiteTracker::default(),
        }
    }

    /// The tracer's options in a watcher: no end snapshot, a short alive series (the watcher
    /// keeps its own window), an 8 MiB ring buffer.
    fn options() -> TraceOptions {
        TraceOptions {
            ring_bytes: 8 << 20,
            series_points: Some(8),
            ..Default::default()
        }
    }

    /// Starts the tracer when it is not running and a retry is due; collects a tracer that
    /// stopped by itself. `every` and `max_backoff` pace the retries.
    pub async fn ensure(&mut self, key: &str, every: Duration, max_backoff: Duration) {
        if self.tracer.as_ref().is_some_and(|t| t.finished()) {
            let t = self.tracer.take().expect("checked");
            let lost_now = t.counters().lost();
            let res = tokio::task::spawn_blocking(move || t.stop()).await;
            let why = match res {
                Ok(Ok(out)) if out.target_exited => format!("process {} exited", self.pid),
                Ok(Ok(_)) => "the tracer stopped".to_string(),
                Ok(Err(e)) => chain(&e),
                Err(e) => format!("the tracer panicked: {e}"),
            };
            self.lost_before += lost_now;
            self.fail(key, why, every, max_backoff);
        }
        if self.tracer.is_some() || Instant::now() < self.next_try {
            return;
        }
        let pid = self.pid;
        let res =
            tokio::task::spawn_blocking(move || Tracer::start(pid, &Tracing::options())).await;
        match res {
            Ok(Ok(t)) => {
                let plan = t.plan();
                self.go_version = Some(plan.go_version.clone());
                self.probes = plan
                    .probes
                    .iter()
                    .map(|p| {
                        format!(
                            "{} at {}+{:#x} ({})",
                            p.role.as_str(),
                            p.function,
                            p.offset,
                            p.instruction
                        )
                    })
                    .collect();
                tracing::info!("{key}: tracing: {}", self.probes.join(", "));
                self.tracer = Some(t);
                self.sessions += 1;
                self.since = Some(SystemTime::now());
                self.failures = 0;
                self.error = None;
            }
            Ok(Err(e)) => self.fail(key, chain(&e), every, max_backoff),
            Err(e) => self.fail(key, format!("starting the tracer: {e}"), every, max_backoff),
        }
    }

    fn fail(&mut self, key: &str, why: String, every: Duration, max_backoff: Duration) {
        self.failures += 1;
        if self.error.as_deref() != Some(why.as_str()) {
            tracing::warn!("{key}: eBPF tracing: {why}; trying again");
        }
        self.error = Some(why);
        let factor = 2f64.powi((self.failures as i32 - 1).min(16));
        let wait = (every.as_secs_f64() * factor).min(max_backoff.as_secs_f64().max(1.0));
        self.next_try = Instant::now() + Duration::from_secs_f64(wait);
        self.since = None;
    }

    /// Reads the tracer's counts into the detector at `t`; returns what it noticed.
    pub fn read(&mut self, t: f64, cfg: &DetectSection) -> Vec<SiteEvent> {
        let Some(tr) = &self.tracer else {
            return Vec::new();
        };
        let counts = tr.site_counts();
        self.tracker.update(t, self.sessions, &counts, cfg)
    }

    /// What the dashboard and `/metrics` show.
    pub fn view(&self) -> TraceView {
        let (born, ended) = self.tracker.totals();
        let lost_now = self.tracer.as_ref().map_or(0, |t| t.counters().lost());
        TraceView {
            state: if self.tracer.is_some() {
                "up"
            } else if self.error.is_some() {
                "retrying"
            } else {
                "starting"
            },
            error: self.error.clone(),
            since: self.since.map(crate::util::secs),
            sessions: self.sessions,
            go_version: self.go_version.clone(),
            probes: self.probes.clone(),
            born,
            ended,
            lost: self.lost_before + lost_now,
            sites: self.tracker.views(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Dur;

    fn cfg() -> DetectSection {
        DetectSection {
            window: Dur(Duration::from_secs(600)),
            warmup: Dur(Duration::from_secs(0)),
            ..Default::default()
        }
    }

    fn key(f: &str, line: u32) -> SiteKey {
        SiteKey::GoStatement {
            function: f.into(),
            file: "/src/app/main.go".into(),
            line,
        }
    }

    fn count(k: &SiteKey, born: u64, ended: u64, live: u64) -> SiteCount {
        SiteCount {
            site: k.clone(),
            entry: Some("main.worker".into()),
            system: false,
            born,
            ended,
            live,
            existed_at_start: 0,
        }
    }

    /// A service at 10 requests a second for `polls` polls 15 s apart: every request starts 4
    /// goroutines that end, and (with `leak`) one that never does.
    fn serve(tr: &mut SiteTracker, polls: u64, leak: bool, start: u64) -> Vec<SiteEvent> {
        let work = key("main.work", 54);
        let leaky = key("main.leakOne", 60);
        let mut ev = Vec::new();
        for i in start..start + polls {
            let reqs = 150 * (i + 1);
            let mut counts = vec![count(&work, 4 * reqs, 4 * reqs - 3, 3 + i % 2)];
            if leak {
                counts.push(count(&leaky, reqs, 0, reqs));
            }
            ev.extend(tr.update(i as f64 * 15.0, 1, &counts, &cfg()));
        }
        ev
    }

    #[test]
    fn a_site_that_never_ends_while_others_do_is_leaking_with_its_rate() {
        let mut tr = SiteTracker::default();
        let ev = serve(&mut tr, 12, true, 0);
        let leaky = site_id(&key("main.leakOne", 60));
        let started: Vec<_> = ev
            .iter()
            .filter_map(|e| match e {
                SiteEvent::LeakStarted { id, rate } => Some((id.clone(), *rate)),
                _ => None,
            })
            .collect();
        assert_eq!(started.len(), 1, "{ev:?}");
        assert_eq!(started[0].0, leaky);
        // 10 requests a second leak 600 goroutines a minute.
        assert!((started[0].1 - 600.0).abs() < 1.0, "{started:?}");
        let v = tr.views();
        assert_eq!(v[0].id, leaky, "leaking first");
        assert!(matches!(v[0].growth, Growth::Leaking { .. }));
        assert_eq!(v[0].site, "main.leakOne (main.go:60)");
        assert!((v[0].births_per_second - 10.0).abs() < 1e-9);
        assert_eq!(v[0].deaths_per_second, 0.0);
        assert!(
            v[0].evidence[0].contains("do not end"),
            "{:?}",
            v[0].evidence
        );
        let work = &v[1];
        assert_eq!(work.growth, Growth::Steady, "{work:?}");
        assert!((work.births_per_second - 40.0).abs() < 1e-9);
        assert!((work.deaths_per_second - 40.0).abs() < 1e-9);
        assert_eq!(work.born, 4 * 150 * 12);
    }

    #[test]
    fn growth_without_deaths_in_the_process_is_not_called_a_leak() {
        // A process starting up: one site fills, nothing ends anywhere.
        let mut tr = SiteTracker::default();
        let pool = key("main.startPool", 20);
        let mut ev = Vec::new();
        for i in 0..12u64 {
            let n = 10 * (i + 1);
            ev.extend(tr.update(i as f64 * 15.0, 1, &[count(&pool, n, 0, n)], &cfg()));
        }
        assert!(ev.is_empty(), "{ev:?}");
        let v = tr.views();
        assert_eq!(
            v[0].growth,
            Growth::Growing,
            "shown as growing, not leaking"
        );
    }

    #[test]
    fn growth_with_no_births_in_the_window_is_not_a_leak() {
        // The live count rises because goroutines born before the window stop ending (made up:
        // the tracer's live set only rises with births, but a new session's seed can).
        let mut tr = SiteTracker::default();
        let a = key("main.a", 1);
        let other = key("main.b", 2);
        let mut ev = Vec::new();
        for i in 0..12u64 {
            ev.extend(tr.update(
                i as f64 * 15.0,
                1,
                &[
                    count(&a, 0, 0, 10 + 5 * i),
                    count(&other, 10 * i, 10 * i, 0),
                ],
                &cfg(),
            ));
        }
        assert!(ev.is_empty(), "{ev:?}");
    }

    #[test]
    fn a_fixed_leak_recovers_and_a_new_tracer_continues_the_counts() {
        let mut tr = SiteTracker::default();
        let leaky = key("main.leakOne", 60);
        let work = key("main.work", 54);
        let mut ev = Vec::new();
        let mut t = 0.0;
        for i in 0..10u64 {
            ev.extend(tr.update(
                t,
                1,
                &[
                    count(&leaky, 20 * i, 0, 20 * i),
                    count(&work, 100 * i, 100 * i, 0),
                ],
                &cfg(),
            ));
            t += 15.0;
        }
        assert!(matches!(ev[..], [SiteEvent::LeakStarted { .. }]), "{ev:?}");
        // A second tracer (the first stopped): its counters start at 0 again; the totals go on.
        // The site stays flat: it recovers once the flat points outweigh the rise in the window
        // (the Theil-Sen slope falls to 0) and `min_points` polls more show no growth.
        ev.clear();
        for i in 0..30u64 {
            if i == 10 {
                assert!(ev.is_empty(), "the rise still dominates the window: {ev:?}");
            }
            ev.extend(tr.update(
                t,
                2,
                &[count(&leaky, 0, 0, 180), count(&work, 100 * i, 100 * i, 0)],
                &cfg(),
            ));
            t += 15.0;
        }
        assert!(matches!(ev[..], [SiteEvent::Recovered { .. }]), "{ev:?}");
        let v = tr.views();
        let l = v
            .iter()
            .find(|s| s.function.as_deref() == Some("main.leakOne"))
            .unwrap();
        assert!(matches!(l.growth, Growth::Recovered { .. }), "{l:?}");
        assert_eq!(l.born, 180);
        let w = v
            .iter()
            .find(|s| s.function.as_deref() == Some("main.work"))
            .unwrap();
        assert_eq!(w.born, 900 + 2900, "session 1 and session 2 add up");
    }

    #[test]
    fn runtime_sites_are_judged_only_with_include_benign() {
        let k = key("runtime.gcBgMarkStartWorkers", 1);
        let other = key("main.b", 2);
        let run = |c: &DetectSection| {
            let mut tr = SiteTracker::default();
            let mut ev = Vec::new();
            for i in 0..12u64 {
                let mut sys = count(&k, 10 * i, 0, 10 * i);
                sys.system = true;
                ev.extend(tr.update(
                    i as f64 * 15.0,
                    1,
                    &[sys, count(&other, 10 * i, 10 * i, 0)],
                    c,
                ));
            }
            ev
        };
        assert!(run(&cfg()).is_empty());
        let c = DetectSection {
            include_benign: true,
            ..cfg()
        };
        assert_eq!(run(&c).len(), 1);
    }

    #[test]
    fn site_ids_are_stable_and_distinct() {
        assert_eq!(site_id(&key("main.a", 1)), site_id(&key("main.a", 1)));
        assert_ne!(site_id(&key("main.a", 1)), site_id(&key("main.a", 2)));
        assert_eq!(site_id(&key("main.a", 1)).len(), 16);
    }

    #[test]
    fn this_build_says_what_tracing_needs() {
        let why = cannot_trace();
        if goroscope_trace::BUILT_IN {
            // Built in: only what this machine lacks can stop it.
            if let Some(why) = why {
                assert!(why.contains("cannot trace on this machine"), "{why}");
            }
        } else {
            let why = why.expect("a build without the tracer says so");
            assert!(why.contains("`ebpf`"), "{why}");
        }
    }
}
