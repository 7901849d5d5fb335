//! Waiting until the goroutines a run disturbed have settled.

use crate::error::CheckError;
use crate::options::SettleOptions;
use crate::probe::Probe;
use crate::process::{pause, Service};
use crate::report::SettledBy;
use goroscope_analyze::frames::is_std;
use goroscope_analyze::{Options, Verdict};
use goroscope_model::Snapshot;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Group id → count of the groups that can still move: those that are not benign, and user
/// goroutines in flight (running or runnable, with a frame or a creator outside the standard
/// library). The standard library's own running goroutines are left out: over HTTP, the
/// goroutine serving the dump and the server side of the previous poll's connection are
/// always there, in whatever state the poll happens to catch them.
pub type Watched = BTreeMap<String, u64>;

/// A settled snapshot.
pub struct Settled {
    pub snapshot: Snapshot,
    pub watched: Watched,
    pub polls: u32,
    pub took: Duration,
    pub by: SettledBy,
}

/// The watched groups of a snapshot.
pub fn watched(snap: &Snapshot, opts: &Options) -> Watched {
    let mut w = Watched::new();
    for r in goroscope_analyze::analyze(std::slice::from_ref(snap), opts) {
        for g in r.groups {
            let user = g.stack.iter().any(|f| !is_std(&f.function))
                || g.created_by.as_ref().is_some_and(|c| !is_std(&c.function));
            let moving = user && matches!(g.status.as_str(), "running" | "runnable");
            if g.verdict != Verdict::Benign || moving {
                *w.entry(g.id).or_default() += g.count;
            }
        }
    }
    w
}

/// Whether every watched group is at or below its baseline count.
fn back_to(baseline: &Watched, now: &Watched) -> bool {
    now.iter()
        .all(|(id, &c)| c <= baseline.get(id).copied().unwrap_or(0))
}

/// Polls `probe` with backoff until the watched groups settle (see [`SettleOptions`]).
/// `service`, when the check started it, must stay alive (`when` names the moment for the
/// error). Up to two failed snapshots in a row are retried; the third is the error.
pub fn settle(
    probe: &mut dyn Probe,
    opts: &Options,
    baseline: Option<&Watched>,
    s: &SettleOptions,
    mut service: Option<&mut Service>,
    when: &str,
) -> Result<Settled, CheckError> {
    let start = Instant::now();
    let mut interval = s.first_interval;
    let mut same: Option<(Instant, u32, Watched)> = None;
    let mut polls = 0;
    let mut failures = 0;
    let mut last: Option<(Snapshot, Watched)> = None;
    loop {
        if let Some(svc) = service.as_deref_mut() {
            svc.check_alive(when)?;
        }
        polls += 1;
        match probe.snapshot() {
            Ok(snap) => {
                failures = 0;
                let w = watched(&snap, opts);
                let now = Instant::now();
                let settled = if baseline.is_some_and(|b| back_to(b, &w)) {
                    Some(SettledBy::Baseline)
                } else {
                    // The run of consecutive polls with these counts: its length and start.
                    match &mut same {
                        Some((first, n, counts)) if *counts == w => {
                            *n += 1;
                            (*n >= s.stable_polls && now.duration_since(*first) >= s.quiet)
                                .then_some(SettledBy::Stable)
                        }
                        _ => {
                            same = Some((now, 1, w.clone()));
                            None
                        }
                    }
                };
                tracing::debug!(
                    "{when}: poll {polls}: {} goroutines, {} watched groups{}",
                    snap.total_goroutines(),
                    w.len(),
                    if settled.is_some() { ", settled" } else { "" }
                );
                if let Some(by) = settled {
                    return Ok(Settled {
                        snapshot: snap,
                        watched: w,
                        polls,
                        took: start.elapsed(),
                        by,
                    });
                }
                last = Some((snap, w));
            }
            Err(e) => {
                failures += 1;
                tracing::info!("{when}: poll {polls} failed: {e}");
                if failures >= 3 {
                    return Err(e);
                }
            }
        }
        if polls >= s.max_polls || start.elapsed() >= s.timeout {
            if let Some((snapshot, watched)) = last {
                return Ok(Settled {
                    snapshot,
                    watched,
                    polls,
                    took: start.elapsed(),
                    by: SettledBy::Deadline,
                });
            }
            // Only failures so far: one more try, then its error.
            return probe.snapshot().map(|snapshot| Settled {
                watched: watched(&snapshot, opts),
                snapshot,
                polls: polls + 1,
                took: start.elapsed(),
                by: SettledBy::Deadline,
            });
        }
        pause(interval)?;
        interval = (interval * 2).min(s.max_interval.max(s.first_interval));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake::{dump, Scripted};

    fn live() -> Options {
        Options {
            context: Some(goroscope_model::Context::Live),
            ..Options::default()
        }
    }

    fn fast() -> SettleOptions {
        SettleOptions {
            first_interval: Duration::from_millis(1),
            max_interval: Duration::from_millis(2),
            quiet: Duration::ZERO,
            ..SettleOptions::default()
        }
    }

    const SEND: &str = "main.audit";

    #[test]
    fn leaked_goroutines_are_watched_and_idle_servers_are_not() {
        let w = watched(&dump(&[(SEND, "chan send", 3)]), &live());
        assert_eq!(w.values().copied().collect::<Vec<_>>(), vec![3], "{w:?}");
        // main in select {} and an accept loop are benign: nothing watched.
        assert!(watched(&dump(&[]), &live()).is_empty());
        // Runnable goroutines are watched whatever their verdict.
        let w = watched(&dump(&[("main.audit", "runnable", 2)]), &live());
        assert_eq!(w.values().sum::<u64>(), 2, "{w:?}");
    }

    #[test]
    fn settles_when_counts_stop_moving() {
        // In flight (runnable), then parked: 1, 3, 3, 3.
        let mut p = Scripted::new(vec![
            dump(&[(SEND, "runnable", 3)]),
            dump(&[(SEND, "chan send", 1), (SEND, "runnable", 2)]),
            dump(&[(SEND, "chan send", 3)]),
            dump(&[(SEND, "chan send", 3)]),
            dump(&[(SEND, "chan send", 3)]),
        ]);
        let s = settle(&mut p, &live(), None, &fast(), None, "run 1").unwrap();
        assert_eq!((s.by, s.polls), (SettledBy::Stable, 5));
        assert_eq!(s.watched.values().sum::<u64>(), 3);
    }

    #[test]
    fn settles_at_once_when_back_to_the_baseline() {
        let base = watched(&dump(&[(SEND, "chan send", 2)]), &live());
        let mut p = Scripted::new(vec![
            dump(&[(SEND, "chan send", 2), (SEND, "runnable", 1)]),
            dump(&[(SEND, "chan send", 2)]),
        ]);
        let s = settle(&mut p, &live(), Some(&base), &fast(), None, "run 1").unwrap();
        assert_eq!((s.by, s.polls), (SettledBy::Baseline, 2));
    }

    #[test]
    fn gives_up_after_the_poll_budget_with_the_last_poll() {
        let snaps: Vec<_> = (1..=30).map(|n| dump(&[(SEND, "chan send", n)])).collect();
        let mut p = Scripted::new(snaps);
        let opts = SettleOptions {
            max_polls: 6,
            ..fast()
        };
        let s = settle(&mut p, &live(), None, &opts, None, "run 1").unwrap();
        assert_eq!((s.by, s.polls), (SettledBy::Deadline, 6));
        assert_eq!(s.watched.values().sum::<u64>(), 6);
    }

    #[test]
    fn the_quiet_span_is_required() {
        let mut p = Scripted::new(vec![dump(&[(SEND, "chan send", 1)])]);
        let opts = SettleOptions {
            quiet: Duration::from_millis(30),
            ..fast()
        };
        let s = settle(&mut p, &live(), None, &opts, None, "run 1").unwrap();
        assert_eq!(s.by, SettledBy::Stable);
        assert!(s.took >= Duration::from_millis(30), "{:?}", s.took);
        assert!(s.polls > 3, "{}", s.polls);
    }

    #[test]
    fn repeated_probe_failures_are_the_error() {
        let mut p = Scripted::new(vec![]);
        let e = settle(&mut p, &live(), None, &fast(), None, "baseline")
            .err()
            .unwrap();
        assert!(e.to_string().contains("no snapshot scripted"), "{e}");
        assert_eq!(p.taken, 3);
    }
}
