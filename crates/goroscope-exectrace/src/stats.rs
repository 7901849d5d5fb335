//! Bounded summaries: a log-linear histogram for lifetimes, an alive-count series.

use std::collections::BTreeMap;

/// Sub-buckets per power of two: values land in buckets no wider than 1/64 of their value.
const SUB: u32 = 64;
const SUB_BITS: u32 = 6;

fn bucket(v: u64) -> u16 {
    if v < SUB as u64 {
        return v as u16;
    }
    let exp = 63 - v.leading_zeros(); // ≥ SUB_BITS
    let mant = (v >> (exp - SUB_BITS)) as u32 & (SUB - 1);
    ((exp - SUB_BITS + 1) * SUB + mant) as u16
}

/// The smallest and largest value of a bucket.
fn bounds(b: u16) -> (u64, u64) {
    let b = b as u32;
    if b < SUB {
        return (b as u64, b as u64);
    }
    let exp = b / SUB + SUB_BITS - 1;
    let mant = (b % SUB) as u64;
    let lo = (1u64 << exp) | (mant << (exp - SUB_BITS));
    let hi = lo + ((1u64 << (exp - SUB_BITS)) - 1);
    (lo, hi)
}

/// Durations in nanoseconds, with percentiles within 1/64 (1.6 %) of the true value; the
/// count, sum, minimum and maximum are exact. Memory is bounded (at most ~3,800 buckets, and
/// only the ones used).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    counts: BTreeMap<u16, u64>,
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl Histogram {
    pub fn record(&mut self, v: u64) {
        *self.counts.entry(bucket(v)).or_insert(0) += 1;
        if self.count == 0 || v < self.min {
            self.min = v;
        }
        self.max = self.max.max(v);
        self.count += 1;
        self.sum += v as u128;
    }

    pub fn count(&self) -> u64 {
        self.count
    }
    pub fn min(&self) -> Option<u64> {
        (self.count > 0).then_some(self.min)
    }
    pub fn max(&self) -> Option<u64> {
        (self.count > 0).then_some(self.max)
    }
    pub fn mean(&self) -> Option<u64> {
        (self.count > 0).then(|| (self.sum / self.count as u128) as u64)
    }

    /// The value below which a fraction `q` (0–1) of the values lie: the `ceil(q·n)`-th
    /// smallest, to within its bucket (the bucket's midpoint, clamped to the exact extremes).
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (&b, &n) in &self.counts {
            seen += n;
            if seen >= rank {
                let (lo, hi) = bounds(b);
                return Some((lo + (hi - lo) / 2).clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }
}

/// Alive counts over a window, in at most `cap` equal buckets: the width doubles (pairs of
/// buckets merge) whenever the window outgrows them, so memory stays bounded whatever its
/// length. Kept as changes per bucket so that a goroutine whose site is learnt late can be
/// counted from the start.
#[derive(Debug, Clone, Default)]
pub(crate) struct Series {
    pub initial: i64,
    pub deltas: Vec<i64>,
}

/// The shared bucket grid of all series.
#[derive(Debug, Clone)]
pub(crate) struct Grid {
    pub start: i64,
    pub width: i64,
    pub cap: usize,
}

impl Grid {
    pub fn new(cap: usize) -> Grid {
        Grid {
            start: 0,
            width: 1_000_000, // 1 ms to begin with
            cap: cap.max(2),
        }
    }

    /// The bucket of time `t`, or `None` when the grid must grow first.
    pub fn index(&self, t: i64) -> Option<usize> {
        let i = (t.saturating_sub(self.start).max(0) / self.width) as usize;
        (i < self.cap).then_some(i)
    }
}

impl Series {
    pub fn add(&mut self, idx: usize, d: i64) {
        if self.deltas.len() <= idx {
            self.deltas.resize(idx + 1, 0);
        }
        self.deltas[idx] += d;
    }

    /// Merges pairs of buckets (the grid's width doubled).
    pub fn halve(&mut self) {
        let merged: Vec<i64> = self.deltas.chunks(2).map(|c| c.iter().sum()).collect();
        self.deltas = merged;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_values() {
        for v in [
            0u64,
            1,
            63,
            64,
            65,
            127,
            128,
            1000,
            123_456_789,
            u64::MAX / 3,
            u64::MAX,
        ] {
            let (lo, hi) = bounds(bucket(v));
            assert!(lo <= v && v <= hi, "{v}: {lo}..{hi}");
            assert!(hi - lo <= v / 64 + 1, "{v}: {lo}..{hi}");
        }
        let mut last = 0;
        for v in (0..100_000u64).step_by(7) {
            let b = bucket(v);
            assert!(b >= last);
            last = b;
        }
    }

    #[test]
    fn quantiles_are_close() {
        let mut h = Histogram::default();
        for v in 1..=10_000u64 {
            h.record(v * 1000);
        }
        assert_eq!(h.count(), 10_000);
        assert_eq!(h.min(), Some(1000));
        assert_eq!(h.max(), Some(10_000_000));
        assert_eq!(h.mean(), Some(5_000_500));
        for (q, want) in [(0.5, 5_000_000f64), (0.9, 9_000_000.0), (0.99, 9_900_000.0)] {
            let got = h.quantile(q).unwrap() as f64;
            assert!((got - want).abs() / want < 0.02, "q{q}: {got} vs {want}");
        }
        assert_eq!(Histogram::default().quantile(0.5), None);
    }

    #[test]
    fn series_halves() {
        let mut s = Series::default();
        s.add(0, 1);
        s.add(3, 2);
        s.add(4, -1);
        s.halve();
        assert_eq!(s.deltas, vec![1, 2, -1]);
    }
}
