//! Execution traces on the command line: `--trace DURATION` turns URL inputs into
//! `/debug/pprof/trace?seconds=N` requests, and `run --trace` has a Go test binary write a trace
//! whose window is added to the snapshot read from its memory as it exits.

use anyhow::{bail, Result};
use goroscope_model::{Goid, Snapshot};
use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Whole seconds for `/debug/pprof/trace?seconds=N`: rounded up, at least 1.
pub fn seconds(d: Duration) -> u64 {
    (d.as_nanos().div_ceil(1_000_000_000) as u64).max(1)
}

/// The inputs to read with `--trace`: each URL becomes its service's trace URL; other inputs
/// (trace files, dumps) are read as they are, and returned in `unchanged` for a warning.
pub fn trace_inputs(inputs: &[String], window: Duration) -> Result<(Vec<String>, Vec<String>)> {
    let mut out = Vec::with_capacity(inputs.len());
    let mut unchanged = Vec::new();
    for input in inputs {
        if input.starts_with("http://") || input.starts_with("https://") {
            let url = goroscope_ingest::http::trace_url(input, seconds(window)).map_err(|e| {
                anyhow::anyhow!("--trace: {}: {e}", goroscope_model::redact_url(input))
            })?;
            out.push(url);
        } else {
            unchanged.push(input.clone());
            out.push(input.clone());
        }
    }
    Ok((out, unchanged))
}

/// How `run --trace` gets a trace out of the program it runs.
#[derive(Debug)]
pub struct RunTrace {
    /// The command to run (with the trace flag added, when goroscope added it).
    pub command: Vec<OsString>,
    /// Where the program writes the trace.
    pub path: PathBuf,
    /// A directory goroscope made for it (removed on drop).
    dir: Option<PathBuf>,
}

impl Drop for RunTrace {
    fn drop(&mut self) {
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// The value of a flag `-name=V` or `-name V` (also with `--`) among `args`.
fn flag_value(args: &[OsString], names: &[&str]) -> Option<OsString> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        let bare = s.trim_start_matches('-');
        if !s.starts_with('-') || s == "--" || s == "-args" {
            if s == "--" || s == "-args" {
                return None; // what follows goes to the program, not the test flags
            }
            continue;
        }
        for n in names {
            if bare == *n {
                return it.next().cloned();
            }
            if let Some(v) = bare.strip_prefix(n).and_then(|r| r.strip_prefix('=')) {
                return Some(OsString::from(v));
            }
        }
    }
    None
}

/// A directory only this process uses, for the trace file (0700; never an existing path, so a
/// link planted in the temporary directory cannot redirect the write).
fn private_dir() -> Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::temp_dir();
    for n in 0..100u32 {
        let d = base.join(format!("goroscope-run-trace-{}-{n}", std::process::id()));
        match std::fs::DirBuilder::new().mode(0o700).create(&d) {
            Ok(()) => return Ok(d),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => bail!(
                "cannot make a directory for the trace in {}: {e}",
                base.display()
            ),
        }
    }
    bail!(
        "cannot make a directory for the trace in {}",
        base.display()
    )
}

/// Prepares `run --trace` for `cmd`. A Go test binary (`NAME.test`) gets `-test.trace=FILE`
/// as its first argument; `go test` gets `-trace=FILE` after `test` (one package only: `go test`
/// refuses `-trace` with several). A trace flag the command already has is used as it is (the
/// file is then kept). Any other program writes a trace only if it calls runtime/trace itself:
/// refused, with how to get one.
pub fn prepare(cmd: &[OsString], cwd: &Path) -> Result<RunTrace> {
    let Some((prog, args)) = cmd.split_first() else {
        bail!("no command given to run");
    };
    let name = Path::new(prog)
        .file_name()
        .unwrap_or(OsStr::new(""))
        .to_string_lossy()
        .into_owned();
    let go_test = name == "go" && args.first().is_some_and(|a| a == "test");
    let test_binary = name.ends_with(".test");
    if !go_test && !test_binary {
        bail!(
            "--trace works with a Go test binary (NAME.test, from `go test -c`) or `go test` of one package; other programs write an execution trace only if they call runtime/trace themselves (take one from a service with `goroscope analyze URL --trace 5s`)"
        );
    }
    let given = if go_test {
        flag_value(&args[1..], &["trace", "test.trace"])
    } else {
        flag_value(args, &["test.trace"])
    };
    if let Some(p) = given {
        return Ok(RunTrace {
            command: cmd.to_vec(),
            path: cwd.join(p),
            dir: None,
        });
    }
    let dir = private_dir()?;
    let path = dir.join("trace.out");
    let mut command = Vec::with_capacity(cmd.len() + 1);
    command.push(prog.clone());
    let mut flag = OsString::from(if go_test { "-trace=" } else { "-test.trace=" });
    flag.push(&path);
    if go_test {
        command.push(args[0].clone());
        command.push(flag);
        command.extend(args[1..].iter().cloned());
    } else {
        command.push(flag);
        command.extend(args.iter().cloned());
    }
    Ok(RunTrace {
        command,
        path,
        dir: Some(dir),
    })
}

/// Adds the window of `trace` (read from the trace file) to the snapshot of the process that
/// wrote it: the one whose command line has `-test.trace`. Returns the trace's snapshot when no
/// such process was read, to be reported on its own.
pub fn graft(snapshots: &mut [Snapshot], mut trace: Snapshot) -> Option<Snapshot> {
    let writer = snapshots.iter_mut().find(|s| {
        s.process.as_ref().is_some_and(|p| {
            p.args
                .iter()
                .any(|a| a.trim_start_matches('-').starts_with("test.trace"))
        })
    });
    let (Some(exit), Some(window)) = (writer, trace.lifecycle.take()) else {
        return Some(trace);
    };
    let alive: HashSet<Goid> = exit.goroutines.iter().map(|g| g.goid).collect();
    let moved = window.reinterned(&trace.interner, &mut exit.interner, |g| alive.contains(&g));
    exit.lifecycle = Some(Box::new(moved));
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn windows_are_whole_seconds() {
        assert_eq!(seconds(Duration::from_secs(5)), 5);
        assert_eq!(seconds(Duration::from_millis(5500)), 6);
        assert_eq!(seconds(Duration::from_millis(200)), 1);
        assert_eq!(seconds(Duration::ZERO), 1);
    }

    #[test]
    fn urls_become_trace_urls_and_files_stay() {
        let (v, same) = trace_inputs(
            &["http://h:1/debug/pprof/goroutine".into(), "t.out".into()],
            Duration::from_secs(3),
        )
        .unwrap();
        assert_eq!(v, ["http://h:1/debug/pprof/trace?seconds=3", "t.out"]);
        assert_eq!(same, ["t.out"]);
        let e = trace_inputs(&["http://u:pw@h/metrics".into()], Duration::from_secs(1))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("not a /debug/pprof path") && !e.contains("pw"),
            "{e}"
        );
    }

    #[test]
    fn a_trace_flag_goes_where_the_test_flags_go() {
        let cwd = Path::new("/work");
        let t = prepare(&os(&["./x.test", "-test.run", "TestA"]), cwd).unwrap();
        let dir = t.dir.clone().unwrap();
        assert!(dir.is_dir());
        assert_eq!(t.path, dir.join("trace.out"));
        assert_eq!(
            t.command,
            os(&[
                "./x.test",
                &format!("-test.trace={}", t.path.display()),
                "-test.run",
                "TestA"
            ])
        );
        drop(t);
        assert!(!dir.exists(), "removed with the run");

        let t = prepare(&os(&["/usr/bin/go", "test", "-run", "X", "./pkg"]), cwd).unwrap();
        assert_eq!(
            t.command,
            os(&[
                "/usr/bin/go",
                "test",
                &format!("-trace={}", t.path.display()),
                "-run",
                "X",
                "./pkg"
            ])
        );
        // The user's own flag is kept, and so is the file.
        let t = prepare(&os(&["go", "test", "-trace", "t.out", "."]), cwd).unwrap();
        assert_eq!(t.path, Path::new("/work/t.out"));
        assert!(t.dir.is_none());
        assert_eq!(t.command, os(&["go", "test", "-trace", "t.out", "."]));
        let t = prepare(&os(&["a.test", "--test.trace=/tmp/x"]), cwd).unwrap();
        assert_eq!(t.path, Path::new("/tmp/x"));
        // After -args the flags are the program's.
        let t = prepare(&os(&["go", "test", ".", "-args", "-trace=y"]), cwd).unwrap();
        assert!(t.dir.is_some());
        let e = prepare(&os(&["./server"]), cwd).unwrap_err().to_string();
        assert!(e.contains("Go test binary"), "{e}");
    }
}
