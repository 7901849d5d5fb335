//! End-to-end tests of the command line: exit codes, output routing, errors that name the input.

mod common;

use common::{example, goroscope, repo, serve};
use predicates::prelude::*;
use std::path::PathBuf;

#[test]
fn analyze_json_has_the_documented_top_level_fields() {
    let out = goroscope()
        .args(["analyze", "--output", "json"])
        .arg(example())
        .assert()
        .code(1)
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
}

/// A dump whose only finding is a suspect: one goroutine blocked sending in user code, whose
/// creator (goroutine 42) is gone.
const SUSPECT_ONLY: &str = "goroutine 1 [running]:\nmain.main()\n\t/src/main.go:5 +0x1d\n\ngoroutine 7 [chan send]:\nmain.produce()\n\t/src/main.go:12 +0x1d\ncreated by main.main in goroutine 42\n\t/src/main.go:20 +0x25\n";

/// A dump with nothing to find.
const CLEAN: &str = "goroutine 1 [running]:\nmain.main()\n\t/src/main.go:5 +0x1d\n";

#[test]
fn exit_codes_follow_fail_on_for_every_judging_command() {
    let dir = tempfile::tempdir().unwrap();
    let suspect = dir.path().join("suspect.txt");
    std::fs::write(&suspect, SUSPECT_ONLY).unwrap();
    let clean = dir.path().join("clean.txt");
    std::fs::write(&clean, CLEAN).unwrap();
    // Proven leaks fail by default (the README and --help say so); `never` opts out.
    goroscope().arg("analyze").arg(example()).assert().code(1);
    goroscope()
        .args(["analyze", "--fail-on", "never"])
        .arg(example())
        .assert()
        .code(0);
    // A suspect fails only with --fail-on suspect.
    goroscope().arg("analyze").arg(&suspect).assert().code(0);
    goroscope()
        .args(["analyze", "--fail-on", "suspect"])
        .arg(&suspect)
        .assert()
        .code(1);
    goroscope().arg("analyze").arg(&clean).assert().code(0);
    // diff: the leaks are new in AFTER.
    goroscope()
        .arg("diff")
        .arg(&clean)
        .arg(example())
        .assert()
        .code(1);
    goroscope()
        .args(["diff", "--fail-on", "never"])
        .arg(&clean)
        .arg(example())
        .assert()
        .code(0);
    // trend: the proven leaks stay leaks across the snapshots.
    goroscope()
        .arg("trend")
        .arg(example())
        .arg(example())
        .assert()
        .code(1);
    goroscope()
        .args(["trend", "--fail-on", "never"])
        .arg(example())
        .arg(example())
        .assert()
        .code(0);
    // An error is 2 whatever --fail-on says.
    goroscope()
        .args(["analyze", "--fail-on", "never", "/nonexistent/dump.txt"])
        .assert()
        .code(2);
}

#[test]
fn help_and_readme_state_the_exit_codes_and_run_s_default() {
    let help = goroscope().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("default: leak"), "{help}");
    assert!(help.contains("`run`: suspect"), "{help}");
    for (cmd, default) in [
        ("analyze", "leak"),
        ("diff", "leak"),
        ("trend", "leak"),
        ("attach", "leak"),
        ("run", "suspect"),
    ] {
        let out = goroscope().args([cmd, "--help"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let at = text
            .find("--fail-on")
            .unwrap_or_else(|| panic!("{cmd}: {text}"));
        // Up to the next flag.
        let end = text[at..]
            .find("\n      --")
            .or_else(|| text[at..].find("\n  -"))
            .map_or(text.len(), |e| at + e);
        let section = &text[at..end];
        assert!(
            section.contains(&format!("[default: {default}]")),
            "{cmd}: {section}"
        );
        assert!(section.contains("never"), "{cmd}: {section}");
    }
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(
        readme.contains("`--fail-on leak`")
            && readme.contains("`run` defaults to `--fail-on suspect`"),
        "README states the exit codes and run's default"
    );
}

#[test]
fn stdin_is_read_when_no_input_is_named() {
    let bytes = std::fs::read(example()).unwrap();
    goroscope()
        .args(["analyze", "-o", "json"])
        .write_stdin(bytes)
        .assert()
        .code(1)
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
        .code(1);
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
        .args(["diff", "-o", "json", "--fail-on", "never"])
        .arg(&a)
        .arg(&b)
        .assert()
        .success()
        .stdout(predicate::str::contains("schema_version"));
    goroscope()
        .args(["trend", "-o", "json", "--fail-on", "never"])
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

#[test]
fn an_os_error_is_printed_once() {
    let out = goroscope()
        .args(["analyze", "/nonexistent/dump.txt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.matches("No such file or directory").count(),
        1,
        "the cause once: {err}"
    );
    assert!(
        err.starts_with("goroscope: error: /nonexistent/dump.txt"),
        "{err}"
    );
}

#[test]
fn one_bad_input_among_several_is_named_and_the_others_reported() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("notes.txt");
    std::fs::write(&bad, "these are not goroutines\n").unwrap();
    let out = goroscope()
        .args(["analyze", "-o", "json", "--fail-on", "never"])
        .arg(example())
        .arg(&bad)
        .arg("/nonexistent/dump.txt")
        .arg(example())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "an error happened: exit 2 at the end"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("notes.txt"), "{stderr}");
    assert!(stderr.contains("/nonexistent/dump.txt"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let docs = v.as_array().expect("one document per good input");
    assert_eq!(docs.len(), 2);
    assert!(docs.iter().all(|d| d["total_goroutines"] == 18));
    // trend goes on with the good ones when at least two remain.
    let out = goroscope()
        .args(["trend", "--fail-on", "never"])
        .arg(example())
        .arg(&bad)
        .arg(example())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 snapshots"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("notes.txt"));
}

#[test]
fn flags_that_would_do_nothing_are_refused_or_warned_about() {
    let ex = example();
    let ex = ex.to_str().unwrap();
    for (args, says) in [
        (
            vec!["analyze", "--prove", ex],
            "none of the inputs is a URL",
        ),
        (vec!["analyze", "--pause", ex], "--pause stops the threads"),
        (
            vec!["analyze", "--system", ex],
            "--system applies to memory reads",
        ),
        (vec!["analyze", "--exe", "/bin/true", ex], "--core"),
        (vec!["analyze", "--prove-timeout", "5s", ex], "--prove"),
        (vec!["trend", "--samples", "3", ex, ex], "--every"),
        (vec!["trend", "--every", "1s", ex], "is not one"),
        (vec!["analyze", "--force", ex], "--out"),
        (vec!["diff", "-o", "html", ex, ex], "html"),
        (vec!["analyze", "-A", "no-such-rule", ex], "no-such-rule"),
    ] {
        goroscope()
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(says));
    }
    // Harmless no-ops are warnings: the report still comes.
    for (args, says) in [
        (
            vec!["analyze", "--timeout", "5s", ex],
            "--timeout applies to URL inputs",
        ),
        (
            vec!["analyze", "--debug", "1", ex],
            "--debug applies to URL inputs",
        ),
        (
            vec!["analyze", "-o", "json", "--top", "3", ex],
            "--top applies",
        ),
        (
            vec!["analyze", "-o", "json", "--width", "50", ex],
            "--width applies",
        ),
    ] {
        let mut all = vec!["--fail-on", "never"];
        all.extend(&args[1..]);
        goroscope()
            .arg(args[0])
            .args(&all)
            .assert()
            .code(0)
            .stderr(predicate::str::contains(says));
    }
}

#[test]
fn help_lists_only_the_outputs_a_command_writes_and_names_the_rules() {
    let help = |cmd: &str| {
        let out = goroscope().args([cmd, "--help"]).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let analyze = help("analyze");
    let diff = help("diff");
    let trend = help("trend");
    assert!(analyze.contains("- html:"), "{analyze}");
    for (name, text) in [("diff", &diff), ("trend", &trend)] {
        assert!(
            !text.contains("- html:"),
            "{name} cannot write html: {text}"
        );
        assert!(text.contains("- svg:"), "{name}: {text}");
    }
    assert!(diff.contains("differential flame graph"), "{diff}");
    for text in [&analyze, &diff, &trend, &help("attach"), &help("run")] {
        for id in ["nil-chan", "waitgroup-missing-done", "background-loop"] {
            assert!(text.contains(id), "-A/-W/-D help names {id}");
        }
    }
}

#[test]
fn rules_lists_the_catalog_and_explains_one() {
    let out = goroscope().arg("rules").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let list = String::from_utf8_lossy(&out.stdout);
    for id in [
        "nil-chan",
        "chan-send-receiver-gone",
        "mutex-never-unlocked",
    ] {
        assert!(list.lines().any(|l| l.starts_with(id)), "{id}: {list}");
    }
    goroscope()
        .args(["rules", "waitgroup-missing-done"])
        .assert()
        .code(0)
        .stdout(
            predicate::str::contains("detects")
                .and(predicate::str::contains("why"))
                .and(predicate::str::contains("example"))
                .and(predicate::str::contains("defer wg.Done()")),
        );
    goroscope()
        .args(["rules", "no-such-rule"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown rule").and(predicate::str::contains("nil-chan")));
}

#[test]
fn trend_polling_survives_a_failed_poll_and_marks_the_gap() {
    let body = std::fs::read_to_string(example()).unwrap();
    // The third poll fails.
    let port = serve(move |i, _| {
        if i == 2 {
            (500, "temporarily broken\n".into())
        } else {
            (200, body.clone())
        }
    });
    let url = format!("http://127.0.0.1:{port}/debug/pprof/goroutine");
    let out = goroscope()
        .args([
            "trend",
            "--every",
            "20ms",
            "--samples",
            "4",
            "--fail-on",
            "never",
            "-o",
            "json",
        ])
        .arg(&url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("poll 3/4"),
        "warned as it happened: {stderr}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["sources"].as_array().unwrap().len(),
        3,
        "the 3 good polls"
    );
    let warnings = v["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let w = warnings[0].as_str().unwrap();
    assert!(
        w.contains("poll 3/4") && w.contains("gap") && w.contains("500"),
        "{w}"
    );
    // The terminal report shows the gap too.
    let body = std::fs::read_to_string(example()).unwrap();
    let port = serve(move |i, _| {
        if i == 1 {
            (503, "busy\n".into())
        } else {
            (200, body.clone())
        }
    });
    let url = format!("http://127.0.0.1:{port}/debug/pprof/goroutine");
    goroscope()
        .args([
            "trend",
            "--every",
            "20ms",
            "--samples",
            "3",
            "--fail-on",
            "never",
        ])
        .arg(&url)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("poll 2/3"));
    // A failed first poll ends it: most likely a wrong URL.
    let port = serve(|_, _| (404, "404 page not found\n".into()));
    goroscope()
        .args(["trend", "--every", "20ms", "--samples", "3"])
        .arg(format!("http://127.0.0.1:{port}/debug/pprof/goroutine"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("first poll"));
}

#[test]
fn the_terminal_width_comes_from_the_terminal() {
    // A real pseudo-terminal 50 columns wide, $COLUMNS unset (shells do not export it).
    let bin = assert_cmd::cargo::cargo_bin("goroscope");
    let out = std::process::Command::new("script")
        .args(["-qec"])
        .arg(format!(
            "stty cols 50 rows 40; '{}' analyze --fail-on never '{}'",
            bin.display(),
            example().display()
        ))
        .arg("/dev/null")
        .env_remove("COLUMNS")
        .env("NO_COLOR", "1")
        .output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        other => {
            eprintln!("SKIPPED: cannot run `script` for a pseudo-terminal: {other:?}");
            return;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert!(text.contains("LEAK (proven)"), "{text}");
    let widest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(
        widest <= 50,
        "a line of {widest} columns on a 50-column terminal:\n{text}"
    );
    assert!(widest > 40, "laid out for 50, not the 40 minimum:\n{text}");
}

#[test]
fn verbosity_reaches_the_report_and_labels_show_without_it() {
    let run = |v: &[&str]| {
        let out = goroscope()
            .args(v)
            .args(["analyze", "--fail-on", "never"])
            .arg(example())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8(out.stdout).unwrap()
    };
    let (v0, v1, v2) = (run(&[]), run(&["-v"]), run(&["-vv"]));
    // The example's labelled workers: their handler and tenant, shown by default.
    assert!(v0.contains("handler=/api/orders"), "{v0}");
    assert!(v0.contains("tenant=\"acme corp\""), "{v0}");
    for detail in ["evidence", "goids", "  stack"] {
        assert!(!v0.contains(detail), "{detail} without -v: {v0}");
        assert!(v1.contains(detail), "{detail} with -v: {v1}");
    }
    assert!(v1.contains("COUNT  VERDICT") && !v2.contains("COUNT  VERDICT"));
    assert!(
        v2.contains("main.lockedSleeper.func1 ("),
        "benign groups in full: {v2}"
    );
}
