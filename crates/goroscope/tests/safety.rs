//! The command line against what could hurt its user: `--out` pointed at things that are not a
//! regular file, secrets in URLs, and control characters in dumps. Each test runs the real
//! binary.

mod common;

use common::{example, goroscope, serve};
use predicates::prelude::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;

// ---- --out ----

#[test]
fn out_refuses_a_symlink_and_leaves_it_and_its_target_alone() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("precious.txt");
    std::fs::write(&target, "keep me").unwrap();
    let link = dir.path().join("report.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    goroscope()
        .args(["analyze", "-o", "json", "--force", "--out"])
        .arg(&link)
        .arg(example())
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("is a symbolic link")
                .and(predicate::str::contains("precious.txt"))
                .and(predicate::str::contains("does not write through links")),
        );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(leftovers(dir.path()), 2, "no temporary file left");
}

#[test]
fn out_refuses_a_fifo_a_directory_and_a_device() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());
    goroscope()
        .args(["analyze", "-o", "json", "--force", "--out"])
        .arg(&fifo)
        .arg(example())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is a FIFO, not a regular file"));
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());

    goroscope()
        .args(["analyze", "-o", "json", "--force", "--out"])
        .arg(dir.path())
        .arg(example())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is a directory"));

    // A device node of our own (not /dev/null: an unfixed goroscope run as root would replace
    // it). Making one needs CAP_MKNOD.
    let dev = dir.path().join("null");
    let made = std::process::Command::new("mknod")
        .arg(&dev)
        .args(["c", "1", "3"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if made {
        goroscope()
            .args(["analyze", "-o", "json", "--force", "--out"])
            .arg(&dev)
            .arg(example())
            .assert()
            .code(2)
            .stderr(predicate::str::contains("is a character device"));
        assert!(std::fs::symlink_metadata(&dev)
            .unwrap()
            .file_type()
            .is_char_device());
    } else {
        eprintln!("SKIPPED: the device-node case needs CAP_MKNOD (run as root)");
    }
    assert_eq!(leftovers(dir.path()), if made { 2 } else { 1 });
}

#[test]
fn out_dash_is_stdout_and_force_replaces_a_regular_file_keeping_its_mode() {
    let dir = tempfile::tempdir().unwrap();
    goroscope()
        .current_dir(dir.path())
        .args(["analyze", "-o", "json", "--out", "-", "--fail-on", "never"])
        .arg(example())
        .assert()
        .code(0)
        .stdout(predicate::str::contains("\"schema_version\""));
    assert_eq!(leftovers(dir.path()), 0, "no file named '-'");

    let out = dir.path().join("report.json");
    std::fs::write(&out, "old").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o640)).unwrap();
    goroscope()
        .args([
            "analyze",
            "-o",
            "json",
            "--force",
            "--fail-on",
            "never",
            "--out",
        ])
        .arg(&out)
        .arg(example())
        .assert()
        .code(0);
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .contains("schema_version"));
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    assert_eq!(leftovers(dir.path()), 1);
}

#[test]
fn out_never_replaces_an_input_under_another_name() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("dump.txt");
    std::fs::copy(example(), &input).unwrap();
    let alias = dir.path().join("alias.txt");
    std::fs::hard_link(&input, &alias).unwrap();
    let before = std::fs::read(&input).unwrap();
    goroscope()
        .args(["analyze", "-o", "json", "--force", "--out"])
        .arg(&alias)
        .arg(&input)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is one of the inputs"));
    // The baseline is an input too.
    let other = dir.path().join("other.txt");
    std::fs::copy(example(), &other).unwrap();
    let baseline = dir.path().join("baseline.txt");
    std::fs::copy(example(), &baseline).unwrap();
    goroscope()
        .args(["analyze", "-o", "json", "--force", "--baseline"])
        .arg(&baseline)
        .arg("--out")
        .arg(&baseline)
        .arg(&other)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is one of the inputs"));
    assert_eq!(std::fs::read(&input).unwrap(), before);
    assert_eq!(std::fs::read(&baseline).unwrap(), before);
}

/// Entries in `dir` (temporary files would show up here).
fn leftovers(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

// ---- secrets in URLs ----

/// A dump with a warning in it (a goroutine cut off mid-frame), so the warning path names the
/// input too.
fn dump_with_warning() -> String {
    let mut d = std::fs::read_to_string(example()).unwrap();
    d.push_str("\ngoroutine 999 [chan receive]:\nmain.cut(");
    d
}

const SECRETS: [&str; 3] = ["hunter2", "tok123", "sig456"];

fn assert_no_secret(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for s in SECRETS {
        assert!(!text.contains(s), "{what} shows the secret {s}:\n{text}");
    }
}

#[test]
fn secrets_in_a_url_appear_in_no_output_form_and_no_message() {
    let body = dump_with_warning();
    let port = serve(move |_, _| (200, body.clone()));
    let url = format!(
        "http://admin:hunter2@127.0.0.1:{port}/debug/pprof/goroutine?debug=2&access_token=tok123&X-Amz-Signature=sig456"
    );
    let dir = tempfile::tempdir().unwrap();
    for form in [
        "terminal", "json", "markdown", "html", "svg", "folded", "pprof", "junit",
    ] {
        let file = dir.path().join(format!("out.{form}"));
        let out = goroscope()
            .args(["-v", "analyze", "--fail-on", "never", "-o", form, "--out"])
            .arg(&file)
            .arg(&url)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{form}: {out:?}");
        assert_no_secret(&format!("{form} stderr"), &out.stderr);
        let written = std::fs::read(&file).unwrap();
        let written = if form == "pprof" {
            let mut d = flate2_free_gunzip(&written);
            d.extend_from_slice(&written);
            d
        } else {
            written
        };
        assert_no_secret(form, &written);
        if !matches!(form, "folded" | "pprof") {
            let text = String::from_utf8_lossy(&written);
            assert!(
                text.contains(&format!("127.0.0.1:{port}")),
                "{form} still names the host"
            );
        }
    }
    // JSON's `input` is the redacted URL.
    let out = goroscope()
        .args(["analyze", "--fail-on", "never", "-o", "json"])
        .arg(&url)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let input = v["source"]["input"].as_str().unwrap();
    assert!(input.starts_with("http://***@127.0.0.1:"), "{input}");
    assert!(input.contains("access_token=***"), "{input}");
    assert!(input.contains("debug=2"), "{input}");
    // diff and trend name their inputs in headers too.
    for cmd in ["diff", "trend"] {
        let out = goroscope()
            .args([cmd, "--fail-on", "never", "-o", "markdown"])
            .arg(&url)
            .arg(&url)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{cmd}: {out:?}");
        assert_no_secret(cmd, &out.stdout);
        assert_no_secret(cmd, &out.stderr);
    }
}

/// The raw bytes of a gzip stream's members are compressed; pull out the stored strings by
/// decompressing with the system's `gzip`, so the test needs no gzip crate.
fn flate2_free_gunzip(gz: &[u8]) -> Vec<u8> {
    let mut child = std::process::Command::new("gzip")
        .arg("-dc")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip");
    child.stdin.take().unwrap().write_all(gz).unwrap();
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    assert!(child.wait().unwrap().success());
    out
}

#[test]
fn secrets_in_a_url_appear_in_no_error() {
    // Nothing listens on a port we bound and released.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://admin:hunter2@127.0.0.1:{port}/debug/pprof/goroutine?token=tok123");
    for args in [
        vec!["analyze".to_string(), url.clone()],
        vec!["diff".into(), url.clone(), url.clone()],
        vec!["trend".into(), url.clone(), url.clone()],
        vec!["trend".into(), "--every".into(), "10ms".into(), url.clone()],
        vec![
            "analyze".into(),
            "--baseline".into(),
            url.clone(),
            example().display().to_string(),
        ],
    ] {
        let out = goroscope().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert_no_secret(&format!("{args:?}"), &out.stderr);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(&format!("127.0.0.1:{port}")),
            "{args:?}: the error still says where: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // An HTTP error status, and a --prove whose profile cannot be fetched.
    let body = std::fs::read_to_string(example()).unwrap();
    let port = serve(move |_, req| {
        if req.contains("goroutineleak") {
            (
                500,
                "profile failed for http://x:sig456@elsewhere/\n".into(),
            )
        } else if req.contains("debug=2") {
            (200, body.clone())
        } else {
            (404, "nope".into())
        }
    });
    let url = format!("http://admin:hunter2@127.0.0.1:{port}/debug/pprof/goroutine");
    let out = goroscope()
        .args(["analyze", "--prove", "--fail-on", "never"])
        .arg(&url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--prove"));
    assert_no_secret("--prove warning", &out.stderr);
    assert_no_secret("--prove report", &out.stdout);
    let out = goroscope()
        .arg("analyze")
        .arg(format!(
            "http://admin:hunter2@127.0.0.1:{port}/debug/pprof/goroutine?debug=1"
        ))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("404"));
    assert_no_secret("HTTP error", &out.stderr);
}

// ---- control characters from a dump ----

/// A dump whose function names, file, label and wait reason carry terminal escape sequences: a
/// colour change, an OSC title change ending in BEL, a CSI clear-screen, and a C1 CSI.
fn hostile_dump() -> String {
    [
        "goroutine 1 [running]:",
        "main.main()",
        "\t/src/main.go:5 +0x1d",
        "",
        "goroutine 7 [chan receive]:",
        "main.evil\x1b]0;pwned\x07\x1b[2J\u{9b}31m()",
        "\t/src/ev\x1b[31mil.go:12 +0x1d",
        "created by main.spawn\x1b[5m in goroutine 1",
        "\t/src/main.go:20 +0x25",
        "",
        "goroutine 8 [chan receive]:",
        "main.evil\x1b]0;pwned\x07\x1b[2J\u{9b}31m()",
        "\t/src/ev\x1b[31mil.go:12 +0x1d",
        "created by main.spawn\x1b[5m in goroutine 1",
        "\t/src/main.go:20 +0x25",
        "",
    ]
    .join("\n")
}

/// Bytes no output may carry raw: C0 controls other than tab and line breaks, DEL, and the
/// UTF-8 form of C1 controls.
fn raw_controls(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    text.char_indices()
        .filter(|&(_, c)| {
            (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || ('\u{7f}'..='\u{9f}').contains(&c)
        })
        .map(|(i, c)| {
            let from = text[..i].char_indices().rev().nth(20).map_or(0, |(j, _)| j);
            format!("{:?} after {:?}", c, &text[from..i])
        })
        .collect()
}

#[test]
fn control_characters_in_a_dump_reach_no_output_raw() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("hostile.txt");
    std::fs::write(&dump, hostile_dump()).unwrap();
    // For diff: the hostile goroutines are new in AFTER.
    let before = dir.path().join("before.txt");
    std::fs::write(
        &before,
        "goroutine 1 [running]:\nmain.main()\n\t/src/main.go:5 +0x1d\n",
    )
    .unwrap();
    for (cmd, form) in [
        ("analyze", "terminal"),
        ("analyze", "markdown"),
        ("analyze", "html"),
        ("analyze", "svg"),
        ("analyze", "folded"),
        ("analyze", "junit"),
        ("analyze", "json"),
        ("diff", "terminal"),
        ("diff", "markdown"),
        ("diff", "svg"),
        ("diff", "folded"),
        ("diff", "junit"),
        ("trend", "terminal"),
        ("trend", "markdown"),
        ("trend", "junit"),
    ] {
        let mut c = goroscope();
        c.args(["-vv", cmd, "--fail-on", "never", "-o", form]);
        match cmd {
            "analyze" => c.arg(&dump),
            "diff" => c.arg(&before).arg(&dump),
            _ => c.arg(&dump).arg(&dump),
        };
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{cmd} {form}: {out:?}");
        let bad = raw_controls(&out.stdout);
        assert!(
            bad.is_empty(),
            "{cmd} -o {form} writes raw controls: {bad:?}"
        );
        let bad = raw_controls(&out.stderr);
        assert!(bad.is_empty(), "{cmd} -o {form} stderr: {bad:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        if form != "json" {
            assert!(
                // (`;` separates frames in folded stacks, so those show it as `,`.)
                text.contains("main.evil\\x1b]0"),
                "{cmd} -o {form} shows the escape visibly:\n{text}"
            );
        }
    }
}

#[test]
fn control_characters_in_a_file_name_reach_no_message_raw() {
    let dir = tempfile::tempdir().unwrap();
    let name = dir.path().join("dump\x1b]0;pwned\x07.txt");
    std::fs::write(&name, "not a dump at all\n").unwrap();
    let out = goroscope().arg("analyze").arg(&name).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let bad = raw_controls(&out.stderr);
    assert!(bad.is_empty(), "{bad:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("dump\\x1b]0;pwned\\x07.txt"));
}
