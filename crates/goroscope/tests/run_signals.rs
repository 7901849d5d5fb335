//! `goroscope run` and Ctrl-C (issue 7, item 8): a SIGINT to the whole process group (what a
//! terminal sends) reaches the program once, its own shutdown runs, goroscope reports what was
//! left at exit and exits with the program's status (or 1 for findings).
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn ctrl_c_to_the_group_runs_the_programs_shutdown_and_is_reported() {
    let tc = goroscope_fixtures::toolchains()
        .pop()
        .expect("toolchains() panics when there is none");
    let exe = goroscope_fixtures::build("attach_exit", &tc);
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("goroscope"))
        .args(["run", "--all", "--fail-on", "leak", "-o", "json", "--"])
        .arg(&exe)
        .env("NO_COLOR", "1")
        .env_remove("GOROSCOPE_LOG")
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let group = format!("-{}", child.id());
    // A watchdog: a hang fails the test instead of holding it forever.
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let watchdog = {
        let group = group.clone();
        std::thread::spawn(move || {
            if done_rx.recv_timeout(Duration::from_secs(120)).is_err() {
                let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            }
        })
    };
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while line.trim() != "READY" {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "no READY from the program"
        );
    }
    // Ctrl-C the way a terminal sends it: to every process of the foreground group.
    let st = Command::new("kill")
        .args(["-INT", "--", &group])
        .status()
        .unwrap();
    assert!(st.success());
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    let _ = done_tx.send(());
    watchdog.join().unwrap();

    // The program's own handler ran, once.
    assert!(
        rest.lines().any(|l| l == "CLEANUP interrupt 1"),
        "stdout: {rest}\nstderr: {err}"
    );
    let json = &rest[rest.find('{').expect("a JSON report")..];
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let functions: Vec<&str> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["top_frame"]["function"].as_str())
        .collect();
    // Read as it exited: the goroutine its shutdown started is there too.
    for f in ["main.leakForever", "main.shutdownStraggler"] {
        assert!(functions.contains(&f), "{f} missing from {functions:?}");
    }
    let leaks = v["summary"]["leaks"].as_u64().unwrap();
    let want = if leaks > 0 { 1 } else { 3 };
    assert_eq!(status.code(), Some(want), "stderr: {err}");
}
