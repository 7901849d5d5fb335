//! One snapshot → one [`Report`]: context, grouping ([`crate::group`]), relations
//! ([`crate::relate`]), proof ([`crate::proof`]), verdicts ([`crate::judge`]), and the owned
//! report types built from them.

use crate::config::glob_match;
use crate::frames::{is_std, StackFacts, HEAD_FRAMES};
use crate::group::{group, Acc, Grouped, MAX_CREATORS};
use crate::judge::{self, Decision, Evidence};
use crate::proof::{is_unrecorded, ProofMatch, ProofSet};
use crate::report::*;
use crate::rules::{Ctx, SnapFacts};
use crate::source::Sources;
use crate::{describe, magnitude, relate, Options};
use goroscope_model::{Context, Format, FrameId, ProfileKind, Snapshot, WaitReason};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;

const MAX_LABEL_VALUES: usize = 20;

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
        if frames
            .iter()
            .any(|&fr| snap.function(fr).starts_with("os/signal."))
        {
            wide.signal_loop = true;
        }
        if a.reason == Some(WaitReason::IoWait)
            && !f.has_user_frame
            && frames
                .iter()
                .any(|&fr| snap.function(fr) == "net/http.(*persistConn).readLoop")
        {
            wide.idle_client_conns += a.count;
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

/// The proof of a group, from markers or a goroutineleak profile.
fn group_proof(
    snap: &Snapshot,
    a: &Acc,
    facts: &StackFacts,
    proofs: &[(String, ProofSet)],
) -> Option<String> {
    let is_leak_profile = snap.source.kind == ProfileKind::GoroutineLeak;
    if a.leaked > 0 {
        return Some(if is_leak_profile {
            format!("listed in the goroutineleak profile {}", snap.source.input)
        } else {
            format!(
                "{} of {} goroutines marked (leaked) by the runtime",
                a.leaked, a.count
            )
        });
    }
    for (name, set) in proofs {
        let s = |n: u64| if n == 1 { "" } else { "s" };
        match set.find(facts) {
            Some(ProofMatch::Exact(n)) => {
                return Some(format!(
                    "the goroutineleak profile {name} lists {n} goroutine{} with this stack",
                    s(n)
                ));
            }
            Some(ProofMatch::Head(n)) => {
                return Some(format!(
                    "the goroutineleak profile {name} lists {n} goroutine{} whose innermost {HEAD_FRAMES} frames are these (the stack is too deep to compare whole: {} frames, cut short by the dump or the profile)",
                    s(n),
                    facts.depth
                ));
            }
            None => continue,
        }
    }
    None
}

/// The step that would decide a `need-more-samples` group of this input. `proof_ran`: the
/// runtime's leak detector already looked (and did not prove the group).
fn next_step(snap: &Snapshot, context: Context, proof_ran: bool) -> String {
    let input = &snap.source.input;
    if proof_ran {
        let how = if input.starts_with("http://") || input.starts_with("https://") {
            format!("`goroscope trend {input} --every 1m --samples 5`")
        } else {
            "`goroscope trend THIS LATER`".to_string()
        };
        format!("the runtime's leak detector ran and did not prove it (what it waits on is still reachable): see whether it grows ({how})")
    } else if snap.source.format == Format::ExecTrace {
        "the execution window did not decide it: take a longer one (`goroscope analyze URL --trace 30s`, or trace longer), in which its goroutines are seen ending or piling up".to_string()
    } else if context == Context::Crash {
        "a crash shows one moment: reproduce it and compare two dumps taken a minute apart (`goroscope trend A B`), and dump with GOTRACEBACK=system so the wait objects (channel and lock addresses) show who waits on whom".to_string()
    } else if input.starts_with("http://") || input.starts_with("https://") {
        format!("take a second sample and compare (`goroscope trend {input} --every 1m --samples 5`), or ask the runtime (`goroscope analyze {input} --prove`, Go ≥ 1.26)")
    } else {
        "take a later dump of the same process and compare (`goroscope trend THIS LATER`), or prove it with the goroutineleak profile (`--prove` on the /debug/pprof URL, Go ≥ 1.26)".to_string()
    }
}

/// [`analyze_one`], with the [`Keys`] of its groups.
pub(crate) fn analyze_keyed(
    snap: &Snapshot,
    opts: &Options,
    proofs: &[(String, ProofSet)],
) -> (Report, Keys) {
    let mut keys = Keys::default();
    let (context, context_info) = crate::context::effective(snap, opts.context);
    let grouped = group(snap, opts.similarity, opts.max_goids);
    let wide = snap_facts(snap, &grouped);
    let rel = relate::build(snap, &grouped);
    let mut rel = rel;
    if context == Context::Deadlock {
        rel.stuck = None; // the runtime said so itself
    }
    let rels = describe::relations(snap, &grouped, &rel);
    let is_leak_profile = snap.source.kind == ProfileKind::GoroutineLeak;
    // A profile goroscope wrote (`-o pprof`) carries the proof as a `proof` label.
    let proof_label = snap.records.iter().find_map(|r| {
        snap.labels(r.labels)
            .find(|(k, _)| *k == "proof")
            .map(|(_, v)| v.to_string())
    });
    let has_markers = snap.goroutines.iter().any(|g| g.leaked) || proof_label.is_some();
    let total = snap.total_goroutines();
    let sites = magnitude::sites(snap, &grouped);
    let max_minutes = grouped
        .groups
        .iter()
        .filter_map(|(_, a)| a.minutes.map(|m| m.1))
        .max();
    let sources = Sources::new(opts.source.clone());
    // A window of births and deaths (an execution trace): evidence per group.
    let window = crate::lifecycle::Window::new(snap);
    let lifecycles = window
        .as_ref()
        .map(|w| w.groups(snap, &grouped))
        .unwrap_or_default();
    let step = next_step(
        snap,
        context,
        is_leak_profile || has_markers || !proofs.is_empty(),
    );
    tracing::debug!(
        input = %snap.source.input,
        context = %context,
        why = %context_info.why,
        groups = grouped.groups.len(),
        objects = rel.objects.len(),
        cycles = rel.cycles.len(),
        chains = rel.chains.len(),
        stuck = rel.stuck.is_some(),
        "analysis context and relations"
    );
    let mut groups = Vec::with_capacity(grouped.groups.len());
    let mut summary = Summary::default();
    for (gi, (sig, a)) in grouped.groups.iter().enumerate() {
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
        let proven = group_proof(snap, a, facts, proofs);
        let id = format!("{sig:016x}");
        keys.insert(id.clone(), (a.loose, a.stateless));
        let baseline = opts.baseline.as_ref().and_then(|b| b.get(&id).copied());
        let creators_gone = rel.goids.as_ref().and(if a.creators.is_empty() {
            None
        } else {
            let gone = a
                .creators
                .iter()
                .filter(|&&c| rel.alive(c) == Some(false))
                .count();
            Some((gone, a.creators.len()))
        });
        let source = (facts.has_user_frame && opts.source.enabled)
            .then(|| facts.blocking.map(|i| snap.frame_site(frames[i])))
            .flatten()
            .filter(|s| !s.file.is_empty() && s.line > 0)
            .and_then(|s| sources.facts(s.file, s.line));
        let ev = Evidence {
            context,
            rel: rels.for_group(gi),
            magnitude: sites.magnitude(snap, a, facts, total),
            creators_gone,
            idle_client_conns: wide.idle_client_conns,
            max_minutes,
            source: source.as_ref(),
            next_step: &step,
            lifecycle: lifecycles.get(gi).and_then(Option::as_ref),
        };
        let mut d = if is_leak_profile && is_unrecorded(snap, a.stack) {
            unrecorded_decision()
        } else {
            judge::decide(&cx, &ev, opts, proven, baseline)
        };
        if let Some(l) = ev.lifecycle {
            d.evidence.extend(l.evidence.iter().cloned());
        }
        let proof_ran = is_leak_profile || has_markers || !proofs.is_empty();
        if proof_ran && !d.proven && d.verdict != Verdict::Benign {
            d.evidence.push(
                "not proven by the runtime's leak detector: what it waits on is still reachable, or it waits on I/O or timers, which the detector does not judge"
                    .into(),
            );
        }
        tracing::debug!(
            group = %id,
            count = a.count,
            verdict = %d.verdict,
            pattern = d.pattern.as_deref().unwrap_or("-"),
            evidence = ?d.evidence,
            "group judged"
        );
        summary.ignored += usize::from(d.ignored);
        let group = build_group(snap, a, facts, id, d, opts);
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
            source: Some(match proof_label {
                Some(p) => format!("{p} (carried by the profile's proof labels)"),
                None => "(leaked) markers".into(),
            }),
        }
    } else if context == Context::Deadlock {
        ProofInfo {
            available: true,
            source: Some("the runtime's deadlock detector".into()),
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
    let lifecycle = window.map(|w| {
        let ids: Vec<String> = grouped
            .groups
            .iter()
            .map(|(sig, _)| format!("{sig:016x}"))
            .collect();
        let site_groups: Vec<Vec<String>> = w
            .site_groups(snap, &grouped)
            .into_iter()
            .map(|gs| gs.into_iter().map(|g| ids[g].clone()).collect())
            .collect();
        w.report(snap, &site_groups)
    });
    let report = Report {
        schema_version: SCHEMA_VERSION,
        source: source_info(snap),
        go_version: snap.go_version.clone(),
        go_version_min: snap.go_version_min.clone(),
        reason: snap.reason.clone(),
        context: context_info,
        total_goroutines: total,
        warnings,
        grouping: opts.similarity,
        proof,
        summary,
        relations: rels.into_report(),
        groups,
        lifecycle,
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
    let mut d = Decision::benign();
    d.evidence.push(format!(
        "a goroutineleak record without a stack ({UNRECORDED_WHY}): not a finding, and it proves nothing"
    ));
    d
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

/// Label keys goroscope writes into pprof output (`-o pprof`): facts of its own analysis, not
/// the program's labels, so a profile read back does not show them as such.
pub const OWN_LABELS: &[&str] = &["verdict", "pattern", "proof", "group", "goroutine.state"];

fn build_group(
    snap: &Snapshot,
    a: &Acc,
    facts: &StackFacts,
    id: String,
    d: Decision,
    _opts: &Options,
) -> Group {
    let frames = snap.stack(a.stack);
    let mut labels: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for &l in &a.labels {
        for (k, v) in snap.labels(l) {
            if OWN_LABELS.contains(&k) {
                continue;
            }
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
        proven: d.proven,
        explanation: d.explanation,
        fix: d.fix,
        evidence: d.evidence,
        next_step: d.next_step,
        relations: d.relations,
    }
}
