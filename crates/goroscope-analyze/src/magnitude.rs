//! Magnitude: how many goroutines a blocking site or a creation site holds, across the groups
//! that share it (several stacks may block at one line, or start from one `go` statement).
//! A site past a [`crate::knowledge::MAGNITUDE`] threshold makes its groups at least a suspect
//! in a live service, whatever the form.

use crate::frames::StackFacts;
use crate::group::{Acc, Grouped};
use crate::knowledge::{self, Magnitude};
use goroscope_model::{FrameId, Snapshot, Status};
use rustc_hash::FxHashMap;

/// Goroutine counts per site, over parked goroutines in user code.
#[derive(Debug, Default)]
pub(crate) struct Sites {
    blocking: FxHashMap<FrameId, u64>,
    creation: FxHashMap<FrameId, u64>,
}

fn counted(a: &Acc, f: &StackFacts) -> bool {
    f.has_user_frame
        && !matches!(
            a.status,
            Status::Running | Status::Runnable | Status::Syscall
        )
}

/// Counts the sites of `grouped`.
pub(crate) fn sites(snap: &Snapshot, grouped: &Grouped) -> Sites {
    let mut s = Sites::default();
    for (_, a) in &grouped.groups {
        let f = &grouped.facts[&a.stack];
        if !counted(a, f) {
            continue;
        }
        if let Some(i) = f.blocking {
            *s.blocking.entry(snap.stack(a.stack)[i]).or_default() += a.count;
        }
        if let Some(c) = a.created_by {
            *s.creation.entry(c).or_default() += a.count;
        }
    }
    s
}

impl Sites {
    /// The magnitude rule the group's sites meet: the rule, the site's count, and which site.
    pub(crate) fn magnitude(
        &self,
        snap: &Snapshot,
        a: &Acc,
        f: &StackFacts,
        total: u64,
    ) -> Option<(&'static Magnitude, u64, &'static str)> {
        if !counted(a, f) {
            return None;
        }
        let blocking = f
            .blocking
            .and_then(|i| self.blocking.get(&snap.stack(a.stack)[i]).copied())
            .map(|n| (n, "blocking"));
        let creation = a
            .created_by
            .and_then(|c| self.creation.get(&c).copied())
            .map(|n| (n, "creation"));
        [blocking, creation]
            .into_iter()
            .flatten()
            .filter_map(|(n, which)| knowledge::magnitude(n, total).map(|m| (m, n, which)))
            .max_by_key(|(_, n, _)| *n)
    }
}
