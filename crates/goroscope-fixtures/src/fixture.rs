//! Running a fixture that speaks the ADDR/EXPECT/READY protocol, and taking its dumps.

use crate::build::{build_with, BuildOptions};
use crate::expect::Expect;
use crate::http::read_response;
use crate::toolchain::Toolchain;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a fixture may take to print READY.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a fixture may take to exit after SIGQUIT or its panic.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(30);
/// Read/write timeout of one `/debug/pprof` request.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(120);

/// How to start a fixture.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// `FIXTURE_N`: the size of the pattern (the fixture's default when `None`).
    pub n: Option<usize>,
    /// Print pprof labels in traceback headers (`GODEBUG=tracebacklabels=1`, Go 1.27+);
    /// `false` sets `tracebacklabels=0`.
    pub labels: bool,
    /// Build with `-trimpath`.
    pub trimpath: bool,
    /// Build stripped (`-ldflags=-s -w`: no symbols, no DWARF).
    pub stripped: bool,
    /// More environment variables.
    pub env: Vec<(String, String)>,
}

/// A running fixture program; dropping it kills the process.
pub struct Fixture {
    pub name: String,
    pub toolchain: Toolchain,
    /// `127.0.0.1:PORT` of its net/http/pprof.
    pub addr: String,
    pub expect: Expect,
    child: Child,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_thread: Option<JoinHandle<()>>,
    conn: Option<BufReader<TcpStream>>,
    /// Whether [`Fixture::fetch`] ever connected (see [`Fixture::sigquit`]).
    fetched: bool,
}

pub(crate) fn command(name: &str, tc: &Toolchain, opts: &StartOptions) -> Command {
    let bin = build_with(
        name,
        tc,
        BuildOptions {
            trimpath: opts.trimpath,
            stripped: opts.stripped,
            ..Default::default()
        },
    );
    let mut cmd = Command::new(bin);
    // What a developer may have exported must not change how the fixture behaves: each of
    // these is set per test through `StartOptions::env` when wanted.
    cmd.env_remove("FIXTURE_PANIC")
        .env_remove("FIXTURE_EXIT")
        .env_remove("GOTRACEBACK")
        .env(
            "GODEBUG",
            if opts.labels {
                "tracebacklabels=1"
            } else {
                "tracebacklabels=0"
            },
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match opts.n {
        Some(n) => cmd.env("FIXTURE_N", n.to_string()),
        None => cmd.env_remove("FIXTURE_N"),
    };
    for (k, v) in &opts.env {
        cmd.env(k, v);
    }
    cmd
}

/// Collects a child's stderr in the background.
pub(crate) fn collect(mut r: impl Read + Send + 'static) -> (Arc<Mutex<Vec<u8>>>, JoinHandle<()>) {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let b = buf.clone();
    let h = std::thread::spawn(move || {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            match r.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => b
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(&chunk[..n]),
            }
        }
    });
    (buf, h)
}

/// Sends a child's stdout lines to a channel.
pub(crate) fn lines(stdout: ChildStdout) -> mpsc::Receiver<io::Result<String>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines() {
            let stop = l.is_err();
            if tx.send(l).is_err() || stop {
                break;
            }
        }
    });
    rx
}

/// What the fixture printed before READY (or before it stopped).
pub(crate) struct Protocol {
    pub(crate) addr: Option<String>,
    pub(crate) expect: Option<Expect>,
    pub(crate) ready: bool,
    /// Every stdout line, for error messages.
    pub(crate) seen: Vec<String>,
}

pub(crate) fn read_protocol(
    name: &str,
    rx: &mpsc::Receiver<io::Result<String>>,
    until_ready: bool,
) -> Result<Protocol, String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut p = Protocol {
        addr: None,
        expect: None,
        ready: false,
        seen: Vec::new(),
    };
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match rx.recv_timeout(left) {
            Ok(Ok(l)) => l,
            Ok(Err(e)) => return Err(format!("{name}: reading stdout: {e}")),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(format!(
                    "{name}: no READY within {READY_TIMEOUT:?}; stdout so far: {:?}",
                    p.seen
                ))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(p),
        };
        p.seen.push(line.clone());
        if let Some(a) = line.strip_prefix("ADDR ") {
            p.addr = Some(a.trim().to_owned());
        } else if let Some(j) = line.strip_prefix("EXPECT ") {
            let e: Expect = serde_json::from_str(j)
                .map_err(|e| format!("{name}: bad EXPECT line ({e}): {j}"))?;
            p.expect = Some(e);
            if !until_ready {
                return Ok(p);
            }
        } else if line.trim() == "READY" {
            p.ready = true;
            return Ok(p);
        }
    }
}

pub(crate) fn wait_exit(child: &mut Child, timeout: Duration) -> io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(st) = child.try_wait()? {
            return Ok(Some(st));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

impl Fixture {
    /// Builds (once) and starts fixture `name`, and waits up to [`READY_TIMEOUT`] for READY.
    ///
    /// # Panics
    /// When the build fails, the program exits or times out before READY (with its stderr).
    pub fn start(name: &str, tc: &Toolchain, opts: &StartOptions) -> Fixture {
        let mut cmd = command(name, tc, opts);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting fixture {name} (go {}): {e}", tc.version));
        let rx = lines(child.stdout.take().expect("stdout is piped"));
        let (stderr, stderr_thread) = collect(child.stderr.take().expect("stderr is piped"));
        let mut fx = Fixture {
            name: name.to_owned(),
            toolchain: tc.clone(),
            addr: String::new(),
            expect: Expect {
                fixture: name.to_owned(),
                ..Default::default()
            },
            child,
            stderr,
            stderr_thread: Some(stderr_thread),
            conn: None,
            fetched: false,
        };
        let p = read_protocol(name, &rx, true);
        match p {
            Ok(Protocol {
                addr: Some(addr),
                expect: Some(expect),
                ready: true,
                ..
            }) => {
                fx.addr = addr;
                fx.expect = expect;
                if let Some(tid) = fx.expect.exit_tid {
                    if let Err(e) = crate::relations::wait_thread_gone(fx.pid(), tid, READY_TIMEOUT)
                    {
                        panic!(
                            "fixture {name} (go {}): {e}\nstderr:\n{}",
                            tc.version,
                            fx.stderr_text()
                        );
                    }
                }
                fx
            }
            other => {
                let why = match other {
                    Err(e) => e,
                    Ok(p) => format!(
                        "{name}: stdout ended without ADDR, EXPECT and READY: {:?}",
                        p.seen
                    ),
                };
                let _ = fx.child.kill();
                let _ = fx.child.wait();
                if let Some(h) = fx.stderr_thread.take() {
                    let _ = h.join();
                }
                panic!(
                    "fixture {name} (go {}) did not start: {why}\nstderr:\n{}",
                    tc.version,
                    fx.stderr_text()
                );
            }
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the program wrote on stderr so far.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }

    /// `GET path` (e.g. `/debug/pprof/goroutine?debug=2`) from the fixture's pprof server and
    /// returns the body.
    ///
    /// All requests go over one keep-alive HTTP/1.1 connection, so the dump machinery adds a
    /// stable two goroutines to every dump taken this way: that connection's
    /// `net/http.(*conn).serve` (running the pprof handler) and its
    /// `net/http.(*connReader).backgroundRead` (see [`HTTP_MACHINERY`]). (HTTP/1.0 would make
    /// the server close each connection after a 500 ms lingering close, leaving a goroutine
    /// of a previous request in the next dump.)
    pub fn fetch(&mut self, path: &str) -> io::Result<Vec<u8>> {
        if self.conn.is_none() {
            self.fetched = true;
            let s = TcpStream::connect(&self.addr)?;
            s.set_read_timeout(Some(FETCH_TIMEOUT))?;
            s.set_write_timeout(Some(FETCH_TIMEOUT))?;
            self.conn = Some(BufReader::with_capacity(1 << 16, s));
        }
        let conn = self.conn.as_mut().expect("connected above");
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: goroscope-fixtures\r\nAccept-Encoding: identity\r\n\r\n",
            self.addr
        );
        let result = conn
            .get_mut()
            .write_all(req.as_bytes())
            .and_then(|_| read_response(conn));
        match result {
            Ok((status, body, keep)) => {
                if !keep {
                    self.conn = None;
                }
                if status != 200 {
                    return Err(io::Error::other(format!(
                        "GET {path}: HTTP {status}: {}",
                        String::from_utf8_lossy(&body[..body.len().min(500)])
                    )));
                }
                Ok(body)
            }
            Err(e) => {
                self.conn = None;
                Err(io::Error::new(e.kind(), format!("GET {path}: {e}")))
            }
        }
    }

    /// Sends SIGQUIT and returns what the runtime printed on stderr until the process exited.
    ///
    /// Take it from a fixture that [`Fixture::fetch`] never used: a pprof connection, open or
    /// closing, leaves server goroutines of its own in the dump (an idle one even blocks in
    /// `net/http.(*connReader).Read`, like the healthy fixture's connections).
    ///
    /// # Panics
    /// When the fixture was fetched from, or does not exit within [`EXIT_TIMEOUT`].
    pub fn sigquit(mut self) -> String {
        assert!(
            !self.fetched,
            "fixture {}: SIGQUIT after fetch would include the pprof connection's goroutines; start a fresh fixture",
            self.name
        );
        self.signal(libc::SIGQUIT);
        let st = wait_exit(&mut self.child, EXIT_TIMEOUT).expect("waiting for the fixture");
        if st.is_none() {
            let _ = self.child.kill();
            panic!(
                "fixture {} did not exit within {EXIT_TIMEOUT:?} of SIGQUIT",
                self.name
            );
        }
        if let Some(h) = self.stderr_thread.take() {
            let _ = h.join();
        }
        self.stderr_text()
    }

    fn signal(&self, sig: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits pid_t");
        // SAFETY: kill(2) on our own child's pid, which has not been reaped yet.
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig}): {}", io::Error::last_os_error());
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The goroutines a `/debug/pprof` dump taken by [`Fixture::fetch`] adds to the fixture's own:
/// the harness connection's handler goroutine and its background reader.
pub const HTTP_MACHINERY: u64 = 2;

/// A crash run: what the program expected and what it printed on stderr when it panicked.
#[derive(Debug, Clone)]
pub struct Crash {
    pub expect: Expect,
    pub stderr: String,
    pub status: ExitStatus,
}

/// Runs fixture `name` with `FIXTURE_PANIC=1` and `GOTRACEBACK=all`: it panics right after its
/// EXPECT line, so its stderr holds a traceback of every goroutine.
///
/// # Panics
/// When the program prints no EXPECT or does not exit within [`READY_TIMEOUT`] +
/// [`EXIT_TIMEOUT`].
pub fn run_panic(name: &str, tc: &Toolchain, opts: &StartOptions) -> Crash {
    let mut cmd = command(name, tc, opts);
    cmd.env("FIXTURE_PANIC", "1").env("GOTRACEBACK", "all");
    run_until_exit(cmd, name, tc, false, "did not exit after its panic")
}

/// Runs `cmd` (fixture `name`) until it exits by itself after its EXPECT line, and returns
/// what it expected, its stderr and its status. `until_exit`: read the protocol to the end of
/// stdout, not only to EXPECT. `late` says what went wrong when it does not exit in time.
pub(crate) fn run_until_exit(
    mut cmd: Command,
    name: &str,
    tc: &Toolchain,
    until_exit: bool,
    late: &str,
) -> Crash {
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting fixture {name} (go {}): {e}", tc.version));
    let rx = lines(child.stdout.take().expect("stdout is piped"));
    let (stderr, h) = collect(child.stderr.take().expect("stderr is piped"));
    let p = read_protocol(name, &rx, until_exit);
    let status = match wait_exit(&mut child, EXIT_TIMEOUT) {
        Ok(Some(s)) => s,
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("fixture {name} (go {}) {late}", tc.version);
        }
    };
    let _ = h.join();
    let stderr =
        String::from_utf8_lossy(&stderr.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    match p {
        Ok(Protocol {
            expect: Some(expect),
            ..
        }) => Crash {
            expect,
            stderr,
            status,
        },
        Ok(p) => panic!(
            "fixture {name} (go {}) printed no EXPECT before exiting ({status}); stdout: {:?}\nstderr:\n{stderr}",
            tc.version, p.seen
        ),
        Err(e) => panic!("fixture {name} (go {}): {e}\nstderr:\n{stderr}", tc.version),
    }
}
