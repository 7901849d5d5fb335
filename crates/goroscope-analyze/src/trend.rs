//! `trend INPUT...`: per-group growth across ordered snapshots, a Theil–Sen slope and a
//! Mann–Kendall monotonic trend test.
//!
//! A group that grows significantly (Mann–Kendall one-sided p < 0.05, which needs at least 4
//! snapshots, and a positive slope) is a `leak` even when no single snapshot proves it: it
//! "grows with calls". With fewer points, a group growing at every step is `suspect`; a group
//! whose single-snapshot verdict was `need-more-samples` and that stays flat over at least 4
//! snapshots is `benign` (a pool, not a leak).

use crate::engine::{analyze_keyed, source_info, unify};
use crate::report::*;
use crate::Options;
use goroscope_model::Snapshot;
use std::collections::HashMap;
use std::time::UNIX_EPOCH;

/// One-sided significance level of the trend test.
pub const ALPHA: f64 = 0.05;

/// Analyses `snapshots` (in time order) and reports each group's growth.
pub fn trend(snapshots: &[Snapshot], opts: &Options) -> TrendReport {
    // Groups whose state one form hides are matched on their frames, as in `diff`.
    let reports: Vec<Report> = unify(
        snapshots
            .iter()
            .map(|s| analyze_keyed(s, opts, &[]))
            .collect(),
        opts.max_goids,
    );
    let minutes: Option<Vec<f64>> = {
        let ts: Option<Vec<f64>> = snapshots
            .iter()
            .map(|s| {
                s.taken_at
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map(|d| d.as_secs_f64() / 60.0)
            })
            .collect();
        ts.and_then(|t| {
            let t0 = *t.first()?;
            let rel: Vec<f64> = t.iter().map(|x| x - t0).collect();
            // Timestamps must be distinct to serve as the x axis.
            let distinct = rel.windows(2).all(|w| w[1] > w[0]);
            distinct.then_some(rel)
        })
    };
    let xs: Vec<f64> = minutes
        .clone()
        .unwrap_or_else(|| (0..snapshots.len()).map(|i| i as f64).collect());
    let mut order: Vec<String> = Vec::new();
    let mut latest: HashMap<String, Group> = HashMap::new();
    let mut counts: HashMap<String, Vec<u64>> = HashMap::new();
    for (i, r) in reports.iter().enumerate() {
        for g in &r.groups {
            let c = counts.entry(g.id.clone()).or_insert_with(|| {
                order.push(g.id.clone());
                vec![0; reports.len()]
            });
            c[i] = g.count;
            latest.insert(g.id.clone(), g.clone());
        }
    }
    let mut groups: Vec<TrendGroup> = order
        .into_iter()
        .map(|id| {
            let c = counts.remove(&id).unwrap_or_default();
            let group = latest.remove(&id).expect("every id has a group");
            trend_group(&xs, c, group, minutes.is_some())
        })
        .collect();
    // As `analyze` orders: verdict, proven leaks first; then growth, then size.
    groups.sort_by(|a, b| {
        b.verdict
            .rank()
            .cmp(&a.verdict.rank())
            .then(b.group.proven.cmp(&a.group.proven))
            .then(b.growing.cmp(&a.growing))
            .then(b.slope.total_cmp(&a.slope))
            .then(b.counts.last().cmp(&a.counts.last()))
            .then(a.group.id.cmp(&b.group.id))
    });
    TrendReport {
        schema_version: SCHEMA_VERSION,
        sources: snapshots.iter().map(source_info).collect(),
        totals: snapshots.iter().map(|s| s.total_goroutines()).collect(),
        minutes,
        grouping: opts.similarity,
        groups,
        warnings: Vec::new(),
    }
}

fn trend_group(xs: &[f64], counts: Vec<u64>, group: Group, per_minute: bool) -> TrendGroup {
    let ys: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
    let slope = theil_sen(xs, &ys);
    let (s, z, p) = mann_kendall(&ys);
    let n = ys.len();
    let unit = if per_minute { "minute" } else { "snapshot" };
    let mut evidence = Vec::new();
    let strictly_up = n >= 2 && ys.windows(2).all(|w| w[1] > w[0]);
    let flat = ys.windows(2).all(|w| w[1] == w[0]);
    let snap_verdict = group.verdict;
    let significant = n >= 4 && p < ALPHA && slope > 0.0;
    let growing = significant || strictly_up;
    let verdict = if significant {
        evidence.push(format!(
            "grows {slope:.2} goroutines per {unit}; Mann-Kendall S={s}, p={p:.4} over {n} snapshots"
        ));
        Verdict::Leak
    } else if strictly_up && n >= 2 {
        evidence.push(format!(
            "grew at every one of {n} snapshots ({slope:.2} per {unit}), too few to be significant"
        ));
        if n >= 3 {
            Verdict::Suspect.max(snap_verdict)
        } else {
            Verdict::NeedMoreSamples.max(snap_verdict)
        }
    } else if flat && n >= 4 && snap_verdict == Verdict::NeedMoreSamples {
        evidence.push(format!(
            "stable at {} over {n} snapshots: not growing",
            counts[0]
        ));
        Verdict::Benign
    } else {
        if n >= 2 {
            evidence.push(format!(
                "no significant growth (slope {slope:.2} per {unit}, p={p:.3})"
            ));
        }
        snap_verdict
    };
    TrendGroup {
        counts,
        slope,
        slope_per_minute: per_minute,
        mann_kendall_s: s,
        z,
        p_value: p,
        verdict,
        evidence,
        group,
        growing,
    }
}

/// Theil–Sen estimator: the median of the pairwise slopes.
pub fn theil_sen(xs: &[f64], ys: &[f64]) -> f64 {
    let mut slopes = Vec::new();
    for i in 0..ys.len() {
        for j in i + 1..ys.len() {
            let dx = xs[j] - xs[i];
            if dx != 0.0 {
                slopes.push((ys[j] - ys[i]) / dx);
            }
        }
    }
    if slopes.is_empty() {
        return 0.0;
    }
    slopes.sort_by(f64::total_cmp);
    let m = slopes.len();
    if m % 2 == 1 {
        slopes[m / 2]
    } else {
        (slopes[m / 2 - 1] + slopes[m / 2]) / 2.0
    }
}

/// Mann–Kendall test for an increasing trend: (S, Z, one-sided p), with the tie correction
/// and continuity correction of the normal approximation.
pub fn mann_kendall(ys: &[f64]) -> (i64, f64, f64) {
    let n = ys.len();
    if n < 2 {
        return (0, 0.0, 1.0);
    }
    let mut s: i64 = 0;
    for i in 0..n {
        for j in i + 1..n {
            s += (ys[j] - ys[i]).partial_cmp(&0.0).map_or(0, |o| o as i64);
        }
    }
    let mut sorted = ys.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut ties = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && sorted[j + 1] == sorted[i] {
            j += 1;
        }
        let t = (j - i + 1) as f64;
        ties += t * (t - 1.0) * (2.0 * t + 5.0);
        i = j + 1;
    }
    let nf = n as f64;
    let var = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - ties) / 18.0;
    if var <= 0.0 {
        return (s, 0.0, 1.0);
    }
    let z = match s {
        0 => 0.0,
        s if s > 0 => (s as f64 - 1.0) / var.sqrt(),
        s => (s as f64 + 1.0) / var.sqrt(),
    };
    (s, z, 1.0 - normal_cdf(z))
}

/// Standard normal CDF (Abramowitz–Stegun 7.1.26 erf approximation, |error| < 1.5e-7).
fn normal_cdf(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    let erf = if x >= 0.0 { erf } else { -erf };
    0.5 * (1.0 + erf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theil_sen_is_robust_to_an_outlier() {
        let xs = [0.0, 1.0, 2.0, 3.0, 4.0];
        assert_eq!(theil_sen(&xs, &[10.0, 12.0, 14.0, 16.0, 18.0]), 2.0);
        assert_eq!(theil_sen(&xs, &[10.0, 12.0, 500.0, 16.0, 18.0]), 2.0);
        assert_eq!(theil_sen(&[0.0], &[1.0]), 0.0);
    }

    #[test]
    fn mann_kendall_matches_known_values() {
        // n=5 strictly increasing: S=10, var=5*4*15/18=16.67, Z=(10-1)/4.082=2.205, p≈0.0137.
        let (s, z, p) = mann_kendall(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(s, 10);
        assert!((z - 2.2045).abs() < 1e-3, "{z}");
        assert!((p - 0.01374).abs() < 1e-3, "{p}");
        let (s, _, p) = mann_kendall(&[5.0, 5.0, 5.0, 5.0]);
        assert_eq!((s, p), (0, 1.0));
        let (s, _, p) = mann_kendall(&[5.0, 4.0, 3.0, 2.0]);
        assert!(s < 0 && p > 0.9);
        // Three points can never be significant at 5%.
        assert!(mann_kendall(&[1.0, 2.0, 3.0]).2 > ALPHA);
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.96) - 0.975).abs() < 1e-4);
    }
}
