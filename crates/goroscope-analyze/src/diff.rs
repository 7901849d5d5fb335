//! `diff BEFORE AFTER`: groups new or grown in AFTER, matched by signature (never by goid).

use crate::engine::{analyze_one, source_info};
use crate::report::*;
use crate::Options;
use goroscope_model::Snapshot;
use std::collections::HashMap;

/// Compares two snapshots group by group.
pub fn diff(before: &Snapshot, after: &Snapshot, opts: &Options) -> DiffReport {
    let b = analyze_one(before, opts, &[]);
    let a = analyze_one(after, opts, &[]);
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
        groups.push(DiffGroup {
            change,
            before: bc,
            after: g.count,
            delta: g.count as i64 - bc as i64,
            group: g.clone(),
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
