//! `/metrics`: the watcher's state in the Prometheus exposition format, encoded by
//! `prometheus-client` from a collector that reads the live state at each scrape.
//!
//! `prometheus-client` writes OpenMetrics text; a scraper that does not ask for OpenMetrics
//! (`Accept`) gets the classic text format 0.0.4 (counter families named with their `_total`,
//! no `# UNIT`/`# EOF`), which is what `promtool check metrics` reads.
//!
//! Every per-target series carries `target` (the target's key) and the target's own labels
//! (service, instance, env…), so several watchers' series aggregate in Prometheus. Cardinality
//! is bounded: per target, states (a few dozen at most), the top `top_groups` groups (leaking
//! groups first, then by count) plus one `group="other"` series, the budgets that apply, and
//! for traced targets the top `top_sites` creation sites plus one `site="other"` series.

use crate::engine::Shared;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelValue, LabelValueEncoder, NoLabelSet,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::fmt::Write as _;
use std::sync::Arc;

/// A label value, escaped for the text formats (`\`, `"` and line breaks).
#[derive(Debug, Clone)]
struct V(String);

impl EncodeLabelValue for V {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        for c in self.0.chars() {
            match c {
                '\\' => encoder.write_str("\\\\")?,
                '"' => encoder.write_str("\\\"")?,
                '\n' => encoder.write_str("\\n")?,
                c => encoder.write_char(c)?,
            }
        }
        Ok(())
    }
}

type Labels = Vec<(String, V)>;

fn labels(base: &Labels, extra: &[(&str, &str)]) -> Labels {
    let mut l = base.clone();
    for (k, v) in extra {
        l.push((k.to_string(), V(v.to_string())));
    }
    l
}

/// One family being written: (labels, value).
struct Fam {
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    rows: Vec<(Labels, f64)>,
}

impl Fam {
    fn new(name: &'static str, help: &'static str, kind: MetricType) -> Fam {
        Fam {
            name,
            help,
            kind,
            rows: Vec::new(),
        }
    }
    fn push(&mut self, l: Labels, v: f64) {
        self.rows.push((l, v));
    }
    fn encode(&self, enc: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut m = enc.encode_descriptor(self.name, self.help, None, self.kind)?;
        if let [(l, v)] = &self.rows[..] {
            if l.is_empty() {
                return match self.kind {
                    MetricType::Counter => m.encode_counter::<NoLabelSet, _, f64>(v, None),
                    _ => m.encode_gauge(v),
                };
            }
        }
        for (l, v) in &self.rows {
            let mut f = m.encode_family(l)?;
            match self.kind {
                MetricType::Counter => f.encode_counter::<NoLabelSet, _, f64>(v, None)?,
                _ => f.encode_gauge(v)?,
            }
        }
        Ok(())
    }
}

/// The collector behind `/metrics`.
#[derive(Debug)]
pub struct Collector {
    shared: Arc<Shared>,
}

impl prometheus_client::collector::Collector for Collector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for f in families(&self.shared) {
            f.encode(&mut enc)?;
        }
        Ok(())
    }
}

fn families(shared: &Shared) -> Vec<Fam> {
    use MetricType::{Counter, Gauge};
    let mut up = Fam::new(
        "goroscope_target_up",
        "1 if the last poll of the target succeeded, else 0.",
        Gauge,
    );
    let mut total = Fam::new(
        "goroscope_target_goroutines",
        "Goroutines of the target at the last successful poll.",
        Gauge,
    );
    let mut by_state = Fam::new(
        "goroscope_goroutines",
        "Goroutines of the target by state (wait reason or status) at the last successful poll.",
        Gauge,
    );
    let mut group = Fam::new("goroscope_group_goroutines", "Goroutines of the target's top groups (leaking first, then largest); group=\"other\" sums the rest.", Gauge);
    let mut growth = Fam::new("goroscope_group_growth_per_minute", "Growth of the top groups in goroutines per minute (Theil-Sen slope over the detection window).", Gauge);
    let mut leaking = Fam::new(
        "goroscope_group_leaking",
        "1 if the group grows steadily (a leak by the history), else 0; top groups only.",
        Gauge,
    );
    let mut verdicts = Fam::new("goroscope_groups", "Groups of the target by verdict (leak, suspect, need-more-samples, benign), history taken into account.", Gauge);
    let mut leaking_n = Fam::new(
        "goroscope_leaking_groups",
        "Groups of the target that grow steadily.",
        Gauge,
    );
    let mut b_value = Fam::new(
        "goroscope_budget_goroutines",
        "Goroutines counted by a budget (per budget and key).",
        Gauge,
    );
    let mut b_limit = Fam::new(
        "goroscope_budget_limit_goroutines",
        "A budget's level (severity warning or critical).",
        Gauge,
    );
    let mut b_usage = Fam::new(
        "goroscope_budget_usage_ratio",
        "Goroutines counted by a budget over its highest level.",
        Gauge,
    );
    let mut b_breach = Fam::new("goroscope_budget_breached", "1 while the budget fires at that severity (after its for-duration, with hysteresis), else 0.", Gauge);
    let mut dur = Fam::new(
        "goroscope_scrape_duration_seconds",
        "Duration of the last poll of the target (fetch, read and analysis).",
        Gauge,
    );
    let mut bytes = Fam::new(
        "goroscope_scrape_bytes",
        "Size of the last answer of the target (its cost to serve).",
        Gauge,
    );
    let mut scrapes = Fam::new(
        "goroscope_scrapes",
        "Polls of the target by form (proto, debug1, debug2, goroutineleak, attach, file).",
        Counter,
    );
    let mut errors = Fam::new(
        "goroscope_scrape_errors",
        "Failed polls of the target by reason.",
        Counter,
    );
    let mut fails = Fam::new(
        "goroscope_target_consecutive_failures",
        "Failed polls of the target since its last success.",
        Gauge,
    );
    let mut last_ok = Fam::new(
        "goroscope_target_last_success_timestamp_seconds",
        "Time of the target's last successful poll.",
        Gauge,
    );
    let mut restarts = Fam::new(
        "goroscope_target_restarts",
        "Restarts of the target seen by the watcher.",
        Counter,
    );
    let mut deploys = Fam::new(
        "goroscope_target_deploys",
        "Deploys (new code) of the target seen by the watcher.",
        Counter,
    );

    let mut t_up = Fam::new(
        "goroscope_trace_up",
        "1 while the eBPF tracer is attached to the traced pid target, else 0.",
        Gauge,
    );
    let mut t_born = Fam::new(
        "goroscope_trace_births",
        "Goroutines born in the traced target since the watcher began tracing it.",
        Counter,
    );
    let mut t_ended = Fam::new(
        "goroscope_trace_deaths",
        "Goroutines of the traced target that ended since the watcher began tracing it.",
        Counter,
    );
    let mut t_lost = Fam::new(
        "goroscope_trace_lost_events",
        "Tracer events lost (ring buffer full, unreadable goroutine): the per-site counts are partial when this grows.",
        Counter,
    );
    let mut s_live = Fam::new("goroscope_site_goroutines", "Live goroutines per creation site (go statement) of a traced target: the top sites (leaking first, then largest); site=\"other\" sums the rest.", Gauge);
    let mut s_births = Fam::new(
        "goroscope_site_births_per_second",
        "Goroutines born per second at a creation site over the last poll interval (traced targets, top sites and other).",
        Gauge,
    );
    let mut s_deaths = Fam::new(
        "goroscope_site_deaths_per_second",
        "Goroutines from a creation site ending per second over the last poll interval (traced targets, top sites and other).",
        Gauge,
    );
    let mut s_growth = Fam::new("goroscope_site_growth_per_minute", "Growth of a creation site's live goroutines per minute (Theil-Sen slope over the detection window; traced targets, top sites).", Gauge);
    let mut s_leaking = Fam::new("goroscope_site_leaking", "1 if the creation site's live goroutines grow steadily while births and deaths run (a leak), else 0; traced targets, top sites.", Gauge);

    let views: Vec<_> = shared.views();
    let top_n = shared.cfg.watch.top_groups;
    let top_sites = shared.cfg.watch.top_sites;
    for v in &views {
        let v = v.lock().unwrap_or_else(|p| p.into_inner());
        let mut base: Labels = vec![("target".into(), V(v.target.key.clone()))];
        for (k, val) in &v.target.labels {
            base.push((k.clone(), V(val.clone())));
        }
        up.push(base.clone(), f64::from(u8::from(v.health.up)));
        fails.push(base.clone(), f64::from(v.health.failures));
        if let Some(t) = v.last_success {
            last_ok.push(base.clone(), crate::util::secs(t));
        }
        dur.push(base.clone(), v.stats.last_duration);
        bytes.push(base.clone(), v.stats.last_bytes as f64);
        for (form, n) in &v.stats.polls {
            scrapes.push(labels(&base, &[("form", form)]), *n as f64);
        }
        for (reason, n) in &v.stats.errors {
            errors.push(labels(&base, &[("reason", reason)]), *n as f64);
        }
        restarts.push(base.clone(), v.stats.restarts as f64);
        deploys.push(base.clone(), v.stats.deploys as f64);
        if let Some(tv) = &v.trace {
            t_up.push(base.clone(), f64::from(u8::from(tv.state == "up")));
            t_born.push(base.clone(), tv.born as f64);
            t_ended.push(base.clone(), tv.ended as f64);
            t_lost.push(base.clone(), tv.lost as f64);
            // Top sites: leaking first, then by live goroutines (tv.sites is sorted that way).
            let mut other = (0u64, 0f64, 0f64);
            for (i, st) in tv.sites.iter().enumerate() {
                if i >= top_sites {
                    other.0 += st.live;
                    other.1 += st.births_per_second;
                    other.2 += st.deaths_per_second;
                    continue;
                }
                let l = labels(&base, &[("site", &st.site)]);
                s_live.push(l.clone(), st.live as f64);
                s_births.push(l.clone(), st.births_per_second);
                s_deaths.push(l.clone(), st.deaths_per_second);
                s_growth.push(l.clone(), st.slope);
                s_leaking.push(
                    l,
                    f64::from(u8::from(matches!(
                        st.growth,
                        crate::detect::Growth::Leaking { .. }
                    ))),
                );
            }
            let l = labels(&base, &[("site", "other")]);
            s_live.push(l.clone(), other.0 as f64);
            s_births.push(l.clone(), other.1);
            s_deaths.push(l, other.2);
        }
        let Some(obs) = &v.last else { continue };
        total.push(base.clone(), obs.total as f64);
        for (state, n) in &obs.states {
            by_state.push(labels(&base, &[("state", state)]), *n as f64);
        }
        let mut vc = [0u64; 4];
        let mut nleak = 0;
        for g in &v.groups {
            vc[usize::from(g.verdict.rank())] += 1;
            nleak += u64::from(g.growth.as_str() == "leaking");
        }
        for (i, name) in ["benign", "need-more-samples", "suspect", "leak"]
            .iter()
            .enumerate()
        {
            verdicts.push(labels(&base, &[("verdict", name)]), vc[i] as f64);
        }
        leaking_n.push(base.clone(), nleak as f64);
        // Top groups: leaking first, then by count (v.groups is sorted that way).
        let mut other = 0u64;
        for (i, g) in v.groups.iter().enumerate() {
            if g.count == 0 {
                continue;
            }
            if i >= top_n {
                other += g.count;
                continue;
            }
            let l = labels(
                &base,
                &[
                    ("group", &g.obs.id),
                    ("site", g.obs.site()),
                    ("state", &g.obs.state),
                ],
            );
            group.push(l, g.count as f64);
            let l = labels(&base, &[("group", &g.obs.id), ("site", g.obs.site())]);
            growth.push(l.clone(), g.slope);
            leaking.push(l, f64::from(u8::from(g.growth.as_str() == "leaking")));
        }
        group.push(
            labels(&base, &[("group", "other"), ("site", ""), ("state", "")]),
            other as f64,
        );
        for b in &v.budgets {
            let l = labels(&base, &[("budget", &b.budget), ("key", &b.key)]);
            b_value.push(l.clone(), b.value as f64);
            b_usage.push(l.clone(), b.usage());
            for (sev, lim) in [("warning", b.warn), ("critical", b.critical)] {
                if let Some(lim) = lim {
                    let ls = labels(&l, &[("severity", sev)]);
                    b_limit.push(ls.clone(), lim as f64);
                    let on = b.firing.is_some_and(|f| f.as_str() == sev);
                    b_breach.push(ls, f64::from(u8::from(on)));
                }
            }
        }
    }

    let mut w_targets = Fam::new(
        "goroscope_watch_targets",
        "Targets this watcher polls (after --shard).",
        Gauge,
    );
    w_targets.push(vec![], views.len() as f64);
    let sh = shared.cfg.watch.shard;
    let mut info = Fam::new(
        "goroscope_watch_info",
        "Always 1; the watcher's version and shard.",
        Gauge,
    );
    info.push(
        vec![
            ("version".into(), V(env!("CARGO_PKG_VERSION").into())),
            ("shard".into(), V(format!("{}/{}", sh.index, sh.count))),
        ],
        1.0,
    );
    let mut s_up = Fam::new(
        "goroscope_watch_store_up",
        "1 if the last write to the history database succeeded.",
        Gauge,
    );
    let mut s_err = Fam::new(
        "goroscope_watch_store_errors",
        "Failed writes to the history database.",
        Counter,
    );
    let mut s_bytes = Fam::new(
        "goroscope_watch_store_bytes",
        "Size of the history database file.",
        Gauge,
    );
    let mut s_drop = Fam::new(
        "goroscope_watch_store_dropped_polls",
        "Polls not recorded in the history (write failures, full queue).",
        Counter,
    );
    if let Some(store) = &shared.store {
        let h = store
            .health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        s_up.push(vec![], f64::from(u8::from(h.ok)));
        s_err.push(vec![], h.errors as f64);
        s_bytes.push(vec![], h.bytes as f64);
        s_drop.push(vec![], h.polls_dropped as f64);
    }
    let a = shared
        .alerts
        .stats
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let mut a_total = Fam::new(
        "goroscope_watch_alerts",
        "Alerts and events emitted, by kind and status.",
        Counter,
    );
    for ((k, s), n) in &a.sent {
        a_total.push(
            vec![
                ("kind".into(), V(k.clone())),
                ("status".into(), V(s.clone())),
            ],
            *n as f64,
        );
    }
    let mut a_firing = Fam::new("goroscope_watch_alerts_firing", "Alerts firing now.", Gauge);
    a_firing.push(vec![], a.active.len() as f64);
    let mut a_err = Fam::new(
        "goroscope_watch_alert_delivery_errors",
        "Alert deliveries that failed after retries.",
        Counter,
    );
    a_err.push(vec![], a.delivery_errors as f64);

    let me = crate::util::self_stats();
    let mut cpu = Fam::new(
        "process_cpu_seconds",
        "Total user and system CPU time of the watcher in seconds.",
        Counter,
    );
    cpu.push(vec![], me.cpu_seconds);
    let mut rss = Fam::new(
        "process_resident_memory_bytes",
        "Resident memory of the watcher in bytes.",
        Gauge,
    );
    rss.push(vec![], me.rss_bytes as f64);
    let mut fds = Fam::new(
        "process_open_fds",
        "Open file descriptors of the watcher.",
        Gauge,
    );
    fds.push(vec![], me.open_fds as f64);
    let mut thr = Fam::new("process_threads", "Threads of the watcher.", Gauge);
    thr.push(vec![], me.threads as f64);
    let mut start = Fam::new(
        "process_start_time_seconds",
        "Start time of the watcher since the Unix epoch in seconds.",
        Gauge,
    );
    start.push(vec![], me.start_time);

    vec![
        up, total, by_state, group, growth, leaking, verdicts, leaking_n, b_value, b_limit,
        b_usage, b_breach, t_up, t_born, t_ended, t_lost, s_live, s_births, s_deaths, s_growth,
        s_leaking, dur, bytes, scrapes, errors, fails, last_ok, restarts, deploys, w_targets, info,
        s_up, s_err, s_bytes, s_drop, a_total, a_firing, a_err, cpu, rss, fds, thr, start,
    ]
    .into_iter()
    .filter(|f| !f.rows.is_empty())
    .collect()
}

/// A registry holding the collector.
pub fn registry(shared: Arc<Shared>) -> Registry {
    let mut r = Registry::default();
    r.register_collector(Box::new(Collector { shared }));
    r
}

/// The exposition: OpenMetrics text when `openmetrics`, else the classic text format.
pub fn render(reg: &Registry, openmetrics: bool) -> String {
    let mut s = String::with_capacity(64 << 10);
    if prometheus_client::encoding::text::encode(&mut s, reg).is_err() {
        s.clear();
    }
    if openmetrics {
        s
    } else {
        to_classic(&s)
    }
}

/// OpenMetrics text → Prometheus text 0.0.4: counter families take their samples' `_total`
/// name, `# UNIT` and `# EOF` go.
pub fn to_classic(om: &str) -> String {
    let mut counters = std::collections::HashSet::new();
    for l in om.lines() {
        if let Some(rest) = l.strip_prefix("# TYPE ") {
            if let Some(name) = rest.strip_suffix(" counter") {
                counters.insert(name.to_string());
            }
        }
    }
    let mut out = String::with_capacity(om.len());
    for l in om.lines() {
        if l == "# EOF" || l.starts_with("# UNIT ") {
            continue;
        }
        let fixed = ["# HELP ", "# TYPE "].iter().find_map(|p| {
            let rest = l.strip_prefix(p)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{p}{name}_total {tail}"))
        });
        match fixed {
            Some(f) => out.push_str(&f),
            None => out.push_str(l),
        }
        out.push('\n');
    }
    out
}

/// The Content-Type of [`render`]'s answer.
pub fn content_type(openmetrics: bool) -> &'static str {
    if openmetrics {
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    } else {
        "text/plain; version=0.0.4; charset=utf-8"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_conversion() {
        let om = "# HELP a_b Polls.\n# TYPE a_b counter\na_b_total{x=\"1\"} 3\n# HELP c Up.\n# TYPE c gauge\nc 1\n# EOF\n";
        assert_eq!(
            to_classic(om),
            "# HELP a_b_total Polls.\n# TYPE a_b_total counter\na_b_total{x=\"1\"} 3\n# HELP c Up.\n# TYPE c gauge\nc 1\n"
        );
    }
}
