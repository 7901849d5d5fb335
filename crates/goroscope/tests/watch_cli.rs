//! `goroscope watch` and `goroscope history` as a user runs them: alerts as JSON lines on
//! stdout, SIGKILL mid-poll losing no committed history (three times over), the history
//! queried as table/JSON/CSV, and `db:TARGET@TIME` inputs for analyze and diff.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("goroscope")
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts fixtures/go/watch_service; returns it and its address.
fn service(env: &[(&str, &str)]) -> (Kill, String, String) {
    let tc = goroscope_fixtures::toolchains().pop().unwrap();
    let mut cmd = Command::new(goroscope_fixtures::build("watch_service", &tc));
    cmd.stdout(Stdio::piped()).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    let (mut addr, mut site) = (String::new(), String::new());
    for l in out.lines() {
        let l = l.unwrap();
        if let Some(a) = l.strip_prefix("ADDR ") {
            addr = a.into();
        } else if let Some(s) = l.strip_prefix("LEAK_SITE ") {
            site = s.split(' ').next().unwrap().into();
        } else if l == "READY" {
            break;
        }
    }
    (Kill(child), addr, site)
}

fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(x) = f() {
            return x;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Polls committed for `key`, read from the file by another process.
fn committed(db: &Path, key: &str) -> usize {
    let Ok(r) = goroscope_watch::store::Reader::open(db) else {
        return 0;
    };
    let Ok(t) = r.find_target(key) else { return 0 };
    r.polls(t.id, 0, i64::MAX).map_or(0, |p| p.len())
}

fn watch(config: &Path, urls: &[&str], lines: Arc<Mutex<Vec<String>>>) -> Kill {
    let mut c = Command::new(bin())
        .arg("watch")
        .arg("--config")
        .arg(config)
        .args(urls)
        .env("GOROSCOPE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = BufReader::new(c.stdout.take().unwrap());
    std::thread::spawn(move || {
        for l in out.lines().map_while(Result::ok) {
            lines.lock().unwrap().push(l);
        }
    });
    Kill(c)
}

#[test]
fn watch_alerts_on_stdout_survives_sigkill_and_answers_history_queries() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let (_svc, addr, site) = service(&[("LEAK_EVERY", "100ms")]);
    // A target that accepts and never answers: a poll is always in flight.
    let hang = TcpListener::bind("127.0.0.1:0").unwrap();
    let hang_url = format!(
        "http://{}/debug/pprof/goroutine",
        hang.local_addr().unwrap()
    );
    let config = dir.path().join("goroscope.toml");
    std::fs::write(
        &config,
        format!(
            "[watch]\nevery = \"200ms\"\ntimeout = \"30s\"\nlisten = \"127.0.0.1:0\"\ndb = \"{}\"\n[detect]\nwindow = \"10s\"\nwarmup = \"0s\"\n",
            db.display()
        ),
    )
    .unwrap();
    let url = format!("http://{addr}/debug/pprof/goroutine");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let mut before = 0;
    for round in 0..3 {
        let mut w = watch(&config, &[&url, &hang_url], lines.clone());
        let n = wait_for("more committed polls", Duration::from_secs(120), || {
            let n = committed(&db, &url);
            (n >= before + 8).then_some(n)
        });
        // SIGKILL while the hung target's poll is in flight and polls keep committing.
        w.0.kill().unwrap();
        w.0.wait().unwrap();
        let after = committed(&db, &url);
        assert!(
            after >= n,
            "round {round}: {n} polls were committed before SIGKILL, {after} after"
        );
        assert_eq!(goroscope_watch::store::integrity_check(&db).unwrap(), "ok");
        before = after;
    }
    // Alerts went to stdout as JSON lines, one object each.
    let alerts: Vec<serde_json::Value> = lines
        .lock()
        .unwrap()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let leak = alerts
        .iter()
        .find(|a| {
            a["type"] == "alert" && a["alert"]["kind"] == "leak" && a["alert"]["status"] == "firing"
        })
        .unwrap_or_else(|| panic!("no leak alert in {alerts:?}"));
    assert_eq!(leak["alert"]["site"], site.as_str());
    assert_eq!(leak["alert"]["target"], url.as_str());

    // history: targets (table), groups (JSON), a series (CSV).
    let out = Command::new(bin())
        .args(["history", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&url) && !text.contains(&hang_url), "{text}");
    let out = Command::new(bin())
        .args(["history", "--db"])
        .arg(&db)
        .args([addr.as_str(), "-o", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let g = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["site"] == site.as_str())
        .cloned()
        .unwrap();
    assert!(g["count"].as_u64().unwrap() > 10, "{g}");
    let gid = g["group"].as_str().unwrap();
    let out = Command::new(bin())
        .args(["history", "--db"])
        .arg(&db)
        .args([addr.as_str(), gid, "-o", "csv"])
        .output()
        .unwrap();
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(
        csv.starts_with("time,unix,count\n") && csv.lines().count() > 20,
        "{csv}"
    );
    let out = Command::new(bin())
        .args(["history", "--db"])
        .arg(&db)
        .arg("no-such-target")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no target `no-such-target`"));

    // db:TARGET@TIME inputs: analyze sees the leak's group; diff of two moments shows growth.
    let out = Command::new(bin())
        .args(["analyze", "-o", "json", &format!("db:{addr}@now")])
        .env("GOROSCOPE_DB", &db)
        .output()
        .unwrap();
    assert!(
        out.status.success() || out.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == gid),
        "{v}"
    );
    let first = {
        let r = goroscope_watch::store::Reader::open(&db).unwrap();
        let t = r.find_target(&url).unwrap();
        r.polls(t.id, 0, i64::MAX).unwrap()[2].0.t
    };
    let out = Command::new(bin())
        .args([
            "diff",
            "-o",
            "json",
            &format!("db:{addr}@{}", first as f64 / 1000.0),
            &format!("db:{addr}@latest"),
        ])
        .env("GOROSCOPE_DB", &db)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let d = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["group"]["id"] == gid)
        .cloned()
        .unwrap();
    assert_eq!(d["change"], "grown", "{d}");
    let out = Command::new(bin())
        .args(["analyze", "db:nothing@soon"])
        .env("GOROSCOPE_DB", &db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn watch_refuses_what_it_cannot_do_with_clear_errors() {
    let run = |args: &[&str]| {
        let out = Command::new(bin()).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["watch", "--trace", "http://127.0.0.1:1"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--trace traces pid:PID targets"), "{err}");
    if !cfg!(feature = "ebpf") {
        // Refused up front, naming the missing feature, rather than failing at each poll.
        let (code, err) = run(&["watch", "--trace", "pid:1"]);
        assert_eq!(code, Some(2));
        assert!(
            err.contains("cannot trace pid:1 with eBPF (--trace)"),
            "{err}"
        );
        assert!(err.contains("`ebpf`"), "{err}");
    }
    let (code, err) = run(&["watch"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no targets"), "{err}");
    let (code, err) = run(&["watch", "--listen", "0.0.0.0:0", "http://127.0.0.1:1"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--allow-remote"), "{err}");
    let (code, err) = run(&["watch", "--shard", "3/3", "http://127.0.0.1:1"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--shard"), "{err}");
    let (code, err) = run(&["history", "--db", "/nonexistent/h.db"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("/nonexistent/h.db"), "{err}");
}
