//! Dump forms found in the wild, made by real Go programs with every installed Go release:
//!
//! * `go test -json` (test2json) of two packages whose tests time out: the dumps inside the
//!   `Output` events, one snapshot per package, with the package and tests as context, also
//!   when the two packages' events interleave line by line;
//! * `GOTRACEBACK=crash` SIGQUIT and SIGABRT of `fixtures/go/traceback-forms`: one snapshot,
//!   whose per-thread sections' `goroutine 0` stacks are system stacks, and whose goroutine
//!   running on another thread gets its stack from its thread's section;
//! * a runtime-declared deadlock: the `Deadlock` context, and the channel words of a pipeline
//!   whose stages wait on each other;
//! * the same outputs as a terminal shows them: behind a shell prompt, behind `^\`.
//!
//! Frame arguments are checked against addresses the program prints itself.
//! Needs the Go releases of `scripts/install-go.sh`; a missing one fails loudly.

use goroscope_fixtures::{build, go_command, repo_root, toolchains, Toolchain};
use goroscope_ingest::{read_reader, Options};
use goroscope_model::{Context, Goroutine, Snapshot};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn read(name: &str, bytes: &[u8]) -> Vec<Snapshot> {
    read_reader(name, bytes, &Options::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn functions(s: &Snapshot, g: &Goroutine) -> Vec<String> {
    s.stack(g.stack)
        .iter()
        .map(|&f| s.function(f).to_string())
        .collect()
}

/// The first word kept of the frame of `g` whose function ends with `suffix`.
fn first_word(s: &Snapshot, g: &Goroutine, suffix: &str) -> Option<u64> {
    let stack = s.stack(g.stack);
    s.frame_args(g)
        .find(|f| s.function(stack[f.frame]).ends_with(suffix))
        .and_then(|f| f.words.first().copied())
}

// ---- go test -json ------------------------------------------------------------------------

/// `go test -json -timeout 5s ./...` of fixtures/gotest/timeout: its stdout.
fn go_test_json(tc: &Toolchain) -> Vec<u8> {
    let out = go_command(tc)
        .args(["test", "-json", "-timeout", "5s", "./..."])
        .current_dir(repo_root().join("fixtures/gotest/timeout"))
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("go {}: go test: {e}", tc.version));
    assert!(
        !out.status.success(),
        "go {}: the hanging tests passed?",
        tc.version
    );
    out.stdout
}

/// The events of two packages interleaved line by line (as a CI log merging parallel jobs
/// could hold them).
fn interleave(json: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(json);
    let mut by_pkg: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for l in text.lines() {
        let pkg = l
            .split("\"Package\":\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("")
            .to_string();
        by_pkg.entry(pkg).or_default().push(l);
    }
    let mut lists: Vec<std::vec::IntoIter<&str>> =
        by_pkg.into_values().map(|v| v.into_iter()).collect();
    let mut out = String::new();
    loop {
        let mut any = false;
        for it in &mut lists {
            if let Some(l) = it.next() {
                out.push_str(l);
                out.push('\n');
                any = true;
            }
        }
        if !any {
            return out.into_bytes();
        }
    }
}

fn check_test_json(what: &str, json: &[u8]) -> Vec<(String, Vec<String>, usize)> {
    let snaps = read(what, json);
    let lines: Vec<&str> = std::str::from_utf8(json).unwrap().lines().collect();
    assert_eq!(snaps.len(), 2, "{what}: one dump per package");
    let mut seen = Vec::new();
    for s in &snaps {
        let t = s.test.as_ref().expect("test context");
        let pkg = t.package.clone().expect("package");
        assert_eq!(s.context, Some(Context::Test), "{what}: {pkg}");
        assert_eq!(
            s.reason.as_deref(),
            Some("panic: test timed out after 5s"),
            "{what}: {pkg}"
        );
        // The snapshot's line is the JSON line of its first line of output.
        let at = lines[s.source.line.unwrap() as usize - 1];
        assert!(at.contains("panic: test timed out"), "{what}: {at}");
        assert!(at.contains(&pkg), "{what}: {at}");
        assert!(s.warnings.is_empty(), "{what}: {:?}", s.warnings);
        if pkg.ends_with("/a") {
            assert!(
                t.tests.iter().any(|n| n == "TestPoolHangs/first"),
                "{what}: {t:?}"
            );
            // The Get holding the lock waits on its channel; the second waits for the lock.
            let gets: Vec<&Goroutine> = s
                .goroutines
                .iter()
                .filter(|g| functions(s, g).iter().any(|f| f.ends_with("a.(*Pool).Get")))
                .collect();
            assert_eq!(gets.len(), 2, "{what}");
            let states: BTreeSet<&str> = gets.iter().map(|g| s.str(g.state)).collect();
            assert!(states.contains("chan receive"), "{what}: {states:?}");
            // Both run Get on the same pool: the receiver word of the lock's waiter is the
            // address of the pool whose mutex it waits for (the mutex is its first field).
            let lock_waiter = gets
                .iter()
                .find(|g| s.str(g.state) != "chan receive")
                .expect("a Get waiting for the lock");
            let lock = first_word(s, lock_waiter, "(*Mutex).lockSlow").expect("lockSlow word");
            let stack = s.stack(lock_waiter.stack);
            let get = s
                .frame_args(lock_waiter)
                .find(|f| s.function(stack[f.frame]).ends_with("a.(*Pool).Get"));
            // A register-ABI receiver may be stale (printed with `?`); printed for sure, it is
            // the pool whose mutex (its first field) the goroutine waits for.
            if let Some(f) = get.filter(|f| !f.uncertain(0)) {
                assert_eq!(f.words[0], lock, "{what}");
            }
        } else {
            assert_eq!(t.tests, ["TestWaits"], "{what}");
        }
        seen.push((pkg, t.tests.clone(), s.goroutines.len()));
    }
    seen.sort();
    seen
}

#[test]
fn go_test_json_streams_with_timeouts() {
    for tc in toolchains() {
        let json = go_test_json(&tc);
        let what = format!("go{} go test -json", tc.version);
        let plain = check_test_json(&what, &json);
        let mixed = check_test_json(&format!("{what}, interleaved"), &interleave(&json));
        assert_eq!(plain, mixed, "{what}");
        eprintln!("{what}: {plain:?}");
    }
}

// ---- crash dumps ----------------------------------------------------------------------------

/// Runs `traceback-forms wait` with GOTRACEBACK=crash, waits for READY, sends `signal`, and
/// returns (stderr, the ADDR lines).
fn crash(tc: &Toolchain, signal: &str) -> (String, BTreeMap<String, u64>) {
    let bin = build("traceback-forms", tc);
    let mut child = Command::new(&bin)
        .arg("wait")
        .env("GOTRACEBACK", "crash")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut addrs = BTreeMap::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) if l == "READY" => break,
            Ok(l) => {
                let w: Vec<&str> = l.split_whitespace().collect();
                if let ["ADDR", name, hex] = w[..] {
                    let v = u64::from_str_radix(hex.trim_start_matches("0x"), 16).unwrap();
                    addrs.insert(name.to_string(), v);
                }
            }
            Err(_) => {
                let _ = child.kill();
                panic!("go {}: no READY: {}", tc.version, err.join().unwrap());
            }
        }
    }
    let st = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("go {}: no exit after SIG{signal}", tc.version);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (err.join().unwrap(), addrs)
}

fn check_crash(tc: &Toolchain, signal: &str, text: &str, addrs: &BTreeMap<String, u64>) {
    let what = format!("go{} GOTRACEBACK=crash SIG{signal}", tc.version);
    let snaps = read(&what, text.as_bytes());
    assert_eq!(
        snaps.len(),
        1,
        "{what}: one snapshot, thread sections included"
    );
    let s = &snaps[0];
    let marker = if signal == "QUIT" {
        "SIGQUIT: quit"
    } else {
        "SIGABRT: abort"
    };
    assert_eq!(s.reason.as_deref(), Some(marker), "{what}");
    assert_eq!(s.context, Some(Context::Crash), "{what}");
    // Thread sections: one `goroutine 0` system stack per thread, none counted.
    let sections = text.matches("\n-----\n").count();
    assert!(sections >= 1, "{what}: per-thread sections");
    let g0 = text
        .lines()
        .filter(|l| l.starts_with("goroutine 0 ") && l.ends_with(':'))
        .count();
    assert!(g0 >= sections, "{what}");
    assert_eq!(s.system_stacks.len(), g0, "{what}");
    assert!(s
        .system_stacks
        .iter()
        .all(|g| g.goid.0 == 0 && !s.stack(g.stack).is_empty()));
    let ids: BTreeSet<u64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("goroutine "))
        .filter_map(|r| r.split(' ').next()?.parse::<u64>().ok())
        .filter(|&id| id != 0)
        .collect();
    let got: Vec<u64> = s.goroutines.iter().map(|g| g.goid.0).collect();
    assert_eq!(got.len(), ids.len(), "{what}: each goroutine once: {got:?}");
    assert_eq!(got.iter().copied().collect::<BTreeSet<_>>(), ids, "{what}");
    // The spinning goroutine: when the main section could not show its stack, its thread's
    // section did, and that is what is kept.
    let busy = s
        .goroutines
        .iter()
        .find(|g| functions(s, g).iter().any(|f| f == "main.busy") || g.stack_unavailable);
    if let Some(b) = busy {
        let printed_again = text
            .lines()
            .filter(|l| l.starts_with(&format!("goroutine {} ", b.goid)))
            .count()
            > 1;
        if printed_again {
            assert!(!b.stack_unavailable, "{what}: goroutine {}", b.goid);
            assert!(functions(s, b).iter().any(|f| f == "main.busy"), "{what}");
        }
    }
    // The lock chain: each Update waits in lockSlow on the mutex it wants, sim.mu (the first
    // field of sim) or db.mu; the runtime prints those addresses for sure.
    let mut locks = BTreeSet::new();
    for g in &s.goroutines {
        if functions(s, g).iter().any(|f| f == "main.(*Sim).Update") {
            locks.insert(first_word(s, g, "(*Mutex).lockSlow").expect("lockSlow words"));
        }
    }
    let want: BTreeSet<u64> = [addrs["sim"], addrs["dbmu"]].into();
    assert_eq!(locks, want, "{what}");
    // The two pipeline stages wait on two different channels.
    let chans: BTreeSet<u64> = s
        .goroutines
        .iter()
        .filter(|g| functions(s, g).iter().any(|f| f == "main.stage"))
        .filter_map(|g| first_word(s, g, "runtime.chanrecv"))
        .collect();
    assert_eq!(chans.len(), 2, "{what}: {chans:x?}");
}

#[test]
fn gotraceback_crash_dumps_are_one_snapshot_with_system_stacks() {
    for tc in toolchains() {
        for signal in ["QUIT", "ABRT"] {
            let (text, addrs) = crash(&tc, signal);
            check_crash(&tc, signal, &text, &addrs);
            if signal == "ABRT" {
                // As a terminal shows it when the program ran in the background: the crash
                // lands right after the shell's prompt.
                let shown = format!(
                    "user@host:~/svc$ ./traceback-forms wait &\n[1] 4242\nuser@host:~/svc$ kill -ABRT %1\nuser@host:~/svc$ {text}"
                );
                check_crash(&tc, signal, &shown, &addrs);
            } else {
                // Ctrl-\ in a terminal: the tty echoes `^\` before the runtime's first line.
                let shown = format!("$ ./traceback-forms wait\n^\\{text}");
                check_crash(&tc, signal, &shown, &addrs);
            }
        }
    }
}

#[test]
fn a_runtime_declared_deadlock_and_its_channels() {
    for tc in toolchains() {
        let bin = build("traceback-forms", &tc);
        let out = Command::new(&bin).arg("deadlock").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "go {}", tc.version);
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        for (what, input) in [
            (format!("go{} deadlock", tc.version), text.clone()),
            (
                format!("go{} deadlock behind a prompt", tc.version),
                format!("dev@box ~/svc % ./traceback-forms deadlock\n{text}"),
            ),
        ] {
            let snaps = read(&what, input.as_bytes());
            assert_eq!(snaps.len(), 1, "{what}");
            let s = &snaps[0];
            assert_eq!(s.context, Some(Context::Deadlock), "{what}");
            assert_eq!(
                s.reason.as_deref(),
                Some("fatal error: all goroutines are asleep - deadlock!"),
                "{what}"
            );
            // stage(a, b) and stage(b, a): each one's input is the other's output.
            let stages: Vec<(u64, u64, bool)> = s
                .goroutines
                .iter()
                .filter_map(|g| {
                    let f = s
                        .frame_args(g)
                        .find(|f| s.function(s.stack(g.stack)[f.frame]) == "main.stage")?;
                    Some((f.words[0], f.words[1], f.uncertain(0) || f.uncertain(1)))
                })
                .collect();
            assert_eq!(stages.len(), 2, "{what}: {stages:x?}");
            if stages.iter().any(|s| s.2) {
                // Go 1.21 prints stale register spills here (`0x0?`): flagged, not trusted.
                assert!(tc.minor() < 23, "{what}: {stages:x?}");
            } else {
                assert_eq!(
                    (stages[0].0, stages[0].1),
                    (stages[1].1, stages[1].0),
                    "{what}: {stages:x?}"
                );
                assert_ne!(stages[0].0, stages[0].1, "{what}");
            }
        }
    }
}
