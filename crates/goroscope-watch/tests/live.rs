//! A real watcher (in-process, on a real socket) watching real Go services: a leak is seen
//! growing with its creation site, budgets (configured and the guard's own) fire, /metrics
//! passes promtool, the history answers and survives as `db:` snapshots, a restart neither
//! hides the leak nor looks like recovery, and a stopped leak recovers.

mod common;

use common::*;
use goroscope_watch::config::{BudgetKind, BudgetSection, Dur, WatchConfig};
use goroscope_watch::target::Target;
use goroscope_watch::Watcher;
use std::time::{Duration, SystemTime};

const T: Duration = Duration::from_secs(120);

fn config(dir: &std::path::Path) -> WatchConfig {
    let mut cfg = WatchConfig::default();
    cfg.watch.every = Dur(Duration::from_secs(1));
    cfg.watch.listen = "127.0.0.1:0".into();
    cfg.watch.db = dir.join("history.db");
    cfg.watch.stdout_alerts = false;
    cfg.detect.window = Dur(Duration::from_secs(20));
    cfg.detect.warmup = Dur(Duration::from_secs(0));
    cfg.detect.min_growth = 3;
    cfg.detect.debug2_every = Dur(Duration::from_secs(2));
    cfg.budgets.push(BudgetSection {
        name: "total".into(),
        kind: BudgetKind::Total,
        matches: "*".into(),
        targets: "*".into(),
        labels: [("service".to_string(), "leaky".to_string())].into(),
        warn: Some(50),
        critical: Some(80),
        for_: None,
        hysteresis: 0.1,
    });
    cfg
}

fn group_of(w: &Watcher, key: &str, site: &str) -> Option<serde_json::Value> {
    let t = get_json(&format!("{}api/v1/target?key={}", w.url(), enc(key)));
    t["groups"]
        .as_array()?
        .iter()
        .find(|g| g["site"] == site)
        .cloned()
}

#[test]
fn a_leak_grows_alerts_survives_a_restart_and_recovers() {
    let dir = tempdir();
    let mut leaky = Service::start(&[
        ("LEAK_EVERY", "200ms"),
        ("GUARD_N", "12"),
        ("GUARD_LIMIT", "10"),
    ]);
    let healthy = Service::start(&[]);
    let cfg = config(dir.path());
    let mut t1 = Target::from_arg(&leaky.url(), &cfg).unwrap();
    t1.labels.insert("service".into(), "leaky".into());
    let mut t2 = Target::from_arg(&healthy.url(), &cfg).unwrap();
    t2.labels.insert("service".into(), "healthy".into());
    let (k1, k2) = (t1.key.clone(), t2.key.clone());
    let w = Watcher::start(cfg.clone(), vec![t1, t2]).expect("watcher starts");

    // The leak is seen growing, at the right blocking site.
    let g = wait_for("the leak to be called leaking", T, || {
        group_of(&w, &k1, &leaky.leak_function).filter(|g| g["growth"] == "leaking")
    });
    assert_eq!(g["verdict"], "leak", "{g}");
    assert!(g["slope_per_minute"].as_f64().unwrap() > 30.0, "{g}");
    let gid = g["id"].as_str().unwrap().to_string();
    // The healthy service has nothing leaking.
    let h = get_json(&format!("{}api/v1/target?key={}", w.url(), enc(&k2)));
    assert!(
        h["groups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["growth"] != "leaking"),
        "{h}"
    );

    // debug=2 was asked for on growth: the group page names the creation site and line.
    let detail = wait_for("the creation site from a debug=2 poll", T, || {
        let d = get_json(&format!(
            "{}api/v1/group?key={}&group={gid}",
            w.url(),
            enc(&k1)
        ));
        (!d["group"]["created_by"].is_null()).then_some(d)
    });
    assert_eq!(
        detail["group"]["created_by"]["function"],
        leaky.created_by.as_str(),
        "{detail}"
    );
    assert_eq!(
        detail["group"]["created_by"]["line"], leaky.leak_line,
        "{detail}"
    );
    assert_eq!(
        detail["group"]["blocking"]["line"], leaky.leak_line,
        "{detail}"
    );
    assert!(
        !detail["detail"].is_null(),
        "a debug=2 dump is kept for download"
    );

    // Alerts: the leak, the configured total budget, the guard's own budget.
    let firing = wait_for("leak and budget alerts", T, || {
        let a = get_json(&format!("{}api/v1/alerts", w.url()));
        let f = a["firing"].as_array().unwrap().clone();
        let has = |kind: &str, key: Option<&str>| {
            f.iter()
                .any(|x| x["kind"] == kind && key.is_none_or(|k| x["key"] == k))
        };
        (has("leak", None)
            && has("budget", Some("total"))
            && has("budget", Some("guard.site=fetcher")))
        .then_some(f)
    });
    let guard = firing
        .iter()
        .find(|x| x["key"] == "guard.site=fetcher")
        .unwrap();
    assert_eq!(
        guard["severity"], "critical",
        "12 goroutines over the guard's limit of 10: {guard}"
    );
    assert_eq!(guard["target"], k1.as_str());
    let leak = firing.iter().find(|x| x["kind"] == "leak").unwrap();
    assert_eq!(leak["site"], leaky.leak_function.as_str());
    assert_eq!(leak["labels"]["service"], "leaky");

    // /metrics: the names the README documents, and promtool agrees with the format.
    let (st, metrics) = get(&format!("{}metrics", w.url())).unwrap();
    assert_eq!(st, 200);
    for want in [
        format!("goroscope_group_leaking{{target=\"{k1}\",service=\"leaky\",group=\"{gid}\""),
        "goroscope_budget_breached{".to_string(),
        "goroscope_target_up{".to_string(),
        "goroscope_scrapes_total{".to_string(),
        "process_resident_memory_bytes ".to_string(),
    ] {
        assert!(metrics.contains(&want), "{want} missing from:\n{metrics}");
    }
    let line = metrics
        .lines()
        .find(|l| l.starts_with("goroscope_group_leaking{") && l.contains(&gid) && l.contains(&k1))
        .unwrap();
    assert!(line.ends_with(" 1.0") || line.ends_with(" 1"), "{line}");
    match which("promtool") {
        Some(p) => {
            let mut c = std::process::Command::new(p)
                .args(["check", "metrics"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            c.stdin.take().unwrap().write_all(metrics.as_bytes()).unwrap();
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "promtool check metrics:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        }
        None => eprintln!("SKIP: promtool is not installed (apt-get install prometheus); the exposition was not checked with it"),
    }

    // The history: targets, groups with sites, a series; and a snapshot as a `db:` input.
    let store = w.shared.store.as_ref().unwrap();
    store.flush();
    let db = cfg.db_path();
    let h = goroscope_watch::history::query(&db, None, None, Duration::from_secs(3600)).unwrap();
    let goroscope_watch::history::History::Targets { targets } = h else {
        panic!()
    };
    assert_eq!(targets.len(), 2);
    let h = goroscope_watch::history::query(
        &db,
        Some("service-is-not-a-key"),
        None,
        Duration::from_secs(3600),
    );
    assert!(h.is_err());
    let h =
        goroscope_watch::history::query(&db, Some(&k1), None, Duration::from_secs(3600)).unwrap();
    let goroscope_watch::history::History::Groups { groups, .. } = h else {
        panic!()
    };
    let row = groups
        .iter()
        .find(|g| g.group == gid)
        .expect("the leak's group is in the history");
    assert_eq!(row.site, leaky.leak_function);
    assert!(row.max >= 5, "{row:?}");
    let snap = goroscope_watch::load_snapshot(&db, "leaky", SystemTime::now()).unwrap();
    let reports = goroscope_analyze::analyze(&[snap], &Default::default());
    let rg = reports[0]
        .groups
        .iter()
        .find(|g| g.id == gid)
        .expect("same group id from the history");
    assert!(rg.count >= 5);

    // Restart on the same address: the total drops; not recovery, and the leak is not hidden.
    let addr = leaky.addr.clone();
    leaky.kill();
    let leaky2 = Service::start(&[
        ("WATCH_ADDR", addr.as_str()),
        ("LEAK_EVERY", "200ms"),
        ("GUARD_N", "12"),
        ("GUARD_LIMIT", "10"),
    ]);
    wait_for("the restart to be seen", T, || {
        let o = get_json(&format!("{}api/v1/overview", w.url()));
        o["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["key"] == k1.as_str() && t["restarts"].as_u64() >= Some(1))
            .cloned()
    });
    let a = get_json(&format!("{}api/v1/alerts", w.url()));
    assert!(
        !a["recent"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["kind"] == "leak" && x["status"] == "resolved"),
        "a restart is not a recovery: {a}"
    );
    assert!(a["firing"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["kind"] == "leak" && x["target"] == k1.as_str()));

    // The leak is fixed (stopped): it recovers and the alert resolves.
    get(&format!("http://{}/stop", leaky2.addr)).unwrap();
    wait_for(
        "the leak alert to resolve",
        Duration::from_secs(180),
        || {
            let a = get_json(&format!("{}api/v1/alerts", w.url()));
            a["recent"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["kind"] == "leak" && x["status"] == "resolved")
                .cloned()
        },
    );
    let g = group_of(&w, &k1, &leaky.leak_function).unwrap();
    assert_eq!(g["growth"], "recovered", "{g}");
    drop(w);
}
