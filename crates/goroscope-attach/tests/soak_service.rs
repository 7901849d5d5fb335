//! SAFETY soak of issue 4 as stated: attach many times, alternating non-blocking and
//! `--pause`, to a busy HTTP service (`fixtures/go/attach_service`) while a client in this test
//! sends keep-alive requests to it the whole time. The service must never fail a request, never
//! be left stopped or traced after an attach, and no ptrace state or descriptor may leak. Then
//! goroscope is SIGKILLed while it holds the service stopped, under the same load, and the
//! service must carry on serving.
//!
//! `GOROSCOPE_SOAK_N` sets the number of attaches (default 100; the 1,000 is
//! `GOROSCOPE_SOAK_N=1000`).
#![cfg(target_os = "linux")]

mod common;
use common::*;
use goroscope_attach::{attach_pid_with_stats, AttachOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The two tests share the process's descriptor table and a service: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Every thread of `pid`: `(tid, state letter from /proc/…/stat, TracerPid)`.
fn threads(pid: u32) -> Vec<(u32, char, String)> {
    let mut out = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let tid: u32 = t.unwrap().file_name().to_str().unwrap().parse().unwrap();
        // A thread may exit between listing and reading: skip it then.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")) else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")) else {
            continue;
        };
        let state = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next())
            .unwrap_or('?');
        let tracer = status
            .lines()
            .find_map(|l| l.strip_prefix("TracerPid:"))
            .unwrap_or("?")
            .trim()
            .to_string();
        out.push((tid, state, tracer));
    }
    out
}

/// Panics naming the thread if any thread is stopped (`t`/`T`) or traced.
fn assert_running_untraced(pid: u32, what: &str) {
    for (tid, state, tracer) in threads(pid) {
        assert!(
            state != 't' && state != 'T',
            "{what}: thread {tid} of {pid} left stopped (state {state})"
        );
        assert_eq!(tracer, "0", "{what}: thread {tid} of {pid} still traced");
    }
}

fn own_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// A keep-alive HTTP/1.1 client to 127.0.0.1, sending requests until told to stop (bounded by a
/// request count and a deadline). Every failure is recorded, none is retried.
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failures: Arc<Mutex<Vec<String>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

const MAX_REQUESTS: u64 = 5_000_000;
/// Longest a request may take: far above any pause, far below a hung service.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

fn one_request(conn: &mut BufReader<TcpStream>, n: u64, req_no: u64) -> Result<(), String> {
    let req =
        format!("GET /work?n={n} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n");
    conn.get_mut()
        .write_all(req.as_bytes())
        .map_err(|e| format!("request {req_no}: write: {e}"))?;
    let mut line = String::new();
    conn.read_line(&mut line)
        .map_err(|e| format!("request {req_no}: reading the status line: {e}"))?;
    if !line.starts_with("HTTP/1.1 200 ") {
        return Err(format!("request {req_no}: status line {line:?}"));
    }
    let mut len = None;
    loop {
        line.clear();
        conn.read_line(&mut line)
            .map_err(|e| format!("request {req_no}: reading headers: {e}"))?;
        if line.is_empty() {
            return Err(format!(
                "request {req_no}: connection closed in the headers"
            ));
        }
        if line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse::<usize>().ok();
            }
        }
    }
    let len = len.ok_or_else(|| format!("request {req_no}: no Content-Length"))?;
    let mut body = vec![0u8; len];
    conn.read_exact(&mut body)
        .map_err(|e| format!("request {req_no}: reading the body: {e}"))?;
    let text = String::from_utf8_lossy(&body);
    if text.parse::<u64>().is_err() {
        return Err(format!("request {req_no}: body {text:?} is not a number"));
    }
    Ok(())
}

impl Load {
    fn start(addr: &str, clients: usize, deadline: Duration) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let end = Instant::now() + deadline;
        let threads = (0..clients)
            .map(|c| {
                let (stop, ok, failures) = (stop.clone(), ok.clone(), failures.clone());
                let s = TcpStream::connect(addr).expect("connect to the service");
                s.set_read_timeout(Some(REQUEST_TIMEOUT)).unwrap();
                s.set_write_timeout(Some(REQUEST_TIMEOUT)).unwrap();
                s.set_nodelay(true).unwrap();
                let mut conn = BufReader::new(s);
                std::thread::spawn(move || {
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) && i < MAX_REQUESTS && Instant::now() < end
                    {
                        match one_request(&mut conn, 1 + (i + c as u64) % 8, i) {
                            Ok(()) => {
                                ok.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => {
                                failures.lock().unwrap().push(format!("client {c}: {e}"));
                                return; // the connection is in an unknown state
                            }
                        }
                        i += 1;
                    }
                })
            })
            .collect();
        Load {
            stop,
            ok,
            failures,
            threads,
        }
    }

    fn ok(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
    }

    fn failures(&self) -> Vec<String> {
        self.failures.lock().unwrap().clone()
    }

    /// Waits until at least `more` further requests have been answered (bounded).
    fn wait_progress(&self, more: u64, what: &str) {
        let start = self.ok();
        let t = Instant::now();
        while self.ok() < start + more {
            assert!(
                self.failures().is_empty(),
                "{what}: {}",
                self.failures().join("; ")
            );
            assert!(
                t.elapsed() < REQUEST_TIMEOUT,
                "{what}: the service answered {} requests in {:?}",
                self.ok() - start,
                t.elapsed()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn finish(mut self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            t.join().unwrap();
        }
        (self.ok(), self.failures())
    }
}

fn start_service() -> Option<(Fixture, String)> {
    let tcs = installed();
    let tc = tcs.last()?;
    let exe = build("attach_service", tc, false);
    let mut fx = Fixture::start(&exe, &[]);
    fx.send("addr");
    let addr = fx.read_until_prefix("ADDR ");
    assert!(addr.starts_with("127.0.0.1:"), "service address {addr}");
    Some((fx, addr))
}

#[test]
fn soak_attach_service_under_load() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let n: usize = std::env::var("GOROSCOPE_SOAK_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let Some((mut fx, addr)) = start_service() else {
        panic!("no Go toolchains installed: run scripts/install-go.sh");
    };
    let pid = fx.pid();
    let load = Load::start(&addr, 2, Duration::from_secs(3600));
    load.wait_progress(50, "warm-up");
    // Our own descriptors once the load is running: every attach must give back what it opens.
    let fds_before = own_fds();
    let t = Instant::now();
    let served_before = load.ok();
    let (mut paused_total, mut paused_max, mut torn) = (Duration::ZERO, Duration::ZERO, 0);
    for i in 0..n {
        let pause = i % 2 == 1;
        let (snap, stats) = attach_pid_with_stats(
            pid,
            &AttachOptions {
                pause,
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("attach #{i} (pause={pause}) failed: {e}"));
        if let Some(d) = stats.paused {
            paused_total += d;
            paused_max = paused_max.max(d);
        }
        torn += snap
            .warnings
            .iter()
            .filter(|w| w.message.contains("changed while being read"))
            .count();
        // The service's own goroutines are there every time: the accept loop and the stdin
        // command loop in main.
        let has = |f: &str| {
            snap.goroutines.iter().any(|g| {
                snap.stack(g.stack)
                    .iter()
                    .any(|&fr| snap.str(snap.frame(fr).function) == f)
            })
        };
        assert!(
            has("net/http.(*Server).Serve") && has("main.main"),
            "attach #{i} (pause={pause}): the server's goroutines are missing ({} goroutines)",
            snap.goroutines.len()
        );
        assert_running_untraced(pid, &format!("after attach #{i} (pause={pause})"));
        let f = load.failures();
        assert!(
            f.is_empty(),
            "after attach #{i} (pause={pause}): {}",
            f.join("; ")
        );
    }
    let elapsed = t.elapsed();
    // (Before the load stops: its two connections are part of the count.)
    assert_eq!(
        own_fds(),
        fds_before,
        "goroscope's descriptor count changed over {n} attaches"
    );
    let served_during = load.ok() - served_before;
    // The load ran through the whole loop, and still runs after it.
    load.wait_progress(50, "after the soak");
    let (total, failures) = load.finish();
    assert!(
        failures.is_empty(),
        "failed requests: {}",
        failures.join("; ")
    );
    assert!(
        served_during > 0,
        "no request was answered during {n} attaches"
    );
    assert_running_untraced(pid, "at the end");
    fx.send("served");
    let served: u64 = fx.read_until_prefix("SERVED ").parse().unwrap();
    assert!(
        served >= total,
        "service counted {served} < {total} answered"
    );
    eprintln!(
        "{n} attaches ({} --pause) in {elapsed:.1?} under load: {served_during} requests answered \
         meanwhile, {total} in all, 0 failed; target stopped per --pause mean {:.1?} max {:.1?}; \
         {torn} goroutines reported torn (changed while read)",
        n / 2,
        paused_total / (n / 2).max(1) as u32,
        paused_max
    );
}

/// Helper run in a child process by `sigkill_mid_pause_under_load`: stops every thread of
/// `GOROSCOPE_HOLD_PID` exactly like `--pause` does, says HELD, and waits to be killed.
#[test]
#[ignore = "helper: run in a child process by sigkill_mid_pause_under_load"]
fn hold_service_helper() {
    let pid = std::env::var("GOROSCOPE_HOLD_PID").expect("GOROSCOPE_HOLD_PID");
    let lock = goroscope_attach::ptrace::ThreadLock::stop_all(pid.parse().unwrap()).unwrap();
    println!("HELD {}", lock.thread_count());
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn sigkill_mid_pause_under_load() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some((_fx, addr)) = start_service() else {
        panic!("no Go toolchains installed: run scripts/install-go.sh");
    };
    let pid = _fx.pid();
    let load = Load::start(&addr, 2, Duration::from_secs(600));
    load.wait_progress(50, "warm-up");
    let mut holder = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "hold_service_helper",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GOROSCOPE_HOLD_PID", pid.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(holder.stdout.take().unwrap());
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
    // Held: every thread stopped and traced, so no request is answered now.
    let held = threads(pid);
    assert!(
        held.iter().all(|(_, s, tr)| *s == 't' && tr != "0"),
        "service not held: {held:?}"
    );
    // (A response already received when the threads stopped may still be counted: settle first.)
    std::thread::sleep(Duration::from_millis(100));
    let during = load.ok();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        load.ok(),
        during,
        "requests answered while the service was stopped"
    );
    holder.0.kill().unwrap();
    holder.0.wait().unwrap();
    // The kernel detached the seized threads: the requests in flight complete and more follow.
    load.wait_progress(100, "after SIGKILL of the holder");
    assert_running_untraced(pid, "after SIGKILL of the holder");
    let (_, failures) = load.finish();
    assert!(
        failures.is_empty(),
        "failed requests: {}",
        failures.join("; ")
    );
}
