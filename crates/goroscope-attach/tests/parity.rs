//! PARITY: for the `attach_basic` fixture built with every installed Go release, stripped and
//! not, the attach snapshot equals the process's own pprof `debug=2` dump goroutine by
//! goroutine: goroutine set, states (status, wait reason, locked to thread, leaked), labels,
//! creators and every frame's function/file/line/offset/inlining, and frame elision.
//!
//! Tolerated difference, by name: goroutine 1, which is the goroutine that *wrote* the dump
//! (running `pprof.writeGoroutineStacks` in the dump, reading stdin when we attach).
#![cfg(target_os = "linux")]

mod common;
use common::*;
use goroscope_attach::{attach_pid, AttachOptions};
use goroscope_model::{Format, Status, WaitReason};

const DUMP_WRITER: &[u64] = &[1];

fn parity(stripped: bool) {
    // The installed releases, plus GOROSCOPE_EXTRA_TOOLCHAINS (e.g. 1.22, 1.24, 1.26) if set.
    let _ = installed(); // panics, naming the fix, when none is installed
    let tcs = goroscope_fixtures::extra_toolchains();
    for tc in &tcs {
        parity_one(&build("attach_basic", tc, stripped), tc, stripped);
    }
}

fn parity_one(exe: &std::path::Path, tc: &Toolchain, stripped: bool) {
    {
        let mut fx = Fixture::start(exe, &[("GODEBUG", "tracebacklabels=1")]);
        let dump_text = fx.dump();
        let dump = parse_debug2(&dump_text);
        let snap = attach_pid(fx.pid(), &AttachOptions::default())
            .unwrap_or_else(|e| panic!("go{} stripped={stripped}: {e}", tc.version));
        assert_eq!(snap.source.format, Format::Attach);
        assert_eq!(snap.context, Some(goroscope_model::Context::Live));
        assert_eq!(
            snap.go_version.as_deref(),
            Some(format!("go{}", tc.version).as_str())
        );
        let ours = from_snapshot(&snap);
        // Labels appear in debug=2 headers from Go 1.26 on (GODEBUG=tracebacklabels=1).
        let labels_printed = dump.iter().any(|g| !g.labels.is_empty());
        let diffs = compare(&dump, &ours, DUMP_WRITER, labels_printed);
        assert!(
            diffs.is_empty(),
            "go{} stripped={stripped}: {} differences:\n{}",
            tc.version,
            diffs.len(),
            diffs.join("\n")
        );
        assert!(
            dump.len() >= 22,
            "go{}: only {} goroutines in the dump",
            tc.version,
            dump.len()
        );
        // The fixture's shapes really are there (so parity is not vacuous).
        // Argument words: kept for most goroutines, certain ones among them, and compared.
        let with_args = ours.iter().filter(|g| !g.args.is_empty()).count();
        let certain = ours
            .iter()
            .flat_map(|g| &g.args)
            .filter(|a| a.split('|').nth(1).is_some_and(|w| w.contains("0x")))
            .count();
        assert!(
            with_args * 3 >= ours.len() && certain >= 8,
            "go{} stripped={stripped}: {with_args} of {} goroutines with argument words, {certain} frames with certain words",
            tc.version,
            ours.len()
        );
        let gs = &snap.goroutines;
        assert!(gs.iter().any(|g| g.locked_to_thread));
        // Generic shapes print as `[...]`, like the runtime's printFuncName.
        assert!(gs.iter().any(|g| snap
            .stack(g.stack)
            .iter()
            .any(|&f| snap.function(f) == "main.waitGeneric[...]")));
        assert!(gs.iter().any(|g| snap
            .stack(g.stack)
            .iter()
            .any(|&f| snap.function(f) == "main.(*box[...]).wait")));
        assert!(gs
            .iter()
            .any(|g| matches!(g.elided, goroscope_model::Elision::Count(n) if n > 0)));
        assert!(gs.iter().any(|g| g.creator_goid.is_some_and(|c| c.0 != 1)));
        assert!(gs
            .iter()
            .any(|g| g.wait_reason == Some(WaitReason::ChanReceive)));
        assert!(gs
            .iter()
            .any(|g| g.wait_reason == Some(WaitReason::SyncMutexLock)));
        assert!(gs.iter().any(|g| g.wait_reason == Some(WaitReason::IoWait)));
        assert!(gs
            .iter()
            .any(|g| snap.stack(g.stack).iter().any(|&f| snap.frame(f).inlined)));
        let labelled = gs
            .iter()
            .filter(|g| {
                snap.labels(g.labels)
                    .any(|(k, v)| k == "tenant" && v == "acme corp")
            })
            .count();
        assert_eq!(labelled, 2, "go{}: labelled goroutines", tc.version);
        // A method-value wrapper frame (`go w.run()`) is hidden the way the runtime hides it.
        let run = gs
            .iter()
            .find(|g| {
                snap.stack(g.stack)
                    .iter()
                    .any(|&f| snap.function(f) == "main.(*worker).run")
            })
            .expect("worker goroutine");
        let last = *snap.stack(run.stack).last().unwrap();
        assert_eq!(snap.function(last), "main.(*worker).run");
        eprintln!(
            "go{} stripped={stripped}: {} goroutines identical",
            tc.version,
            dump.len() - 1
        );
    }
}

#[test]
fn parity_with_debug2_unstripped() {
    parity(false);
}

/// Position-independent executables: addresses are relocated by the load bias.
#[test]
fn parity_with_debug2_pie() {
    let tcs = installed();
    assert!(
        !tcs.is_empty(),
        "no Go toolchains installed: run scripts/install-go.sh"
    );
    for tc in &tcs {
        parity_one(
            &build_with(
                "attach_basic",
                tc,
                BuildOptions {
                    pie: true,
                    ..Default::default()
                },
            ),
            tc,
            false,
        );
        parity_one(
            &build_with(
                "attach_basic",
                tc,
                BuildOptions {
                    pie: true,
                    stripped: true,
                    ..Default::default()
                },
            ),
            tc,
            true,
        );
    }
}

/// cgo binaries (externally linked, libc threads) when a C compiler is installed.
#[test]
fn parity_with_debug2_cgo() {
    if std::process::Command::new("cc")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIP: no C compiler (cc): cgo binaries cannot be built here");
        return;
    }
    let tcs = installed();
    assert!(
        !tcs.is_empty(),
        "no Go toolchains installed: run scripts/install-go.sh"
    );
    for tc in &tcs {
        let cgo = |stripped| BuildOptions {
            cgo: true,
            stripped,
            ..Default::default()
        };
        parity_one(&build_with("attach_basic", tc, cgo(false)), tc, false);
        parity_one(&build_with("attach_basic", tc, cgo(true)), tc, true);
    }
}

#[test]
fn parity_with_debug2_stripped() {
    parity(true);
}

/// Attach with `system` (runtime goroutines and frames shown) against the process's own
/// SIGQUIT dump under `GOTRACEBACK=system`: the same goroutines, frames and argument words,
/// runtime frames included (`runtime.chansend(0xc…)`, `runtime.semacquire1(0xc…)`: the words
/// the relation analysis reads), on every release, stripped and not.
#[test]
fn parity_with_sigquit_system() {
    use std::io::BufRead;
    let _ = installed();
    for tc in &goroscope_fixtures::extra_toolchains() {
        for stripped in [false, true] {
            let exe = build("attach_basic", tc, stripped);
            let mut child = std::process::Command::new(&exe)
                .env("GOTRACEBACK", "system")
                .env("GODEBUG", "tracebacklabels=1")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start fixture");
            let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
            let mut line = String::new();
            while out.read_line(&mut line).unwrap() > 0 && line.trim() != "READY" {
                line.clear();
            }
            let mut child = KillOnDrop(child);
            let pid = child.0.id();
            let opts = AttachOptions {
                system: true,
                ..Default::default()
            };
            let snap = attach_pid(pid, &opts)
                .unwrap_or_else(|e| panic!("go{} stripped={stripped}: {e}", tc.version));
            // SAFETY: signalling our own child.
            unsafe { libc::kill(pid as i32, libc::SIGQUIT) };
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.0.stderr.take().unwrap(), &mut err).unwrap();
            let _ = child.0.wait();
            let dump = parse_debug2(&err);
            assert!(
                dump.len() >= 22,
                "go{}: only {} goroutines in the SIGQUIT dump:\n{err}",
                tc.version,
                dump.len()
            );
            let ours = from_snapshot(&snap);
            let labels_printed = dump.iter().any(|g| !g.labels.is_empty());
            // Goroutine 0: each thread's g0 section, not a goroutine.
            let diffs = compare(&dump, &ours, &[0], labels_printed);
            assert!(
                diffs.is_empty(),
                "go{} stripped={stripped}: {} differences:\n{}",
                tc.version,
                diffs.len(),
                diffs.join("\n")
            );
            // The runtime frames' words are there: the channel of a blocked send.
            let chansend = ours
                .iter()
                .filter(|g| {
                    g.frames.iter().enumerate().any(|(i, f)| {
                        f.starts_with("runtime.chansend|")
                            && g.args.iter().any(|a| a.starts_with(&format!("{i}|0x")))
                    })
                })
                .count();
            assert!(
                chansend >= 1,
                "go{} stripped={stripped}: no runtime.chansend frame with its channel word",
                tc.version
            );
            eprintln!(
                "go{} stripped={stripped}: {} goroutines identical to the SIGQUIT dump (GOTRACEBACK=system)",
                tc.version,
                ours.len()
            );
        }
    }
}

/// Go 1.26+: after the goroutineleak profile ran, leaked goroutines are `_Gleaked`; the
/// snapshot says so exactly where the dump prints `(leaked)`.
#[test]
fn leaked_status_matches_goroutineleak_gc() {
    let tcs: Vec<_> = installed()
        .into_iter()
        .filter(|t| goroscope_attach::binary::go_minor(&format!("go{}", t.version)) >= Some(26))
        .collect();
    if tcs.is_empty() {
        eprintln!("SKIP: no Go >= 1.26 toolchain installed (the goroutineleak profile is 1.26+)");
        return;
    }
    for tc in &tcs {
        let exe = build("attach_basic", tc, false);
        let mut fx = Fixture::start(&exe, &[("GODEBUG", "tracebacklabels=1")]);
        fx.send("leakgc");
        let r = fx.read_until("LEAKGC");
        assert!(r.is_empty(), "{r}");
        let dump = parse_debug2(&fx.dump());
        let snap = attach_pid(fx.pid(), &AttachOptions::default()).unwrap();
        let diffs = compare(&dump, &from_snapshot(&snap), DUMP_WRITER, true);
        assert!(diffs.is_empty(), "go{}: {}", tc.version, diffs.join("\n"));
        let leaked = snap
            .goroutines
            .iter()
            .filter(|g| g.status == Status::Leaked)
            .count();
        let in_dump = dump.iter().filter(|g| g.state.contains("(leaked)")).count();
        assert!(
            leaked >= 1,
            "go{}: no leaked goroutine after the leak GC",
            tc.version
        );
        assert_eq!(
            leaked, in_dump,
            "go{}: leaked goroutines vs the dump",
            tc.version
        );
        assert!(snap
            .goroutines
            .iter()
            .all(|g| g.leaked == (g.status == Status::Leaked)));
    }
}
