//! `run_and_snapshot` and the end of a program: it waits only for its own children, forwards
//! the signals goroscope gets and reads the program after its own shutdown ran, reads a
//! process only when the process (not one of its threads) exits, and does not read a child
//! that shares its parent's memory (`fixtures/go/attach_exit`).
//!
//! The command's environment is set through `env VAR=… PROGRAM`, never in this process (tests
//! run in parallel threads).
#![cfg(target_os = "linux")]

mod common;
use common::*;
use goroscope_attach::{run_and_snapshot, AttachOptions};
use goroscope_model::{Context, Snapshot};
use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

fn has_function(s: &Snapshot, name: &str) -> bool {
    s.goroutines
        .iter()
        .any(|g| s.stack(g.stack).iter().any(|&f| s.function(f) == name))
}

fn env_cmd(vars: &[(&str, &str)], exe: &Path) -> Vec<OsString> {
    let mut c: Vec<OsString> = vec!["env".into()];
    c.extend(vars.iter().map(|(k, v)| OsString::from(format!("{k}={v}"))));
    c.push(exe.as_os_str().to_owned());
    c
}

fn newest() -> Toolchain {
    let tcs = installed();
    tcs.last()
        .cloned()
        .expect("no Go toolchains installed: run scripts/install-go.sh")
}

/// Issue 7, item 6: another child of the calling process that exits meanwhile is left for its
/// owner to reap (`waitpid(-1)` used to reap it, and the owner's wait then failed).
#[test]
fn run_leaves_other_children_alone() {
    let exe = build("attach_exit", &newest(), false);
    let mut other = std::process::Command::new("true").spawn().unwrap();
    // Wait (by looking) until it is a zombie, ready to be reaped by anyone who waits for it.
    let stat = format!("/proc/{}/stat", other.id());
    let t = Instant::now();
    while !std::fs::read_to_string(&stat)
        .unwrap_or_default()
        .rsplit_once(") ")
        .is_some_and(|(_, r)| r.starts_with('Z'))
    {
        assert!(t.elapsed() < Duration::from_secs(30), "`true` did not exit");
        std::thread::yield_now();
    }
    let out = run_and_snapshot(
        &env_cmd(&[("ATTACH_EXIT_NOW", "1")], &exe),
        &AttachOptions::default(),
    )
    .unwrap();
    assert_eq!(out.exit_code, 0);
    let st = other
        .try_wait()
        .expect("the other child was reaped by run_and_snapshot")
        .expect("the other child has exited");
    assert!(st.success());
}

/// Issue 7, item 14: Go's pidfd probe (a `clone(CLONE_VM|CLONE_VFORK)` child that exits
/// without exec, Go 1.23+) is not reported as a second process with the parent's goroutines.
#[test]
fn run_reads_the_process_once_not_its_memory_sharing_child() {
    let exe = build("attach_exit", &newest(), false);
    let out = run_and_snapshot(
        &env_cmd(
            &[("ATTACH_EXIT_NOW", "1"), ("ATTACH_EXEC", "/bin/true")],
            &exe,
        ),
        &AttachOptions::default(),
    )
    .unwrap();
    assert_eq!(out.exit_code, 0);
    assert_eq!(
        out.snapshots.len(),
        1,
        "snapshots of {:?}; skipped {:?}",
        out.snapshots
            .iter()
            .map(|s| s.process.as_ref().and_then(|p| p.pid))
            .collect::<Vec<_>>(),
        out.skipped
    );
    let s = &out.snapshots[0];
    assert_eq!(s.context, Some(Context::Exit));
    assert!(has_function(s, "main.leakForever"));
}

/// Issue 7, item 8: SIGTERM to goroscope reaches the command, whose own shutdown runs; the
/// snapshot is taken when it exits (after the shutdown started another goroutine), and its
/// exit status is kept. The goroutine whose locked thread ended before READY did not make
/// the process look like it exited then.
#[test]
fn sigterm_is_forwarded_and_the_shutdown_is_read() {
    let exe = build("attach_exit", &newest(), false);
    let dir = std::env::temp_dir().join(format!("goroscope-run-exit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ready = dir.join("ready");
    let cleanup = dir.join("cleanup");
    let _ = std::fs::remove_file(&ready);
    let cmd = env_cmd(
        &[
            ("ATTACH_READY_FILE", ready.to_str().unwrap()),
            ("ATTACH_CLEANUP_FILE", cleanup.to_str().unwrap()),
        ],
        &exe,
    );
    let signaller = {
        let ready = ready.clone();
        std::thread::spawn(move || {
            let t = Instant::now();
            while !ready.exists() {
                assert!(t.elapsed() < Duration::from_secs(60), "no READY file");
                std::thread::sleep(Duration::from_millis(5));
            }
            nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGTERM)
                .unwrap();
        })
    };
    let out = run_and_snapshot(&cmd, &AttachOptions::default()).unwrap();
    signaller.join().unwrap();
    assert_eq!(out.exit_code, 3, "skipped: {:?}", out.skipped);
    let text = std::fs::read_to_string(&cleanup).expect("the program's shutdown did not run");
    assert_eq!(text.trim(), "CLEANUP terminated 1");
    assert_eq!(out.snapshots.len(), 1, "skipped {:?}", out.skipped);
    let s = &out.snapshots[0];
    assert_eq!(s.context, Some(Context::Exit));
    assert!(has_function(s, "main.leakForever"));
    assert!(has_function(s, "main.shutdownStraggler"));
    let _ = std::fs::remove_dir_all(&dir);
}
