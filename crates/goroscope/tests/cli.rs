//! End-to-end tests of the command line: exit codes, output routing, errors that name the input.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example() -> PathBuf {
    repo().join("examples/dumps/leaky-go127.debug2.txt")
}

fn goroscope() -> Command {
    let mut c = Command::cargo_bin("goroscope").unwrap();
    c.env_remove("GOROSCOPE_LOG").env("NO_COLOR", "1");
    c
}

#[test]
fn analyze_json_has_the_documented_top_level_fields() {
    let out = goroscope()
        .args(["analyze", "--output", "json"])
        .arg(example())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["schema_version"], 2);
    assert_eq!(v["total_goroutines"], 18);
    assert_eq!(v["context"]["kind"], "live");
    let groups = v["groups"].as_array().unwrap();
    let sum: u64 = groups.iter().map(|g| g["count"].as_u64().unwrap()).sum();
    assert_eq!(sum, 18, "group counts add up to the goroutine count");
    for g in groups {
        for key in [
            "count",
            "status",
            "wait_reason",
            "top_frame",
            "created_by",
            "goids",
            "verdict",
        ] {
            assert!(g.get(key).is_some(), "group lacks {key}: {g}");
        }
    }
}

#[test]
fn fail_on_leak_exits_1_and_terminal_report_names_the_site() {
    goroscope()
        .args(["analyze", "--fail-on", "leak"])
        .arg(example())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("main.leakRecv.func1"));
    goroscope().arg("analyze").arg(example()).assert().code(0);
}

#[test]
fn stdin_is_read_when_no_input_is_named() {
    let bytes = std::fs::read(example()).unwrap();
    goroscope()
        .args(["analyze", "-o", "json"])
        .write_stdin(bytes)
        .assert()
        .success()
        .stdout(predicate::str::contains("\"total_goroutines\": 18"));
}

#[test]
fn unreadable_inputs_exit_2_with_the_input_named() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    goroscope()
        .arg("analyze")
        .arg(&empty)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("empty.txt").and(predicate::str::contains("empty")));
    let html = dir.path().join("index.html");
    std::fs::write(&html, "<!DOCTYPE html><html><body>pprof</body></html>").unwrap();
    goroscope()
        .arg("analyze")
        .arg(&html)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("index.html").and(predicate::str::contains("HTML")));
    goroscope()
        .args(["analyze", "/nonexistent/dump.txt"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/dump.txt"));
}

#[test]
fn out_never_overwrites_an_input_or_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("dump.txt");
    std::fs::copy(example(), &input).unwrap();
    let before = std::fs::read(&input).unwrap();
    goroscope()
        .args(["analyze", "-o", "json", "--force", "--out"])
        .arg(&input)
        .arg(&input)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is one of the inputs"));
    assert_eq!(
        std::fs::read(&input).unwrap(),
        before,
        "the input is untouched"
    );

    let out = dir.path().join("report.json");
    goroscope()
        .args(["analyze", "-o", "json", "--out"])
        .arg(&out)
        .arg(&input)
        .assert()
        .success();
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .contains("schema_version"));
    goroscope()
        .args(["analyze", "-o", "json", "--out"])
        .arg(&out)
        .arg(&input)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("exists"));
    // No temporary files are left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    // `goroscope … | head -c 1`: the reader goes away early. Enough output to overflow the pipe
    // buffer (40 reports), so the writer really sees EPIPE; the exit status must stay 0.
    let bin = assert_cmd::cargo::cargo_bin("goroscope");
    let inputs = vec![format!("'{}'", example().display()); 40].join(" ");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "'{}' analyze -o json {inputs} | head -c 1 >/dev/null; echo \"${{PIPESTATUS[0]}}\"",
            bin.display()
        ))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "0",
        "stderr: {stderr}"
    );
    assert!(!stderr.contains("error"), "stderr: {stderr}");
}

#[test]
fn diff_and_trend_run_on_real_dumps() {
    let samples = repo().join("../shared/research/go127-samples");
    if !samples.exists() {
        eprintln!("SKIP: {} not present", samples.display());
        return;
    }
    let a = samples.join("wait_61s_0gc_debug2.txt");
    let b = samples.join("goroutineleak_debug2.txt");
    goroscope()
        .args(["diff", "-o", "json"])
        .arg(&a)
        .arg(&b)
        .assert()
        .success()
        .stdout(predicate::str::contains("schema_version"));
    goroscope()
        .args(["trend", "-o", "json"])
        .arg(&a)
        .arg(&b)
        .assert()
        .success()
        .stdout(predicate::str::contains("schema_version"));
    goroscope()
        .args(["trend"])
        .arg(&a)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("at least two"));
}

/// `go test -c` of a module under fixtures/gotest into `dir`, with the harness's Go environment
/// (local toolchain, no proxy, the shared caches under fixtures/build).
fn build_test_binary(
    tc: &goroscope_fixtures::Toolchain,
    module: &str,
    dir: &std::path::Path,
) -> PathBuf {
    let out = dir.join(format!("{module}.test"));
    let st = goroscope_fixtures::go_command(tc)
        .args(["test", "-c", "-o"])
        .arg(&out)
        .current_dir(repo().join("fixtures/gotest").join(module))
        .status()
        .unwrap();
    assert!(st.success(), "go test -c {module} failed");
    out
}

#[test]
fn run_reports_goroutines_a_test_binary_leaves_behind_and_is_silent_on_a_clean_one() {
    // Fails loudly when no Go is installed (scripts/test.sh installs them).
    let tcs = goroscope_fixtures::toolchains();
    // The oldest and the newest release: frame layouts and wait reasons differ most between them.
    let picks = [tcs.first().unwrap(), tcs.last().unwrap()];
    for tc in picks {
        let version = &tc.version;
        let dir = tempfile::tempdir().unwrap();
        let leaky = build_test_binary(tc, "leaky", dir.path());
        let out = goroscope()
            .args(["run", "-o", "json", "--"])
            .arg(&leaky)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "go {version}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The test binary prints PASS before the report.
        let json = &stdout[stdout.find('{').expect("a JSON report")..];
        let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
        let groups = v["groups"].as_array().unwrap();
        let g = groups
            .iter()
            .find(|g| g["blocking_site"]["function"] == "goroscope.test/gotest/leaky.Fetch.func1")
            .unwrap_or_else(|| panic!("go {version}: no group for the leaked sender: {json}"));
        assert_eq!(g["count"], 3, "go {version}");
        assert_eq!(g["wait_reason"], "chan send", "go {version}");
        assert_eq!(g["blocking_site"]["line"], 13, "go {version}");
        assert_eq!(
            g["created_by"]["function"], "goroscope.test/gotest/leaky.Fetch",
            "go {version}"
        );

        let clean = build_test_binary(tc, "clean", dir.path());
        let out = goroscope()
            .arg("run")
            .arg("--")
            .arg(&clean)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "go {version}: {stdout}");
        assert!(
            !stdout.contains("SUSPECT") && !stdout.contains("LEAK"),
            "go {version}: {stdout}"
        );
    }
}
