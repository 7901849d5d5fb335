//! Alert sinks (Alertmanager's v2 API and a generic JSON webhook, with a bearer token read from
//! the environment) receive a leak found in a dump file that grows, and `--shard i/n` splits a
//! file-SD fleet between watchers exactly by the hash of the target.

mod common;

use common::*;
use goroscope_watch::config::{Dur, FileSdSection, Shard, SinkKind, SinkSection, WatchConfig};
use goroscope_watch::target::Target;
use goroscope_watch::Watcher;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Posts = Arc<Mutex<Vec<(String, String, String)>>>;

/// A receiver that records (path, authorization, body) of every POST and answers 200.
fn receiver() -> (String, Posts) {
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap().to_string();
    let posts: Posts = Default::default();
    let p = posts.clone();
    std::thread::spawn(move || {
        for s in ln.incoming() {
            let Ok(s) = s else { continue };
            let p = p.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let path = line.split(' ').nth(1).unwrap_or("").to_string();
                    let (mut len, mut auth) = (0usize, String::new());
                    loop {
                        let mut h = String::new();
                        r.read_line(&mut h).unwrap();
                        let h = h.trim_end();
                        if h.is_empty() {
                            break;
                        }
                        let (k, v) = h.split_once(':').unwrap_or((h, ""));
                        match k.to_ascii_lowercase().as_str() {
                            "content-length" => len = v.trim().parse().unwrap_or(0),
                            "authorization" => auth = v.trim().to_string(),
                            _ => {}
                        }
                    }
                    let mut body = vec![0; len];
                    r.read_exact(&mut body).unwrap();
                    p.lock()
                        .unwrap()
                        .push((path, auth, String::from_utf8_lossy(&body).into()));
                    let mut w = &s;
                    let _ = w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
                }
            });
        }
    });
    (addr, posts)
}

fn dump(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!(
            "goroutine {} [chan receive]:\nmain.worker()\n\t/src/app/main.go:10 +0x1d\ncreated by main.start in goroutine 1\n\t/src/app/main.go:5 +0x2a\n\n",
            i + 2
        ));
    }
    s.push_str("goroutine 1 [select (no cases)]:\nmain.main()\n\t/src/app/main.go:20 +0x10\n");
    s
}

#[test]
fn sinks_receive_a_leak_with_credentials() {
    let dir = tempdir();
    let file = dir.path().join("dump.txt");
    std::fs::write(&file, dump(5)).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (f2, st) = (file.clone(), stop.clone());
    let grower = std::thread::spawn(move || {
        let mut n = 5;
        while !st.load(std::sync::atomic::Ordering::Relaxed) {
            n += 3;
            let tmp = f2.with_extension("tmp");
            std::fs::write(&tmp, dump(n)).unwrap();
            std::fs::rename(&tmp, &f2).unwrap();
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    let (addr, posts) = receiver();
    std::env::set_var("GOROSCOPE_TEST_SINK_TOKEN", "sink-s3cret");
    let mut cfg = WatchConfig::default();
    cfg.watch.every = Dur(Duration::from_millis(500));
    cfg.watch.listen = "127.0.0.1:0".into();
    cfg.watch.db = dir.path().join("h.db");
    cfg.watch.stdout_alerts = false;
    cfg.detect.window = Dur(Duration::from_secs(10));
    cfg.detect.warmup = Dur(Duration::from_secs(0));
    for (kind, url) in [
        (SinkKind::Alertmanager, format!("http://{addr}")),
        (SinkKind::Webhook, format!("http://{addr}/hook")),
    ] {
        cfg.sinks.push(SinkSection {
            kind,
            url,
            bearer_token_file: None,
            bearer_token_env: Some("GOROSCOPE_TEST_SINK_TOKEN".into()),
            timeout: None,
        });
    }
    let mut t = Target::from_arg(file.to_str().unwrap(), &cfg).unwrap();
    t.labels.insert("service".into(), "app".into());
    let w = Watcher::start(cfg, vec![t]).unwrap();
    let (am, hook) = wait_for(
        "both sinks to receive the leak",
        Duration::from_secs(90),
        || {
            let p = posts.lock().unwrap();
            let am = p
                .iter()
                .find(|(path, _, b)| path == "/api/v2/alerts" && b.contains("GoroutineLeak"))?
                .clone();
            let hook = p
                .iter()
                .find(|(path, _, b)| path == "/hook" && b.contains("\"kind\":\"leak\""))?
                .clone();
            Some((am, hook))
        },
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    grower.join().unwrap();
    assert_eq!(am.1, "Bearer sink-s3cret");
    assert_eq!(hook.1, "Bearer sink-s3cret");
    let v: serde_json::Value = serde_json::from_str(&am.2).unwrap();
    let a = &v.as_array().expect("Alertmanager takes an array of alerts")[0];
    assert_eq!(a["labels"]["alertname"], "GoroutineLeak");
    assert_eq!(a["labels"]["service"], "app");
    assert_eq!(a["labels"]["site"], "main.worker");
    assert!(a["startsAt"].as_str().unwrap().ends_with('Z'));
    assert!(a.get("endsAt").is_none(), "firing");
    assert!(a["generatorURL"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    let h: serde_json::Value = serde_json::from_str(&hook.2).unwrap();
    assert_eq!(h["status"], "firing");
    assert_eq!(
        h["created_by"].as_str().unwrap(),
        "main.start (/src/app/main.go:5)"
    );
    // The token is never shown: not in the dashboard's data, not in /metrics.
    let o = get(&format!("{}api/v1/overview", w.url())).unwrap().1;
    let m = get(&format!("{}metrics", w.url())).unwrap().1;
    assert!(!o.contains("s3cret") && !m.contains("s3cret"));
}

#[test]
fn shards_split_a_fleet_exactly() {
    let dir = tempdir();
    let sd = dir.path().join("fleet.json");
    // 40 addresses that refuse connections: discovery and sharding need no live service.
    let addrs: Vec<String> = (1..=40).map(|p| format!("\"127.0.0.1:{p}\"")).collect();
    std::fs::write(
        &sd,
        format!(
            "[{{\"targets\": [{}], \"labels\": {{\"env\": \"test\"}}}}]",
            addrs.join(",")
        ),
    )
    .unwrap();
    let mut seen = Vec::new();
    let mut watchers = Vec::new();
    for i in 0..2 {
        let mut cfg = WatchConfig::default();
        cfg.watch.every = Dur(Duration::from_secs(60));
        cfg.watch.listen = "127.0.0.1:0".into();
        cfg.watch.db = dir.path().join(format!("h{i}.db"));
        cfg.watch.stdout_alerts = false;
        cfg.watch.shard = Shard { index: i, count: 2 };
        cfg.file_sd.push(FileSdSection {
            path: sd.clone(),
            refresh: None,
            relabel: None,
        });
        let w = Watcher::start(cfg, vec![]).unwrap();
        let keys: BTreeSet<String> =
            wait_for("targets from the file", Duration::from_secs(30), || {
                let o = get_json(&format!("{}api/v1/overview", w.url()));
                let k: BTreeSet<String> = o["targets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t["key"].as_str().unwrap().to_string())
                    .collect();
                (!k.is_empty()).then_some(k)
            });
        let want: BTreeSet<String> = (1..=40)
            .map(|p| format!("http://127.0.0.1:{p}/debug/pprof/goroutine"))
            .filter(|k| Shard { index: i, count: 2 }.owns(k))
            .collect();
        assert_eq!(keys, want, "shard {i}/2");
        let (_, m) = get(&format!("{}metrics", w.url())).unwrap();
        assert!(m.contains(&format!("shard=\"{i}/2\"")), "{m}");
        seen.push(keys);
        watchers.push(w);
    }
    assert!(seen[0].is_disjoint(&seen[1]));
    assert_eq!(seen[0].len() + seen[1].len(), 40);
    // The file changes: both watchers pick it up.
    std::fs::write(
        &sd,
        "[{\"targets\": [\"127.0.0.1:41\", \"127.0.0.1:42\", \"127.0.0.1:43\", \"127.0.0.1:44\"]}]",
    )
    .unwrap();
    let total = wait_for("the new file to be read", Duration::from_secs(30), || {
        let n: usize = watchers
            .iter()
            .map(|w| {
                get_json(&format!("{}api/v1/overview", w.url()))["targets"]
                    .as_array()
                    .unwrap()
                    .len()
            })
            .sum();
        (n == 4).then_some(n)
    });
    assert_eq!(total, 4);
}
