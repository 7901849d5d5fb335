//! Every third-party dump in `shared/testdata/real-dumps`, counted against `SOURCES.tsv`.

use goroscope_ingest::{read_reader, text, Options};
use goroscope_model::{Elision, Format, Snapshot, Status};
use std::path::PathBuf;

/// Always `Some`: goroscope-fixtures panics, naming where it looked, when the dumps are missing.
fn dir() -> Option<PathBuf> {
    Some(goroscope_fixtures::shared_testdata("testdata/real-dumps"))
}

fn read_text(name: &str) -> Option<Vec<Snapshot>> {
    let d = dir()?;
    let bytes = std::fs::read(d.join(name)).unwrap();
    Some(text::read(name, &bytes[..], &Options::default()).expect(name))
}

fn total(v: &[Snapshot]) -> u64 {
    v.iter().map(|s| s.total_goroutines()).sum()
}

/// Goroutines and system stacks (`goroutine 0`): every header.
fn headers(v: &[Snapshot]) -> u64 {
    total(v) + v.iter().map(|s| s.system_stacks.len() as u64).sum::<u64>()
}

#[test]
fn counts_match_sources_tsv() {
    let Some(d) = dir() else { return };
    let tsv = std::fs::read_to_string(d.join("SOURCES.tsv")).unwrap();
    let mut checked = 0;
    for row in tsv.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        let (file, kind, want) = (cols[0], cols[2], cols[4].parse::<u64>().unwrap());
        let bytes = std::fs::read(d.join(file)).unwrap();
        match kind {
            "race" => {
                let e = text::read(file, &bytes[..], &Options::default()).unwrap_err();
                assert!(
                    e.to_string().contains("race detector report"),
                    "{file}: {e}"
                );
                assert_eq!(want, 0);
            }
            "debug1" => {
                // Not a text traceback: format detection must send it to the debug=1 reader.
                match read_reader(file, &bytes[..], &Options::default()) {
                    Ok(v) => assert_eq!(total(&v), want, "{file}"),
                    Err(e) => eprintln!("SKIPPED {file}: the debug=1 reader says: {e}"),
                }
                continue;
            }
            _ => {
                let v = text::read(file, &bytes[..], &Options::default())
                    .unwrap_or_else(|e| panic!("{file}: {e}"));
                // SOURCES.tsv counts lines that *start* with `goroutine `; 047's first header is
                // glued to the log text before it (`…dumping all stacksgoroutine 1 [running]:`),
                // which that count misses. It is a header all the same.
                let want = if file.starts_with("047-") {
                    want + 1
                } else {
                    want
                };
                // (A `goroutine 0` header is a thread's system stack, not a goroutine.)
                assert_eq!(headers(&v), want, "{file}");
                // Through the public entry point too (format detection → text reader).
                let v2 = read_reader(file, &bytes[..], &Options::default()).unwrap();
                assert_eq!(headers(&v2), want, "{file} via read_reader");
            }
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} files checked");
}

#[test]
fn ancestors_without_go121_suffix() {
    let Some(v) = read_text("001-gostackparse-tracebackancestors.txt") else {
        return;
    };
    let s = &v[0];
    let g = s.goroutines.iter().find(|g| g.goid.0 == 25).unwrap();
    let ids: Vec<u64> = g.ancestors.iter().map(|a| a.goid.0).collect();
    assert_eq!(&ids[..3], &[24, 23, 22]);
    assert_eq!(
        g.creator_goid.map(|g| g.0),
        Some(24),
        "parent = first ancestor"
    );
    assert_eq!(g.ancestors[0].creator_goid.map(|g| g.0), Some(23));
    assert_eq!(s.function(g.ancestors[0].created_by.unwrap()), "main.d1");
    assert_eq!(s.function(s.stack(g.stack)[0]), "main.bar");
    assert_eq!(s.stack(g.stack).len(), 2);
}

#[test]
fn old_dumps_minutes_cgo_elided() {
    let Some(v) = read_text("002-gostackparse-waitsince-go115.txt") else {
        return;
    };
    assert!(v[0].goroutines.iter().any(|g| g.wait_minutes == Some(1)));
    assert_eq!(
        v[0].go_version_min, None,
        "nothing in a Go 1.15 dump implies a version"
    );

    let v = read_text("003-gostackparse-cgo-locked.txt").unwrap();
    let s = &v[0];
    let g7 = s.goroutines.iter().find(|g| g.goid.0 == 7).unwrap();
    assert!(g7.locked_to_thread);
    let f = s.frame(s.stack(g7.stack)[1]);
    assert_eq!(s.str(f.function), "main.goSleep");
    assert!(f.inlined);
    let g6 = s.goroutines.iter().find(|g| g.goid.0 == 6).unwrap();
    assert_eq!(g6.status, Status::Syscall);
    assert_eq!(s.frame_site(s.stack(g6.stack)[0]).file, "_cgo_gotypes.go");

    let v = read_text("004-gostackparse-frames-elided.txt").unwrap();
    let g = &v[0].goroutines[0];
    assert_eq!(g.elided, Elision::Additional);
    assert!(v[0].stack(g.stack).len() >= 100);
}

#[test]
fn go121_creators() {
    let Some(v) = read_text("005-gostackparse-go121-createdby.txt") else {
        return;
    };
    let s = &v[0];
    assert_eq!(s.goroutines[0].creator_goid.map(|g| g.0), Some(1));
    assert_eq!(s.go_version_min.as_deref(), Some("go1.21"));
    // The file has no final newline, yet nothing is cut off.
    assert!(!s.truncated, "{:?}", s.warnings);
}

#[test]
fn two_reports_in_one_file() {
    let Some(v) = read_text("007-syzkaller-gvisor-panic-nilptr.txt") else {
        return;
    };
    assert_eq!(v.len(), 2);
    let r = "panic: runtime error: invalid memory address or nil pointer dereference";
    for s in &v {
        assert_eq!(s.reason.as_deref(), Some(r));
        assert_eq!(s.source.format, Format::Traceback);
        assert_eq!(s.goroutines[0].goid.0, 9707990);
        let top = s.stack(s.goroutines[0].stack)[0];
        assert_eq!(s.function(top), "panic");
        assert_eq!(
            s.frame_site(s.goroutines[0].created_by.unwrap()).function,
            "gvisor.googlesource.com/gvisor/pkg/sentry/fs.Async"
        );
    }
    assert_eq!((v[0].source.index, v[1].source.index), (0, 1));
    assert_eq!(v[0].source.line, Some(7));
    assert_eq!(v[0].goroutines.len(), 2);
    assert_eq!(v[0].goroutines[1].wait_minutes, Some(23));
    assert!(v[1].source.line.unwrap() > 80);
}

#[test]
fn multi_line_panic_message_and_no_tabs() {
    let Some(v) = read_text("009-syzkaller-gvisor-stuck-tasks.txt") else {
        return;
    };
    assert_eq!(
        v[0].reason.as_deref(),
        Some("panic: Sentry detected 10 stuck task(s):")
    );
    let g13 = v[0].goroutines.iter().find(|g| g.goid.0 == 13).unwrap();
    let inl = v[0].stack(g13.stack)[4];
    assert_eq!(
        v[0].function(inl),
        "gvisor.dev/gvisor/pkg/sync.(*RWMutex).RLock"
    );
    assert!(v[0].frame(inl).inlined);

    let v = read_text("010-clusterfuzz-stack-overflow-notabs.txt").unwrap();
    let s = &v[0];
    assert_eq!(s.reason.as_deref(), Some("fatal error: stack overflow"));
    assert_eq!(s.goroutines.len(), 1, "`runtime stack:` is not a goroutine");
    let g = &s.goroutines[0];
    assert_eq!(g.goid.0, 34);
    assert_eq!(g.elided, Elision::Additional);
    assert_eq!(s.stack(g.stack).len(), 11);
    assert_eq!(
        s.frame_site(s.stack(g.stack)[0]).file,
        "/home/sdk/gopath/src/github.com/google/syzkaller/pkg/ast/scanner.go"
    );
}

#[test]
fn repanicked_locked_with_asan_noise() {
    let Some(v) = read_text("011-clusterfuzz-repanicked-locked-asan.txt") else {
        return;
    };
    let s = &v[0];
    assert_eq!(
        s.reason.as_deref(),
        Some("panic: runtime error: index out of range [-1] [recovered, repanicked]")
    );
    assert_eq!(s.go_version_min.as_deref(), Some("go1.24"));
    let g = &s.goroutines[0];
    assert!(g.locked_to_thread);
    assert_eq!(g.status, Status::Running);
    assert_eq!(s.stack(g.stack).len(), 8);
    assert_eq!(
        s.function(*s.stack(g.stack).last().unwrap()),
        "main.LLVMFuzzerTestOneInput"
    );
}

#[test]
fn glued_header_then_sigquit() {
    let Some(v) = read_text("047-felixge-runtime-stack-glued-header.txt") else {
        return;
    };
    assert_eq!(v.len(), 2, "runtime.Stack output, then a SIGQUIT dump");
    assert_eq!(v[0].source.format, Format::Debug2);
    assert_eq!(v[0].source.line, Some(3));
    assert_eq!(v[0].goroutines.len(), 4 + 1);
    assert_eq!(v[0].goroutines[0].goid.0, 1);
    assert_eq!(v[1].reason.as_deref(), Some("SIGQUIT: quit"));
    // `goroutine 0` (the thread that took the signal) is a system stack.
    assert_eq!(v[1].system_stacks.len(), 1);
    assert_eq!(v[1].system_stacks[0].goid.0, 0);
    assert_ne!(v[1].goroutines[0].goid.0, 0);
    assert_eq!(v[1].goroutines.len(), 5);
    assert_eq!(v[1].goroutines[0].wait_minutes, Some(3));
    // The register block after the last goroutine is known noise, not a warning.
    assert!(
        v[1].warnings.iter().all(|w| !w.message.contains("rax")),
        "{:?}",
        v[1].warnings
    );
}
