//! goroscope and the in-process half, `go/guard`: a goroutine leaked in a guarded site is
//! reported with the site's name (the pprof label `guard.site`) by `goroscope run` (read from
//! memory at exit) and by `goroscope analyze` of debug=2, debug=1 and protobuf dumps; and the
//! guard module's own test binaries leave nothing behind under `goroscope run`.
//!
//! The fixture is `fixtures/go/guarded` (see `fixtures/go/README.md`). Needs the Go releases of
//! `scripts/install-go.sh`; without them the harness fails loudly.

use assert_cmd::Command;
use goroscope_fixtures::{build, toolchains, ExpectSite, Fixture, StartOptions, Toolchain};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn goroscope() -> Command {
    let mut c = Command::cargo_bin("goroscope").unwrap();
    c.env_remove("GOROSCOPE_LOG").env("NO_COLOR", "1");
    c
}

fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The JSON report's group of an expected site: its blocking site is the site's function, file
/// and line.
fn group_of<'a>(report: &'a Value, site: &ExpectSite, what: &str) -> &'a Value {
    report["groups"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no groups in {report}"))
        .iter()
        .find(|g| {
            let b = &g["blocking_site"];
            b["function"] == site.function.as_str()
                && base(b["file"].as_str().unwrap_or("")) == site.file
                && site.line.is_none_or(|l| b["line"] == l)
        })
        .unwrap_or_else(|| panic!("{what}: no group blocked at {site}: {report:#}"))
}

/// The group carries the site's guard labels (and says how many goroutines it holds).
fn assert_guarded(report: &Value, site: &ExpectSite, what: &str, labels: bool) {
    let g = group_of(report, site, what);
    assert_eq!(g["count"], site.count, "{what}: {site}: {g:#}");
    if !labels {
        return;
    }
    for key in ["guard.site", "guard.limit"] {
        let want = site
            .labels
            .get(key)
            .unwrap_or_else(|| panic!("{what}: EXPECT's {site} has no {key} label"));
        assert_eq!(
            g["labels"][key],
            serde_json::json!([want]),
            "{what}: {site}: labels {}",
            g["labels"]
        );
    }
}

fn guarded_sites(fx_sites: &[ExpectSite]) -> Vec<&ExpectSite> {
    let sites: Vec<_> = fx_sites
        .iter()
        .filter(|s| s.leak && s.labels.contains_key("guard.site"))
        .collect();
    assert_eq!(
        sites.len(),
        2,
        "the guarded fixture has two guarded leak sites: {fx_sites:?}"
    );
    sites
}

/// `goroscope run` of the fixture in its exit mode: the program prints its EXPECT line and exits
/// with its leaked goroutines still parked.
fn check_run(tc: &Toolchain) {
    let what = format!("go {} goroscope run", tc.version);
    let bin = build("guarded", tc);
    let out = goroscope()
        .args(["run", "-o", "json", "--"])
        .arg(&bin)
        .env("FIXTURE_EXIT", "1")
        .env_remove("FIXTURE_N")
        .env_remove("FIXTURE_PANIC")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: a leak at exit must fail the run\nstdout: {stdout}\nstderr: {stderr}"
    );
    // The program's own lines (ADDR, EXPECT) come first, then goroscope's report.
    let expect = stdout
        .lines()
        .find_map(|l| l.strip_prefix("EXPECT "))
        .unwrap_or_else(|| panic!("{what}: no EXPECT line: {stdout}"));
    let expect: goroscope_fixtures::Expect = serde_json::from_str(expect).unwrap();
    let json = &stdout[stdout
        .find("\n{")
        .unwrap_or_else(|| panic!("{what}: no report: {stdout}"))..];
    let report: Value = serde_json::from_str(json.trim()).unwrap();
    for site in guarded_sites(&expect.sites) {
        assert_guarded(&report, site, &what, true);
        // From memory, the creator is known too: the guard's go statement for a guarded
        // goroutine, the fixture's own for the helper that inherited the labels.
        let g = group_of(&report, site, &what);
        assert_eq!(
            g["created_by"]["function"],
            site.created_by_function.as_deref().unwrap(),
            "{what}: {site}"
        );
    }
}

/// `goroscope analyze` of each dump form of a running fixture.
fn check_analyze(tc: &Toolchain, dir: &Path) {
    // Go 1.27 prints labels in debug=2 headers with GODEBUG=tracebacklabels=1; older releases
    // never do (their debug=1 and protobuf forms carry labels either way).
    let labels_in_debug2 = tc.has_traceback_labels();
    let mut fx = Fixture::start(
        "guarded",
        tc,
        &StartOptions {
            labels: labels_in_debug2,
            ..Default::default()
        },
    );
    let sites: Vec<ExpectSite> = guarded_sites(&fx.expect.sites)
        .into_iter()
        .cloned()
        .collect();
    for (form, query, labels) in [
        ("debug2", "debug=2", labels_in_debug2),
        ("debug1", "debug=1", true),
        ("proto", "debug=0", true),
    ] {
        let what = format!("go {} goroscope analyze ({form})", tc.version);
        let body = fx
            .fetch(&format!("/debug/pprof/goroutine?{query}"))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let file = dir.join(format!("guarded-{}.{form}", tc.version));
        std::fs::write(&file, body).unwrap();
        let out = goroscope()
            .args(["analyze", "-o", "json"])
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        for site in &sites {
            assert_guarded(&report, site, &what, labels);
        }
    }
}

#[test]
fn a_leak_in_a_guarded_site_is_named_by_its_labels_in_run_and_analyze() {
    let dir = tempfile::tempdir().unwrap();
    for tc in toolchains() {
        check_run(&tc);
        check_analyze(&tc, dir.path());
    }
}

/// `go test -c` of a package of the guard module into `dir` (the harness's Go environment).
fn build_guard_test(tc: &Toolchain, pkg: &str, dir: &Path) -> PathBuf {
    let out = dir.join(format!("{}.test", pkg.replace('/', "_")));
    let st = goroscope_fixtures::go_command(tc)
        .args(["test", "-c", "-o"])
        .arg(&out)
        .arg(pkg)
        .current_dir(repo().join("go/guard"))
        .status()
        .unwrap();
    assert!(st.success(), "go {}: go test -c {pkg} failed", tc.version);
    out
}

/// The module checks itself for leaks (its TestMain fails when a goroutine is left); goroscope
/// reads what is alive at exit from outside and must agree: nothing to report.
#[test]
fn the_guard_modules_tests_leave_nothing_behind_under_goroscope_run() {
    let tcs = toolchains();
    // The oldest and the newest release: their runtimes differ most.
    for tc in [tcs.first().unwrap(), tcs.last().unwrap()] {
        let dir = tempfile::tempdir().unwrap();
        for pkg in [".", "./example/service"] {
            let bin = build_guard_test(tc, pkg, dir.path());
            let out = goroscope()
                .args(["run", "--"])
                .arg(&bin)
                .current_dir(dir.path())
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(0),
                "go {} {pkg}:\nstdout: {stdout}\nstderr: {stderr}",
                tc.version
            );
            assert!(stdout.contains("PASS"), "go {} {pkg}: {stdout}", tc.version);
            assert!(
                !stdout.contains("LEAK") && !stdout.contains("SUSPECT"),
                "go {} {pkg}: {stdout}",
                tc.version
            );
        }
    }
}
