//! Detection over time: each group's count on a sliding window, judged with goroscope-analyze's
//! trend statistics (Theil–Sen slope, Mann–Kendall test), aware of restarts and deploys.
//!
//! * **Leaking**: the window (within the current process, after its warm-up) has at least
//!   `min_points` points, a significant increasing trend (Mann–Kendall one-sided p < `alpha`), a
//!   positive slope, at least `min_growth` goroutines of growth, and — once a group has 12 hours of
//!   history — a count above every hourly maximum seen before the window (a pool that swings
//!   with daily load goes back to where it was yesterday; a leak does not).
//! * **Recovered**: a leaking group whose window has shown no such growth for `min_points`
//!   polls in a row.
//! * **Restarts** (process start time changed, goroutine ids started over, or the total fell to
//!   `restart_drop` of the previous poll) start a new epoch: the window restarts empty, so the
//!   drop is neither recovery nor the start of a trend, and the ramp-up in the first `warmup` is
//!   never a leak. A group that was leaking stays leaking across the restart until the new
//!   process shows it flat: a restart does not hide a leak.
//! * **Deploys** (a continuing group's stack changed lines, or a burst of new groups) start a
//!   warm-up too: new code's pools fill without alerting.
//! * A single snapshot's `need-more-samples` is settled by the window: flat over `min_points`
//!   polls → benign ("stable"), growing → leak.

use crate::config::DetectSection;
use crate::poll::{GroupObs, Observation};
use goroscope_analyze::{mann_kendall, theil_sen, Verdict};
use std::collections::{HashMap, VecDeque};

/// Most points kept per group window (older points are thinned to the window's resolution).
pub const MAX_POINTS: usize = 64;
/// Hourly maxima kept per group (the "new high" rule).
const HOURS: usize = 25;

/// A group's growth status.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Growth {
    /// Not enough points yet, or no trend.
    Steady,
    /// A positive trend that is not (yet) significant.
    Growing,
    /// Steady significant growth since `since` (unix seconds).
    Leaking { since: f64 },
    /// Was leaking; stopped growing at `at`.
    Recovered { at: f64 },
}

impl Growth {
    pub fn as_str(&self) -> &'static str {
        match self {
            Growth::Steady => "steady",
            Growth::Growing => "growing",
            Growth::Leaking { .. } => "leaking",
            Growth::Recovered { .. } => "recovered",
        }
    }
}

/// One group of one target over time.
#[derive(Debug, Clone)]
pub struct GroupTrack {
    /// (unix seconds, count) in the window of the current epoch, after warm-up.
    pub points: VecDeque<(f64, u64)>,
    pub growth: Growth,
    /// Goroutines per minute (Theil–Sen over the window).
    pub slope: f64,
    /// Mann–Kendall one-sided p-value over the window.
    pub p_value: f64,
    /// The verdict once the history is taken into account.
    pub verdict: Verdict,
    pub evidence: Vec<String>,
    /// The latest observation of the group.
    pub obs: std::sync::Arc<GroupObs>,
    pub count: u64,
    absent: u32,
    calm: u32,
    hourly: VecDeque<(i64, u64)>,
    pub first_seen: f64,
}

/// Something the detector noticed.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Restart {
        why: String,
    },
    Deploy {
        why: String,
    },
    LeakStarted {
        group: String,
        rate: f64,
    },
    /// A leaking group's growth and count, for alert updates.
    LeakContinues {
        group: String,
        rate: f64,
    },
    Recovered {
        group: String,
    },
    /// A group started to grow: worth a `debug=2` for detail.
    StartedGrowing {
        group: String,
    },
}

/// The detector state of one target.
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    pub epoch: u32,
    pub epoch_start: f64,
    /// Growth before this time is warm-up (restart or deploy).
    pub warm_until: f64,
    pub restarts: u64,
    pub deploys: u64,
    pub groups: HashMap<String, GroupTrack>,
    last_total: Option<u64>,
    last_goid: Option<u64>,
    last_start: Option<u64>,
    down_since_last: bool,
    polls: u64,
    /// The form deploys are judged in (the first seen: the cheap one), and each group's stack
    /// hash in it; other forms (an occasional debug=2) show other frames, not other code.
    base_form: Option<crate::poll::Form>,
    exact: HashMap<String, u64>,
}

impl Tracker {
    /// A failed poll: remembered, since a restart often shows as a gap.
    pub fn failed(&mut self) {
        self.down_since_last = true;
    }

    /// Takes one successful poll at `t` (unix seconds); returns what changed.
    pub fn update(&mut self, t: f64, obs: &Observation, cfg: &DetectSection) -> Vec<Event> {
        let mut events = Vec::new();
        self.polls += 1;
        if self.polls == 1 {
            self.epoch_start = t;
            self.warm_until = t;
        }
        // Restarts.
        let mut restart = None;
        if let (Some(a), Some(b)) = (self.last_start, obs.process_start) {
            if a != b {
                restart = Some("the process start time changed".to_string());
            }
        }
        if let (Some(a), Some(b)) = (self.last_goid, obs.max_goid) {
            if b < a {
                restart = restart.or(Some(format!(
                    "goroutine ids started over (highest id {a} → {b})"
                )));
            }
        }
        if let Some(prev) = self.last_total {
            if prev >= 20 && (obs.total as f64) <= prev as f64 * cfg.restart_drop {
                let gap = if self.down_since_last {
                    ", after failed polls"
                } else {
                    ""
                };
                restart = restart.or(Some(format!(
                    "the total fell from {prev} to {}{gap}",
                    obs.total
                )));
            }
        }
        // Deploys: a continuing group whose stack has other lines, or a burst of new groups.
        let mut deploy = None;
        let base = *self.base_form.get_or_insert(obs.form);
        if base == obs.form {
            let changed = obs
                .groups
                .iter()
                .filter(|g| self.exact.get(&g.id).is_some_and(|&e| e != g.exact))
                .count();
            for g in &obs.groups {
                self.exact.insert(g.id.clone(), g.exact);
            }
            let new = obs
                .groups
                .iter()
                .filter(|g| !self.groups.contains_key(&g.id))
                .count();
            if self.polls > 1 && changed > 0 {
                deploy = Some(format!(
                    "{changed} groups' stacks moved to other lines (new build)"
                ));
            } else if self.polls > 1 && new >= 3 && new * 2 >= obs.groups.len() {
                deploy = Some(format!("{new} new groups at once (new code)"));
            }
        }
        if let Some(why) = restart {
            self.epoch += 1;
            self.restarts += 1;
            self.epoch_start = t;
            self.warm_until = t + cfg.warmup.0.as_secs_f64();
            for g in self.groups.values_mut() {
                g.points.clear();
                g.calm = 0;
                if !matches!(g.growth, Growth::Leaking { .. }) {
                    g.growth = Growth::Steady;
                }
            }
            events.push(Event::Restart { why });
        }
        if let Some(why) = deploy {
            self.deploys += 1;
            self.warm_until = self.warm_until.max(t + cfg.warmup.0.as_secs_f64());
            events.push(Event::Deploy { why });
        }
        self.last_total = Some(obs.total);
        self.last_goid = obs.max_goid.or(self.last_goid);
        self.last_start = obs.process_start.or(self.last_start);
        self.down_since_last = false;

        // Points.
        let window = cfg.window.0.as_secs_f64();
        let spacing = window / MAX_POINTS as f64;
        let mut seen = std::collections::HashSet::with_capacity(obs.groups.len());
        for g in &obs.groups {
            seen.insert(g.id.as_str());
            let track = self
                .groups
                .entry(g.id.clone())
                .or_insert_with(|| GroupTrack {
                    points: VecDeque::new(),
                    growth: Growth::Steady,
                    slope: 0.0,
                    p_value: 1.0,
                    verdict: g.verdict,
                    evidence: Vec::new(),
                    obs: g.clone(),
                    count: g.count,
                    absent: 0,
                    calm: 0,
                    hourly: VecDeque::new(),
                    first_seen: t,
                });
            // Detail only a debug=2 poll has (creation site, wait minutes, goroutine ids)
            // stays until the next such poll.
            let keep_created = g.created_by.is_none() && track.obs.created_by.is_some();
            let keep_minutes = g.wait_minutes.is_none() && track.obs.wait_minutes.is_some();
            track.obs = if keep_created || keep_minutes {
                let mut o = GroupObs::clone(g);
                if keep_created {
                    o.created_by = track.obs.created_by.clone();
                }
                if keep_minutes {
                    o.wait_minutes = track.obs.wait_minutes;
                }
                std::sync::Arc::new(o)
            } else {
                g.clone()
            };
            track.count = g.count;
            track.absent = 0;
        }
        let warm_until = self.warm_until;
        let mut gone = Vec::new();
        for (id, track) in self.groups.iter_mut() {
            if !seen.contains(id.as_str()) {
                track.absent += 1;
                track.count = 0;
                if f64::from(track.absent) * spacing.max(1.0) > window
                    && !matches!(track.growth, Growth::Leaking { .. })
                {
                    gone.push(id.clone());
                    continue;
                }
            }
            let c = track.count;
            note_hourly(&mut track.hourly, t, c);
            if t < warm_until {
                continue;
            }
            push_point(&mut track.points, t, c, window);
        }
        for id in gone {
            self.groups.remove(&id);
            self.exact.remove(&id);
        }
        // Judge.
        for (id, track) in self.groups.iter_mut() {
            judge(id, track, t, cfg, &mut events);
        }
        events
    }
}

fn judge(id: &str, g: &mut GroupTrack, t: f64, cfg: &DetectSection, events: &mut Vec<Event>) {
    let n = g.points.len();
    let snap = g.obs.verdict;
    g.evidence.clear();
    let (slope, p) = trend(&g.points);
    g.slope = slope;
    g.p_value = p;
    let first = g.points.front().map_or(0, |p| p.1);
    let last = g.points.back().map_or(0, |p| p.1);
    let span_min = if n >= 2 {
        (g.points[n - 1].0 - g.points[0].0) / 60.0
    } else {
        0.0
    };
    let growth = last.saturating_sub(first);
    let window_start = g.points.front().map_or(t, |p| p.0);
    let new_high = new_high(&g.hourly, window_start, last);
    let judged = cfg.include_benign || snap != Verdict::Benign;
    let cond = n >= cfg.min_points
        && p < cfg.alpha
        && slope > 0.0
        && growth >= cfg.min_growth
        && new_high
        && judged;
    match g.growth {
        Growth::Leaking { since } => {
            if cond {
                g.calm = 0;
                events.push(Event::LeakContinues {
                    group: id.to_string(),
                    rate: slope,
                });
            } else if n >= cfg.min_points {
                g.calm += 1;
                if g.calm >= cfg.min_points as u32 {
                    g.growth = Growth::Recovered { at: t };
                    g.calm = 0;
                    events.push(Event::Recovered {
                        group: id.to_string(),
                    });
                } else {
                    g.growth = Growth::Leaking { since };
                }
            }
        }
        _ if cond => {
            g.growth = Growth::Leaking { since: t };
            g.calm = 0;
            events.push(Event::LeakStarted {
                group: id.to_string(),
                rate: slope,
            });
        }
        Growth::Steady | Growth::Growing => {
            let was = g.growth;
            g.growth = if n >= 3 && slope > 0.0 && p < 0.2 && growth > 0 {
                Growth::Growing
            } else {
                Growth::Steady
            };
            if was == Growth::Steady && g.growth == Growth::Growing && judged {
                events.push(Event::StartedGrowing {
                    group: id.to_string(),
                });
            }
        }
        Growth::Recovered { .. } => {}
    }
    let span = format!("{span_min:.1} min");
    g.verdict = match g.growth {
        Growth::Leaking { .. } => {
            g.evidence.push(format!(
                "grows {slope:.2} goroutines/min over {n} polls ({span}, +{growth}); Mann-Kendall p={p:.4}"
            ));
            Verdict::Leak
        }
        Growth::Recovered { at } => {
            g.evidence.push(format!(
                "was growing; no significant growth since {}",
                crate::util::rfc3339(at)
            ));
            snap
        }
        _ if snap == Verdict::NeedMoreSamples
            && n >= cfg.min_points
            && p >= 0.2
            && stable(&g.points) =>
        {
            g.evidence.push(format!(
                "stable at about {last} over {n} polls ({span}): not growing (settled by history)"
            ));
            Verdict::Benign
        }
        Growth::Growing => {
            g.evidence.push(format!(
                "growing {slope:.2}/min over {n} polls ({span}), not yet significant (p={p:.3})"
            ));
            snap
        }
        _ => snap,
    };
}

/// Theil–Sen slope (per minute) and one-sided Mann–Kendall p-value of a window's points;
/// `(0, 1)` for fewer than two points or a flat line.
pub(crate) fn trend(points: &VecDeque<(f64, u64)>) -> (f64, f64) {
    if points.len() < 2 {
        return (0.0, 1.0);
    }
    let ys: Vec<f64> = points.iter().map(|&(_, c)| c as f64).collect();
    if ys.windows(2).all(|w| w[0] == w[1]) {
        return (0.0, 1.0);
    }
    let t0 = points[0].0;
    let xs: Vec<f64> = points.iter().map(|&(x, _)| (x - t0) / 60.0).collect();
    (theil_sen(&xs, &ys), mann_kendall(&ys).2)
}

/// Keeps the hourly maxima of a count (the "new high" rule).
pub(crate) fn note_hourly(hourly: &mut VecDeque<(i64, u64)>, t: f64, c: u64) {
    let hour = (t / 3600.0).floor() as i64;
    match hourly.back_mut() {
        Some((h, m)) if *h == hour => *m = (*m).max(c),
        _ => {
            hourly.push_back((hour, c));
            if hourly.len() > HOURS {
                hourly.pop_front();
            }
        }
    }
}

/// Whether `last` is above every hourly maximum before `window_start`, or there are fewer than
/// 12 such hours (a pool that swings with daily load goes back to where it was yesterday; a
/// leak does not).
pub(crate) fn new_high(hourly: &VecDeque<(i64, u64)>, window_start: f64, last: u64) -> bool {
    let older: Vec<u64> = hourly
        .iter()
        .filter(|(h, _)| ((*h + 1) as f64) * 3600.0 <= window_start)
        .map(|&(_, m)| m)
        .collect();
    older.len() < 12 || last > older.iter().copied().max().unwrap_or(0)
}

/// Adds `(t, c)` to a window of `window` seconds, thinned to its resolution: the newest point
/// of a slot replaces the one before it, so the window keeps at most [`MAX_POINTS`] points.
pub(crate) fn push_point(points: &mut VecDeque<(f64, u64)>, t: f64, c: u64, window: f64) {
    let spacing = window / MAX_POINTS as f64;
    if points.len() >= 2 {
        let n = points.len();
        if points[n - 1].0 - points[n - 2].0 < spacing {
            points.pop_back();
        }
    }
    points.push_back((t, c));
    while points.front().is_some_and(|&(pt, _)| pt < t - window) || points.len() > MAX_POINTS {
        points.pop_front();
    }
}

fn stable(points: &VecDeque<(f64, u64)>) -> bool {
    let max = points.iter().map(|p| p.1).max().unwrap_or(0);
    let min = points.iter().map(|p| p.1).min().unwrap_or(0);
    max - min <= 2.max(max / 10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Dur;
    use crate::poll::Form;
    use std::time::Duration;

    fn cfg() -> DetectSection {
        DetectSection {
            window: Dur(Duration::from_secs(1800)),
            warmup: Dur(Duration::from_secs(0)),
            ..Default::default()
        }
    }

    fn group(id: &str, count: u64, verdict: Verdict, line: u32) -> GroupObs {
        GroupObs {
            id: id.into(),
            count,
            state: "chan receive".into(),
            verdict,
            pattern: None,
            proven: false,
            explanation: None,
            fix: None,
            evidence: vec![],
            blocking: None,
            created_by: None,
            stack: vec![goroscope_analyze::StackFrame {
                function: format!("main.{id}"),
                file: "main.go".into(),
                line,
                inlined: false,
            }],
            labels: Default::default(),
            wait_minutes: None,
            exact: u64::from(line),
        }
    }

    fn obs(groups: Vec<GroupObs>) -> Observation {
        Observation {
            form: Form::Proto,
            total: groups.iter().map(|g| g.count).sum(),
            states: Default::default(),
            groups: groups.into_iter().map(std::sync::Arc::new).collect(),
            label_counts: Default::default(),
            guard_limits: Default::default(),
            go_version: None,
            max_goid: None,
            process_start: None,
            relations: vec![],
            warnings: vec![],
        }
    }

    const NMS: Verdict = Verdict::NeedMoreSamples;

    #[test]
    fn one_goroutine_a_minute_is_a_leak_within_the_hour() {
        let mut tr = Tracker::default();
        let c = cfg();
        let mut started = None;
        for i in 0..240 {
            let t = i as f64 * 15.0;
            // A pool with noise beside a leak of 1/min.
            let pool = 100 + (i * 7919 % 10) as u64;
            let leak = 10 + (i / 4) as u64;
            let ev = tr.update(
                t,
                &obs(vec![
                    group("pool", pool, NMS, 1),
                    group("leak", leak, NMS, 2),
                ]),
                &c,
            );
            if ev
                .iter()
                .any(|e| matches!(e, Event::LeakStarted { group, .. } if group == "leak"))
            {
                started.get_or_insert(t);
            }
            assert!(
                !ev.iter()
                    .any(|e| matches!(e, Event::LeakStarted { group, .. } if group == "pool")),
                "the noisy pool is not a leak (t={t})"
            );
        }
        let at = started.expect("the leak was detected");
        assert!(at <= 3600.0, "detected after {at} s");
        let g = &tr.groups["leak"];
        assert_eq!(g.verdict, Verdict::Leak);
        assert!((g.slope - 1.0).abs() < 0.3, "rate {}", g.slope);
        assert_eq!(
            tr.groups["pool"].verdict,
            Verdict::Benign,
            "settled as stable"
        );
    }

    #[test]
    fn a_daily_swing_is_quiet_once_a_day_is_known() {
        let mut tr = Tracker::default();
        let c = cfg();
        let mut alerts = vec![];
        // Two days at 1 poll/min; the pool follows a daily sine between 100 and 500.
        for i in 0..(2 * 1440) {
            let t = i as f64 * 60.0;
            let phase = (t / 86400.0) * std::f64::consts::TAU;
            let pool = 300.0 - 200.0 * phase.cos();
            for e in tr.update(t, &obs(vec![group("pool", pool as u64, NMS, 1)]), &c) {
                if let Event::LeakStarted { .. } = e {
                    alerts.push(t);
                }
            }
        }
        assert!(
            alerts.iter().all(|&t| t < 86400.0),
            "on day two the swing is known: {alerts:?}"
        );
    }

    #[test]
    fn a_restart_is_neither_recovery_nor_growth() {
        let mut tr = Tracker::default();
        let c = DetectSection {
            warmup: Dur(Duration::from_secs(60)),
            ..cfg()
        };
        let mut ev_all = vec![];
        let mut t = 0.0;
        for i in 0..20u64 {
            ev_all.extend(tr.update(t, &obs(vec![group("leak", 20 + 10 * i, NMS, 1)]), &c));
            t += 15.0;
        }
        assert!(matches!(tr.groups["leak"].growth, Growth::Leaking { .. }));
        // Restart: the count resets.
        let ev = tr.update(t, &obs(vec![group("leak", 1, NMS, 1)]), &c);
        assert!(
            ev.iter().any(|e| matches!(e, Event::Restart { .. })),
            "{ev:?}"
        );
        assert!(
            matches!(tr.groups["leak"].growth, Growth::Leaking { .. }),
            "not hidden"
        );
        assert!(!ev.iter().any(|e| matches!(e, Event::Recovered { .. })));
        // It grows again after the warm-up: still leaking, never "recovered".
        for i in 0..20u64 {
            t += 15.0;
            let ev = tr.update(t, &obs(vec![group("leak", 2 + 10 * i, NMS, 1)]), &c);
            assert!(
                !ev.iter().any(|e| matches!(e, Event::Recovered { .. })),
                "{ev:?}"
            );
        }
        assert_eq!(tr.epoch, 1);
        // Now fixed: flat after a restart → recovered.
        t += 15.0;
        tr.update(t, &obs(vec![group("leak", 3, NMS, 1)]), &c);
        let mut recovered = false;
        for _ in 0..40 {
            t += 15.0;
            recovered |= tr
                .update(t, &obs(vec![group("leak", 3, NMS, 1)]), &c)
                .iter()
                .any(|e| matches!(e, Event::Recovered { .. }));
        }
        assert!(recovered);
    }

    #[test]
    fn warmup_after_a_restart_is_not_a_leak() {
        let mut tr = Tracker::default();
        let c = DetectSection {
            warmup: Dur(Duration::from_secs(300)),
            ..cfg()
        };
        let mut t = 0.0;
        for _ in 0..10 {
            tr.update(t, &obs(vec![group("pool", 200, NMS, 1)]), &c);
            t += 15.0;
        }
        // Restart, then a pool fills for 4 minutes and stays.
        for i in 0..60u64 {
            let ev = tr.update(
                t,
                &obs(vec![group("pool", (5 + i * 12).min(200), NMS, 1)]),
                &c,
            );
            assert!(
                !ev.iter().any(|e| matches!(e, Event::LeakStarted { .. })),
                "t={t} {ev:?}"
            );
            t += 15.0;
        }
        assert_eq!(tr.restarts, 1);
    }

    #[test]
    fn a_deploy_moves_lines_without_alerting() {
        let mut tr = Tracker::default();
        let c = DetectSection {
            warmup: Dur(Duration::from_secs(120)),
            ..cfg()
        };
        let mut t = 0.0;
        for _ in 0..5 {
            tr.update(t, &obs(vec![group("a", 50, NMS, 1)]), &c);
            t += 15.0;
        }
        let ev = tr.update(t, &obs(vec![group("a", 50, NMS, 7)]), &c);
        assert!(
            ev.iter().any(|e| matches!(e, Event::Deploy { .. })),
            "{ev:?}"
        );
        assert_eq!(tr.deploys, 1);
    }

    #[test]
    fn benign_growth_does_not_alert_by_default() {
        let mut tr = Tracker::default();
        let c = cfg();
        for i in 0..30u64 {
            let ev = tr.update(
                i as f64 * 15.0,
                &obs(vec![group("conns", 10 + i * 5, Verdict::Benign, 1)]),
                &c,
            );
            assert!(!ev.iter().any(|e| matches!(e, Event::LeakStarted { .. })));
        }
        let c = DetectSection {
            include_benign: true,
            ..cfg()
        };
        let mut tr = Tracker::default();
        let mut any = false;
        for i in 0..30u64 {
            any |= tr
                .update(
                    i as f64 * 15.0,
                    &obs(vec![group("conns", 10 + i * 5, Verdict::Benign, 1)]),
                    &c,
                )
                .iter()
                .any(|e| matches!(e, Event::LeakStarted { .. }));
        }
        assert!(any);
    }
}
