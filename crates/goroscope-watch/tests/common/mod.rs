//! Shared helpers of the watch tests: the Go service fixture, fault servers, HTTP, waiting by
//! looking.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The newest installed Go release (the fixtures need only the standard library).
pub fn go() -> goroscope_fixtures::Toolchain {
    goroscope_fixtures::toolchains()
        .pop()
        .expect("a Go toolchain (scripts/install-go.sh)")
}

/// A running `fixtures/go/watch_service`; killed on drop.
pub struct Service {
    pub child: Child,
    pub addr: String,
    pub leak_function: String,
    pub leak_file: String,
    pub leak_line: u32,
    pub created_by: String,
}

impl Service {
    pub fn start(env: &[(&str, &str)]) -> Service {
        let bin = goroscope_fixtures::build("watch_service", &go());
        let mut cmd = Command::new(bin);
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start watch_service");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let mut s = Service {
            child,
            addr: String::new(),
            leak_function: String::new(),
            leak_file: String::new(),
            leak_line: 0,
            created_by: String::new(),
        };
        loop {
            let l = rx
                .recv_timeout(Duration::from_secs(60))
                .expect("watch_service printed READY");
            if let Some(a) = l.strip_prefix("ADDR ") {
                s.addr = a.to_string();
            } else if let Some(x) = l.strip_prefix("LEAK_SITE ") {
                let p: Vec<&str> = x.split(' ').collect();
                s.leak_function = p[0].to_string();
                s.leak_file = p[1].to_string();
                s.leak_line = p[2].parse().unwrap();
            } else if let Some(x) = l.strip_prefix("CREATED_BY ") {
                s.created_by = x.to_string();
            } else if l == "READY" {
                return s;
            }
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/debug/pprof/goroutine", self.addr)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `f` every 100 ms until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(x) = f() {
            return x;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// GET, returning (status, body).
pub fn get(url: &str) -> Option<(u16, String)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into();
    let mut r = agent.get(url).call().ok()?;
    let st = r.status().as_u16();
    let body = r
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()
        .ok()?;
    Some((st, body))
}

pub fn get_json(url: &str) -> serde_json::Value {
    let (st, body) = get(url).unwrap_or_else(|| panic!("GET {url}"));
    assert_eq!(st, 200, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: {e}: {body}"))
}

pub fn enc(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// A loopback server that misbehaves in one way; stops on drop.
pub struct Fault {
    pub addr: String,
    stop: Arc<AtomicBool>,
}

#[derive(Clone, Copy, Debug)]
pub enum Misbehave {
    /// Accepts and never answers.
    Hang,
    /// Sends a valid-looking header, then one byte a second.
    Trickle,
    Html,
    Status500,
    /// Redirects to itself forever.
    RedirectLoop,
    /// 50 MB of binary garbage.
    Garbage,
    /// 404 for `debug=0`; a debug=1 profile for `debug=1` (a handler without protobuf).
    TextOnly,
}

impl Fault {
    pub fn start(kind: Misbehave) -> Fault {
        let ln = TcpListener::bind("127.0.0.1:0").unwrap();
        ln.set_nonblocking(true).unwrap();
        let addr = ln.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let st = stop.clone();
        let a2 = addr.clone();
        std::thread::spawn(move || {
            while !st.load(Ordering::Relaxed) {
                match ln.accept() {
                    Ok((s, _)) => {
                        let st = st.clone();
                        let a = a2.clone();
                        std::thread::spawn(move || serve(s, kind, &a, &st));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Fault { addr, stop }
    }
    pub fn url(&self) -> String {
        format!("http://{}/debug/pprof/goroutine", self.addr)
    }
}

impl Drop for Fault {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(mut s: TcpStream, kind: Misbehave, addr: &str, stop: &AtomicBool) {
    s.set_nonblocking(false).ok();
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap_or(0);
    let request = String::from_utf8_lossy(&buf[..n]).into_owned();
    let body: Vec<u8> = match kind {
        Misbehave::TextOnly if request.contains("debug=1") => {
            let b = b"goroutine profile: total 7\n6 @ 0x1 0x2\n#\t0x1\tmain.worker+0x1\t/src/app/main.go:10\n#\t0x2\tmain.start.func1+0x2\t/src/app/main.go:5\n\n1 @ 0x3\n#\t0x3\tmain.main+0x1\t/src/app/main.go:20\n\n";
            let _ = s.write_all(format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n", b.len()).as_bytes());
            b.to_vec()
        }
        Misbehave::TextOnly => {
            let b = b"404 page not found\n";
            let _ = s.write_all(
                format!(
                    "HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\n\r\n",
                    b.len()
                )
                .as_bytes(),
            );
            b.to_vec()
        }
        Misbehave::Hang => {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
            }
            return;
        }
        Misbehave::Trickle => {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\ngoroutine 1 [running]:\n");
            while !stop.load(Ordering::Relaxed) {
                if s.write_all(b"x").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            return;
        }
        Misbehave::Html => {
            let b = b"<!DOCTYPE html><html><body>Login required</body></html>";
            let _ = s.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n",
                    b.len()
                )
                .as_bytes(),
            );
            b.to_vec()
        }
        Misbehave::Status500 => {
            let b = b"internal error: profile unavailable\n";
            let _ = s.write_all(
                format!(
                    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\n\r\n",
                    b.len()
                )
                .as_bytes(),
            );
            b.to_vec()
        }
        Misbehave::RedirectLoop => {
            let _ = s.write_all(format!("HTTP/1.1 302 Found\r\nLocation: http://{addr}/debug/pprof/goroutine?loop=1\r\nContent-Length: 0\r\n\r\n").as_bytes());
            vec![]
        }
        Misbehave::Garbage => {
            let n = 50 << 20;
            let _ = s.write_all(format!("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {n}\r\n\r\n").as_bytes());
            let mut x: u32 = 0x1234_5678;
            let chunk: Vec<u8> = (0..65536)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            for _ in 0..(n / chunk.len()) {
                if s.write_all(&chunk).is_err() {
                    return;
                }
            }
            return;
        }
    };
    let _ = s.write_all(&body);
}

/// A temporary directory removed on drop.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var("PATH")
        .ok()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// A page as headless Chromium left it.
pub struct Page {
    pub dom: String,
    pub log: String,
}

/// Loads `url` in headless Chromium (no network but loopback), lets the page's scripts and
/// fetches run for a few seconds of virtual time, and returns the DOM and the log.
pub fn open(browser: &Path, url: &str, profile: &Path) -> Page {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,2000",
            "--virtual-time-budget=8000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let o = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let e = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            let (dom, log) = (o.join().unwrap(), e.join().unwrap());
            assert!(st.success(), "chromium failed ({st}):\n{log}");
            return Page { dom, log };
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 180 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn console_errors(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .collect()
}

/// A running `fixtures/go/trace_service` (no pprof endpoint: `/work` starts 4 goroutines that
/// end, `/leak` also one that never does); killed on drop.
pub struct TraceService {
    pub child: Child,
    pub addr: String,
    pub binary: PathBuf,
}

impl TraceService {
    pub fn start() -> TraceService {
        let binary = goroscope_fixtures::build("trace_service", &go());
        let mut child = Command::new(&binary)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting trace_service");
        let mut addr = String::new();
        for l in BufReader::new(child.stdout.take().unwrap()).lines() {
            let l = l.expect("reading trace_service");
            if let Some(a) = l.strip_prefix("ADDR ") {
                addr = a.trim().to_string();
            }
            if l == "READY" {
                break;
            }
        }
        assert!(!addr.is_empty(), "trace_service printed no ADDR");
        TraceService {
            child,
            addr,
            binary,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Still running (not exited).
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_none()
    }

    /// Its load generator: `conns` keep-alive connections GET `path` at `rate` requests a
    /// second in all, until stopped.
    pub fn load(&self, path: &str, conns: u32, rate: f64) -> Load {
        let child = Command::new(&self.binary)
            .args([
                "load",
                &self.addr,
                path,
                &conns.to_string(),
                "3600",
                &rate.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting the load generator");
        Load { child: Some(child) }
    }

    /// The source line of `main.leakOne`'s `go` statement (read from the fixture's source).
    pub fn leak_line() -> u32 {
        let src =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/go/trace_service/main.go");
        let text = std::fs::read_to_string(&src).expect("trace_service source");
        let mut in_leak = false;
        for (i, l) in text.lines().enumerate() {
            if l.starts_with("func leakOne()") {
                in_leak = true;
            } else if in_leak && l.trim_start().starts_with("go ") {
                return i as u32 + 1;
            }
        }
        panic!("no go statement in leakOne");
    }
}

impl Drop for TraceService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running load generator; killed on drop.
pub struct Load {
    child: Option<Child>,
}

/// What the load generator reports.
#[derive(Debug, Clone, Copy)]
pub struct LoadResult {
    pub requests: u64,
    pub failures: u64,
}

impl Load {
    /// Stops it (SIGTERM: it ends its requests and reports) and reads its result.
    pub fn stop(mut self) -> LoadResult {
        let child = self.child.take().unwrap();
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let out = child.wait_with_output().expect("load generator");
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("LOAD "))
            .unwrap_or_else(|| panic!("no LOAD line: {text}"));
        let v: serde_json::Value = serde_json::from_str(line).expect("LOAD json");
        LoadResult {
            requests: v["requests"].as_u64().unwrap(),
            failures: v["failures"].as_u64().unwrap(),
        }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
