//! The tracer's counts per creation site equal the program's own: `trace_churn` counts its
//! births and deaths per `go` statement, goroscope traces it, on every installed Go release,
//! plain and stripped (and a stripped PIE on the newest). Needs the `ebpf` feature and root (or
//! CAP_BPF + CAP_PERFMON); without them each test says SKIPPED and why.
#![cfg(feature = "ebpf")]

mod common;

use common::*;
use goroscope_fixtures::{toolchains, BuildOptions, Toolchain};
use goroscope_trace::state::{SiteKey, State};
use goroscope_trace::{TraceOptions, Tracer};

/// The tracer's (born, ended, existed at start, live) for a program site.
fn counts(st: &State, s: &Site) -> Option<(u64, u64, u64, u64)> {
    st.sites
        .iter()
        .find(|x| match &x.key {
            SiteKey::GoStatement {
                function,
                file,
                line,
            } => *function == s.function && *line == s.line && file.ends_with(&s.file),
            SiteKey::Unknown => false,
        })
        .map(|x| (x.born, x.ended, x.existed_at_start, x.live))
}

fn trace_once(tc: &Toolchain, build: BuildOptions, env: &[(&str, &str)]) -> (Result, State) {
    let mut churn = Churn::start(tc, build, env);
    let tracer = Tracer::start(churn.pid(), &TraceOptions::default())
        .unwrap_or_else(|e| panic!("go {}: {e}", tc.version));
    let result = churn.run();
    let outcome = tracer.stop().expect("stop");
    assert!(!outcome.target_exited);
    (result, outcome.state)
}

#[test]
fn per_site_counts_equal_the_programs_own() {
    if let Some(why) = cannot_trace() {
        eprintln!("SKIPPED per_site_counts_equal_the_programs_own: {why}");
        return;
    }
    let all = toolchains();
    let newest = all.last().cloned();
    for tc in &all {
        let mut builds = vec![
            BuildOptions::default(),
            BuildOptions {
                stripped: true,
                ..Default::default()
            },
        ];
        if Some(tc) == newest.as_ref() {
            builds.push(BuildOptions {
                stripped: true,
                pie: true,
                ..Default::default()
            });
        }
        for build in builds {
            let (r, st) = trace_once(tc, build, &[("FIXTURE_SPAN_MS", "600")]);
            let ctx = format!("go {} {}", tc.version, build.suffix());
            assert_eq!(st.counters.lost(), 0, "{ctx}: {:?}", st.counters);
            assert_eq!(st.counters.other, 0, "{ctx}: hits from other processes");
            for s in &r.sites {
                let got = counts(&st, s).unwrap_or_else(|| {
                    panic!(
                        "{ctx}: site {} ({} {}:{}) not seen; sites: {:?}",
                        s.name,
                        s.function,
                        s.file,
                        s.line,
                        st.sites
                            .iter()
                            .map(|x| x.key.to_string())
                            .collect::<Vec<_>>()
                    )
                });
                assert_eq!(
                    got,
                    (s.born, s.ended, s.existed, s.alive),
                    "{ctx}: site {} (born, ended, existed, live) vs the program's",
                    s.name
                );
            }
            let worker = r.sites.iter().find(|s| s.name == "worker").unwrap();
            assert!(worker.born > 1000, "{ctx}: churned {}", worker.born);
            eprintln!(
                "{ctx}: {} events, {} sites, worker born {} ended {}",
                st.events,
                st.sites.len(),
                worker.born,
                worker.ended
            );
        }
    }
}

/// 50,000 births a second: no event lost, or the loss reported and the counts marked partial.
#[test]
fn fifty_thousand_births_a_second() {
    if let Some(why) = cannot_trace() {
        eprintln!("SKIPPED fifty_thousand_births_a_second: {why}");
        return;
    }
    let tc = toolchains().pop().unwrap();
    let (r, st) = trace_once(
        &tc,
        BuildOptions::default(),
        &[("FIXTURE_RATE", "50000"), ("FIXTURE_SPAN_MS", "3000")],
    );
    let born: u64 = r.sites.iter().map(|s| s.born).sum();
    let rate = born as f64 / r.seconds;
    eprintln!(
        "go {}: {born} births in {:.2} s = {rate:.0}/s; counters {:?}",
        tc.version, r.seconds, st.counters
    );
    if st.counters.lost() == 0 {
        assert!(!st.partial());
        for s in &r.sites {
            assert_eq!(
                counts(&st, s).map(|c| (c.0, c.1)),
                Some((s.born, s.ended)),
                "site {}",
                s.name
            );
        }
    } else {
        assert!(st.partial(), "lost events must mark the counts partial");
        let seen: u64 = st.sites.iter().map(|s| s.born).sum();
        assert!(seen < born + 1000, "{seen} vs {born}");
    }
    // The machine is shared: the rate reached is reported, and must be near the goal.
    assert!(rate > 25_000.0, "only {rate:.0} births/s reached");
}

/// `park` and `stacks`: blocked time per site and wait reason (sampled, scaled back up), and
/// creation stacks that name the function holding the `go` statement and its callers.
#[test]
fn parks_and_creation_stacks() {
    if let Some(why) = cannot_trace() {
        eprintln!("SKIPPED parks_and_creation_stacks: {why}");
        return;
    }
    let tc = toolchains().pop().unwrap();
    let mut churn = Churn::start(&tc, BuildOptions::default(), &[("FIXTURE_SPAN_MS", "500")]);
    let opts = TraceOptions {
        park: true,
        park_sample: 2,
        stacks: true,
        ..Default::default()
    };
    let tracer = Tracer::start(churn.pid(), &opts).unwrap();
    assert!(tracer
        .plan()
        .probes
        .iter()
        .any(|p| p.function == "runtime.gopark"));
    let r = churn.run();
    let out = tracer.stop().unwrap();
    let st = &out.state;
    assert_eq!(st.counters.lost(), 0, "{:?}", st.counters);
    assert!(
        st.counters.parked > 0 && st.counters.resumed > 0,
        "{:?}",
        st.counters
    );
    let sleeper = r.sites.iter().find(|s| s.name == "sleeper").unwrap();
    let site = st
        .sites
        .iter()
        .find(|s| matches!(&s.key, SiteKey::GoStatement { line, .. } if *line == sleeper.line))
        .unwrap();
    let sleep = out
        .wait_reasons
        .iter()
        .position(|w| w == "sleep")
        .expect("the release names the sleep wait reason") as u8;
    // Every sleeper sleeps 1 ms; half are followed: about born × 1 ms in all, once scaled.
    let ns = site.blocked_ns.get(&sleep).copied().unwrap_or(0);
    assert!(
        ns >= sleeper.born * 500_000 / 2,
        "sleep blocked {ns} ns for {} sleepers",
        sleeper.born
    );
    // Creation stacks: the spawn function and its caller, main.main.
    let worker = r.sites.iter().find(|s| s.name == "worker").unwrap();
    let (&(_, id), _) = st
        .create_stacks
        .iter()
        .find(|((s, _), _)| {
            matches!(&st.sites[*s].key, SiteKey::GoStatement { line, .. } if *line == worker.line)
        })
        .expect("worker creations have stacks");
    let frames = &out.stack_frames[&id];
    let names: Vec<&str> = frames.iter().map(|f| f.0.as_str()).collect();
    assert!(names.contains(&"main.spawnWorker"), "{names:?}");
    assert!(names.contains(&"main.main"), "{names:?}");
}
