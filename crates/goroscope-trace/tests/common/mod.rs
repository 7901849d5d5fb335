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
