//! Options, ignore rules, levels, baselines, diff and trend on snapshots built with the model API.

use goroscope_analyze::{
    analyze, diff, diff_fails, fails, trend, trend_fails, Change, Config, Level, Options,
    Similarity, Verdict,
};
use goroscope_model::{
    Context, Format, Frame, Goid, Goroutine, ProfileKind, Snapshot, Source, StateText,
};
use std::time::{Duration, UNIX_EPOCH};

struct B(Snapshot, u64);

impl B {
    fn new() -> B {
        B(
            Snapshot::new(Source {
                input: "t".into(),
                index: 0,
                line: None,
                format: Format::Debug2,
                kind: ProfileKind::Goroutine,
            }),
            1,
        )
    }
    fn add(mut self, n: usize, state: &str, frames: &[(&str, u32)], created_by: Option<&str>) -> B {
        let s = &mut self.0;
        let mut ids = Vec::new();
        for (f, line) in frames {
            let function = s.interner.intern_str(f);
            let file = s.interner.intern_str("main.go");
            ids.push(s.interner.intern_frame(Frame {
                function,
                file,
                line: *line,
                offset: None,
                inlined: false,
            }));
        }
        let stack = s.interner.intern_stack(&ids);
        let cb = created_by.map(|c| {
            let function = s.interner.intern_str(c);
            let file = s.interner.intern_str("main.go");
            s.interner.intern_frame(Frame {
                function,
                file,
                line: 1,
                offset: None,
                inlined: false,
            })
        });
        for _ in 0..n {
            let mut g = Goroutine::new(Goid(self.1), stack);
            self.1 += 1;
            g.set_state(&StateText::parse(state), &mut s.interner);
            g.created_by = cb;
            g.creator_goid = Some(Goid(1));
            s.goroutines.push(g);
        }
        self
    }
    fn leaks(self, n: usize) -> B {
        self.add(
            n,
            "chan send",
            &[("main.send.func1", 10)],
            Some("main.send"),
        )
    }
    fn snap(self) -> Snapshot {
        self.0
    }
}

fn healthy() -> B {
    B::new()
        .add(
            1,
            "select (no cases)",
            &[("main.main", 5), ("runtime.main", 283)],
            None,
        )
        .add(
            1,
            "IO wait",
            &[
                ("internal/poll.(*FD).Accept", 1),
                ("net.(*netFD).accept", 2),
                ("net.(*TCPListener).Accept", 3),
                ("net/http.(*Server).Serve", 4),
            ],
            Some("main.main"),
        )
        .add(
            300,
            "IO wait",
            &[
                ("internal/poll.(*FD).Read", 1),
                ("net.(*conn).Read", 2),
                ("net/http.(*connReader).Read", 3),
                ("bufio.(*Reader).fill", 4),
                ("net/http.(*conn).serve", 5),
            ],
            Some("net/http.(*Server).Serve"),
        )
        .add(
            1,
            "GC worker (idle)",
            &[("runtime.gcBgMarkWorker", 1)],
            Some("runtime.gcBgMarkWorkerStartWorkers"),
        )
        .add(
            1,
            "syscall",
            &[("os/signal.signal_recv", 1), ("os/signal.loop", 2)],
            Some("os/signal.Notify.func1.1"),
        )
        .add(
            1,
            "running",
            &[
                ("runtime/pprof.writeGoroutineStacks", 1),
                ("net/http.(*conn).serve", 2),
            ],
            None,
        )
}

#[test]
fn healthy_server_has_no_findings() {
    let r = &analyze(&[healthy().snap()], &Options::default())[0];
    assert_eq!(r.summary.leaks + r.summary.suspects, 0, "{:#?}", r.groups);
    assert!(!fails(std::slice::from_ref(r), Verdict::Suspect));
    let serve = r.groups.iter().find(|g| g.count == 300).unwrap();
    assert_eq!(serve.pattern.as_deref(), Some("benign:http-server-idle"));
}

#[test]
fn ignore_rules_levels_and_fail_thresholds() {
    let s = healthy().leaks(4).snap();
    // Live (what a dump with no exit, crash or test marker is judged as): four senders need
    // another sample; -D makes them leaks.
    let r = analyze(std::slice::from_ref(&s), &Options::default());
    assert_eq!(r[0].context.kind, "live");
    assert!(!fails(&r, Verdict::Suspect));
    assert_eq!(r[0].summary.need_more_samples, 1);
    let mut deny = Options::default();
    deny.set_level("chan-send-receiver-gone", Level::Deny)
        .unwrap();
    assert!(fails(
        &analyze(std::slice::from_ref(&s), &deny),
        Verdict::Leak
    ));
    // At exit they are leaks; the rest of this test works there.
    let exit = || Options {
        context: Some(Context::Exit),
        ..Options::default()
    };
    let r = analyze(std::slice::from_ref(&s), &exit());
    assert!(fails(&r, Verdict::Leak));
    let g = r[0].groups.iter().find(|g| g.count == 4).unwrap();
    assert_eq!(g.verdict, Verdict::Leak);
    // So is the HTTP server left serving at exit (goleak's rule); the runtime's GC worker and
    // the signal loop live as long as the process and are not.
    let serve = r[0].groups.iter().find(|g| g.count == 300).unwrap();
    assert_eq!(
        (serve.verdict, serve.pattern.as_deref()),
        (Verdict::Leak, Some("http-server-idle"))
    );
    for f in ["runtime.gcBgMarkWorker", "os/signal.signal_recv"] {
        let g = r[0]
            .groups
            .iter()
            .find(|g| g.stack[0].function == f)
            .unwrap();
        assert_eq!(g.verdict, Verdict::Benign, "{f}");
    }

    let cfg = Config::from_toml_str("[ignore]\ntop_function = [\"main.send.*\"]\n").unwrap();
    let opts = Options {
        config: cfg,
        ..exit()
    };
    let r = analyze(std::slice::from_ref(&s), &opts);
    assert_eq!(r[0].summary.ignored, 1);
    let g = r[0].groups.iter().find(|g| g.count == 4).unwrap();
    assert!(g.evidence[0].contains("top_function"), "{g:#?}");
    assert_eq!(g.pattern.as_deref(), Some("chan-send-receiver-gone"));

    for (cfg, verdict) in [
        ("[ignore]\ncreated_by = [\"main.send\"]\n", Verdict::Benign),
        ("[ignore]\nany_function = [\"main.*\"]\n", Verdict::Benign),
        (
            "[rules]\nchan-send-receiver-gone = \"allow\"\n",
            Verdict::Benign,
        ),
        (
            "[rules]\nchan-send-receiver-gone = \"deny\"\n",
            Verdict::Leak,
        ),
        ("", Verdict::Leak),
        (
            "[rules]\nchan-send-receiver-gone = \"warn\"\n",
            Verdict::Suspect,
        ),
    ] {
        let opts = Options {
            config: Config::from_toml_str(cfg).unwrap(),
            ..exit()
        };
        let r = analyze(std::slice::from_ref(&s), &opts);
        let g = r[0].groups.iter().find(|g| g.count == 4).unwrap();
        assert_eq!(g.verdict, verdict, "{cfg}");
    }
    // The command line overrides the config.
    let mut opts = Options {
        config: Config::from_toml_str("[rules]\nchan-send-receiver-gone = \"allow\"\n").unwrap(),
        ..Options::default()
    };
    opts.set_level("chan-send-receiver-gone", Level::Deny)
        .unwrap();
    assert!(fails(
        &analyze(std::slice::from_ref(&s), &opts),
        Verdict::Leak
    ));
    assert!(opts
        .set_level("no-such-rule", Level::Warn)
        .unwrap_err()
        .contains("unknown rule"));
    // -W caps a leak at suspect.
    let nil = B::new()
        .add(2, "chan receive (nil chan)", &[("main.f", 1)], None)
        .snap();
    let mut opts = Options::default();
    opts.set_level("nil-chan", Level::Warn).unwrap();
    let r = analyze(&[nil], &opts);
    assert_eq!(r[0].groups[0].verdict, Verdict::Suspect);
}

#[test]
fn baseline_silences_what_was_already_there() {
    let before = healthy().leaks(4).snap();
    let after = healthy().leaks(4).snap();
    let opts = Options {
        context: Some(Context::Exit),
        ..Options::default()
    }
    .with_baseline(&before);
    assert!(!fails(
        &analyze(std::slice::from_ref(&after), &opts),
        Verdict::Suspect
    ));
    let grown = healthy().leaks(9).snap();
    let r = analyze(&[grown], &opts);
    let g = r[0].groups.iter().find(|g| g.count == 9).unwrap();
    assert_eq!(g.verdict, Verdict::Leak);
    assert!(
        g.evidence
            .iter()
            .any(|e| e.contains("4 of them already in the baseline")),
        "{g:#?}"
    );
}

#[test]
fn diff_matches_by_signature_not_goid() {
    let before = healthy().leaks(2).snap();
    // Different goids, different lines: still the same groups.
    let after = healthy()
        .add(
            7,
            "chan send",
            &[("main.send.func1", 99)],
            Some("main.send"),
        )
        .add(
            3,
            "sync.Mutex.Lock",
            &[("main.(*c).get", 4)],
            Some("main.start"),
        )
        .snap();
    let d = diff(&before, &after, &Options::default());
    assert_eq!(d.groups[0].change, Change::Grown, "{:#?}", d.groups);
    assert_eq!(
        (d.groups[0].before, d.groups[0].after, d.groups[0].delta),
        (2, 7, 5)
    );
    // Grown: the second sample the live verdict asked for.
    assert_eq!(d.groups[0].group.verdict, Verdict::Suspect);
    assert!(d.groups[0]
        .group
        .evidence
        .iter()
        .any(|e| e.contains("grew from 2 to 7")));
    assert_eq!(d.groups[1].change, Change::New);
    assert_eq!(
        (
            d.groups[1].group.verdict,
            d.groups[1].group.pattern.as_deref()
        ),
        (Verdict::NeedMoreSamples, Some("mutex-never-unlocked"))
    );
    assert!(d.groups.iter().all(|g| g.change != Change::Gone));
    assert!(d.unchanged >= 5);
    assert!(diff_fails(&d, Verdict::Suspect));
    let same = diff(&before, &before, &Options::default());
    assert!(same.groups.is_empty() && !diff_fails(&same, Verdict::Suspect));
    // Exact-stack grouping tells the lines apart.
    let opts = Options {
        similarity: Similarity::ExactStack,
        ..Options::default()
    };
    let d = diff(&before, &after, &opts);
    assert!(d.groups.iter().any(|g| g.change == Change::Gone));
}

#[test]
fn trend_calls_steady_growth_a_leak_and_a_flat_pool_benign() {
    let pool = |b: B| b.add(8, "chan receive", &[("main.worker", 12)], Some("main.main"));
    let snaps: Vec<Snapshot> = (0..6)
        .map(|i| {
            let mut s = pool(healthy())
                .add(
                    1 + 3 * i,
                    "select",
                    &[("main.poll.func1", 3)],
                    Some("main.poll"),
                )
                .snap();
            s.taken_at = Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000 + 120 * i as u64));
            s
        })
        .collect();
    // One snapshot: the pool needs more samples, the single-instance select is nothing yet.
    let one = &analyze(&snaps[..1], &Options::default())[0];
    let p = one.groups.iter().find(|g| g.count == 8).unwrap();
    assert_eq!(p.verdict, Verdict::NeedMoreSamples);
    let t = trend(&snaps, &Options::default());
    assert_eq!(t.minutes.as_ref().unwrap()[1], 2.0);
    let grow = &t.groups[0];
    assert_eq!(grow.counts, vec![1, 4, 7, 10, 13, 16]);
    assert_eq!(grow.verdict, Verdict::Leak);
    assert!(
        grow.slope_per_minute && (grow.slope - 1.5).abs() < 1e-9,
        "{}",
        grow.slope
    );
    assert!(grow.p_value < 0.01);
    let flat = t.groups.iter().find(|g| g.group.count == 8).unwrap();
    assert_eq!(flat.verdict, Verdict::Benign, "{flat:#?}");
    assert!(trend_fails(&t, Verdict::Leak));
    // Three points cannot be significant: growth at each step is only suspect.
    let t = trend(&snaps[..3], &Options::default());
    assert_eq!(t.groups[0].verdict, Verdict::Suspect);
    // Two points: the trend alone says need-more-samples, as does the last snapshot's own
    // verdict (4 copies of one select loop in a live service).
    let t = trend(&snaps[..2], &Options::default());
    assert_eq!(t.groups[0].verdict, Verdict::NeedMoreSamples);
    assert!(
        t.groups[0].evidence[0].contains("too few"),
        "{:?}",
        t.groups[0].evidence
    );
}

#[test]
fn report_json_uses_the_documented_names() {
    let s = healthy()
        .leaks(3)
        .add(2, "chan receive (nil chan)", &[("main.nil", 1)], None)
        .snap();
    let r = &analyze(
        &[s],
        &Options {
            max_goids: 2,
            ..Options::default()
        },
    )[0];
    let v = serde_json::to_value(r).unwrap();
    assert_eq!(v["schema_version"], 2);
    assert_eq!(v["context"]["kind"], "live");
    assert!(v["relations"].as_array().is_some());
    assert_eq!(v["grouping"], "ignore_lines");
    let g = &v["groups"][0];
    assert_eq!(g["verdict"], "leak");
    assert_eq!(g["pattern"], "nil-chan");
    for k in [
        "id",
        "count",
        "status",
        "wait_reason",
        "wait_minutes",
        "top_frame",
        "blocking_site",
        "created_by",
        "labels",
        "stack",
        "goids",
        "goids_truncated",
        "proven",
        "explanation",
        "fix",
        "evidence",
        "next_step",
        "relations",
    ] {
        assert!(g.get(k).is_some(), "missing {k}");
    }
    let big = r.groups.iter().find(|g| g.count == 300).unwrap();
    assert_eq!((big.goids.len(), big.goids_truncated), (2, true));
    let back: goroscope_analyze::Report = serde_json::from_value(v).unwrap();
    assert_eq!(&back, r);
}

#[test]
fn similarity_levels_group_coarser_and_coarser() {
    let s = B::new()
        .add(
            2,
            "chan send",
            &[("main.send.func1", 10), ("main.a", 1)],
            Some("main.spawn"),
        )
        .add(
            3,
            "chan send",
            &[("main.send.func1", 11), ("main.b", 1)],
            Some("main.spawn"),
        )
        .add(
            4,
            "chan send",
            &[("main.send.func1", 10), ("main.a", 1)],
            Some("main.other"),
        )
        .add(1, "chan receive", &[("main.recv", 3)], Some("main.spawn"))
        .snap();
    let counts = |sim: Similarity| {
        let r = analyze(
            std::slice::from_ref(&s),
            &Options {
                similarity: sim,
                ..Options::default()
            },
        )
        .remove(0);
        let mut c: Vec<u64> = r.groups.iter().map(|g| g.count).collect();
        c.sort_unstable();
        c
    };
    assert_eq!(counts(Similarity::ExactStack), vec![1, 2, 3, 4]);
    // Lines and creators ignored: main.a and main.b callers still differ.
    assert_eq!(counts(Similarity::IgnoreLines), vec![1, 3, 6]);
    assert_eq!(counts(Similarity::BlockingSite), vec![1, 9]);
    assert_eq!(counts(Similarity::CreationSite), vec![1, 4, 5]);
}

/// Arbitrary snapshots (empty stacks, records, unknown reasons, leak profiles, no timestamps)
/// never panic, counts always add up, and ids are stable across runs.
#[test]
fn arbitrary_snapshots_analyse_without_panics() {
    const FUNCS: &[&str] = &[
        "runtime.gopark",
        "runtime.chanrecv1",
        "runtime.chanrecv2",
        "runtime.selectgo",
        "runtime.block",
        "sync.(*WaitGroup).Wait",
        "sync.(*Mutex).Lock",
        "internal/poll.runtime_pollWait",
        "net/http.(*conn).serve",
        "net/http.(*persistConn).readLoop",
        "net.(*TCPListener).Accept",
        "main.main",
        "main.f",
        "main.g.func1",
        "github.com/x/y.(*T).Run",
        "runtime.goexit",
        "",
    ];
    const STATES: &[&str] = &[
        "chan receive",
        "chan send (nil chan)",
        "select",
        "select (no cases)",
        "IO wait",
        "running",
        "frobnicating (leaked), 3 minutes",
        "sync.Mutex.Lock, 12 minutes",
        "semacquire",
        "",
        "idle",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut snaps = Vec::new();
    for round in 0..60 {
        let mut b = B::new();
        if round % 7 == 3 {
            b.0.source.kind = ProfileKind::GoroutineLeak;
        }
        for _ in 0..next(12) {
            let depth = next(6);
            let frames: Vec<(&str, u32)> = (0..depth)
                .map(|_| (FUNCS[next(FUNCS.len())], next(50) as u32))
                .collect();
            let state = STATES[next(STATES.len())];
            let created = [None, Some("main.main"), Some("main.f")][next(3)];
            if state.is_empty() {
                // A stateless record, as debug=1/protobuf give.
                let ids: Vec<_> = frames
                    .iter()
                    .map(|(f, l)| {
                        let function = b.0.interner.intern_str(f);
                        b.0.interner.intern_frame(Frame {
                            function,
                            file: goroscope_model::Interner::EMPTY,
                            line: *l,
                            offset: None,
                            inlined: false,
                        })
                    })
                    .collect();
                let stack = b.0.interner.intern_stack(&ids);
                b.0.records.push(goroscope_model::Record {
                    count: next(1000) as u64,
                    stack,
                    labels: goroscope_model::Interner::NO_LABELS,
                });
            } else {
                b = b.add(next(5), state, &frames, created);
            }
        }
        snaps.push(b.snap());
    }
    let opts = Options {
        max_goids: 3,
        ..Options::default()
    };
    for s in &snaps {
        let r = analyze(std::slice::from_ref(s), &opts);
        for r in &r {
            assert_eq!(
                r.groups.iter().map(|g| g.count).sum::<u64>(),
                r.total_goroutines
            );
            assert!(r.groups.iter().all(|g| g.goids.len() <= 3));
        }
        assert_eq!(r, analyze(std::slice::from_ref(s), &opts), "deterministic");
    }
    let all = analyze(&snaps, &opts);
    assert!(!all.is_empty());
    let _ = diff(&snaps[0], &snaps[1], &opts);
    let t = trend(&snaps, &opts);
    assert!(t
        .groups
        .iter()
        .all(|g| g.counts.len() == snaps.len() && g.p_value.is_finite() && g.slope.is_finite()));
    assert!(analyze(&[], &opts).is_empty());
    let empty = trend(&[], &opts);
    assert!(empty.groups.is_empty());
}

/// A stateless record (debug=1 / protobuf shape) for `b`'s snapshot.
fn record(b: &mut B, count: u64, frames: &[&str]) {
    let ids: Vec<_> = frames
        .iter()
        .map(|f| {
            let function = b.0.interner.intern_str(f);
            let file = b.0.interner.intern_str("main.go");
            b.0.interner.intern_frame(Frame {
                function,
                file,
                line: 7,
                offset: None,
                inlined: false,
            })
        })
        .collect();
    let stack = b.0.interner.intern_stack(&ids);
    b.0.records.push(goroscope_model::Record {
        count,
        stack,
        labels: goroscope_model::Interner::NO_LABELS,
    });
}

/// Go 1.27's goroutineleak profile lists main parked in `select {}` as a record of count 1
/// with no stack: it is no finding in the profile's own report, and it proves nothing (not even
/// a goroutine whose stack was unavailable) in another's; the reports say so.
#[test]
fn goroutineleak_record_without_a_stack_is_no_finding_and_proves_nothing() {
    let mut leak = B::new();
    leak.0.source.kind = ProfileKind::GoroutineLeak;
    leak.0.source.input = "leak.pb.gz".into();
    leak.0.source.format = Format::Proto;
    record(
        &mut leak,
        3,
        &["runtime.gopark", "runtime.chanrecv1", "main.recv"],
    );
    record(&mut leak, 1, &[]);
    let leak = leak.snap();

    let r = &analyze(std::slice::from_ref(&leak), &Options::default())[0];
    assert_eq!((r.summary.leaks, r.summary.proven_leaks), (1, 1), "{r:#?}");
    let empty = r.groups.iter().find(|g| g.stack.is_empty()).unwrap();
    assert_eq!((empty.verdict, empty.proven), (Verdict::Benign, false));
    assert_eq!(empty.evidence.len(), 1);
    assert!(empty.evidence[0].contains("select {}"), "{empty:#?}");
    assert_eq!((r.summary.suspects, r.summary.need_more_samples), (0, 0));

    // In debug=1 form (runtime frames hidden) the proven group's state is unknown; the
    // explanation says what was proven without naming a state it does not know.
    let mut d1 = B::new();
    d1.0.source.kind = ProfileKind::GoroutineLeak;
    d1.0.source.format = Format::Debug1;
    record(&mut d1, 3, &["main.recv"]);
    record(&mut d1, 1, &[]);
    let r = &analyze(&[d1.snap()], &Options::default())[0];
    let g = &r.groups[0];
    assert_eq!((g.verdict, g.proven, g.count), (Verdict::Leak, true, 3));
    assert_eq!(
        g.explanation.as_deref(),
        Some("the runtime proved nothing reachable can ever unblock these goroutines")
    );

    // In debug=1 form (runtime frames hidden) the proven group's state is unknown; the
    // explanation says what was proven without naming a state it does not know.
    let mut d1 = B::new();
    d1.0.source.kind = ProfileKind::GoroutineLeak;
    d1.0.source.format = Format::Debug1;
    record(&mut d1, 3, &["main.recv"]);
    record(&mut d1, 1, &[]);
    let r = &analyze(&[d1.snap()], &Options::default())[0];
    let g = &r.groups[0];
    assert_eq!((g.verdict, g.proven, g.count), (Verdict::Leak, true, 3));
    assert_eq!(
        g.explanation.as_deref(),
        Some("the runtime proved nothing reachable can ever unblock these goroutines")
    );

    // A dump with a goroutine whose stack was unavailable: the empty record must not prove it.
    let dump = B::new()
        .add(1, "running", &[], None)
        .add(3, "chan receive", &[("main.recv", 7)], Some("main.main"))
        .snap();
    let r = &analyze(&[dump, leak], &Options::default())[0];
    assert_eq!(r.summary.proven_leaks, 1, "{r:#?}");
    let unavailable = r.groups.iter().find(|g| g.stack.is_empty()).unwrap();
    assert!(!unavailable.proven, "{unavailable:#?}");
    assert_eq!(
        r.warnings
            .iter()
            .filter(|w| w.contains("leak.pb.gz") && w.contains("without a stack"))
            .count(),
        1,
        "{:?}",
        r.warnings
    );
}

/// A 160-deep recursion: the debug=2 dump elides its middle (innermost 50 and outermost 50
/// frames printed), the goroutineleak profile keeps the innermost 128 program counters. Their
/// whole signatures differ; the innermost frames prove it. A shallow stack sharing those
/// frames is not proven by them.
#[test]
fn deep_stacks_cut_short_differently_are_still_proven() {
    let mut inner = vec![("main.walk", 28)];
    inner.extend(std::iter::repeat_n(("main.walk", 30), 49));
    let mut printed = inner.clone();
    printed.extend(std::iter::repeat_n(("main.walk", 30), 49));
    printed.push(("main.main.func2", 60));
    let shallow: Vec<_> = inner[..40].to_vec();
    let dump = B::new()
        .add(3, "chan receive", &printed, Some("main.main"))
        .add(2, "chan receive", &shallow, Some("main.other"))
        .snap();
    let mut leak = B::new();
    leak.0.source.kind = ProfileKind::GoroutineLeak;
    let mut profiled = vec!["runtime.gopark", "runtime.chanrecv", "runtime.chanrecv1"];
    profiled.extend(std::iter::repeat_n("main.walk", 125));
    record(&mut leak, 3, &profiled);
    let r = &analyze(&[dump, leak.snap()], &Options::default())[0];
    let deep = r.groups.iter().find(|g| g.count == 3).unwrap();
    assert_eq!(
        (deep.verdict, deep.proven),
        (Verdict::Leak, true),
        "{deep:#?}"
    );
    assert!(
        deep.evidence[0].contains("innermost 32 frames"),
        "{deep:#?}"
    );
    let shallow = r.groups.iter().find(|g| g.count == 2).unwrap();
    assert!(!shallow.proven, "{shallow:#?}");
}

/// debug=1 hides the runtime frames: `main.f` waiting on a channel in one place and in a
/// select in another is one stateless group there, two groups with states in protobuf. Diff
/// and trend count them as one, both ways.
#[test]
fn diff_and_trend_match_a_stateless_group_with_its_stated_forms() {
    let proto = |recv: u64, sel: u64| {
        let mut b = B::new();
        b.0.source.format = Format::Proto;
        record(
            &mut b,
            recv,
            &["runtime.gopark", "runtime.chanrecv1", "main.f"],
        );
        record(
            &mut b,
            sel,
            &["runtime.gopark", "runtime.selectgo", "main.f"],
        );
        record(
            &mut b,
            4,
            &["runtime.gopark", "runtime.chansend1", "main.g"],
        );
        b.snap()
    };
    let debug1 = |n: u64| {
        let mut b = B::new();
        b.0.source.format = Format::Debug1;
        record(&mut b, n, &["main.f"]);
        record(&mut b, 4, &["main.g"]);
        b.snap()
    };
    let o = Options::default();
    let same = diff(&proto(3, 2), &debug1(5), &o);
    assert!(same.groups.is_empty(), "{:#?}", same.groups);
    assert_eq!(same.unchanged, 2);
    let grown = diff(&debug1(5), &proto(4, 2), &o);
    assert_eq!(grown.groups.len(), 1, "{:#?}", grown.groups);
    let g = &grown.groups[0];
    assert_eq!((g.change, g.before, g.after), (Change::Grown, 5, 6));
    assert!(
        g.group
            .evidence
            .iter()
            .any(|e| e.contains("counted as one")),
        "{g:#?}"
    );
    let t = trend(&[proto(3, 2), debug1(6), proto(5, 2), debug1(8)], &o);
    let f = t
        .groups
        .iter()
        .find(|g| g.group.stack.iter().any(|s| s.function == "main.f"))
        .unwrap();
    assert_eq!(f.counts, vec![5, 6, 7, 8]);
    assert_eq!(t.groups.len(), 2, "{:#?}", t.groups);
    // Without a stateless side nothing is merged: protobuf against protobuf keeps both states.
    let d = diff(&proto(3, 2), &proto(3, 3), &o);
    assert_eq!(d.groups.len(), 1);
    assert_eq!(d.groups[0].group.wait_reason.as_deref(), Some("select"));
}

#[test]
fn trend_says_which_groups_grow_and_orders_as_analyze() {
    // A nil-channel leak, certain from one snapshot, that stays at 2; a select loop that grows;
    // a flat pool.
    let snaps: Vec<Snapshot> = (0..5)
        .map(|i| {
            let mut s = healthy()
                .add(
                    2,
                    "chan receive (nil chan)",
                    &[("main.nilRecv.func1", 7)],
                    Some("main.nilRecv"),
                )
                .add(
                    1 + 2 * i,
                    "select",
                    &[("main.poll.func1", 3)],
                    Some("main.poll"),
                )
                .snap();
            s.taken_at = Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000 + 60 * i as u64));
            s
        })
        .collect();
    let t = trend(&snaps, &Options::default());
    let site = |g: &goroscope_analyze::TrendGroup| {
        g.group
            .blocking_site
            .as_ref()
            .map(|l| l.function.clone())
            .unwrap_or_default()
    };
    let grows = &t.groups[0];
    assert_eq!(site(grows), "main.poll.func1");
    assert!(
        grows.growing && grows.verdict == Verdict::Leak,
        "{grows:#?}"
    );
    let flat = &t.groups[1];
    assert_eq!(site(flat), "main.nilRecv.func1");
    assert_eq!(
        flat.verdict,
        Verdict::Leak,
        "a leak from one snapshot stays one"
    );
    assert!(!flat.growing, "but it does not grow: {flat:#?}");
    // The rest by verdict, then by size, as analyze orders.
    for w in t.groups.windows(2) {
        assert!(w[0].verdict.rank() >= w[1].verdict.rank());
    }
    assert!(t.groups.iter().skip(2).all(|g| !g.growing));
    assert!(t.warnings.is_empty());
}
