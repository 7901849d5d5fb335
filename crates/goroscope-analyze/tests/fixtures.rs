//! The analysis on the Go fixture programs (`fixtures/go/`), for every installed Go release.
//!
//! * every leak site of every pattern fixture is found in a debug=2 dump and a protobuf
//!   profile, with the fixture's blocking site, creation site, count and pattern; sites the
//!   runtime can prove are `leak` + `proven` when a goroutineleak profile is among the inputs
//!   (Go 1.27+), whether that profile is in debug=1 or protobuf form, and even when the
//!   stacks are too deep to compare whole (`odd-shapes`: a 160-deep recursion); the profile
//!   analysed alone lists only provable sites, proven, and its record without a stack (main
//!   parked in `select {}`) is benign;
//! * the healthy service (2000 idle keep-alive connections both ways, a worker pool) yields
//!   zero leak or suspect groups in every form;
//! * the mixed fixture is scored as precision/recall per group: 100 %/100 % on the leaks one
//!   snapshot can decide (see [`decidable`]), and with a proof also on every provable site.
//!
//! Needs the Go toolchains of `scripts/install-go.sh` (the harness fails loudly without them).

use goroscope_analyze::{analyze, Group, Options, Report, Verdict};
use goroscope_fixtures::{toolchains, ExpectSite, Fixture, StartOptions, Toolchain};
use goroscope_model::Snapshot;

struct Dumps {
    debug2: Vec<Snapshot>,
    proto: Vec<Snapshot>,
    debug1: Vec<Snapshot>,
    leak: Option<Vec<Snapshot>>,
    /// The goroutineleak profile in protobuf form.
    leak0: Option<Vec<Snapshot>>,
}

fn read(name: &str, bytes: &[u8]) -> Vec<Snapshot> {
    goroscope_ingest::read_reader(name, bytes, &Default::default())
        .unwrap_or_else(|e| panic!("reading {name}: {e}"))
}

fn dumps(fx: &mut Fixture) -> Dumps {
    let tag = format!("{}@{}", fx.name, fx.toolchain.version);
    let has_leak = fx.toolchain.has_goroutineleak();
    let mut get = |path: &str| fx.fetch(path).unwrap_or_else(|e| panic!("{tag}: {e}"));
    let debug2 = get("/debug/pprof/goroutine?debug=2");
    let proto = get("/debug/pprof/goroutine?debug=0");
    let debug1 = get("/debug/pprof/goroutine?debug=1");
    let leak = has_leak.then(|| get("/debug/pprof/goroutineleak?debug=1"));
    let leak0 = has_leak.then(|| get("/debug/pprof/goroutineleak?debug=0"));
    Dumps {
        debug2: read(&format!("{tag} debug=2"), &debug2),
        proto: read(&format!("{tag} debug=0"), &proto),
        debug1: read(&format!("{tag} debug=1"), &debug1),
        leak: leak.map(|l| read(&format!("{tag} goroutineleak"), &l)),
        leak0: leak0.map(|l| read(&format!("{tag} goroutineleak debug=0"), &l)),
    }
}

fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The groups of `r` that are this site's goroutines.
fn matching<'a>(r: &'a Report, s: &ExpectSite) -> Vec<&'a Group> {
    r.groups
        .iter()
        .filter(|g| match s.line {
            Some(line) => g.blocking_site.as_ref().is_some_and(|b| {
                b.function == s.function && b.line == line && base(&b.file) == s.file
            }),
            None => {
                g.stack.iter().any(|f| f.function == s.function)
                    && g.wait_reason
                        .as_deref()
                        .is_some_and(|w| same_reason(w, &s.wait_reason))
            }
        })
        .collect()
}

/// Go before 1.25 prints WaitGroup waits as `semacquire`; the analysis refines it from frames.
fn same_reason(got: &str, want: &str) -> bool {
    got == want || (want == "semacquire" && got == "sync.WaitGroup.Wait")
}

/// The context a form is judged in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Judged {
    /// As the analysis infers it: `live` for a dump fetched from the running fixture, `crash`
    /// for its SIGQUIT dump.
    Inferred,
    /// `--context exit`: as if taken when the process exited (what `goroscope run` does).
    Exit,
}

/// Leak sites one snapshot decides (leak or suspect) from its own evidence. At exit, every one
/// (goleak's rule: still blocked at exit is leaked). In a running service, blocked alone is not
/// evidence: a runtime proof decides the provable sites, and without one only the patterns that
/// are certain on their own — a nil channel, `select {}`, an unread response body. The rest
/// need a second sample (trend) or a proof; the fixtures create their goroutines from `main`,
/// still alive, so no creator is gone, and no site is big enough to count by size.
fn decidable(s: &ExpectSite, proof: bool, judged: Judged) -> bool {
    if judged == Judged::Exit {
        return s.leak;
    }
    if proof && s.provable {
        return true;
    }
    s.leak
        && matches!(
            s.pattern.as_str(),
            "nil-chan" | "select-no-cases" | "http-body-not-closed"
        )
}

/// The pattern a group may carry for a site: the site's own, or the receive rule for receive
/// sites whose form cannot tell a range loop (or a stuck pool worker) from a plain receive.
/// (Protobuf profiles name nil-channel waits too: the runtime's parking line tells them.)
fn pattern_ok(g: &Group, s: &ExpectSite) -> bool {
    let p = g.pattern.as_deref().unwrap_or("");
    p == s.pattern
        || (s.wait_reason == "chan receive"
            && matches!(p, "chan-receive-no-sender" | "range-never-closed"))
}

struct Score {
    tp: usize,
    fn_: Vec<String>,
    fp: Vec<String>,
}

/// Checks every site of a fixture in one report; returns what a precision/recall score needs.
/// At exit every goroutine still blocked is leaked, healthy ones included (a server left
/// serving, a pool never stopped), so healthy sites and false positives are only checked in
/// the inferred context.
fn check_sites(tag: &str, r: &Report, sites: &[ExpectSite], proof: bool, judged: Judged) -> Score {
    let mut score = Score {
        tp: 0,
        fn_: Vec::new(),
        fp: Vec::new(),
    };
    let mut claimed: Vec<&str> = Vec::new();
    for s in sites {
        let gs = matching(r, s);
        let count: u64 = gs.iter().map(|g| g.count).sum();
        if s.line.is_some() {
            assert_eq!(count, s.count, "{tag}: site {s}: groups {gs:#?}");
        } else {
            assert!(count >= s.count, "{tag}: site {s}: groups {gs:#?}");
        }
        claimed.extend(gs.iter().map(|g| g.id.as_str()));
        for g in &gs {
            if let (Some(want), Some(line)) = (&s.created_by_function, s.created_by_line) {
                let c = g.created_by.as_ref();
                if r.source.format != "proto" && r.source.format != "debug1" {
                    assert!(
                        c.is_some_and(|c| &c.function == want && c.line == line),
                        "{tag}: site {s}: created by {c:?}, want {want}:{line}"
                    );
                }
            }
            if !s.leak {
                if judged == Judged::Inferred {
                    assert!(
                        matches!(g.verdict, Verdict::Benign | Verdict::NeedMoreSamples),
                        "{tag}: healthy site {s} judged {}: {g:#?}",
                        g.verdict
                    );
                }
                continue;
            }
            let flagged = matches!(g.verdict, Verdict::Leak | Verdict::Suspect);
            if judged == Judged::Exit {
                assert_eq!(g.verdict, Verdict::Leak, "{tag}: at exit: {g:#?}");
            } else if !flagged {
                assert!(
                    g.next_step.is_some() || g.verdict == Verdict::Benign,
                    "{tag}: {s}: a need-more-samples group names its next step: {g:#?}"
                );
            }
            if decidable(s, proof, judged) {
                if flagged {
                    score.tp += 1;
                } else {
                    score
                        .fn_
                        .push(format!("{s} judged {} ({:?})", g.verdict, g.evidence));
                }
            }
            assert!(pattern_ok(g, s), "{tag}: site {s}: pattern {:?}", g.pattern);
            assert_ne!(
                g.verdict,
                Verdict::Benign,
                "{tag}: leak site {s} judged benign: {g:#?}"
            );
            if proof && s.provable {
                assert!(
                    g.proven && g.verdict == Verdict::Leak,
                    "{tag}: provable site {s} not proven: {g:#?}"
                );
            }
        }
    }
    for g in &r.groups {
        if judged == Judged::Inferred
            && matches!(g.verdict, Verdict::Leak | Verdict::Suspect)
            && !claimed.contains(&g.id.as_str())
        {
            score.fp.push(format!(
                "{} ×{} {} at {:?}",
                g.verdict,
                g.count,
                g.pattern.as_deref().unwrap_or("-"),
                g.blocking_site.as_ref().map(|b| b.to_string())
            ));
        }
    }
    score
}

/// A goroutineleak profile analysed alone: every group with a stack is a provable site's,
/// `leak` + `proven`; the record Go 1.27 writes without a stack (main parked in `select {}`)
/// is benign and says why. Returns how many such records it saw.
fn check_leak_profile(tag: &str, snaps: &[Snapshot], sites: &[ExpectSite]) -> u64 {
    let r = analyze(snaps, &Options::default()).remove(0);
    assert_eq!(r.source.kind, "goroutineleak", "{tag}");
    let mut unrecorded = 0;
    for g in &r.groups {
        if g.stack.is_empty() {
            assert!(
                g.verdict == Verdict::Benign
                    && !g.proven
                    && g.evidence.iter().any(|e| e.contains("without a stack")),
                "{tag}: the record without a stack is a finding: {g:#?}"
            );
            unrecorded += g.count;
            continue;
        }
        assert!(
            g.proven && g.verdict == Verdict::Leak,
            "{tag}: listed but not proven: {g:#?}"
        );
        assert!(
            sites
                .iter()
                .any(|s| s.provable && g.stack.iter().any(|f| f.function == s.function)),
            "{tag}: proven group of no provable site: {g:#?}"
        );
    }
    for s in sites.iter().filter(|s| s.provable && s.line.is_some()) {
        let n: u64 = matching(&r, s).iter().map(|g| g.count).sum();
        assert_eq!(n, s.count, "{tag}: provable site {s}");
    }
    assert_eq!(
        r.summary.leaked_goroutines + unrecorded,
        r.total_goroutines,
        "{tag}: {:?}",
        r.summary
    );
    unrecorded
}

fn analyze_forms(d: &Dumps) -> Vec<(String, Report, bool, Judged)> {
    let o = Options::default();
    let exit = Options {
        context: Some(goroscope_model::Context::Exit),
        ..Options::default()
    };
    let mut out = vec![
        (
            "debug=2".to_string(),
            analyze(&d.debug2, &o).remove(0),
            false,
            Judged::Inferred,
        ),
        (
            "debug=0".to_string(),
            analyze(&d.proto, &o).remove(0),
            false,
            Judged::Inferred,
        ),
        (
            "debug=2 at exit".to_string(),
            analyze(&d.debug2, &exit).remove(0),
            false,
            Judged::Exit,
        ),
        (
            "debug=0 at exit".to_string(),
            analyze(&d.proto, &exit).remove(0),
            false,
            Judged::Exit,
        ),
    ];
    for (form, leak) in [("debug=1", &d.leak), ("debug=0", &d.leak0)] {
        if let Some(leak) = leak {
            let mut with = d.debug2.clone();
            with.extend(leak.iter().cloned());
            out.push((
                format!("debug=2 + goroutineleak {form}"),
                analyze(&with, &o).remove(0),
                true,
                Judged::Inferred,
            ));
        }
    }
    out
}

/// The runtime's own SIGQUIT dump of a fresh instance: a crash, judged like a live service
/// (the program was serving when it was stopped).
fn sigquit_form(name: &str, tc: &Toolchain) -> (String, Report, bool, Judged) {
    let fx = Fixture::start(name, tc, &StartOptions::default());
    let text = fx.sigquit();
    let snaps = read(&format!("{name}@{} SIGQUIT", tc.version), text.as_bytes());
    let r = analyze(&snaps, &Options::default()).remove(0);
    assert_eq!(r.context.kind, "crash", "{name}@{} SIGQUIT", tc.version);
    ("SIGQUIT".into(), r, false, Judged::Inferred)
}

fn run(name: &str, tc: &Toolchain) -> (Fixture, Dumps) {
    let mut fx = Fixture::start(name, tc, &StartOptions::default());
    let d = dumps(&mut fx);
    (fx, d)
}

const PATTERNS: &[&str] = &[
    "chan-receive-no-sender",
    "chan-send-receiver-gone",
    "range-never-closed",
    "nil-chan",
    "select-no-cases",
    "ctx-ignored",
    "waitgroup-missing-done",
    "mutex-never-unlocked",
    "cond-no-signal",
    "io-no-deadline",
    "pool-backlog",
    "background-loop",
    "http-body-not-closed",
    // Leaks inside sites started through go/guard: grouped by their `guard.site` label.
    "guarded",
    // Not a pattern of its own: receivers locked to their thread, under a 160-deep recursion
    // (debug=2 elides the middle of their stacks, profiles keep the innermost 128 PCs, so the
    // proof must match on the innermost frames) and with a label value that needs quoting.
    "odd-shapes",
];

/// `GOROSCOPE_FIXTURES=a,b` narrows the pattern fixtures for a quick local run.
fn selected(name: &str) -> bool {
    match std::env::var("GOROSCOPE_FIXTURES") {
        Ok(list) if !list.is_empty() => list.split([',', ' ']).any(|n| n == name),
        _ => true,
    }
}

#[test]
fn every_pattern_fixture_is_found_with_its_sites() {
    for tc in toolchains() {
        for &name in PATTERNS {
            if !selected(name) {
                continue;
            }
            let (fx, d) = run(name, &tc);
            for (form, r, proof, judged) in analyze_forms(&d) {
                let tag = format!("{name}@{} {form}", tc.version);
                let score = check_sites(&tag, &r, &fx.expect.sites, proof, judged);
                assert!(score.fn_.is_empty(), "{tag}: missed {:#?}", score.fn_);
            }
            for (form, leak) in [("debug=1", &d.leak), ("debug=0", &d.leak0)] {
                if let Some(leak) = leak {
                    let tag = format!("{name}@{} goroutineleak {form}", tc.version);
                    let n = check_leak_profile(&tag, leak, &fx.expect.sites);
                    eprintln!("{tag}: {n} goroutine(s) counted without a stack");
                }
            }
        }
    }
}

#[test]
fn healthy_service_has_no_findings_in_any_form() {
    for tc in toolchains() {
        let (fx, d) = run("healthy", &tc);
        let mut forms = analyze_forms(&d);
        forms.push((
            "debug=1".into(),
            analyze(&d.debug1, &Options::default()).remove(0),
            false,
            Judged::Inferred,
        ));
        forms.push(sigquit_form("healthy", &tc));
        for (form, r, proof, judged) in forms {
            if judged == Judged::Exit {
                continue; // a service left serving at exit is leaked by definition
            }
            let tag = format!("healthy@{} {form}", tc.version);
            assert_eq!(
                r.summary.leaks + r.summary.suspects,
                0,
                "{tag}: {:#?}",
                r.groups
                    .iter()
                    .filter(|g| g.verdict.rank() >= 2)
                    .collect::<Vec<_>>()
            );
            if form != "debug=1" {
                check_sites(&tag, &r, &fx.expect.sites, proof, judged);
            }
        }
    }
}

#[test]
fn mixed_fixture_precision_and_recall_are_perfect_on_decidable_leaks() {
    for tc in toolchains() {
        let (fx, d) = run("mixed", &tc);
        let mut forms = analyze_forms(&d);
        forms.push(sigquit_form("mixed", &tc));
        for (form, r, proof, judged) in forms {
            let tag = format!("mixed@{} {form}", tc.version);
            let s = check_sites(&tag, &r, &fx.expect.sites, proof, judged);
            let precision = s.tp as f64 / (s.tp + s.fp.len()).max(1) as f64;
            let recall = s.tp as f64 / (s.tp + s.fn_.len()).max(1) as f64;
            eprintln!(
                "{tag}: precision {:.0}% recall {:.0}% ({} found)",
                precision * 100.0,
                recall * 100.0,
                s.tp
            );
            assert!(s.tp > 0, "{tag}: nothing found");
            assert!(
                s.fp.is_empty(),
                "{tag}: precision {precision:.2}: false positives {:#?}",
                s.fp
            );
            assert!(
                s.fn_.is_empty(),
                "{tag}: recall {recall:.2}: missed {:#?}",
                s.fn_
            );
        }
    }
}

/// "Grows linearly with calls": four runs of the chan-receive-no-sender fixture with more and
/// more calls (FIXTURE_N = 2, 4, 6, 8) stand for four snapshots of a service over time. No
/// single debug=2 dump decides (pool shape), the trend does; diff names what grew. Newest
/// installed Go release only (the grouping is the same on every release).
#[test]
fn trend_and_diff_over_growing_runs() {
    let tc = toolchains().pop().expect("toolchains() panics when empty");
    let mut snaps = Vec::new();
    let mut site = None;
    for n in [2, 4, 6, 8] {
        let opts = StartOptions {
            n: Some(n),
            ..StartOptions::default()
        };
        let mut fx = Fixture::start("chan-receive-no-sender", &tc, &opts);
        let body = fx.fetch("/debug/pprof/goroutine?debug=2").expect("debug=2");
        snaps.extend(read(&format!("run n={n}"), &body));
        site = fx.expect.sites.iter().find(|s| s.leak).cloned();
    }
    let site = site.expect("a leak site");
    let one = analyze(&snaps[3..], &Options::default()).remove(0);
    let g = &matching(&one, &site)[0];
    assert_ne!(
        g.verdict,
        Verdict::Leak,
        "one snapshot alone does not prove it: {g:#?}"
    );

    let t = goroscope_analyze::trend(&snaps, &Options::default());
    let grow = t
        .groups
        .iter()
        .find(|tg| tg.group.id == g.id)
        .expect("the leak group in the trend");
    assert_eq!(grow.counts, vec![2, 4, 6, 8]);
    assert_eq!(grow.verdict, Verdict::Leak, "{grow:#?}");
    assert!((grow.slope - 2.0).abs() < 1e-9 && grow.p_value < 0.05);
    for tg in &t.groups {
        if tg.group.id != g.id {
            assert_ne!(tg.verdict, Verdict::Leak, "only the leak grows: {tg:#?}");
        }
    }
    let d = goroscope_analyze::diff(&snaps[0], &snaps[3], &Options::default());
    let first = &d.groups[0];
    assert_eq!(
        (first.group.id.as_str(), first.before, first.after),
        (g.id.as_str(), 2, 8)
    );
    assert!(
        d.groups[1..]
            .iter()
            .all(|x| x.delta.abs() <= 1 || x.group.verdict == Verdict::Benign),
        "{:#?}",
        d.groups
    );
}

/// The debug=1 and protobuf profiles of one fixture process match group for group in a diff:
/// debug=1 hides the runtime frames (no state for a plain channel wait), protobuf infers the
/// state from them, and the groups are matched on their frames. Only the goroutines of the
/// HTTP exchange that fetched each profile may differ (net/http and pprof frames, or a
/// goroutine just started for the connection, whose stack is only `runtime.goexit`), and the
/// main goroutine, which may still be writing `READY` (in `fx.Ready`) when the first profile
/// is taken.
#[test]
fn debug1_and_protobuf_of_one_fixture_diff_to_nothing() {
    for tc in toolchains() {
        for name in ["mixed", "odd-shapes"] {
            if !selected(name) {
                continue;
            }
            let (_fx, d) = run(name, &tc);
            let tag = format!("{name}@{}", tc.version);
            for (before, after) in [(&d.proto[0], &d.debug1[0]), (&d.debug1[0], &d.proto[0])] {
                let r = goroscope_analyze::diff(before, after, &Options::default());
                let odd: Vec<_> = r
                    .groups
                    .iter()
                    .filter(|g| {
                        !g.group.stack.is_empty()
                            && !g.group.stack.iter().any(|f| {
                                f.function.starts_with("net/http.")
                                    || f.function.starts_with("runtime/pprof.")
                                    || f.function == "goroscope.test/fixtures/internal/fx.Ready"
                            })
                    })
                    .map(|g| {
                        (
                            g.change,
                            g.delta,
                            g.group.status.clone(),
                            g.group.wait_reason.clone(),
                            g.group
                                .stack
                                .iter()
                                .map(|f| f.function.clone())
                                .collect::<Vec<_>>(),
                        )
                    })
                    .collect();
                assert!(
                    odd.is_empty(),
                    "{tag} {} → {}: {odd:#?}",
                    before.source.format,
                    after.source.format
                );
                assert!(r.unchanged > 0, "{tag}");
            }
        }
    }
}
