//! What to check and how.

use crate::error::CheckError;
use crate::redact::shown;
use std::ffi::OsString;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// The most workload runs: every run's snapshot is kept until the decision.
pub const MAX_REPEAT: u32 = 100;

/// Where the goroutines are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// A `net/http/pprof` URL (`http://host:port` is completed to `/debug/pprof/goroutine`,
    /// asked for in `debug=2`).
    Url(String),
    /// A running process, read from its memory (`pid:PID`); no pprof endpoint needed.
    Pid(u32),
    /// The Go program the [`ServiceOptions::command`] started (`pid`): that process, or the
    /// first Go program among its descendants (a shell wrapper is looked through).
    Started,
}

impl Target {
    /// How reports and errors name the target: a URL without credentials or secret-looking
    /// query values, or `pid 1234`.
    pub fn display(&self) -> String {
        match self {
            Target::Url(u) => shown(u),
            Target::Pid(p) => format!("pid {p}"),
            Target::Started => "the started service (pid)".to_string(),
        }
    }
}

impl FromStr for Target {
    type Err = CheckError;

    /// `http(s)://…`, `pid:PID`, or `pid`.
    fn from_str(s: &str) -> Result<Target, CheckError> {
        let t = s.trim();
        let lower = t.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            return Ok(Target::Url(t.to_string()));
        }
        if lower == "pid" {
            return Ok(Target::Started);
        }
        if let Some(n) = lower.strip_prefix("pid:") {
            return match n.parse::<u32>() {
                Ok(p) if p > 0 => Ok(Target::Pid(p)),
                _ => Err(CheckError::Invalid(format!(
                    "--target {}: `{n}` is not a process id (expected pid:PID, e.g. pid:1234)",
                    shown(t)
                ))),
            };
        }
        Err(CheckError::Invalid(format!(
            "--target {}: expected an http(s):// URL of the service's /debug/pprof, pid:PID, or pid (the Go program --start started)",
            shown(t)
        )))
    }
}

/// A service to start before the check and stop after it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServiceOptions {
    /// A shell command (`sh -c COMMAND`), started in its own process group with its standard
    /// output and error written to files in the output directory.
    pub command: String,
    /// An `http(s)://` URL to poll until it answers 2xx (else the target is polled until a
    /// snapshot can be read).
    pub ready: Option<String>,
    /// After SIGTERM to its process group, how long to wait before SIGKILL.
    pub stop_timeout: Duration,
}

impl ServiceOptions {
    pub fn new(command: impl Into<String>) -> ServiceOptions {
        ServiceOptions {
            command: command.into(),
            ..Default::default()
        }
    }
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            command: String::new(),
            ready: None,
            stop_timeout: Duration::from_secs(10),
        }
    }
}

/// What drives the service between snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Workload {
    /// A command (program and arguments) run once per run, in its own process group; a
    /// non-zero exit is an error, not a verdict.
    Command(Vec<OsString>),
    /// Wait this long per run while something else drives the service (`--duration`).
    Wait(Duration),
}

/// When the goroutines count as settled after a run.
///
/// The target is polled with exponential backoff (`first_interval`, doubling up to
/// `max_interval`). The goroutines have settled when every *watched* group (not benign, or
/// running/runnable) is back to its baseline count, or when the watched counts were the same
/// in the last `stable_polls` polls spanning at least `quiet`. The budget is `max_polls`
/// polls (goleak's default retry budget is 20 attempts; its 1 µs–100 µs sleeps are for
/// goroutines of the same process, a service over HTTP needs milliseconds) and `timeout`;
/// when it runs out, the last poll is used and the report says so.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SettleOptions {
    pub timeout: Duration,
    pub max_polls: u32,
    pub first_interval: Duration,
    pub max_interval: Duration,
    pub stable_polls: u32,
    pub quiet: Duration,
}

impl Default for SettleOptions {
    fn default() -> Self {
        SettleOptions {
            timeout: Duration::from_secs(30),
            max_polls: 20,
            first_interval: Duration::from_millis(50),
            max_interval: Duration::from_secs(1),
            stable_polls: 3,
            quiet: Duration::from_millis(250),
        }
    }
}

/// Everything a check needs. Build with [`CheckOptions::new`] and set the rest.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CheckOptions {
    pub target: Target,
    /// Start (and stop) the service.
    pub service: Option<ServiceOptions>,
    pub workload: Workload,
    /// How long the target (and `--ready`) may take to answer at the start.
    pub ready_timeout: Duration,
    /// Workload runs (1 to [`MAX_REPEAT`]); with 2 or more, only growth with the runs is a leak
    /// (warm-up is not).
    pub repeat: u32,
    /// Requests per workload run, as the user states it: growth is also reported per request.
    pub requests: Option<u64>,
    /// Longest a workload run may take (it is stopped and the check fails with exit 2).
    pub workload_timeout: Option<Duration>,
    pub settle: SettleOptions,
    /// Ignore rules, rule levels, grouping. Every snapshot is judged in the `live` context.
    pub analysis: goroscope_analyze::Options,
    /// For URL targets.
    pub ingest: goroscope_ingest::Options,
    /// For `pid` targets.
    pub attach: goroscope_attach::AttachOptions,
    /// Where the service's and workload's output go (created if missing); default: a new
    /// directory `goroscope-check-*` under the system's temporary directory, kept.
    pub output_dir: Option<PathBuf>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            target: Target::Url(String::new()),
            service: None,
            workload: Workload::Command(Vec::new()),
            ready_timeout: Duration::from_secs(60),
            repeat: 1,
            requests: None,
            workload_timeout: None,
            settle: SettleOptions::default(),
            analysis: goroscope_analyze::Options::default(),
            ingest: goroscope_ingest::Options::default(),
            attach: goroscope_attach::AttachOptions::default(),
            output_dir: None,
        }
    }
}

impl CheckOptions {
    pub fn new(target: Target, workload: Workload) -> CheckOptions {
        CheckOptions {
            target,
            workload,
            ..Default::default()
        }
    }

    /// Checks the options before anything is started.
    pub fn validate(&self) -> Result<(), CheckError> {
        let bad = |m: String| Err(CheckError::Invalid(m));
        match &self.target {
            Target::Url(u) if u.trim().is_empty() => return bad("no --target given".into()),
            Target::Started if self.service.is_none() => {
                return bad(
                    "--target pid reads the Go program --start started; give --start, or name a process with pid:PID".into(),
                )
            }
            _ => {}
        }
        if self.repeat == 0 || self.repeat > MAX_REPEAT {
            return bad(format!("--repeat must be 1 to {MAX_REPEAT}"));
        }
        if self.requests == Some(0) {
            return bad("--requests must be at least 1 (requests per workload run)".into());
        }
        match &self.workload {
            Workload::Command(c) if c.is_empty() => {
                return bad(
                    "no workload: give the command after `--` (e.g. `-- ./load-test`), or --duration D to wait while something else drives the service".into(),
                )
            }
            Workload::Wait(d) if d.is_zero() => return bad("--duration must be positive".into()),
            _ => {}
        }
        if let Some(s) = &self.service {
            if s.command.trim().is_empty() {
                return bad("--start: the command is empty".into());
            }
            if let Some(r) = &s.ready {
                let l = r.to_ascii_lowercase();
                if !(l.starts_with("http://") || l.starts_with("https://")) {
                    return bad(format!(
                        "--ready {}: expected an http(s):// URL that answers 2xx once the service is ready",
                        shown(r)
                    ));
                }
            }
        }
        let s = &self.settle;
        if s.max_polls == 0 || s.stable_polls < 2 || s.first_interval.is_zero() {
            return bad(
                "settle options: max_polls must be ≥ 1, stable_polls ≥ 2, first_interval > 0"
                    .into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(
            "http://127.0.0.1:6060".parse::<Target>().unwrap(),
            Target::Url("http://127.0.0.1:6060".into())
        );
        assert_eq!("pid:42".parse::<Target>().unwrap(), Target::Pid(42));
        assert_eq!("PID:42".parse::<Target>().unwrap(), Target::Pid(42));
        assert_eq!("pid".parse::<Target>().unwrap(), Target::Started);
        for bad in ["pid:0", "pid:x", "pid:", "localhost:6060", "", "ftp://h/"] {
            let e = bad.parse::<Target>().unwrap_err().to_string();
            assert!(e.starts_with("--target"), "{bad}: {e}");
        }
        // Credentials never appear in the message.
        let e = "htp://user:hunter2@h/".parse::<Target>().unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert_eq!(
            Target::Url("http://u:p@h:1/debug/pprof/goroutine".into()).display(),
            "http://***@h:1/debug/pprof/goroutine"
        );
    }

    #[test]
    fn validation_names_the_flag() {
        let ok = CheckOptions::new(
            Target::Url("http://h:1".into()),
            Workload::Command(vec!["true".into()]),
        );
        ok.validate().unwrap();
        let cases: Vec<(CheckOptions, &str)> = vec![
            (
                CheckOptions {
                    repeat: 0,
                    ..ok.clone()
                },
                "--repeat",
            ),
            (
                CheckOptions {
                    requests: Some(0),
                    ..ok.clone()
                },
                "--requests",
            ),
            (
                CheckOptions {
                    workload: Workload::Command(vec![]),
                    ..ok.clone()
                },
                "no workload",
            ),
            (
                CheckOptions {
                    target: Target::Started,
                    ..ok.clone()
                },
                "--start",
            ),
            (
                CheckOptions {
                    service: Some(ServiceOptions {
                        ready: Some("localhost:1".into()),
                        ..ServiceOptions::new("./svc")
                    }),
                    ..ok.clone()
                },
                "--ready",
            ),
            (
                CheckOptions {
                    service: Some(ServiceOptions::new("  ")),
                    ..ok.clone()
                },
                "--start",
            ),
        ];
        for (o, want) in cases {
            let e = o.validate().unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
    }
}
