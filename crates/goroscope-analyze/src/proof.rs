//! Runtime proofs: `(leaked)` markers and goroutineleak profiles matched against groups.

use crate::frames::{stack_facts, StackFacts, DEEP_FRAMES};
use goroscope_model::{Snapshot, StackId};
use rustc_hash::FxHashMap;

/// Signature used to match goroutineleak profiles: functions from the first non-plumbing
/// frame outwards, lines and offsets ignored (so debug=2 without runtime frames and protobuf
/// with them agree).
pub(crate) fn proof_signature(f: &StackFacts) -> u64 {
    f.sig_functions
}

/// Whether a stack has no frame with a function name: the record a Go 1.27 goroutineleak
/// profile writes for a goroutine it counts but does not record (main parked in `select {}`).
pub(crate) fn is_unrecorded(snap: &Snapshot, stack: StackId) -> bool {
    snap.stack(stack)
        .iter()
        .all(|&f| snap.function(f).is_empty())
}

/// What a goroutineleak profile proves: its stacks by signature, and separately the deep ones
/// by their innermost frames, since one form may cut a deep stack where another does not (a
/// traceback elides the middle of a 160-deep recursion, a profile keeps the innermost 128
/// program counters), so their whole signatures differ.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProofSet {
    exact: FxHashMap<u64, u64>,
    deep: FxHashMap<u64, u64>,
    /// Goroutines the profile counts without a stack ([`is_unrecorded`]); they prove nothing.
    pub unrecorded: u64,
}

/// How a group matched a proof, with the number of goroutines the profile lists.
pub(crate) enum ProofMatch {
    Exact(u64),
    /// Matched on the innermost [`HEAD_FRAMES`] frames of two deep stacks.
    Head(u64),
}

impl ProofSet {
    pub(crate) fn find(&self, f: &StackFacts) -> Option<ProofMatch> {
        if let Some(&n) = self.exact.get(&proof_signature(f)) {
            return Some(ProofMatch::Exact(n));
        }
        if f.depth >= DEEP_FRAMES {
            return self.deep.get(&f.sig_head).map(|&n| ProofMatch::Head(n));
        }
        None
    }
}

/// The proof set of a goroutineleak profile.
pub(crate) fn proof_set(snap: &Snapshot) -> ProofSet {
    let mut out = ProofSet::default();
    let mut cache: FxHashMap<StackId, Option<(u64, Option<u64>)>> = FxHashMap::default();
    for e in snap.entries() {
        let keys = *cache.entry(e.stack).or_insert_with(|| {
            if is_unrecorded(snap, e.stack) {
                return None;
            }
            let f = stack_facts(snap, e.stack);
            Some((
                proof_signature(&f),
                (f.depth >= DEEP_FRAMES).then_some(f.sig_head),
            ))
        });
        match keys {
            None => out.unrecorded += e.count,
            Some((sig, head)) => {
                *out.exact.entry(sig).or_default() += e.count;
                if let Some(h) = head {
                    *out.deep.entry(h).or_default() += e.count;
                }
            }
        }
    }
    out
}
