//! The read-only web side: the dashboard (assets compiled in, no CDN), its JSON API,
//! `/metrics`, the last dumps for download, and a flame graph of the last dump.

use crate::engine::{Dump, Shared};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

const INDEX: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");

/// What the handlers share.
#[derive(Clone)]
pub struct App {
    pub shared: Arc<Shared>,
    pub registry: Arc<prometheus_client::registry::Registry>,
    /// One read connection to the history (WAL: reads never block the writer).
    pub reader: Option<Arc<Mutex<crate::store::Reader>>>,
}

const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

fn with_headers(ct: &'static str, body: impl IntoResponse) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn json_ok(v: Value) -> Response {
    with_headers("application/json", v.to_string())
}

fn not_found(what: String) -> Response {
    let mut r = json_ok(json!({ "error": what }));
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

/// The router.
pub fn router(app: App) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { with_headers("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/app.js",
            get(|| async { with_headers("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/app.css",
            get(|| async { with_headers("text/css; charset=utf-8", APP_CSS) }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/api/v1/overview", get(overview))
        .route("/api/v1/target", get(target))
        .route("/api/v1/group", get(group))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/dump", get(dump))
        .route("/api/v1/flame.svg", get(flame))
        .with_state(app)
}

async fn metrics(State(app): State<App>, headers: HeaderMap) -> Response {
    let om = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    let reg = app.registry.clone();
    let body = tokio::task::spawn_blocking(move || crate::metrics::render(&reg, om))
        .await
        .unwrap_or_default();
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::metrics::content_type(om)),
    );
    r
}

fn health_json(h: &crate::engine::Health) -> Value {
    json!({
        "up": h.up, "state": h.state, "failures": h.failures,
        "last_error": h.last_error, "last_error_kind": h.last_error_kind, "next_poll": h.next_poll,
    })
}

fn group_brief(target: &str, g: &crate::engine::GroupView) -> Value {
    json!({
        "target": target,
        "id": g.obs.id,
        "count": g.count,
        "state": g.obs.state,
        "site": g.obs.site(),
        "blocking": g.obs.blocking,
        "created_by": g.obs.created_by,
        "verdict": g.verdict,
        "pattern": g.obs.pattern,
        "growth": g.growth.as_str(),
        "slope_per_minute": g.slope,
        "p_value": g.p_value,
        "points": g.points,
    })
}

async fn overview(State(app): State<App>) -> Response {
    let mut targets = Vec::new();
    let mut growing = Vec::new();
    for v in app.shared.views() {
        let v = v.lock().unwrap_or_else(|p| p.into_inner());
        let leaking = v
            .groups
            .iter()
            .filter(|g| g.growth.as_str() == "leaking")
            .count();
        let worst = v.groups.iter().map(|g| g.slope).fold(0.0f64, f64::max);
        targets.push(json!({
            "key": v.target.key,
            "name": v.target.display_name(),
            "labels": v.target.labels,
            "origin": v.target.origin,
            "health": health_json(&v.health),
            "total": v.last.as_ref().map(|o| o.total),
            "form": v.last.as_ref().map(|o| o.form.as_str()),
            "go_version": v.last.as_ref().and_then(|o| o.go_version.clone()),
            "groups": v.groups.len(),
            "leaking": leaking,
            "max_growth_per_minute": worst,
            "budgets_firing": v.budgets.iter().filter(|b| b.firing.is_some()).count(),
            "totals": v.totals,
            "restarts": v.stats.restarts,
            "traced": v.trace.as_ref().map(|t| t.state),
            "leaking_sites": v.trace.as_ref().map_or(0, |t| t
                .sites
                .iter()
                .filter(|s| s.growth.as_str() == "leaking")
                .count()),
        }));
        for g in v
            .groups
            .iter()
            .filter(|g| g.slope > 0.0 || g.growth.as_str() == "leaking")
        {
            growing.push(group_brief(&v.target.key, g));
        }
    }
    growing.sort_by(|a, b| {
        let s = |x: &Value| x["slope_per_minute"].as_f64().unwrap_or(0.0);
        let l = |x: &Value| u8::from(x["growth"] == "leaking");
        l(b).cmp(&l(a)).then(s(b).total_cmp(&s(a)))
    });
    growing.truncate(50);
    let store = app
        .shared
        .store
        .as_ref()
        .map(|s| s.health.lock().unwrap_or_else(|p| p.into_inner()).clone());
    let discovery = app
        .shared
        .discovery_errors
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let firing = app
        .shared
        .alerts
        .stats
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .active
        .len();
    json_ok(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "now": crate::util::secs(SystemTime::now()),
        "every_seconds": app.shared.cfg.watch.every.0.as_secs_f64(),
        "targets": targets,
        "growing": growing,
        "store": store,
        "discovery_errors": discovery,
        "alerts_firing": firing,
    }))
}

#[derive(Deserialize)]
struct TargetQ {
    key: String,
    /// History range in seconds (default 1 hour).
    range: Option<f64>,
}

fn history_totals(app: &App, key: &str, range: f64) -> Vec<(f64, u64)> {
    let Some(r) = &app.reader else { return vec![] };
    let r = r.lock().unwrap_or_else(|p| p.into_inner());
    let Ok(t) = r.find_target(key) else {
        return vec![];
    };
    let to = crate::store::ms(SystemTime::now());
    let from = to - (range * 1000.0) as i64;
    r.polls(t.id, from, to)
        .map(|ps| {
            ps.into_iter()
                .map(|(p, _)| (p.t as f64 / 1000.0, p.counts.iter().map(|c| c.1).sum()))
                .collect()
        })
        .unwrap_or_default()
}

async fn target(State(app): State<App>, Query(q): Query<TargetQ>) -> Response {
    let Some(view) = app.shared.view(&q.key) else {
        return not_found(format!("no target {}", q.key));
    };
    let range = q.range.unwrap_or(3600.0).clamp(60.0, 90.0 * 86400.0);
    let app2 = app.clone();
    let key = q.key.clone();
    let series = tokio::task::spawn_blocking(move || history_totals(&app2, &key, range))
        .await
        .unwrap_or_default();
    let v = view.lock().unwrap_or_else(|p| p.into_inner());
    let groups: Vec<Value> = v
        .groups
        .iter()
        .map(|g| group_brief(&v.target.key, g))
        .collect();
    let series = if series.is_empty() {
        v.totals.iter().copied().collect()
    } else {
        series
    };
    let alerts = app
        .shared
        .alerts
        .stats
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .recent
        .iter()
        .filter(|a| a.target.as_deref() == Some(&v.target.key))
        .rev()
        .take(50)
        .cloned()
        .collect::<Vec<_>>();
    json_ok(json!({
        "key": v.target.key,
        "name": v.target.display_name(),
        "labels": v.target.labels,
        "health": health_json(&v.health),
        "total": v.last.as_ref().map(|o| o.total),
        "states": v.last.as_ref().map(|o| o.states.clone()),
        "form": v.last.as_ref().map(|o| o.form.as_str()),
        "go_version": v.last.as_ref().and_then(|o| o.go_version.clone()),
        "warnings": v.last.as_ref().map(|o| o.warnings.clone()).unwrap_or_default(),
        "series": series,
        "groups": groups,
        "budgets": v.budgets,
        "alerts": alerts,
        "restarts": v.stats.restarts,
        "deploys": v.stats.deploys,
        "dump": v.dump.as_ref().map(|d| json!({"form": d.form.as_str(), "at": crate::util::secs(d.at), "bytes": d.bytes.len()})),
        "detail": v.detail.as_ref().map(|d| json!({"form": d.form.as_str(), "at": crate::util::secs(d.at), "bytes": d.bytes.len()})),
        "trace": v.trace.as_ref().map(trace_json),
    }))
}

/// A traced target's tracer and sites (growth as a word, like the groups').
fn trace_json(t: &crate::traced::TraceView) -> Value {
    let sites: Vec<Value> = t
        .sites
        .iter()
        .map(|s| {
            let mut v = serde_json::to_value(s).unwrap_or_default();
            v["growth"] = json!(s.growth.as_str());
            v["growth_detail"] = serde_json::to_value(s.growth).unwrap_or_default();
            v
        })
        .collect();
    json!({
        "state": t.state,
        "error": t.error,
        "since": t.since,
        "sessions": t.sessions,
        "go_version": t.go_version,
        "probes": t.probes,
        "born": t.born,
        "ended": t.ended,
        "lost": t.lost,
        "sites": sites,
    })
}

#[derive(Deserialize)]
struct GroupQ {
    key: String,
    group: String,
    range: Option<f64>,
}

fn history_group(app: &App, key: &str, gid: &str, range: f64) -> Vec<(f64, u64)> {
    let Some(r) = &app.reader else { return vec![] };
    let r = r.lock().unwrap_or_else(|p| p.into_inner());
    let (Ok(t), Ok(Some(g))) = (r.find_target(key), r.group_by_gid(gid)) else {
        return vec![];
    };
    let to = crate::store::ms(SystemTime::now());
    let from = to - (range * 1000.0) as i64;
    r.polls(t.id, from, to)
        .map(|ps| {
            ps.into_iter()
                .map(|(p, _)| {
                    let c = p.counts.iter().find(|c| c.0 == g).map_or(0, |c| c.1);
                    (p.t as f64 / 1000.0, c)
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn group(State(app): State<App>, Query(q): Query<GroupQ>) -> Response {
    let Some(view) = app.shared.view(&q.key) else {
        return not_found(format!("no target {}", q.key));
    };
    let range = q.range.unwrap_or(3600.0).clamp(60.0, 90.0 * 86400.0);
    let (app2, key, gid) = (app.clone(), q.key.clone(), q.group.clone());
    let series = tokio::task::spawn_blocking(move || history_group(&app2, &key, &gid, range))
        .await
        .unwrap_or_default();
    let v = view.lock().unwrap_or_else(|p| p.into_inner());
    let Some(g) = v.groups.iter().find(|g| g.obs.id == q.group) else {
        return not_found(format!("no group {} in {}", q.group, q.key));
    };
    let relations: Vec<_> = v
        .last
        .as_ref()
        .map(|o| {
            o.relations
                .iter()
                .filter(|r| r.groups.contains(&q.group))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let series = if series.is_empty() {
        g.points.clone()
    } else {
        series
    };
    json_ok(json!({
        "target": v.target.key,
        "target_name": v.target.display_name(),
        "group": g.obs,
        "count": g.count,
        "verdict": g.verdict,
        "growth": g.growth,
        "slope_per_minute": g.slope,
        "p_value": g.p_value,
        "evidence": g.evidence,
        "series": series,
        "relations": relations,
        "dump": v.dump.as_ref().map(|d| d.form.as_str()),
        "detail": v.detail.as_ref().map(|d| d.form.as_str()),
    }))
}

async fn alerts(State(app): State<App>) -> Response {
    let s = app
        .shared
        .alerts
        .stats
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    json_ok(json!({
        "firing": s.active.values().collect::<Vec<_>>(),
        "recent": s.recent.iter().rev().collect::<Vec<_>>(),
    }))
}

#[derive(Deserialize)]
struct DumpQ {
    key: String,
    /// `last` (default) or `detail` (the last debug=2).
    which: Option<String>,
}

fn pick(app: &App, key: &str, which: Option<&str>) -> Option<Dump> {
    let v = app.shared.view(key)?;
    let v = v.lock().unwrap_or_else(|p| p.into_inner());
    match which {
        Some("detail") => v.detail.clone(),
        _ => v.dump.clone(),
    }
}

async fn dump(State(app): State<App>, Query(q): Query<DumpQ>) -> Response {
    let Some(d) = pick(&app, &q.key, q.which.as_deref()) else {
        return not_found(format!("no dump kept for {}", q.key));
    };
    let (ext, ct) = match d.form {
        crate::poll::Form::Proto => ("pb.gz", "application/octet-stream"),
        _ => ("txt", "text/plain; charset=utf-8"),
    };
    let mut r = with_headers(ct, d.bytes.as_ref().clone());
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"goroutines-{}.{ext}\"",
        d.at.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs()
    )) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

#[derive(Deserialize)]
struct FlameQ {
    key: String,
    which: Option<String>,
}

async fn flame(State(app): State<App>, Query(q): Query<FlameQ>) -> Response {
    let Some(d) = pick(&app, &q.key, q.which.as_deref()) else {
        return not_found(format!("no dump kept for {}", q.key));
    };
    let key = q.key.clone();
    let svg = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
        let opts = goroscope_ingest::Options {
            threads: 1,
            ..Default::default()
        };
        let snaps =
            goroscope_ingest::read_reader(&key, std::io::Cursor::new(d.bytes.as_ref()), &opts)
                .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        let fo = goroscope_render::folded::FlameOptions {
            title: format!("Goroutines of {key}"),
            no_javascript: true,
            ..Default::default()
        };
        goroscope_render::folded::write_flamegraph(&mut out, snaps.iter(), &fo)
            .map_err(|e| e.to_string())?;
        Ok(out)
    })
    .await;
    match svg {
        Ok(Ok(b)) => with_headers("image/svg+xml", b),
        Ok(Err(e)) => not_found(e),
        Err(e) => not_found(e.to_string()),
    }
}
