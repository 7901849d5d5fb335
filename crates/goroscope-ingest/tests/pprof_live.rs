//! Live: builds `fixtures/go/pprofserver` with the installed Go releases, waits for its READY
//! line, fetches `/debug/pprof/goroutine` as debug=1, debug=0 and debug=2 (and `goroutineleak`
//! on Go 1.26+) and checks that every form tells the same story.
//!
//! Needs the toolchains `scripts/install-go.sh` installs under `.toolchains/`; without them the
//! tests say SKIPPED on stderr.

use goroscope_ingest::{http, read_input, FormatHint, Options};
use goroscope_model::{Format, ProfileKind, Snapshot};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex};
use std::time::Duration;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn go_binary(version: &str) -> Option<goroscope_fixtures::Toolchain> {
    goroscope_fixtures::installed_toolchains()
        .into_iter()
        .find(|t| t.version == version)
}

/// Builds the server with one Go release, once per test run (tests run in parallel, and a
/// binary must not be rewritten while another test runs it).
fn build(version: &str) -> Option<PathBuf> {
    static BUILT: Mutex<Vec<(String, Option<PathBuf>)>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, out)) = built.iter().find(|(v, _)| v == version) {
        return out.clone();
    }
    let out = build_uncached(version);
    built.push((version.to_string(), out.clone()));
    out
}

fn build_uncached(version: &str) -> Option<PathBuf> {
    let Some(go) = go_binary(version) else {
        eprintln!(
            "SKIPPED go{version}: .toolchains/go-{version} missing (run scripts/install-go.sh)"
        );
        return None;
    };
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let out = tmp.join(format!("pprofserver-go{version}"));
    let mut cmd = goroscope_fixtures::go_command(&go);
    cmd.args(["build", "-o"])
        .arg(&out)
        .arg("main.go")
        .current_dir(repo().join("fixtures/go/pprofserver"));
    let res = cmd.output().expect("running go build");
    assert!(
        res.status.success(),
        "go{version} build failed:\n{}",
        String::from_utf8_lossy(&res.stderr)
    );
    Some(out)
}

/// The running server; killed when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(bin: &Path, main_select: bool) -> Server {
    let mut child = Command::new(bin)
        .env(
            "PPROFSERVER_MAIN_SELECT",
            if main_select { "1" } else { "0" },
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting pprofserver");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut server = Server {
        child,
        addr: String::new(),
    };
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("pprofserver printed no READY within 60 s");
        if let Some(a) = line.strip_prefix("ADDR ") {
            server.addr = a.trim().to_string();
        } else if line == "READY" {
            assert!(!server.addr.is_empty(), "READY before ADDR");
            return server;
        }
    }
}

fn one(url: &str) -> Snapshot {
    let mut s = read_input(url, &Options::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.len(), 1, "{url}");
    s.remove(0)
}

/// Goroutines whose stack holds `function`, and the label sets they carry.
fn count_with(s: &Snapshot, function: &str) -> (u64, Vec<Vec<(String, String)>>) {
    let mut n = 0;
    let mut labels = Vec::new();
    for e in s.entries() {
        if s.stack(e.stack).iter().any(|&f| s.function(f) == function) {
            n += e.count;
            let l: Vec<_> = s
                .labels(e.labels)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            if !labels.contains(&l) {
                labels.push(l);
            }
        }
    }
    (n, labels)
}

/// debug=2 text: goroutine blocks, counted without the text reader.
/// A fetched answer's whole body.
fn body_of(f: http::Fetched) -> Vec<u8> {
    let mut body = Vec::new();
    let mut r = f.body;
    std::io::Read::read_to_end(&mut r, &mut body).expect("reading the answer");
    body
}

fn debug2_blocks(body: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(body)
        .split("\n\n")
        .filter(|b| b.starts_with("goroutine ") || b.trim_start().starts_with("goroutine "))
        .map(str::to_string)
        .collect()
}

fn labeled() -> Vec<Vec<(String, String)>> {
    vec![vec![
        ("handler".to_string(), "/api/orders".to_string()),
        ("tenant".to_string(), "acme corp".to_string()),
    ]]
}

/// The fixture's own goroutines are the same in debug=1, debug=0 and debug=2, and the totals of
/// the three forms agree (HTTP connection goroutines of earlier requests may linger for a
/// moment, so a few rounds are allowed to settle).
fn check_goroutine_forms(base: &str) {
    let mut last = None;
    for _round in 0..10 {
        let d1 = one(&format!("{base}/debug/pprof/goroutine?debug=1"));
        let d0 = one(&format!("{base}/debug/pprof/goroutine?debug=0"));
        let d2 = http::fetch(
            &format!("{base}/debug/pprof/goroutine"),
            &Options::default(),
        )
        .unwrap();
        assert_eq!(d2.format, Some(FormatHint::Text));
        let blocks = debug2_blocks(&body_of(d2));

        assert_eq!(d1.source.format, Format::Debug1);
        assert_eq!(d0.source.format, Format::Proto);
        for s in [&d1, &d0] {
            assert_eq!(s.source.kind, ProfileKind::Goroutine);
            assert_eq!(count_with(s, "main.leakRecv.func1"), (5, vec![vec![]]));
            assert_eq!(count_with(s, "main.labeledWorker"), (3, labeled()));
            assert_eq!(count_with(s, "main.healthyWaiter"), (2, vec![vec![]]));
        }
        assert!(d0.taken_at.is_some());
        for (f, n) in [
            ("main.leakRecv.func1(", 5),
            ("main.labeledWorker(", 3),
            ("main.healthyWaiter(", 2),
        ] {
            assert_eq!(blocks.iter().filter(|b| b.contains(f)).count(), n, "{f}");
        }
        let totals = (
            d1.declared_total.unwrap(),
            d1.total_goroutines(),
            d0.total_goroutines(),
            blocks.len() as u64,
        );
        if totals.0 == totals.1 && totals.1 == totals.2 && totals.2 == totals.3 {
            return;
        }
        last = Some(totals);
    }
    panic!("debug=1 header/records, debug=0 and debug=2 totals never agreed: {last:?}");
}

fn check_leak_forms(base: &str) {
    let d1 = one(&format!("{base}/debug/pprof/goroutineleak?debug=1"));
    let d0 = one(&format!("{base}/debug/pprof/goroutineleak?debug=0"));
    for s in [&d1, &d0] {
        assert_eq!(s.source.kind, ProfileKind::GoroutineLeak);
        assert_eq!(s.total_goroutines(), 8, "{:?}", s.source);
        assert_eq!(count_with(s, "main.leakRecv.func1"), (5, vec![vec![]]));
        assert_eq!(count_with(s, "main.labeledWorker"), (3, labeled()));
        assert_eq!(count_with(s, "main.healthyWaiter").0, 0);
    }
    assert_eq!(d1.declared_total, Some(8));
    // debug=2 of goroutineleak lists every goroutine, the leaked ones marked.
    let d2 = http::fetch(
        &format!("{base}/debug/pprof/goroutineleak"),
        &Options::default(),
    )
    .unwrap();
    let leaked = debug2_blocks(&body_of(d2))
        .into_iter()
        .filter(|b| b.lines().next().unwrap_or("").contains("(leaked)"))
        .count();
    assert_eq!(leaked, 8);
}

fn run(version: &str, has_leak_profile: bool) {
    let Some(bin) = build(version) else { return };
    let server = start(&bin, false);
    let base = format!("http://{}", server.addr);
    check_goroutine_forms(&base);
    // A bare host is completed to the goroutine profile; `https://` to this plain-HTTP port
    // says so instead of a TLS library's words.
    let bare = one(&base);
    assert_eq!(bare.source.format, Format::Debug2);
    let tls = format!("https://{}/debug/pprof/goroutine", server.addr);
    let e = read_input(&tls, &Options::default()).unwrap_err();
    assert_eq!(e.kind(), &goroscope_ingest::ErrorKind::Connect, "{e}");
    assert!(e.to_string().contains("answered plain HTTP"), "{e}");
    if has_leak_profile {
        // `--prove`'s URL from the bare host: the goroutineleak profile.
        let leak = goroscope_ingest::url::leak_profile_url(&base).expect("a leak URL");
        assert_eq!(one(&leak).source.kind, ProfileKind::GoroutineLeak);
        check_leak_forms(&base);
        // A delta profile over one second: protobuf with a duration and signed counts.
        let delta = one(&format!("{base}/debug/pprof/goroutine?seconds=1"));
        assert_eq!(delta.source.format, Format::Proto);
        let d = delta
            .duration_nanos
            .expect("a delta profile has a duration");
        assert!(d >= 1_000_000_000, "{d}");
        assert_eq!(delta.delta_counts.len(), delta.records.len());
    } else {
        let e = read_input(
            &format!("{base}/debug/pprof/goroutineleak?debug=1"),
            &Options::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("HTTP 404") && e.contains("Go 1.26"), "{e}");
    }
}

#[test]
fn live_go_1_27_all_forms_agree() {
    run("1.27.3", true);
}

#[test]
fn live_go_1_21_all_forms_agree() {
    run("1.21.13", false);
}

/// A Go 1.27 quirk worth knowing when reading leak profiles: with `main` parked in `select {}`,
/// goroutineleak debug=0 and debug=1 count one more goroutine, as a record with an empty stack,
/// than debug=2 marks `(leaked)`. Both pprof readers give that record an empty stack.
#[test]
fn live_go_1_27_leak_profile_counts_main_in_select_as_an_empty_stack() {
    let Some(bin) = build("1.27.3") else { return };
    let server = start(&bin, true);
    let base = format!("http://{}", server.addr);
    let d1 = one(&format!("{base}/debug/pprof/goroutineleak?debug=1"));
    let d0 = one(&format!("{base}/debug/pprof/goroutineleak?debug=0"));
    for s in [&d1, &d0] {
        assert_eq!(s.total_goroutines(), 9, "{:?}", s.source);
        let empty: u64 = s
            .entries()
            .filter(|e| s.stack(e.stack).is_empty())
            .map(|e| e.count)
            .sum();
        assert_eq!(empty, 1, "{:?}", s.source);
    }
    let d2 = http::fetch(
        &format!("{base}/debug/pprof/goroutineleak"),
        &Options::default(),
    )
    .unwrap();
    let leaked = debug2_blocks(&body_of(d2))
        .into_iter()
        .filter(|b| b.lines().next().unwrap_or("").contains("(leaked)"))
        .count();
    assert_eq!(leaked, 8);
}
