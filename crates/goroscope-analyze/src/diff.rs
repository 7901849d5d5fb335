//! `diff BEFORE AFTER`: groups new or grown in AFTER, matched by signature (never by goid).
//!
//! A group whose form hides its state (debug=1) matches the groups of the same frames in the
//! other snapshot whatever their state (they are counted as one), so a debug=1 and a protobuf
//! profile of the same process differ in nothing.
//!
//! A grown group that one snapshot left at `need-more-samples` becomes a `suspect`: the second
//! sample shows growth (several samples, `trend`, tell a leak from a pool warming up).

use crate::engine::{analyze_keyed, source_info, unify};
use crate::report::*;
use crate::Options;
use goroscope_model::Snapshot;
use std::collections::HashMap;

/// Compares two snapshots group by group.
pub fn diff(before: &Snapshot, after: &Snapshot, opts: &Options) -> DiffReport {
    let mut both = unify(
        vec![
            analyze_keyed(before, opts, &[]),
            analyze_keyed(after, opts, &[]),
        ],
        opts.max_goids,
    );
    let a = both.pop().expect("two reports");
    let b = both.pop().expect("two reports");
    let before_by_id: HashMap<&str, &Group> = b.groups.iter().map(|g| (g.id.as_str(), g)).collect();
    let mut seen = std::collections::HashSet::new();
    let mut groups = Vec::new();
    let mut unchanged = 0;
    for g in &a.groups {
        seen.insert(g.id.as_str());
        let bc = before_by_id.get(g.id.as_str()).map_or(0, |x| x.count);
        let change = if bc == 0 {
            Change::New
        } else if g.count > bc {
            Change::Grown
        } else if g.count < bc {
            Change::Shrunk
        } else {
            unchanged += 1;
            continue;
        };
        let mut group = g.clone();
        if change == Change::Grown && group.verdict == Verdict::NeedMoreSamples {
            // The second sample a single live snapshot asked for: it grew.
            group.verdict = Verdict::Suspect;
            group.evidence.push(format!(
                "grew from {bc} to {} between the two dumps: a second sample shows growth (more samples tell a leak from a pool warming up)",
                g.count
            ));
            group.next_step =
                Some("confirm steady growth over several samples (`goroscope trend`)".into());
        }
        groups.push(DiffGroup {
            change,
            before: bc,
            after: g.count,
            delta: g.count as i64 - bc as i64,
            group,
        });
    }
    for g in &b.groups {
        if !seen.contains(g.id.as_str()) {
            groups.push(DiffGroup {
                change: Change::Gone,
                before: g.count,
                after: 0,
                delta: -(g.count as i64),
                group: g.clone(),
            });
        }
    }
    let order = |c: Change| match c {
        Change::New | Change::Grown => 0,
        Change::Shrunk => 1,
        Change::Gone => 2,
        Change::Unchanged => 3,
    };
    groups.sort_by(|x, y| {
        order(x.change)
            .cmp(&order(y.change))
            .then(y.group.verdict.rank().cmp(&x.group.verdict.rank()))
            .then(y.delta.abs().cmp(&x.delta.abs()))
            .then(x.group.id.cmp(&y.group.id))
    });
    DiffReport {
        schema_version: SCHEMA_VERSION,
        before: source_info(before),
        after: source_info(after),
        before_total: before.total_goroutines(),
        after_total: after.total_goroutines(),
        grouping: opts.similarity,
        groups,
        unchanged,
    }
}
