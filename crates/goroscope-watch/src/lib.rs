//! `goroscope watch`: keep many Go services under continuous goroutine watch.
//!
//! targets (command line, config, Prometheus file-SD / HTTP-SD, a Prometheus server's targets,
//! `pid:`) → one task per target (timeout, body cap, backoff with jitter; protobuf `debug=0` by
//! default, `debug=2` and the goroutineleak proof only on demand and rate-limited) → the same
//! analysis as `goroscope analyze` in the `live` context → detection over time (per-group trend,
//! restarts, deploys) and budgets → alerts (JSON lines, webhook, Alertmanager), history
//! (SQLite), `/metrics` and a dashboard. `pid:` targets can also be traced with eBPF
//! ([`traced`]: births and deaths per creation site, with the `ebpf` feature).
//!
//! ```no_run
//! let cfg = goroscope_watch::config::WatchConfig::default();
//! let t = goroscope_watch::target::Target::from_arg("http://127.0.0.1:6060", &cfg).unwrap();
//! let w = goroscope_watch::Watcher::start(cfg, vec![t]).unwrap();
//! println!("dashboard: {}", w.url());
//! w.wait_for_signal();
//! ```

pub mod alert;
pub mod budget;
pub mod config;
pub mod detect;
pub mod discovery;
pub mod engine;
pub mod history;
pub mod metrics;
pub mod poll;
pub mod store;
pub mod target;
pub mod traced;
pub mod util;
pub mod web;

use config::WatchConfig;
use engine::{Env, Shared};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use target::Target;

pub use history::{load_snapshot, parse_db_input};

/// Why the watcher could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

/// A running watcher; dropping it stops everything it started.
pub struct Watcher {
    rt: Option<tokio::runtime::Runtime>,
    addr: SocketAddr,
    pub shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    statics: tokio::sync::watch::Sender<Vec<Target>>,
}

impl Watcher {
    /// Checks the config, opens the history, binds the listen address and starts polling.
    pub fn start(cfg: WatchConfig, statics: Vec<Target>) -> Result<Watcher, WatchError> {
        let name = cfg
            .path
            .as_ref()
            .map_or("<config>".to_string(), |p| p.display().to_string());
        cfg.validate(&name)?;
        if statics.is_empty()
            && cfg.targets.is_empty()
            && cfg.file_sd.is_empty()
            && cfg.http_sd.is_empty()
            && cfg.from_prometheus.is_none()
        {
            return Err(WatchError::Other(
                "no targets: name pprof URLs, pid:N or files, or give --config/--file-sd/--http-sd/--from-prometheus".into(),
            ));
        }
        let mut statics = statics;
        for t in &cfg.targets {
            statics.push(Target::from_section(t, &cfg)?);
        }
        check_tracing(&statics)?;
        util::raise_fd_limit();
        util::limit_malloc_arenas();
        let addr = cfg.listen_addr()?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(cfg.watch.concurrency + 8)
            .thread_name("goroscope-watch")
            .enable_all()
            .build()
            .map_err(|e| WatchError::Other(format!("starting the runtime: {e}")))?;
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(addr))
            .map_err(|source| WatchError::Listen { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| WatchError::Listen { addr, source })?;
        let url = format!("http://{addr}/");
        let alerts = alert::Alerts::start(&cfg, url.clone())?;
        let mut analyze = goroscope_analyze::Options {
            source: goroscope_analyze::SourceOptions {
                enabled: !cfg.analysis.source.is_empty(),
                roots: cfg.analysis.source.iter().map(|p| cfg.resolve(p)).collect(),
            },
            max_goids: 20,
            ..Default::default()
        };
        if let Some(p) = &cfg.analysis.config {
            analyze.config = goroscope_analyze::Config::load(&cfg.resolve(p))
                .map_err(|e| config::ConfigError::new(e.path.clone(), e.to_string()))?;
        }
        // The store reports write failures as alerts.
        let store_alerts = alerts.clone();
        let db = cfg.db_path();
        let store = store::Store::start(
            &db,
            store::Retention {
                raw: cfg.retention.raw.0,
                step: cfg.retention.step.0,
                max_age: cfg.retention.max_age.0,
                max_size: cfg.retention.max_size.0,
            },
            Box::new(move |err| {
                let a = match &err {
                    Some(m) => alert::Alert::new("store_error", "firing", "critical", m.clone()),
                    None => alert::Alert::new(
                        "store_error",
                        "resolved",
                        "critical",
                        "the history database is written again".into(),
                    ),
                };
                store_alerts.send(a.fingerprinted());
            }),
        )?;
        let reader = store::Reader::open(&db)
            .ok()
            .map(|r| Arc::new(Mutex::new(r)));
        let label_keys: Vec<String> = cfg
            .budgets
            .iter()
            .filter(|b| b.kind == config::BudgetKind::Label)
            .map(|b| b.matches.clone())
            .collect();
        let shared = Arc::new(Shared {
            cfg: cfg.clone(),
            targets: Default::default(),
            store: Some(store),
            alerts,
            discovery_errors: Default::default(),
            started: SystemTime::now(),
            url: Mutex::new(url),
        });
        let env = Env {
            shared: shared.clone(),
            sem: Arc::new(tokio::sync::Semaphore::new(cfg.watch.concurrency)),
            agent: poll::agent(statics.len().max(64)),
            settings: Arc::new(poll::PollSettings {
                max_body: cfg.watch.max_body.0,
                keep_bytes: 4 << 20,
                analyze,
                label_keys,
            }),
        };
        let app = web::App {
            shared: shared.clone(),
            registry: Arc::new(metrics::registry(shared.clone())),
            reader,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        rt.spawn(async move {
            let server = axum::serve(listener, web::router(app)).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = server.await {
                tracing::error!("dashboard server: {e}");
            }
        });
        // The targets named up front are watched (and visible in the API) once start returns.
        let mut running = std::collections::HashMap::new();
        {
            let _in_runtime = rt.enter();
            engine::reconcile(&env, &mut running, statics.clone());
        }
        let (statics_tx, statics_rx) = tokio::sync::watch::channel(statics);
        rt.spawn(engine::discovery_task(env, statics_rx, running));
        tracing::info!(
            "goroscope watch: dashboard and /metrics on http://{addr}/, history in {}",
            db.display()
        );
        Ok(Watcher {
            rt: Some(rt),
            addr,
            shared,
            stop: Some(stop),
            statics: statics_tx,
        })
    }

    /// Replaces the targets named up front (the command line's and the config's; discovered
    /// targets stay): new ones are watched, those no longer named are dropped (their polls
    /// stop, a tracer detaches), changed ones start over. Refused, like at start, when a
    /// target wants tracing that this build or machine cannot do.
    pub fn set_targets(&self, targets: Vec<Target>) -> Result<(), WatchError> {
        check_tracing(&targets)?;
        self.statics
            .send(targets)
            .map_err(|_| WatchError::Other("the watcher has stopped".into()))
    }

    /// The address the dashboard and `/metrics` are served on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Blocks until SIGINT or SIGTERM, then stops (committing the history).
    pub fn wait_for_signal(mut self) {
        if let Some(rt) = &self.rt {
            rt.block_on(async {
                #[cfg(unix)]
                {
                    use tokio::signal::unix::{signal, SignalKind};
                    let mut term = match signal(SignalKind::terminate()) {
                        Ok(s) => s,
                        Err(_) => {
                            let _ = tokio::signal::ctrl_c().await;
                            return;
                        }
                    };
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {},
                        _ = term.recv() => {},
                    }
                }
                #[cfg(not(unix))]
                let _ = tokio::signal::ctrl_c().await;
            });
        }
        self.shutdown();
    }

    /// Stops polling and serving, and commits what is queued for the history.
    pub fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(std::time::Duration::from_secs(2));
        }
        if let Some(s) = &self.shared.store {
            s.flush();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Traced targets need the `ebpf` feature and the privileges: refused up front, naming what is
/// missing, rather than failing at each poll.
fn check_tracing(targets: &[Target]) -> Result<(), WatchError> {
    let traced: Vec<&str> = targets
        .iter()
        .filter(|t| t.trace)
        .map(|t| t.key.as_str())
        .collect();
    if traced.is_empty() {
        return Ok(());
    }
    match traced::cannot_trace() {
        None => Ok(()),
        Some(why) => Err(WatchError::Other(format!(
            "cannot trace {} with eBPF (--trace): {why}",
            traced.join(", ")
        ))),
    }
}

impl WatchConfig {
    /// The history file, relative to the config file.
    pub fn db_path(&self) -> std::path::PathBuf {
        self.resolve(&self.watch.db)
    }
}
