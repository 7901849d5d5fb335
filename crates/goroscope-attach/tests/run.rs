//! `run_and_snapshot`: every Go process the command starts is snapshotted at its exit stop.
//! One test function on purpose: it sets this process's working directory and environment
//! for the commands it runs.
#![cfg(target_os = "linux")]

mod common;
use common::*;
use goroscope_attach::{run_and_snapshot, AttachOptions};
use std::ffi::OsString;

#[test]
fn run_snapshots_go_processes_at_exit() {
    let tcs = installed();
    assert!(
        !tcs.is_empty(),
        "no Go toolchains installed: run scripts/install-go.sh"
    );
    let tc = tcs.last().unwrap();

    // 1. A Go program that exits with goroutines still parked; its exit status is kept.
    let exe = build("attach_basic", tc, false);
    std::env::set_var("ATTACH_EXIT_CODE", "3");
    let out = run_and_snapshot(&[exe.clone().into_os_string()], &AttachOptions::default()).unwrap();
    std::env::remove_var("ATTACH_EXIT_CODE");
    assert_eq!(out.exit_code, 3);
    assert_eq!(out.snapshots.len(), 1, "skipped: {:?}", out.skipped);
    let snap = &out.snapshots[0];
    assert!(
        snap.goroutines.len() >= 22,
        "{} goroutines",
        snap.goroutines.len()
    );
    assert!(snap.goroutines.iter().any(|g| snap
        .stack(g.stack)
        .iter()
        .any(|&f| snap.function(f) == "main.recurse")));

    // 2. `go test` on a leaking package: the test binary (a grandchild) is found and its
    //    leaked goroutine is in its snapshot; the clean package's binary has none.
    let run_go_test = |pkg: &str| {
        let cmd: Vec<OsString> = vec![
            tc.go.clone().into_os_string(),
            "test".into(),
            "-count=1".into(),
            format!("./{pkg}").into(),
        ];
        std::env::set_current_dir(repo().join("fixtures/go")).unwrap();
        for (k, v) in [
            ("GOTOOLCHAIN", "local"),
            ("GOPROXY", "off"),
            ("CGO_ENABLED", "0"),
        ] {
            std::env::set_var(k, v);
        }
        let out = run_and_snapshot(&cmd, &AttachOptions::default()).unwrap();
        let test_bin: Vec<_> = out
            .snapshots
            .iter()
            .filter(|s| {
                s.process
                    .as_ref()
                    .and_then(|p| p.executable.as_deref())
                    .is_some_and(|e| e.ends_with(&format!("{pkg}.test")))
            })
            .collect();
        assert_eq!(
            test_bin.len(),
            1,
            "{pkg}: snapshots of {:?}",
            out.snapshots
                .iter()
                .map(|s| s.process.clone())
                .collect::<Vec<_>>()
        );
        // The go command, compiler, linker and vet are skipped: only the test binary is read.
        assert_eq!(out.snapshots.len(), 1, "{pkg}: skipped {:?}", out.skipped);
        assert!(out
            .skipped
            .iter()
            .any(|(_, why)| why.contains("Go toolchain command")));
        (out.exit_code, test_bin[0].clone())
    };
    let (code, leaky) = run_go_test("attach_leaktest");
    assert_eq!(code, 0);
    let leaked: Vec<_> = leaky
        .goroutines
        .iter()
        .filter(|g| {
            leaky.stack(g.stack).iter().any(|&f| {
                leaky
                    .function(f)
                    .starts_with("goroscope.test/fixtures/attach_leaktest.startWorker")
            })
        })
        .collect();
    assert_eq!(leaked.len(), 1, "leaked goroutines of TestLeaks");
    let (code, clean) = run_go_test("attach_cleantest");
    assert_eq!(code, 0);
    assert!(
        !clean.goroutines.iter().any(|g| clean
            .stack(g.stack)
            .iter()
            .any(|&f| clean.function(f).contains("attach_cleantest"))),
        "clean package left goroutines"
    );
}
