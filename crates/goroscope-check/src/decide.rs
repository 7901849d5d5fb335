//! From settled snapshots (the baseline, then one per run) to outcomes per group.
//!
//! Every snapshot is analysed in the `live` context with the user's ignore rules and the
//! built-in benign knowledge; benign groups never count. For the others:
//!
//! * one run: a group with more goroutines than at the baseline is a leak (one run cannot tell
//!   warm-up from a leak; the report says so);
//! * two or three runs: a group is a leak when it grew at every run from run 1 to run N (what
//!   run 1 added over the baseline is warm-up and does not count);
//! * four runs or more: a group is a leak when its counts over runs 1..N trend up
//!   (Mann–Kendall one-sided p < [`SIGNIFICANCE`] and a positive Theil–Sen slope), which
//!   tolerates a run that added nothing;
//! * with two runs or more, a group that is above its baseline count after the last run and is
//!   a `leak` by its own evidence (nil channel, `select {}`, a runtime proof) is a leak even
//!   if it did not grow after run 1;
//! * otherwise a group that grew in run 1 and never dropped after it is warm-up, one below its
//!   baseline after the last run shrank, and any other change is unsteady.

use crate::report::{CheckGroup, CheckSummary, Outcome};
use goroscope_analyze::{Options, TrendGroup, Verdict};
use goroscope_model::Snapshot;
use std::collections::HashMap;

/// One-sided significance level of the growth test over four runs or more.
pub const SIGNIFICANCE: f64 = 0.05;

/// What the decision found.
pub struct Decision {
    pub groups: Vec<CheckGroup>,
    pub summary: CheckSummary,
}

/// `snaps[0]` is the baseline, `snaps[i]` the state after run `i`.
pub fn decide(snaps: &[Snapshot], opts: &Options, requests: Option<u64>) -> Decision {
    let runs = snaps.len().saturating_sub(1);
    // Runs are the x axis, not minutes: drop the timestamps.
    let points: Vec<Snapshot> = snaps
        .iter()
        .map(|s| {
            let mut s = s.clone();
            s.taken_at = None;
            s
        })
        .collect();
    let all = goroscope_analyze::trend(&points, opts);
    let stats: HashMap<String, TrendGroup> = if runs >= 2 {
        goroscope_analyze::trend(&points[1..], opts)
            .groups
            .into_iter()
            .map(|g| (g.group.id.clone(), g))
            .collect()
    } else {
        HashMap::new()
    };
    let mut summary = CheckSummary::default();
    let mut groups = Vec::new();
    for tg in all.groups {
        let counts = tg.counts;
        let group = tg.group;
        if group.verdict == Verdict::Benign {
            summary.benign += 1;
            continue;
        }
        if counts.iter().all(|&c| c == counts[0]) {
            summary.unchanged += 1;
            continue;
        }
        let (outcome, why, growth, p) = classify(&counts, stats.get(&group.id), group.verdict);
        let since_baseline = counts[runs] as i64 - counts[0] as i64;
        match outcome {
            Outcome::Leak => {
                summary.leaks += 1;
                summary.leaked_goroutines += since_baseline.max(0) as u64;
            }
            Outcome::WarmUp => summary.warm_up += 1,
            Outcome::Unsteady => summary.unsteady += 1,
            Outcome::Shrank => summary.shrank += 1,
        }
        groups.push(CheckGroup {
            id: group.id.clone(),
            outcome,
            counts,
            since_baseline,
            growth_per_run: growth,
            growth_per_request: growth.zip(requests).map(|(g, r)| g / r as f64),
            p_value: p,
            why,
            group,
        });
    }
    let rank = |o: Outcome| match o {
        Outcome::Leak => 0,
        Outcome::WarmUp => 1,
        Outcome::Unsteady => 2,
        Outcome::Shrank => 3,
    };
    groups.sort_by(|a, b| {
        rank(a.outcome)
            .cmp(&rank(b.outcome))
            .then(
                b.growth_per_run
                    .unwrap_or(0.0)
                    .total_cmp(&a.growth_per_run.unwrap_or(0.0)),
            )
            .then(b.since_baseline.cmp(&a.since_baseline))
            .then(a.id.cmp(&b.id))
    });
    Decision { groups, summary }
}

/// `(outcome, why, growth per run, p-value)` of one group's counts (baseline first).
fn classify(
    counts: &[u64],
    stats: Option<&TrendGroup>,
    verdict: Verdict,
) -> (Outcome, String, Option<f64>, Option<f64>) {
    let runs = counts.len() - 1;
    let (base, first, last) = (counts[0], counts[1], counts[runs]);
    let series = arrows(counts);
    if runs == 1 {
        if last > base {
            let why = if base == 0 {
                format!("new since the baseline ({series}) after one run")
            } else {
                format!("grew since the baseline ({series}) after one run")
            };
            return (Outcome::Leak, why, Some((last - base) as f64), None);
        }
        return (
            Outcome::Shrank,
            format!("fewer than at the baseline ({series})"),
            None,
            None,
        );
    }
    let after = &counts[1..];
    let p = stats.map(|s| s.p_value);
    let slope = stats.map_or(0.0, |s| s.slope);
    let steady = if runs < 4 {
        after.windows(2).all(|w| w[1] > w[0])
    } else {
        p.is_some_and(|p| p < SIGNIFICANCE) && slope > 0.0
    };
    if steady {
        let why = if runs < 4 {
            format!(
                "grew at every run from run 1 to run {runs} ({series}; baseline first), {} per run",
                rate(slope)
            )
        } else {
            format!(
                "grows with the runs ({series}; baseline first): {} per run from run 1 to run {runs} (Theil–Sen), Mann–Kendall p = {:.4}",
                rate(slope),
                p.unwrap_or(1.0)
            )
        };
        return (Outcome::Leak, why, Some(slope), p);
    }
    if last > base && verdict == Verdict::Leak {
        return (
            Outcome::Leak,
            format!(
                "left behind since the baseline ({series}) and a leak by its own evidence, growing or not"
            ),
            None,
            p,
        );
    }
    if first > base && after.windows(2).all(|w| w[1] >= w[0]) {
        return (
            Outcome::WarmUp,
            format!(
                "appeared in run 1 ({series}; baseline first) and did not grow with the runs after it: warm-up (a pool, a cache, keep-alive connections), not a leak"
            ),
            None,
            p,
        );
    }
    if last < base {
        return (
            Outcome::Shrank,
            format!("fewer than at the baseline after the last run ({series})"),
            None,
            p,
        );
    }
    (
        Outcome::Unsteady,
        format!("changed between runs without growing steadily ({series}; baseline first)"),
        None,
        p,
    )
}

/// `0 → 5 → 10`.
pub fn arrows(counts: &[u64]) -> String {
    counts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(" → ")
}

/// A growth rate for people: `+5.0`, `+0.5`, `+0.33`.
pub fn rate(x: f64) -> String {
    let s = if ((x * 10.0).round() - x * 10.0).abs() < 1e-9 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    };
    if x > 0.0 {
        format!("+{s}")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::fake::dump;

    fn live() -> Options {
        Options {
            context: Some(goroscope_model::Context::Live),
            ..Options::default()
        }
    }

    const LEAK: (&str, &str) = ("main.audit", "chan send");
    const POOL: (&str, &str) = ("main.worker", "chan receive");

    fn series(leak: &[u64], pool: &[u64]) -> Vec<Snapshot> {
        leak.iter()
            .zip(pool)
            .map(|(&l, &p)| dump(&[(LEAK.0, LEAK.1, l), (POOL.0, POOL.1, p)]))
            .collect()
    }

    fn outcome(d: &Decision, func: &str) -> Option<Outcome> {
        d.groups
            .iter()
            .find(|g| {
                g.group
                    .blocking_site
                    .as_ref()
                    .is_some_and(|s| s.function == func)
            })
            .map(|g| g.outcome)
    }

    #[test]
    fn growth_with_the_runs_is_a_leak_and_warm_up_is_not() {
        let d = decide(&series(&[0, 5, 10, 15], &[0, 4, 4, 4]), &live(), Some(5));
        assert_eq!(outcome(&d, "main.audit"), Some(Outcome::Leak));
        assert_eq!(outcome(&d, "main.worker"), Some(Outcome::WarmUp));
        let leak = &d.groups[0];
        assert_eq!(leak.counts, vec![0, 5, 10, 15]);
        assert_eq!(leak.growth_per_run, Some(5.0));
        assert_eq!(leak.growth_per_request, Some(1.0));
        assert_eq!(leak.since_baseline, 15);
        assert!(leak.why.contains("grew at every run"), "{}", leak.why);
        assert_eq!((d.summary.leaks, d.summary.leaked_goroutines), (1, 15));
        assert_eq!(d.summary.warm_up, 1);
        assert!(d.summary.benign >= 2, "{:?}", d.summary);
    }

    #[test]
    fn with_fewer_than_four_runs_growth_must_be_at_every_run() {
        let d = decide(&series(&[0, 5, 5, 6], &[0, 4, 4, 4]), &live(), None);
        assert_eq!(outcome(&d, "main.audit"), Some(Outcome::WarmUp));
        let d = decide(&series(&[0, 3, 4], &[4, 4, 4]), &live(), None);
        assert_eq!(outcome(&d, "main.audit"), Some(Outcome::Leak));
        assert_eq!(d.groups[0].growth_per_run, Some(1.0));
    }

    #[test]
    fn with_four_runs_or_more_a_trend_test_decides() {
        // A run without growth does not clear a steady trend…
        let d = decide(&series(&[0, 3, 6, 9, 12, 12], &[0; 6]), &live(), Some(6));
        let g = &d.groups[0];
        assert_eq!(g.outcome, Outcome::Leak, "{}", g.why);
        assert!(g.p_value.unwrap() < SIGNIFICANCE);
        assert_eq!(g.growth_per_run, Some(3.0));
        assert_eq!(g.growth_per_request, Some(0.5));
        // …and a group that settles after warming up over two runs is not a leak.
        let d = decide(&series(&[0, 1, 2, 2, 2, 2], &[0; 6]), &live(), None);
        assert_eq!(d.groups[0].outcome, Outcome::WarmUp, "{}", d.groups[0].why);
        // Noise around a level is not growth.
        let d = decide(&series(&[2, 3, 2, 3, 2, 3], &[0; 6]), &live(), None);
        assert_eq!(
            d.groups[0].outcome,
            Outcome::Unsteady,
            "{}",
            d.groups[0].why
        );
        let d = decide(&series(&[5, 4, 3, 3, 2, 2], &[0; 6]), &live(), None);
        assert_eq!(d.groups[0].outcome, Outcome::Shrank, "{}", d.groups[0].why);
    }

    #[test]
    fn one_run_counts_everything_new() {
        let d = decide(&series(&[0, 5], &[0, 4]), &live(), Some(5));
        assert_eq!(outcome(&d, "main.audit"), Some(Outcome::Leak));
        assert_eq!(outcome(&d, "main.worker"), Some(Outcome::Leak));
        assert_eq!(d.groups[0].growth_per_request, Some(1.0));
        assert!(d.groups[0].why.contains("new since the baseline (0 → 5)"));
    }

    #[test]
    fn a_leak_by_its_own_evidence_fails_even_without_growth() {
        let snaps: Vec<_> = [0u64, 1, 1, 1]
            .iter()
            .map(|&n| dump(&[("main.stuck", "chan receive (nil chan)", n)]))
            .collect();
        let d = decide(&snaps, &live(), None);
        assert_eq!(d.groups[0].outcome, Outcome::Leak, "{}", d.groups[0].why);
        assert!(d.groups[0].why.contains("own evidence"));
    }

    #[test]
    fn ignore_rules_apply() {
        let mut opts = live();
        opts.config =
            goroscope_analyze::Config::from_toml_str("[ignore]\ntop_function = [\"main.audit\"]\n")
                .unwrap();
        let d = decide(&series(&[0, 5, 10, 15], &[0; 4]), &opts, None);
        assert!(d.groups.is_empty(), "{:?}", d.groups);
        assert_eq!(d.summary.leaks, 0);
    }

    #[test]
    fn rates_read_well() {
        assert_eq!(rate(1.0), "+1.0");
        assert_eq!(rate(0.5), "+0.5");
        assert_eq!(rate(1.0 / 3.0), "+0.33");
        assert_eq!(rate(0.0), "0.0");
        assert_eq!(arrows(&[0, 5, 10]), "0 → 5 → 10");
    }
}
