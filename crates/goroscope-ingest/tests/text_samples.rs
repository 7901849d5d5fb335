//! The text reader over real Go 1.27.3 outputs (`shared/research/go127-samples`).

use goroscope_ingest::{text, Options};
use goroscope_model::{Elision, Format, Goroutine, Snapshot, Status, WaitReason};
use std::path::PathBuf;

/// Always `Some`: goroscope-fixtures panics, naming where it looked, when the samples are
/// missing.
fn samples_dir() -> Option<PathBuf> {
    Some(goroscope_fixtures::shared_testdata(
        "research/go127-samples",
    ))
}

fn read(name: &str) -> Option<Vec<Snapshot>> {
    let dir = samples_dir()?;
    let bytes = std::fs::read(dir.join(name)).expect("sample readable");
    Some(text::read(name, &bytes[..], &Options::default()).expect("sample parses"))
}

fn one(name: &str) -> Option<Snapshot> {
    let mut v = read(name)?;
    assert_eq!(v.len(), 1, "{name}: one dump expected, got {}", v.len());
    v.pop()
}

fn g(s: &Snapshot, goid: u64) -> &Goroutine {
    s.goroutines
        .iter()
        .find(|g| g.goid.0 == goid)
        .unwrap_or_else(|| panic!("goroutine {goid} missing"))
}

fn top(s: &Snapshot, g: &Goroutine) -> String {
    s.function(s.stack(g.stack)[0]).to_string()
}

fn created_by(s: &Snapshot, g: &Goroutine) -> Option<String> {
    g.created_by.map(|f| s.function(f).to_string())
}

/// Counts of headers (from `grep -c '^goroutine [0-9]'`) for every sample that is a dump: its
/// goroutines plus its system stacks (`goroutine 0`, a thread's g0: kept apart, not counted).
const COUNTS: &[(&str, u64)] = &[
    ("goroutine_debug2.txt", 18),
    ("goroutineleak_debug2.txt", 18),
    ("goroutineleak_debug2_abspaths.txt", 18),
    ("panic_gotraceback_all.txt", 19),
    ("panic_gotraceback_all_nolabels.txt", 19),
    ("sigquit_default.txt", 10),
    ("sigquit_abspaths_head.txt", 3),
    ("sigquit_tracebackancestors.txt", 6),
    ("synctest_leak.txt", 2),
    ("wait_61s_0gc_debug2.txt", 5),
    ("wait_61s_1gc_debug2.txt", 5),
    ("wait_61s_2gc_debug2.txt", 5),
    ("fatal_deadlock.txt", 2),
    ("runtime_stack_all_after_leakgc.txt", 18),
];

#[test]
fn every_sample_has_all_its_goroutines() {
    for &(name, want) in COUNTS {
        let Some(v) = read(name) else { return };
        let total: u64 = v
            .iter()
            .map(|s| s.total_goroutines() + s.system_stacks.len() as u64)
            .sum();
        assert_eq!(total, want, "{name}");
        for s in &v {
            assert!(
                s.goroutines.iter().all(|g| g.goid.0 != 0),
                "{name}: goroutine 0 counted"
            );
        }
        for s in &v {
            assert!(!s.truncated, "{name} is complete");
            for g in &s.goroutines {
                assert!(
                    !s.stack(g.stack).is_empty() || g.stack_unavailable,
                    "{name}: goroutine {} has frames",
                    g.goid
                );
            }
        }
        // Trimmed samples say so with a `# [trimmed …]` line: known, so no noise warning.
        for s in &v {
            for w in &s.warnings {
                assert!(
                    !w.message.contains("skipped a line inside"),
                    "{name}: unexpected warning {w}"
                );
            }
        }
    }
}

#[test]
fn debug2_states_labels_creators() {
    let Some(s) = one("goroutine_debug2.txt") else {
        return;
    };
    assert_eq!(s.source.format, Format::Debug2);
    assert_eq!(s.source.line, Some(1));
    assert_eq!(s.reason, None);
    assert_eq!(s.go_version_min.as_deref(), Some("go1.27"));
    let g1 = g(&s, 1);
    assert_eq!(g1.status, Status::Running);
    assert_eq!(top(&s, g1), "runtime/pprof.writeGoroutineStacks");
    assert_eq!(created_by(&s, g1), None);
    let g8 = g(&s, 8);
    assert_eq!(g8.wait_reason, Some(WaitReason::ChanReceive));
    assert_eq!(created_by(&s, g8).as_deref(), Some("main.leakRecv"));
    assert_eq!(g8.creator_goid.map(|g| g.0), Some(1));
    let site = s.frame_site(g8.created_by.unwrap());
    assert_eq!(
        (site.file, site.line),
        ("example.com/gosamples/main.go", 24)
    );
    assert_eq!(s.frame(g8.created_by.unwrap()).offset, Some(0x67));
    assert_eq!(g(&s, 19).wait_reason, Some(WaitReason::ChanReceiveNilChan));
    let g21 = g(&s, 21);
    assert!(g21.locked_to_thread);
    assert_eq!(g21.wait_reason, Some(WaitReason::Sleep));
    for id in [22, 23, 24] {
        let l: Vec<_> = s.labels(g(&s, id).labels).collect();
        assert_eq!(l, vec![("handler", "/api/orders"), ("tenant", "acme corp")]);
        // `main.worker(...)` is inlined: no offset on its file line.
        let f = s.frame(s.stack(g(&s, id).stack)[0]);
        assert!(f.inlined && f.offset.is_none());
    }
    assert_eq!(s.labels(g(&s, 21).labels).count(), 0);
    // Goroutines with the same stack share it.
    assert_eq!(g(&s, 8).stack, g(&s, 12).stack);
    assert_ne!(g(&s, 8).stack, g(&s, 13).stack);
    let g18 = g(&s, 18);
    let fns: Vec<_> = s.stack(g18.stack).iter().map(|&f| s.function(f)).collect();
    assert_eq!(
        fns,
        [
            "internal/sync.runtime_SemacquireMutex",
            "internal/sync.(*Mutex).lockSlow",
            "internal/sync.(*Mutex).Lock",
            "sync.(*Mutex).Lock",
            "main.leakMutex.func1"
        ]
    );
}

#[test]
fn leaked_markers() {
    for name in [
        "goroutineleak_debug2.txt",
        "goroutineleak_debug2_abspaths.txt",
        "runtime_stack_all_after_leakgc.txt",
    ] {
        let Some(s) = one(name) else { return };
        let leaked = s.goroutines.iter().filter(|g| g.leaked).count();
        assert_eq!(leaked, 14, "{name}");
        assert!(s
            .goroutines
            .iter()
            .filter(|g| g.leaked)
            .all(|g| g.status == Status::Leaked));
        let g19 = g(&s, 19);
        assert_eq!(g19.wait_reason, Some(WaitReason::ChanReceiveNilChan));
        assert_eq!(s.str(g19.state), "chan receive (nil chan)");
        assert_eq!(g(&s, 16).wait_reason, Some(WaitReason::SyncWaitGroupWait));
        assert!(
            !g(&s, 20).leaked,
            "{name}: the healthy waiter is not leaked"
        );
        assert_eq!(s.go_version_min.as_deref(), Some("go1.27"));
    }
}

#[test]
fn panic_with_labels() {
    for name in [
        "panic_gotraceback_all.txt",
        "panic_gotraceback_all_nolabels.txt",
    ] {
        let Some(s) = one(name) else { return };
        assert_eq!(s.source.format, Format::Traceback);
        assert_eq!(s.reason.as_deref(), Some("panic: boom"));
        assert_eq!(s.source.line, Some(1));
        let first = if name.contains("nolabels") { 38 } else { 5 };
        assert_eq!(s.goroutines[0].goid.0, first);
        assert_eq!(s.goroutines[0].status, Status::Running);
        assert_eq!(s.goroutines[1].goid.0, 1);
        let labeled = s
            .goroutines
            .iter()
            .filter(|g| s.labels(g.labels).count() == 2);
        assert_eq!(
            labeled.count(),
            if name.contains("nolabels") { 0 } else { 3 }
        );
    }
}

#[test]
fn sigquit_headers_and_registers() {
    let Some(s) = one("sigquit_default.txt") else {
        return;
    };
    assert_eq!(s.reason.as_deref(), Some("SIGQUIT: quit"));
    assert_eq!(s.source.format, Format::Traceback);
    let g1 = g(&s, 1);
    assert_eq!(g1.gp, Some(0x208f5a3ac1e0));
    assert_eq!(g1.m, None);
    assert_eq!(top(&s, g1), "runtime.gopark");
    let fr = s.frame(s.stack(g1.stack)[0]);
    assert_eq!(
        (s.str(fr.file), fr.line, fr.offset),
        ("runtime/proc.go", 474, Some(0xca))
    );
    // `runtime.goexit({})` is printed in GOTRACEBACK=system dumps.
    let last = *s.stack(g1.stack).last().unwrap();
    assert_eq!(s.function(last), "runtime.goexit");
    assert_eq!(s.go_version_min.as_deref(), Some("go1.22"));

    let Some(h) = one("sigquit_abspaths_head.txt") else {
        return;
    };
    // `goroutine 0` is the thread's g0: a system stack, not a goroutine.
    assert_eq!(h.total_goroutines(), 2);
    let g0 = &h.system_stacks[0];
    assert_eq!((g0.goid.0, g0.gp, g0.m), (0, Some(0xac8f20), Some(0)));
    assert_eq!(g0.status, Status::Idle);
    assert_eq!(top(&h, g0), "runtime.futex");
    let g2 = g(&h, 2);
    assert_eq!(g2.wait_reason, Some(WaitReason::ForceGcIdle));
    assert_eq!(created_by(&h, g2).as_deref(), Some("runtime.init.7"));
    let f = h.frame_site(h.stack(g0.stack)[0]);
    assert_eq!(f.file, "/usr/local/go/src/runtime/sys_linux_amd64.s");
}

#[test]
fn traceback_ancestors() {
    let Some(s) = one("sigquit_tracebackancestors.txt") else {
        return;
    };
    let g8 = g(&s, 8);
    assert_eq!(g8.ancestors.len(), 1);
    let a = &g8.ancestors[0];
    assert_eq!(a.goid.0, 1);
    let fns: Vec<_> = s.stack(a.stack).iter().map(|&f| s.function(f)).collect();
    assert_eq!(fns[0], "runtime.systemstack_switch");
    assert_eq!(fns.len(), 6);
    // Ancestor frames are printed with `(...)` but have offsets: not inlined.
    assert!(!s.frame(s.stack(a.stack)[0]).inlined);
    assert_eq!(created_by(&s, g8).as_deref(), Some("main.leakRecv"));
    assert_eq!(g8.creator_goid.map(|g| g.0), Some(1));
    // The main stack is not polluted by ancestor frames.
    assert_eq!(top(&s, g8), "runtime.gopark");
    assert_eq!(
        s.function(*s.stack(g8.stack).last().unwrap()),
        "runtime.goexit"
    );
}

#[test]
fn synctest_and_repanicked() {
    let Some(s) = one("synctest_leak.txt") else {
        return;
    };
    assert_eq!(
        s.reason.as_deref(),
        Some("panic: deadlock: main bubble goroutine has exited but blocked goroutines remain [recovered, repanicked]")
    );
    let g22 = g(&s, 22);
    assert_eq!(g22.synctest_bubble, Some(1));
    assert_eq!(g22.wait_reason, Some(WaitReason::SynctestChanSend));
    assert_eq!(g22.creator_goid.map(|g| g.0), Some(21));
    assert_eq!(
        created_by(&s, g(&s, 19)).as_deref(),
        Some("testing.(*T).Run")
    );
    assert_eq!(s.go_version_min.as_deref(), Some("go1.24"));
}

#[test]
fn wait_minutes_and_a_trailing_debug1_profile() {
    let Some(s0) = one("wait_61s_0gc_debug2.txt") else {
        return;
    };
    assert!(s0.goroutines.iter().all(|g| g.wait_minutes.is_none()));
    let Some(s2) = one("wait_61s_2gc_debug2.txt") else {
        return;
    };
    assert_eq!(g(&s2, 19).wait_minutes, Some(1));
    assert_eq!(g(&s2, 22).wait_minutes, Some(1));
    assert_eq!(g(&s2, 22).wait_reason, Some(WaitReason::Sleep));
    assert!(
        s2.warnings.iter().any(|w| w.message.contains("debug=1")),
        "the appended goroutineleak debug=1 profile is reported: {:?}",
        s2.warnings
    );
}

#[test]
fn fatal_deadlock() {
    let Some(s) = one("fatal_deadlock.txt") else {
        return;
    };
    assert_eq!(
        s.reason.as_deref(),
        Some("fatal error: all goroutines are asleep - deadlock!")
    );
    assert_eq!(g(&s, 1).wait_reason, Some(WaitReason::SyncWaitGroupWait));
    assert_eq!(g(&s, 18).wait_reason, Some(WaitReason::ChanSend));
    assert_eq!(g(&s, 18).elided, Elision::None);
}

#[test]
fn race_report_is_not_a_dump() {
    let Some(dir) = samples_dir() else { return };
    let bytes = std::fs::read(dir.join("race_detector.txt")).unwrap();
    let e = text::read("race.txt", &bytes[..], &Options::default()).unwrap_err();
    assert!(e.to_string().contains("race detector report"), "{e}");
    assert!(e.to_string().starts_with("race.txt"), "{e}");
}
