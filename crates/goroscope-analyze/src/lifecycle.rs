//! Lifecycle evidence: what a window of births and deaths ([`Snapshot::lifecycle`]: an
//! execution trace, eBPF) says about the goroutines a snapshot shows at its end.
//!
//! A dump is one moment: a worker pool and a loop of leaks look alike in it
//! (`need-more-samples`). A window of a few seconds *is* several samples: it shows, per `go`
//! statement, how many goroutines were born and ended, how long those that ended lived, and
//! how many were alive all along. **The lifecycle rule** ([`judge_site`], thresholds in
//! [`crate::knowledge::LIFECYCLE`]):
//!
//! - **leaking** when goroutines born in the window outlive, by far, their siblings of the
//!   same `go` statement that ended (at least `min_outlived` of them, each older than
//!   `outlive_factor` × the p99 lifetime of the ended ones and than `min_age_share` of the
//!   window) — "born and never end while their siblings do";
//! - **leaking** when the number alive grows through the window (by `min_growth` at least,
//!   rising in `min_rising_quarters` of its four quarters and falling in none) while none of
//!   them ends (`min_born` born at least) or some outlive their siblings; growth whose
//!   goroutines end young is rising load, not a leak;
//! - **leaking**, by kinship, for goroutines that existed before the window, whose creation
//!   the window did not see: when the only `go` statement seen starting their entry function
//!   is leaking and they are blocked for the same reason as its goroutines (they leaked before
//!   the window began);
//! - **steady** when its goroutines end, none outlives its siblings, and as many are alive at
//!   the end as at the start (within `min_growth`, or `steady_share` of those born);
//! - otherwise the window does not decide.
//!
//! A leaking site comes with its rate: the growth of its alive count per minute (or, when the
//! count did not grow, the goroutines that outlived their siblings, per minute of the window).
//!
//! In a `live` or `crash` context ([`crate::judge`]) a leaking site makes its groups `leak`
//! (what one dump calls `need-more-samples` or `suspect`); a steady site makes a
//! `need-more-samples` group `benign`. Every group whose goroutines the window saw gets the
//! evidence: its site's counts and verdict, and when and by whom its oldest goroutine was
//! created, since when it has been blocked, and that it was never woken.
//!
//! The per-site table is in the report ([`LifecycleReport`]); [`window_trend`] turns one
//! window's alive series into a trend.

use crate::frames::Fnv;
use crate::group::Grouped;
use crate::knowledge::LIFECYCLE;
use crate::report::{Group, Location, Report, SourceInfo, TrendGroup, TrendReport, Verdict};
use goroscope_model::lifecycle::{GoroutineLifecycle, Lifecycles, SiteKey, SiteLifecycle};
use goroscope_model::{Snapshot, Sym};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// The per-site table of a window, in a [`Report`] (`lifecycle` in the JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleReport {
    /// What measured it: `exectrace` or `ebpf`.
    pub source: String,
    /// The window's length.
    pub window_seconds: f64,
    /// Goroutines born and ended in the window, over the sites listed.
    pub born: u64,
    pub ended: u64,
    /// Leaking sites first, then by births.
    pub sites: Vec<SiteReport>,
}

/// One creation site over the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteReport {
    /// Stable id: a hash of the `go` statement's function and line (or the entry function).
    pub id: String,
    /// The `go` statement; `null` for goroutines that existed before the window (their
    /// creation was not seen).
    pub go_statement: Option<Location>,
    /// The function its goroutines run.
    pub entry_function: Option<String>,
    pub born: u64,
    pub ended: u64,
    pub alive_at_start: u64,
    pub alive_at_end: u64,
    /// Of the goroutines born and ended in the window.
    pub lifetime: Option<LifetimeSeconds>,
    /// Blocked time by reason (the source's words), largest first.
    pub blocked: Vec<BlockedSeconds>,
    /// Alive over the window.
    pub alive_series: Vec<AliveAt>,
    /// `leak` (the lifecycle rule), `benign` (steady), `need-more-samples` (the window does
    /// not decide).
    pub verdict: Verdict,
    /// For a leaking site: goroutines leaked per minute.
    pub rate_per_minute: Option<f64>,
    /// Why, in one sentence.
    pub explanation: String,
    /// Ids of the report's groups holding its goroutines alive at the end.
    pub groups: Vec<String>,
}

/// Lifetime statistics, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LifetimeSeconds {
    pub count: u64,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockedSeconds {
    pub reason: String,
    pub seconds: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AliveAt {
    /// Seconds since the window's start.
    pub seconds: f64,
    pub alive: u64,
}

/// What the window says about a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Born through the window, none ended, and the number alive rises all along.
    NeverEnd,
    /// Some born in the window outlive, by far, their siblings that ended.
    Outlived,
    /// Existed before the window, blocked like the goroutines of the leaking site (an index
    /// into the sites) that starts the same function.
    Kin(usize),
    /// Its goroutines end as they are born.
    Steady,
    /// The window does not decide.
    Undecided,
}

impl Shape {
    pub(crate) fn leaking(self) -> bool {
        matches!(self, Shape::NeverEnd | Shape::Outlived | Shape::Kin(_))
    }

    fn verdict(self) -> Verdict {
        match self {
            s if s.leaking() => Verdict::Leak,
            Shape::Steady => Verdict::Benign,
            _ => Verdict::NeedMoreSamples,
        }
    }
}

/// The lifecycle rule's judgement of one site.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SiteJudgement {
    pub shape: Shape,
    pub rate_per_min: Option<f64>,
    /// Why, one sentence without the site's name.
    pub why: String,
}

/// The alive count at `t` (ns since the window's start): the last point at or before it.
fn alive_at(s: &SiteLifecycle, t: u64) -> u64 {
    s.alive_series
        .iter()
        .take_while(|p| p.at_ns <= t)
        .last()
        .map_or(s.existed_at_start, |p| p.alive)
}

/// The alive count at the window's start and at the end of each quarter.
fn quarters(s: &SiteLifecycle, window_ns: u64) -> [u64; 5] {
    let mut q = [s.existed_at_start; 5];
    for (i, v) in q.iter_mut().enumerate().skip(1) {
        *v = if i == 4 {
            s.alive_at_end
        } else {
            alive_at(s, window_ns / 4 * i as u64)
        };
    }
    q
}

/// Judges one site (see the module docs). `alive` are its goroutines alive at the end.
pub(crate) fn judge_site(
    s: &SiteLifecycle,
    alive: &[&GoroutineLifecycle],
    window_ns: u64,
) -> SiteJudgement {
    let l = LIFECYCLE;
    let window = human_ns(window_ns);
    let minutes = window_ns as f64 / 60e9;
    let q = quarters(s, window_ns);
    let rising = q.windows(2).filter(|w| w[1] > w[0]).count();
    let falling = q.windows(2).any(|w| w[1] < w[0]);
    let growth = s.alive_at_end.saturating_sub(s.existed_at_start);
    let grows = growth >= l.min_growth && rising >= l.min_rising_quarters && !falling;
    // Goroutines born in the window that outlived their ended siblings.
    let bound = s.lifetimes.map(|lt| {
        (lt.p99_ns.saturating_mul(l.outlive_factor))
            .max((window_ns as f64 * l.min_age_share) as u64)
    });
    let outlived = match bound {
        Some(b) => alive
            .iter()
            .filter_map(|g| g.created)
            .filter(|c| window_ns.saturating_sub(c.at_ns) > b)
            .count() as u64,
        None => 0,
    };
    let rate = |n: u64| (minutes > 0.0).then(|| n as f64 / minutes);
    let series = q
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(" → ");
    if s.ended > 0 && outlived >= l.min_outlived {
        let lt = s.lifetimes.expect("outlived needs lifetimes");
        let r = rate(if growth > 0 { growth } else { outlived });
        return SiteJudgement {
            shape: Shape::Outlived,
            rate_per_min: r,
            why: format!(
                "born {} and ended {} in the {window} window, but {outlived} born in it are still alive, each older than {}× the p99 lifetime ({}) of those that ended: they do not end while their siblings do{}",
                s.born,
                s.ended,
                l.outlive_factor,
                human_ns(lt.p99_ns),
                r.map(|r| format!(", {}", rate_text(r))).unwrap_or_default()
            ),
        };
    }
    if grows && ((s.born >= l.min_born && s.ended == 0) || outlived > 0) {
        let r = rate(growth);
        return SiteJudgement {
            shape: Shape::NeverEnd,
            rate_per_min: r,
            why: format!(
                "born {} in the {window} window and {}, alive rising through it (quarters: {series}){}",
                s.born,
                if s.ended == 0 {
                    "none ended".to_string()
                } else {
                    format!("{outlived} outlived the {} that ended", s.ended)
                },
                r.map(|r| format!(": {}", rate_text(r))).unwrap_or_default()
            ),
        };
    }
    let allowance = l
        .min_growth
        .max((s.born as f64 * l.steady_share).ceil() as u64);
    if s.ended > 0 && s.born > 0 && outlived == 0 && !grows && growth <= allowance {
        let lifetimes = s
            .lifetimes
            .map(|lt| {
                format!(
                    " (lifetime p50 {}, p99 {})",
                    human_ns(lt.p50_ns),
                    human_ns(lt.p99_ns)
                )
            })
            .unwrap_or_default();
        return SiteJudgement {
            shape: Shape::Steady,
            rate_per_min: None,
            why: format!(
                "born {} and ended {} in the {window} window{lifetimes}, alive {} at its start and {} at its end: its goroutines end as they are born",
                s.born, s.ended, s.existed_at_start, s.alive_at_end
            ),
        };
    }
    let why = if s.born == 0 && s.ended == 0 {
        format!(
            "{} existed before the {window} window and none was born or ended in it: a window this short does not decide",
            s.existed_at_start
        )
    } else if grows {
        format!(
            "born {} and ended {} in the {window} window, alive rising (quarters: {series}) but none older than its siblings' lifetimes: rising load or a leak, a longer window decides",
            s.born, s.ended
        )
    } else {
        format!(
            "born {}, ended {} in the {window} window, alive {} at its start and {} at its end (quarters: {series}): not enough to decide",
            s.born, s.ended, s.existed_at_start, s.alive_at_end
        )
    };
    SiteJudgement {
        shape: Shape::Undecided,
        rate_per_min: None,
        why,
    }
}

/// The most common state (as the snapshot words it: `chan send`, `sync.Mutex.Lock`) among the
/// blocked goroutines of `gs` (empty when none is blocked). The snapshot's words, not the
/// source's block reason: a goroutine blocked since before the window has no reason in a trace,
/// but its stack tells the snapshot its state.
fn common_state(gs: &[&GoroutineLifecycle], states: &FxHashMap<goroscope_model::Goid, Sym>) -> Sym {
    let mut n: FxHashMap<Sym, u64> = FxHashMap::default();
    for g in gs.iter().filter(|g| g.blocked_since_ns.is_some()) {
        if let Some(&st) = states.get(&g.goid) {
            *n.entry(st).or_default() += 1;
        }
    }
    n.into_iter()
        .max_by_key(|&(r, c)| (c, std::cmp::Reverse(r)))
        .map_or(goroscope_model::Interner::EMPTY, |(r, _)| r)
}

/// The window of a snapshot, with every site judged.
pub(crate) struct Window<'a> {
    pub lc: &'a Lifecycles,
    pub judged: Vec<SiteJudgement>,
    names: Vec<String>,
}

/// What the window says about one group.
#[derive(Debug, Clone)]
pub(crate) struct GroupLifecycle {
    pub shape: Shape,
    pub rate_per_min: Option<f64>,
    /// The group's site, named.
    pub site: String,
    /// The leaking site whose kin the group's goroutines are ([`Shape::Kin`]), named.
    pub kin_of: Option<String>,
    /// For the group's evidence: the site's counts and verdict, its goroutines' story.
    pub evidence: Vec<String>,
}

impl<'a> Window<'a> {
    /// The snapshot's window, when it has one.
    pub(crate) fn new(snap: &'a Snapshot) -> Option<Window<'a>> {
        let lc = snap.lifecycle.as_deref()?;
        if let Err(why) = lc.validate() {
            // A source's bug must not take the report down: the window is left out.
            tracing::warn!(input = %snap.source.input, "execution window left out: {why}");
            return None;
        }
        let mut by_site: Vec<Vec<&GoroutineLifecycle>> = vec![Vec::new(); lc.sites.len()];
        for g in &lc.goroutines {
            if let Some(v) = by_site.get_mut(g.site) {
                v.push(g);
            }
        }
        let mut judged: Vec<SiteJudgement> = lc
            .sites
            .iter()
            .zip(&by_site)
            .map(|(s, alive)| judge_site(s, alive, lc.window_ns))
            .collect();
        let names: Vec<String> = lc.sites.iter().map(|s| site_name(snap, s)).collect();
        let states: FxHashMap<goroscope_model::Goid, Sym> =
            snap.goroutines.iter().map(|g| (g.goid, g.state)).collect();
        // Kinship: goroutines that existed before the window, of the entry function that only
        // one `go` statement seen starts, blocked like its leaking goroutines.
        for (i, s) in lc.sites.iter().enumerate() {
            let SiteKey::Entry(entry) = s.key else {
                continue;
            };
            if judged[i].shape != Shape::Undecided || s.alive_at_end == 0 || s.system {
                continue;
            }
            let mut starters = lc
                .sites
                .iter()
                .enumerate()
                .filter(|(_, o)| o.go_statement().is_some() && o.entry == Some(entry));
            let (Some((j, _)), None) = (starters.next(), starters.next()) else {
                continue;
            };
            if !judged[j].shape.leaking() {
                continue;
            }
            let state = common_state(&by_site[i], &states);
            if state == goroscope_model::Interner::EMPTY
                || state != common_state(&by_site[j], &states)
            {
                continue;
            }
            judged[i] = SiteJudgement {
                shape: Shape::Kin(j),
                rate_per_min: None,
                why: format!(
                    "{} existed before the window and are blocked in {} like the leaking goroutines of {}, the only go statement seen starting {}: they leaked before the window began",
                    s.alive_at_end,
                    snap.str(state),
                    names[j],
                    snap.str(entry)
                ),
            };
        }
        Some(Window { lc, judged, names })
    }

    pub(crate) fn name(&self, site: usize) -> &str {
        &self.names[site]
    }

    /// Per group of `grouped`, what the window says, from the sites of its goroutines.
    pub(crate) fn groups(&self, snap: &Snapshot, grouped: &Grouped) -> Vec<Option<GroupLifecycle>> {
        struct Acc<'g> {
            sites: FxHashMap<usize, u64>,
            created: u64,
            before: u64,
            first: Option<u64>,
            last: Option<u64>,
            oldest: Option<(&'g goroscope_model::Goroutine, &'g GoroutineLifecycle)>,
            seen: u64,
        }
        let mut acc: Vec<Acc<'_>> = (0..grouped.groups.len())
            .map(|_| Acc {
                sites: FxHashMap::default(),
                created: 0,
                before: 0,
                first: None,
                last: None,
                oldest: None,
                seen: 0,
            })
            .collect();
        for (g, &gi) in snap.goroutines.iter().zip(&grouped.member) {
            let Some(l) = self.lc.goroutine(g.goid) else {
                continue;
            };
            let a = &mut acc[gi as usize];
            a.seen += 1;
            *a.sites.entry(l.site).or_default() += 1;
            match l.created {
                Some(c) => {
                    a.created += 1;
                    a.first = Some(a.first.map_or(c.at_ns, |f| f.min(c.at_ns)));
                    a.last = Some(a.last.map_or(c.at_ns, |f| f.max(c.at_ns)));
                }
                None => a.before += 1,
            }
            let age = |l: &GoroutineLifecycle| l.created.map_or((0, 0), |c| (1, c.at_ns));
            if a.oldest
                .is_none_or(|(og, ol)| (age(l), g.goid) < (age(ol), og.goid))
            {
                a.oldest = Some((g, l));
            }
        }
        acc.into_iter()
            .map(|a| {
                let (site, n) = a
                    .sites
                    .iter()
                    .max_by_key(|&(s, n)| (*n, std::cmp::Reverse(*s)))
                    .map(|(s, n)| (*s, *n))?;
                let j = &self.judged[site];
                let mut evidence = Vec::new();
                let of = if n < a.seen {
                    format!("{n} of these {} goroutines come from ", a.seen)
                } else {
                    String::new()
                };
                evidence.push(format!(
                    "{of}site {} (execution window): {} — {}",
                    self.names[site],
                    match j.shape.verdict() {
                        Verdict::Leak => "leaking",
                        Verdict::Benign => "steady",
                        _ => "undecided",
                    },
                    j.why
                ));
                let mut story = String::new();
                if a.seen > 1 {
                    story.push_str(&format!("{} goroutines: ", a.seen));
                    if a.created > 0 {
                        story.push_str(&format!(
                            "{} created in the window ({}), ",
                            a.created,
                            match (a.first, a.last) {
                                (Some(f), Some(l)) if f != l =>
                                    format!("from {} to {} into it", human_ns(f), human_ns(l)),
                                (Some(f), _) => format!("{} into it", human_ns(f)),
                                _ => String::new(),
                            }
                        ));
                    }
                    if a.before > 0 {
                        story.push_str(&format!("{} before it, ", a.before));
                    }
                    story.push_str("the oldest: ");
                }
                if let Some((g, l)) = a.oldest {
                    story.push_str(&goroutine_story(snap, g, l, self.lc.window_ns));
                }
                evidence.push(story);
                Some(GroupLifecycle {
                    shape: j.shape,
                    rate_per_min: match j.shape {
                        Shape::Kin(k) => self.judged[k].rate_per_min,
                        _ => j.rate_per_min,
                    },
                    site: self.names[site].clone(),
                    kin_of: match j.shape {
                        Shape::Kin(k) => Some(self.names[k].clone()),
                        _ => None,
                    },
                    evidence,
                })
            })
            .collect()
    }

    /// The report's per-site table. `site_groups` are the ids of the groups holding each
    /// site's goroutines.
    pub(crate) fn report(&self, snap: &Snapshot, site_groups: &[Vec<String>]) -> LifecycleReport {
        let mut sites: Vec<SiteReport> = self
            .lc
            .sites
            .iter()
            .enumerate()
            .filter(|(_, s)| shown(s))
            .map(|(i, s)| {
                let j = &self.judged[i];
                SiteReport {
                    id: site_id(snap, s),
                    go_statement: s.go_statement().map(|f| {
                        let x = snap.frame_site(f);
                        Location {
                            function: x.function.to_string(),
                            file: x.file.to_string(),
                            line: x.line,
                        }
                    }),
                    entry_function: s.entry.map(|e| snap.str(e).to_string()),
                    born: s.born,
                    ended: s.ended,
                    alive_at_start: s.existed_at_start,
                    alive_at_end: s.alive_at_end,
                    lifetime: s.lifetimes.map(|l| LifetimeSeconds {
                        count: l.count,
                        min: secs(l.min_ns),
                        p50: secs(l.p50_ns),
                        p90: secs(l.p90_ns),
                        p99: secs(l.p99_ns),
                        max: secs(l.max_ns),
                        mean: secs(l.mean_ns),
                    }),
                    blocked: s
                        .blocked
                        .iter()
                        .map(|b| BlockedSeconds {
                            reason: match snap.str(b.reason) {
                                "" => "(before the window)".to_string(),
                                r => r.to_string(),
                            },
                            seconds: secs(b.ns),
                        })
                        .collect(),
                    alive_series: std::iter::once(AliveAt {
                        seconds: 0.0,
                        alive: s.existed_at_start,
                    })
                    .chain(s.alive_series.iter().map(|p| AliveAt {
                        seconds: secs(p.at_ns),
                        alive: p.alive,
                    }))
                    .collect(),
                    verdict: j.shape.verdict(),
                    rate_per_minute: j.rate_per_min,
                    explanation: j.why.clone(),
                    groups: site_groups.get(i).cloned().unwrap_or_default(),
                }
            })
            .collect();
        sites.sort_by(|a, b| {
            b.verdict
                .rank()
                .cmp(&a.verdict.rank())
                .then(b.born.cmp(&a.born))
                .then(b.alive_at_end.cmp(&a.alive_at_end))
                .then(a.id.cmp(&b.id))
        });
        LifecycleReport {
            source: self.lc.source.as_str().to_string(),
            window_seconds: secs(self.lc.window_ns),
            born: sites.iter().map(|s| s.born).sum(),
            ended: sites.iter().map(|s| s.ended).sum(),
            sites,
        }
    }

    /// Per site, the indices of the groups of `grouped` holding its goroutines.
    pub(crate) fn site_groups(&self, snap: &Snapshot, grouped: &Grouped) -> Vec<Vec<usize>> {
        let mut v: Vec<Vec<usize>> = vec![Vec::new(); self.lc.sites.len()];
        for (g, &gi) in snap.goroutines.iter().zip(&grouped.member) {
            if let Some(l) = self.lc.goroutine(g.goid) {
                if let Some(list) = v.get_mut(l.site) {
                    if !list.contains(&(gi as usize)) {
                        list.push(gi as usize);
                    }
                }
            }
        }
        v
    }
}

/// Sites a report lists: the program's, with something to count.
fn shown(s: &SiteLifecycle) -> bool {
    !s.system && (s.born > 0 || s.ended > 0 || s.existed_at_start > 0 || s.alive_at_end > 0)
}

/// A site's name for a reader: its `go` statement, or its entry function.
pub(crate) fn site_name(snap: &Snapshot, s: &SiteLifecycle) -> String {
    match s.key {
        SiteKey::GoStatement(f) => snap.frame_site(f).to_string(),
        SiteKey::Entry(e) => format!("{} (existed before the window)", snap.str(e)),
        SiteKey::Unknown => "(existed before the window; entry unknown)".into(),
    }
}

/// A site's stable id: its `go` statement's function and line, or its entry function.
fn site_id(snap: &Snapshot, s: &SiteLifecycle) -> String {
    let h = match s.key {
        SiteKey::GoStatement(f) => {
            let x = snap.frame_site(f);
            Fnv::new().str("go").str(x.function).u64(u64::from(x.line))
        }
        SiteKey::Entry(e) => Fnv::new().str("entry").str(snap.str(e)),
        SiteKey::Unknown => Fnv::new().str("unknown"),
    };
    format!("{:016x}", h.0)
}

/// "created 1.8 s into the window by `main.handler` in goroutine 12, ran 3 times, blocked in
/// chan send since 1.9 s into it and never woken (1.1 s)".
fn goroutine_story(
    snap: &Snapshot,
    g: &goroscope_model::Goroutine,
    l: &GoroutineLifecycle,
    window_ns: u64,
) -> String {
    let mut s = format!("goroutine {} ", g.goid);
    match l.created {
        Some(c) => {
            s.push_str(&format!("created {} into the window", human_ns(c.at_ns)));
            if let Some(by) = g.created_by {
                s.push_str(&format!(" by {}", snap.function(by)));
            }
            if let Some(creator) = c.creator {
                s.push_str(&format!(" in goroutine {creator}"));
            }
        }
        None => s.push_str("existed before the window"),
    }
    s.push_str(&match l.runs {
        0 => ", never ran in it".to_string(),
        1 => ", ran once".to_string(),
        n => format!(", ran {n} times"),
    });
    let state = snap.str(g.state);
    match l.blocked_since_ns {
        Some(since) if l.created.is_none() && since == 0 => s.push_str(&format!(
            ", blocked in {state} since before the window and not woken in its {}",
            human_ns(window_ns)
        )),
        Some(since) => s.push_str(&format!(
            ", blocked in {state} since {} into it and never woken ({} to the window's end)",
            human_ns(since),
            human_ns(window_ns.saturating_sub(since))
        )),
        None => s.push_str(&format!(", {state} at the window's end")),
    }
    s
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// A duration for a reader: `850 ns`, `12 µs`, `3.4 ms`, `1.8 s`, `2.5 min`.
pub fn human_ns(ns: u64) -> String {
    let f = ns as f64;
    let (v, unit) = if ns < 1_000 {
        return format!("{ns} ns");
    } else if ns < 1_000_000 {
        (f / 1e3, "µs")
    } else if ns < 1_000_000_000 {
        (f / 1e6, "ms")
    } else if ns < 60_000_000_000 {
        (f / 1e9, "s")
    } else {
        (f / 60e9, "min")
    };
    if v < 10.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.0} {unit}")
    }
}

/// A leak rate for a reader: `+40/s`, `+4.5/s` from 60 a minute on, else `+2.5/min`.
pub fn rate_text(per_minute: f64) -> String {
    let per_second = per_minute / 60.0;
    if per_second >= 10.0 {
        let digits = (per_second.round() as u64).to_string();
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        format!("+{grouped}/s")
    } else if per_second >= 1.0 {
        format!("+{per_second:.1}/s")
    } else {
        format!("+{per_minute:.1}/min")
    }
}

/// The number of points a window's trend shows (plus its start).
pub const TREND_POINTS: usize = 12;

/// A trend over one window: per site (as [`LifecycleReport`] lists them) its alive count at
/// the window's start and at [`TREND_POINTS`] even steps through it. The trend's `sources`
/// repeat the snapshot's source once per point (`index` is the point's number), so that the
/// counts stay parallel to them; `minutes` are the points' times. `None` when the snapshot has
/// no window.
pub fn window_trend(snap: &Snapshot, report: &Report) -> Option<TrendReport> {
    let w = Window::new(snap)?;
    let lc = w.lc;
    let times: Vec<u64> = (0..=TREND_POINTS as u64)
        .map(|k| lc.window_ns / TREND_POINTS as u64 * k)
        .map(|t| t.min(lc.window_ns))
        .collect();
    let at = |s: &SiteLifecycle, i: usize| {
        if i == 0 {
            s.existed_at_start
        } else if i == TREND_POINTS {
            s.alive_at_end
        } else {
            alive_at(s, times[i])
        }
    };
    let minutes: Vec<f64> = times.iter().map(|&t| t as f64 / 60e9).collect();
    let source = crate::engine::source_info(snap);
    let sources: Vec<SourceInfo> = (0..times.len())
        .map(|i| SourceInfo {
            index: i,
            ..source.clone()
        })
        .collect();
    let lr = report.lifecycle.as_ref()?;
    let groups_by_id: FxHashMap<&str, &Group> =
        report.groups.iter().map(|g| (g.id.as_str(), g)).collect();
    let mut totals = vec![0u64; times.len()];
    let mut groups = Vec::new();
    for (i, s) in lc.sites.iter().enumerate().filter(|(_, s)| shown(s)) {
        let id = site_id(snap, s);
        let Some(row) = lr.sites.iter().find(|r| r.id == id) else {
            continue;
        };
        let counts: Vec<u64> = (0..times.len()).map(|k| at(s, k)).collect();
        for (t, c) in totals.iter_mut().zip(&counts) {
            *t += c;
        }
        let j = &w.judged[i];
        // The group holding most of its goroutines at the end was judged with this site's
        // evidence; a site whose goroutines all ended stands alone.
        let analysed = row
            .groups
            .iter()
            .filter_map(|g| groups_by_id.get(g.as_str()))
            .max_by_key(|g| g.count);
        let mut group = analysed
            .map(|g| (*g).clone())
            .unwrap_or_else(|| ended_group(row));
        if analysed.is_some() && j.shape.leaking() {
            group.verdict = Verdict::Leak;
        }
        group.id = id;
        group.count = s.alive_at_end;
        group.created_by = row.go_statement.clone();
        let ys: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
        let slope = crate::trend::theil_sen(&minutes, &ys);
        let (mk, z, p) = crate::trend::mann_kendall(&ys);
        let strictly_up = ys.windows(2).all(|w| w[1] > w[0]);
        let significant = p < crate::trend::ALPHA && slope > 0.0;
        let mut evidence = vec![format!("{}: {}", w.name(i), j.why)];
        evidence.push(format!(
            "alive {} over {} points of the {} window; Mann-Kendall S={mk}, p={p:.4}",
            counts
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(" → "),
            counts.len(),
            human_ns(lc.window_ns)
        ));
        groups.push(TrendGroup {
            counts,
            slope,
            slope_per_minute: true,
            mann_kendall_s: mk,
            z,
            p_value: p,
            verdict: group.verdict,
            evidence,
            group,
            growing: significant || strictly_up,
        });
    }
    groups.sort_by(|a, b| {
        b.verdict
            .rank()
            .cmp(&a.verdict.rank())
            .then(b.growing.cmp(&a.growing))
            .then(b.slope.total_cmp(&a.slope))
            .then(b.counts.last().cmp(&a.counts.last()))
            .then(a.group.id.cmp(&b.group.id))
    });
    Some(TrendReport {
        schema_version: crate::report::SCHEMA_VERSION,
        sources,
        totals,
        minutes: Some(minutes),
        grouping: report.grouping,
        groups,
        warnings: report.warnings.clone(),
    })
}

/// The group a site whose goroutines all ended stands for in a window's trend.
fn ended_group(row: &SiteReport) -> Group {
    Group {
        id: row.id.clone(),
        count: 0,
        status: "ended".into(),
        wait_reason: None,
        state_inferred: false,
        wait_minutes: None,
        top_frame: None,
        blocking_site: None,
        created_by: row.go_statement.clone(),
        creator_goids: Vec::new(),
        labels: Default::default(),
        stack: Vec::new(),
        goids: Vec::new(),
        goids_truncated: false,
        verdict: row.verdict,
        pattern: None,
        proven: false,
        explanation: Some(row.explanation.clone()),
        fix: None,
        evidence: Vec::new(),
        next_step: None,
        relations: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testkit::{snapshot, G};
    use crate::{analyze, Options};
    use goroscope_model::lifecycle::{
        AlivePoint, Created, LifecycleSource, Lifetimes, SiteLifecycle,
    };
    use goroscope_model::{Goid, Interner, ProfileKind};

    const S: u64 = 1_000_000_000;
    const MS: u64 = 1_000_000;

    /// A site whose alive count is `series[i]` at the end of each of its equal steps over a
    /// window of `window` ns.
    fn site(born: u64, ended: u64, existed: u64, series: &[u64], window: u64) -> SiteLifecycle {
        let n = series.len() as u64;
        SiteLifecycle {
            born,
            ended,
            existed_at_start: existed,
            alive_at_end: *series.last().unwrap(),
            alive_series: series
                .iter()
                .enumerate()
                .map(|(i, &alive)| AlivePoint {
                    at_ns: window / n * (i as u64 + 1),
                    alive,
                })
                .collect(),
            ..SiteLifecycle::new(SiteKey::Unknown)
        }
    }

    fn lifetimes(p99: u64) -> Option<Lifetimes> {
        Some(Lifetimes {
            count: 10,
            min_ns: p99 / 10,
            p50_ns: p99 / 2,
            p90_ns: p99,
            p99_ns: p99,
            max_ns: p99,
            mean_ns: p99 / 2,
        })
    }

    fn alive(created_at: &[Option<u64>]) -> Vec<GoroutineLifecycle> {
        created_at
            .iter()
            .enumerate()
            .map(|(i, c)| GoroutineLifecycle {
                goid: Goid(100 + i as u64),
                site: 0,
                created: c.map(|at_ns| Created {
                    at_ns,
                    creator: Some(Goid(1)),
                }),
                runs: 1,
                blocked_since_ns: Some(c.unwrap_or(0)),
                block_reason: Interner::EMPTY,
                exec_ns: 0,
                blocked_ns: 0,
            })
            .collect()
    }

    fn refs(v: &[GoroutineLifecycle]) -> Vec<&GoroutineLifecycle> {
        v.iter().collect()
    }

    #[test]
    fn born_through_the_window_and_never_ending_is_leaking_with_its_rate() {
        let series: Vec<u64> = (1..=8).map(|i| i * 5).collect();
        let s = site(40, 0, 0, &series, 2 * S);
        let a = alive(&(0..40).map(|i| Some(i * 50 * MS)).collect::<Vec<_>>());
        let j = judge_site(&s, &refs(&a), 2 * S);
        assert_eq!(j.shape, Shape::NeverEnd, "{}", j.why);
        // 40 in 2 s: 1,200 a minute.
        assert!((j.rate_per_min.unwrap() - 1200.0).abs() < 1e-6);
        assert!(
            j.why.contains("born 40 in the 2.0 s window and none ended"),
            "{}",
            j.why
        );
        assert!(j.why.contains("0 → 10 → 20 → 30 → 40"), "{}", j.why);
        assert_eq!(rate_text(1200.0), "+20/s");
        assert_eq!(rate_text(12.0), "+12.0/min");
        assert_eq!(rate_text(60.0 * 1469.4), "+1,469/s");
    }

    #[test]
    fn a_burst_at_the_start_does_not_rise_through_the_window() {
        // A pool of 10 started right at the window's start, alive all along.
        let s = site(10, 0, 0, &[10; 8], 2 * S);
        let a = alive(&[Some(MS); 10]);
        let j = judge_site(&s, &refs(&a), 2 * S);
        assert_eq!(j.shape, Shape::Undecided, "{}", j.why);
        assert_eq!(j.rate_per_min, None);
        // Nor does a step in its middle: it rises in one quarter only.
        let s = site(10, 0, 0, &[0, 0, 0, 10, 10, 10, 10, 10], 2 * S);
        let a = alive(&[Some(900 * MS); 10]);
        assert_eq!(judge_site(&s, &refs(&a), 2 * S).shape, Shape::Undecided);
    }

    #[test]
    fn goroutines_outliving_their_ended_siblings_are_leaking() {
        // 50 ended within 1 ms; 50 born along 2 s are still alive.
        let mut s = site(100, 50, 0, &[6, 12, 18, 25, 31, 37, 44, 50], 2 * S);
        s.lifetimes = lifetimes(MS);
        let a = alive(&(0..50).map(|i| Some(i * 40 * MS)).collect::<Vec<_>>());
        let j = judge_site(&s, &refs(&a), 2 * S);
        assert_eq!(j.shape, Shape::Outlived, "{}", j.why);
        // Older than max(10 × 1 ms, a quarter of 2 s): born before 1.5 s.
        assert!(
            j.why.contains("but 38 born in it are still alive"),
            "{}",
            j.why
        );
        assert!(j.why.contains("p99 lifetime (1.0 ms)"), "{}", j.why);
        assert!((j.rate_per_min.unwrap() - 1500.0).abs() < 1e-6);
        // One straggler is not enough.
        let a1 = alive(&[Some(0)]);
        let mut s1 = site(100, 99, 0, &[1; 8], 2 * S);
        s1.lifetimes = lifetimes(MS);
        assert_ne!(judge_site(&s1, &refs(&a1), 2 * S).shape, Shape::Outlived);
    }

    #[test]
    fn rising_load_whose_goroutines_end_young_is_not_a_leak_and_churn_is_steady() {
        // Alive rises 0 → 100, but every goroutine alive is younger than its siblings' p99.
        let mut s = site(1000, 900, 0, &[12, 25, 37, 50, 62, 75, 87, 100], 2 * S);
        s.lifetimes = lifetimes(20 * MS);
        let a = alive(
            &(0..100)
                .map(|i| Some(2 * S - 10 * MS - i))
                .collect::<Vec<_>>(),
        );
        let j = judge_site(&s, &refs(&a), 2 * S);
        assert_eq!(j.shape, Shape::Undecided, "{}", j.why);
        assert!(j.why.contains("rising load or a leak"), "{}", j.why);
        // Born 1000, ended 998, alive 10 → 12: steady.
        let mut s = site(1000, 998, 10, &[11, 9, 12, 10, 11, 12, 10, 12], 2 * S);
        s.lifetimes = lifetimes(20 * MS);
        let a = alive(&[Some(2 * S - MS); 2]);
        let j = judge_site(&s, &refs(&a), 2 * S);
        assert_eq!(j.shape, Shape::Steady, "{}", j.why);
        assert!(j.why.contains("lifetime p50 10 ms, p99 20 ms"), "{}", j.why);
        // Nothing born or ended: the window does not decide.
        let s = site(0, 0, 3, &[3; 8], 2 * S);
        let j = judge_site(&s, &refs(&alive(&[None; 3])), 2 * S);
        assert_eq!(j.shape, Shape::Undecided);
        assert!(
            j.why.starts_with("3 existed before the 2.0 s window"),
            "{}",
            j.why
        );
    }

    #[test]
    fn a_malformed_window_is_left_out_not_a_panic() {
        let mut snap = traced(
            &[pool()],
            vec![site(8, 0, 0, &[1, 2, 3, 4, 5, 6, 7, 8], 2 * S)],
            &[Some(0); 8],
        );
        snap.lifecycle.as_mut().unwrap().goroutines[0].site = 99;
        let r = analyze(&[snap], &Options::default()).pop().unwrap();
        assert!(r.lifecycle.is_none());
        assert_eq!(r.groups[0].verdict, Verdict::NeedMoreSamples);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_ns(850), "850 ns");
        assert_eq!(human_ns(12_300), "12 µs");
        assert_eq!(human_ns(3_400_000), "3.4 ms");
        assert_eq!(human_ns(1_800_000_000), "1.8 s");
        assert_eq!(human_ns(150 * S), "2.5 min");
    }

    /// A snapshot of `gs` (from testkit) with a window: one site per `created_by` frame (the
    /// goroutines without one in an entry site), `sites[i]` giving its counts.
    fn traced(gs: &[G], sites: Vec<SiteLifecycle>, created: &[Option<u64>]) -> Snapshot {
        let mut snap = snapshot(gs, ProfileKind::Goroutine);
        snap.source.format = goroscope_model::Format::ExecTrace;
        snap.context = Some(goroscope_model::Context::Live);
        let mut keys: Vec<SiteKey> = Vec::new();
        let mut goroutines = Vec::new();
        for (i, g) in snap.goroutines.iter().enumerate() {
            let key = match g.created_by {
                Some(f) => SiteKey::GoStatement(f),
                None => {
                    let root = *snap.stack(g.stack).last().unwrap();
                    SiteKey::Entry(snap.frame(root).function)
                }
            };
            let site = keys.iter().position(|k| *k == key).unwrap_or_else(|| {
                keys.push(key);
                keys.len() - 1
            });
            let at = created.get(i).copied().flatten();
            goroutines.push(GoroutineLifecycle {
                goid: g.goid,
                site,
                created: at.map(|at_ns| Created {
                    at_ns,
                    creator: g.creator_goid,
                }),
                runs: 1,
                blocked_since_ns: Some(at.unwrap_or(0) + MS),
                block_reason: g.state,
                exec_ns: 1000,
                blocked_ns: 0,
            });
        }
        assert_eq!(keys.len(), sites.len(), "one site per creator");
        let sites = sites
            .into_iter()
            .zip(keys)
            .map(|(mut s, k)| {
                s.key = k;
                if let SiteKey::Entry(e) = k {
                    s.entry = Some(e);
                }
                s
            })
            .collect();
        goroutines.sort_by_key(|g| g.goid);
        snap.lifecycle = Some(Box::new(Lifecycles {
            source: LifecycleSource::ExecTrace,
            window_ns: 2 * S,
            wall_end: None,
            sites,
            goroutines,
        }));
        snap
    }

    fn pool() -> G {
        G::new("chan receive", &[("main.worker", "main.go", 9)])
            .by(("main.start", "main.go", 20))
            .creator(12)
            .times(8)
    }

    #[test]
    fn a_leaking_site_decides_what_one_dump_cannot() {
        // Without a window: the worker-pool shape needs more samples.
        let plain = analyze(
            &[snapshot(&[pool()], ProfileKind::Goroutine)],
            &Options::default(),
        );
        assert_eq!(plain[0].groups[0].verdict, Verdict::NeedMoreSamples);
        assert!(plain[0].lifecycle.is_none());

        let series: Vec<u64> = (1..=8).collect();
        let created: Vec<Option<u64>> = (0..8)
            .map(|i| Some(i * 250 * MS + 1_800 * MS / 8))
            .collect();
        let snap = traced(&[pool()], vec![site(8, 0, 0, &series, 2 * S)], &created);
        let r = analyze(&[snap], &Options::default()).pop().unwrap();
        let g = &r.groups[0];
        assert_eq!(
            (g.verdict, g.pattern.as_deref()),
            (Verdict::Leak, Some("chan-receive-no-sender")),
            "{g:#?}"
        );
        let ev = g.evidence.join("\n");
        assert!(
            ev.contains(
                "the execution window decides: main.start (main.go:20) is leaking (+4.0/s)"
            ),
            "{ev}"
        );
        assert!(
            ev.contains("8 goroutines: 8 created in the window (from 225 ms to 2.0 s into it)"),
            "{ev}"
        );
        assert!(
            ev.contains("goroutine 100 created 225 ms into the window by main.start in goroutine 12, ran once, blocked in chan receive since 226 ms into it and never woken (1.8 s to the window's end)"),
            "{ev}"
        );
        let lr = r.lifecycle.as_ref().expect("a per-site table");
        assert_eq!(lr.source, "exectrace");
        assert_eq!(lr.window_seconds, 2.0);
        assert_eq!(lr.sites.len(), 1);
        let row = &lr.sites[0];
        assert_eq!((row.born, row.ended, row.alive_at_end), (8, 0, 8));
        assert_eq!(row.verdict, Verdict::Leak);
        assert_eq!(row.groups, vec![g.id.clone()]);
        assert_eq!(row.go_statement.as_ref().unwrap().function, "main.start");
        assert_eq!(row.alive_series.first().unwrap().alive, 0);
        assert_eq!(row.alive_series.len(), 9);
        // A leak found only by the window gets the lifecycle pattern.
        let spin = G::new("running", &[("main.spin", "main.go", 3)])
            .by(("main.start", "main.go", 21))
            .times(8);
        let snap = traced(&[spin], vec![site(8, 0, 0, &series, 2 * S)], &created);
        let g = analyze(&[snap], &Options::default())
            .pop()
            .unwrap()
            .groups
            .remove(0);
        assert_eq!(
            (g.verdict, g.pattern.as_deref()),
            (Verdict::Leak, Some("lifecycle-leak"))
        );
        assert!(g.fix.is_some());
    }

    #[test]
    fn a_steady_site_makes_the_pool_benign_and_an_undecided_window_asks_for_a_longer_one() {
        let mut s = site(500, 500, 8, &[8; 8], 2 * S);
        s.lifetimes = lifetimes(MS);
        let snap = traced(&[pool()], vec![s], &[None; 8]);
        let r = analyze(&[snap], &Options::default()).pop().unwrap();
        let g = &r.groups[0];
        assert_eq!(
            (g.verdict, g.pattern.as_deref()),
            (Verdict::Benign, Some("benign:steady-lifecycle")),
            "{g:#?}"
        );
        assert!(g
            .explanation
            .as_deref()
            .unwrap()
            .contains("ending as they are born"));
        assert!(g
            .evidence
            .iter()
            .any(|e| e == "would otherwise be chan-receive-no-sender"));
        assert!(
            g.evidence.iter().any(|e| e.contains(
                "existed before the window, ran once, blocked in chan receive since 1.0 ms into it"
            )),
            "{:#?}",
            g.evidence
        );

        let snap = traced(&[pool()], vec![site(0, 0, 8, &[8; 8], 2 * S)], &[None; 8]);
        let g = analyze(&[snap], &Options::default())
            .pop()
            .unwrap()
            .groups
            .remove(0);
        assert_eq!(g.verdict, Verdict::NeedMoreSamples);
        assert!(
            g.next_step
                .as_deref()
                .unwrap()
                .contains("take a longer one"),
            "{g:#?}"
        );
        assert!(
            g.evidence
                .iter()
                .any(|e| e.contains("undecided — 8 existed before the 2.0 s window")),
            "{:#?}",
            g.evidence
        );
    }

    #[test]
    fn goroutines_from_before_the_window_are_kin_of_the_leaking_site_that_starts_them() {
        let born = G::new("chan send", &[("main.handle.func1", "main.go", 30)])
            .by(("main.handle", "main.go", 29))
            .creator(40)
            .times(6);
        // Their creation was not seen: no `created by`, only their entry function.
        let before = G::new("chan send", &[("main.handle.func1", "main.go", 30)]).times(8);
        let series: Vec<u64> = (1..=8).map(|i| if i < 3 { 1 } else { i - 2 }).collect();
        let created: Vec<Option<u64>> = (0..6)
            .map(|i| Some(i * 300 * MS))
            .chain([None; 8])
            .collect();
        let sites = vec![site(6, 0, 0, &series, 2 * S), site(0, 0, 8, &[8; 8], 2 * S)];
        let mut snap = traced(&[born, before], sites, &created);
        // The go statement's goroutines run main.handle.func1, as do the older ones.
        let lc = snap.lifecycle.as_mut().unwrap();
        lc.sites[0].entry = lc.sites[1].entry;
        let r = analyze(&[snap], &Options::default()).pop().unwrap();
        // One group (the grouping takes the creator of those that have one); most of its
        // goroutines are the older ones.
        assert_eq!(r.groups.len(), 1, "{:#?}", r.groups);
        let g = &r.groups[0];
        assert_eq!(g.verdict, Verdict::Leak, "{g:#?}");
        let ev = g.evidence.join("\n");
        assert!(
            ev.contains("8 of these 14 goroutines come from site main.handle.func1 (existed before the window) (execution window): leaking — 8 existed before the window and are blocked in chan send like the leaking goroutines of main.handle (main.go:29)"),
            "{ev}"
        );
        assert!(ev.contains("the oldest: goroutine 106 existed before the window, ran once, blocked in chan send since 1.0 ms into it"), "{ev}");
        let lr = r.lifecycle.unwrap();
        assert!(
            lr.sites.iter().all(|s| s.verdict == Verdict::Leak),
            "{lr:#?}"
        );
        assert_eq!(lr.sites[0].go_statement.as_ref().unwrap().line, 29);
        assert!(lr.sites[1].go_statement.is_none());
        // Blocked for another reason, they are not kin.
        let other = G::new("chan receive", &[("main.handle.func1", "main.go", 31)]).times(8);
        let born = G::new("chan send", &[("main.handle.func1", "main.go", 30)])
            .by(("main.handle", "main.go", 29))
            .times(6);
        let sites = vec![site(6, 0, 0, &series, 2 * S), site(0, 0, 8, &[8; 8], 2 * S)];
        let mut snap = traced(&[born, other], sites, &created);
        let lc = snap.lifecycle.as_mut().unwrap();
        lc.sites[0].entry = lc.sites[1].entry;
        let lr = analyze(&[snap], &Options::default())
            .pop()
            .unwrap()
            .lifecycle
            .unwrap();
        assert_eq!(lr.sites[1].verdict, Verdict::NeedMoreSamples, "{lr:#?}");
    }
}
