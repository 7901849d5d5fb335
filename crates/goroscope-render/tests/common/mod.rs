//! Hand-built reports (from the analyze types) for the renderer tests.
#![allow(dead_code)]

use goroscope_analyze::{
    Change, DiffGroup, DiffReport, Group, Location, MinMax, ProofInfo, Report, Similarity,
    SourceInfo, StackFrame, Summary, TrendGroup, TrendReport, Verdict, SCHEMA_VERSION,
};
use std::collections::BTreeMap;

pub fn loc(function: &str, file: &str, line: u32) -> Location {
    Location {
        function: function.into(),
        file: file.into(),
        line,
    }
}

fn frame(function: &str, file: &str, line: u32) -> StackFrame {
    StackFrame {
        function: function.into(),
        file: file.into(),
        line,
        inlined: false,
    }
}

pub fn group(id: &str, count: u64, verdict: Verdict) -> Group {
    Group {
        id: id.into(),
        count,
        status: "waiting".into(),
        wait_reason: Some("chan receive".into()),
        state_inferred: false,
        wait_minutes: None,
        top_frame: Some(loc(
            "main.worker",
            "/home/dev/src/example.com/app/worker.go",
            42,
        )),
        blocking_site: Some(loc(
            "main.worker",
            "/home/dev/src/example.com/app/worker.go",
            42,
        )),
        created_by: Some(loc(
            "main.start",
            "/home/dev/src/example.com/app/main.go",
            17,
        )),
        creator_goids: vec![1],
        labels: BTreeMap::new(),
        stack: vec![frame(
            "main.worker",
            "/home/dev/src/example.com/app/worker.go",
            42,
        )],
        goids: vec![],
        goids_truncated: false,
        verdict,
        next_step: None,
        relations: vec![],
        pattern: None,
        proven: false,
        explanation: None,
        fix: None,
        evidence: vec![],
    }
}

pub fn source(input: &str) -> SourceInfo {
    SourceInfo {
        input: input.into(),
        index: 0,
        format: "debug2".into(),
        kind: "goroutine".into(),
    }
}

/// A report with every kind of group, long names, hostile text and more rows than a screen.
pub fn sample_report() -> Report {
    let mut proven = group("a1", 120, Verdict::Leak);
    proven.proven = true;
    proven.pattern = Some("chan-receive-no-sender".into());
    proven.wait_minutes = Some(MinMax { min: 5, max: 12 });
    proven.explanation = Some(
        "120 goroutines wait to receive on a channel that no live goroutine can send on or close."
            .into(),
    );
    proven.fix = Some(
        "Close the channel when the producer is done, or select on ctx.Done() beside the receive."
            .into(),
    );
    proven.evidence = vec![
        "runtime marked 120 goroutines (leaked)".into(),
        "blocked ≥ 5 min".into(),
    ];
    proven.goids = (100..110).collect();
    proven.relations = vec!["lock-chain-1".into()];
    proven.goids_truncated = true;
    proven.labels.insert(
        "handler".into(),
        vec!["/api/<script>alert(1)</script>".into()],
    );
    proven.stack = vec![
        StackFrame {
            function: "main.recv".into(),
            file: "/home/dev/src/example.com/app/worker.go".into(),
            line: 40,
            inlined: true,
        },
        frame("main.worker", "/home/dev/src/example.com/app/worker.go", 42),
    ];

    let mut nil = group("b2", 3, Verdict::Leak);
    nil.pattern = Some("nil-chan".into());
    nil.wait_reason = Some("chan send (nil chan)".into());
    nil.blocking_site = Some(loc(
        "example.com/app/internal/pipeline.(*Stage[go.shape.struct { a int; b string }]).emitWithAVeryLongMethodName",
        "/home/dev/go/pkg/mod/example.com/app@v1.2.3/internal/pipeline/stage_with_a_long_file_name.go",
        311,
    ));
    nil.explanation = Some("A send on a nil channel blocks forever.".into());
    nil.fix = Some("Initialise the channel with make(chan T) before use.".into());

    let mut suspect = group("c3", 2, Verdict::Suspect);
    suspect.pattern = Some("mutex-never-unlocked".into());
    suspect.wait_reason = Some("sync.Mutex.Lock".into());
    suspect.state_inferred = true;
    suspect.blocking_site = Some(loc("main.(*cache).get", "cache.go", 88));
    suspect.explanation = Some("Two goroutines wait for a mutex | held `elsewhere`.".into());

    let mut more = group("d4", 64, Verdict::NeedMoreSamples);
    more.next_step = Some(
        "take a second sample and compare (`goroscope trend URL --every 1m --samples 5`)".into(),
    );
    more.pattern = Some("pool-backlog".into());

    let mut groups = vec![proven, nil, suspect, more];
    for i in 0..12u64 {
        let mut g = group(&format!("e{i}"), 1000 - i * 50, Verdict::Benign);
        g.wait_reason = Some("IO wait".into());
        g.pattern = Some("http-server-idle".into());
        g.blocking_site = Some(loc(
            &format!("net/http.(*conn).serve{i}"),
            "net/http/server.go",
            2000,
        ));
        groups.push(g);
    }
    let total: u64 = groups.iter().map(|g| g.count).sum();
    Report {
        schema_version: SCHEMA_VERSION,
        source: source("prod-api.txt"),
        go_version: Some("go1.27.3".into()),
        go_version_min: None,
        reason: None,
        context: live(),
        total_goroutines: total,
        warnings: vec!["line 12: cut-off goroutine <here>".into()],
        grouping: Similarity::IgnoreLines,
        proof: ProofInfo {
            available: true,
            source: Some("(leaked) markers".into()),
        },
        summary: Summary {
            leaks: 2,
            proven_leaks: 1,
            suspects: 1,
            benign: 12,
            need_more_samples: 1,
            leaked_goroutines: 123,
            suspect_goroutines: 2,
            groups: 16,
            ignored: 0,
        },
        relations: vec![sample_relation()],
        groups,
        lifecycle: None,
    }
}

/// The per-site table of an execution window: a leaking site, a steady one, goroutines from
/// before the window; every field filled somewhere.
pub fn sample_lifecycle() -> goroscope_analyze::LifecycleReport {
    use goroscope_analyze::lifecycle::{AliveAt, BlockedSeconds, LifetimeSeconds};
    use goroscope_analyze::{LifecycleReport, SiteReport};
    let series = |v: &[u64]| -> Vec<AliveAt> {
        v.iter()
            .enumerate()
            .map(|(i, &alive)| AliveAt {
                seconds: i as f64 * 0.5,
                alive,
            })
            .collect()
    };
    LifecycleReport {
        source: "exectrace".into(),
        window_seconds: 3.0,
        born: 4_064,
        ended: 4_000,
        sites: vec![
            SiteReport {
                id: "5f1e2d3c4b5a6978".into(),
                go_statement: Some(loc(
                    "main.handle",
                    "/home/dev/src/example.com/app/handler.go",
                    57,
                )),
                entry_function: Some("main.handle.func1".into()),
                born: 64,
                ended: 0,
                alive_at_start: 0,
                alive_at_end: 64,
                lifetime: None,
                blocked: vec![BlockedSeconds {
                    reason: "chan send".into(),
                    seconds: 96.5,
                }],
                alive_series: series(&[0, 10, 21, 32, 43, 54, 64]),
                verdict: Verdict::Leak,
                rate_per_minute: Some(1280.0),
                explanation: "born 64 in the 3.0 s window and none ended, alive rising through it (quarters: 0 → 16 → 32 → 48 → 64): +21/s".into(),
                groups: vec!["a1".into()],
            },
            SiteReport {
                id: "0123456789abcdef".into(),
                go_statement: Some(loc("main.serve", "/home/dev/src/example.com/app/main.go", 30)),
                entry_function: Some("main.worker <script>".into()),
                born: 4_000,
                ended: 4_000,
                alive_at_start: 8,
                alive_at_end: 8,
                lifetime: Some(LifetimeSeconds {
                    count: 4_000,
                    min: 0.000_002,
                    p50: 0.000_012,
                    p90: 0.000_8,
                    p99: 0.003_4,
                    max: 0.02,
                    mean: 0.000_3,
                }),
                blocked: vec![
                    BlockedSeconds {
                        reason: "chan receive".into(),
                        seconds: 1.2,
                    },
                    BlockedSeconds {
                        reason: "sync".into(),
                        seconds: 0.4,
                    },
                ],
                alive_series: series(&[8, 9, 7, 8, 10, 8, 8]),
                verdict: Verdict::Benign,
                rate_per_minute: None,
                explanation: "born 4000 and ended 4000 in the 3.0 s window: its goroutines end as they are born".into(),
                groups: vec![],
            },
            SiteReport {
                id: "fedcba9876543210".into(),
                go_statement: None,
                entry_function: Some("main.poller".into()),
                born: 0,
                ended: 0,
                alive_at_start: 2,
                alive_at_end: 2,
                lifetime: None,
                blocked: vec![],
                alive_series: series(&[2, 2, 2, 2, 2, 2, 2]),
                verdict: Verdict::NeedMoreSamples,
                rate_per_minute: None,
                explanation: "2 existed before the 3.0 s window and none was born or ended in it".into(),
                groups: vec!["d4".into()],
            },
        ],
    }
}

/// [`sample_report`] as read from an execution trace: with its per-site table.
pub fn sample_window_report() -> Report {
    let mut r = sample_report();
    r.source.format = "exectrace".into();
    r.lifecycle = Some(sample_lifecycle());
    r
}

/// A lock chain whose root holder runs: every field of a relation filled.
pub fn sample_relation() -> goroscope_analyze::Relation {
    use goroscope_analyze::{Relation, RelationGoroutine, WaitObject};
    Relation {
        id: "lock-chain-1".into(),
        kind: "lock-chain".into(),
        sure: true,
        summary: "13 goroutines wait on mutex 0xc0000a0008 (in a Node) → held by goroutine 8 in main.(*Sim).Update, running — the lock is held too long".into(),
        count: 14,
        goroutines: vec![
            RelationGoroutine {
                goid: 20,
                role: "waiter".into(),
                state: "sync.Mutex.Lock".into(),
                at: Some(loc("main.(*Node).Get", "/src/node.go", 30)),
                group: "a1".into(),
                waits_on: Some("lock on mutex 0xc0000a0008 (in a Node)".into()),
                object: Some("0xc0000a0008".into()),
                holds: vec![],
                stack: vec![],
            },
            RelationGoroutine {
                goid: 8,
                role: "root-holder".into(),
                state: "running".into(),
                at: Some(loc("main.(*Sim).Update", "/src/sim.go", 80)),
                group: "b2".into(),
                waits_on: None,
                object: None,
                holds: vec!["0xc0000a0008".into()],
                stack: vec![loc("main.(*Sim).Update", "/src/sim.go", 80)],
            },
        ],
        objects: vec![WaitObject {
            kind: "mutex".into(),
            addr: "0xc0000a0008".into(),
            waiters: 13,
            owner_type: Some("Node".into()),
        }],
        groups: vec!["a1".into(), "b2".into()],
    }
}

fn live() -> goroscope_analyze::ContextInfo {
    goroscope_analyze::ContextInfo {
        kind: "live".into(),
        why: "read from a running service".into(),
        inferred: true,
    }
}

pub fn clean_report() -> Report {
    let mut g = group("z", 7, Verdict::Benign);
    g.pattern = Some("runtime-worker".into());
    Report {
        schema_version: SCHEMA_VERSION,
        source: source("healthy.txt"),
        go_version: None,
        go_version_min: Some("go1.21".into()),
        reason: None,
        context: live(),
        total_goroutines: 7,
        warnings: vec![],
        grouping: Similarity::IgnoreLines,
        proof: ProofInfo::default(),
        summary: Summary {
            benign: 1,
            groups: 1,
            ..Summary::default()
        },
        relations: vec![],
        groups: vec![g],
        lifecycle: None,
    }
}

pub fn sample_diff() -> DiffReport {
    let r = sample_report();
    let mk = |change, before, after, g: &Group| DiffGroup {
        change,
        before,
        after,
        delta: after as i64 - before as i64,
        group: g.clone(),
    };
    DiffReport {
        schema_version: SCHEMA_VERSION,
        before: source("before.txt"),
        after: source("after.txt"),
        before_total: 1000,
        after_total: 1125,
        grouping: Similarity::IgnoreLines,
        groups: vec![
            mk(Change::New, 0, 120, &r.groups[0]),
            mk(Change::Grown, 1, 3, &r.groups[1]),
            mk(Change::Shrunk, 10, 4, &r.groups[4]),
            mk(Change::Gone, 2, 0, &r.groups[5]),
        ],
        unchanged: 9,
    }
}

pub fn sample_trend() -> TrendReport {
    let r = sample_report();
    TrendReport {
        schema_version: SCHEMA_VERSION,
        sources: vec![
            source("t0.txt"),
            source("t1.txt"),
            source("t2.txt"),
            source("t3.txt"),
        ],
        totals: vec![1000, 1040, 1080, 1120],
        minutes: Some(vec![0.0, 1.0, 2.0, 3.0]),
        grouping: Similarity::IgnoreLines,
        groups: vec![
            TrendGroup {
                counts: vec![0, 40, 80, 120],
                slope: 40.0,
                slope_per_minute: true,
                mann_kendall_s: 6,
                z: 2.04,
                p_value: 0.0207,
                verdict: Verdict::Leak,
                evidence: vec!["grows by 40 per minute in every interval".into()],
                group: r.groups[0].clone(),
                growing: true,
            },
            TrendGroup {
                counts: vec![3, 3, 3, 3],
                slope: 0.0,
                slope_per_minute: true,
                mann_kendall_s: 0,
                z: 0.0,
                p_value: 1.0,
                verdict: Verdict::Leak,
                evidence: vec!["no significant growth (slope 0.00 per minute, p=1.000)".into()],
                group: r.groups[1].clone(),
                growing: false,
            },
            TrendGroup {
                counts: vec![1000, 1000, 1000, 1000],
                slope: 0.0,
                slope_per_minute: true,
                mann_kendall_s: 0,
                z: 0.0,
                p_value: 0.5,
                verdict: Verdict::Benign,
                evidence: vec![],
                group: r.groups[4].clone(),
                growing: false,
            },
        ],
        warnings: vec![],
    }
}
