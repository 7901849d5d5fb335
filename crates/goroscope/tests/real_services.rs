//! Real Go services written by others (issue 14): Debian's Prometheus, Alertmanager, etcd and
//! Pushgateway (`scripts/test.sh` installs them; they are built with Go 1.19), each started on
//! loopback with free ports, temporary data directories (never the system's) and its pprof
//! endpoint, and killed when the test ends.
//!
//! * `every_form_idle_and_loaded`: the goroutine profile of each service in every form it
//!   serves (`debug=2`, `debug=1`, protobuf), idle (Prometheus scraping nothing) and under a
//!   light load (Prometheus scraping itself and the three others every second and sending an
//!   always-firing alert to Alertmanager, etcd puts and ranges through its HTTP/JSON gateway,
//!   Pushgateway pushes, Alertmanager alerts posted), checked to be what each form is.
//! * `attach_names_the_go_release_it_cannot_read`: `goroscope attach PID` on each says that
//!   its Go release (go1.19.x) is older than goroscope reads, naming it.
//! * `analysis_is_quiet_on_healthy_services`: `goroscope analyze -o json` finds 0 leak and 0
//!   suspect groups in every dump.
//! * `loaded_prometheus_scrapes_every_job`: the load is what it says (a scrape loop per job).
//!
//! The three share one run of the services per test process. `GOROSCOPE_SAVE_DUMPS=DIR` saves
//! every dump as `DIR/<phase>/<service>/<form>` with the attach output beside it. Without the
//! Debian packages the tests say SKIPPED and pass.

use goroscope_fixtures::http::{free_port, Conn};
use goroscope_fixtures::relations::save;
use std::fmt::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How long a service may take to answer ready, and the load phase to reach its goals.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const LOAD_TIMEOUT: Duration = Duration::from_secs(60);

const BINARIES: &[(&str, &str)] = &[
    ("etcd", "etcd-server"),
    ("prometheus-alertmanager", "prometheus-alertmanager"),
    ("prometheus-pushgateway", "prometheus-pushgateway"),
    ("prometheus", "prometheus"),
];

/// A running service; dropping it kills the process.
struct Server {
    name: &'static str,
    child: Child,
    /// `127.0.0.1:PORT` of its HTTP API and `/debug/pprof`.
    addr: String,
    bin: PathBuf,
    log: PathBuf,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(3000);
        let start = (start..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text[start..].to_string()
    }

    fn get(&self, path: &str) -> goroscope_fixtures::http::Response {
        Conn::new(&self.addr)
            .get(path)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", self.name, self.log_tail()))
    }

    /// Polls `path` until it answers 200, or panics with the log when the process exits or
    /// the time is up.
    fn wait_ready(&mut self, path: &str) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Err(format!("{} exited ({st}) before it was ready", self.name));
            }
            if let Ok(r) = Conn::new(&self.addr).get(path) {
                if r.status == 200 {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} not ready on {path} within {READY_TIMEOUT:?}",
                    self.name
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn which(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(bin))
        .find(|p| p.is_file())
}

/// Starts `bin` with the arguments `args(dir, ports)` gives, and waits until `ready` answers
/// 200. A port another process took in between makes the server exit: start again with new
/// ports (three times).
fn start(
    name: &'static str,
    bin: &str,
    nports: usize,
    ready: &str,
    args: impl Fn(&Path, &[u16]) -> Vec<String>,
) -> Server {
    let bin = which(bin).unwrap_or_else(|| panic!("{bin} is not on PATH"));
    let mut last = String::new();
    for _ in 0..3 {
        let dir = tempfile::Builder::new()
            .prefix(&format!("goroscope-{name}-"))
            .tempdir()
            .expect("a temporary directory");
        let ports: Vec<u16> = (0..nports)
            .map(|_| free_port().expect("a free port"))
            .collect();
        let log = dir.path().join("server.log");
        let out = std::fs::File::create(&log).expect("creating the log file");
        let mut cmd = Command::new(&bin);
        cmd.args(args(dir.path(), &ports))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log file"))
            .stderr(out);
        // SAFETY: prctl(2) in the child between fork and exec; async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                // Die with the test thread that started us, even if the test process is
                // killed before its Drop runs: never leave daemons behind.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let mut s = Server {
            name,
            child,
            addr: format!("127.0.0.1:{}", ports[0]),
            bin: bin.clone(),
            log,
            dir,
        };
        match s.wait_ready(ready) {
            Ok(()) => return s,
            Err(e) => last = format!("{e}\n{}", s.log_tail()),
        }
    }
    panic!("{last}");
}

fn etcd() -> Server {
    start("etcd", "etcd", 2, "/health", |dir, p| {
        let client = format!("http://127.0.0.1:{}", p[0]);
        let peer = format!("http://127.0.0.1:{}", p[1]);
        [
            "--name=goroscope".to_string(),
            format!("--data-dir={}", dir.join("etcd").display()),
            format!("--listen-client-urls={client}"),
            format!("--advertise-client-urls={client}"),
            format!("--listen-peer-urls={peer}"),
            format!("--initial-advertise-peer-urls={peer}"),
            format!("--initial-cluster=goroscope={peer}"),
            "--enable-pprof".to_string(),
        ]
        .to_vec()
    })
}

fn alertmanager() -> Server {
    start(
        "alertmanager",
        "prometheus-alertmanager",
        1,
        "/-/ready",
        |dir, p| {
            let cfg = dir.join("alertmanager.yml");
            std::fs::write(
                &cfg,
                "route:\n  receiver: nowhere\n  group_wait: 1s\n  group_interval: 1s\nreceivers:\n  - name: nowhere\n",
            )
            .expect("writing alertmanager.yml");
            vec![
                format!("--config.file={}", cfg.display()),
                format!("--storage.path={}", dir.join("data").display()),
                format!("--web.listen-address=127.0.0.1:{}", p[0]),
                // No gossip cluster: it would listen on 0.0.0.0:9094.
                "--cluster.listen-address=".to_string(),
            ]
        },
    )
}

fn pushgateway() -> Server {
    start(
        "pushgateway",
        "prometheus-pushgateway",
        1,
        "/-/ready",
        |dir, p| {
            vec![
                format!("--web.listen-address=127.0.0.1:{}", p[0]),
                format!(
                    "--persistence.file={}",
                    dir.join("pushgateway.data").display()
                ),
            ]
        },
    )
}

/// Prometheus, idle: it scrapes nothing until [`prometheus_config`] is written and it gets
/// SIGHUP.
fn prometheus() -> Server {
    start("prometheus", "prometheus", 1, "/-/ready", |dir, p| {
        let cfg = dir.join("prometheus.yml");
        std::fs::write(&cfg, "global:\n  scrape_interval: 1s\n").expect("writing prometheus.yml");
        vec![
            format!("--config.file={}", cfg.display()),
            format!("--storage.tsdb.path={}", dir.join("data").display()),
            format!("--web.listen-address=127.0.0.1:{}", p[0]),
            // Resend firing alerts every second (default 1m): the first notification is
            // dropped when it comes before the Alertmanager is discovered.
            "--rules.alert.resend-delay=1s".to_string(),
        ]
    })
}

/// Scrape every service every second, evaluate an always-firing alert every second and send
/// it to Alertmanager.
fn prometheus_config(prom: &Server, targets: &[(&str, &str)], alertmanager: &str) {
    let rules = prom.dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: goroscope\n    rules:\n      - alert: GoroscopeLoad\n        expr: vector(1)\n        labels:\n          severity: none\n",
    )
    .expect("writing rules.yml");
    let mut cfg = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{alertmanager}']\nscrape_configs:\n",
        rules.display()
    );
    for (job, addr) in targets {
        let _ = write!(
            cfg,
            "  - job_name: {job}\n    honor_labels: true\n    static_configs:\n      - targets: ['{addr}']\n"
        );
    }
    std::fs::write(prom.dir.path().join("prometheus.yml"), cfg).expect("writing prometheus.yml");
    let pid = libc::pid_t::try_from(prom.child.id()).expect("pid fits");
    // SAFETY: kill(2) on our own child, not reaped yet.
    assert_eq!(
        unsafe { libc::kill(pid, libc::SIGHUP) },
        0,
        "SIGHUP to prometheus"
    );
}

// ---------------------------------------------------------------------------------------
// Load

fn base64(b: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// What the load generator did.
#[derive(Default)]
struct Counters {
    etcd_puts: AtomicU64,
    etcd_ranges: AtomicU64,
    pushes: AtomicU64,
    alerts: AtomicU64,
}

/// Puts and ranges on etcd, pushes to Pushgateway, alerts to Alertmanager, until `stop`.
fn load(
    etcd: String,
    push: String,
    am: String,
    stop: Arc<AtomicBool>,
    n: Arc<Counters>,
) -> Result<(), String> {
    let (mut e, mut p, mut a) = (Conn::new(etcd), Conn::new(push), Conn::new(am));
    let json = Some("application/json");
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let key = base64(format!("/goroscope/k{}", i % 50).as_bytes());
        let val = base64(format!("v{i}").as_bytes());
        let put = format!(r#"{{"key":"{key}","value":"{val}"}}"#);
        let r = e
            .request("POST", "/v3/kv/put", json, put.as_bytes())
            .map_err(|e| e.to_string())?;
        if r.status != 200 {
            return Err(format!("etcd put: HTTP {}: {}", r.status, r.text()));
        }
        n.etcd_puts.fetch_add(1, Ordering::Relaxed);
        let range = format!(r#"{{"key":"{key}"}}"#);
        let r = e
            .request("POST", "/v3/kv/range", json, range.as_bytes())
            .map_err(|e| e.to_string())?;
        if r.status != 200 || !r.text().contains(&val) {
            return Err(format!("etcd range: HTTP {}: {}", r.status, r.text()));
        }
        n.etcd_ranges.fetch_add(1, Ordering::Relaxed);
        let body = format!("goroscope_load_iterations {i}\n");
        let r = p
            .request(
                "PUT",
                &format!("/metrics/job/goroscope/instance/i{}", i % 5),
                Some("text/plain"),
                body.as_bytes(),
            )
            .map_err(|e| e.to_string())?;
        if r.status / 100 != 2 {
            return Err(format!("pushgateway: HTTP {}: {}", r.status, r.text()));
        }
        n.pushes.fetch_add(1, Ordering::Relaxed);
        if i % 5 == 0 {
            let alert = format!(
                r#"[{{"labels":{{"alertname":"GoroscopePosted","n":"{}"}},"annotations":{{"summary":"load"}}}}]"#,
                i % 20
            );
            let r = a
                .request("POST", "/api/v2/alerts", json, alert.as_bytes())
                .map_err(|e| e.to_string())?;
            if r.status != 200 {
                return Err(format!("alertmanager: HTTP {}: {}", r.status, r.text()));
            }
            n.alerts.fetch_add(1, Ordering::Relaxed);
        }
        i += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// `sum by (job) (sum_over_time(up[1m]))`: successful scrapes per job in the last minute.
const UP_QUERY: &str = "/api/v1/query?query=sum%20by%20(job)%20(sum_over_time(up%5B1m%5D))";

/// Whether Prometheus has scraped every job successfully at least `scrapes` times.
fn scraped(prom: &Server, jobs: &[(&str, &str)], scrapes: u32) -> bool {
    let r = prom.get(UP_QUERY);
    let text = r.text();
    jobs.iter().all(|(job, _)| {
        // {"metric":{"job":"etcd"},"value":[1700000000.1,"7"]}
        text.split(&format!(r#""job":"{job}"}},"value":["#))
            .nth(1)
            .and_then(|rest| rest.split('"').nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .is_some_and(|v| v >= f64::from(scrapes))
    })
}

// ---------------------------------------------------------------------------------------
// One run of the services per test process

struct Dump {
    service: &'static str,
    phase: &'static str,
    /// `goroutine_debug2.txt`, `goroutine_debug1.txt`, `goroutine_debug0.pb.gz`.
    file: &'static str,
    bytes: Vec<u8>,
}

struct Attached {
    service: &'static str,
    /// `go version BINARY`'s answer: `go1.19.8`.
    go_version: String,
    code: Option<i32>,
    stderr: String,
}

struct Collected {
    /// Why the services could not run (SKIPPED), else `None`.
    skipped: Option<String>,
    dumps: Vec<Dump>,
    attach: Vec<Attached>,
    /// What the load generator did and Prometheus scraped.
    load: String,
}

const FORMS: &[(&str, &str)] = &[
    ("goroutine_debug2.txt", "/debug/pprof/goroutine?debug=2"),
    ("goroutine_debug1.txt", "/debug/pprof/goroutine?debug=1"),
    ("goroutine_debug0.pb.gz", "/debug/pprof/goroutine?debug=0"),
];

fn take_dumps(servers: &[&Server], phase: &'static str, out: &mut Vec<Dump>) {
    for s in servers {
        let mut c = Conn::new(&s.addr);
        for (file, path) in FORMS {
            let r = c
                .get(path)
                .unwrap_or_else(|e| panic!("{} {phase}: {e}\n{}", s.name, s.log_tail()));
            assert_eq!(r.status, 200, "{} {phase} {path}: {}", s.name, r.text());
            save(format!("{phase}/{}/{file}", s.name), &r.body);
            out.push(Dump {
                service: s.name,
                phase,
                file,
                bytes: r.body,
            });
        }
    }
}

/// Waits until a service's goroutine count is the same in two `debug=1` totals 200 ms apart
/// (start-up goroutines gone), at most 20 tries.
fn settle(s: &Server) {
    let total = || {
        let t = s.get("/debug/pprof/goroutine?debug=1").text();
        t.lines().next().unwrap_or("").to_string()
    };
    let mut prev = total();
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(200));
        let now = total();
        if now == prev {
            return;
        }
        prev = now;
    }
}

fn go_version_of(bin: &Path) -> String {
    let tc = goroscope_fixtures::toolchains()
        .pop()
        .expect("toolchains() panics when there is none");
    let out = goroscope_fixtures::go_command(&tc)
        .arg("version")
        .arg(bin)
        .output()
        .expect("go version");
    let text = String::from_utf8_lossy(&out.stdout);
    text.rsplit(' ').next().unwrap_or("").trim().to_string()
}

fn collect() -> Collected {
    let missing: Vec<String> = BINARIES
        .iter()
        .filter(|(bin, _)| which(bin).is_none())
        .map(|(bin, pkg)| format!("{bin} (Debian package {pkg})"))
        .collect();
    if !missing.is_empty() {
        return Collected {
            skipped: Some(format!(
                "not installed: {}; scripts/test.sh installs them",
                missing.join(", ")
            )),
            dumps: Vec::new(),
            attach: Vec::new(),
            load: String::new(),
        };
    }
    let t0 = Instant::now();
    let etcd = etcd();
    let am = alertmanager();
    let pg = pushgateway();
    let prom = prometheus();
    eprintln!("services ready in {:.1?}", t0.elapsed());
    let servers = [&etcd, &am, &pg, &prom];

    let mut attach = Vec::new();
    for s in servers {
        let out = Command::new(env!("CARGO_BIN_EXE_goroscope"))
            .args(["attach", &s.child.id().to_string()])
            .output()
            .expect("running goroscope attach");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        save(format!("attach/{}.txt", s.name), stderr.as_bytes());
        attach.push(Attached {
            service: s.name,
            go_version: go_version_of(&s.bin),
            code: out.status.code(),
            stderr,
        });
    }

    let mut dumps = Vec::new();
    for s in servers {
        settle(s);
    }
    take_dumps(&servers, "idle", &mut dumps);

    // Load: Prometheus scrapes all four every second and alerts Alertmanager; a thread puts
    // and ranges on etcd, pushes and posts alerts.
    let jobs = [
        ("prometheus", prom.addr.as_str()),
        ("etcd", etcd.addr.as_str()),
        ("alertmanager", am.addr.as_str()),
        ("pushgateway", pg.addr.as_str()),
    ];
    prometheus_config(&prom, &jobs, &am.addr);
    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(Counters::default());
    let gen = {
        let (e, p, a) = (etcd.addr.clone(), pg.addr.clone(), am.addr.clone());
        let (stop, n) = (stop.clone(), counters.clone());
        std::thread::spawn(move || load(e, p, a, stop, n))
    };
    let deadline = Instant::now() + LOAD_TIMEOUT;
    let fired = || {
        am.get("/api/v2/alerts?filter=alertname%3D%22GoroscopeLoad%22")
            .text()
            .contains("GoroscopeLoad")
    };
    while !(scraped(&prom, &jobs, 5)
        && fired()
        && counters.etcd_puts.load(Ordering::Relaxed) >= 100)
    {
        if gen.is_finished() || Instant::now() > deadline {
            stop.store(true, Ordering::Relaxed);
            let why = gen
                .join()
                .map(|r| r.err())
                .unwrap_or(Some("panicked".into()));
            panic!(
                "load did not reach its goals within {LOAD_TIMEOUT:?}: scraped ≥ 5 times: {} ({}), \
                 alert firing in Alertmanager: {}, etcd puts: {} (generator: {why:?}); prometheus:\n{}",
                scraped(&prom, &jobs, 5),
                prom.get(UP_QUERY).text(),
                fired(),
                counters.etcd_puts.load(Ordering::Relaxed),
                prom.log_tail()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    take_dumps(&servers, "loaded", &mut dumps);
    stop.store(true, Ordering::Relaxed);
    if let Err(e) = gen.join().expect("load generator panicked") {
        panic!("load generator: {e}");
    }
    let load = format!(
        "{} etcd puts, {} ranges, {} pushes, {} alerts posted; every job scraped ≥ 5 times; GoroscopeLoad firing in Alertmanager; {:.1?} in all",
        counters.etcd_puts.load(Ordering::Relaxed),
        counters.etcd_ranges.load(Ordering::Relaxed),
        counters.pushes.load(Ordering::Relaxed),
        counters.alerts.load(Ordering::Relaxed),
        t0.elapsed()
    );
    eprintln!("{load}");
    Collected {
        skipped: None,
        dumps,
        attach,
        load,
    }
    // The servers are dropped (killed) here.
}

fn collected() -> &'static Collected {
    static C: OnceLock<Collected> = OnceLock::new();
    C.get_or_init(collect)
}

fn skipped(c: &Collected, test: &str) -> bool {
    if let Some(why) = &c.skipped {
        eprintln!("SKIPPED {test}: {why}");
        return true;
    }
    false
}

// ---------------------------------------------------------------------------------------

#[test]
fn every_form_idle_and_loaded() {
    let c = collected();
    if skipped(c, "every_form_idle_and_loaded") {
        return;
    }
    eprintln!("{}", c.load);
    for service in ["etcd", "alertmanager", "pushgateway", "prometheus"] {
        for phase in ["idle", "loaded"] {
            for (file, _) in FORMS {
                let d = c
                    .dumps
                    .iter()
                    .find(|d| d.service == service && d.phase == phase && d.file == *file)
                    .unwrap_or_else(|| panic!("no {phase} {file} of {service}"));
                let tag = format!("{service} {phase} {file}");
                let goroutines = match *file {
                    "goroutine_debug2.txt" => {
                        let t = String::from_utf8_lossy(&d.bytes);
                        assert!(
                            t.starts_with("goroutine "),
                            "{tag}: {}",
                            &t[..t.len().min(200)]
                        );
                        t.lines()
                            .filter(|l| l.starts_with("goroutine ") && l.ends_with("]:"))
                            .count() as u64
                    }
                    "goroutine_debug1.txt" => {
                        let t = String::from_utf8_lossy(&d.bytes);
                        t.lines()
                            .next()
                            .and_then(|l| l.strip_prefix("goroutine profile: total "))
                            .and_then(|n| n.trim().parse().ok())
                            .unwrap_or_else(|| panic!("{tag}: {}", &t[..t.len().min(200)]))
                    }
                    _ => {
                        let p = goroscope_pprof::decode(&d.bytes)
                            .unwrap_or_else(|e| panic!("{tag}: not a profile: {e}"));
                        p.sample
                            .iter()
                            .map(|s| s.value.first().copied().unwrap_or(0) as u64)
                            .sum()
                    }
                };
                // The smallest, Pushgateway, runs 7 goroutines when idle.
                assert!(goroutines >= 5, "{tag}: {goroutines} goroutines");
            }
        }
    }
}

/// The load is what it says: loaded Prometheus runs a scrape loop per job, idle none.
#[test]
fn loaded_prometheus_scrapes_every_job() {
    let c = collected();
    if skipped(c, "loaded_prometheus_scrapes_every_job") {
        return;
    }
    let loops = |phase: &str| {
        let d = c
            .dumps
            .iter()
            .find(|d| d.service == "prometheus" && d.phase == phase && d.file == FORMS[0].0)
            .expect("a debug=2 dump of prometheus");
        String::from_utf8_lossy(&d.bytes)
            .lines()
            .filter(|l| l.contains("/scrape.(*scrapeLoop).run("))
            .count()
    };
    assert_eq!(loops("idle"), 0);
    assert_eq!(loops("loaded"), 4, "one scrape loop per job");
}

#[test]
fn attach_names_the_go_release_it_cannot_read() {
    let c = collected();
    if skipped(c, "attach_names_the_go_release_it_cannot_read") {
        return;
    }
    assert_eq!(c.attach.len(), 4);
    for a in &c.attach {
        assert!(
            a.go_version.starts_with("go1.") && go_minor(&a.go_version) < 21,
            "{}: built with {:?}: this test expects a Go release attach cannot read yet",
            a.service,
            a.go_version
        );
        assert_eq!(a.code, Some(2), "{}: {}", a.service, a.stderr);
        assert!(
            a.stderr.contains(&a.go_version) && a.stderr.contains("Go 1.21"),
            "{}: attach should name {} and the oldest release it reads: {}",
            a.service,
            a.go_version,
            a.stderr
        );
    }
}

fn go_minor(v: &str) -> u32 {
    v.trim_start_matches("go")
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

#[test]
fn analysis_is_quiet_on_healthy_services() {
    let c = collected();
    if skipped(c, "analysis_is_quiet_on_healthy_services") {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut bad = Vec::new();
    for d in &c.dumps {
        let path = dir
            .path()
            .join(format!("{}-{}-{}", d.service, d.phase, d.file));
        std::fs::write(&path, &d.bytes).expect("writing the dump");
        let out = Command::new(env!("CARGO_BIN_EXE_goroscope"))
            .args(["analyze", "-o", "json"])
            .arg(&path)
            .output()
            .expect("running goroscope analyze");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{}: not JSON ({e}): {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        for g in json["groups"].as_array().into_iter().flatten() {
            let v = g["verdict"].as_str().unwrap_or("");
            if v == "leak" || v == "suspect" {
                bad.push(format!(
                    "{} {} {}: {v} ×{} [{}] at {} ({})",
                    d.service,
                    d.phase,
                    d.file,
                    g["count"],
                    g["wait_reason"].as_str().unwrap_or(""),
                    g["blocking_site"]["function"].as_str().unwrap_or("?"),
                    g["pattern"].as_str().unwrap_or("")
                ));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} leak/suspect groups on healthy services:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
