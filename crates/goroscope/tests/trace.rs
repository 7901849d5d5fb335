//! `goroscope trace PID`: what a user sees. With the `ebpf` feature and root these run the
//! tracer on a fixture service (a leak in progress named with its rate, the healthy sites
//! steady; a SIGKILL or SIGINT of goroscope never hurts the target; without privileges the error
//! names what is missing); without the feature the command says it was not built in.

mod common;

#[cfg(not(feature = "ebpf"))]
#[test]
fn without_the_feature_trace_says_it_was_not_built_in() {
    let out = common::goroscope()
        .args(["trace", "1", "--for", "1s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not built into this goroscope"), "{err}");
    assert!(err.contains("--features ebpf"), "{err}");
}

#[cfg(feature = "ebpf")]
mod ebpf {
    use super::common::goroscope;
    use goroscope_fixtures::{build, toolchains};
    use std::io::{BufRead, BufReader};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    fn cannot_trace() -> Option<String> {
        let m = goroscope_trace::preflight::Facts::gather().missing();
        (!m.is_empty()).then(|| {
            m.iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// `trace_service` of the newest release; killed on drop.
    struct Service {
        child: Child,
        addr: String,
        binary: std::path::PathBuf,
    }

    impl Service {
        fn start() -> Service {
            let tc = toolchains().pop().unwrap();
            let binary = build("trace_service", &tc);
            let mut child = Command::new(&binary)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut addr = String::new();
            for l in BufReader::new(child.stdout.take().unwrap()).lines() {
                let l = l.unwrap();
                if let Some(a) = l.strip_prefix("ADDR ") {
                    addr = a.to_string();
                }
                if l == "READY" {
                    break;
                }
            }
            Service {
                child,
                addr,
                binary,
            }
        }

        /// The load generator: `conns` connections GET `path` at `rate`/s for `secs`.
        fn load(&self, path: &str, conns: u32, secs: u32, rate: u32) -> Child {
            Command::new(&self.binary)
                .args(["load", &self.addr, path])
                .args([conns.to_string(), secs.to_string(), rate.to_string()])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        }

        fn alive(&mut self) -> bool {
            self.child.try_wait().unwrap().is_none()
        }
    }

    impl Drop for Service {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// SIGTERM to the load generator, and its failures.
    fn load_failures(mut c: Child) -> u64 {
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        let mut s = String::new();
        std::io::Read::read_to_string(c.stdout.as_mut().unwrap(), &mut s).unwrap();
        c.wait().unwrap();
        let line = s
            .lines()
            .find_map(|l| l.strip_prefix("LOAD "))
            .unwrap_or_else(|| panic!("no LOAD line: {s}"));
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["requests"].as_u64().unwrap() > 0, "{v}");
        v["failures"].as_u64().unwrap()
    }

    #[test]
    fn a_leak_in_progress_is_named_with_its_rate_and_healthy_sites_are_steady() {
        if let Some(why) = cannot_trace() {
            eprintln!("SKIPPED a_leak_in_progress_is_named_with_its_rate: {why}");
            return;
        }
        let mut svc = Service::start();
        // Steady load: one leaked goroutine per /leak request (20 a second), and healthy
        // churn from /work (4 goroutines a request, 800 a second).
        let leak = svc.load("/leak", 1, 120, 20);
        let work = svc.load("/work", 2, 120, 200);
        let out = goroscope()
            .args([
                "trace",
                &svc.child.id().to_string(),
                "--for",
                "30s",
                "-o",
                "json",
            ])
            .timeout(Duration::from_secs(120))
            .output()
            .unwrap();
        assert_eq!(load_failures(leak), 0);
        assert_eq!(load_failures(work), 0);
        assert!(svc.alive());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "leaks found: exit 1; stderr: {err}"
        );
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let report = &j;
        let lc = &report["lifecycle"];
        assert_eq!(lc["source"], "ebpf", "{lc}");
        let w = lc["window_seconds"].as_f64().unwrap();
        assert!((29.0..40.0).contains(&w), "{w}");
        let site = |f: &str| {
            lc["sites"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["go_statement"]["function"] == f)
                .unwrap_or_else(|| panic!("no site {f}: {lc}"))
                .clone()
        };
        let leaky = site("main.leakOne");
        assert_eq!(leaky["verdict"], "leak", "{leaky}");
        assert_eq!(leaky["go_statement"]["line"], 60, "{leaky}");
        let rate = leaky["rate_per_minute"].as_f64().unwrap();
        assert!(
            (900.0..1500.0).contains(&rate),
            "20 a second is 1200 a minute: {rate}"
        );
        for healthy in ["main.work", "net/http.(*connReader).startBackgroundRead"] {
            let s = site(healthy);
            assert_eq!(s["verdict"], "benign", "{healthy} is steady: {s}");
            assert!(s["born"].as_u64().unwrap() > 100, "{s}");
        }
        // The leak group of the report is the leaking site's goroutines.
        let groups = report["groups"].as_array().unwrap();
        assert!(
            groups
                .iter()
                .any(|g| g["verdict"] == "leak" && g["created_by"]["function"] == "main.leakOne"),
            "{report}"
        );
    }

    /// The probed instructions of the service, read from its memory.
    fn probe_bytes(svc: &Service) -> Vec<(Vec<u8>, Vec<u8>)> {
        let bin = goroscope_attach::binary::GoBinary::load(&svc.binary).unwrap();
        let plan = goroscope_trace::plan::plan(&bin, false).unwrap();
        let mem = goroscope_attach::memory::LiveMemory {
            pid: svc.child.id(),
        };
        plan.probes
            .iter()
            .map(|p| {
                let mut b = vec![0u8; p.bytes.len()];
                mem.try_read(p.addr, &mut b).unwrap();
                (b, p.bytes.clone())
            })
            .collect()
    }

    /// Starts `goroscope trace` on the service and waits (by looking) until its probes are in
    /// the service's code.
    fn trace_attached(svc: &Service) -> Child {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_goroscope"))
            .args(["trace", &svc.child.id().to_string(), "-o", "json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !probe_bytes(svc).iter().all(|(now, _)| now[0] == 0xcc) {
            assert!(Instant::now() < deadline, "goroscope never attached");
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    }

    fn wait_restored(svc: &Service) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !probe_bytes(svc).iter().all(|(now, file)| now == file) {
            assert!(
                Instant::now() < deadline,
                "the probes were not removed: {:?}",
                probe_bytes(svc)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn sigkill_or_sigint_of_goroscope_never_hurts_the_target() {
        if let Some(why) = cannot_trace() {
            eprintln!("SKIPPED sigkill_or_sigint_of_goroscope_never_hurts_the_target: {why}");
            return;
        }
        let mut svc = Service::start();
        let load = svc.load("/work", 2, 600, 300);
        for sig in [libc::SIGKILL, libc::SIGINT, libc::SIGTERM, libc::SIGKILL] {
            let mut g = trace_attached(&svc);
            unsafe { libc::kill(g.id() as i32, sig) };
            let st = g.wait().unwrap();
            wait_restored(&svc);
            assert!(svc.alive(), "signal {sig}: the service died");
            if sig != libc::SIGKILL {
                // Stopped by the signal: detached and reported (the report reads the service).
                let mut out = String::new();
                std::io::Read::read_to_string(g.stdout.as_mut().unwrap(), &mut out).unwrap();
                let j: serde_json::Value = serde_json::from_str(&out)
                    .unwrap_or_else(|e| panic!("signal {sig}: {e}: {out}"));
                assert_eq!(j["lifecycle"]["source"], "ebpf");
                assert!(st.code().is_some(), "signal {sig}: {st:?}");
            }
        }
        assert_eq!(load_failures(load), 0);
        assert!(svc.alive());
    }

    #[test]
    fn without_privileges_the_error_names_what_is_missing() {
        if cannot_trace().is_some() {
            eprintln!("SKIPPED without_privileges_the_error_names_what_is_missing: not root here, the others show it");
            return;
        }
        let Ok(setpriv) = which("setpriv") else {
            eprintln!("SKIPPED without_privileges_the_error_names_what_is_missing: no setpriv");
            return;
        };
        let mut svc = Service::start();
        let out = std::process::Command::new(setpriv)
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
            ])
            .arg(env!("CARGO_BIN_EXE_goroscope"))
            .args(["trace", &svc.child.id().to_string(), "--for", "1s"])
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("CAP_BPF and CAP_PERFMON (or root)"), "{err}");
        assert!(err.contains("no capabilities (not root)"), "{err}");
        assert!(svc.alive());
    }

    fn which(name: &str) -> Result<std::path::PathBuf, ()> {
        std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
            .ok_or(())
    }
}
