//! One poll of one target: fetch (HTTP with timeouts and a body cap, attach, or a file), read
//! with goroscope-ingest while the body streams in, analyse with goroscope-analyze in the
//! `live` context, and boil the report down to an [`Observation`]. Runs on a blocking thread.

use crate::config::glob;
use crate::target::{Source, Target};
use goroscope_analyze::{Relation, Report, Verdict};
use goroscope_model::{Context, Snapshot};
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The form asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// `debug=0`: pprof protobuf, the cheap default.
    Proto,
    /// `debug=1`: text counts, where protobuf is not served.
    Debug1,
    /// `debug=2`: every goroutine with its state, on demand only (it stops the world for the
    /// whole traceback on the target).
    Debug2,
    /// `goroutineleak?debug=1`: the runtime's leak proof (Go ≥ 1.26), on demand only.
    Leak,
    /// Read from memory (`pid:` targets).
    Attach,
    /// A file.
    File,
}

impl Form {
    pub fn as_str(self) -> &'static str {
        match self {
            Form::Proto => "proto",
            Form::Debug1 => "debug1",
            Form::Debug2 => "debug2",
            Form::Leak => "goroutineleak",
            Form::Attach => "attach",
            Form::File => "file",
        }
    }
}

/// Why a poll failed, in classes that `/metrics` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Refused,
    Timeout,
    Status,
    Html,
    TooLarge,
    NotADump,
    Redirects,
    Parse,
    Attach,
    Io,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Refused => "refused",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Status => "http_status",
            ErrorKind::Html => "html",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::NotADump => "not_a_dump",
            ErrorKind::Redirects => "redirects",
            ErrorKind::Parse => "parse",
            ErrorKind::Attach => "attach",
            ErrorKind::Io => "io",
        }
    }
}

/// A failed poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollError {
    pub kind: ErrorKind,
    /// One line, naming the (redacted) request.
    pub message: String,
}

/// One group as the watcher keeps it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GroupObs {
    pub id: String,
    pub count: u64,
    /// Wait reason or status.
    pub state: String,
    pub verdict: Verdict,
    pub pattern: Option<String>,
    pub proven: bool,
    pub explanation: Option<String>,
    pub fix: Option<String>,
    pub evidence: Vec<String>,
    pub blocking: Option<goroscope_analyze::Location>,
    pub created_by: Option<goroscope_analyze::Location>,
    pub stack: Vec<goroscope_analyze::StackFrame>,
    pub labels: BTreeMap<String, Vec<String>>,
    pub wait_minutes: Option<goroscope_analyze::MinMax>,
    /// Hash of the representative stack with lines: changes when the code around it changes.
    pub exact: u64,
}

impl GroupObs {
    /// The function of the blocking site (else the top frame).
    pub fn site(&self) -> &str {
        self.blocking
            .as_ref()
            .map(|l| l.function.as_str())
            .or_else(|| self.stack.first().map(|f| f.function.as_str()))
            .unwrap_or("?")
    }
}

/// Everything the watcher keeps from one successful poll.
#[derive(Debug, Clone)]
pub struct Observation {
    pub form: Form,
    pub total: u64,
    /// Goroutines per state.
    pub states: BTreeMap<String, u64>,
    /// Shared with the detector, the dashboard and the store (one copy per poll).
    pub groups: Vec<Arc<GroupObs>>,
    /// pprof label key → value → goroutines (for label budgets, `guard.site` among them).
    pub label_counts: BTreeMap<String, BTreeMap<String, u64>>,
    /// `guard.site` value → `guard.limit` (the in-process guard's own limit).
    pub guard_limits: BTreeMap<String, u64>,
    pub go_version: Option<String>,
    /// Highest goroutine id (per-goroutine forms): falls when the process restarted.
    pub max_goid: Option<u64>,
    /// Process start (pid targets): changes when the process restarted.
    pub process_start: Option<u64>,
    pub relations: Vec<Relation>,
    pub warnings: Vec<String>,
}

/// What a poll returns.
#[derive(Debug)]
pub struct PollOutcome {
    pub at: SystemTime,
    pub duration: Duration,
    pub bytes: u64,
    pub form: Form,
    pub result: Result<Observation, PollError>,
    /// The answer as received (up to the keep limit), for "download the last dump".
    pub raw: Option<Arc<Vec<u8>>>,
}

/// Settings every poll shares.
#[derive(Debug, Clone)]
pub struct PollSettings {
    pub max_body: u64,
    /// Raw answers up to this size are kept for download.
    pub keep_bytes: u64,
    pub analyze: goroscope_analyze::Options,
    /// pprof label keys whose per-value counts are wanted (label budgets; `guard.site` always).
    pub label_keys: Vec<String>,
}

/// The guard's labels (see the guard module): a budget per site comes without configuration.
pub const GUARD_SITE: &str = "guard.site";
pub const GUARD_LIMIT: &str = "guard.limit";

/// One shared HTTP client: keep-alive connections to every target, no global timeout (each
/// request sets its own).
pub fn agent(targets_hint: usize) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(3)
        .max_redirects_will_error(true)
        .max_idle_connections(targets_hint.clamp(16, 4096))
        .max_idle_connections_per_host(1)
        .user_agent(concat!("goroscope-watch/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// Polls `target` once in `form`.
pub fn poll(target: &Target, form: Form, agent: &ureq::Agent, s: &PollSettings) -> PollOutcome {
    let at = SystemTime::now();
    let t0 = Instant::now();
    let mut bytes = 0;
    let mut raw = None;
    let result = match &target.source {
        Source::Http { base } => fetch_http(target, base, form, agent, s, &mut bytes, &mut raw),
        Source::Pid(pid) => attach(*pid),
        Source::File(p) => std::fs::File::open(p)
            .map_err(|e| PollError {
                kind: ErrorKind::Io,
                message: format!("{}: {e}", p.display()),
            })
            .and_then(|f| {
                let (snap, n, kept) = read_stream(&target.key, f, None, s)?;
                bytes = n;
                raw = kept;
                Ok((snap, None))
            }),
    };
    let result = result.map(|(snap, leak)| observe(&snap, leak.as_ref(), form, target, s));
    PollOutcome {
        at,
        duration: t0.elapsed(),
        bytes,
        form,
        result,
        raw,
    }
}

fn attach(pid: u32) -> Result<(Snapshot, Option<Snapshot>), PollError> {
    let opts = goroscope_attach::AttachOptions::default();
    let mut snap = goroscope_attach::attach_pid(pid, &opts).map_err(|e| PollError {
        kind: ErrorKind::Attach,
        message: format!("pid {pid}: {e}"),
    })?;
    if snap.taken_at.is_none() {
        snap.taken_at = Some(SystemTime::now());
    }
    Ok((snap, None))
}

/// The process start time of a pid in clock ticks since boot (field 22 of /proc/PID/stat).
pub fn process_start(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

fn request_url(base: &str, form: Form) -> String {
    match form {
        Form::Proto => format!("{base}?debug=0"),
        Form::Debug1 => format!("{base}?debug=1"),
        Form::Debug2 => format!("{base}?debug=2"),
        Form::Leak => {
            let root = base.strip_suffix("/goroutine").unwrap_or(base);
            format!("{root}/goroutineleak?debug=1")
        }
        Form::Attach | Form::File => base.to_string(),
    }
}

type Fetched = (Snapshot, Option<Snapshot>);

/// A read answer: the snapshot, the bytes read, and the bytes kept for download.
type ReadAnswer = (Snapshot, u64, Option<Arc<Vec<u8>>>);

fn fetch_http(
    target: &Target,
    base: &str,
    form: Form,
    agent: &ureq::Agent,
    s: &PollSettings,
    bytes: &mut u64,
    raw: &mut Option<Arc<Vec<u8>>>,
) -> Result<Fetched, PollError> {
    let url = request_url(base, form);
    let shown = crate::target::redact_url(&url);
    let cap = if form == Form::Debug2 {
        s.max_body.saturating_mul(4)
    } else {
        s.max_body
    };
    let timeout = if form == Form::Leak {
        // The leak-detecting GC takes tens of seconds on a large heap.
        target.timeout.max(Duration::from_secs(60))
    } else {
        target.timeout
    };
    let (snap, n, kept) = get(target, &url, &shown, timeout, cap, agent, s)?;
    *bytes = n;
    *raw = kept;
    Ok((snap, None))
}

/// GETs `url` and reads the answer as it streams in.
fn get(
    target: &Target,
    url: &str,
    shown: &str,
    timeout: Duration,
    cap: u64,
    agent: &ureq::Agent,
    s: &PollSettings,
) -> Result<ReadAnswer, PollError> {
    let err = |kind, m: String| PollError {
        kind,
        message: format!("GET {shown}: {m}"),
    };
    let mut req = agent.get(url);
    for (h, v) in &target.headers {
        req = req.header(h.as_str(), v.expose());
    }
    let resp = req
        .config()
        .timeout_global(Some(timeout))
        .timeout_connect(Some(timeout.min(Duration::from_secs(5))))
        .build()
        .call()
        .map_err(|e| classify(&e, timeout, shown))?;
    let status = resp.status();
    let html = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if status != 200 {
        let mut head = Vec::new();
        let _ = resp
            .into_body()
            .into_reader()
            .take(512)
            .read_to_end(&mut head);
        let first = String::from_utf8_lossy(&head);
        let first = first.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        let mut m = format!("HTTP {status}");
        if !html && !first.is_empty() {
            m.push_str(": ");
            m.push_str(&clip(first.trim(), 160));
        }
        return Err(err(ErrorKind::Status, m));
    }
    if html {
        return Err(err(
            ErrorKind::Html,
            "the answer is an HTML page, not a goroutine profile (is this the pprof address?)"
                .into(),
        ));
    }
    let body = resp.into_body().into_reader();
    read_stream(shown, body, Some(cap), s).map_err(|mut e| {
        e.message = format!("GET {shown}: {}", e.message);
        e
    })
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n).collect::<String>() + "…"
    }
}

fn classify(e: &ureq::Error, timeout: Duration, shown: &str) -> PollError {
    let (kind, m) = match e {
        ureq::Error::Timeout(what) => (
            ErrorKind::Timeout,
            format!("no complete answer within {timeout:?} ({what})"),
        ),
        ureq::Error::Io(io) if io.kind() == io::ErrorKind::ConnectionRefused => {
            (ErrorKind::Refused, "connection refused".into())
        }
        ureq::Error::Io(io) if io.kind() == io::ErrorKind::TimedOut => (
            ErrorKind::Timeout,
            format!("no complete answer within {timeout:?}"),
        ),
        ureq::Error::ConnectionFailed => (ErrorKind::Refused, "cannot connect".into()),
        ureq::Error::HostNotFound => (ErrorKind::Refused, "cannot resolve the host".into()),
        ureq::Error::TooManyRedirects => (ErrorKind::Redirects, "too many redirects".into()),
        ureq::Error::RedirectFailed => (ErrorKind::Redirects, "a redirect failed".into()),
        // ureq wraps a timeout met inside another layer (TLS, the body reader) in io errors.
        other if other.to_string().contains("timeout") => (
            ErrorKind::Timeout,
            format!("no complete answer within {timeout:?} ({other})"),
        ),
        other => (
            ErrorKind::Io,
            crate::target::redact_text(&other.to_string()),
        ),
    };
    PollError {
        kind,
        message: format!("GET {shown}: {m}"),
    }
}

/// Counts the bytes read, refuses more than `cap`, keeps a copy up to `keep`.
struct Capped<R> {
    inner: R,
    read: u64,
    cap: u64,
    keep: u64,
    copy: Vec<u8>,
    over: Arc<AtomicBool>,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.cap {
            self.over.store(true, Ordering::Relaxed);
            return Err(io::Error::other(format!(
                "the answer is larger than {} bytes; refusing it",
                self.cap
            )));
        }
        if (self.copy.len() as u64) < self.keep {
            let room = (self.keep - self.copy.len() as u64).min(n as u64) as usize;
            self.copy.extend_from_slice(&buf[..room]);
        }
        Ok(n)
    }
}

fn read_stream<R: Read>(
    name: &str,
    r: R,
    cap: Option<u64>,
    s: &PollSettings,
) -> Result<ReadAnswer, PollError> {
    let over = Arc::new(AtomicBool::new(false));
    let mut c = Capped {
        inner: r,
        read: 0,
        cap: cap.unwrap_or(s.max_body),
        keep: s.keep_bytes,
        copy: Vec::new(),
        over: over.clone(),
    };
    let opts = goroscope_ingest::Options {
        threads: 1,
        ..Default::default()
    };
    let res = goroscope_ingest::read_reader(name, &mut c, &opts);
    let read = c.read;
    let complete = (c.copy.len() as u64) == read;
    let kept = complete.then(|| Arc::new(std::mem::take(&mut c.copy)));
    match res {
        Ok(mut snaps) => {
            if snaps.is_empty() {
                return Err(PollError {
                    kind: ErrorKind::NotADump,
                    message: "no goroutine dump in the answer".into(),
                });
            }
            let mut snap = snaps.swap_remove(0);
            if snap.taken_at.is_none() {
                snap.taken_at = Some(SystemTime::now());
            }
            Ok((snap, read, kept))
        }
        Err(e) => {
            use goroscope_ingest::ErrorKind as K;
            // A body read that ran out of time: an io::Error of kind TimedOut, or the HTTP
            // client's own timeout error wrapped in one.
            let mut timed_out = false;
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                let text = c.to_string();
                timed_out |= c
                    .downcast_ref::<io::Error>()
                    .is_some_and(|x| x.kind() == io::ErrorKind::TimedOut)
                    || text.contains("timeout")
                    || text.contains("timed out");
                cause = c.source();
            }
            let kind = if over.load(Ordering::Relaxed) {
                ErrorKind::TooLarge
            } else {
                match e.kind() {
                    K::TooLarge { .. } => ErrorKind::TooLarge,
                    K::Timeout => ErrorKind::Timeout,
                    K::Io if timed_out => ErrorKind::Timeout,
                    K::Empty | K::NotADump => ErrorKind::NotADump,
                    K::Syntax { .. } => ErrorKind::Parse,
                    _ => ErrorKind::Io,
                }
            };
            let mut message = match (e.line(), e.offset()) {
                (Some(l), _) => format!("line {l}: {}", e.message()),
                (None, Some(o)) => format!("byte {o}: {}", e.message()),
                _ => e.message().to_string(),
            };
            // The message never repeats its cause; the target's page shows both.
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                message.push_str(": ");
                message.push_str(&c.to_string());
                cause = c.source();
            }
            Err(PollError { kind, message })
        }
    }
}

/// Analyses a snapshot in the live context and keeps what the watcher needs.
pub fn observe(
    snap: &Snapshot,
    leak: Option<&Snapshot>,
    form: Form,
    target: &Target,
    s: &PollSettings,
) -> Observation {
    let mut opts = s.analyze.clone();
    opts.context = Some(Context::Live);
    let reports: Vec<Report> = match leak {
        Some(l) => goroscope_analyze::analyze(&[snap.clone(), l.clone()], &opts),
        None => goroscope_analyze::analyze(std::slice::from_ref(snap), &opts),
    };
    let report = reports.into_iter().next();
    let mut states: BTreeMap<String, u64> = BTreeMap::new();
    let mut groups = Vec::new();
    let mut relations = Vec::new();
    let mut warnings: Vec<String> = snap.warnings.iter().map(|w| w.to_string()).collect();
    if let Some(r) = report {
        for g in r.groups {
            let state = g.wait_reason.clone().unwrap_or_else(|| g.status.clone());
            *states.entry(state.clone()).or_default() += g.count;
            let mut h = crate::config::fnv1a(state.as_bytes());
            for f in &g.stack {
                h ^= crate::config::fnv1a(f.function.as_bytes()).rotate_left(7)
                    ^ crate::config::fnv1a(f.file.as_bytes())
                    ^ u64::from(f.line);
                h = h.wrapping_mul(0x100_0000_01b3);
            }
            groups.push(Arc::new(GroupObs {
                id: g.id,
                count: g.count,
                state,
                verdict: g.verdict,
                pattern: g.pattern,
                proven: g.proven,
                explanation: g.explanation,
                fix: g.fix,
                evidence: g.evidence,
                blocking: g.blocking_site,
                created_by: g.created_by,
                stack: g.stack,
                labels: g.labels,
                wait_minutes: g.wait_minutes,
                exact: h,
            }));
        }
        relations = r.relations;
        warnings.extend(r.warnings);
    }
    // Label counts straight from the snapshot: a group's label values have no counts.
    let mut label_counts: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut guard_limits = BTreeMap::new();
    let wanted = |k: &str| k == GUARD_SITE || s.label_keys.iter().any(|w| glob(w, k));
    let mut max_goid = None;
    for e in snap.entries() {
        if let Some(g) = e.goroutine {
            max_goid = Some(max_goid.map_or(g.goid.0, |m: u64| m.max(g.goid.0)));
        }
        let mut site = None;
        let mut limit = None;
        for (k, v) in snap.labels(e.labels) {
            if wanted(k) {
                *label_counts
                    .entry(k.to_string())
                    .or_default()
                    .entry(v.to_string())
                    .or_default() += e.count;
            }
            if k == GUARD_SITE {
                site = Some(v);
            } else if k == GUARD_LIMIT {
                limit = v.trim().parse::<u64>().ok();
            }
        }
        if let (Some(site), Some(limit)) = (site, limit) {
            guard_limits.insert(site.to_string(), limit);
        }
    }
    let process_start = match target.source {
        Source::Pid(p) => process_start(p),
        _ => None,
    };
    Observation {
        form,
        total: snap.total_goroutines(),
        states,
        groups,
        label_counts,
        guard_limits,
        go_version: snap.go_version.clone().or(snap.go_version_min.clone()),
        max_goid,
        process_start,
        relations,
        warnings,
    }
}

/// Polls the goroutineleak proof and the cheap form together: the proof's groups are matched
/// to the cheap form's by stack (goroscope-analyze does it).
pub fn poll_with_proof(
    target: &Target,
    agent: &ureq::Agent,
    s: &PollSettings,
    cheap: Form,
) -> PollOutcome {
    let Source::Http { base } = &target.source else {
        return poll(target, cheap, agent, s);
    };
    let at = SystemTime::now();
    let t0 = Instant::now();
    let mut bytes = 0;
    let mut raw = None;
    let main = fetch_http(target, base, cheap, agent, s, &mut bytes, &mut raw);
    let result = main.and_then(|(snap, _)| {
        let url = request_url(base, Form::Leak);
        let shown = crate::target::redact_url(&url);
        let (mut leak, n, _) = get(
            target,
            &url,
            &shown,
            target.timeout.max(Duration::from_secs(60)),
            s.max_body,
            agent,
            s,
        )?;
        bytes += n;
        leak.source.kind = goroscope_model::ProfileKind::GoroutineLeak;
        Ok(observe(&snap, Some(&leak), Form::Leak, target, s))
    });
    PollOutcome {
        at,
        duration: t0.elapsed(),
        bytes,
        form: Form::Leak,
        result,
        raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leak_url() {
        assert_eq!(
            request_url("http://h/debug/pprof/goroutine", Form::Leak),
            "http://h/debug/pprof/goroutineleak?debug=1"
        );
        assert_eq!(
            request_url("http://h/debug/pprof/goroutine", Form::Proto),
            "http://h/debug/pprof/goroutine?debug=0"
        );
    }

    #[test]
    fn capped_reader_refuses_past_the_cap() {
        let s = PollSettings {
            max_body: 10,
            keep_bytes: 4,
            analyze: Default::default(),
            label_keys: vec![],
        };
        let e = read_stream("x", io::repeat(b'g').take(1000), Some(100_000), &s).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotADump, "{e:?}");
        let dump = "goroutine 1 [running]:\nmain.main()\n\t/x/main.go:3 +0x1\n".repeat(10);
        let e = read_stream("x", dump.as_bytes(), Some(100), &s).unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooLarge, "{e:?}");
        let (snap, n, kept) = read_stream("x", dump.as_bytes(), Some(10_000), &s).unwrap();
        assert_eq!(n, dump.len() as u64);
        assert!(kept.is_none(), "over keep_bytes: not kept");
        assert!(snap.total_goroutines() >= 1);
    }
}
