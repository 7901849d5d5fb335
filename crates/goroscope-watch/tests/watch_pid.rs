//! A `pid:` target without `--trace`: a Go service with no pprof endpoint, read from its memory
//! (attach, non-blocking) at every poll. The watcher polls it in the `attach` form, sees a leak
//! of one goroutine per request grow with its creation site, keeps the healthy churn steady,
//! and never harms the service (every request answered).

mod common;

use common::*;
use goroscope_watch::config::{Dur, WatchConfig};
use goroscope_watch::target::Target;
use goroscope_watch::Watcher;
use std::time::Duration;

#[test]
fn a_pid_target_without_pprof_is_polled_by_attach_and_its_leak_found() {
    let dir = tempdir();
    let mut svc = TraceService::start();
    // 20 requests a second to /leak: 4 goroutines that end and 1 that never does per request.
    let load = svc.load("/leak", 2, 20.0);
    let mut cfg = WatchConfig::default();
    cfg.watch.every = Dur(Duration::from_secs(1));
    cfg.watch.listen = "127.0.0.1:0".into();
    cfg.watch.db = dir.path().join("h.db");
    cfg.watch.stdout_alerts = false;
    cfg.detect.window = Dur(Duration::from_secs(20));
    cfg.detect.warmup = Dur(Duration::from_secs(0));
    cfg.detect.min_growth = 3;
    let t = Target::from_arg(&format!("pid:{}", svc.pid()), &cfg).unwrap();
    assert!(!t.trace);
    let key = t.key.clone();
    assert_eq!(key, format!("pid:{}", svc.pid()));
    let w = Watcher::start(cfg, vec![t]).expect("watcher starts");

    let leak_line = TraceService::leak_line();
    let g = wait_for(
        "the leaked goroutines' group to be called leaking",
        Duration::from_secs(120),
        || {
            let t = get_json(&format!("{}api/v1/target?key={}", w.url(), enc(&key)));
            t["groups"]
                .as_array()?
                .iter()
                .find(|g| g["growth"] == "leaking")
                .cloned()
        },
    );
    // Attach reads every goroutine: the group names its creation site without any debug=2.
    assert_eq!(g["created_by"]["function"], "main.leakOne", "{g}");
    assert_eq!(g["created_by"]["line"], leak_line, "{g}");
    assert_eq!(g["state"], "chan receive", "{g}");
    assert!(g["slope_per_minute"].as_f64().unwrap() > 100.0, "{g}");

    let t = get_json(&format!("{}api/v1/target?key={}", w.url(), enc(&key)));
    assert_eq!(t["form"], "attach", "{t}");
    assert_eq!(t["health"]["up"], true, "{t}");
    assert!(t["trace"].is_null(), "not traced without --trace: {t}");
    assert!(t["go_version"].as_str().unwrap().starts_with("go1."), "{t}");
    // Only the leak grows: the handlers' short-lived goroutines do not.
    let leaking: Vec<_> = t["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["growth"] == "leaking")
        .collect();
    assert_eq!(leaking.len(), 1, "{t}");

    let (_, metrics) = get(&format!("{}metrics", w.url())).unwrap();
    let polls = metrics
        .lines()
        .find(|l| {
            l.starts_with("goroscope_scrapes_total{")
                && l.contains(&format!("target=\"{key}\""))
                && l.contains("form=\"attach\"")
        })
        .unwrap_or_else(|| panic!("no attach polls counted:\n{metrics}"));
    let n: f64 = polls.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n >= 5.0, "{polls}");
    assert!(
        !metrics.contains("goroscope_trace_up"),
        "no tracer series without --trace"
    );
    drop(w);
    let r = load.stop();
    assert_eq!(r.failures, 0, "{r:?}");
    assert!(r.requests > 100, "{r:?}");
    assert!(svc.alive(), "the service survived being watched");
}
