//! Core files: the snapshot read from a core equals the dump the runtime printed when it made
//! that core (`GOTRACEBACK=crash` + SIGQUIT), goroutine by goroutine; and a `gcore` core of a
//! live fixture equals the fixture's own `debug=2` dump.
//!
//! Tolerated differences, by name: `goroutine 0` blocks (the crash dump also prints each
//! thread's g0/signal stack, which is not a goroutine) and, for gcore, goroutine 1 (the
//! goroutine that wrote the debug=2 dump).
#![cfg(target_os = "linux")]

mod common;
use common::*;
use goroscope_attach::{read_core, AttachOptions};
use goroscope_model::{Context, Format};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn core_pattern() -> String {
    std::fs::read_to_string("/proc/sys/kernel/core_pattern")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Runs the fixture with GOTRACEBACK=crash in `dir`, sends SIGQUIT, returns (stderr, core path).
fn crash(exe: &std::path::Path, dir: &std::path::Path, panic: bool) -> Option<(String, PathBuf)> {
    let mut c = Command::new(exe);
    c.current_dir(dir)
        .env("GOTRACEBACK", "crash")
        .env("ATTACH_PANIC", if panic { "1" } else { "0" })
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe.
    unsafe {
        c.pre_exec(|| {
            let r = libc::rlimit {
                rlim_cur: libc::RLIM_INFINITY,
                rlim_max: libc::RLIM_INFINITY,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &r);
            Ok(())
        });
    }
    let mut child = c.spawn().unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0 && line.trim() != "READY" {
        line.clear();
    }
    let pid = child.id();
    if !panic {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid as i32, libc::SIGQUIT) };
    }
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    let _ = child.wait();
    for name in [format!("core.{pid}"), "core".to_string()] {
        let p = dir.join(name);
        if p.exists() {
            return Some((err, p));
        }
    }
    None
}

#[test]
fn core_from_gotraceback_crash_matches_crash_dump() {
    let pattern = core_pattern();
    if pattern.starts_with('|') || pattern.contains('/') {
        eprintln!("SKIP: kernel.core_pattern is {pattern:?} (cores go to a handler or another directory); the gcore test covers core reading");
        return;
    }
    let tcs = installed();
    assert!(
        !tcs.is_empty(),
        "no Go toolchains installed: run scripts/install-go.sh"
    );
    for tc in &tcs {
        let exe = build("attach_basic", tc, false);
        let dir = std::env::temp_dir().join(format!(
            "goroscope-core-{}-{}",
            std::process::id(),
            tc.version
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let Some((stderr, core)) = crash(&exe, &dir, false) else {
            eprintln!(
                "SKIP: go{}: no core file was written in {} (core_pattern {pattern:?})",
                tc.version,
                dir.display()
            );
            continue;
        };
        let crash_dump = parse_debug2(&stderr);
        let opts = AttachOptions {
            system: true,
            ..Default::default()
        };
        let snap =
            read_core(&core, Some(&exe), &opts).unwrap_or_else(|e| panic!("go{}: {e}", tc.version));
        assert_eq!(snap.source.format, Format::Core);
        // Dumped by the runtime's SIGABRT: a crash.
        assert_eq!(snap.context, Some(Context::Crash), "go{}", tc.version);
        let ours = from_snapshot(&snap);
        let labels_printed = crash_dump.iter().any(|g| !g.labels.is_empty());
        let diffs = compare(&crash_dump, &ours, &[0], labels_printed);
        assert!(
            diffs.is_empty(),
            "go{}: {} differences:\n{}",
            tc.version,
            diffs.len(),
            diffs.join("\n")
        );
        assert!(ours.len() >= 22);
        // Without --exe, the executable is found through the core's NT_FILE note.
        let again = read_core(&core, None, &opts).unwrap();
        assert_eq!(again.goroutines.len(), snap.goroutines.len());
        eprintln!(
            "go{}: {} goroutines identical to the crash dump",
            tc.version,
            ours.len()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn gcore_core_matches_debug2() {
    if Command::new("gcore").arg("--version").output().is_err() {
        eprintln!("SKIP: gcore (gdb) is not installed");
        return;
    }
    let tcs = installed();
    assert!(
        !tcs.is_empty(),
        "no Go toolchains installed: run scripts/install-go.sh"
    );
    for tc in &tcs {
        for (pie, stripped) in [(false, false), (false, true), (true, false), (true, true)] {
            let opts = BuildOptions {
                pie,
                stripped,
                ..Default::default()
            };
            let tag = opts.suffix();
            let exe = build_with("attach_basic", tc, opts);
            let mut fx = Fixture::start(&exe, &[("GODEBUG", "tracebacklabels=1")]);
            let dump = parse_debug2(&fx.dump());
            let dir = std::env::temp_dir().join(format!("goroscope-gcore-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let prefix = dir.join(format!("g-{}{tag}", tc.version));
            let st = Command::new("gcore")
                .arg("-o")
                .arg(&prefix)
                .arg(fx.pid().to_string())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap();
            if !st.success() {
                eprintln!("SKIP: gcore failed on pid {}", fx.pid());
                return;
            }
            let core = PathBuf::from(format!("{}.{}", prefix.display(), fx.pid()));
            let snap = read_core(&core, Some(&exe), &AttachOptions::default())
                .unwrap_or_else(|e| panic!("go{}{tag}: {e}", tc.version));
            let labels_printed = dump.iter().any(|g| !g.labels.is_empty());
            let diffs = compare(&dump, &from_snapshot(&snap), &[1], labels_printed);
            assert!(
                diffs.is_empty(),
                "go{} stripped={stripped}: {}",
                tc.version,
                diffs.join("\n")
            );
            let _ = std::fs::remove_file(&core);
        }
    }
}

/// A gcore of a running process is a live snapshot; a wrong `--exe` is refused before any
/// goroutine is read, naming both files; a truncated copy says it is truncated.
#[test]
fn gcore_context_wrong_exe_and_truncation() {
    if Command::new("gcore").arg("--version").output().is_err() {
        eprintln!("SKIPPED: gcore (gdb) is not installed");
        return;
    }
    let tcs = installed();
    assert!(
        tcs.len() >= 2,
        "needs two Go toolchains: run scripts/install-go.sh"
    );
    let tc = tcs.last().unwrap();
    for pie in [false, true] {
        let opts = BuildOptions {
            pie,
            ..Default::default()
        };
        let tag = opts.suffix();
        let exe = build_with("attach_basic", tc, opts);
        let other = build_with("attach_basic", &tcs[0], opts);
        let fx = Fixture::start(&exe, &[]);
        let dir = std::env::temp_dir().join(format!("goroscope-gcore-x-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let prefix = dir.join(format!("g{tag}"));
        let st = Command::new("gcore")
            .arg("-o")
            .arg(&prefix)
            .arg(fx.pid().to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "gcore failed on pid {}", fx.pid());
        let core = PathBuf::from(format!("{}.{}", prefix.display(), fx.pid()));
        let snap = read_core(&core, Some(&exe), &AttachOptions::default()).unwrap();
        assert_eq!(snap.context, Some(Context::Live));
        assert!(snap.goroutines.len() >= 22);

        // Another program (the same source built by another release) is not the one.
        let e = read_core(&core, Some(&other), &AttachOptions::default()).unwrap_err();
        assert!(
            matches!(e, goroscope_attach::AttachError::Mismatch { .. }),
            "{tag}: {e}"
        );
        let m = e.to_string();
        assert!(
            m.contains("is not the program that wrote core file") && m.contains("--exe"),
            "{m}"
        );

        // A copy cut in the middle of its memory.
        let bytes = std::fs::read(&core).unwrap();
        let cut = dir.join(format!("cut{tag}"));
        std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
        match read_core(&cut, Some(&exe), &AttachOptions::default()) {
            Err(e) => {
                assert!(
                    matches!(e, goroscope_attach::AttachError::Truncated { .. }),
                    "{e}"
                );
                let m = e.to_string();
                assert!(
                    m.contains("is truncated") && m.contains("dump it again"),
                    "{m}"
                );
            }
            Ok(s) => assert!(
                s.warnings.iter().any(|w| w.message.contains("truncated")),
                "{:?}",
                s.warnings
            ),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn bad_core_inputs_give_clear_errors() {
    let dir = std::env::temp_dir().join(format!("goroscope-badcore-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("not-a-core");
    std::fs::write(&p, b"hello").unwrap();
    let e = read_core(&p, None, &AttachOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("not-a-core") && e.contains("not an ELF"), "{e}");
    let e = read_core(&dir.join("missing"), None, &AttachOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing"), "{e}");
    // An executable is not a core.
    let exe = std::env::current_exe().unwrap();
    let e = read_core(&exe, None, &AttachOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a core file"), "{e}");
}

/// A panic core: every goroutine reads identically to the crash dump, the panicking one
/// included — its registers are recovered from the signal frame (`crash()` raised SIGABRT on
/// its stack). Tolerated difference, named: the crash dump starts that goroutine at
/// `panic(...)`, our reading also has the runtime frames of the crash itself below it
/// (`runtime.raise`, `dieFromSignal`, `crash`, `fatalpanic`), which are checked to be runtime
/// frames and then dropped.
#[test]
fn core_from_panic_matches_crash_dump() {
    let pattern = core_pattern();
    if pattern.starts_with('|') || pattern.contains('/') {
        eprintln!(
            "SKIP: kernel.core_pattern is {pattern:?} (cores go to a handler or another directory)"
        );
        return;
    }
    let tcs = installed();
    assert!(
        !tcs.is_empty(),
        "no Go toolchains installed: run scripts/install-go.sh"
    );
    for tc in &tcs {
        let exe = build("attach_basic", tc, false);
        let dir = std::env::temp_dir().join(format!(
            "goroscope-panic-core-{}-{}",
            std::process::id(),
            tc.version
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let Some((stderr, core)) = crash(&exe, &dir, true) else {
            eprintln!(
                "SKIP: go{}: no core file was written in {} (core_pattern {pattern:?})",
                tc.version,
                dir.display()
            );
            continue;
        };
        assert!(
            stderr.starts_with("panic: attach_basic: boom"),
            "{}",
            &stderr[..200.min(stderr.len())]
        );
        let dump = parse_debug2(&stderr);
        let opts = AttachOptions {
            system: true,
            ..Default::default()
        };
        let snap =
            read_core(&core, Some(&exe), &opts).unwrap_or_else(|e| panic!("go{}: {e}", tc.version));
        let mut ours = from_snapshot(&snap);
        let p = dump.iter().find(|g| g.goid != 0).unwrap();
        assert!(p.frames[0].starts_with("panic|"), "{:?}", p.frames);
        let o = ours
            .iter_mut()
            .find(|g| g.goid == p.goid)
            .expect("panicking goroutine");
        assert_eq!(o.state, "running");
        let start = o
            .frames
            .iter()
            .position(|f| f.starts_with("panic|"))
            .unwrap_or_else(|| panic!("go{}: no panic frame in {:?}", tc.version, o.frames));
        assert!(
            start > 0 && o.frames[..start].iter().all(|f| f.starts_with("runtime.")),
            "{:?}",
            o.frames
        );
        o.frames.drain(..start);
        // Argument frames are numbered from the innermost frame: renumber them from `panic`,
        // dropping those of the runtime frames the dump did not print. Those frames also
        // count among the innermost ones whose words the keep policy keeps, so the core may
        // keep fewer of the frames below than the dump: every one it kept must be the dump's.
        let rebased: Vec<String> = o
            .args
            .iter()
            .filter_map(|a| {
                let (i, rest) = a.split_once('|')?;
                let i: usize = i.parse().ok()?;
                i.checked_sub(start).map(|i| format!("{i}|{rest}"))
            })
            .collect();
        for a in &rebased {
            assert!(
                p.args.contains(a),
                "go{}: panicking goroutine's argument frame {a} is not the dump's {:?}",
                tc.version,
                p.args
            );
        }
        o.args = p.args.clone();
        // The goroutine started just before the panic never ran: the runtime prints it
        // [runnable] at its function's entry (no offset), and so must we.
        let never = dump
            .iter()
            .find(|g| {
                g.frames
                    .first()
                    .is_some_and(|f| f.starts_with("main.neverRan|"))
            })
            .unwrap_or_else(|| panic!("go{}: no never-run goroutine in the dump", tc.version));
        assert_eq!(never.state, "runnable");
        assert!(
            never.frames[0].ends_with("|None|false"),
            "{:?}",
            never.frames
        );
        let labels_printed = dump.iter().any(|g| !g.labels.is_empty());
        let diffs = compare(&dump, &ours, &[0], labels_printed);
        assert!(diffs.is_empty(), "go{}: {}", tc.version, diffs.join("\n"));
        eprintln!(
            "go{}: panic core: {} goroutines identical, the panicking one included",
            tc.version,
            ours.len()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
