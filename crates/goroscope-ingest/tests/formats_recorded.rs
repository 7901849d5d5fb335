//! Recorded real outputs of the forms found in the wild (made by `fixtures/go/traceback-forms`
//! and `fixtures/gotest/timeout` with Go 1.21.13 and 1.27.3, paths anonymised; kept in the fuzz
//! corpus), read without a Go toolchain: `formats_wild.rs` makes them afresh with every release.

#[path = "pprof_common/mod.rs"]
mod pprof_common;

use goroscope_ingest::{read_reader, text, Options};
use goroscope_model::{Context, Snapshot};
use std::collections::BTreeSet;

fn corpus(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus/text")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn read(name: &str) -> (String, Vec<Snapshot>) {
    let text = corpus(name);
    let snaps =
        read_reader(name, text.as_bytes(), &Options::default()).unwrap_or_else(|e| panic!("{e}"));
    (text, snaps)
}

fn has(s: &Snapshot, goid: u64, function: &str) -> bool {
    s.goroutines
        .iter()
        .any(|g| g.goid.0 == goid && s.stack(g.stack).iter().any(|&f| s.function(f) == function))
}

#[test]
fn crash_dumps_with_thread_sections_are_one_snapshot() {
    for name in ["crash_threads_go121.txt", "crash_threads_go127.txt"] {
        let (text, snaps) = read(name);
        assert_eq!(snaps.len(), 1, "{name}");
        let s = &snaps[0];
        assert_eq!(s.reason.as_deref(), Some("SIGQUIT: quit"), "{name}");
        assert_eq!(s.context, Some(Context::Crash), "{name}");
        let g0 = text
            .lines()
            .filter(|l| l.starts_with("goroutine 0 "))
            .count();
        assert!(g0 >= 3, "{name}");
        assert_eq!(s.system_stacks.len(), g0, "{name}");
        let ids: BTreeSet<u64> = text
            .lines()
            .filter_map(|l| l.strip_prefix("goroutine "))
            .filter_map(|r| r.split(' ').next()?.parse().ok())
            .filter(|&id: &u64| id != 0)
            .collect();
        assert_eq!(s.goroutines.len(), ids.len(), "{name}");
        assert!(s.warnings.is_empty(), "{name}: {:?}", s.warnings);
        // The spinning goroutine 10 is there once, with its stack.
        assert!(has(s, 10, "main.busy"), "{name}");
        assert!(s.goroutines.iter().all(|g| !g.stack_unavailable), "{name}");
    }
    // In the 1.21 dump, goroutine 10 was "running on other thread; stack unavailable" in the
    // main section: its thread's section filled it in.
    let text = corpus("crash_threads_go121.txt");
    assert!(text.contains("goroutine 10 [running]:\n\tgoroutine running on other thread"));
}

#[test]
fn a_go_test_json_stream_gives_one_snapshot_per_timed_out_package() {
    let (text, snaps) = read("gotest_timeout_go127.json");
    let lines: Vec<&str> = text.lines().collect();
    let got: Vec<(String, Vec<String>, usize)> = snaps
        .iter()
        .map(|s| {
            assert_eq!(s.context, Some(Context::Test));
            assert_eq!(s.reason.as_deref(), Some("panic: test timed out after 3s"));
            let at = lines[s.source.line.unwrap() as usize - 1];
            assert!(at.contains("panic: test timed out"), "{at}");
            let t = s.test.clone().unwrap();
            (t.package.unwrap(), t.tests, s.goroutines.len())
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "goroscope.test/gotest/timeout/a".to_string(),
                vec![
                    "TestPoolHangs/first".to_string(),
                    "TestPoolHangs/second".to_string()
                ],
                6
            ),
            (
                "goroscope.test/gotest/timeout/b".to_string(),
                vec!["TestWaits".to_string()],
                3
            )
        ]
    );
}

#[test]
fn contexts_of_real_go127_reports() {
    let dir = pprof_common::samples_dir().expect("the Go 1.27 samples");
    for (name, want) in [
        ("fatal_deadlock.txt", Some(Context::Deadlock)),
        // A testing/synctest bubble's deadlock, which the runtime reports as a panic.
        ("synctest_leak.txt", Some(Context::Deadlock)),
        ("panic_gotraceback_all.txt", Some(Context::Crash)),
        ("sigquit_default.txt", Some(Context::Crash)),
        ("goroutine_debug2.txt", None),
    ] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let snaps = text::read(name, &bytes[..], &Options::default()).unwrap();
        assert_eq!(snaps[0].context, want, "{name}");
    }
}
