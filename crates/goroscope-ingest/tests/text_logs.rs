//! Dumps inside logs: prefixes, CRLF, tabs turned into spaces, glued headers, noise, cuts,
//! several dumps per file.

use goroscope_ingest::{text, Options};
use goroscope_model::{Format, Snapshot};

const DEBUG2: &str = include_str!("text_data/goroutine_debug2.txt");
const SIGQUIT: &str = include_str!("text_data/sigquit_default.txt");
const PANIC: &str = include_str!("text_data/panic_gotraceback_all.txt");

fn read(input: &str) -> Vec<Snapshot> {
    text::read("log", input.as_bytes(), &Options::default())
        .unwrap_or_else(|e| panic!("{e}\n--- input:\n{input}"))
}

/// Everything a reader should recover, as plain strings, to compare two reads.
fn digest(s: &Snapshot) -> Vec<String> {
    s.goroutines
        .iter()
        .map(|g| {
            let frames: Vec<String> = s
                .stack(g.stack)
                .iter()
                .map(|&f| s.frame_site(f).to_string())
                .collect();
            let labels: Vec<String> = s
                .labels(g.labels)
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!(
                "{} [{} {:?} leaked={} locked={}] {:?} created_by={:?} in {:?} {}",
                g.goid,
                s.str(g.state),
                g.wait_minutes,
                g.leaked,
                g.locked_to_thread,
                labels,
                g.created_by.map(|f| s.frame_site(f).to_string()),
                g.creator_goid,
                frames.join(" | ")
            )
        })
        .collect()
}

fn prefixed(dump: &str, prefix: impl Fn(usize) -> String) -> String {
    dump.lines()
        .enumerate()
        .map(|(i, l)| format!("{}{l}\n", prefix(i)))
        .collect()
}

fn assert_same(input: &str, want: &Snapshot, what: &str) {
    let v = read(input);
    assert_eq!(v.len(), 1, "{what}: one dump, got {}", v.len());
    assert_eq!(digest(&v[0]), digest(want), "{what}");
    assert!(!v[0].truncated, "{what}");
}

#[test]
fn constant_and_varying_prefixes() {
    let plain = read(DEBUG2).remove(0);
    assert_eq!(plain.goroutines.len(), 18);
    let cases: Vec<(&str, String)> = vec![
        (
            "CI runner timestamps",
            prefixed(DEBUG2, |i| {
                format!(
                    "2026-11-26T10:00:{:02}.{:07}Z ",
                    i % 60,
                    i * 7919 % 10_000_000
                )
            }),
        ),
        (
            "klog with varying file:line width",
            prefixed(DEBUG2, |i| {
                format!(
                    "I1126 10:00:00.{:06}       1 handler{}.go:{}] ",
                    i,
                    i % 3,
                    i * 37 % 1000
                )
            }),
        ),
        (
            "journald",
            prefixed(DEBUG2, |i| {
                format!("Nov 26 10:00:{:02} host app[123]: ", i % 60)
            }),
        ),
        (
            "kubectl --prefix",
            prefixed(DEBUG2, |_| "[pod/api-7d9c/app] ".to_string()),
        ),
        ("indented", prefixed(DEBUG2, |_| "    ".to_string())),
    ];
    for (what, input) in &cases {
        assert_same(input, &plain, what);
    }
}

#[test]
fn crlf_spaces_and_syslog_tabs() {
    let plain = read(DEBUG2).remove(0);
    assert_same(&DEBUG2.replace('\n', "\r\n"), &plain, "CRLF");
    assert_same(&DEBUG2.replace('\t', "        "), &plain, "tabs to spaces");
    assert_same(&DEBUG2.replace('\t', ""), &plain, "tabs removed");
    assert_same(&DEBUG2.replace('\t', "#011"), &plain, "syslog #011");
    let syslog = prefixed(&DEBUG2.replace('\t', "#011"), |i| {
        format!("Nov 26 10:00:{:02} host app[9]: ", i % 60)
    });
    assert_same(&syslog, &plain, "syslog prefix and #011");
}

#[test]
fn glued_to_log_text_and_surrounded_by_logs() {
    let plain = read(DEBUG2).remove(0);
    let input = format!(
        "level=info msg=starting\nlevel=info msg=\"dumping stacks\"...some log text{DEBUG2}\nlevel=info msg=done\nlevel=info msg=bye\n"
    );
    let v = read(&input);
    assert_eq!(v.len(), 1);
    assert_eq!(digest(&v[0]), digest(&plain));
    assert_eq!(v[0].source.line, Some(2));
    // The log lines after the dump are reported once, not per line.
    let skipped: Vec<_> = v[0]
        .warnings
        .iter()
        .filter(|w| w.message.contains("not part of a goroutine"))
        .collect();
    assert_eq!(skipped.len(), 1, "{:?}", v[0].warnings);
}

#[test]
fn interleaved_noise_is_warned_with_its_line() {
    let mut lines: Vec<&str> = DEBUG2.lines().collect();
    // Between a function line and its file line, inside goroutine 8.
    let at = lines
        .iter()
        .position(|l| *l == "main.leakRecv.func1()")
        .unwrap()
        + 1;
    lines.insert(
        at,
        "2026/11/26 10:00:00 unrelated log line from another thread",
    );
    let input = lines.join("\n") + "\n";
    let v = read(&input);
    let plain = read(DEBUG2).remove(0);
    assert_eq!(
        digest(&v[0]),
        digest(&plain),
        "no goroutine lost or changed"
    );
    let w = v[0]
        .warnings
        .iter()
        .find(|w| w.message.contains("unrelated log line"))
        .expect("warned");
    assert_eq!(w.line, Some(at as u64 + 1));
}

#[test]
fn several_dumps_in_one_file() {
    let input = format!("{DEBUG2}\n{DEBUG2}\nsome text\n{PANIC}\n{SIGQUIT}");
    let v = read(&input);
    assert_eq!(v.len(), 4);
    assert_eq!(v[0].source.format, Format::Debug2);
    assert_eq!(
        v[1].source.format,
        Format::Debug2,
        "split on goroutine 1 seen twice"
    );
    assert_eq!(v[2].reason.as_deref(), Some("panic: boom"));
    assert_eq!(v[3].reason.as_deref(), Some("SIGQUIT: quit"));
    let counts: Vec<usize> = v.iter().map(|s| s.goroutines.len()).collect();
    assert_eq!(counts, [18, 18, 19, 10]);
    let idx: Vec<usize> = v.iter().map(|s| s.source.index).collect();
    assert_eq!(idx, [0, 1, 2, 3]);
    let l2 = DEBUG2.lines().count() as u64 + 2;
    assert_eq!(v[1].source.line, Some(l2));
}

#[test]
fn test_timeout_panic() {
    let input = "=== RUN   TestHang\npanic: test timed out after 1s\n\trunning tests:\n\t\tTestHang (1s)\n\ngoroutine 7 [running]:\ntesting.(*M).startAlarm.func1()\n\ttesting/testing.go:2484 +0x394\ncreated by time.goFunc\n\ttime/sleep.go:215 +0x2d\n\ngoroutine 1 [chan receive]:\ntesting.(*T).Run(0xc000007860, {0x52d1b3?, 0x0?}, 0x537da8)\n\ttesting/testing.go:1859 +0x431\ntesting.runTests.func1(0xc000007860)\n\ttesting/testing.go:2279 +0x37\ntesting.tRunner(0xc000007860, 0xc00006dc40)\n\ttesting/testing.go:1792 +0xf4\nFAIL\texample.com/x\t1.012s\n";
    let v = read(input);
    assert_eq!(v.len(), 1);
    assert_eq!(
        v[0].reason.as_deref(),
        Some("panic: test timed out after 1s")
    );
    assert_eq!(v[0].source.line, Some(2));
    assert_eq!(v[0].goroutines.len(), 2);
    assert!(v[0].warnings.is_empty(), "{:?}", v[0].warnings);
}

#[test]
fn cut_off_dump_keeps_what_is_complete() {
    let g9 = DEBUG2.find("goroutine 9 [").unwrap();
    let func = g9 + DEBUG2[g9..].find("main.leakRecv.func1()").unwrap();
    let file = g9 + DEBUG2[g9..].find("\texample.com").unwrap();
    // Cut in the middle of goroutine 9's file line.
    let v = read(&DEBUG2[..file + 10]);
    assert_eq!(v[0].goroutines.len(), 3);
    assert!(v[0].truncated);
    assert!(v[0]
        .warnings
        .iter()
        .any(|w| w.message.contains("goroutine 9")));
    // Cut after a complete function line whose file line is missing.
    let v = read(&DEBUG2[..file]);
    assert!(v[0].truncated);
    assert_eq!(v[0].goroutines.len(), 3);
    assert!(
        v[0].stack(v[0].goroutines[2].stack).is_empty(),
        "the cut frame is dropped"
    );
    // Cut right after a header, and in the middle of a function line.
    for at in [func, func + 5] {
        let v = read(&DEBUG2[..at]);
        assert!(v[0].truncated, "cut at {at}");
        assert_eq!(v[0].goroutines.len(), 3);
    }
    // Cut after a whole goroutine: nothing is missing.
    let g10 = DEBUG2.find("goroutine 10 [").unwrap();
    let v = read(&DEBUG2[..g10]);
    assert!(!v[0].truncated, "{:?}", v[0].warnings);
    assert_eq!(v[0].goroutines.len(), 3);
}

#[test]
fn labels_with_quotes_in_a_log() {
    let input = "goroutine 5 [select] {handler: /api, tenant: \"a b\", q: \"x\\\"y}\\n\"}:\nmain.f()\n\tmain.go:1 +0x1\n";
    let v = read(input);
    let l: Vec<_> = v[0].labels(v[0].goroutines[0].labels).collect();
    assert_eq!(
        l,
        vec![("handler", "/api"), ("q", "x\"y}\n"), ("tenant", "a b")]
    );
    assert_eq!(v[0].go_version_min.as_deref(), Some("go1.27"));
}

#[test]
fn no_dump_errors_name_the_input() {
    let e = text::read(
        "app.log",
        &b"just\nsome\nlog lines\n"[..],
        &Options::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("no goroutine dump found in app.log"),
        "{e}"
    );
    let delve = "(dlv) goroutines\n* Goroutine 1 - User: ./main.go:10 main.main (0x4a0b5e) [chan receive]\n  Goroutine 2 - Runtime: /usr/lib/go/src/runtime/proc.go:425 runtime.gopark (0x43c0ae) [force gc (idle)]\n";
    let e = text::read("dlv.txt", delve.as_bytes(), &Options::default()).unwrap_err();
    assert!(e.to_string().contains("Delve"), "{e}");
}

#[test]
fn small_blocks_give_the_same_result() {
    // Tiny blocks force cuts everywhere: clean ones (before headers) and dirty ones.
    let fatal = "fatal error: stack overflow\n\nruntime stack:\nruntime.throw({0x60f619?, 0xe})\n\truntime/panic.go:619 +0x81\n\ngoroutine 34 [running]:\nmain.f()\n\tmain.go:1 +0x1\n";
    let input = format!(
        "{DEBUG2}\n{}\n{PANIC}\n{fatal}{fatal}",
        prefixed(SIGQUIT, |i| format!("I1126 10:00:00.{i:06} 1 x.go:1] "))
    );
    assert!(
        input.lines().all(|l| l.len() < 150),
        "blocks below must hold every line"
    );
    let want: Vec<Vec<String>> = read(&input).iter().map(digest).collect();
    for threads in [1, 2, 3] {
        for block in [300, 333, 1000, 4096] {
            let opts = Options {
                threads,
                ..Options::default()
            };
            let v = text::read_with_block("x", input.as_bytes(), &opts, block).unwrap();
            let got: Vec<Vec<String>> = v.iter().map(digest).collect();
            assert_eq!(got, want, "threads={threads} block={block}");
            assert_eq!(
                v[2].reason.as_deref(),
                Some("panic: boom"),
                "threads={threads} block={block}"
            );
            assert_eq!(v[1].reason.as_deref(), Some("SIGQUIT: quit"));
            assert_eq!(v.len(), 5);
            for s in &v[3..5] {
                let want = Some("fatal error: stack overflow");
                assert_eq!(s.reason.as_deref(), want, "threads={threads} block={block}");
            }
        }
    }
}

#[test]
fn a_report_line_and_its_first_header_in_different_blocks() {
    let fatal = "fatal error: stack overflow\n\nruntime stack:\nruntime.throw({0x60f619?, 0xe})\n\truntime/panic.go:619 +0x81\n\ngoroutine 34 [running]:\nmain.f()\n\tmain.go:1 +0x1\n";
    let input = format!("{fatal}\n{fatal}\n{fatal}");
    for block in 64..220 {
        let opts = Options {
            threads: 2,
            ..Options::default()
        };
        let v = text::read_with_block("x", input.as_bytes(), &opts, block).unwrap();
        assert_eq!(v.len(), 3, "block={block}");
        for s in &v {
            assert_eq!(
                s.reason.as_deref(),
                Some("fatal error: stack overflow"),
                "block={block}"
            );
            assert_eq!(s.goroutines.len(), 1);
        }
    }
}
