//! Real dumps from every installed Go release (`scripts/install-go.sh` puts them in
//! `.toolchains/go-<v>`): `runtime.Stack(all)` output and a `GOTRACEBACK=system` panic of one
//! small stdlib-only program, read back and checked against what the program created.

use goroscope_ingest::{text, Options};
use goroscope_model::{Format, Snapshot, Status, WaitReason};
use std::path::{Path, PathBuf};
use std::process::Command;

const PROGRAM: &str = r#"package main

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

const workers = 20

func blockRecv[T any](ch chan T) { <-ch }

func worker(ch chan int, wg *sync.WaitGroup) {
	wg.Done()
	<-ch
}

func main() {
	var wg sync.WaitGroup
	ch := make(chan int)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go worker(ch, &wg)
	}
	wg.Add(1)
	pprof.Do(context.Background(), pprof.Labels("tenant", "acme corp", "handler", "/api"), func(context.Context) {
		go func() {
			wg.Done()
			blockRecv(make(chan string))
		}()
	})
	wg.Add(1)
	go func() {
		runtime.LockOSThread()
		wg.Done()
		select {}
	}()
	wg.Wait()
	// Wait until every goroutine is parked, so the dump is deterministic.
	buf := make([]byte, 1<<20)
	var n int
	for i := 0; i < 100000; i++ {
		n = runtime.Stack(buf, true)
		if bytes.Count(buf[:n], []byte("[chan receive")) == workers+1 &&
			bytes.Contains(buf[:n], []byte("[select (no cases)")) {
			break
		}
		runtime.Gosched()
	}
	switch os.Args[1] {
	case "stack":
		os.Stdout.Write(buf[:n])
		return
	case "wait":
		os.Stdout.WriteString("READY\n")
		// Sleep rather than block forever: a program with every goroutine blocked is a
		// deadlock the runtime reports at once.
		for {
			time.Sleep(time.Hour)
		}
	}
	panic("boom")
}
"#;

/// goroscope-fixtures finds them (and panics, naming the fix, when there is none).
fn toolchains() -> Vec<(String, PathBuf)> {
    goroscope_fixtures::toolchains()
        .into_iter()
        .map(|t| (t.version, t.go))
        .collect()
}

/// Builds the program with one toolchain (its go.mod names that release, so Go 1.27's
/// default labels in tracebacks apply).
fn build(version: &str, go: &Path) -> Option<PathBuf> {
    let minor: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
    let dir =
        std::env::temp_dir().join(format!("goroscope-text-go{version}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.go"), PROGRAM).unwrap();
    std::fs::write(
        dir.join("go.mod"),
        format!("module example.com/dumps\n\ngo {minor}\n"),
    )
    .unwrap();
    let bin = dir.join("dumps");
    let tc = goroscope_fixtures::Toolchain {
        version: version.to_string(),
        go: go.to_path_buf(),
    };
    let out = goroscope_fixtures::go_command(&tc)
        .args(["build", "-trimpath", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(&dir)
        .output()
        .expect("go runs");
    if !out.status.success() {
        panic!(
            "go {version} build failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Some(bin)
}

fn read(bytes: &[u8], what: &str) -> Snapshot {
    let mut v = text::read(what, bytes, &Options::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v.len(), 1, "{what}");
    v.pop().unwrap()
}

fn naive_headers(bytes: &[u8]) -> usize {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| l.starts_with("goroutine ") && l.ends_with(':'))
        .count()
}

fn check_common(s: &Snapshot, version: &str, what: &str) {
    let minor: u32 = version.split('.').nth(1).unwrap().parse().unwrap();
    let workers: Vec<_> = s
        .goroutines
        .iter()
        .filter(|g| {
            s.stack(g.stack)
                .iter()
                .any(|&f| s.function(f) == "main.worker")
        })
        .collect();
    assert_eq!(workers.len(), 20, "{what}");
    for g in &workers {
        assert_eq!(g.wait_reason, Some(WaitReason::ChanReceive), "{what}");
        let site = s.frame_site(g.created_by.expect("created by"));
        assert_eq!(site.function, "main.main", "{what}");
        assert_eq!(site.file, "example.com/dumps/main.go", "{what}");
        assert_eq!(g.creator_goid.map(|g| g.0), Some(1), "{what}");
    }
    let generic = s
        .goroutines
        .iter()
        .find(|g| {
            s.stack(g.stack)
                .iter()
                .any(|&f| s.function(f) == "main.blockRecv[...]")
        })
        .unwrap_or_else(|| panic!("{what}: the generic frame is named main.blockRecv[...]"));
    let labels: Vec<_> = s.labels(generic.labels).collect();
    if minor >= 27 {
        assert_eq!(
            labels,
            [("handler", "/api"), ("tenant", "acme corp")],
            "{what}"
        );
    } else {
        assert!(labels.is_empty(), "{what}");
    }
    let locked = s
        .goroutines
        .iter()
        .find(|g| g.wait_reason == Some(WaitReason::SelectNoCases))
        .unwrap_or_else(|| panic!("{what}: select (no cases)"));
    assert!(locked.locked_to_thread, "{what}");
    let want_min = if minor >= 27 { "go1.27" } else { "go1.21" };
    assert!(
        s.go_version_min.as_deref().unwrap_or("") >= want_min,
        "{what}: go_version_min {:?}",
        s.go_version_min
    );
    assert!(!s.truncated, "{what}: {:?}", s.warnings);
}

#[test]
fn dumps_of_every_installed_go_release() {
    let chains = toolchains();
    if chains.is_empty() {
        eprintln!("SKIPPED: no Go toolchain installed");
        return;
    }
    for (version, go) in chains {
        let Some(bin) = build(&version, &go) else {
            continue;
        };
        // runtime.Stack(all): the debug=2 format.
        let out = Command::new(&bin).arg("stack").output().unwrap();
        assert!(out.status.success(), "go {version}: stack mode failed");
        let what = format!("go{version} runtime.Stack");
        let s = read(&out.stdout, &what);
        assert_eq!(s.source.format, Format::Debug2, "{what}");
        assert_eq!(s.goroutines.len(), naive_headers(&out.stdout), "{what}");
        assert_eq!(
            s.goroutines.len(),
            23,
            "{what}: main + 20 workers + labeled + locked"
        );
        assert_eq!(s.goroutines[0].status, Status::Running, "{what}");
        check_common(&s, &version, &what);

        // An unrecovered panic with GOTRACEBACK=system: gp=/m= headers (Go 1.22+),
        // fp/sp/pc on file lines, runtime goroutines and frames.
        let out = Command::new(&bin)
            .arg("panic")
            .env("GOTRACEBACK", "system")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "go {version}: panic exits 2");
        let what = format!("go{version} panic GOTRACEBACK=system");
        let s = read(&out.stderr, &what);
        assert_eq!(s.source.format, Format::Traceback, "{what}");
        assert_eq!(s.reason.as_deref(), Some("panic: boom"), "{what}");
        assert_eq!(s.goroutines.len(), naive_headers(&out.stderr), "{what}");
        assert!(
            s.goroutines.len() > 23,
            "{what}: system goroutines are shown"
        );
        check_common(&s, &version, &what);
        assert!(s.warnings.is_empty(), "{what}: {:?}", s.warnings);
        let _ = std::fs::remove_dir_all(bin.parent().unwrap());
    }
}

#[test]
fn sigquit_dump_of_a_live_process() {
    let Some((version, go)) = toolchains().pop() else {
        eprintln!("SKIPPED: no Go toolchain installed");
        return;
    };
    let Some(bin) = build(&version, &go) else {
        return;
    };
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};
    let mut child = Command::new(&bin)
        .arg("wait")
        // Not `crash`: that level aborts afterwards and can wait on core-dump handlers.
        .env("GOTRACEBACK", "system")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read both pipes on their own threads so the child never blocks on a full pipe, and
    // wait for READY with a deadline instead of forever.
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if line.map(|l| l == "READY").unwrap_or(false) {
                let _ = ready_tx.send(());
            }
        }
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut buf).unwrap();
        buf
    });
    if ready_rx.recv_timeout(Duration::from_secs(60)).is_err() {
        let _ = child.kill();
        panic!("go {version}: no READY line within 60 s");
    }
    let kill = Command::new("kill")
        .args(["-QUIT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("go {version}: the process did not exit after SIGQUIT");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out_stderr = err_reader.join().unwrap();
    let what = format!("go{version} SIGQUIT GOTRACEBACK=system");
    let s = read(&out_stderr, &what);
    assert_eq!(s.reason.as_deref(), Some("SIGQUIT: quit"), "{what}");
    // The signalled thread's g0 is printed as goroutine 0, with gp/m and registers around: a
    // system stack, not a goroutine.
    assert!(
        s.system_stacks
            .iter()
            .any(|g| g.goid.0 == 0 && g.gp.is_some()),
        "{what}"
    );
    assert!(s.goroutines.iter().all(|g| g.goid.0 != 0), "{what}");
    assert_eq!(
        s.goroutines.len() + s.system_stacks.len(),
        naive_headers(&out_stderr),
        "{what}"
    );
    check_common(&s, &version, &what);
    let stderr = String::from_utf8_lossy(&out_stderr);
    assert!(
        stderr.contains("\nrax "),
        "{what}: a register block was printed"
    );
    assert!(
        s.warnings.iter().all(|w| !w.message.contains("rax")),
        "{what}: registers are known noise: {:?}",
        s.warnings
    );
    let _ = std::fs::remove_dir_all(bin.parent().unwrap());
}
