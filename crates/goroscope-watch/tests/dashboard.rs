//! The dashboard in a real headless Chromium: pages load without console errors, charts draw,
//! a leaking Go service shows up as growing within a few polls, and its group page names the
//! right creation site. Needs Debian's `chromium` (scripts/test.sh installs it); without it the
//! test says SKIP.

mod common;

use common::*;
use goroscope_watch::config::{Dur, WatchConfig};
use goroscope_watch::target::Target;
use goroscope_watch::Watcher;
use std::time::{Duration, Instant};

#[test]
fn the_dashboard_shows_a_leak_growing_and_its_creation_site() {
    let Some(browser) = which("chromium").or_else(|| which("chromium-browser")) else {
        eprintln!("SKIP: chromium is not installed (apt-get install chromium); the dashboard was not opened in a browser");
        return;
    };
    let dir = tempdir();
    let leaky = Service::start(&[("LEAK_EVERY", "200ms")]);
    let healthy = Service::start(&[]);
    let mut cfg = WatchConfig::default();
    cfg.watch.every = Dur(Duration::from_secs(1));
    cfg.watch.listen = "127.0.0.1:0".into();
    cfg.watch.db = dir.path().join("h.db");
    cfg.watch.stdout_alerts = false;
    cfg.detect.window = Dur(Duration::from_secs(30));
    cfg.detect.warmup = Dur(Duration::from_secs(0));
    cfg.detect.debug2_every = Dur(Duration::from_secs(2));
    let t1 = Target::from_arg(&leaky.url(), &cfg).unwrap();
    let t2 = Target::from_arg(&healthy.url(), &cfg).unwrap();
    let key = t1.key.clone();
    let w = Watcher::start(cfg, vec![t1, t2]).unwrap();
    // "Within a few polls": the API says leaking after at most 10 polls of 1 s.
    let t0 = Instant::now();
    let gid = wait_for("the leak to grow", Duration::from_secs(90), || {
        let t = get_json(&format!("{}api/v1/target?key={}", w.url(), enc(&key)));
        t["groups"]
            .as_array()?
            .iter()
            .find(|g| g["growth"] == "leaking")
            .map(|g| g["id"].as_str().unwrap().to_string())
    });
    let polls = t0.elapsed().as_secs_f64();
    assert!(
        polls < 30.0,
        "called leaking after {polls:.0} s of 1 s polls"
    );
    wait_for("the creation site", Duration::from_secs(60), || {
        let d = get_json(&format!(
            "{}api/v1/group?key={}&group={gid}",
            w.url(),
            enc(&key)
        ));
        (!d["group"]["created_by"].is_null()).then_some(())
    });

    // Fleet page: both targets, the leak among the fastest-growing groups, sparklines drawn.
    let p = open(&browser, &w.url(), &dir.path().join("profile1"));
    assert!(
        console_errors(&p.log).is_empty(),
        "console errors: {:?}",
        console_errors(&p.log)
    );
    assert!(
        p.dom.contains("data-ready=\"1\"") && p.dom.contains("data-page=\"fleet\""),
        "{}",
        p.dom
    );
    assert!(
        p.dom.contains(&format!("data-target=\"{key}\"")),
        "{}",
        p.dom
    );
    let row = p
        .dom
        .find(&format!("data-group=\"{gid}\" data-growth=\"leaking\""))
        .unwrap_or_else(|| panic!("the leak is not shown growing:\n{}", p.dom));
    assert!(p.dom[row..].contains(&leaky.leak_function));
    assert!(
        p.dom.contains("class=\"line hot\""),
        "a red sparkline: {}",
        p.dom
    );

    // Target page: a chart of its goroutines with points.
    let url = format!("{}#/t/{}", w.url(), enc(&key));
    let p = open(&browser, &url, &dir.path().join("profile2"));
    assert!(
        console_errors(&p.log).is_empty(),
        "console errors: {:?}",
        console_errors(&p.log)
    );
    assert!(p.dom.contains("data-page=\"target\""), "{}", p.dom);
    let chart = p.dom.find("class=\"chart\"").expect("the goroutines chart");
    let pts: usize = p.dom[chart..]
        .split("data-points=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(pts >= 3, "{pts} points");
    assert!(p.dom[chart..].contains("<path d=\"M"), "a drawn line");

    // Group page: verdict, history chart, the creation site with file and line.
    let url = format!("{}#/g/{}/{gid}", w.url(), enc(&key));
    let p = open(&browser, &url, &dir.path().join("profile3"));
    assert!(
        console_errors(&p.log).is_empty(),
        "console errors: {:?}",
        console_errors(&p.log)
    );
    assert!(p.dom.contains("data-page=\"group\""), "{}", p.dom);
    let created = p
        .dom
        .split("id=\"created-by\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap();
    assert!(created.starts_with(&leaky.created_by), "{created}");
    assert!(
        created.ends_with(&format!("{}:{})", leaky.leak_file, leaky.leak_line)),
        "{created}"
    );
    assert!(p.dom.contains("class=\"badge leak\""), "verdict leak shown");
    assert!(
        p.dom.contains("flame.svg"),
        "the flame graph is on the page"
    );
    // The flame graph and the dump it links to are served.
    let (st, svg) = get(&format!("{}api/v1/flame.svg?key={}", w.url(), enc(&key))).unwrap();
    assert_eq!(st, 200);
    assert!(
        svg.contains("<svg") && svg.contains("leakOne"),
        "{}",
        &svg[..svg.len().min(300)]
    );
    let (st, _) = get(&format!(
        "{}api/v1/dump?key={}&which=detail",
        w.url(),
        enc(&key)
    ))
    .unwrap();
    assert_eq!(st, 200);
}
