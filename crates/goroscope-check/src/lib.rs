//! `goroscope check`: a CI gate for a running Go service.
//!
//! ```text
//! start the service (--start)     its own process group; output in files; readiness polled
//! baseline                        snapshot, polled until the goroutines settle
//! run the workload N times        (--repeat); or wait --duration per run
//!   after each run                poll with backoff until the goroutines settle
//! decide                          groups that grow with the runs are leaks (decide module)
//! stop the service                SIGTERM to its group, SIGKILL after the grace period
//! ```
//!
//! Snapshots come over HTTP pprof ([`Target::Url`]) or from the process's memory
//! ([`Target::Pid`], [`Target::Started`]; no pprof endpoint needed). Every snapshot is judged
//! in the `live` context with the caller's [`goroscope_analyze::Options`] (ignore rules, rule
//! levels), so benign knowledge applies. See [`decide`] for what counts as a leak and
//! [`SettleOptions`] for when the goroutines have settled.
//!
//! [`check`] returns a [`CheckReport`] (exit status 0 clean, 1 leaked: [`CheckReport::exit_code`])
//! or a [`CheckError`] (exit status 2: the check could not decide, e.g. the workload failed or
//! the service exited; the error carries their output). [`render`] writes the report for
//! people (terminal, Markdown) and CI (JUnit); `serde_json` writes the JSON document.
//!
//! ```no_run
//! use goroscope_check::{check, CheckOptions, ServiceOptions, Target, Workload};
//! let mut opts = CheckOptions::new(
//!     Target::Url("http://127.0.0.1:6060".into()),
//!     Workload::Command(vec!["./load-test".into(), "-n".into(), "100".into()]),
//! );
//! opts.service = Some(ServiceOptions::new("./myservice --listen 127.0.0.1:6060"));
//! opts.repeat = 5;
//! opts.requests = Some(100);
//! goroscope_check::stop_on_signals();
//! match check(&opts) {
//!     Ok(report) => std::process::exit(report.exit_code().into()),
//!     Err(e) => {
//!         eprintln!("{e}");
//!         std::process::exit(e.exit_code().into());
//!     }
//! }
//! ```

pub mod decide;
mod error;
mod options;
mod probe;
mod process;
mod redact;
pub mod render;
mod report;
mod settle;

pub use error::{CheckError, OutputTail};
pub use options::{CheckOptions, ServiceOptions, SettleOptions, Target, Workload, MAX_REPEAT};
pub use process::stop_on_signals;
pub use report::{
    CheckGroup, CheckReport, CheckSummary, CheckVerdict, Outcome, Point, ServiceReport, SettledBy,
};

use probe::{PidProbe, Probe, UrlProbe};
use process::{interrupted, pause, Service};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Runs a check (see the crate docs). A service it started is stopped before it returns,
/// whatever the outcome.
pub fn check(opts: &CheckOptions) -> Result<CheckReport, CheckError> {
    opts.validate()?;
    let dir = output_dir(opts.output_dir.as_deref())?;
    tracing::info!("output directory: {}", dir.display());
    let mut service = match &opts.service {
        Some(s) => Some(Service::start(s, &dir)?),
        None => None,
    };
    let mut go_pid = None;
    let result = run(opts, &dir, service.as_mut(), &mut go_pid);
    let stopped = service
        .as_mut()
        .map(|s| (s.stop(), s.pid(), s.stdout.clone(), s.stderr.clone()));
    let mut report = result?;
    if let Some((st, pid, out, err)) = stopped {
        if !st.left_behind.is_empty() {
            report.warnings.push(format!(
                "processes of the service's group were still there after SIGKILL: {:?}",
                st.left_behind
            ));
        }
        report.service = Some(ServiceReport {
            pid,
            go_pid,
            stdout: out.display().to_string(),
            stderr: err.display().to_string(),
            stopped_by: st.by.to_string(),
            stop_secs: st.took.as_secs_f64(),
            exit: st.exit,
            left_behind: st.left_behind,
        });
    }
    Ok(report)
}

fn output_dir(dir: Option<&Path>) -> Result<PathBuf, CheckError> {
    match dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|source| CheckError::OutputDir {
                path: d.to_path_buf(),
                source,
            })?;
            Ok(d.to_path_buf())
        }
        None => tempfile::Builder::new()
            .prefix("goroscope-check-")
            .tempdir()
            .map(|t| t.keep())
            .map_err(|source| CheckError::OutputDir {
                path: std::env::temp_dir(),
                source,
            }),
    }
}

fn analysis_options(opts: &CheckOptions) -> goroscope_analyze::Options {
    let mut a = opts.analysis.clone();
    // A running service: blocked alone is not evidence; growth with the runs is.
    a.context = Some(goroscope_model::Context::Live);
    a
}

fn run(
    opts: &CheckOptions,
    dir: &Path,
    mut service: Option<&mut Service>,
    go_pid: &mut Option<u32>,
) -> Result<CheckReport, CheckError> {
    let analysis = analysis_options(opts);
    let mut probe = ready(opts, service.as_deref_mut(), go_pid)?;
    tracing::info!("{} is ready; taking the baseline", probe.name());
    let base = settle::settle(
        &mut *probe,
        &analysis,
        None,
        &opts.settle,
        service.as_deref_mut(),
        "while taking the baseline",
    )?;
    let mut warnings = Vec::new();
    let mut points = vec![point("baseline".into(), &base, None, &mut warnings)];
    let base_watched = base.watched.clone();
    let mut snaps = vec![base.snapshot];
    for run in 1..=opts.repeat {
        let took = match &opts.workload {
            Workload::Command(cmd) => {
                tracing::info!("run {run}/{}: running the workload", opts.repeat);
                let ran = process::run_workload(cmd, run, dir, opts.workload_timeout)?;
                if ran.leftovers > 0 {
                    warnings.push(format!(
                        "run {run}: the workload left {} process(es) running in its group; they were stopped",
                        ran.leftovers
                    ));
                }
                ran.took
            }
            Workload::Wait(d) => {
                tracing::info!("run {run}/{}: waiting {d:?}", opts.repeat);
                let t = Instant::now();
                wait_alive(*d, service.as_deref_mut(), run)?;
                t.elapsed()
            }
        };
        let when = format!("during run {run}");
        if let Some(s) = service.as_deref_mut() {
            s.check_alive(&when)?;
        }
        let s = settle::settle(
            &mut *probe,
            &analysis,
            Some(&base_watched),
            &opts.settle,
            service.as_deref_mut(),
            &when,
        )?;
        tracing::info!(
            "run {run}: {} goroutines (settled: {} after {} polls)",
            s.snapshot.total_goroutines(),
            s.by.as_str(),
            s.polls
        );
        points.push(point(format!("run {run}"), &s, Some(took), &mut warnings));
        snaps.push(s.snapshot);
    }
    for s in &snaps {
        for w in &s.warnings {
            let w = format!("{}: {w}", s.source.input);
            if warnings.len() < 20 && !warnings.contains(&w) {
                warnings.push(w);
            }
        }
    }
    let d = decide::decide(&snaps, &analysis, opts.requests);
    let mut notes = Vec::new();
    if opts.repeat == 1 {
        notes.push(
            "one run cannot tell a leak from warm-up: every group that is not benign and has more goroutines than at the baseline counts as a leak, pools, caches and keep-alive connections started by the first requests included; --repeat N (N ≥ 2, e.g. 5) runs the workload N times and fails only on groups that grow with the runs".to_string(),
        );
    } else if opts.repeat < 4 {
        notes.push(format!(
            "with {} runs a group fails when it grew at every run from run 1 to run {} (what run 1 added is warm-up); 4 runs or more use a trend test that tolerates a run without growth",
            opts.repeat, opts.repeat
        ));
    }
    if d.summary.warm_up > 0 && opts.repeat >= 2 {
        notes.push(format!(
            "{} group(s) appeared in run 1 and stayed flat after it: warm-up, not counted",
            d.summary.warm_up
        ));
    }
    let verdict = if d.summary.leaks > 0 {
        CheckVerdict::Leaked
    } else {
        CheckVerdict::Clean
    };
    Ok(CheckReport {
        schema_version: goroscope_analyze::SCHEMA_VERSION,
        target: probe.name(),
        verdict,
        runs: opts.repeat,
        workload: match &opts.workload {
            Workload::Command(c) => Some(
                Path::new(&c[0])
                    .file_name()
                    .unwrap_or(c[0].as_os_str())
                    .to_string_lossy()
                    .into_owned(),
            ),
            Workload::Wait(_) => None,
        },
        duration_secs: match &opts.workload {
            Workload::Wait(d) => Some(d.as_secs_f64()),
            Workload::Command(_) => None,
        },
        requests_per_run: opts.requests,
        output_dir: dir.display().to_string(),
        service: None,
        points,
        summary: d.summary,
        groups: d.groups,
        notes,
        warnings,
    })
}

fn point(
    label: String,
    s: &settle::Settled,
    workload: Option<Duration>,
    warnings: &mut Vec<String>,
) -> Point {
    if s.by == SettledBy::Deadline {
        warnings.push(format!(
            "{label}: the goroutines did not settle within the budget ({} polls in {:.1}s); judged on the last poll",
            s.polls,
            s.took.as_secs_f64()
        ));
    }
    Point {
        label,
        total_goroutines: s.snapshot.total_goroutines(),
        polls: s.polls,
        settle_secs: s.took.as_secs_f64(),
        settled_by: s.by,
        workload_secs: workload.map(|d| d.as_secs_f64()),
    }
}

/// Waits `d` (`--duration`), failing early if the started service exits.
fn wait_alive(d: Duration, mut service: Option<&mut Service>, run: u32) -> Result<(), CheckError> {
    let end = Instant::now() + d;
    loop {
        if let Some(s) = service.as_deref_mut() {
            s.check_alive(&format!("during run {run}"))?;
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        pause(left.min(Duration::from_millis(100)))?;
    }
}

/// Waits until the service is ready and returns the probe to read it with: `--ready` answers
/// 2xx (when given), then a snapshot of the target can be taken. Polls with backoff (50 ms
/// doubling to 1 s) until [`CheckOptions::ready_timeout`].
fn ready(
    opts: &CheckOptions,
    mut service: Option<&mut Service>,
    go_pid: &mut Option<u32>,
) -> Result<Box<dyn Probe>, CheckError> {
    let timeout = opts.ready_timeout;
    let ready_url = opts.service.as_ref().and_then(|s| s.ready.clone());
    let start = Instant::now();
    let mut interval = Duration::from_millis(50);
    let mut url_ok = ready_url.is_none();
    let mut probe: Option<Box<dyn Probe>> = match &opts.target {
        Target::Url(u) => Some(Box::new(UrlProbe::new(u, &opts.ingest))),
        Target::Pid(p) => Some(Box::new(PidProbe::new(*p, &opts.attach))),
        Target::Started => None,
    };
    let mut last;
    loop {
        interrupted()?;
        if let Some(s) = service.as_deref_mut() {
            s.check_alive("before it was ready")?;
        }
        last = match (&ready_url, url_ok) {
            (Some(u), false) => match get_ok(u) {
                Ok(()) => {
                    url_ok = true;
                    continue;
                }
                Err(e) => format!("--ready {}: {e}", redact::shown(u)),
            },
            _ => match probe.as_mut() {
                Some(p) => match p.snapshot() {
                    Ok(_) => return Ok(probe.expect("checked above")),
                    Err(e) => e.to_string(),
                },
                None => {
                    let root = service.as_deref().map(Service::pid).expect("validated");
                    match probe::find_go_process(root, &opts.attach) {
                        Ok(Some(pid)) => {
                            tracing::info!("the started service's Go program is pid {pid}");
                            *go_pid = Some(pid);
                            probe = Some(Box::new(PidProbe::new(pid, &opts.attach)));
                            continue;
                        }
                        Ok(None) => {
                            format!("no Go program among pid {root} and its descendants yet")
                        }
                        Err(e) => e,
                    }
                }
            },
        };
        tracing::info!("not ready yet: {last}");
        if start.elapsed() >= timeout {
            return Err(CheckError::NotReady {
                timeout,
                last,
                output: service.map(|s| s.output()).unwrap_or_default(),
            });
        }
        pause(interval.min(timeout.saturating_sub(start.elapsed())))?;
        interval = (interval * 2).min(Duration::from_secs(1));
    }
}

/// `GET url` answered 2xx.
fn get_ok(url: &str) -> Result<(), String> {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .user_agent(concat!("goroscope-check/", env!("CARGO_PKG_VERSION")))
        .build();
    let agent: ureq::Agent = config.into();
    let resp = agent.get(url).call().map_err(|e| match e {
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused".to_string()
        }
        ureq::Error::ConnectionFailed => "cannot connect".to_string(),
        ureq::Error::Timeout(_) => "no answer within 5s".to_string(),
        other => goroscope_model::redact_urls_in(&other.to_string()).into_owned(),
    })?;
    let status = resp.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("answered HTTP {status}"))
    }
}
