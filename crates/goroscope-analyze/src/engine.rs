//! Grouping, state inference, proof and verdicts: one snapshot → one [`Report`].
//!
//! Cost: one hash-map pass over the goroutines keyed by cheap ids (stack, state, creator
//! frame), then everything else once per distinct stack or per group — no string work per
//! goroutine.

use crate::benign;
use crate::config::{glob_match, Level};
use crate::frames::{is_std, stack_facts, Fnv, StackFacts, DEEP_FRAMES, HEAD_FRAMES};
use crate::report::*;
use crate::rules::{self, Ctx, Finding, SnapFacts};
use crate::Options;
use goroscope_model::{
    FrameId, Interner, LabelSetId, ProfileKind, Snapshot, StackId, Status, Sym, WaitReason,
};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;

const MAX_CREATORS: usize = 64;
const MAX_LABEL_SETS: usize = 64;
const MAX_LABEL_VALUES: usize = 20;

/// Accumulated goroutines of one fine key (same stack, state, creator frame).
#[derive(Debug, Clone)]
pub(crate) struct Acc {
    pub stack: StackId,
    pub status: Status,
    pub reason: Option<WaitReason>,
    pub state: Sym,
    pub created_by: Option<FrameId>,
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

type FineKey = (StackId, Status, Option<WaitReason>, Sym, Option<FrameId>);

impl Acc {
    fn new(k: FineKey) -> Self {
        Acc {
            stack: k.0,
            status: k.1,
            reason: k.2,
            state: k.3,
            created_by: k.4,
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
}

/// Groups the goroutines and records of `snap`.
pub(crate) fn group(snap: &Snapshot, sim: Similarity, max_goids: usize) -> Grouped {
    let mut fine: FxHashMap<FineKey, Acc> = FxHashMap::default();
    for g in &snap.goroutines {
        let k = (g.stack, g.status, g.wait_reason, g.state, g.created_by);
        let a = fine.entry(k).or_insert_with(|| Acc::new(k));
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
    for r in &snap.records {
        let k = (r.stack, Status::Unknown, None, Interner::EMPTY, None);
        let a = fine.entry(k).or_insert_with(|| Acc::new(k));
        a.count += r.count;
        if r.labels != Interner::NO_LABELS {
            let mut dummy = false;
            add_capped(&mut a.labels, r.labels, MAX_LABEL_SETS, &mut dummy);
        }
        if snap.source.kind == ProfileKind::GoroutineLeak && !is_unrecorded(snap, r.stack) {
            a.leaked += r.count;
        }
    }

    let mut facts: FxHashMap<StackId, StackFacts> = FxHashMap::default();
    let mut index: FxHashMap<u64, usize> = FxHashMap::default();
    let mut groups: Vec<(u64, Acc)> = Vec::new();
    let mut fine: Vec<Acc> = fine.into_values().collect();
    // Deterministic merge order (representative stacks must not depend on hash order).
    fine.sort_by_key(|a| (std::cmp::Reverse(a.count), a.stack, a.created_by));
    for mut a in fine {
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
            Some(&i) => groups[i].1.merge(&a, max_goids),
            None => {
                index.insert(sig, groups.len());
                groups.push((sig, a));
            }
        }
    }
    // The representative stack may have changed in merges: make sure its facts exist.
    for (_, a) in &groups {
        facts
            .entry(a.stack)
            .or_insert_with(|| stack_facts(snap, a.stack));
    }
    Grouped { groups, facts }
}

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

fn location(snap: &Snapshot, f: FrameId) -> Location {
    let s = snap.frame_site(f);
    Location {
        function: s.function.to_string(),
        file: s.file.to_string(),
        line: s.line,
    }
}

fn snap_facts(snap: &Snapshot, grouped: &Grouped) -> SnapFacts {
    let mut wide = SnapFacts::default();
    let mut accept: FxHashSet<String> = FxHashSet::default();
    for (_, a) in &grouped.groups {
        let f = &grouped.facts[&a.stack];
        let frames = snap.stack(a.stack);
        if a.reason == Some(WaitReason::Select)
            && !f.has_user_frame
            && f.blocking
                .is_some_and(|i| snap.function(frames[i]) == "net/http.(*persistConn).readLoop")
        {
            wide.stuck_read_loops += a.count;
        }
        if a.reason == Some(WaitReason::IoWait)
            && frames.iter().any(|&fr| {
                let n = snap.function(fr);
                n == "net.(*netFD).accept" || glob_match("net.(**Listener).Accept", n)
            })
        {
            for &fr in frames {
                let n = snap.function(fr);
                if !is_std(n) {
                    accept.insert(n.to_string());
                }
            }
        }
    }
    wide.accept_functions = accept.into_iter().collect();
    wide.accept_functions.sort();
    wide
}

struct Decision {
    verdict: Verdict,
    pattern: Option<String>,
    explanation: Option<String>,
    fix: Option<String>,
    evidence: Vec<String>,
    ignored: bool,
}

fn benign_match(cx: &Ctx<'_>) -> Option<&'static benign::Benign> {
    benign::TABLE.iter().find(|b| {
        (!b.std_only || !cx.facts.has_user_frame)
            && (b.states.is_empty() || cx.reason.is_some_and(|r| b.states.contains(&r)))
            && cx.functions().any(|f| glob_match(b.function, f))
    })
}

fn ignored_by(cx: &Ctx<'_>, opts: &Options) -> Option<String> {
    let ig = &opts.config.ignore;
    let top = cx
        .facts
        .first_non_plumbing
        .map(|i| cx.snap.function(cx.stack[i]));
    let very_top = cx.stack.first().map(|&f| cx.snap.function(f));
    for p in &ig.top_function {
        if top.is_some_and(|t| glob_match(p, t)) || very_top.is_some_and(|t| glob_match(p, t)) {
            return Some(format!("ignored by config: top_function \"{p}\""));
        }
    }
    for p in &ig.any_function {
        if cx.functions().any(|f| glob_match(p, f)) {
            return Some(format!("ignored by config: any_function \"{p}\""));
        }
    }
    for p in &ig.created_by {
        if cx.created_by.is_some_and(|c| glob_match(p, c)) {
            return Some(format!("ignored by config: created_by \"{p}\""));
        }
    }
    None
}

fn decide(cx: &Ctx<'_>, opts: &Options, proven: Option<String>, baseline: Option<u64>) -> Decision {
    let mut d = Decision {
        verdict: Verdict::Benign,
        pattern: None,
        explanation: None,
        fix: None,
        evidence: Vec::new(),
        ignored: false,
    };
    // The rules, worst verdict first (ties: rule order).
    let mut best: Option<(&rules::Rule, Finding)> = None;
    for rule in rules::ALL {
        if let Some(f) = (rule.check)(cx) {
            if best
                .as_ref()
                .is_none_or(|(_, b)| f.verdict.rank() > b.verdict.rank())
            {
                best = Some((rule, f));
            }
        }
    }
    if let Some(why) = ignored_by(cx, opts) {
        d.evidence.push(why);
        d.ignored = true;
        if let Some((rule, _)) = &best {
            d.pattern = Some(rule.id.to_string());
        }
        if let Some(p) = proven {
            d.evidence.push(p);
        }
        return d;
    }
    if let Some(p) = proven {
        d.verdict = Verdict::Leak;
        d.evidence.push(p);
        match best {
            Some((rule, f)) => {
                d.pattern = Some(rule.id.to_string());
                d.explanation = Some(f.explanation);
                d.fix = Some(rule.fix.to_string());
                d.evidence.extend(f.evidence);
            }
            None => {
                d.explanation = Some(match cx.reason {
                    Some(r) => format!(
                        "the runtime proved nothing reachable can ever unblock this {}",
                        r.as_str()
                    ),
                    // debug=1 hides the runtime frames that would tell what it waits on.
                    None => {
                        "the runtime proved nothing reachable can ever unblock these goroutines"
                            .into()
                    }
                });
            }
        }
        return d;
    }
    if let Some(b) =
        benign_match(cx).filter(|b| !best.as_ref().is_some_and(|(r, _)| b.unless.contains(&r.id)))
    {
        d.pattern = Some(format!("benign:{}", b.id));
        d.explanation = Some(b.reason.to_string());
        return d;
    }
    let Some((rule, f)) = best else {
        if cx.reason.is_none() && cx.status == Status::Unknown && cx.facts.has_user_frame {
            d.verdict = Verdict::NeedMoreSamples;
            d.evidence.push(
                "the state is unknown in this form (debug=1 hides the runtime frames that tell it); a debug=2 or protobuf dump decides"
                    .into(),
            );
        }
        return d;
    };
    d.verdict = f.verdict;
    d.pattern = Some(rule.id.to_string());
    d.explanation = Some(f.explanation);
    d.fix = Some(rule.fix.to_string());
    d.evidence = f.evidence;
    if let Some(level) = opts.level(rule.id) {
        match level {
            Level::Allow => {
                d.evidence.push(format!("allowed (-A {})", rule.id));
                d.verdict = Verdict::Benign;
                d.ignored = true;
            }
            Level::Warn if d.verdict == Verdict::Leak => {
                d.evidence
                    .push(format!("capped at suspect (-W {})", rule.id));
                d.verdict = Verdict::Suspect;
            }
            Level::Deny
                if d.verdict == Verdict::Suspect || d.verdict == Verdict::NeedMoreSamples =>
            {
                d.evidence
                    .push(format!("promoted to leak (-D {})", rule.id));
                d.verdict = Verdict::Leak;
            }
            _ => {}
        }
    }
    if let Some(b) = baseline {
        if d.verdict != Verdict::Benign && cx.count <= b {
            d.evidence
                .push(format!("in the baseline ({b} goroutines there)"));
            d.verdict = Verdict::Benign;
            d.ignored = true;
        } else if d.verdict != Verdict::Benign {
            d.evidence
                .push(format!("{b} of them already in the baseline"));
        }
    }
    d
}

/// Analyses one snapshot; `proofs` are goroutineleak profiles with their input names.
pub(crate) fn analyze_one(
    snap: &Snapshot,
    opts: &Options,
    proofs: &[(String, ProofSet)],
) -> Report {
    analyze_keyed(snap, opts, proofs).0
}

/// Group id → (grouping key without the state, whether the group's state is unknown), for
/// diff and trend to match a group whose form hides its state ([`Acc::stateless`]) with the
/// groups of the same frames in a form that shows it.
pub(crate) type Keys = FxHashMap<String, (u64, bool)>;

/// [`analyze_one`], with the [`Keys`] of its groups.
pub(crate) fn analyze_keyed(
    snap: &Snapshot,
    opts: &Options,
    proofs: &[(String, ProofSet)],
) -> (Report, Keys) {
    let mut keys = Keys::default();
    let grouped = group(snap, opts.similarity, opts.max_goids);
    let wide = snap_facts(snap, &grouped);
    let is_leak_profile = snap.source.kind == ProfileKind::GoroutineLeak;
    let has_markers = snap.goroutines.iter().any(|g| g.leaked);
    let mut groups = Vec::with_capacity(grouped.groups.len());
    let mut summary = Summary::default();
    for (sig, a) in &grouped.groups {
        let facts = &grouped.facts[&a.stack];
        let frames = snap.stack(a.stack);
        let creators = a.creators.len() + usize::from(a.creators_overflow) * MAX_CREATORS;
        let cx = Ctx {
            snap,
            stack: frames,
            facts,
            status: a.status,
            reason: a.reason,
            count: a.count,
            minutes: a.minutes,
            created_by: a.created_by.map(|c| snap.function(c)),
            creators,
            wide: &wide,
        };
        let mut proven = None;
        if a.leaked > 0 {
            proven = Some(if is_leak_profile {
                format!("listed in the goroutineleak profile {}", snap.source.input)
            } else {
                format!(
                    "{} of {} goroutines marked (leaked) by the runtime",
                    a.leaked, a.count
                )
            });
        } else {
            for (name, set) in proofs {
                let s = |n: u64| if n == 1 { "" } else { "s" };
                match set.find(facts) {
                    Some(ProofMatch::Exact(n)) => {
                        proven = Some(format!(
                            "the goroutineleak profile {name} lists {n} goroutine{} with this stack",
                            s(n)
                        ));
                    }
                    Some(ProofMatch::Head(n)) => {
                        proven = Some(format!(
                            "the goroutineleak profile {name} lists {n} goroutine{} whose innermost {HEAD_FRAMES} frames are these (the stack is too deep to compare whole: {} frames, cut short by the dump or the profile)",
                            s(n),
                            facts.depth
                        ));
                    }
                    None => continue,
                }
                break;
            }
        }
        let id = format!("{sig:016x}");
        keys.insert(id.clone(), (a.loose, a.stateless));
        let baseline = opts.baseline.as_ref().and_then(|b| b.get(&id).copied());
        let is_proven = proven.is_some();
        let mut d = if is_leak_profile && is_unrecorded(snap, a.stack) {
            unrecorded_decision()
        } else {
            decide(&cx, opts, proven, baseline)
        };
        let proof_ran = is_leak_profile || has_markers || !proofs.is_empty();
        if proof_ran && !is_proven && d.verdict != Verdict::Benign {
            d.evidence.push(
                "not proven by the runtime's leak detector: what it waits on is still reachable, or it waits on I/O or timers, which the detector does not judge"
                    .into(),
            );
        }
        summary.ignored += usize::from(d.ignored);
        let group = build_group(snap, a, facts, id, d, is_proven, opts);
        match group.verdict {
            Verdict::Leak => {
                summary.leaks += 1;
                summary.leaked_goroutines += group.count;
                if group.proven {
                    summary.proven_leaks += 1;
                }
            }
            Verdict::Suspect => {
                summary.suspects += 1;
                summary.suspect_goroutines += group.count;
            }
            Verdict::NeedMoreSamples => summary.need_more_samples += 1,
            Verdict::Benign => summary.benign += 1,
        }
        groups.push(group);
    }
    summary.groups = groups.len();
    groups.sort_by(|a, b| {
        b.verdict
            .rank()
            .cmp(&a.verdict.rank())
            .then(b.proven.cmp(&a.proven))
            .then(b.count.cmp(&a.count))
            .then(a.id.cmp(&b.id))
    });
    let proof = if is_leak_profile {
        ProofInfo {
            available: true,
            source: Some(format!("goroutineleak profile {}", snap.source.input)),
        }
    } else if let Some((name, _)) = proofs.first() {
        ProofInfo {
            available: true,
            source: Some(format!("goroutineleak profile {name}")),
        }
    } else if has_markers {
        ProofInfo {
            available: true,
            source: Some("(leaked) markers".into()),
        }
    } else {
        ProofInfo::default()
    };
    let mut warnings: Vec<String> = snap.warnings.iter().map(|w| w.to_string()).collect();
    for (name, set) in proofs {
        if set.unrecorded > 0 {
            warnings.push(format!(
                "the goroutineleak profile {name} counts {} goroutine{} without a stack ({UNRECORDED_WHY}); {} proves nothing",
                set.unrecorded,
                if set.unrecorded == 1 { "" } else { "s" },
                if set.unrecorded == 1 { "it" } else { "they" }
            ));
        }
    }
    let report = Report {
        schema_version: SCHEMA_VERSION,
        source: source_info(snap),
        go_version: snap.go_version.clone(),
        go_version_min: snap.go_version_min.clone(),
        reason: snap.reason.clone(),
        total_goroutines: snap.total_goroutines(),
        warnings,
        grouping: opts.similarity,
        proof,
        summary,
        groups,
    };
    (report, keys)
}

/// Makes the groups of several analyses comparable across forms: where any of them has a
/// group whose state is unknown, every analysis's groups with the same frames (whatever their
/// state) become one group keyed by the frames alone, counts summed. The group shown is the
/// worst (then largest) of those merged; its evidence says what was merged.
pub(crate) fn unify(analyses: Vec<(Report, Keys)>, max_goids: usize) -> Vec<Report> {
    let loose: FxHashSet<u64> = analyses
        .iter()
        .flat_map(|(_, k)| k.values())
        .filter(|(_, stateless)| *stateless)
        .map(|(l, _)| *l)
        .collect();
    analyses
        .into_iter()
        .map(|(mut r, keys)| {
            if loose.is_empty() {
                return r;
            }
            let mut out: Vec<Group> = Vec::with_capacity(r.groups.len());
            let mut merged: FxHashMap<String, (usize, usize)> = FxHashMap::default();
            for mut g in std::mem::take(&mut r.groups) {
                let Some(&(l, _)) = keys.get(&g.id).filter(|(l, _)| loose.contains(l)) else {
                    out.push(g);
                    continue;
                };
                g.id = format!("{l:016x}");
                match merged.get_mut(&g.id) {
                    None => {
                        merged.insert(g.id.clone(), (out.len(), 1));
                        out.push(g);
                    }
                    Some((i, n)) => {
                        *n += 1;
                        let into = &mut out[*i];
                        merge_group(into, g, max_goids);
                    }
                }
            }
            for (i, n) in merged.values() {
                if *n > 1 {
                    out[*i].evidence.push(format!(
                        "{n} groups with these frames in different states counted as one: another snapshot's form does not tell their states apart"
                    ));
                }
            }
            r.groups = out;
            r
        })
        .collect()
}

/// Adds `g` to `into`, keeping the worse (then larger) group's details.
fn merge_group(into: &mut Group, mut g: Group, max_goids: usize) {
    let total = into.count + g.count;
    let g_first = (g.verdict.rank(), g.count) > (into.verdict.rank(), into.count);
    if g_first {
        std::mem::swap(into, &mut g);
    }
    into.count = total;
    into.wait_minutes = match (into.wait_minutes, g.wait_minutes) {
        (Some(a), Some(b)) => Some(MinMax {
            min: a.min.min(b.min),
            max: a.max.max(b.max),
        }),
        (a, b) => a.or(b),
    };
    for x in g.goids {
        if into.goids.len() < max_goids {
            into.goids.push(x);
        } else {
            into.goids_truncated = true;
        }
    }
    into.goids.sort_unstable();
    into.goids_truncated |= g.goids_truncated;
    for (k, vals) in g.labels {
        let mine = into.labels.entry(k).or_default();
        for v in vals {
            if !mine.contains(&v) {
                mine.push(v);
            }
        }
        mine.sort();
    }
    into.proven |= g.proven;
}

/// Why a goroutineleak profile has records without a stack.
const UNRECORDED_WHY: &str =
    "Go 1.27 counts the main goroutine parked in `select {}` among the leaks without recording its stack";

/// The verdict on a goroutineleak profile's record without a stack: not a finding.
fn unrecorded_decision() -> Decision {
    Decision {
        verdict: Verdict::Benign,
        pattern: None,
        explanation: None,
        fix: None,
        evidence: vec![format!(
            "a goroutineleak record without a stack ({UNRECORDED_WHY}): not a finding, and it proves nothing"
        )],
        ignored: false,
    }
}

pub(crate) fn source_info(snap: &Snapshot) -> SourceInfo {
    SourceInfo {
        input: snap.source.input.clone(),
        index: snap.source.index,
        format: snap.source.format.as_str().to_string(),
        kind: match snap.source.kind {
            ProfileKind::Goroutine => "goroutine",
            ProfileKind::GoroutineLeak => "goroutineleak",
        }
        .to_string(),
    }
}

fn build_group(
    snap: &Snapshot,
    a: &Acc,
    facts: &StackFacts,
    id: String,
    d: Decision,
    proven: bool,
    _opts: &Options,
) -> Group {
    let frames = snap.stack(a.stack);
    let mut labels: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for &l in &a.labels {
        for (k, v) in snap.labels(l) {
            let vals = labels.entry(k.to_string()).or_default();
            if vals.len() < MAX_LABEL_VALUES && !vals.iter().any(|x| x == v) {
                vals.push(v.to_string());
            }
        }
    }
    for vals in labels.values_mut() {
        vals.sort();
    }
    let mut creator_goids = a.creators.clone();
    creator_goids.sort_unstable();
    creator_goids.truncate(8);
    let mut goids = a.goids.clone();
    goids.sort_unstable();
    Group {
        id,
        count: a.count,
        status: a.status.as_str().to_string(),
        wait_reason: match a.reason {
            Some(WaitReason::Other) => Some(snap.str(a.state).to_string()),
            Some(r) => Some(r.as_str().to_string()),
            None => None,
        },
        state_inferred: a.inferred,
        wait_minutes: a.minutes.map(|(min, max)| MinMax { min, max }),
        top_frame: frames.first().map(|&f| location(snap, f)),
        blocking_site: facts.blocking.map(|i| location(snap, frames[i])),
        created_by: a.created_by.map(|f| location(snap, f)),
        creator_goids,
        labels,
        stack: frames
            .iter()
            .map(|&f| {
                let s = snap.frame_site(f);
                StackFrame {
                    function: s.function.to_string(),
                    file: s.file.to_string(),
                    line: s.line,
                    inlined: snap.frame(f).inlined,
                }
            })
            .collect(),
        goids,
        goids_truncated: a.goids_truncated,
        verdict: d.verdict,
        pattern: d.pattern,
        proven,
        explanation: d.explanation,
        fix: d.fix,
        evidence: d.evidence,
    }
}
