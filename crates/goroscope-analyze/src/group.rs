//! Grouping: goroutines and records → groups by the chosen [`Similarity`], with the state
//! inferred from frames where the format has none.
//!
//! Cost: one hash-map pass over the goroutines keyed by cheap ids (stack, state, creator
//! frame), then everything else once per distinct stack or per group — no string work per
//! goroutine.

use crate::frames::{stack_facts, Fnv, StackFacts};
use crate::proof::is_unrecorded;
use crate::report::Similarity;
use goroscope_model::{
    FrameId, Interner, LabelSetId, ProfileKind, Snapshot, StackId, Status, Sym, WaitReason,
};
use rustc_hash::FxHashMap;

pub(crate) const MAX_CREATORS: usize = 64;
const MAX_LABEL_SETS: usize = 64;

/// Accumulated goroutines of one fine key (same stack, state, creator frame).
#[derive(Debug, Clone)]
pub(crate) struct Acc {
    pub stack: StackId,
    pub status: Status,
    pub reason: Option<WaitReason>,
    pub state: Sym,
    pub created_by: Option<FrameId>,
    /// The `guard.site` label value ([`GUARD_SITE_LABEL`]), or empty.
    pub site: Sym,
    pub count: u64,
    pub minutes: Option<(u32, u32)>,
    pub goids: Vec<u64>,
    pub goids_truncated: bool,
    pub creators: Vec<u64>,
    pub creators_overflow: bool,
    pub labels: Vec<LabelSetId>,
    pub leaked: u64,
    pub inferred: bool,
    /// The grouping key without the state (see [`Keys`]).
    pub loose: u64,
    /// Neither the format nor the frames tell the state (debug=1 hides the runtime frames).
    pub stateless: bool,
}

/// (stack, status, wait reason, state text, creator frame, `guard.site` label value).
type FineKey = (
    StackId,
    Status,
    Option<WaitReason>,
    Sym,
    Option<FrameId>,
    Sym,
);

/// The pprof label the in-process guard (`go/guard`) puts on every goroutine it starts: its
/// value names the guarded site, so goroutines of two sites are never one group even when they
/// block in the same function.
pub const GUARD_SITE_LABEL: &str = "guard.site";

impl Acc {
    fn new(k: FineKey) -> Self {
        Acc {
            stack: k.0,
            status: k.1,
            reason: k.2,
            state: k.3,
            created_by: k.4,
            site: k.5,
            count: 0,
            minutes: None,
            goids: Vec::new(),
            goids_truncated: false,
            creators: Vec::new(),
            creators_overflow: false,
            labels: Vec::new(),
            leaked: 0,
            inferred: false,
            loose: 0,
            stateless: false,
        }
    }

    fn merge(&mut self, o: &Acc, max_goids: usize) {
        if o.count > self.count {
            self.stack = o.stack;
            if o.created_by.is_some() {
                self.created_by = o.created_by;
            }
        }
        if self.created_by.is_none() {
            self.created_by = o.created_by;
        }
        self.count += o.count;
        self.minutes = match (self.minutes, o.minutes) {
            (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
            (a, b) => a.or(b),
        };
        for &g in &o.goids {
            if self.goids.len() < max_goids {
                self.goids.push(g);
            } else {
                self.goids_truncated = true;
            }
        }
        self.goids_truncated |= o.goids_truncated;
        for &c in &o.creators {
            add_capped(
                &mut self.creators,
                c,
                MAX_CREATORS,
                &mut self.creators_overflow,
            );
        }
        self.creators_overflow |= o.creators_overflow;
        let mut dummy = false;
        for &l in &o.labels {
            add_capped(&mut self.labels, l, MAX_LABEL_SETS, &mut dummy);
        }
        self.leaked += o.leaked;
    }
}

fn add_capped<T: PartialEq>(v: &mut Vec<T>, x: T, cap: usize, overflow: &mut bool) {
    if !v.contains(&x) {
        if v.len() < cap {
            v.push(x);
        } else {
            *overflow = true;
        }
    }
}

/// A grouped snapshot, before rules run.
pub(crate) struct Grouped {
    pub groups: Vec<(u64, Acc)>,
    pub facts: FxHashMap<StackId, StackFacts>,
    /// For each of `snap.goroutines`, the index of its group in `groups`.
    pub member: Vec<u32>,
    /// For each of `snap.records`, the index of its group in `groups`.
    pub record_member: Vec<u32>,
}

/// Groups the goroutines and records of `snap`.
pub(crate) fn group(snap: &Snapshot, sim: Similarity, max_goids: usize) -> Grouped {
    let mut fine_index: FxHashMap<FineKey, u32> = FxHashMap::default();
    let mut fine: Vec<Acc> = Vec::new();
    let mut fine_of: Vec<u32> = Vec::with_capacity(snap.goroutines.len());
    let site_key = snap.interner.find_str(GUARD_SITE_LABEL);
    let mut sites: FxHashMap<LabelSetId, Sym> = FxHashMap::default();
    let mut site_of = |l: LabelSetId| -> Sym {
        let Some(key) = site_key else {
            return Interner::EMPTY;
        };
        *sites.entry(l).or_insert_with(|| {
            snap.interner
                .labels(l)
                .iter()
                .find(|(k, _)| *k == key)
                .map_or(Interner::EMPTY, |(_, v)| *v)
        })
    };
    let mut slot = |k: FineKey, fine: &mut Vec<Acc>| -> u32 {
        *fine_index.entry(k).or_insert_with(|| {
            fine.push(Acc::new(k));
            (fine.len() - 1) as u32
        })
    };
    for g in &snap.goroutines {
        let k = (
            g.stack,
            g.status,
            g.wait_reason,
            g.state,
            g.created_by,
            site_of(g.labels),
        );
        let i = slot(k, &mut fine);
        fine_of.push(i);
        let a = &mut fine[i as usize];
        a.count += 1;
        if let Some(m) = g.wait_minutes {
            a.minutes = Some(match a.minutes {
                Some((lo, hi)) => (lo.min(m), hi.max(m)),
                None => (m, m),
            });
        }
        if a.goids.len() < max_goids {
            a.goids.push(g.goid.0);
        } else {
            a.goids_truncated = true;
        }
        if let Some(c) = g.creator_goid {
            add_capped(&mut a.creators, c.0, MAX_CREATORS, &mut a.creators_overflow);
        }
        if g.labels != Interner::NO_LABELS {
            let mut dummy = false;
            add_capped(&mut a.labels, g.labels, MAX_LABEL_SETS, &mut dummy);
        }
        if g.leaked || g.status == Status::Leaked {
            a.leaked += 1;
        }
    }
    let mut record_fine: Vec<u32> = Vec::with_capacity(snap.records.len());
    for r in &snap.records {
        let k = (
            r.stack,
            Status::Unknown,
            None,
            Interner::EMPTY,
            None,
            site_of(r.labels),
        );
        let i = slot(k, &mut fine);
        record_fine.push(i);
        let a = &mut fine[i as usize];
        a.count += r.count;
        if r.labels != Interner::NO_LABELS {
            let mut dummy = false;
            add_capped(&mut a.labels, r.labels, MAX_LABEL_SETS, &mut dummy);
        }
        // A goroutineleak record, or a record goroscope wrote with its `proof` label.
        let proof_label = snap.labels(r.labels).any(|(k, _)| k == "proof");
        if (snap.source.kind == ProfileKind::GoroutineLeak || proof_label)
            && !is_unrecorded(snap, r.stack)
        {
            a.leaked += r.count;
        }
    }

    let mut facts: FxHashMap<StackId, StackFacts> = FxHashMap::default();
    let mut index: FxHashMap<u64, usize> = FxHashMap::default();
    let mut groups: Vec<(u64, Acc)> = Vec::new();
    // Deterministic merge order (representative stacks must not depend on hash order).
    let mut order: Vec<u32> = (0..fine.len() as u32).collect();
    order.sort_by_key(|&i| {
        let a = &fine[i as usize];
        (std::cmp::Reverse(a.count), a.stack, a.created_by)
    });
    let mut group_of_fine = vec![0u32; fine.len()];
    let mut fine: Vec<Option<Acc>> = fine.into_iter().map(Some).collect();
    for i in order {
        let Some(mut a) = fine[i as usize].take() else {
            continue;
        };
        let f = facts
            .entry(a.stack)
            .or_insert_with(|| stack_facts(snap, a.stack));
        // State: the header's when the format has one, else inferred from frames.
        if a.status == Status::Unknown {
            if let Some(r) = f.inferred {
                a.reason = Some(r);
                a.status = Status::Waiting;
                a.inferred = true;
            }
        } else if a.status == Status::Waiting && a.reason == Some(WaitReason::Semacquire) {
            // Before Go 1.25 WaitGroup waits print as `semacquire`; keep the header's word but
            // let the frames refine it.
            if let Some(r @ WaitReason::SyncWaitGroupWait) = f.inferred {
                a.reason = Some(r);
                a.inferred = true;
            }
        }
        let state_text: &str = match a.reason {
            Some(WaitReason::Other) | None if a.state != Interner::EMPTY => snap.str(a.state),
            Some(r) => r.as_str(),
            None => a.status.as_str(),
        };
        let created = a.created_by.map(|c| snap.function(c)).unwrap_or("");
        let mut h = Fnv::new().str(sim.as_str());
        h = match sim {
            Similarity::ExactStack => h.u64(f.sig_exact).str(created),
            // Not the creator: debug=1/protobuf have none, and the stack's outermost frame
            // already names the goroutine's function; the creator is kept as a fact.
            Similarity::IgnoreLines => h.u64(f.sig_functions),
            Similarity::BlockingSite => h.u64(f.sig_blocking),
            Similarity::CreationSite => {
                if created.is_empty() {
                    h.u64(f.sig_functions)
                } else {
                    h.str(created)
                }
            }
        };
        if a.site != Interner::EMPTY {
            h = h.str(GUARD_SITE_LABEL).str(snap.str(a.site));
        }
        // When nothing tells the state, the key is the frames alone: a debug=1 profile then
        // keys a plain receive as the protobuf profile of the same process does, but for the
        // state, and diff/trend match the two on the frames (see `Keys`).
        a.loose = h.0;
        a.stateless =
            a.status == Status::Unknown && a.reason.is_none() && a.state == Interner::EMPTY;
        let sig = if a.stateless {
            h.0
        } else {
            h.str(state_text).0
        };
        match index.get(&sig) {
            Some(&g) => {
                groups[g].1.merge(&a, max_goids);
                group_of_fine[i as usize] = g as u32;
            }
            None => {
                index.insert(sig, groups.len());
                group_of_fine[i as usize] = groups.len() as u32;
                groups.push((sig, a));
            }
        }
    }
    let member = fine_of
        .into_iter()
        .map(|f| group_of_fine[f as usize])
        .collect();
    let record_member = record_fine
        .into_iter()
        .map(|f| group_of_fine[f as usize])
        .collect();
    // The representative stack may have changed in merges: make sure its facts exist.
    for (_, a) in &groups {
        facts
            .entry(a.stack)
            .or_insert_with(|| stack_facts(snap, a.stack));
    }
    Grouped {
        groups,
        facts,
        member,
        record_member,
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testkit::*;

    #[test]
    fn guarded_sites_are_groups_of_their_own() {
        let st = [("main.worker", "main.go", 9)];
        let r = report(&[
            G::new("chan receive", &st)
                .label("guard.site", "orders")
                .times(3),
            G::new("chan receive", &st)
                .label("guard.site", "payments")
                .times(2),
            // Request labels do not split groups; the guard's site does.
            G::new("chan receive", &st)
                .label("guard.site", "orders")
                .label("request", "r1"),
        ]);
        let mut counts: Vec<(u64, Vec<String>)> = r
            .groups
            .iter()
            .map(|g| (g.count, g.labels["guard.site"].clone()))
            .collect();
        counts.sort();
        assert_eq!(
            counts,
            vec![
                (2, vec!["payments".to_string()]),
                (4, vec!["orders".to_string()])
            ]
        );
        // Without the label, one group as before.
        let r = report(&[G::new("chan receive", &st).times(3)]);
        assert_eq!(r.groups.len(), 1);
    }
}
