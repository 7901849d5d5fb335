//! The history under a full disk and a read-only file: a clear error, never a silent stop.
//! Needs root for the small tmpfs mounts; without it the test says SKIP.

mod common;

use common::*;
use goroscope_watch::config::{Dur, WatchConfig};
use goroscope_watch::target::Target;
use goroscope_watch::Watcher;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

struct Mount(std::path::PathBuf);
impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn tmpfs(dir: &Path, size: &str) -> Option<Mount> {
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "SKIP: cannot mount a tmpfs (needs root); full-disk and read-only history not tested"
        );
        return None;
    }
    Some(Mount(dir.to_path_buf()))
}

fn fill(path: &Path) {
    // Write until the file system is full.
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let buf = vec![0u8; 4096];
    while f.write_all(&buf).is_ok() {}
    let _ = f.sync_all();
}

fn cfg(db: &Path) -> WatchConfig {
    let mut c = WatchConfig::default();
    c.watch.every = Dur(Duration::from_millis(500));
    c.watch.listen = "127.0.0.1:0".into();
    c.watch.db = db.to_path_buf();
    c.watch.stdout_alerts = false;
    c
}

#[test]
fn a_full_disk_is_reported_and_recovered_from() {
    let dir = tempdir();
    let Some(_m) = tmpfs(dir.path(), "2m") else {
        return;
    };
    let svc = Service::start(&[("LEAK_EVERY", "50ms")]);
    let c = cfg(&dir.path().join("h.db"));
    let w = Watcher::start(c.clone(), vec![Target::from_arg(&svc.url(), &c).unwrap()]).unwrap();
    let store = w.shared.store.clone().unwrap();
    wait_for("polls written", Duration::from_secs(60), || {
        (store.health.lock().unwrap().polls_written >= 3).then_some(())
    });
    fill(&dir.path().join("filler"));
    let err = wait_for("a write failure", Duration::from_secs(120), || {
        store.health.lock().unwrap().last_error.clone()
    });
    assert!(err.contains("full") && err.contains("h.db"), "{err}");
    // Reported everywhere a person or a system looks, and polling goes on.
    let m = get(&format!("{}metrics", w.url())).unwrap().1;
    assert!(
        m.lines()
            .any(|l| l == "goroscope_watch_store_up 0.0" || l == "goroscope_watch_store_up 0"),
        "{m}"
    );
    let o = get_json(&format!("{}api/v1/overview", w.url()));
    assert_eq!(o["store"]["ok"], false);
    assert_eq!(o["targets"][0]["health"]["up"], true);
    let a = get_json(&format!("{}api/v1/alerts", w.url()));
    assert!(
        a["firing"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["kind"] == "store_error"),
        "{a}"
    );
    // Space again: writing resumes and the alert resolves.
    std::fs::remove_file(dir.path().join("filler")).unwrap();
    wait_for("writes to resume", Duration::from_secs(60), || {
        store.health.lock().unwrap().ok.then_some(())
    });
    wait_for("store_error resolved", Duration::from_secs(30), || {
        let a = get_json(&format!("{}api/v1/alerts", w.url()));
        (!a["firing"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["kind"] == "store_error"))
        .then_some(())
    });
    drop(w);
    assert_eq!(
        goroscope_watch::store::integrity_check(&dir.path().join("h.db")).unwrap(),
        "ok"
    );
}

#[test]
fn a_read_only_database_is_a_clear_error_at_start() {
    let dir = tempdir();
    let Some(_m) = tmpfs(dir.path(), "4m") else {
        return;
    };
    let db = dir.path().join("h.db");
    drop(goroscope_watch::store::open_rw(&db).unwrap());
    // A remount fails with EBUSY while any process holds a file of it open for writing: a
    // process forked meanwhile by a test running beside this one holds copies of this test's
    // descriptors until it execs. Retry until it goes through (bounded).
    let mut last = String::new();
    let mut ok = false;
    for _ in 0..50 {
        let out = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(dir.path())
            .output()
            .unwrap();
        if out.status.success() {
            ok = true;
            break;
        }
        last = String::from_utf8_lossy(&out.stderr).into_owned();
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(ok, "remount read-only: {last}");
    let c = cfg(&db);
    let t = Target::from_arg("http://127.0.0.1:1", &c).unwrap();
    let e = Watcher::start(c, vec![t])
        .err()
        .expect("refuses to start")
        .to_string();
    assert!(
        e.contains("h.db") && (e.contains("read-only") || e.contains("readonly")),
        "{e}"
    );
    // History is still readable.
    assert!(goroscope_watch::store::Reader::open(&db).is_ok());
    let _ = Command::new("mount")
        .args(["-o", "remount,rw"])
        .arg(dir.path())
        .status();
}
