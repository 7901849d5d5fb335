//! Shared by the integration tests: real traces from the `exectrace_churn` fixture, and the
//! runtime's own parser (`tests/gotrace`, built inside a toolchain's GOROOT with an overlay).

#![allow(dead_code)]

use goroscope_fixtures::{build, go_command, installed_toolchains, repo_root, Toolchain};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

/// One site as the fixture counts it (its `RESULT` line).
#[derive(Debug, Clone, Deserialize)]
pub struct Site {
    pub name: String,
    pub function: String,
    pub file: String,
    pub line: u32,
    pub entry: String,
    pub born: u64,
    pub ended: u64,
    pub alive: u64,
    pub existed: u64,
    #[serde(default)]
    pub wait_reason: String,
    pub leak: bool,
}

/// The fixture's `RESULT` line.
#[derive(Debug, Clone, Deserialize)]
pub struct Churn {
    pub go_version: String,
    pub mode: String,
    pub trace: PathBuf,
    pub bytes: u64,
    pub sites: Vec<Site>,
}

/// Installed releases that write the generation-based format (Go 1.22+), oldest first; prints
/// a SKIPPED line (and returns none) when there is none.
pub fn trace_toolchains(why: &str) -> Vec<Toolchain> {
    let all = installed_toolchains();
    let v: Vec<Toolchain> = all.into_iter().filter(|t| t.minor() >= 22).collect();
    if v.is_empty() {
        eprintln!(
            "SKIPPED {why}: no Go release ≥ 1.22 under .toolchains (run scripts/install-go.sh)"
        );
    }
    v
}

fn out_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("exectrace");
    std::fs::create_dir_all(&d).unwrap();
    d
}

type Cell<T> = Arc<OnceLock<T>>;

fn cell<T>(map: &'static OnceLock<Mutex<HashMap<String, Cell<T>>>>, key: &str) -> Cell<T> {
    let m = map.get_or_init(Default::default);
    let mut m = m.lock().unwrap_or_else(|p| p.into_inner());
    m.entry(key.to_owned()).or_default().clone()
}

/// Runs the fixture once per (release, mode, extra env) per test process; `None` when the
/// release cannot (`UNSUPPORTED`: the flight recorder before Go 1.25).
pub fn churn(tc: &Toolchain, mode: &str, env: &[(&str, &str)]) -> Option<Churn> {
    static RUNS: OnceLock<Mutex<HashMap<String, Cell<Option<Churn>>>>> = OnceLock::new();
    let key = format!("{}-{mode}-{env:?}", tc.version);
    cell(&RUNS, &key)
        .get_or_init(|| run_churn(tc, mode, env, &key))
        .clone()
}

fn run_churn(tc: &Toolchain, mode: &str, env: &[(&str, &str)], key: &str) -> Option<Churn> {
    let bin = build("exectrace_churn", tc);
    let name: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trace = out_dir().join(format!("{name}.trace"));
    let mut cmd = Command::new(&bin);
    cmd.env("FIXTURE_TRACE", &trace).env("FIXTURE_MODE", mode);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("running exectrace_churn");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exectrace_churn (Go {}, {mode}) failed: {}\n{stdout}\n{}",
        tc.version,
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    if stdout.starts_with("UNSUPPORTED") {
        return None;
    }
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line from exectrace_churn: {stdout}"));
    Some(serde_json::from_str(line).expect("RESULT json"))
}

/// The runtime's parser as a program, built with the newest installed release that reads
/// every trace version the others write (Go 1.27+: its summaries account goroutines that
/// existed before the window as goroscope does). `None` (after a SKIPPED line) without one.
pub fn checker() -> Option<PathBuf> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(|| {
        let tc = installed_toolchains().into_iter().rev().find(|t| t.minor() >= 27);
        let Some(tc) = tc else {
            eprintln!("SKIPPED: comparing with the runtime's parser needs Go ≥ 1.27 under .toolchains (run scripts/install-go.sh)");
            return None;
        };
        Some(build_checker(&tc))
    })
    .clone()
}

fn build_checker(tc: &Toolchain) -> PathBuf {
    let goroot = go_command(tc)
        .args(["env", "GOROOT"])
        .output()
        .expect("go env GOROOT");
    let goroot = PathBuf::from(String::from_utf8_lossy(&goroot.stdout).trim());
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("gotrace");
    let dest = goroot.join("src/internal/trace/goroscopecheck");
    let mut replace = serde_json::Map::new();
    for f in ["main.go", "frames_go125.go", "frames_go123.go"] {
        replace.insert(
            dest.join(f).to_string_lossy().into_owned(),
            src.join(f).to_string_lossy().into_owned().into(),
        );
    }
    let dir = out_dir();
    let overlay = dir.join(format!("overlay-{}.json", tc.version));
    std::fs::write(
        &overlay,
        serde_json::json!({ "Replace": replace }).to_string(),
    )
    .unwrap();
    let bin = dir.join(format!("goroscopecheck-{}", tc.version));
    let out = go_command(tc)
        .current_dir(goroot.join("src"))
        .arg("build")
        .arg("-overlay")
        .arg(&overlay)
        .arg("-o")
        .arg(&bin)
        .arg("internal/trace/goroscopecheck")
        .output()
        .expect("go build goroscopecheck");
    assert!(
        out.status.success(),
        "building the runtime-parser checker with Go {} failed:\n{}",
        tc.version,
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

/// One goroutine as the runtime's summarizer sees it.
#[derive(Debug, Clone, Deserialize)]
pub struct RefGoroutine {
    pub id: u64,
    pub name: String,
    pub creation_time: i64,
    pub start_time: i64,
    pub end_time: i64,
    pub exec_time: i64,
    pub sched_wait_time: i64,
    pub syscall_time: i64,
    pub syscall_block_time: i64,
    pub total_time: i64,
    pub block_time_by_reason: HashMap<String, i64>,
    pub creator: i64,
    pub created_by: String,
    pub created_by_line: u32,
    pub starts: u32,
    pub last_state: String,
    pub last_reason: String,
}

/// The runtime parser's per-goroutine summary of a trace.
pub fn reference(checker: &Path, trace: &Path) -> Vec<RefGoroutine> {
    let out = Command::new(checker)
        .arg("summary")
        .arg(trace)
        .output()
        .expect("running goroscopecheck");
    assert!(
        out.status.success(),
        "goroscopecheck: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("ERROR"),
        "the runtime's parser failed on {}: {err}",
        trace.display()
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("goroscopecheck json"))
        .collect()
}

pub fn repo() -> PathBuf {
    repo_root()
}
