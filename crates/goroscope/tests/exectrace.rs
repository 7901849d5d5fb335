//! Execution traces through every door, against real programs and every installed Go release
//! that writes the generation-based format (1.22+): `analyze trace.out` (file, gzipped stdin),
//! `trend` over one trace's window, `analyze URL --trace` on a live service, and `run --trace`
//! on a test binary. The fixture `exectrace_churn` counts its own births and deaths per `go`
//! statement: the JSON per-site counts must equal them, the sites that leak must be named
//! leaking with a rate, and the sites whose goroutines all end must be called steady.
//!
//! Releases that are not installed are skipped with a SKIPPED line; with none ≥ 1.22 the tests
//! say so and return.

mod common;

use common::*;
use goroscope_fixtures::{build, Fixture, StartOptions, Toolchain};
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One site as the fixture counts it.
#[derive(Debug, Clone, Deserialize)]
struct Site {
    name: String,
    function: String,
    line: u64,
    born: u64,
    ended: u64,
    alive: u64,
    leak: bool,
}

#[derive(Debug, Clone, Deserialize)]
struct Churn {
    trace: PathBuf,
    sites: Vec<Site>,
}

/// Installed releases ≥ 1.22, oldest first (a SKIPPED line when there is none).
fn trace_toolchains(what: &str) -> Vec<Toolchain> {
    let v: Vec<Toolchain> = goroscope_fixtures::installed_toolchains()
        .into_iter()
        .filter(|t| t.minor() >= 22)
        .collect();
    if v.is_empty() {
        eprintln!(
            "SKIPPED {what}: no Go release ≥ 1.22 under .toolchains (run scripts/install-go.sh)"
        );
    }
    v
}

/// Runs the fixture once to completion: its trace and its own counts.
fn churn(tc: &Toolchain, dir: &Path) -> Churn {
    let bin = build("exectrace_churn", tc);
    let trace = dir.join(format!("churn-{}.trace", tc.version));
    let out = Command::new(bin)
        .env("FIXTURE_TRACE", &trace)
        .env("FIXTURE_MODE", "start")
        .output()
        .expect("running exectrace_churn");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exectrace_churn (Go {}): {}\n{stdout}\n{}",
        tc.version,
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .expect("a RESULT line");
    serde_json::from_str(line).expect("RESULT json")
}

fn json_of(out: &std::process::Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The report's row for the `go` statement at `function`:`line`.
fn row<'a>(doc: &'a Value, function: &str, line: u64) -> Option<&'a Value> {
    doc["lifecycle"]["sites"]
        .as_array()?
        .iter()
        .find(|s| s["go_statement"]["function"] == function && s["go_statement"]["line"] == line)
}

/// Steady sites end every goroutine they start; the others leak some.
const STEADY: &[&str] = &["worker", "sleeper", "locker", "syscall", "ping", "pong"];

#[test]
fn analyze_a_trace_names_the_leaking_sites_with_their_rate_and_the_steady_ones() {
    let dir = tempfile::tempdir().unwrap();
    for tc in trace_toolchains("analyze trace.out") {
        let ctx = format!("Go {}", tc.version);
        let run = churn(&tc, dir.path());
        let out = goroscope()
            .args(["analyze", "-o", "json"])
            .arg(&run.trace)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{ctx}: leaks found");
        let doc = json_of(&out);
        assert_eq!(doc["source"]["format"], "exectrace", "{ctx}");
        assert_eq!(doc["context"]["kind"], "live", "{ctx}");
        assert_eq!(doc["lifecycle"]["source"], "exectrace", "{ctx}");
        assert!(
            doc["lifecycle"]["window_seconds"].as_f64().unwrap() >= 1.0,
            "{ctx}"
        );
        let mut checked = 0;
        for s in run.sites.iter().filter(|s| s.born > 0) {
            let r = row(&doc, &s.function, s.line).unwrap_or_else(|| {
                panic!(
                    "{ctx}: no row for site {} ({}:{})",
                    s.name, s.function, s.line
                )
            });
            // The program's own counters, exactly.
            assert_eq!(
                (&r["born"], &r["ended"], &r["alive_at_end"]),
                (
                    &Value::from(s.born),
                    &Value::from(s.ended),
                    &Value::from(s.alive)
                ),
                "{ctx}: site {}",
                s.name
            );
            if s.leak {
                assert_eq!(r["verdict"], "leak", "{ctx}: {} {r:#}", s.name);
                let rate = r["rate_per_minute"].as_f64().unwrap_or(0.0);
                assert!(rate > 0.0, "{ctx}: {} has a rate: {r:#}", s.name);
                // Its goroutines alive at the end are a leak group, decided by the window.
                let ids: Vec<&Value> = r["groups"].as_array().unwrap().iter().collect();
                assert!(!ids.is_empty(), "{ctx}: {}", s.name);
                for id in ids {
                    let g = doc["groups"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|g| &g["id"] == id)
                        .unwrap();
                    assert_eq!(g["verdict"], "leak", "{ctx}: {} {g:#}", s.name);
                    let ev = g["evidence"].to_string();
                    assert!(ev.contains("(execution window): leaking"), "{ctx}: {ev}");
                    assert!(
                        ev.contains(&format!("into the window by {} in goroutine 1", s.function)),
                        "{ctx}: {ev}"
                    );
                    assert!(ev.contains("never woken"), "{ctx}: {ev}");
                }
            } else {
                assert!(STEADY.contains(&s.name.as_str()), "{}", s.name);
                assert_eq!(r["verdict"], "benign", "{ctx}: {} {r:#}", s.name);
                assert!(r["lifetime"]["p99"].as_f64().unwrap() > 0.0, "{ctx}: {r:#}");
                assert!(
                    r["explanation"]
                        .as_str()
                        .unwrap()
                        .contains("end as they are born"),
                    "{ctx}: {r:#}"
                );
            }
            checked += 1;
        }
        assert!(checked >= 8, "{ctx}: the fixture's sites were all found");

        // The terminal names each leaking site with its rate.
        let out = goroscope().arg("analyze").arg(&run.trace).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let table = &text[text.find("Lifecycles over").expect("the per-site table")..];
        for s in run.sites.iter().filter(|s| s.leak && s.born > 0) {
            let site = format!("{} (main.go:{})", s.function, s.line);
            let line = table
                .lines()
                .position(|l| l.contains(&site))
                .unwrap_or_else(|| panic!("{ctx}: {site} in\n{table}"));
            let lines: Vec<&str> = table.lines().collect();
            assert!(
                lines[line].trim_start().starts_with("leaking"),
                "{ctx}: {}",
                lines[line]
            );
            assert!(
                lines[line + 1].trim_start().starts_with('+'),
                "{ctx}: the rate: {}",
                lines[line + 1]
            );
        }
    }
}

#[test]
fn a_gzipped_trace_on_stdin_reads_the_same() {
    let Some(tc) = trace_toolchains("gzipped trace on stdin").pop() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let run = churn(&tc, dir.path());
    let plain = goroscope()
        .args(["analyze", "-o", "json"])
        .arg(&run.trace)
        .output()
        .unwrap();
    let raw = std::fs::read(&run.trace).unwrap();
    let mut gz = Vec::new();
    {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::fast());
        e.write_all(&raw).unwrap();
        e.finish().unwrap();
    }
    let zipped = goroscope()
        .args(["analyze", "-o", "json", "-"])
        .write_stdin(gz)
        .output()
        .unwrap();
    let (a, b) = (json_of(&plain), json_of(&zipped));
    assert_eq!(b["source"]["input"], "-");
    assert_eq!(a["lifecycle"], b["lifecycle"]);
    assert_eq!(a["groups"], b["groups"]);
}

#[test]
fn trend_over_one_trace_follows_each_site_through_its_window() {
    let Some(tc) = trace_toolchains("trend over a window").pop() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let run = churn(&tc, dir.path());
    let out = goroscope()
        .args(["trend", "-o", "json"])
        .arg(&run.trace)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "leaking sites fail the trend");
    let doc = json_of(&out);
    let points = doc["sources"].as_array().unwrap().len();
    assert_eq!(points, 13, "the start and 12 steps");
    assert_eq!(doc["minutes"].as_array().unwrap().len(), points);
    for s in run.sites.iter().filter(|s| s.born > 0) {
        let g = doc["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| {
                g["group"]["created_by"]["function"] == s.function.as_str()
                    && g["group"]["created_by"]["line"] == s.line
            })
            .unwrap_or_else(|| panic!("site {}: {doc:#}", s.name));
        let counts: Vec<u64> = g["counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap())
            .collect();
        assert_eq!(counts.len(), points);
        assert_eq!(*counts.last().unwrap(), s.alive, "site {}", s.name);
        if s.leak {
            assert_eq!(g["verdict"], "leak", "{}: {g:#}", s.name);
            assert_eq!(g["growing"], true, "{}: {counts:?}", s.name);
        } else {
            assert_eq!(g["verdict"], "benign", "{}: {g:#}", s.name);
        }
    }
    let text = goroscope().arg("trend").arg(&run.trace).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("13 points of the execution window of"),
        "{text}"
    );
}

#[test]
fn trace_of_a_live_service_through_its_url() {
    for tc in trace_toolchains("--trace on a live URL") {
        let ctx = format!("Go {}", tc.version);
        let fx = Fixture::start(
            "exectrace_churn",
            &tc,
            &StartOptions {
                env: vec![("FIXTURE_MODE".into(), "serve".into())],
                ..Default::default()
            },
        );
        let url = format!("http://{}/debug/pprof/goroutine?debug=2", fx.addr);
        let out = goroscope()
            .args(["analyze", "-o", "json", "--trace", "3s"])
            .arg(&url)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{ctx}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc = json_of(&out);
        assert_eq!(doc["source"]["format"], "exectrace", "{ctx}");
        assert_eq!(
            doc["source"]["input"],
            format!("http://{}/debug/pprof/trace?seconds=3", fx.addr),
            "{ctx}"
        );
        assert_eq!(doc["context"]["kind"], "live", "{ctx}");
        let window = doc["lifecycle"]["window_seconds"].as_f64().unwrap();
        assert!(
            (2.5..4.0).contains(&window),
            "{ctx}: a 3 s window, got {window}"
        );
        for s in &fx.expect.sites {
            let line = u64::from(s.created_by_line.unwrap());
            let by = s.created_by_function.as_deref().unwrap();
            let r = row(&doc, by, line)
                .unwrap_or_else(|| panic!("{ctx}: no row for {by}:{line}: {doc:#}"));
            assert!(r["born"].as_u64().unwrap() > 0, "{ctx}: {r:#}");
            if s.leak {
                assert_eq!(r["verdict"], "leak", "{ctx}: {by} {r:#}");
                assert!(r["rate_per_minute"].as_f64().unwrap() > 0.0, "{ctx}: {r:#}");
            } else {
                assert_eq!(r["verdict"], "benign", "{ctx}: {by} {r:#}");
            }
        }
        // The goroutines that leaked before the window are its leaking sites' kin.
        let before = doc["lifecycle"]["sites"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| {
                s["entry_function"] == "main.spawnLeakSend.func1" && s["go_statement"].is_null()
            })
            .unwrap_or_else(|| panic!("{ctx}: senders from before the window: {doc:#}"));
        assert_eq!(before["verdict"], "leak", "{ctx}: {before:#}");
    }
}

#[test]
fn run_trace_tells_when_and_by_whom_each_leaked_goroutine_was_created() {
    let Some(tc) = trace_toolchains("run --trace").pop() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("leaky.test");
    let st = goroscope_fixtures::go_command(&tc)
        .args(["test", "-c", "-o"])
        .arg(&bin)
        .current_dir(repo().join("fixtures/gotest/leaky"))
        .status()
        .unwrap();
    assert!(st.success(), "go test -c leaky");
    let out = goroscope()
        .args(["run", "--trace", "-o", "json", "--"])
        .arg(&bin)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = &stdout[stdout.find('{').expect("a JSON report")..];
    let doc: Value = serde_json::from_str(json.trim()).unwrap();
    // The snapshot read from memory at exit, with the trace's window.
    assert_eq!(doc["source"]["format"], "attach");
    let site = row(&doc, "goroscope.test/gotest/leaky.Fetch", 11)
        .unwrap_or_else(|| panic!("the Fetch go statement: {doc:#}"));
    assert_eq!(
        (&site["born"], &site["alive_at_end"]),
        (&Value::from(3), &Value::from(3))
    );
    let g = doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["blocking_site"]["function"] == "goroscope.test/gotest/leaky.Fetch.func1")
        .unwrap();
    assert_eq!(g["verdict"], "leak");
    let ev = g["evidence"].to_string();
    assert!(
        ev.contains("into the window by goroscope.test/gotest/leaky.Fetch in goroutine"),
        "{ev}"
    );
    assert!(ev.contains("blocked in chan send since"), "{ev}");
    // No trace file is left behind, and other programs are refused with how to get a trace.
    let leftovers: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("goroscope-run-trace-")
        })
        .filter(|e| e.path().join("trace.out").exists())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    goroscope()
        .args(["run", "--trace", "--", "/bin/true"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("Go test binary"));
}

#[test]
fn trace_flag_on_a_file_is_said_to_do_nothing_and_refused_with_a_core() {
    let out = goroscope()
        .args(["analyze", "--trace", "2s"])
        .arg(example())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the example's leaks");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--trace takes the execution trace of a URL input")
            && err.contains("is read as it is"),
        "{err}"
    );
    goroscope()
        .args(["analyze", "--core", "/nonexistent/core", "--trace", "2s"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--trace is for reading dumps"));
}
