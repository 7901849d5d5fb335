//! The whole check, without Go: a fake `/debug/pprof/goroutine` server whose dump grows with a
//! counter the workload bumps, so baseline → runs → settle → decide → report run for real and
//! the answer is known in advance. (The Go services are in `crates/goroscope/tests/check.rs`.)

use goroscope_check::{
    check, CheckError, CheckOptions, CheckVerdict, Outcome, ServiceOptions, Target, Workload,
};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A debug=2 dump: main, an accept loop, and `leaked` goroutines blocked sending in
/// `main.audit`.
fn dump(leaked: usize) -> String {
    let mut d = String::from(
        "goroutine 1 [select (no cases)]:\nmain.main()\n\t/src/svc/main.go:50 +0x1d\n\n\
         goroutine 6 [IO wait]:\ninternal/poll.runtime_pollWait(0x7f, 0x72)\n\t/go/src/runtime/netpoll.go:351 +0x85\n\
         net.(*TCPListener).Accept(0xc000010000)\n\t/go/src/net/tcpsock.go:380 +0x30\n\
         net/http.(*Server).Serve(0xc000120000, {0x6c, 0xc000010000})\n\t/go/src/net/http/server.go:3424 +0x30c\n\
         created by main.main in goroutine 1\n\t/src/svc/main.go:40 +0x65\n\n",
    );
    for i in 0..leaked {
        d.push_str(&format!(
            "goroutine {} [chan send]:\nmain.audit(0x1, 0xc000012000)\n\t/src/svc/main.go:27 +0x45\ncreated by main.handleOrder in goroutine 7\n\t/src/svc/main.go:33 +0x6f\n\n",
            100 + i
        ));
    }
    d
}

/// Serves `dump(per_line × lines of counter)` to every request; returns the base URL.
fn fake_pprof(counter: PathBuf, per_line: usize) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let runs = std::fs::read_to_string(&counter)
                .map(|s| s.lines().count())
                .unwrap_or(0);
            let body = dump(runs * per_line);
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}")
}

fn sh(script: &str) -> Workload {
    Workload::Command(vec!["sh".into(), "-c".into(), script.into()])
}

fn fast(mut o: CheckOptions, dir: &Path) -> CheckOptions {
    o.settle.first_interval = Duration::from_millis(5);
    o.settle.max_interval = Duration::from_millis(20);
    o.settle.quiet = Duration::from_millis(20);
    o.output_dir = Some(dir.join("out"));
    o
}

#[test]
fn growth_with_the_runs_fails_with_growth_per_request_and_no_secret_shows() {
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("runs");
    let base = fake_pprof(counter.clone(), 2);
    // Credentials and a token in the URL: neither may reach the report.
    let url = base.replacen("http://", "http://admin:hunter2@", 1)
        + "/debug/pprof/goroutine?access_token=abc123";
    let mut o = fast(
        CheckOptions::new(
            Target::Url(url),
            sh(&format!("echo run >> {}", counter.display())),
        ),
        dir.path(),
    );
    o.repeat = 3;
    o.requests = Some(2);
    let r = check(&o).unwrap();
    assert_eq!(r.verdict, CheckVerdict::Leaked);
    assert_eq!(r.exit_code(), 1);
    let leaks: Vec<_> = r.leaks().collect();
    assert_eq!(leaks.len(), 1, "{r:#?}");
    assert_eq!(leaks[0].counts, vec![0, 2, 4, 6]);
    assert_eq!(leaks[0].growth_per_request, Some(1.0));
    assert_eq!(r.points.len(), 4);
    assert_eq!(r.workload.as_deref(), Some("sh"));
    let json = serde_json::to_string(&r).unwrap();
    for secret in ["hunter2", "abc123", "echo run"] {
        assert!(!json.contains(secret), "{secret} in {json}");
    }
    assert!(r.target.contains("***@") && r.target.contains("access_token=***"));
    assert!(dir.path().join("out/workload-run-3.log").is_file());
}

#[test]
fn waiting_instead_of_a_workload_on_a_flat_service_is_clean() {
    let dir = tempfile::tempdir().unwrap();
    let base = fake_pprof(dir.path().join("never-written"), 1);
    let mut o = fast(
        CheckOptions::new(Target::Url(base), Workload::Wait(Duration::from_millis(50))),
        dir.path(),
    );
    o.repeat = 2;
    let r = check(&o).unwrap();
    assert_eq!(r.verdict, CheckVerdict::Clean, "{r:#?}");
    assert_eq!(r.exit_code(), 0);
    assert!(r.groups.is_empty());
    assert_eq!((r.workload.as_deref(), r.duration_secs), (None, Some(0.05)));
    assert!(r.points[1].workload_secs.unwrap() >= 0.05);
}

#[test]
fn one_run_counts_what_is_new_and_says_repeat_tells_warm_up() {
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("runs");
    let base = fake_pprof(counter.clone(), 3);
    let o = fast(
        CheckOptions::new(
            Target::Url(base),
            sh(&format!("echo run >> {}", counter.display())),
        ),
        dir.path(),
    );
    let r = check(&o).unwrap();
    assert_eq!(r.groups[0].outcome, Outcome::Leak);
    assert_eq!(r.groups[0].counts, vec![0, 3]);
    assert!(r.notes[0].contains("--repeat"), "{:?}", r.notes);
}

#[test]
fn a_target_that_never_answers_is_not_ready_and_keeps_its_secret() {
    let dir = tempfile::tempdir().unwrap();
    // Port 1 on loopback: nothing listens.
    let mut o = fast(
        CheckOptions::new(
            Target::Url("http://u:hunter2@127.0.0.1:1/".into()),
            sh("true"),
        ),
        dir.path(),
    );
    o.ready_timeout = Duration::from_millis(300);
    let e = check(&o).unwrap_err();
    assert!(matches!(e, CheckError::NotReady { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.starts_with("the service was not ready within 300ms"),
        "{msg}"
    );
    assert!(!msg.contains("hunter2"), "{msg}");
    assert_eq!(e.exit_code(), 2);
}

#[test]
fn a_started_program_that_is_not_go_is_not_ready_and_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let mut o = fast(CheckOptions::new(Target::Started, sh("true")), dir.path());
    o.service = Some(ServiceOptions::new(format!(
        "echo $$ > {}; echo starting; exec sleep 600",
        pid_file.display()
    )));
    o.ready_timeout = Duration::from_millis(500);
    let e = check(&o).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("no Go program among pid"), "{msg}");
    assert!(msg.contains("    starting"), "the service's output: {msg}");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()));
    // Gone, or a zombie nobody reaped yet: not running.
    assert!(
        stat.as_deref()
            .map_or(true, |s| s[s.rfind(')').unwrap() + 1..]
                .trim_start()
                .starts_with('Z')),
        "the service still runs: {stat:?}"
    );
}
