//! The real Prometheus (Debian's `prometheus`, installed by scripts/test.sh): it scrapes two Go
//! services' /metrics and a real watcher that finds those services through Prometheus's own
//! `/api/v1/targets` (`--from-prometheus`); it loads the shipped alert rules; every PromQL
//! query of the shipped Grafana dashboard returns data. `promtool check rules` and
//! `promtool test rules` run on the shipped rules. Without prometheus/promtool: SKIP.

mod common;

use common::*;
use goroscope_watch::config::{BudgetKind, BudgetSection, Dur, FromPrometheusSection, WatchConfig};
use goroscope_watch::target::Target;
use goroscope_watch::Watcher;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn deploy() -> PathBuf {
    goroscope_fixtures::repo_root().join("deploy")
}

#[test]
fn promtool_checks_and_tests_the_shipped_rules() {
    let Some(promtool) = which("promtool") else {
        eprintln!("SKIP: promtool is not installed (apt-get install prometheus)");
        return;
    };
    let dir = deploy().join("prometheus");
    for args in [
        vec!["check", "rules", "goroscope-rules.yml"],
        vec!["test", "rules", "goroscope-rules.test.yml"],
    ] {
        let out = Command::new(&promtool)
            .args(&args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

struct Prom {
    child: Child,
    url: String,
}

impl Drop for Prom {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts Prometheus on a free port (trying again if another process takes the port first).
fn start_prometheus(bin: &std::path::Path, dir: &std::path::Path, config: &str) -> Prom {
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    for _ in 0..5 {
        let port = free_port();
        let mut child = Command::new(bin)
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start prometheus");
        let url = format!("http://127.0.0.1:{port}");
        let ready = (0..300).any(|_| {
            if child.try_wait().ok().flatten().is_some() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
            get(&format!("{url}/-/ready")).is_some_and(|(s, _)| s == 200)
        });
        if ready {
            return Prom { child, url };
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("prometheus did not start");
}

fn query(p: &Prom, q: &str) -> Vec<serde_json::Value> {
    let v = get_json(&format!("{}/api/v1/query?query={}", p.url, enc(q)));
    assert_eq!(v["status"], "success", "{q}: {v}");
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

#[test]
fn prometheus_scrapes_the_watcher_and_every_dashboard_query_has_data() {
    let Some(prometheus) = which("prometheus") else {
        eprintln!("SKIP: prometheus is not installed (apt-get install prometheus); the watcher was not scraped by a real Prometheus");
        return;
    };
    let dir = tempdir();
    let leaky = Service::start(&[("LEAK_EVERY", "200ms")]);
    let healthy = Service::start(&[]);
    // Prometheus finds the watcher through a file-SD file written once the watcher listens.
    let sd = dir.path().join("watcher.json");
    std::fs::write(&sd, "[]").unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {rules}\nscrape_configs:\n  - job_name: svc\n    static_configs:\n      - targets: ['{a}', '{b}']\n  - job_name: goroscope\n    file_sd_configs:\n      - files: ['{sd}']\n        refresh_interval: 1s\n",
        rules = deploy().join("prometheus/goroscope-rules.yml").display(),
        a = leaky.addr,
        b = healthy.addr,
        sd = sd.display()
    );
    let prom = start_prometheus(&prometheus, dir.path(), &config);

    let mut cfg = WatchConfig::default();
    cfg.watch.every = Dur(Duration::from_secs(1));
    cfg.watch.timeout = Dur(Duration::from_secs(2));
    cfg.watch.listen = "127.0.0.1:0".into();
    cfg.watch.db = dir.path().join("h.db");
    cfg.watch.stdout_alerts = false;
    cfg.detect.window = Dur(Duration::from_secs(20));
    cfg.detect.warmup = Dur(Duration::from_secs(0));
    cfg.from_prometheus = Some(FromPrometheusSection {
        url: prom.url.clone(),
        refresh: Some(Dur(Duration::from_secs(1))),
        jobs: vec!["svc".into()],
        relabel: None,
    });
    cfg.budgets.push(BudgetSection {
        name: "total".into(),
        kind: BudgetKind::Total,
        matches: "*".into(),
        targets: "*".into(),
        labels: Default::default(),
        warn: Some(30),
        critical: Some(60),
        for_: None,
        hysteresis: 0.1,
    });
    // One target that never answers, so poll errors have a series too.
    let dead = Target::from_arg("http://127.0.0.1:1/debug/pprof/goroutine", &cfg).unwrap();
    let w = Watcher::start(cfg, vec![dead]).unwrap();
    std::fs::write(&sd, format!("[{{\"targets\": [\"{}\"]}}]", w.addr())).unwrap();

    // The watcher took both services from Prometheus, with Prometheus's labels.
    let key = |s: &Service| format!("http://{}/debug/pprof/goroutine", s.addr);
    wait_for("targets from Prometheus", Duration::from_secs(90), || {
        let o = get_json(&format!("{}api/v1/overview", w.url()));
        let t = o["targets"].as_array().unwrap().clone();
        let found = |k: &str| {
            t.iter().any(|x| {
                x["key"] == k && x["origin"] == "prometheus" && x["labels"]["job"] == "svc"
            })
        };
        (found(&key(&leaky)) && found(&key(&healthy))).then_some(())
    });
    // Prometheus sees the leak through the watcher.
    wait_for(
        "goroscope_group_leaking == 1 in Prometheus",
        Duration::from_secs(120),
        || {
            let r = query(&prom, "goroscope_group_leaking == 1");
            r.iter()
                .find(|x| {
                    x["metric"]["target"] == key(&leaky).as_str()
                        && x["metric"]["site"] == leaky.leak_function.as_str()
                })
                .cloned()
        },
    );
    wait_for(
        "the GoroutineLeak rule pending",
        Duration::from_secs(60),
        || {
            let r = query(&prom, "ALERTS{alertname=\"GoroutineLeak\"}");
            (!r.is_empty()).then_some(())
        },
    );
    // Every query of the shipped dashboard returns data.
    let dash: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(deploy().join("grafana/goroscope-dashboard.json")).unwrap(),
    )
    .unwrap();
    let mut exprs = Vec::new();
    for p in dash["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            exprs.push(t["expr"].as_str().unwrap().to_string());
        }
    }
    for v in dash["templating"]["list"].as_array().unwrap() {
        if let Some(q) = v["query"]
            .as_str()
            .filter(|q| q.starts_with("label_values("))
        {
            let inner = &q["label_values(".len()..q.len() - 1];
            let (metric, label) = inner.rsplit_once(',').unwrap();
            let r = get_json(&format!(
                "{}/api/v1/label/{}/values?match[]={}",
                prom.url,
                label.trim(),
                enc(metric.trim())
            ));
            assert!(
                !r["data"].as_array().unwrap().is_empty(),
                "template variable {q}: {r}"
            );
        }
    }
    assert!(exprs.len() >= 16, "{exprs:?}");
    for e in &exprs {
        let q = e
            .replace("$__rate_interval", "30s")
            .replace("\"$target\"", "\".*\"")
            .replace("\"$job\"", "\".*\"");
        let r = wait_for(
            &format!("data for dashboard query {e}"),
            Duration::from_secs(60),
            || {
                let r = query(&prom, &q);
                (!r.is_empty()).then_some(r)
            },
        );
        assert!(!r.is_empty());
    }
    drop(w);
}
