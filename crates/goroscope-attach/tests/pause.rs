//! `--pause`: every thread is stopped while reading (PTRACE_SEIZE + PTRACE_INTERRUPT), running
//! goroutines get stacks from their thread's registers, and the target always carries on
//! afterwards — also when goroscope is SIGKILLed while holding it stopped.
#![cfg(target_os = "linux")]

mod common;
use common::*;
use goroscope_attach::{attach_pid, AttachOptions};
use goroscope_model::Status;
use std::io::BufRead;
use std::process::{Command, Stdio};

fn proc_status(pid: u32) -> (String, String) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let get = |k: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap_or("")
            .trim()
            .to_string()
    };
    (get("State:"), get("TracerPid:"))
}

fn assert_running_untraced(pid: u32) {
    // Every thread: not traced, not stopped.
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let tid: u32 = t.unwrap().file_name().to_str().unwrap().parse().unwrap();
        let s = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).unwrap();
        let tracer = s
            .lines()
            .find_map(|l| l.strip_prefix("TracerPid:"))
            .unwrap()
            .trim();
        assert_eq!(tracer, "0", "thread {tid} still traced");
        let state = s
            .lines()
            .find_map(|l| l.strip_prefix("State:"))
            .unwrap()
            .trim();
        assert!(
            !state.starts_with('t') && !state.starts_with('T'),
            "thread {tid} left stopped: {state}"
        );
    }
}

#[test]
fn pause_mode_matches_debug2_and_reads_running_goroutines() {
    let tcs = installed();
    assert!(
        !tcs.is_empty(),
        "no Go toolchains installed: run scripts/install-go.sh"
    );
    for tc in &tcs {
        let exe = build("attach_basic", tc, false);
        let mut fx = Fixture::start(&exe, &[("GODEBUG", "tracebacklabels=1")]);
        let dump = parse_debug2(&fx.dump());
        fx.send("busy");
        fx.read_until("BUSY");
        let opts = AttachOptions {
            pause: true,
            ..Default::default()
        };
        let snap = attach_pid(fx.pid(), &opts).unwrap_or_else(|e| panic!("go{}: {e}", tc.version));
        assert_running_untraced(fx.pid());
        assert_eq!(snap.context, Some(goroscope_model::Context::Live));
        // The busy goroutine is new (not in the dump): tolerated; everything else is identical.
        let busy: Vec<u64> = snap
            .goroutines
            .iter()
            .filter(|g| !dump.iter().any(|d| d.goid == g.goid.0))
            .map(|g| g.goid.0)
            .collect();
        assert_eq!(busy.len(), 1, "go{}: new goroutines {busy:?}", tc.version);
        let mut skip = vec![1];
        skip.extend(&busy);
        let diffs = compare(
            &dump,
            &from_snapshot(&snap),
            &skip,
            dump.iter().any(|g| !g.labels.is_empty()),
        );
        assert!(diffs.is_empty(), "go{}: {}", tc.version, diffs.join("\n"));
        let b = snap
            .goroutines
            .iter()
            .find(|g| g.goid.0 == busy[0])
            .unwrap();
        // Stopped threads give running goroutines a stack (unless the thread was inside a signal
        // handler or the runtime at that instant, then it is reported unavailable).
        if b.status == Status::Running && !b.stack_unavailable {
            let top = snap.frame(snap.stack(b.stack)[0]);
            assert!(
                snap.str(top.file).ends_with("attach_basic/main.go"),
                "busy top frame {:?}",
                snap.function(snap.stack(b.stack)[0])
            );
        }
        eprintln!(
            "go{}: busy goroutine {} status {} stack {} frames",
            tc.version,
            b.goid,
            b.status,
            snap.stack(b.stack).len()
        );
        // The target carries on.
        assert!(!fx.dump().is_empty());
    }
}

/// Helper run in a child process by `sigkill_while_paused_leaves_target_running`: stops every
/// thread of `GOROSCOPE_HOLD_PID`, says HELD, and waits to be killed.
#[test]
#[ignore = "helper: run in a child process by sigkill_while_paused_leaves_target_running"]
fn hold_helper() {
    let pid = std::env::var("GOROSCOPE_HOLD_PID").expect("GOROSCOPE_HOLD_PID");
    let lock = goroscope_attach::ptrace::ThreadLock::stop_all(pid.parse().unwrap()).unwrap();
    println!("HELD {}", lock.thread_count());
    std::thread::sleep(std::time::Duration::from_secs(600));
}

#[test]
fn sigkill_while_paused_leaves_target_running() {
    let tcs = installed();
    assert!(
        !tcs.is_empty(),
        "no Go toolchains installed: run scripts/install-go.sh"
    );
    let tc = tcs.last().unwrap();
    let exe = build("attach_basic", tc, false);
    let mut fx = Fixture::start(&exe, &[]);
    let mut holder = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "hold_helper",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GOROSCOPE_HOLD_PID", fx.pid().to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(holder.stdout.take().unwrap());
    let mut holder = KillOnDrop(holder);
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "holder exited before HELD"
        );
        if line.contains("HELD ") {
            break;
        }
    }
    let (state, tracer) = proc_status(fx.pid());
    assert!(
        tracer != "0" && state.starts_with('t'),
        "target not held: state {state}, tracer {tracer}"
    );
    holder.0.kill().unwrap();
    holder.0.wait().unwrap();
    // The kernel detached the seized threads: the target answers again.
    assert!(!fx.dump().is_empty());
    assert_running_untraced(fx.pid());
}
