//! Real traces from `fixtures/go/exectrace_churn`, written by every installed Go release that
//! writes the generation-based format (1.22+): goroscope's per-site counts must equal the
//! program's own counters, and its per-goroutine facts the runtime's own parser's (its
//! `internal/trace` goroutine summaries, what `go tool trace` shows), goroutine by goroutine.
//!
//! Releases that are not installed are skipped with a SKIPPED line; the comparison with the
//! runtime's parser needs Go ≥ 1.27 (the parser that reads every other release's traces).

mod common;

use common::*;
use goroscope_exectrace::{read_path, Analysis, GoState, Options, SiteKey, Version};
use goroscope_model::{Status, WaitReason};
use std::collections::BTreeMap;

fn analyse(trace: &std::path::Path) -> Analysis {
    let opts = Options {
        input: trace.display().to_string(),
        max_ended_lifecycles: usize::MAX,
        ..Options::default()
    };
    read_path(trace, &opts).unwrap_or_else(|e| panic!("{}: {e}", trace.display()))
}

/// goroscope's sites matching a program site: its `go` statement, and (for goroutines that
/// existed before the window) its entry function.
fn counts(a: &Analysis, s: &Site) -> (u64, u64, u64, u64) {
    let mut c = (0, 0, 0, 0);
    for g in &a.sites {
        let hit = match g.key {
            SiteKey::GoStatement(f) => {
                let site = a.snapshot.frame_site(f);
                site.function == s.function && site.line == s.line && site.file.ends_with(&s.file)
            }
            SiteKey::Entry(e) => a.snapshot.str(e) == s.entry,
            SiteKey::Unknown => false,
        };
        if hit {
            c.0 += g.born;
            c.1 += g.ended;
            c.2 += g.alive_at_end;
            c.3 += g.existed_at_start;
        }
    }
    c
}

#[test]
fn per_site_counts_equal_the_programs_counters() {
    for tc in trace_toolchains("per-site counts") {
        let run = churn(&tc, "start", &[]).expect("start mode runs everywhere");
        let a = analyse(&run.trace);
        let ctx = format!("Go {} ({})", tc.version, run.trace.display());
        assert!(
            a.snapshot.warnings.is_empty(),
            "{ctx}: {:?}",
            a.snapshot.warnings
        );
        assert!(
            a.window.generations >= 2,
            "{ctx}: the fixture spans generations"
        );
        assert_eq!(a.window.bytes, run.bytes, "{ctx}: read every byte");
        let unknown = &a.sites[0];
        assert_eq!(unknown.key, SiteKey::Unknown);
        for s in &run.sites {
            let (born, ended, alive, existed) = counts(&a, s);
            if a.window.version == Version::Go122 && s.existed > 0 {
                // Go 1.22 writes no stack with a status event: a goroutine parked since before
                // the window and never woken in it has no known entry (the unknown site).
                assert!(alive + unknown.alive_at_end >= s.alive, "{ctx}: {s:?}");
                assert!(
                    existed + unknown.existed_at_start >= s.existed,
                    "{ctx}: {s:?}"
                );
                continue;
            }
            if s.name == "pre_end" {
                // Released before their first stack is traced: the trace never names their
                // entry, so they count in the unknown site.
                assert_eq!(born + unknown.born, 0, "{ctx}: {s:?}");
                assert_eq!(ended + unknown.ended, s.ended, "{ctx}: {s:?}");
                assert_eq!(
                    existed + unknown.existed_at_start,
                    s.existed,
                    "{ctx}: {s:?}"
                );
                continue;
            }
            assert_eq!(
                (born, ended, alive, existed),
                (s.born, s.ended, s.alive, s.existed),
                "{ctx}: site {} (born, ended, alive, existed)",
                s.name
            );
            if s.born > 0 && s.ended == s.born {
                let g = a
                    .sites
                    .iter()
                    .find(|g| matches!(g.key, SiteKey::GoStatement(f) if a.snapshot.frame_site(f).line == s.line))
                    .unwrap();
                let l = g.lifetimes().expect("lifetimes of ended goroutines");
                assert_eq!(l.count, s.ended, "{ctx}: {}", s.name);
                assert!(l.min_ns <= l.p50_ns && l.p50_ns <= l.p99_ns && l.p99_ns <= l.max_ns);
                let last = g.alive_series.last().expect("a series");
                assert_eq!(
                    last.alive, 0,
                    "{ctx}: {} alive at the end of its series",
                    s.name
                );
            }
        }
        // The snapshot holds the leaked goroutines, as a dump would show them.
        for s in run.sites.iter().filter(|s| s.leak) {
            if a.window.version == Version::Go122 && s.existed > 0 {
                continue; // no stack known (above)
            }
            let gs: Vec<_> = a
                .snapshot
                .goroutines
                .iter()
                .filter(|g| {
                    let st = a.snapshot.stack(g.stack);
                    st.iter().any(|&f| a.snapshot.function(f) == s.entry)
                })
                .collect();
            assert_eq!(
                gs.len() as u64,
                s.alive,
                "{ctx}: {} in the snapshot",
                s.name
            );
            for g in gs {
                assert_eq!(g.status, Status::Waiting, "{ctx}: {} g{}", s.name, g.goid);
                let want = WaitReason::from_text(&s.wait_reason);
                assert_eq!(g.wait_reason, Some(want), "{ctx}: {} g{}", s.name, g.goid);
                assert_eq!(a.snapshot.str(g.state), s.wait_reason);
                if s.born > 0 && s.existed == 0 {
                    let cb = g.created_by.expect("created in the window");
                    let site = a.snapshot.frame_site(cb);
                    assert_eq!((site.function, site.line), (s.function.as_str(), s.line));
                    assert_eq!(
                        g.creator_goid.map(|g| g.0),
                        Some(1),
                        "{ctx}: main created it"
                    );
                }
            }
        }
        assert_eq!(a.snapshot.context, Some(goroscope_model::Context::Live));
        model_agrees(&a, &ctx);
        // Go 1.25+ traces carry the wall clock: the snapshot says when the window ended.
        if a.window.version >= Version::Go125 {
            let at = a.snapshot.taken_at.expect("a clock snapshot");
            let age = std::time::SystemTime::now()
                .duration_since(at)
                .unwrap_or_default();
            assert!(age.as_secs() < 3600, "{ctx}: taken {age:?} ago");
        }
        for site in &a.sites {
            let pts = &site.alive_series;
            assert!(pts.windows(2).all(|w| w[0].at <= w[1].at), "{ctx}");
            assert!(
                pts.iter().all(|p| p.at <= a.window.end && p.alive >= 0),
                "{ctx}"
            );
        }
    }
}

/// The window in the model's terms (`Snapshot::lifecycle`, what the analysis reads) says what
/// the reader's own types say: same sites in the same order, same counts, the snapshot's
/// goroutines with their creation and block times from the window's start.
fn model_agrees(a: &Analysis, ctx: &str) {
    use goroscope_model::lifecycle::SiteKey as M;
    let s = &a.snapshot;
    assert_eq!(s.source.format, goroscope_model::Format::ExecTrace, "{ctx}");
    let lc = s.lifecycle.as_deref().expect("a window");
    lc.validate().unwrap_or_else(|e| panic!("{ctx}: {e}"));
    assert_eq!(
        lc.window_ns,
        (a.window.end - a.window.start) as u64,
        "{ctx}"
    );
    assert_eq!(lc.sites.len(), a.sites.len(), "{ctx}");
    for (m, r) in lc.sites.iter().zip(&a.sites) {
        let key = match r.key {
            SiteKey::GoStatement(f) => M::GoStatement(f),
            SiteKey::Entry(e) => M::Entry(e),
            SiteKey::Unknown => M::Unknown,
        };
        assert_eq!(m.key, key, "{ctx}");
        assert_eq!(
            (m.born, m.ended, m.existed_at_start, m.alive_at_end),
            (r.born, r.ended, r.existed_at_start, r.alive_at_end),
            "{ctx}: {}",
            a.site_name(r)
        );
        assert_eq!(
            m.lifetimes.map(|l| l.p99_ns),
            r.lifetimes().map(|l| l.p99_ns)
        );
        assert_eq!(
            m.alive_series.last().map(|p| p.alive),
            r.alive_series.last().map(|p| p.alive.max(0) as u64),
            "{ctx}"
        );
        let blocked: i64 = r.blocked_ns.iter().map(|(_, n)| n).sum();
        assert_eq!(m.blocked.iter().map(|b| b.ns as i64).sum::<i64>(), blocked);
        assert!(m.blocked.windows(2).all(|w| w[0].ns >= w[1].ns), "{ctx}");
    }
    let goids: Vec<_> = lc.goroutines.iter().map(|g| g.goid).collect();
    let mut want: Vec<_> = s.goroutines.iter().map(|g| g.goid).collect();
    want.sort();
    assert_eq!(
        goids, want,
        "{ctx}: one lifecycle per goroutine of the snapshot"
    );
    for g in &lc.goroutines {
        let l = a.goroutine(g.goid).unwrap();
        assert_eq!(g.site, l.site, "{ctx}");
        assert_eq!(
            g.created.map(|c| c.at_ns as i64 + a.window.start),
            l.created.map(|c| c.at),
            "{ctx}: goroutine {}",
            g.goid
        );
        if l.end.state == GoState::Waiting {
            assert_eq!(
                g.blocked_since_ns.map(|t| t as i64 + a.window.start),
                Some(l.end.since.max(a.window.start)),
                "{ctx}: goroutine {}",
                g.goid
            );
        } else {
            assert_eq!(g.blocked_since_ns, None, "{ctx}");
        }
    }
}

#[test]
fn per_goroutine_facts_equal_the_runtime_parser() {
    let Some(checker) = checker() else { return };
    for tc in trace_toolchains("per-goroutine comparison") {
        let run = churn(&tc, "start", &[]).unwrap();
        compare(&checker, &run.trace, &format!("Go {}", tc.version));
        if let Some(run) = churn(&tc, "flight", &[]) {
            compare(
                &checker,
                &run.trace,
                &format!("Go {} flight recorder", tc.version),
            );
        }
    }
}

fn state_name(s: GoState) -> &'static str {
    match s {
        GoState::Undetermined => "Undetermined",
        GoState::NotExist => "NotExist",
        GoState::Runnable => "Runnable",
        GoState::Running => "Running",
        GoState::Waiting => "Waiting",
        GoState::Syscall => "Syscall",
    }
}

fn compare(checker: &std::path::Path, trace: &std::path::Path, what: &str) {
    let a = analyse(trace);
    let reference = reference(checker, trace);
    let ours: BTreeMap<u64, _> = a.goroutines.iter().map(|l| (l.goid.0, l)).collect();
    eprintln!(
        "{what}: comparing {} goroutines with the runtime parser ({})",
        reference.len(),
        trace.display()
    );
    assert!(
        reference.len() > 100,
        "{what}: the fixture makes goroutines"
    );
    assert_eq!(
        ours.len(),
        reference.len(),
        "{what}: goroutines seen ({})",
        trace.display()
    );
    for r in &reference {
        let ctx = format!("{what}: goroutine {} ({})", r.id, trace.display());
        let l = ours.get(&r.id).unwrap_or_else(|| panic!("{ctx}: missing"));
        let s = &a.snapshot;
        assert_eq!(l.first_seen, r.creation_time, "{ctx}: creation time");
        assert_eq!(l.started.unwrap_or(0), r.start_time, "{ctx}: start time");
        let end = l.ended.or(l.blocked_forever_at).unwrap_or(0);
        assert_eq!(end, r.end_time, "{ctx}: end time");
        assert_eq!(l.exec_ns, r.exec_time, "{ctx}: execution time");
        assert_eq!(l.sched_wait_ns, r.sched_wait_time, "{ctx}: scheduler wait");
        assert_eq!(l.syscall_ns, r.syscall_time, "{ctx}: syscall time");
        assert_eq!(
            l.syscall_block_ns, r.syscall_block_time,
            "{ctx}: syscall blocked"
        );
        assert_eq!(l.runs, r.starts, "{ctx}: times started");
        let mut blocked: BTreeMap<String, i64> = BTreeMap::new();
        for b in &l.blocked {
            *blocked.entry(s.str(b.reason).to_owned()).or_default() += b.total_ns;
        }
        if l.blocked_forever_at.is_some() {
            // The summary ends a goroutine blocked forever; goroscope keeps it blocked.
            blocked.remove("forever");
        } else {
            assert_eq!(l.total_ns(), r.total_time, "{ctx}: total time");
        }
        blocked.retain(|_, v| *v != 0);
        let want: BTreeMap<String, i64> = r
            .block_time_by_reason
            .iter()
            .filter(|(_, v)| **v != 0)
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        assert_eq!(blocked, want, "{ctx}: blocked time by reason");
        if !r.name.is_empty() {
            assert_eq!(
                l.entry_function.map(|f| s.str(f)),
                Some(r.name.as_str()),
                "{ctx}"
            );
        }
        if r.creator != -1 || !r.created_by.is_empty() {
            let c = l
                .created
                .unwrap_or_else(|| panic!("{ctx}: created in the window"));
            assert_eq!(
                c.creator.map_or(-1, |g| g.0 as i64),
                r.creator,
                "{ctx}: creator"
            );
            if !r.created_by.is_empty() {
                let f = c.stack.and_then(|st| s.stack(st).first().copied()).unwrap();
                assert_eq!(
                    (s.function(f), s.frame(f).line),
                    (r.created_by.as_str(), r.created_by_line),
                    "{ctx}: created by"
                );
            }
        }
        if !r.last_state.is_empty() {
            assert_eq!(state_name(l.end.state), r.last_state, "{ctx}: last state");
            if l.end.state == GoState::Waiting {
                assert_eq!(
                    s.str(l.end.reason),
                    r.last_reason,
                    "{ctx}: last block reason"
                );
            }
        }
    }
}

#[test]
fn flight_recorder_snapshots_begin_mid_stream() {
    let mut ran = false;
    for tc in trace_toolchains("flight recorder") {
        let Some(run) = churn(&tc, "flight", &[]) else {
            eprintln!(
                "SKIPPED flight recorder on Go {}: needs Go 1.25+",
                tc.version
            );
            continue;
        };
        ran = true;
        let a = analyse(&run.trace);
        let ctx = format!(
            "Go {} flight recorder ({})",
            tc.version,
            run.trace.display()
        );
        assert!(
            a.snapshot.warnings.is_empty(),
            "{ctx}: {:?}",
            a.snapshot.warnings
        );
        // The window began after the program started churning: goroutines existed before it.
        assert!(
            a.sites.iter().map(|s| s.existed_at_start).sum::<u64>() > 3,
            "{ctx}"
        );
        // Whatever is alive at the end is in the window, wherever it was born.
        for s in run.sites.iter().filter(|s| s.leak) {
            let (_, _, alive, _) = counts(&a, s);
            assert_eq!(alive, s.alive, "{ctx}: {} alive at the end", s.name);
        }
    }
    if !ran {
        eprintln!("SKIPPED flight recorder: no Go release ≥ 1.25 installed");
    }
}

#[test]
fn go121_traces_get_a_clear_error() {
    let Some(tc) = goroscope_fixtures::installed_toolchains()
        .into_iter()
        .find(|t| t.minor() <= 21)
    else {
        eprintln!("SKIPPED old-format error: no Go release ≤ 1.21 under .toolchains");
        return;
    };
    let run = churn(&tc, "start", &[("FIXTURE_SPAN_MS", "10")]).unwrap();
    let err = read_path(&run.trace, &Options::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, goroscope_exectrace::Error::OldFormat(21)),
        "{msg}"
    );
    assert!(
        msg.contains("Go 1.21") && msg.contains("go tool trace"),
        "{msg}"
    );
    let head = std::fs::read(&run.trace).unwrap();
    assert!(goroscope_exectrace::is_exec_trace(&head[..16]));
}

/// Compares any trace with the runtime's parser: `EXECTRACE_TRACE=path cargo test -p
/// goroscope-exectrace --test fixtures -- --ignored given_trace` (for traces of releases not
/// installed here, or from the field).
#[test]
#[ignore = "needs EXECTRACE_TRACE=path"]
fn given_trace_equals_the_runtime_parser() {
    let Ok(path) = std::env::var("EXECTRACE_TRACE") else {
        panic!("set EXECTRACE_TRACE to a trace file");
    };
    let Some(checker) = checker() else { return };
    compare(&checker, path.as_ref(), &path);
}
