//! `--trace`: a real Go service leaking one goroutine per request under steady load, watched as
//! `pid:` with goroscope's eBPF tracer. The leak is called leaking at its `go` statement with
//! its rate while the healthy sites stay steady; the alert, `/metrics` (checked by promtool)
//! and the dashboard's target page (in headless Chromium) show it; and the probes are gone
//! from the service as soon as the watcher drops the target or stops (the instructions it
//! probed hold their own bytes again, tracefs lists nothing new), with every request answered.
//! Needs the `ebpf` feature and root (or CAP_BPF + CAP_PERFMON); says SKIPPED otherwise
//! (`cargo test -p goroscope-watch --features ebpf --test trace` runs it).

mod common;

use common::*;
use goroscope_watch::config::{Dur, WatchConfig};
use goroscope_watch::target::Target;
use goroscope_watch::Watcher;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(120);

fn config(dir: &std::path::Path) -> WatchConfig {
    let mut cfg = WatchConfig::default();
    cfg.watch.every = Dur(Duration::from_secs(1));
    cfg.watch.listen = "127.0.0.1:0".into();
    cfg.watch.db = dir.join("h.db");
    cfg.watch.stdout_alerts = false;
    cfg.watch.trace = true;
    cfg.detect.window = Dur(Duration::from_secs(20));
    cfg.detect.warmup = Dur(Duration::from_secs(0));
    cfg.detect.min_growth = 3;
    cfg
}

fn trace_of(w: &Watcher, key: &str) -> serde_json::Value {
    get_json(&format!("{}api/v1/target?key={}", w.url(), enc(key)))["trace"].clone()
}

fn site<'a>(trace: &'a serde_json::Value, function: &str) -> Option<&'a serde_json::Value> {
    trace["sites"]
        .as_array()?
        .iter()
        .find(|s| s["function"] == function)
}

/// The probes the tracer places in `pid` (the same plan it makes) and their runtime bias.
fn probes(pid: u32) -> (u64, goroscope_trace::plan::Plan) {
    let p = goroscope_attach::open_process(pid).expect("open the service");
    let plan = goroscope_trace::plan::plan(&p.binary, false).expect("plan");
    (p.bias, plan)
}

/// How many of the probed instructions hold a breakpoint now (the rest must hold the
/// executable's own bytes).
fn breakpoints(pid: u32, bias: u64, plan: &goroscope_trace::plan::Plan) -> usize {
    let mem = goroscope_attach::memory::LiveMemory { pid };
    plan.probes
        .iter()
        .filter(|p| {
            let mut b = vec![0u8; p.bytes.len()];
            mem.try_read(p.addr.wrapping_add(bias), &mut b)
                .expect("reading the service's code");
            if b[0] == 0xcc {
                return true;
            }
            assert_eq!(b, p.bytes, "{p:?}: neither a breakpoint nor its own bytes");
            false
        })
        .count()
}

fn tracefs_uprobes() -> Vec<String> {
    [
        "/sys/kernel/tracing/uprobe_events",
        "/sys/kernel/debug/tracing/uprobe_events",
    ]
    .iter()
    .filter_map(|p| std::fs::read_to_string(p).ok())
    .flat_map(|s| s.lines().map(str::to_string).collect::<Vec<_>>())
    .collect()
}

#[test]
fn a_leak_of_one_goroutine_per_request_is_called_at_its_site_with_its_rate() {
    if let Some(why) = goroscope_watch::traced::cannot_trace() {
        eprintln!("SKIPPED a_leak_of_one_goroutine_per_request_is_called_at_its_site_with_its_rate: {why}");
        return;
    }
    let dir = tempdir();
    let mut svc = TraceService::start();
    // Steady load: 20 requests a second, each starting 4 goroutines that end and 1 that never
    // does.
    let load = svc.load("/leak", 2, 20.0);
    let cfg = config(dir.path());
    let t = Target::from_arg(&format!("pid:{}", svc.pid()), &cfg).unwrap();
    assert!(t.trace);
    let key = t.key.clone();
    let w = Watcher::start(cfg, vec![t]).expect("watcher starts");
    let leak_line = TraceService::leak_line();
    let leak_site = format!("main.leakOne (main.go:{leak_line})");

    let tr = wait_for("the leak site to be called leaking", T, || {
        let tr = trace_of(&w, &key);
        (site(&tr, "main.leakOne")?["growth"] == "leaking").then_some(tr)
    });
    assert_eq!(tr["state"], "up", "{tr}");
    assert!(tr["error"].is_null(), "{tr}");
    let leak = site(&tr, "main.leakOne").unwrap();
    assert_eq!(leak["site"], leak_site.as_str(), "{leak}");
    assert_eq!(leak["line"], leak_line, "{leak}");
    assert!(
        leak["file"]
            .as_str()
            .unwrap()
            .ends_with("trace_service/main.go"),
        "{leak}"
    );
    assert_eq!(leak["entry"], "main.leakOne.func1", "{leak}");
    assert_eq!(leak["ended"], 0, "none of them ends: {leak}");
    assert_eq!(
        tr["sites"][0]["function"], "main.leakOne",
        "leaking sites come first"
    );
    // The rate: none ends, so the live set grows by the births: the slope over the window
    // matches the births over the same points.
    let pts = leak["points"].as_array().unwrap();
    let span = pts.last().unwrap()[0].as_f64().unwrap() - pts[0][0].as_f64().unwrap();
    let births_per_min = leak["born_in_window"].as_f64().unwrap() / span * 60.0;
    let slope = leak["slope"].as_f64().unwrap();
    assert!(
        slope > 60.0 && (slope / births_per_min - 1.0).abs() < 0.25,
        "slope {slope}/min against {births_per_min}/min born: {leak}"
    );
    assert!(leak["evidence"][0].as_str().unwrap().contains("do not end"));

    // The healthy site: as many end as are born, nothing grows.
    let work = wait_for("the work site's counts", T, || {
        let tr = trace_of(&w, &key);
        let s = site(&tr, "main.work")?.clone();
        (s["born"].as_u64()? >= 400).then_some(s)
    });
    assert_eq!(work["growth"], "steady", "{work}");
    let (born, ended) = (
        work["born"].as_u64().unwrap(),
        work["ended"].as_u64().unwrap(),
    );
    assert!(ended + 40 >= born && ended <= born, "{work}");
    assert!(work["births_per_second"].as_f64().unwrap() > 0.0, "{work}");
    assert!(work["deaths_per_second"].as_f64().unwrap() > 0.0, "{work}");
    // `go compute(i, &wg)` starts in the compiler's wrapper (Go ≥ 1.22; the newest toolchain
    // builds the fixture).
    assert_eq!(work["entry"], "main.work.gowrap1", "{work}");
    let tr = trace_of(&w, &key);
    let others_leaking: Vec<_> = tr["sites"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["growth"] == "leaking" && s["function"] != "main.leakOne")
        .collect();
    assert!(others_leaking.is_empty(), "{others_leaking:?}");
    assert_eq!(tr["lost"], 0, "{tr}");

    // The alert names the go statement and the rate.
    let a = wait_for("the site's leak alert", T, || {
        let a = get_json(&format!("{}api/v1/alerts", w.url()));
        a["firing"]
            .as_array()?
            .iter()
            .find(|x| x["kind"] == "leak" && x["key"] == leak_site.as_str())
            .cloned()
    });
    assert_eq!(a["target"], key.as_str(), "{a}");
    assert_eq!(a["created_by"], leak_site.as_str(), "{a}");
    assert!(a["rate_per_minute"].as_f64().unwrap() > 60.0, "{a}");

    // /metrics: the tracer's and the sites' series; promtool agrees with the format.
    let (st, metrics) = get(&format!("{}metrics", w.url())).unwrap();
    assert_eq!(st, 200);
    let line = |prefix: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix} missing from:\n{metrics}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(
        line(&format!(
            "goroscope_site_leaking{{target=\"{key}\",site=\"{leak_site}\"}}"
        )),
        1.0
    );
    assert_eq!(
        line(&format!("goroscope_trace_up{{target=\"{key}\"}}")),
        1.0
    );
    assert!(line(&format!("goroscope_trace_births_total{{target=\"{key}\"}}")) > 100.0);
    assert!(
        line(&format!(
            "goroscope_site_births_per_second{{target=\"{key}\",site=\"main.work (main.go:"
        )) > 0.0
    );
    assert!(
        line(&format!(
            "goroscope_site_goroutines{{target=\"{key}\",site=\"{leak_site}\"}}"
        )) > 10.0
    );
    assert!(metrics.contains(&format!(
        "goroscope_site_goroutines{{target=\"{key}\",site=\"other\"}}"
    )));
    let sites = metrics
        .lines()
        .filter(|l| l.starts_with("goroscope_site_goroutines{"))
        .count();
    assert!(sites <= 11, "top 10 sites and other: {sites}");
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
            assert!(
                out.status.success(),
                "promtool check metrics:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        None => eprintln!("SKIP: promtool is not installed (apt-get install prometheus); the exposition was not checked with it"),
    }

    // The dashboard's target page lists the sites, the leak first and marked leaking.
    match which("chromium").or_else(|| which("chromium-browser")) {
        Some(browser) => {
            let url = format!("{}#/t/{}", w.url(), enc(&key));
            let p = open(&browser, &url, &dir.path().join("profile"));
            assert!(
                console_errors(&p.log).is_empty(),
                "console errors: {:?}",
                console_errors(&p.log)
            );
            let table = p
                .dom
                .find("id=\"sites\"")
                .unwrap_or_else(|| panic!("no sites table:\n{}", p.dom));
            let rows = &p.dom[table..];
            let first = rows.find("data-growth=\"").unwrap();
            assert!(
                rows[first..].starts_with("data-growth=\"leaking\""),
                "{rows}"
            );
            let row_end = rows[first..].find("</tr>").unwrap() + first;
            assert!(rows[first..row_end].contains(&leak_site), "{rows}");
            assert!(rows.contains("main.work (main.go:"), "{rows}");
            assert!(p.dom.contains("id=\"site-evidence\""), "{}", p.dom);
        }
        None => eprintln!(
            "SKIP: chromium is not installed; the target page was not opened in a browser"
        ),
    }
    drop(w);
    let r = load.stop();
    assert_eq!(r.failures, 0, "{r:?}");
    assert!(svc.alive(), "the service survived being traced");
}

#[test]
fn the_probes_go_when_the_target_is_dropped_and_when_the_watcher_stops() {
    if let Some(why) = goroscope_watch::traced::cannot_trace() {
        eprintln!(
            "SKIPPED the_probes_go_when_the_target_is_dropped_and_when_the_watcher_stops: {why}"
        );
        return;
    }
    let dir = tempdir();
    let mut svc = TraceService::start();
    let load = svc.load("/work", 2, 100.0);
    let (bias, plan) = probes(svc.pid());
    assert_eq!(breakpoints(svc.pid(), bias, &plan), 0);
    let tracefs_before = tracefs_uprobes();
    let cfg = config(dir.path());
    let t = Target::from_arg(&format!("pid:{}", svc.pid()), &cfg).unwrap();
    let key = t.key.clone();
    let w = Watcher::start(cfg, vec![t.clone()]).expect("watcher starts");
    let attached = |w: &Watcher| trace_of(w, &key)["state"] == "up";
    wait_for("the tracer to attach", T, || attached(&w).then_some(()));
    assert_eq!(
        breakpoints(svc.pid(), bias, &plan),
        plan.probes.len(),
        "every probe is in place while traced"
    );

    // Dropped: the target's task ends and the tracer detaches.
    w.set_targets(vec![]).unwrap();
    wait_for("the target to be dropped", T, || {
        w.shared.view(&key).is_none().then_some(())
    });
    wait_for("the probes to go", Duration::from_secs(10), || {
        (breakpoints(svc.pid(), bias, &plan) == 0).then_some(())
    });
    assert_eq!(tracefs_uprobes(), tracefs_before);

    // Named again: traced again.
    w.set_targets(vec![t]).unwrap();
    wait_for("the tracer to attach again", T, || {
        attached(&w).then_some(())
    });
    assert_eq!(breakpoints(svc.pid(), bias, &plan), plan.probes.len());

    // Stopped (what SIGTERM does: goroscope watch calls the same shutdown): nothing is left
    // once it returns.
    let t0 = Instant::now();
    drop(w);
    eprintln!("watcher stopped in {:?}", t0.elapsed());
    assert_eq!(breakpoints(svc.pid(), bias, &plan), 0);
    assert_eq!(tracefs_uprobes(), tracefs_before);
    let r = load.stop();
    assert_eq!(r.failures, 0, "{r:?}");
    assert!(r.requests > 100, "{r:?}");
    assert!(svc.alive(), "the service survived");
}
