//! `goroscope check` end to end, against real Go services (fixtures/go/svc-*) under a real
//! workload (fixtures/go/check-load): exit codes, the leak's site and growth, warm-up, a leak
//! that needs concurrency, a failing workload, a `pid:` target without pprof, and the service
//! `--start` starts being stopped with nothing left behind.
//!
//! A service started with `--start` must be reachable at a URL known before it starts: the test
//! binds 127.0.0.1:0 itself and hands the listening socket down as descriptor 3
//! (`FIXTURE_LISTEN_FD=3`), so there is no race for a port. Tests run one at a time (each
//! starts services, workloads and polls them; the machine is shared) and wait by looking
//! (READY lines, files, process states), never by sleeping a fixed time.

use goroscope_fixtures::{build, toolchains, Fixture, StartOptions, Toolchain};
use serde_json::Value;
use std::io::Read;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Longest a check may take here before the test calls it hung.
const CHECK_TIMEOUT: Duration = Duration::from_secs(300);

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn newest() -> Toolchain {
    toolchains().pop().expect("toolchains() panics when none")
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The line of `fixtures/go/<fixture>/main.go` holding `marker`.
fn marker_line(fixture: &str, marker: &str) -> u64 {
    let src = std::fs::read_to_string(repo().join("fixtures/go").join(fixture).join("main.go"))
        .expect("fixture source");
    let i = src
        .lines()
        .position(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no {marker} in {fixture}/main.go"));
    i as u64 + 1
}

/// A listening socket for a service the check starts, and its address.
fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let a = l.local_addr().unwrap().to_string();
    (l, a)
}

struct Out {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    /// The check's output directory (`--output-dir`), removed with the result.
    _dir: tempfile::TempDir,
}

impl Out {
    fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}\n--- stdout\n{}\n--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// `goroscope check ARGS`, with `listener` (if any) as its descriptor 3; waits at most
/// [`CHECK_TIMEOUT`]. Without an `--output-dir` in ARGS, the output goes to a temporary
/// directory that goes away with the result.
fn check(args: &[&str], listener: Option<&TcpListener>) -> Out {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_goroscope"));
    cmd.arg("check");
    if !args.contains(&"--output-dir") {
        cmd.arg("--output-dir").arg(dir.path());
    }
    cmd.args(args)
        .env_remove("GOROSCOPE_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(l) = listener {
        let fd = l.as_raw_fd();
        cmd.env("FIXTURE_LISTEN_FD", "3");
        // SAFETY: only async-signal-safe calls (dup2, fcntl) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let r = if fd == 3 {
                    libc::fcntl(3, libc::F_SETFD, 0)
                } else {
                    libc::dup2(fd, 3)
                };
                if r < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn().expect("running goroscope");
    let read = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut r) = r {
                let _ = r.read_to_string(&mut s);
            }
            s
        })
    };
    let o = read(child.stdout.take().map(|r| Box::new(r) as _));
    let e = read(child.stderr.take().map(|r| Box::new(r) as _));
    let end = Instant::now() + CHECK_TIMEOUT;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "goroscope check {args:?} did not finish within {CHECK_TIMEOUT:?}; stderr:\n{}",
                e.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Out {
        status,
        stdout: o.join().unwrap(),
        stderr: e.join().unwrap(),
        _dir: dir,
    }
}

fn load(tc: &Toolchain) -> String {
    build("check-load", tc).display().to_string()
}

fn service(name: &str, tc: &Toolchain) -> String {
    build(name, tc).display().to_string()
}

/// The group of a check document whose blocking site is `function`.
fn group<'a>(doc: &'a Value, function: &str) -> &'a Value {
    doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"]["blocking_site"]["function"] == function)
        .unwrap_or_else(|| panic!("no group blocked in {function}: {doc:#}"))
}

fn leaks(doc: &Value) -> Vec<&Value> {
    doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["outcome"] == "leak")
        .collect()
}

fn counts(g: &Value) -> Vec<u64> {
    g["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect()
}

/// Whether a process exists (a zombie counts as gone: it no longer runs).
fn alive(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(s) => {
            let state = s
                .rfind(')')
                .and_then(|i| s[i + 1..].split_whitespace().next());
            state != Some("Z")
        }
    }
}

/// Processes of process group `pgid`.
fn group_members(pgid: u64) -> Vec<u64> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u64>().ok()) else {
            continue;
        };
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            let f: Vec<&str> = s[s.rfind(')').unwrap() + 1..].split_whitespace().collect();
            if f.get(2).and_then(|g| g.parse::<u64>().ok()) == Some(pgid) && f[0] != "Z" {
                out.push(pid);
            }
        }
    }
    out
}

/// Counts `<testcase>`, `<failure>` and `<error>` elements of a JUnit file; panics when it is
/// not well-formed XML.
fn junit_counts(path: &Path) -> (usize, usize, usize) {
    use quick_xml::events::Event;
    let text = std::fs::read_to_string(path).expect("the JUnit file");
    let mut r = quick_xml::Reader::from_str(&text);
    let (mut cases, mut failures, mut errors) = (0, 0, 0);
    loop {
        match r
            .read_event()
            .unwrap_or_else(|e| panic!("bad XML ({e}):\n{text}"))
        {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                b"testcase" => cases += 1,
                b"failure" => failures += 1,
                b"error" => errors += 1,
                _ => {}
            },
            _ => {}
        }
    }
    (cases, failures, errors)
}

/// The leaky handler fails with its blocking and creation sites and "1.0 per request", with
/// every installed Go release; the service is started, found ready and stopped by SIGTERM.
#[test]
fn leaky_handler_fails_with_its_site_and_one_goroutine_per_request() {
    let _g = serial();
    let site = marker_line("svc-leaky-handler", "LEAK-SITE");
    let created = marker_line("svc-leaky-handler", "LEAK-CREATED");
    for tc in toolchains() {
        let (l, addr) = listener();
        let dir = tempfile::tempdir().unwrap();
        let junit = dir.path().join("junit.xml");
        let out_dir = dir.path().join("out");
        let out = check(
            &[
                "--start",
                &format!("exec {}", service("svc-leaky-handler", &tc)),
                "--ready",
                &format!("http://{addr}/healthz"),
                "--target",
                &format!("http://{addr}"),
                "--repeat",
                "3",
                "--requests",
                "4",
                "-o",
                "json",
                "--junit",
                junit.to_str().unwrap(),
                "--output-dir",
                out_dir.to_str().unwrap(),
                "--",
                &load(&tc),
                "-url",
                &format!("http://{addr}/order"),
                "-n",
                "4",
                "-c",
                "2",
            ],
            Some(&l),
        );
        assert_eq!(out.code(), 1, "go {}: {out:?}", tc.version);
        let doc = out.json();
        assert_eq!(doc["verdict"], "leaked");
        let leaks = leaks(&doc);
        assert_eq!(leaks.len(), 1, "go {}: {doc:#}", tc.version);
        let g = leaks[0];
        assert_eq!(counts(g), vec![0, 4, 8, 12], "go {}: {g:#}", tc.version);
        assert_eq!(g["growth_per_run"], 4.0);
        assert_eq!(g["growth_per_request"], 1.0);
        let b = &g["group"]["blocking_site"];
        assert_eq!(b["function"], "main.audit");
        assert!(b["file"]
            .as_str()
            .unwrap()
            .ends_with("svc-leaky-handler/main.go"));
        assert_eq!(b["line"], site);
        assert_eq!(g["group"]["created_by"]["function"], "main.handleOrder");
        assert_eq!(g["group"]["created_by"]["line"], created);
        assert_eq!(g["group"]["wait_reason"], "chan send");
        // JUnit: one failing case for the one leak, with the growth per request.
        assert_eq!(junit_counts(&junit), (1, 1, 0));
        let j = std::fs::read_to_string(&junit).unwrap();
        assert!(j.contains("+4.0 per run, 1.0 per request"), "{j}");
        // The service was stopped gracefully; its output is where the report says.
        let svc = &doc["service"];
        assert_eq!(svc["stopped_by"], "sigterm", "{svc:#}");
        assert_eq!(svc["exit"], "exit status 0", "{svc:#}");
        assert!(!alive(svc["pid"].as_u64().unwrap()));
        let stderr = std::fs::read_to_string(svc["stderr"].as_str().unwrap()).unwrap();
        assert!(stderr.contains("svc: stopping on SIGTERM"), "{stderr}");
        assert_eq!(doc["output_dir"], out_dir.to_str().unwrap());
        assert!(out_dir.join("workload-run-3.log").is_file());
    }
}

/// The same leak in the terminal report: the site and "1.0 per request" where a person reads.
#[test]
fn the_terminal_report_names_the_leak_per_request() {
    let _g = serial();
    let tc = newest();
    let mut fx = Fixture::start("svc-leaky-handler", &tc, &StartOptions::default());
    let addr = fx.addr.clone();
    let _ = fx.fetch("/healthz").expect("the service answers");
    let out = check(
        &[
            "--target",
            &format!("http://{addr}/debug/pprof/goroutine"),
            "--repeat",
            "2",
            "--requests",
            "3",
            "--",
            &load(&tc),
            "-url",
            &format!("http://{addr}/order"),
            "-n",
            "3",
        ],
        None,
    );
    assert_eq!(out.code(), 1, "{out:?}");
    for want in [
        "FAILED",
        "1. LEAK · +3.0 per run, 1.0 per request · chan-send-receiver-gone",
        "blocked at  main.audit (",
        "created by  main.handleOrder (",
        "counts      0 → 3 → 6 (baseline, run 1, run 2)",
    ] {
        assert!(out.stdout.contains(want), "missing {want:?}: {out:?}");
    }
}

/// A service that warms up on its first request (a worker pool, a cache filler, keep-alive
/// client connections) passes with --repeat 5, and a single run reports the pool as new and
/// says that --repeat tells warm-up from leaks.
#[test]
fn warm_up_service_passes_five_runs_and_a_single_run_says_why_it_fails() {
    let _g = serial();
    let tc = newest();
    let (l, addr) = listener();
    let start = format!("exec {}", service("svc-warmup", &tc));
    let ready = format!("http://{addr}/healthz");
    let target = format!("http://{addr}");
    let url = format!("http://{addr}/work");
    let lg = load(&tc);
    let args = |repeat: &'static str| -> Vec<String> {
        [
            "--start", &start, "--ready", &ready, "--target", &target, "--repeat", repeat, "-o",
            "json", "--", &lg, "-url", &url, "-n", "10", "-c", "2",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let five = args("5");
    let out = check(
        &five.iter().map(String::as_str).collect::<Vec<_>>(),
        Some(&l),
    );
    assert_eq!(out.code(), 0, "{out:?}");
    let doc = out.json();
    assert_eq!(doc["verdict"], "clean");
    assert!(leaks(&doc).is_empty(), "{doc:#}");
    let pool = group(&doc, "main.worker");
    assert_eq!(pool["outcome"], "warm-up", "{pool:#}");
    assert_eq!(counts(pool), vec![0, 4, 4, 4, 4, 4]);

    let one = args("1");
    let out = check(
        &one.iter().map(String::as_str).collect::<Vec<_>>(),
        Some(&l),
    );
    assert_eq!(out.code(), 1, "{out:?}");
    let doc = out.json();
    let pool = group(&doc, "main.worker");
    assert_eq!(pool["outcome"], "leak", "{pool:#}");
    assert_eq!(counts(pool), vec![0, 4]);
    let notes = doc["notes"].to_string();
    assert!(notes.contains("--repeat"), "{notes}");
}

/// svc-concurrency-leak leaks one goroutine per pair of overlapping requests. Truth of the
/// fixture: sequential requests never overlap, so they never leak.
#[test]
fn concurrency_leak_fails_under_concurrency_and_passes_sequentially() {
    let _g = serial();
    let tc = newest();
    let site = marker_line("svc-concurrency-leak", "LEAK-SITE");
    let (l, addr) = listener();
    let lg = load(&tc);
    let bin = service("svc-concurrency-leak", &tc);
    let run = |window_ms: u32, c: &str, n: &str, repeat: &str| {
        check(
            &[
                "--start",
                &format!("FIXTURE_WINDOW_MS={window_ms} exec {bin}"),
                "--ready",
                &format!("http://{addr}/healthz"),
                "--target",
                &format!("http://{addr}"),
                "--repeat",
                repeat,
                "--requests",
                n,
                "-o",
                "json",
                "--",
                &lg,
                "-url",
                &format!("http://{addr}/lookup"),
                "-n",
                n,
                "-c",
                c,
            ],
            Some(&l),
        )
    };
    // Concurrency 2: requests pair up (each waits up to 1 s for a partner).
    let out = run(1000, "2", "6", "3");
    assert_eq!(out.code(), 1, "{out:?}");
    let doc = out.json();
    let found = leaks(&doc);
    assert_eq!(found.len(), 1, "{doc:#}");
    let g = found[0];
    assert_eq!(g["group"]["blocking_site"]["function"], "main.hedged.func1");
    assert_eq!(g["group"]["blocking_site"]["line"], site);
    let c = counts(g);
    assert!(c.windows(2).all(|w| w[1] > w[0]), "{c:?}");
    // At most one per pair: 3 pairs per run of 6 requests.
    assert!(c[3] <= 9, "{c:?}");

    // Concurrency 1: every request is answered alone; nothing leaks.
    let out = run(200, "1", "3", "2");
    assert_eq!(out.code(), 0, "{out:?}");
    let doc = out.json();
    assert!(leaks(&doc).is_empty(), "{doc:#}");
    assert!(
        doc["groups"].as_array().unwrap().is_empty(),
        "nothing changed: {doc:#}"
    );
}

/// A workload that fails (or cannot start) is exit 2 with its output, not a verdict.
#[test]
fn a_failing_workload_is_an_error_with_its_output() {
    let _g = serial();
    let tc = newest();
    let fx = Fixture::start("svc-leaky-handler", &tc, &StartOptions::default());
    let addr = fx.addr.clone();
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let out = check(
        &[
            "--target",
            &format!("http://{addr}"),
            "--junit",
            junit.to_str().unwrap(),
            "--",
            &load(&tc),
            "-url",
            &format!("http://{addr}/no-such-page"),
            "-n",
            "2",
        ],
        None,
    );
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(out.stdout.is_empty(), "no report: {out:?}");
    for want in [
        "the workload failed in run 1 (exit status 1); no verdict",
        "404 Not Found",
        "workload-run-1.log",
    ] {
        assert!(out.stderr.contains(want), "missing {want:?}: {out:?}");
    }
    assert_eq!(junit_counts(&junit), (1, 0, 1));

    let out = check(
        &[
            "--target",
            &format!("http://{addr}"),
            "--",
            "/nonexistent/load-test",
        ],
        None,
    );
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(
        out.stderr
            .contains("cannot start the workload `/nonexistent/load-test`"),
        "{out:?}"
    );
}

/// `--target pid:PID` reads a service that has no pprof endpoint from its memory.
#[test]
fn a_pid_target_needs_no_pprof_endpoint() {
    let _g = serial();
    let tc = newest();
    let mut fx = Fixture::start(
        "svc-leaky-handler",
        &tc,
        &StartOptions {
            env: vec![("FIXTURE_NO_PPROF".into(), "1".into())],
            ..Default::default()
        },
    );
    let e = fx.fetch("/debug/pprof/goroutine?debug=2").unwrap_err();
    assert!(e.to_string().contains("HTTP 404"), "{e}");
    let addr = fx.addr.clone();
    let out = check(
        &[
            "--target",
            &format!("pid:{}", fx.pid()),
            "--repeat",
            "2",
            "--requests",
            "3",
            "-o",
            "json",
            "--",
            &load(&tc),
            "-url",
            &format!("http://{addr}/order"),
            "-n",
            "3",
        ],
        None,
    );
    assert_eq!(out.code(), 1, "{out:?}");
    let doc = out.json();
    assert_eq!(doc["target"], format!("pid {}", fx.pid()));
    let leaks = leaks(&doc);
    assert_eq!(leaks.len(), 1, "{doc:#}");
    assert_eq!(leaks[0]["group"]["blocking_site"]["function"], "main.audit");
    assert_eq!(counts(leaks[0]), vec![0, 3, 6]);
    assert_eq!(leaks[0]["growth_per_request"], 1.0);
}

/// `--start` + `--target pid` + `--ready`: the Go program is found under the shell, read from
/// memory, and stopped at the end — here it ignores SIGTERM, so the stop escalates to SIGKILL —
/// with no process of its group left. A service that exits before it is ready is exit 2 with
/// its output.
#[test]
fn start_and_ready_start_the_service_and_stop_it_without_leftovers() {
    let _g = serial();
    let tc = newest();
    let (l, addr) = listener();
    let out = check(
        &[
            // Not `exec`: a shell stays in between, and must be looked through and stopped too.
            "--start",
            &format!(
                "FIXTURE_NO_PPROF=1 FIXTURE_IGNORE_TERM=1 {}; echo never reached",
                service("svc-leaky-handler", &tc)
            ),
            "--ready",
            &format!("http://{addr}/healthz"),
            "--target",
            "pid",
            "--stop-timeout",
            "1s",
            "--repeat",
            "2",
            "-o",
            "json",
            "--",
            &load(&tc),
            "-url",
            &format!("http://{addr}/order"),
            "-n",
            "2",
        ],
        Some(&l),
    );
    assert_eq!(out.code(), 1, "{out:?}");
    let doc = out.json();
    assert_eq!(counts(leaks(&doc)[0]), vec![0, 2, 4], "{doc:#}");
    let svc = &doc["service"];
    let pid = svc["pid"].as_u64().unwrap();
    let go_pid = svc["go_pid"].as_u64().unwrap();
    assert_ne!(pid, go_pid, "the Go program runs under the shell: {svc:#}");
    assert_eq!(doc["target"], format!("pid {go_pid}"));
    assert_eq!(svc["stopped_by"], "sigkill", "it ignores SIGTERM: {svc:#}");
    assert_eq!(svc["left_behind"], serde_json::json!([]));
    assert!(!alive(pid) && !alive(go_pid), "{svc:#}");
    assert!(group_members(pid).is_empty(), "{:?}", group_members(pid));
    let stdout = std::fs::read_to_string(svc["stdout"].as_str().unwrap()).unwrap();
    assert!(stdout.contains("READY"), "{stdout}");
    assert!(!stdout.contains("never reached"), "{stdout}");

    let out = check(
        &[
            "--start",
            "echo cannot bind 127.0.0.1:1 >&2; exit 3",
            "--target",
            "http://127.0.0.1:1",
            "--",
            "true",
        ],
        None,
    );
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(
        out.stderr
            .contains("the service exited before it was ready (exit status 3)"),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("    cannot bind 127.0.0.1:1"),
        "{out:?}"
    );
}

/// SIGTERM to goroscope in the middle of a run stops the workload and the service it started.
#[test]
fn an_interrupted_check_stops_what_it_started() {
    let _g = serial();
    let tc = newest();
    let (l, addr) = listener();
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let bin = service("svc-leaky-handler", &tc);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_goroscope"));
    let fd = l.as_raw_fd();
    cmd.args([
        "check",
        "--start",
        &format!("exec {bin}"),
        "--ready",
        &format!("http://{addr}/healthz"),
        "--target",
        &format!("http://{addr}"),
        "--output-dir",
        out_dir.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "echo $$ > workload.pid; exec sleep 600",
    ])
    .current_dir(dir.path())
    .env("FIXTURE_LISTEN_FD", "3")
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let r = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    // Wait until the workload runs: its pid file appears (the service was ready before).
    let pid_file = dir.path().join("workload.pid");
    let end = Instant::now() + CHECK_TIMEOUT;
    let workload: u64 = loop {
        if let Some(p) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            break p;
        }
        assert!(
            Instant::now() < end && child.try_wait().unwrap().is_none(),
            "the workload never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let service_out = std::fs::read_to_string(out_dir.join("service.stdout")).unwrap();
    assert!(service_out.contains("READY"), "{service_out}");
    // The service: the process serving the address, found through its output file's reader…
    // simpler: every process whose executable is the fixture.
    let services: Vec<u64> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u64>().ok())
        .filter(|p| {
            std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|x| x == Path::new(&bin))
                && std::fs::read_to_string(format!("/proc/{p}/environ"))
                    .is_ok_and(|e| e.contains("FIXTURE_LISTEN_FD=3"))
        })
        .filter(|&p| {
            // Ours: its parent is the goroscope we started.
            std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|s| {
                s[s.rfind(')').unwrap() + 1..].split_whitespace().nth(1)
                    == Some(&child.id().to_string())
            })
        })
        .collect();
    assert_eq!(services.len(), 1, "{services:?}");
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    assert!(!alive(workload), "the workload was stopped");
    assert!(!alive(services[0]), "the service was stopped");
}

#[test]
fn bad_flags_are_usage_errors() {
    let out = check(&["--target", "localhost:6060", "--", "true"], None);
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(
        out.stderr
            .contains("--target localhost:6060: expected an http(s):// URL"),
        "{out:?}"
    );
    let out = check(&["--target", "http://127.0.0.1:1"], None);
    assert_eq!(out.code(), 2, "{out:?}");
    let out = check(&["--target", "pid", "--", "true"], None);
    assert_eq!(out.code(), 2, "{out:?}");
    assert!(out.stderr.contains("give --start"), "{out:?}");
    let out = check(
        &[
            "--target",
            "http://127.0.0.1:1",
            "--duration",
            "1s",
            "--",
            "true",
        ],
        None,
    );
    assert_eq!(out.code(), 2, "{out:?}");
}
