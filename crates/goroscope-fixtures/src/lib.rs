//! Test harness for the Go fixture programs in `fixtures/go/<name>/main.go`.
//!
//! Each fixture is a small stdlib-only Go program that sets up one goroutine pattern (a leak, or
//! a healthy service), waits until its goroutines are really parked, and prints three lines on
//! stdout:
//!
//! ```text
//! ADDR 127.0.0.1:PORT        net/http/pprof of the fixture
//! EXPECT {json}              what the program knows about its goroutines (see [`Expect`])
//! READY
//! ```
//!
//! The harness finds the Go releases installed by `scripts/install-go.sh` ([`toolchains`]),
//! builds each fixture once per test process ([`build`]), starts it and waits for READY with a
//! timeout ([`Fixture::start`], never a fixed sleep), and takes dumps of every form: any
//! `/debug/pprof` URL over a keep-alive HTTP/1.1 connection ([`Fixture::fetch`]), the runtime's
//! SIGQUIT dump ([`Fixture::sigquit`]) and a `GOTRACEBACK=all` panic ([`run_panic`]).

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a fixture may take to print READY.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a fixture may take to exit after SIGQUIT or its panic.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(30);
/// Read/write timeout of one `/debug/pprof` request.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(120);

/// The Go releases the test suite expects (the default of `scripts/install-go.sh`).
pub const GO_VERSIONS: &[&str] = &["1.21.13", "1.23.9", "1.25.5", "1.27.3"];

pub mod http;
pub mod relations;

pub use relations::{ExpectMember, ExpectObject, ExpectRelation};

/// What a fixture program says about itself on its `EXPECT` line.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Expect {
    /// The fixture's name (its directory under `fixtures/go`).
    pub fixture: String,
    /// `runtime.Version()`, e.g. `go1.27.3`.
    pub go_version: String,
    /// `runtime.NumGoroutine()` when EXPECT was printed (the main goroutine included).
    pub total: u64,
    pub sites: Vec<ExpectSite>,
    /// Relations between goroutines (the relation fixtures under `fixtures/go/relations`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relations: Vec<ExpectRelation>,
    /// The thread the program's announcing goroutine takes with it when it exits: the picture
    /// is final once `/proc/PID/task/EXIT_TID` is gone ([`Fixture::start`] waits for that).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_tid: Option<u32>,
}

/// One group of goroutines blocked at one place.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExpectSite {
    /// Kebab-case rule id (`chan-receive-no-sender`, …) or `healthy`.
    pub pattern: String,
    /// A leak (true) or a healthy/benign group (false).
    pub leak: bool,
    pub count: u64,
    /// The blocking function as the runtime prints it (`main.leakRecv.func1`).
    pub function: String,
    /// Base name of its file.
    pub file: String,
    /// The blocking line; `None` for standard-library sites the program cannot know.
    #[serde(default)]
    pub line: Option<u32>,
    /// As Go prints it in debug=2 (`chan receive`).
    pub wait_reason: String,
    #[serde(default)]
    pub created_by_function: Option<String>,
    /// The `go` statement's line; `None` when the standard library starts the goroutine.
    #[serde(default)]
    pub created_by_line: Option<u32>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The runtime's goroutineleak profile (Go 1.26+) reports this group.
    #[serde(default)]
    pub provable: bool,
    /// The goroutines called `runtime.LockOSThread` (`[…, locked to thread]`).
    #[serde(default)]
    pub locked_to_thread: bool,
    /// A lower bound of the stack depth, given when tracebacks elide frames (over 100).
    #[serde(default)]
    pub min_depth: Option<u32>,
    /// The goroutines compute (running or runnable, `wait_reason` is then `runnable`).
    #[serde(default)]
    pub busy: bool,
}

impl fmt::Display for ExpectSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ×{} [{}] {} {}",
            self.pattern, self.count, self.wait_reason, self.function, self.file
        )?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        Ok(())
    }
}

/// An installed Go release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolchain {
    /// `1.27.3`.
    pub version: String,
    /// Its `go` command.
    pub go: PathBuf,
}

impl Toolchain {
    /// `(major, minor, patch)`.
    pub fn semver(&self) -> (u32, u32, u32) {
        parse_version(&self.version)
    }
    /// The minor release: 27 for 1.27.3.
    pub fn minor(&self) -> u32 {
        self.semver().1
    }
    /// Whether `/debug/pprof/goroutineleak` exists without a GOEXPERIMENT (Go 1.27+; 1.26 has
    /// it only behind `GOEXPERIMENT=goroutineleakprofile`).
    pub fn has_goroutineleak(&self) -> bool {
        self.semver() >= (1, 27, 0)
    }
    /// Whether traceback headers can carry pprof labels (`GODEBUG=tracebacklabels`, Go 1.27+).
    pub fn has_traceback_labels(&self) -> bool {
        self.semver() >= (1, 27, 0)
    }
}

fn parse_version(v: &str) -> (u32, u32, u32) {
    let mut it = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .and_then(Path::parent)
        .expect("crates/goroscope-fixtures sits two levels below the repository root")
        .to_path_buf()
}

/// The Go releases installed under `<repo>/.toolchains/go-*/bin/go`, oldest first.
///
/// `GOROSCOPE_GO_VERSIONS` (space or comma separated) narrows the list for a quick local run.
///
/// # Panics
/// When none is installed, with a message telling to run `scripts/install-go.sh`: tests that
/// need Go must fail loudly on a machine without it, never pass silently.
pub fn toolchains() -> Vec<Toolchain> {
    let found = installed_toolchains();
    if found.is_empty() {
        panic!(
            "no Go toolchain under {}/.toolchains: run scripts/install-go.sh (installs Go {} from PyPI)",
            repo_root().display(),
            GO_VERSIONS.join(", ")
        );
    }
    found
}

/// Like [`toolchains`], but an empty list instead of a panic.
pub fn installed_toolchains() -> Vec<Toolchain> {
    let dir = repo_root().join(".toolchains");
    let wanted: Option<Vec<String>> = std::env::var("GOROSCOPE_GO_VERSIONS").ok().map(|v| {
        v.split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    });
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(version) = name.strip_prefix("go-") else {
            continue;
        };
        let go = e.path().join("bin").join("go");
        if !go.is_file() {
            continue;
        }
        if let Some(w) = &wanted {
            if !w.iter().any(|x| x == version) {
                continue;
            }
        }
        out.push(Toolchain {
            version: version.to_owned(),
            go,
        });
    }
    out.sort_by_key(|t| t.semver());
    out
}

/// The installed toolchain of release `version`.
///
/// # Panics
/// When it is not installed (with the command that installs it).
pub fn toolchain(version: &str) -> Toolchain {
    installed_toolchains()
        .into_iter()
        .find(|t| t.version == version)
        .unwrap_or_else(|| {
            panic!(
                "Go {version} is not installed under {}/.toolchains: run scripts/install-go.sh {version}",
                repo_root().display()
            )
        })
}

/// The fixture programs that speak the ADDR/EXPECT/READY protocol: every directory of
/// `fixtures/go` whose `main.go` uses the `internal/fx` package, sorted. (Other programs there,
/// such as the attach tests' `attach_basic`, have protocols of their own.)
pub fn fixture_names() -> Vec<String> {
    let dir = repo_root().join("fixtures").join("go");
    let mut out: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path().join("main.go"))
                .is_ok_and(|src| src.contains("\"goroscope.test/fixtures/internal/fx\""))
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

/// How to build a fixture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct BuildOptions {
    /// `go build -trimpath` (file paths printed module-relative).
    pub trimpath: bool,
}

type BuildKey = (String, String, bool);
type BuildCell = Arc<OnceLock<Result<PathBuf, String>>>;

fn build_cells() -> &'static Mutex<HashMap<BuildKey, BuildCell>> {
    static CELLS: OnceLock<Mutex<HashMap<BuildKey, BuildCell>>> = OnceLock::new();
    CELLS.get_or_init(Default::default)
}

/// Builds `fixtures/go/<name>` with `tc` into `<repo>/fixtures/build/<version>/<name>` (once
/// per test process) and returns the binary's path.
///
/// # Panics
/// When the build fails (with go's output).
pub fn build(name: &str, tc: &Toolchain) -> PathBuf {
    build_with(name, tc, BuildOptions::default())
}

/// [`build`] with options; a `-trimpath` build goes to `<name>-trimpath`.
pub fn build_with(name: &str, tc: &Toolchain, opts: BuildOptions) -> PathBuf {
    let key = (tc.version.clone(), name.to_owned(), opts.trimpath);
    let cell = {
        let mut cells = build_cells().lock().unwrap_or_else(|p| p.into_inner());
        cells.entry(key).or_default().clone()
    };
    cell.get_or_init(|| go_build(name, tc, opts))
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The environment every `go` command of the harness runs with: the local toolchain only, no
/// module proxy, caches under `fixtures/build` unless the caller set them. Starts in
/// `fixtures/go`; callers building another module set `current_dir`.
pub fn go_command(tc: &Toolchain) -> Command {
    let root = repo_root();
    let mut cmd = Command::new(&tc.go);
    cmd.current_dir(root.join("fixtures").join("go"))
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GO111MODULE", "on")
        .env("CGO_ENABLED", "0");
    let build = root.join("fixtures").join("build");
    if std::env::var_os("GOCACHE").is_none() {
        cmd.env("GOCACHE", build.join(".gocache"));
    }
    if std::env::var_os("GOPATH").is_none() {
        cmd.env("GOPATH", build.join(".gopath"));
    }
    cmd
}

fn go_build(name: &str, tc: &Toolchain, opts: BuildOptions) -> Result<PathBuf, String> {
    let root = repo_root();
    let src = root.join("fixtures").join("go").join(name);
    if !src.join("main.go").is_file() {
        return Err(format!(
            "no fixture {name}: {} has no main.go",
            src.display()
        ));
    }
    let dir = root.join("fixtures").join("build").join(&tc.version);
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let file = if opts.trimpath {
        format!("{name}-trimpath")
    } else {
        name.to_owned()
    };
    // Fixtures in subdirectories (`relations/lock-chain`) build to the same subdirectory.
    let out = dir.join(&file);
    let out_dir = out.parent().unwrap_or(&dir).to_path_buf();
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| format!("creating {}: {e}", out_dir.display()))?;
    let base = out
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.clone());
    // Build to a name of our own, then rename: several test binaries may build the same
    // fixture at once, and none may ever run a half-written file.
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let tmp = out_dir.join(format!(
        ".{base}.{}.{}.tmp",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let mut cmd = go_command(tc);
    cmd.arg("build");
    if opts.trimpath {
        cmd.arg("-trimpath");
    }
    cmd.arg("-o").arg(&tmp).arg(format!("./{name}"));
    let output = cmd
        .output()
        .map_err(|e| format!("running {}: {e}", tc.go.display()))?;
    if !output.status.success() {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!(
            "go {} build of fixture {name} failed ({}):\n{}{}",
            tc.version,
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    std::fs::rename(&tmp, &out)
        .map_err(|e| format!("renaming {} to {}: {e}", tmp.display(), out.display()))?;
    Ok(out)
}

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

fn command(name: &str, tc: &Toolchain, opts: &StartOptions) -> Command {
    let bin = build_with(
        name,
        tc,
        BuildOptions {
            trimpath: opts.trimpath,
        },
    );
    let mut cmd = Command::new(bin);
    cmd.env_remove("FIXTURE_PANIC")
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
fn collect(mut r: impl Read + Send + 'static) -> (Arc<Mutex<Vec<u8>>>, JoinHandle<()>) {
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
fn lines(stdout: ChildStdout) -> mpsc::Receiver<io::Result<String>> {
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
struct Protocol {
    addr: Option<String>,
    expect: Option<Expect>,
    ready: bool,
    /// Every stdout line, for error messages.
    seen: Vec<String>,
}

fn read_protocol(
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

fn wait_exit(child: &mut Child, timeout: Duration) -> io::Result<Option<ExitStatus>> {
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
                    if let Err(e) = relations::wait_thread_gone(fx.pid(), tid, READY_TIMEOUT) {
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
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting fixture {name} (go {}): {e}", tc.version));
    let rx = lines(child.stdout.take().expect("stdout is piped"));
    let (stderr, h) = collect(child.stderr.take().expect("stderr is piped"));
    let p = read_protocol(name, &rx, false);
    let status = wait_exit(&mut child, EXIT_TIMEOUT);
    let status = match status {
        Ok(Some(s)) => s,
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "fixture {name} (go {}) did not exit after its panic",
                tc.version
            );
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

/// Reads one HTTP/1.1 response: `(status, body, keep-alive)`. Handles `Content-Length`,
/// `Transfer-Encoding: chunked` and close-delimited bodies.
fn read_response(r: &mut impl BufRead) -> io::Result<(u16, Vec<u8>, bool)> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before a status line",
        ));
    }
    let mut parts = line.split_whitespace();
    let version = parts.next().unwrap_or("");
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad HTTP status line {line:?}")))?;
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut keep = version == "HTTP/1.1";
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside the headers",
            ));
        }
        let h = line.trim_end();
        if h.is_empty() {
            break;
        }
        let Some((k, v)) = h.split_once(':') else {
            return Err(io::Error::other(format!("bad HTTP header {h:?}")));
        };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        match k.as_str() {
            "content-length" => {
                length = Some(
                    v.parse()
                        .map_err(|_| io::Error::other(format!("bad Content-Length {v:?}")))?,
                )
            }
            "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
            "connection" if v.eq_ignore_ascii_case("close") => keep = false,
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let size = line.trim().split(';').next().unwrap_or("");
            let n = usize::from_str_radix(size, 16)
                .map_err(|_| io::Error::other(format!("bad chunk size line {line:?}")))?;
            if n == 0 {
                // Trailers, then the blank line.
                loop {
                    line.clear();
                    if r.read_line(&mut line)? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = body.len();
            body.resize(start + n, 0);
            r.read_exact(&mut body[start..])?;
            line.clear();
            r.read_line(&mut line)?;
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        r.read_exact(&mut body)?;
    } else {
        r.read_to_end(&mut body)?;
        keep = false;
    }
    Ok((status, body, keep))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_chunked_and_sized_responses() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nConnection: close\r\n\r\nnopeEXTRA";
        let mut r = BufReader::new(&raw[..]);
        let (s, b, k) = read_response(&mut r).unwrap();
        assert_eq!((s, b.as_slice(), k), (200, &b"hello world"[..], true));
        let (s, b, k) = read_response(&mut r).unwrap();
        assert_eq!((s, b.as_slice(), k), (404, &b"nop"[..], false));
    }

    #[test]
    fn bad_responses_are_errors() {
        for raw in [
            &b""[..],
            b"garbage\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        ] {
            assert!(read_response(&mut BufReader::new(raw)).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn parses_expect_lines() {
        let j = r#"{"fixture":"x","go_version":"go1.21.13","total":12,"sites":[{"pattern":"chan-receive-no-sender","leak":true,"count":10,"function":"main.leakRecv.func1.1","file":"main.go","line":19,"wait_reason":"chan receive","created_by_function":"main.leakRecv.func1","created_by_line":17,"labels":{"job":"reconcile"},"provable":true},{"pattern":"healthy","leak":false,"count":3,"function":"net/http.(*persistConn).readLoop","file":"transport.go","wait_reason":"IO wait","provable":false}]}"#;
        let e: Expect = serde_json::from_str(j).unwrap();
        assert_eq!(e.total, 12);
        assert_eq!(e.sites[0].labels["job"], "reconcile");
        assert_eq!(e.sites[1].line, None);
        assert_eq!(e.sites[1].created_by_line, None);
        assert_eq!(
            e.sites[0].to_string(),
            "chan-receive-no-sender ×10 [chan receive] main.leakRecv.func1.1 main.go:19"
        );
    }

    /// Several test binaries may build the same fixture at once: each builds to a name of its
    /// own and renames, so all succeed and the result is a complete program.
    #[test]
    fn concurrent_builds_of_one_fixture_do_not_collide() {
        let tc = toolchains()
            .pop()
            .expect("toolchains() panics when there is none");
        let opts = BuildOptions { trimpath: true };
        let outs: Vec<Result<PathBuf, String>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..3)
                .map(|_| s.spawn(|| go_build("select-no-cases", &tc, opts)))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for o in &outs {
            let p = o.as_ref().unwrap_or_else(|e| panic!("{e}"));
            assert!(p.ends_with(format!("{}/select-no-cases-trimpath", tc.version)));
        }
        let mut fx = Fixture::start(
            "select-no-cases",
            &tc,
            &StartOptions {
                trimpath: true,
                n: Some(2),
                ..Default::default()
            },
        );
        assert_eq!(fx.expect.sites[0].count, 2);
        let dump = fx.fetch("/debug/pprof/goroutine?debug=1").unwrap();
        let text = String::from_utf8_lossy(&dump);
        // -trimpath: module-relative file names, nothing from the build machine.
        assert!(
            text.contains("goroscope.test/fixtures/select-no-cases/main.go:"),
            "{text}"
        );
        assert!(!text.contains(&*repo_root().to_string_lossy()), "{text}");
    }

    #[test]
    fn versions_sort_numerically() {
        assert!(parse_version("1.21.13") < parse_version("1.27.3"));
        assert!(parse_version("1.9.0") < parse_version("1.21.0"));
    }
}
