//! Alerts and events: JSON lines on stdout, a generic JSON webhook, and Alertmanager's v2 API.
//!
//! An alert has a stable `fingerprint` (kind, target, group or budget key): it is `firing`
//! until a matching `resolved` is sent. Events (`restart`, `deploy`, `target_down`,
//! `target_up`, `store_error`) are one-offs with status `event`. Alertmanager forgets an alert
//! that is not re-sent, so firing alerts are re-sent every minute to Alertmanager sinks; the
//! other sinks get each change once. Deliveries run on their own thread with timeouts and a
//! bounded queue: a slow receiver never holds a poller.

use crate::config::{SinkKind, SinkSection, WatchConfig};
use crate::target::{read_secret_env, read_secret_file, redact_url};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One alert or event.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Alert {
    /// `leak`, `budget`, `restart`, `deploy`, `target_down`, `target_up`, `store_error`.
    pub kind: String,
    /// `firing`, `resolved` or `event`.
    pub status: String,
    /// `critical`, `warning` or `info`.
    pub severity: String,
    pub target: Option<String>,
    /// The target's labels.
    pub labels: BTreeMap<String, String>,
    pub group: Option<String>,
    /// The group's blocking site.
    pub site: Option<String>,
    /// The group's creation site (`created by`), `function (file:line)`.
    pub created_by: Option<String>,
    pub budget: Option<String>,
    /// What the budget counts (`total`, a site, `guard.site=fetch`…).
    pub key: Option<String>,
    pub value: Option<f64>,
    pub limit: Option<u64>,
    pub rate_per_minute: Option<f64>,
    pub summary: String,
    /// RFC 3339.
    pub at: String,
    /// When this alert started firing (RFC 3339).
    pub starts_at: String,
    pub fingerprint: String,
}

impl Alert {
    pub fn new(kind: &str, status: &str, severity: &str, summary: String) -> Alert {
        let now = crate::util::rfc3339_now();
        Alert {
            kind: kind.into(),
            status: status.into(),
            severity: severity.into(),
            target: None,
            labels: BTreeMap::new(),
            group: None,
            site: None,
            created_by: None,
            budget: None,
            key: None,
            value: None,
            limit: None,
            rate_per_minute: None,
            summary,
            at: now.clone(),
            starts_at: now,
            fingerprint: String::new(),
        }
    }

    /// Sets the fingerprint from kind, target, group, budget and key.
    pub fn fingerprinted(mut self) -> Alert {
        let s = format!(
            "{}|{}|{}|{}|{}",
            self.kind,
            self.target.as_deref().unwrap_or(""),
            self.group.as_deref().unwrap_or(""),
            self.budget.as_deref().unwrap_or(""),
            self.key.as_deref().unwrap_or("")
        );
        self.fingerprint = format!("{:016x}", crate::config::fnv1a(s.as_bytes()));
        self
    }

    /// Alertmanager v2 `postableAlert`.
    pub fn to_alertmanager(&self, generator: &str) -> serde_json::Value {
        let mut labels = BTreeMap::new();
        labels.insert("alertname".to_string(), alertname(&self.kind).to_string());
        labels.insert("severity".to_string(), self.severity.clone());
        for (k, v) in &self.labels {
            labels.insert(k.clone(), v.clone());
        }
        for (k, v) in [
            ("target", &self.target),
            ("group", &self.group),
            ("site", &self.site),
            ("budget", &self.budget),
            ("key", &self.key),
        ] {
            if let Some(v) = v {
                labels.insert(k.to_string(), v.clone());
            }
        }
        let mut ann = BTreeMap::new();
        ann.insert("summary".to_string(), self.summary.clone());
        if let Some(c) = &self.created_by {
            ann.insert("created_by".to_string(), c.clone());
        }
        if let Some(r) = self.rate_per_minute {
            ann.insert("rate_per_minute".to_string(), format!("{r:.3}"));
        }
        if let Some(v) = self.value {
            ann.insert("value".to_string(), format!("{v}"));
        }
        if let Some(l) = self.limit {
            ann.insert("limit".to_string(), l.to_string());
        }
        let mut v = serde_json::json!({
            "labels": labels,
            "annotations": ann,
            "startsAt": self.starts_at,
            "generatorURL": generator,
        });
        if self.status == "resolved" {
            v["endsAt"] = serde_json::Value::String(self.at.clone());
        }
        v
    }
}

fn alertname(kind: &str) -> &'static str {
    match kind {
        "leak" => "GoroutineLeak",
        "budget" => "GoroutineBudget",
        "target_down" => "GoroscopeTargetDown",
        "store_error" => "GoroscopeStoreError",
        _ => "GoroscopeEvent",
    }
}

/// Where alerts are delivered.
#[derive(Debug)]
struct Sink {
    kind: SinkKind,
    url: String,
    shown: String,
    auth: Option<crate::config::Secret>,
    timeout: Duration,
}

/// Counters for `/metrics`.
#[derive(Debug, Default, Clone)]
pub struct AlertStats {
    /// (kind, status) → count.
    pub sent: BTreeMap<(String, String), u64>,
    pub delivery_errors: u64,
    pub dropped: u64,
    /// fingerprint → firing alert.
    pub active: BTreeMap<String, Alert>,
    /// Newest last, at most 200.
    pub recent: std::collections::VecDeque<Alert>,
}

/// Sends alerts; cheap to clone.
#[derive(Debug, Clone)]
pub struct Alerts {
    tx: mpsc::SyncSender<Alert>,
    pub stats: Arc<Mutex<AlertStats>>,
}

impl Alerts {
    /// Starts the delivery thread. `generator` is the dashboard URL put in Alertmanager alerts.
    pub fn start(
        cfg: &WatchConfig,
        generator: String,
    ) -> Result<Alerts, crate::config::ConfigError> {
        let mut sinks = Vec::new();
        for s in &cfg.sinks {
            sinks.push(sink(s, cfg)?);
        }
        let (tx, rx) = mpsc::sync_channel::<Alert>(4096);
        let stats = Arc::new(Mutex::new(AlertStats::default()));
        let st = stats.clone();
        let stdout = cfg.watch.stdout_alerts;
        std::thread::Builder::new()
            .name("goroscope-alerts".into())
            .spawn(move || deliver(rx, sinks, st, stdout, generator))
            .map_err(|e| crate::config::ConfigError::new("alerts", e.to_string()))?;
        Ok(Alerts { tx, stats })
    }

    /// Queues an alert (never blocks: a full queue drops it and counts the drop).
    pub fn send(&self, a: Alert) {
        {
            let mut s = self.stats.lock().unwrap_or_else(|p| p.into_inner());
            *s.sent
                .entry((a.kind.clone(), a.status.clone()))
                .or_default() += 1;
            match a.status.as_str() {
                "firing" => {
                    let mut a2 = a.clone();
                    if let Some(prev) = s.active.get(&a.fingerprint) {
                        a2.starts_at = prev.starts_at.clone();
                    }
                    s.active.insert(a.fingerprint.clone(), a2);
                }
                "resolved" => {
                    s.active.remove(&a.fingerprint);
                }
                _ => {}
            }
            s.recent.push_back(a.clone());
            if s.recent.len() > 200 {
                s.recent.pop_front();
            }
        }
        if self.tx.try_send(a).is_err() {
            self.stats.lock().unwrap_or_else(|p| p.into_inner()).dropped += 1;
        }
    }
}

fn sink(s: &SinkSection, cfg: &WatchConfig) -> Result<Sink, crate::config::ConfigError> {
    let shown = redact_url(&s.url);
    let mut auth = None;
    if let Some(f) = &s.bearer_token_file {
        auth = Some(crate::config::Secret::new(format!(
            "Bearer {}",
            read_secret_file(&cfg.resolve(f))
                .map_err(|m| crate::config::ConfigError::new(&shown, m))?
        )));
    }
    if let Some(v) = &s.bearer_token_env {
        auth = Some(crate::config::Secret::new(format!(
            "Bearer {}",
            read_secret_env(v).map_err(|m| crate::config::ConfigError::new(&shown, m))?
        )));
    }
    let url = match s.kind {
        SinkKind::Alertmanager => {
            let base = s.url.trim_end_matches('/');
            if base.ends_with("/api/v2/alerts") {
                base.to_string()
            } else {
                format!("{base}/api/v2/alerts")
            }
        }
        SinkKind::Webhook => s.url.clone(),
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(crate::config::ConfigError::new(
            shown,
            "a sink URL must be http:// or https://",
        ));
    }
    Ok(Sink {
        kind: s.kind,
        shown: redact_url(&url),
        url,
        auth,
        timeout: s.timeout.map_or(Duration::from_secs(10), |d| d.0),
    })
}

fn deliver(
    rx: mpsc::Receiver<Alert>,
    sinks: Vec<Sink>,
    stats: Arc<Mutex<AlertStats>>,
    stdout: bool,
    generator: String,
) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut last_resend = Instant::now();
    let mut fails: HashMap<usize, u32> = HashMap::new();
    loop {
        let a = match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(a) => Some(a),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        if let Some(a) = &a {
            if stdout {
                let line = serde_json::json!({"type": "alert", "alert": a});
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
            for (i, s) in sinks.iter().enumerate() {
                let body = match s.kind {
                    SinkKind::Alertmanager if a.status == "event" => continue,
                    SinkKind::Alertmanager => serde_json::json!([a.to_alertmanager(&generator)]),
                    SinkKind::Webhook => serde_json::to_value(a).unwrap_or_default(),
                };
                post(&agent, s, &body, &stats, fails.entry(i).or_default());
            }
        }
        // Alertmanager resolves what is not re-sent within its resolve_timeout.
        if last_resend.elapsed() >= Duration::from_secs(60) {
            last_resend = Instant::now();
            let active: Vec<Alert> = stats
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .active
                .values()
                .cloned()
                .collect();
            if !active.is_empty() {
                for (i, s) in sinks.iter().enumerate() {
                    if s.kind == SinkKind::Alertmanager {
                        let body = serde_json::Value::Array(
                            active
                                .iter()
                                .map(|a| a.to_alertmanager(&generator))
                                .collect(),
                        );
                        post(&agent, s, &body, &stats, fails.entry(i).or_default());
                    }
                }
            }
        }
    }
}

fn post(
    agent: &ureq::Agent,
    s: &Sink,
    body: &serde_json::Value,
    stats: &Arc<Mutex<AlertStats>>,
    fails: &mut u32,
) {
    let text = body.to_string();
    for attempt in 0..3 {
        let mut req = agent
            .post(&s.url)
            .header("Content-Type", "application/json");
        if let Some(a) = &s.auth {
            req = req.header("Authorization", a.expose());
        }
        let res = req
            .config()
            .timeout_global(Some(s.timeout))
            .build()
            .send(text.as_bytes());
        let err = match res {
            Ok(r) if r.status().is_success() => {
                if *fails > 0 {
                    tracing::warn!("alert sink {}: delivering again", s.shown);
                }
                *fails = 0;
                return;
            }
            Ok(r) => format!("HTTP {}", r.status()),
            Err(e) => crate::target::redact_text(&e.to_string()),
        };
        if attempt == 2 {
            stats
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .delivery_errors += 1;
            *fails += 1;
            if *fails == 1 || fails.is_power_of_two() {
                tracing::error!("alert sink {}: delivery failed: {err}", s.shown);
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(200 << attempt));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alertmanager_shape() {
        let mut a = Alert::new("leak", "firing", "critical", "grows".into());
        a.target = Some("http://h:1/debug/pprof/goroutine".into());
        a.group = Some("abc".into());
        a.labels.insert("service".into(), "orders".into());
        a.rate_per_minute = Some(1.5);
        let a = a.fingerprinted();
        let v = a.to_alertmanager("http://127.0.0.1:9184/");
        assert_eq!(v["labels"]["alertname"], "GoroutineLeak");
        assert_eq!(v["labels"]["service"], "orders");
        assert_eq!(v["labels"]["group"], "abc");
        assert_eq!(v["annotations"]["rate_per_minute"], "1.500");
        assert!(v.get("endsAt").is_none());
        let mut r = a.clone();
        r.status = "resolved".into();
        assert!(r.to_alertmanager("x").get("endsAt").is_some());
        assert_eq!(a.fingerprint.len(), 16);
    }
}
