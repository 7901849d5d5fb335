//! The watcher: one task per target (its own schedule, timeout and backoff), a bounded number
//! of polls in flight, discovery that adds and removes targets, and the shared state that
//! `/metrics`, the dashboard and the store read.

use crate::alert::{Alert, Alerts};
use crate::budget::{BudgetChange, BudgetValue, Budgets};
use crate::config::WatchConfig;
use crate::detect::{Event, Growth, Tracker};
use crate::discovery::FileSd;
use crate::poll::{Form, GroupObs, Observation, PollError, PollOutcome, PollSettings};
use crate::store::{Cmd, Store};
use crate::target::{Source, Target};
use goroscope_analyze::Verdict;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::Semaphore;

/// A target's health.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Health {
    pub up: bool,
    /// `unknown`, `up`, `failing` (1–2 failures), `down` (3 or more).
    pub state: &'static str,
    pub failures: u32,
    pub last_error: Option<String>,
    pub last_error_kind: Option<&'static str>,
    /// Unix seconds of the next poll.
    pub next_poll: f64,
}

/// Per-target counters.
#[derive(Debug, Clone, Default)]
pub struct TargetStats {
    pub polls: BTreeMap<&'static str, u64>,
    pub errors: BTreeMap<&'static str, u64>,
    pub last_duration: f64,
    pub last_bytes: u64,
    pub restarts: u64,
    pub deploys: u64,
}

/// A raw answer kept for download.
#[derive(Debug, Clone)]
pub struct Dump {
    pub form: Form,
    pub at: SystemTime,
    pub bytes: Arc<Vec<u8>>,
}

/// A group as the dashboard and `/metrics` see it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GroupView {
    pub obs: Arc<GroupObs>,
    pub count: u64,
    pub growth: Growth,
    pub slope: f64,
    pub p_value: f64,
    pub verdict: Verdict,
    pub evidence: Vec<String>,
    /// The window's points (unix seconds, count).
    pub points: Vec<(f64, u64)>,
}

/// Everything known about one target now.
#[derive(Debug)]
pub struct TargetView {
    pub target: Target,
    pub health: Health,
    pub last: Option<Arc<Observation>>,
    pub last_success: Option<SystemTime>,
    /// Leaking first, then by count.
    pub groups: Vec<GroupView>,
    pub budgets: Vec<BudgetValue>,
    pub stats: TargetStats,
    pub dump: Option<Dump>,
    /// The last `debug=2` answer.
    pub detail: Option<Dump>,
    pub epoch: u32,
    /// Recent totals (unix seconds, goroutines) for the dashboard's live chart.
    pub totals: std::collections::VecDeque<(f64, u64)>,
    /// eBPF births and deaths per creation site (traced `pid:` targets).
    pub trace: Option<crate::traced::TraceView>,
}

/// State shared by the tasks, `/metrics`, the dashboard and the API.
#[derive(Debug)]
pub struct Shared {
    pub cfg: WatchConfig,
    pub targets: RwLock<BTreeMap<String, Arc<Mutex<TargetView>>>>,
    pub store: Option<Store>,
    pub alerts: Alerts,
    pub discovery_errors: Mutex<BTreeMap<String, String>>,
    pub started: SystemTime,
    /// Where the dashboard is served.
    pub url: Mutex<String>,
}

impl Shared {
    /// Every target view, by key.
    pub fn views(&self) -> Vec<Arc<Mutex<TargetView>>> {
        self.targets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    pub fn view(&self, key: &str) -> Option<Arc<Mutex<TargetView>>> {
        self.targets
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    /// Sends an alert and records it in the history.
    pub fn emit(&self, a: Alert) {
        if let Some(s) = &self.store {
            s.send(Cmd::Event {
                key: a.target.clone(),
                t: crate::store::ms(SystemTime::now()),
                kind: a.kind.clone(),
                data: serde_json::to_string(&a).unwrap_or_default(),
            });
        }
        self.alerts.send(a);
    }
}

/// What every target task shares.
#[derive(Clone)]
pub(crate) struct Env {
    pub shared: Arc<Shared>,
    pub sem: Arc<Semaphore>,
    pub agent: ureq::Agent,
    pub settings: Arc<PollSettings>,
}

fn jitter(key: &str, n: u64) -> f64 {
    // 0.8..1.2, deterministic per target and attempt (no RNG dependency).
    let h = crate::config::fnv1a(format!("{key}#{n}").as_bytes());
    0.8 + (h % 4001) as f64 / 10_000.0
}

fn base_alert(t: &Target, kind: &str, status: &str, severity: &str, summary: String) -> Alert {
    let mut a = Alert::new(kind, status, severity, summary);
    a.target = Some(t.key.clone());
    a.labels = t.labels.clone();
    a
}

fn loc(l: &Option<goroscope_analyze::Location>) -> Option<String> {
    l.as_ref().map(|l| l.to_string())
}

/// The task of one target: runs until aborted.
pub(crate) async fn target_task(env: Env, target: Target, view: Arc<Mutex<TargetView>>) {
    let every = target.every.max(Duration::from_millis(100));
    // Spread first polls over the interval so a fleet does not poll in lockstep.
    let offset = (crate::config::fnv1a(target.key.as_bytes()) % 1000) as f64 / 1000.0;
    let first = every.mul_f64(offset.min(0.999)).min(Duration::from_secs(5));
    let mut next = tokio::time::Instant::now() + first;
    let mut tracker = Tracker::default();
    let mut budgets = Budgets::default();
    let mut cheap = match target.debug {
        Some(1) => Form::Debug1,
        _ => Form::Proto,
    };
    let mut proto_ever_ok = false;
    let mut failures: u32 = 0;
    let mut down_alerted = false;
    let mut want_detail = false;
    let mut want_proof = false;
    let mut last_detail: Option<Instant> = None;
    let mut last_proof: Option<Instant> = None;
    let mut sent_verdicts: HashMap<String, (Verdict, &'static str)> = HashMap::new();
    let mut attempt: u64 = 0;
    let cfg = &env.shared.cfg;
    // Dropped with the task (the target is dropped, the watcher stops): the probes go.
    let mut traced = match target.source {
        Source::Pid(pid) if target.trace => Some(crate::traced::Tracing::new(pid)),
        _ => None,
    };
    loop {
        {
            let mut v = view.lock().unwrap_or_else(|p| p.into_inner());
            let wait = next.saturating_duration_since(tokio::time::Instant::now());
            v.health.next_poll = crate::util::secs(SystemTime::now() + wait);
        }
        tokio::time::sleep_until(next).await;
        attempt += 1;
        let last_total = view
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last
            .as_ref()
            .map(|o| o.total);
        let is_http = matches!(target.source, Source::Http { .. });
        let d = &cfg.detect;
        let detail_ok = is_http
            && last_total.is_some_and(|n| n < d.debug2_max_goroutines)
            && last_detail.is_none_or(|t| t.elapsed() >= d.debug2_every.0);
        let proof_ok = is_http
            && d.prove_every
                .is_some_and(|p| last_proof.is_none_or(|t| t.elapsed() >= p.0));
        let form = if want_proof && proof_ok {
            want_proof = false;
            last_proof = Some(Instant::now());
            Form::Leak
        } else if want_detail && detail_ok {
            want_detail = false;
            last_detail = Some(Instant::now());
            Form::Debug2
        } else if !is_http {
            match target.source {
                Source::Pid(_) => Form::Attach,
                _ => Form::File,
            }
        } else {
            cheap
        };
        if let Some(tr) = traced.as_mut() {
            tr.ensure(&target.key, every, cfg.watch.max_backoff.0).await;
        }
        let mut outcome = run_poll(&env, &target, form, cheap).await;
        // Where protobuf is not served (a custom handler, a proxy that rewrites), fall back
        // to debug=1 once and remember.
        if form == Form::Proto && !proto_ever_ok {
            if let Err(e) = &outcome.result {
                let client_error =
                    e.kind == crate::poll::ErrorKind::Status && e.message.contains(": HTTP 4");
                if client_error
                    || matches!(
                        e.kind,
                        crate::poll::ErrorKind::NotADump | crate::poll::ErrorKind::Parse
                    )
                {
                    let o2 = run_poll(&env, &target, Form::Debug1, Form::Debug1).await;
                    if o2.result.is_ok() {
                        tracing::info!(
                            "{}: protobuf is not served here; polling debug=1 instead",
                            target.key
                        );
                        cheap = Form::Debug1;
                        outcome = o2;
                    }
                }
            }
        }
        if outcome.form == Form::Proto && outcome.result.is_ok() {
            proto_ever_ok = true;
        }
        let now = crate::util::secs(outcome.at);
        if let Some(tr) = traced.as_mut() {
            let events = tr.read(now, &cfg.detect);
            let tv = tr.view();
            for e in events {
                env.shared.emit(site_alert(&target, &tv, &e));
            }
            view.lock().unwrap_or_else(|p| p.into_inner()).trace = Some(tv);
        }
        let mut v = view.lock().unwrap_or_else(|p| p.into_inner());
        v.stats.last_duration = outcome.duration.as_secs_f64();
        v.stats.last_bytes = outcome.bytes;
        *v.stats.polls.entry(outcome.form.as_str()).or_default() += 1;
        match outcome.result {
            Err(e) => {
                failures += 1;
                tracker.failed();
                *v.stats.errors.entry(e.kind.as_str()).or_default() += 1;
                v.health.up = false;
                v.health.failures = failures;
                v.health.state = if failures >= 3 { "down" } else { "failing" };
                v.health.last_error = Some(e.message.clone());
                v.health.last_error_kind = Some(e.kind.as_str());
                if failures == 1 || failures.is_power_of_two() {
                    tracing::warn!(
                        "{}: poll failed ({} in a row): {}",
                        target.key,
                        failures,
                        e.message
                    );
                }
                if failures >= 3 && !down_alerted {
                    down_alerted = true;
                    let a = base_alert(
                        &target,
                        "target_down",
                        "firing",
                        "warning",
                        format!("{}: {} polls failed: {}", target.key, failures, e.message),
                    );
                    drop(v);
                    env.shared.emit(a.fingerprinted());
                }
                // Backoff with jitter: every × 2^(failures−1), capped.
                let factor = 2f64.powi((failures as i32 - 1).min(16));
                let wait = (every.as_secs_f64() * factor).min(
                    cfg.watch
                        .max_backoff
                        .0
                        .as_secs_f64()
                        .max(every.as_secs_f64()),
                );
                next = tokio::time::Instant::now()
                    + Duration::from_secs_f64(wait * jitter(&target.key, attempt));
                continue;
            }
            Ok(obs) => {
                if down_alerted {
                    down_alerted = false;
                    let a = base_alert(
                        &target,
                        "target_down",
                        "resolved",
                        "warning",
                        format!("{} answers again", target.key),
                    );
                    env.shared.emit(a.fingerprinted());
                }
                failures = 0;
                v.health = crate::engine::Health {
                    up: true,
                    state: "up",
                    failures: 0,
                    last_error: None,
                    last_error_kind: None,
                    next_poll: 0.0,
                };
                let obs = Arc::new(obs);
                if let Some(raw) = outcome.raw {
                    let d = Dump {
                        form: outcome.form,
                        at: outcome.at,
                        bytes: raw,
                    };
                    if outcome.form == Form::Debug2 {
                        v.detail = Some(d.clone());
                    }
                    v.dump = Some(d);
                }
                let events = tracker.update(now, &obs, &cfg.detect);
                let (values, changes) = budgets.evaluate(&cfg.budgets, &target, &obs, now);
                v.stats.restarts = tracker.restarts;
                v.stats.deploys = tracker.deploys;
                v.epoch = tracker.epoch;
                v.last = Some(obs.clone());
                v.last_success = Some(outcome.at);
                v.totals.push_back((now, obs.total));
                while v.totals.len() > 240 {
                    v.totals.pop_front();
                }
                let mut groups: Vec<GroupView> = tracker
                    .groups
                    .values()
                    .map(|g| GroupView {
                        obs: g.obs.clone(),
                        count: g.count,
                        growth: g.growth,
                        slope: g.slope,
                        p_value: g.p_value,
                        verdict: g.verdict,
                        evidence: g.evidence.clone(),
                        points: g.points.iter().copied().collect(),
                    })
                    .collect();
                groups.sort_by(|a, b| {
                    let lk = |g: &GroupView| u8::from(g.growth.as_str() == "leaking");
                    lk(b)
                        .cmp(&lk(a))
                        .then(b.verdict.rank().cmp(&a.verdict.rank()))
                        .then(b.count.cmp(&a.count))
                        .then(a.obs.id.cmp(&b.obs.id))
                });
                v.groups = groups;
                v.budgets = values;
                drop(v);
                // History.
                if let Some(store) = &env.shared.store {
                    let t_ms = crate::store::ms(outcome.at);
                    store.send(Cmd::Poll {
                        key: target.key.clone(),
                        labels: target.labels.clone(),
                        t: t_ms,
                        form: outcome.form,
                        groups: obs.groups.clone(),
                    });
                    for (id, g) in &tracker.groups {
                        let cur = (g.verdict, g.growth.as_str());
                        if sent_verdicts.get(id) != Some(&cur) {
                            sent_verdicts.insert(id.clone(), cur);
                            store.send(Cmd::Verdict {
                                key: target.key.clone(),
                                group: id.clone(),
                                t: t_ms,
                                verdict: g.verdict.as_str().into(),
                                growth: g.growth.as_str().into(),
                                rate: g.slope,
                            });
                        }
                    }
                    sent_verdicts.retain(|id, _| tracker.groups.contains_key(id));
                }
                // Alerts.
                for e in events {
                    match e {
                        Event::Restart { why } => {
                            if let Some(tr) = traced.as_mut() {
                                tr.tracker.restart(now, &cfg.detect);
                            }
                            env.shared.emit(
                                base_alert(
                                    &target,
                                    "restart",
                                    "event",
                                    "info",
                                    format!("{} restarted: {why}", target.key),
                                )
                                .fingerprinted(),
                            );
                        }
                        Event::Deploy { why } => {
                            env.shared.emit(
                                base_alert(
                                    &target,
                                    "deploy",
                                    "event",
                                    "info",
                                    format!("{}: new code: {why}", target.key),
                                )
                                .fingerprinted(),
                            );
                        }
                        Event::LeakStarted { group, rate } => {
                            let g = &tracker.groups[&group];
                            let mut a = base_alert(
                                &target,
                                "leak",
                                "firing",
                                "warning",
                                format!(
                                    "{}: {} goroutines at {} grow {rate:.2}/min ({})",
                                    target.display_name(),
                                    g.count,
                                    g.obs.site(),
                                    g.obs.state
                                ),
                            );
                            a.group = Some(group.clone());
                            a.site = Some(g.obs.site().to_string());
                            a.created_by = loc(&g.obs.created_by);
                            a.value = Some(g.count as f64);
                            a.rate_per_minute = Some(rate);
                            env.shared.emit(a.fingerprinted());
                            want_detail = true;
                            want_proof = true;
                        }
                        Event::Recovered { group } => {
                            let g = &tracker.groups[&group];
                            let mut a = base_alert(
                                &target,
                                "leak",
                                "resolved",
                                "warning",
                                format!(
                                    "{}: {} stopped growing ({} goroutines)",
                                    target.display_name(),
                                    g.obs.site(),
                                    g.count
                                ),
                            );
                            a.group = Some(group.clone());
                            a.site = Some(g.obs.site().to_string());
                            a.created_by = loc(&g.obs.created_by);
                            a.value = Some(g.count as f64);
                            env.shared.emit(a.fingerprinted());
                        }
                        Event::StartedGrowing { .. } => want_detail = true,
                        Event::LeakContinues { .. } => {}
                    }
                }
                for c in changes {
                    want_detail |= c.now.is_some();
                    env.shared.emit(budget_alert(&target, &c));
                }
                next += every;
                let now_i = tokio::time::Instant::now();
                if next < now_i {
                    // Missed ticks (a slow poll): skip them rather than burst.
                    next = now_i + every.mul_f64(0.5);
                }
            }
        }
    }
}

/// A traced site's leak starting or ending: kind `leak`, the `go` statement as `site`,
/// `created_by` and `key`.
fn site_alert(t: &Target, tv: &crate::traced::TraceView, e: &crate::traced::SiteEvent) -> Alert {
    use crate::traced::SiteEvent;
    let id = match e {
        SiteEvent::LeakStarted { id, .. } | SiteEvent::Recovered { id } => id,
    };
    let s = tv.sites.iter().find(|s| &s.id == id);
    let site = s.map_or_else(|| id.clone(), |s| s.site.clone());
    let live = s.map_or(0, |s| s.live);
    let mut a = match e {
        SiteEvent::LeakStarted { rate, .. } => {
            let (born, ended) = s.map_or((0, 0), |s| (s.born_in_window, s.ended_in_window));
            let mut a = base_alert(
                t,
                "leak",
                "firing",
                "warning",
                format!(
                    "{}: goroutines created at {site} grow {rate:.2}/min ({live} alive; traced: {born} born, {ended} ended in the window)",
                    t.display_name()
                ),
            );
            a.rate_per_minute = Some(*rate);
            a
        }
        SiteEvent::Recovered { .. } => base_alert(
            t,
            "leak",
            "resolved",
            "warning",
            format!(
                "{}: goroutines created at {site} stopped growing ({live} alive)",
                t.display_name()
            ),
        ),
    };
    a.site = Some(site.clone());
    a.created_by = Some(site.clone());
    a.key = Some(site);
    a.value = Some(live as f64);
    a.fingerprinted()
}

fn budget_alert(t: &Target, c: &BudgetChange) -> Alert {
    let v = &c.value;
    let (status, sev) = match (c.now, c.before) {
        (Some(s), _) => ("firing", s.as_str()),
        (None, Some(s)) => ("resolved", s.as_str()),
        (None, None) => ("resolved", "warning"),
    };
    let limit = match c.now.or(c.before) {
        Some(crate::budget::Severity::Critical) => v.critical,
        _ => v.warn,
    };
    let summary = if status == "firing" {
        format!(
            "{}: budget `{}` ({}) at {} goroutines, over its {sev} level {}",
            t.display_name(),
            v.budget,
            v.key,
            v.value,
            limit.unwrap_or(0)
        )
    } else {
        format!(
            "{}: budget `{}` ({}) back under its level ({} goroutines)",
            t.display_name(),
            v.budget,
            v.key,
            v.value
        )
    };
    let mut a = base_alert(t, "budget", status, sev, summary);
    a.budget = Some(v.budget.clone());
    a.key = Some(v.key.clone());
    a.value = Some(v.value as f64);
    a.limit = limit;
    a.fingerprinted()
}

async fn run_poll(env: &Env, target: &Target, form: Form, cheap: Form) -> PollOutcome {
    let permit = env.sem.clone().acquire_owned().await;
    let (t, a, s) = (target.clone(), env.agent.clone(), env.settings.clone());
    let guard = target.timeout * 2 + Duration::from_secs(if form == Form::Leak { 120 } else { 30 });
    let job = tokio::task::spawn_blocking(move || {
        if form == Form::Leak {
            crate::poll::poll_with_proof(&t, &a, &s, cheap)
        } else {
            crate::poll::poll(&t, form, &a, &s)
        }
    });
    let out = match tokio::time::timeout(guard, job).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => PollOutcome {
            at: SystemTime::now(),
            duration: Duration::ZERO,
            bytes: 0,
            form,
            result: Err(PollError {
                kind: crate::poll::ErrorKind::Io,
                message: format!("{}: the poll failed: {e}", target.key),
            }),
            raw: None,
        },
        Err(_) => PollOutcome {
            at: SystemTime::now(),
            duration: guard,
            bytes: 0,
            form,
            result: Err(PollError {
                kind: crate::poll::ErrorKind::Timeout,
                message: format!("{}: no answer within {guard:?}", target.key),
            }),
            raw: None,
        },
    };
    drop(permit);
    out
}

/// A running target task.
pub(crate) struct Running {
    pub target: Target,
    pub task: tokio::task::JoinHandle<()>,
}

/// Starts, restarts and stops target tasks so that exactly `desired` run.
pub(crate) fn reconcile(env: &Env, running: &mut HashMap<String, Running>, desired: Vec<Target>) {
    let shard = env.shared.cfg.watch.shard;
    let mut want: BTreeMap<String, Target> = BTreeMap::new();
    for t in desired {
        if shard.owns(&t.key) {
            want.entry(t.key.clone()).or_insert(t);
        }
    }
    running.retain(|k, r| {
        let keep = want.get(k).is_some_and(|t| t == &r.target);
        if !keep {
            r.task.abort();
            env.shared
                .targets
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .remove(k);
            tracing::info!("stopped watching {k}");
        }
        keep
    });
    for (k, t) in want {
        if running.contains_key(&k) {
            continue;
        }
        let view = Arc::new(Mutex::new(TargetView {
            target: t.clone(),
            health: Health {
                state: "unknown",
                ..Default::default()
            },
            last: None,
            last_success: None,
            groups: Vec::new(),
            budgets: Vec::new(),
            stats: TargetStats::default(),
            dump: None,
            detail: None,
            epoch: 0,
            totals: Default::default(),
            trace: t.trace.then(|| crate::traced::TraceView {
                state: "starting",
                ..Default::default()
            }),
        }));
        env.shared
            .targets
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(k.clone(), view.clone());
        tracing::info!("watching {k} ({})", t.origin);
        let task = tokio::spawn(target_task(env.clone(), t.clone(), view));
        running.insert(k, Running { target: t, task });
    }
}

/// Discovery: re-reads file-SD files, HTTP-SD endpoints and Prometheus, takes the targets
/// named up front (replaced by [`crate::Watcher::set_targets`]), and reconciles.
pub(crate) async fn discovery_task(
    env: Env,
    mut statics_rx: tokio::sync::watch::Receiver<Vec<Target>>,
    mut running: HashMap<String, Running>,
) {
    let mut statics = statics_rx.borrow_and_update().clone();
    let cfg = env.shared.cfg.clone();
    let mut file_sds: Vec<FileSd> = Vec::new();
    for f in &cfg.file_sd {
        match FileSd::new(cfg.resolve(&f.path), f.relabel.as_ref()) {
            Ok(s) => file_sds.push(s),
            Err(e) => tracing::error!("file_sd {}: {e}", f.path.display()),
        }
    }
    let mut http: Vec<(Instant, Vec<Target>)> = cfg
        .http_sd
        .iter()
        .map(|_| (Instant::now() - Duration::from_secs(86400), Vec::new()))
        .collect();
    let mut prom: (Instant, Vec<Target>) =
        (Instant::now() - Duration::from_secs(86400), Vec::new());
    let mut first = true;
    // Set when the wait below saw new statics (`changed()` marks them seen, so
    // `has_changed()` no longer says so).
    let mut statics_new = false;
    loop {
        let mut changed = first;
        first = false;
        if std::mem::take(&mut statics_new) || statics_rx.has_changed().unwrap_or(false) {
            statics = statics_rx.borrow_and_update().clone();
            changed = true;
        }
        // File SD: cheap stat of every file each round.
        let c2 = cfg.clone();
        let (sds, res) = tokio::task::spawn_blocking(move || {
            let mut sds = file_sds;
            let res: Vec<(bool, Vec<String>)> = sds.iter_mut().map(|s| s.refresh(&c2)).collect();
            (sds, res)
        })
        .await
        .unwrap_or_default();
        file_sds = sds;
        for (i, (ch, errs)) in res.into_iter().enumerate() {
            changed |= ch;
            let key = format!(
                "file_sd:{}",
                file_sds
                    .get(i)
                    .map_or(String::new(), |s| s.path.display().to_string())
            );
            note_errors(&env.shared, &key, &errs);
        }
        for (i, h) in cfg.http_sd.iter().enumerate() {
            let every = h.refresh.map_or(Duration::from_secs(60), |d| d.0);
            if http[i].0.elapsed() >= every {
                http[i].0 = Instant::now();
                let (u, r, c2) = (h.url.clone(), h.relabel.clone(), cfg.clone());
                let key = format!("http_sd:{}", crate::target::redact_url(&h.url));
                match tokio::task::spawn_blocking(move || {
                    crate::discovery::http_sd(&u, r.as_ref(), &c2)
                })
                .await
                {
                    Ok(Ok(t)) => {
                        changed |= t != http[i].1;
                        http[i].1 = t;
                        note_errors(&env.shared, &key, &[]);
                    }
                    Ok(Err(e)) => note_errors(
                        &env.shared,
                        &key,
                        &[format!("{e} (keeping its last good targets)")],
                    ),
                    Err(_) => {}
                }
            }
        }
        if let Some(p) = &cfg.from_prometheus {
            let every = p.refresh.map_or(Duration::from_secs(30), |d| d.0);
            if prom.0.elapsed() >= every {
                prom.0 = Instant::now();
                let (u, j, r, c2) = (
                    p.url.clone(),
                    p.jobs.clone(),
                    p.relabel.clone(),
                    cfg.clone(),
                );
                let key = format!("prometheus:{}", crate::target::redact_url(&p.url));
                match tokio::task::spawn_blocking(move || {
                    crate::discovery::from_prometheus(&u, &j, r.as_ref(), &c2)
                })
                .await
                {
                    Ok(Ok(t)) => {
                        changed |= t != prom.1;
                        prom.1 = t;
                        note_errors(&env.shared, &key, &[]);
                    }
                    Ok(Err(e)) => note_errors(
                        &env.shared,
                        &key,
                        &[format!("{e} (keeping its last good targets)")],
                    ),
                    Err(_) => {}
                }
            }
        }
        if changed {
            let mut desired = statics.clone();
            for s in &file_sds {
                desired.extend(s.targets().cloned());
            }
            for (_, t) in &http {
                desired.extend(t.iter().cloned());
            }
            desired.extend(prom.1.iter().cloned());
            reconcile(&env, &mut running, desired);
        }
        let refresh = cfg
            .file_sd
            .iter()
            .filter_map(|f| f.refresh)
            .map(|d| d.0)
            .min()
            .unwrap_or(Duration::from_secs(5))
            .min(Duration::from_secs(5))
            .max(Duration::from_millis(200));
        tokio::select! {
            _ = tokio::time::sleep(refresh) => {}
            // A closed channel (the watcher is stopping) is not a change: sleep on.
            r = statics_rx.changed() => match r {
                Ok(()) => statics_new = true,
                Err(_) => tokio::time::sleep(refresh).await,
            },
        }
    }
}

fn note_errors(shared: &Shared, key: &str, errs: &[String]) {
    let mut m = shared
        .discovery_errors
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if errs.is_empty() {
        m.remove(key);
    } else {
        let e = errs.join("; ");
        if m.get(key) != Some(&e) {
            tracing::error!("{key}: {e}");
        }
        m.insert(key.to_string(), e);
    }
}
