//! Targets that die, hang, trickle bytes, answer HTML, 500, redirect loops or 50 MB of garbage
//! are isolated and reported, each with its own reason, while a good target beside them keeps
//! its schedule.

mod common;

use common::*;
use goroscope_watch::config::{Dur, WatchConfig};
use goroscope_watch::target::Target;
use goroscope_watch::Watcher;
use std::time::{Duration, Instant};

#[test]
fn bad_targets_are_isolated_and_reported() {
    let dir = tempdir();
    let good = Service::start(&[]);
    let mut dead = Service::start(&[]);
    let dead_url = dead.url();
    dead.kill();
    let faults = [
        (Fault::start(Misbehave::Hang), "timeout"),
        (Fault::start(Misbehave::Trickle), "timeout"),
        (Fault::start(Misbehave::Html), "html"),
        (Fault::start(Misbehave::Status500), "http_status"),
        (Fault::start(Misbehave::RedirectLoop), "redirects"),
        (Fault::start(Misbehave::Garbage), "not_a_dump"),
    ];
    let mut cfg = WatchConfig::default();
    cfg.watch.every = Dur(Duration::from_secs(1));
    cfg.watch.timeout = Dur(Duration::from_secs(3));
    cfg.watch.max_backoff = Dur(Duration::from_secs(4));
    cfg.watch.listen = "127.0.0.1:0".into();
    cfg.watch.db = dir.path().join("h.db");
    cfg.watch.stdout_alerts = false;
    let mut targets = vec![
        Target::from_arg(&good.url(), &cfg).unwrap(),
        Target::from_arg(&dead_url, &cfg).unwrap(),
    ];
    for (f, _) in &faults {
        targets.push(Target::from_arg(&f.url(), &cfg).unwrap());
    }
    let text_only = Fault::start(Misbehave::TextOnly);
    targets.push(Target::from_arg(&text_only.url(), &cfg).unwrap());
    let good_key = targets[0].key.clone();
    let dead_key = targets[1].key.clone();
    let w = Watcher::start(cfg, targets).unwrap();
    let state = |key: &str| {
        let o = get_json(&format!("{}api/v1/overview", w.url()));
        o["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["key"] == key)
            .cloned()
            .unwrap()
    };
    // Every bad target is reported with its own reason; the dead one goes down and alerts.
    for (f, kind) in &faults {
        let key = Target::from_arg(&f.url(), &WatchConfig::default())
            .unwrap()
            .key;
        let mut n = 0;
        let t = wait_for(
            &format!("{kind} from {key}"),
            Duration::from_secs(90),
            || {
                let t = state(&key);
                n += 1;
                if n % 100 == 0 {
                    eprintln!("still waiting for {kind}: {}", t["health"]);
                }
                (t["health"]["last_error_kind"] == *kind).then_some(t)
            },
        );
        assert_eq!(t["health"]["up"], false, "{t}");
        assert!(
            t["health"]["last_error"]
                .as_str()
                .unwrap()
                .contains(&f.addr),
            "the error names the request: {t}"
        );
    }
    let t = wait_for("the dead target down", Duration::from_secs(90), || {
        let t = state(&dead_key);
        (t["health"]["state"] == "down").then_some(t)
    });
    assert_eq!(t["health"]["last_error_kind"], "refused", "{t}");
    wait_for("a target_down alert", Duration::from_secs(30), || {
        let a = get_json(&format!("{}api/v1/alerts", w.url()));
        a["firing"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["kind"] == "target_down" && x["target"] == dead_key.as_str())
            .cloned()
    });
    // Where protobuf is not served, debug=1 is polled instead.
    let tk = Target::from_arg(&text_only.url(), &WatchConfig::default())
        .unwrap()
        .key;
    let t = wait_for(
        "debug=1 where protobuf is not served",
        Duration::from_secs(60),
        || {
            let t = state(&tk);
            (t["health"]["up"] == true && t["form"] == "debug1").then_some(t)
        },
    );
    assert_eq!(t["total"], 7, "{t}");
    // Meanwhile the good target keeps its 1 s schedule: at least 5 polls in 10 s (a blocked one
    // would get at most 3, the hung targets' timeout being 3 s).
    let polls = |m: &str| -> u64 {
        m.lines()
            .filter(|l| l.starts_with("goroscope_scrapes_total{") && l.contains(&good_key))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    };
    let m0 = polls(&get(&format!("{}metrics", w.url())).unwrap().1);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(10));
    let m1 = polls(&get(&format!("{}metrics", w.url())).unwrap().1);
    let secs = t0.elapsed().as_secs_f64();
    assert!(
        m1 - m0 >= 6,
        "the good target was polled {} times in {secs:.1} s",
        m1 - m0
    );
    assert_eq!(state(&good_key)["health"]["state"], "up");
    // Refused bodies are not held: the watcher stays small.
    let rss = goroscope_watch::util::self_stats().rss_bytes;
    assert!(rss < 400 << 20, "resident memory {rss}");
    // Failing targets back off (polled fewer times than the good one).
    let m = get(&format!("{}metrics", w.url())).unwrap().1;
    let errs: u64 = m
        .lines()
        .filter(|l| l.starts_with("goroscope_scrape_errors_total{") && l.contains(&dead_key))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64;
    assert!(
        errs < polls(&m),
        "backoff: {errs} failed polls of the dead target vs {} good",
        polls(&m)
    );
}
