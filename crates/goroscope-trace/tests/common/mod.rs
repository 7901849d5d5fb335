//! Shared by the trace tests: the `trace_churn` fixture, run under control.
#![allow(dead_code)]

use goroscope_fixtures::{build_with, BuildOptions, Toolchain};
use serde::Deserialize;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// One `go` statement of the fixture, with its own counts.
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
    pub leak: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Result {
    pub go_version: String,
    pub seconds: f64,
    pub sites: Vec<Site>,
}

/// A running `trace_churn`; killed on drop.
pub struct Churn {
    pub child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    pub binary: PathBuf,
}

impl Churn {
    /// Builds (once) and starts it; returns at READY.
    pub fn start(tc: &Toolchain, build: BuildOptions, env: &[(&str, &str)]) -> Churn {
        let binary = build_with("trace_churn", tc, build);
        let mut cmd = Command::new(&binary);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("starting trace_churn");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        let c = Churn {
            child,
            stdin,
            lines,
            binary,
        };
        c.wait_line("READY");
        c
    }

    fn wait_line(&self, prefix: &str) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(120)) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(_) => continue,
                Err(e) => panic!("trace_churn: no {prefix} line ({e})"),
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts churning and waits for the program's own counts.
    pub fn run(&mut self) -> Result {
        let w = self.stdin.as_mut().unwrap();
        w.write_all(b"GO\n").unwrap();
        w.flush().unwrap();
        let l = self.wait_line("RESULT ");
        serde_json::from_str(&l["RESULT ".len()..]).expect("RESULT json")
    }
}

impl Drop for Churn {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Why tracing cannot run here, if it cannot (printed as SKIPPED by the callers).
pub fn cannot_trace() -> Option<String> {
    let missing = goroscope_trace::preflight::Facts::gather().missing();
    if missing.is_empty() {
        None
    } else {
        Some(
            missing
                .iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        )
    }
}

/// A running `trace_service`; killed on drop.
pub struct Service {
    pub child: Child,
    pub addr: String,
    pub binary: PathBuf,
}

impl Service {
    pub fn start(tc: &Toolchain) -> Service {
        let binary = build_with("trace_service", tc, BuildOptions::default());
        let mut child = Command::new(&binary)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting trace_service");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut addr = String::new();
        for l in lines.by_ref() {
            let l = l.expect("reading trace_service");
            if let Some(a) = l.strip_prefix("ADDR ") {
                addr = a.trim().to_string();
            }
            if l == "READY" {
                break;
            }
        }
        assert!(!addr.is_empty(), "trace_service printed no ADDR");
        Service {
            child,
            addr,
            binary,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts its load generator: `conns` connections GET `path` for `secs` (at `rate`/s).
    pub fn load(&self, path: &str, conns: u32, secs: f64, rate: Option<f64>) -> Load {
        let mut cmd = Command::new(&self.binary);
        cmd.args([
            "load",
            &self.addr,
            path,
            &conns.to_string(),
            &secs.to_string(),
        ]);
        if let Some(r) = rate {
            cmd.arg(r.to_string());
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting the load generator");
        Load { child: Some(child) }
    }

    /// Still running (not exited, not a zombie).
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_none()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the load generator reports.
#[derive(Debug, Clone, Deserialize)]
pub struct LoadResult {
    pub requests: u64,
    pub failures: u64,
    pub seconds: f64,
}

/// A running load generator; killed on drop.
pub struct Load {
    child: Option<Child>,
}

impl Load {
    /// Stops it early (SIGTERM: it ends its requests and reports) and reads its result.
    pub fn stop(self) -> LoadResult {
        if let Some(c) = &self.child {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        }
        self.finish()
    }

    /// Waits for it to end and reads its result.
    pub fn finish(mut self) -> LoadResult {
        let child = self.child.take().unwrap();
        let out = child.wait_with_output().expect("load generator");
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("LOAD "))
            .unwrap_or_else(|| panic!("no LOAD line: {text}"));
        serde_json::from_str(line).expect("LOAD json")
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

/// Probes listed in tracefs (uprobe_events), which must stay empty of goroscope's: its probes
/// are perf-event links that tracefs never lists, and none may be left behind.
pub fn tracefs_uprobes() -> Vec<String> {
    [
        "/sys/kernel/tracing/uprobe_events",
        "/sys/kernel/debug/tracing/uprobe_events",
    ]
    .iter()
    .filter_map(|p| std::fs::read_to_string(p).ok())
    .flat_map(|s| s.lines().map(str::to_string).collect::<Vec<_>>())
    .collect()
}
