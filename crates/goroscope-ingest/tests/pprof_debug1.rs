//! The debug=1 reader against real Go 1.27 profiles and a real third-party dump, and against the
//! protobuf form of the same snapshot.

use goroscope_ingest::{debug1, proto, read_reader, Options};
use goroscope_model::{Format, ProfileKind, Snapshot};
use std::path::PathBuf;

mod pprof_common;
use pprof_common::{real_dumps_dir, samples_dir};

macro_rules! need {
    ($dir:expr, $name:expr) => {
        match $dir {
            Some(d) => d.join($name),
            None => {
                eprintln!(
                    "SKIPPED: shared samples not found beside the repository (set GOROSCOPE_SHARED)"
                );
                return;
            }
        }
    };
}

/// The samples taken over HTTP start with a `# GET …` line the sample maker added.
fn load(path: &PathBuf) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    if bytes.starts_with(b"# GET ") {
        let nl = bytes.iter().position(|&b| b == b'\n').unwrap();
        bytes[nl + 1..].to_vec()
    } else {
        bytes
    }
}

fn read_bytes(name: &str, bytes: &[u8]) -> Vec<Snapshot> {
    read_reader(name, bytes, &Options::default()).unwrap()
}

type F = (String, String, u32, bool);

fn frames(s: &Snapshot, i: usize) -> Vec<F> {
    s.stack(s.records[i].stack)
        .iter()
        .map(|&f| {
            let site = s.frame_site(f);
            (
                site.function.to_string(),
                site.file.to_string(),
                site.line,
                s.frame(f).inlined,
            )
        })
        .collect()
}

fn labels(s: &Snapshot, i: usize) -> Vec<(String, String)> {
    s.labels(s.records[i].labels)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// What debug=1 shows of a full stack: Go hides the leading runtime frames.
fn hide_runtime_prefix(mut f: Vec<F>) -> Vec<F> {
    let n = f
        .iter()
        .take_while(|x| x.0.starts_with("runtime.") || x.0.starts_with("internal/runtime/"))
        .count();
    if n < f.len() {
        f.drain(..n);
    }
    f
}

fn check_same_snapshot(text: &Snapshot, pb: &Snapshot) {
    assert_eq!(text.records.len(), pb.records.len());
    assert_eq!(text.declared_total, Some(pb.total_goroutines()));
    for i in 0..text.records.len() {
        assert_eq!(text.records[i].count, pb.records[i].count, "record {i}");
        assert_eq!(
            frames(text, i),
            hide_runtime_prefix(frames(pb, i)),
            "record {i}"
        );
        let mut a = labels(text, i);
        let mut b = labels(pb, i);
        a.sort();
        b.sort();
        assert_eq!(a, b, "record {i}");
    }
}

#[test]
fn goroutine_debug1_equals_the_proto_of_the_same_snapshot() {
    let txt = need!(samples_dir(), "goroutine_debug1.txt");
    let pb = need!(samples_dir(), "goroutine_debug0.pb.gz");
    let t = read_bytes("goroutine_debug1.txt", &load(&txt));
    assert_eq!(t.len(), 1);
    let t = &t[0];
    assert_eq!(t.source.format, Format::Debug1);
    assert_eq!(t.source.kind, ProfileKind::Goroutine);
    assert_eq!(t.declared_total, Some(18));
    assert_eq!(t.total_goroutines(), 18);
    assert_eq!(t.records.len(), 11);
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    assert!(!t.truncated);
    // The labeled workers.
    assert_eq!(
        labels(t, 1),
        [
            ("handler".to_string(), "/api/orders".to_string()),
            ("tenant".to_string(), "acme corp".to_string())
        ]
    );
    let p = proto::read(
        "goroutine_debug0.pb.gz",
        &std::fs::read(pb).unwrap(),
        &Options::default(),
    )
    .unwrap();
    check_same_snapshot(t, &p);
}

#[test]
fn goroutineleak_debug1_equals_the_proto_of_the_same_snapshot() {
    let txt = need!(samples_dir(), "goroutineleak_debug1.txt");
    let pb = need!(samples_dir(), "goroutineleak_debug0.pb.gz");
    let t = &read_bytes("goroutineleak_debug1.txt", &load(&txt))[0];
    assert_eq!(t.source.kind, ProfileKind::GoroutineLeak);
    assert_eq!(t.total_goroutines(), 14);
    let p = proto::read("x", &std::fs::read(pb).unwrap(), &Options::default()).unwrap();
    assert_eq!(p.source.kind, ProfileKind::GoroutineLeak);
    check_same_snapshot(t, &p);
}

#[test]
fn http_samples_read_whole() {
    for (name, kind, total) in [
        ("http_goroutine_debug1.txt", ProfileKind::Goroutine, 22),
        (
            "http_goroutineleak_debug1.txt",
            ProfileKind::GoroutineLeak,
            14,
        ),
    ] {
        let path = need!(samples_dir(), name);
        let s = &read_bytes(name, &load(&path))[0];
        assert_eq!(s.source.kind, kind, "{name}");
        assert_eq!(s.declared_total, Some(total), "{name}");
        assert_eq!(s.total_goroutines(), total, "{name}");
        assert!(s.warnings.is_empty(), "{name}: {:?}", s.warnings);
        assert!(!s.truncated, "{name}");
    }
}

#[test]
fn real_dump_046_with_labels() {
    // SOURCES.tsv: felixge/go-profiler-notes, debug1, go1.15.6 darwin, 10 goroutines.
    let path = need!(real_dumps_dir(), "046-felixge-debug1-pprof-labels.txt");
    let s = &read_bytes("046", &load(&path))[0];
    assert_eq!(s.declared_total, Some(10));
    assert_eq!(s.total_goroutines(), 10);
    assert_eq!(s.records.len(), 9);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    let labeled: u64 = s
        .records
        .iter()
        .filter(|r| s.labels(r.labels).eq([("test_label", "test_value")]))
        .map(|r| r.count)
        .sum();
    assert_eq!(labeled, 7);
    let first = frames(s, 0);
    assert_eq!(first[0].0, "time.Sleep");
    assert_eq!(
        first[0].1,
        "/usr/local/Cellar/go/1.15.6/libexec/src/runtime/time.go"
    );
    assert_eq!(first[0].2, 188);
    assert_eq!(first[1].0, "main.shortSleepLoop");
}

#[test]
fn tabs_turned_into_spaces_read_the_same() {
    let txt = need!(samples_dir(), "goroutine_debug1.txt");
    let bytes = load(&txt);
    let spaced: Vec<u8> = String::from_utf8(bytes.clone())
        .unwrap()
        .replace('\t', "    ")
        .into_bytes();
    let a = &read_bytes("tabs", &bytes)[0];
    let b = &read_bytes("spaces", &spaced)[0];
    assert_eq!(a.records.len(), b.records.len());
    for i in 0..a.records.len() {
        assert_eq!(frames(a, i), frames(b, i));
        assert_eq!(labels(a, i), labels(b, i));
        assert_eq!(a.records[i].count, b.records[i].count);
    }
    // Windows line ends too.
    let crlf = String::from_utf8(bytes).unwrap().replace('\n', "\r\n");
    let c = &read_bytes("crlf", crlf.as_bytes())[0];
    assert_eq!(frames(a, 3), frames(c, 3));
}

#[test]
fn concatenated_profiles_give_one_snapshot_each() {
    let a = need!(samples_dir(), "goroutine_debug1.txt");
    let b = need!(samples_dir(), "goroutineleak_debug1.txt");
    let mut bytes = load(&a);
    bytes.extend(load(&b));
    let snaps = read_bytes("both", &bytes);
    assert_eq!(snaps.len(), 2);
    assert_eq!(snaps[0].source.kind, ProfileKind::Goroutine);
    assert_eq!(snaps[0].total_goroutines(), 18);
    assert_eq!(snaps[1].source.kind, ProfileKind::GoroutineLeak);
    assert_eq!(snaps[1].total_goroutines(), 14);
    assert_eq!(snaps[1].source.index, 1);
    let header_line = 1 + bytes[..load(&a).len()]
        .iter()
        .filter(|&&c| c == b'\n')
        .count() as u64;
    assert_eq!(snaps[1].source.line, Some(header_line));
}

#[test]
fn every_cut_of_a_real_profile_is_read_or_refused_cleanly() {
    let path = need!(samples_dir(), "goroutine_debug1.txt");
    let bytes = load(&path);
    let header_end = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    for cut in header_end..bytes.len() {
        let part = &bytes[..cut];
        let snaps = debug1::read("cut", part, &Options::default())
            .unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        let s = &snaps[0];
        let complete = s.total_goroutines() == 18 && part.ends_with(b"\n");
        assert!(s.truncated || complete, "cut at {cut} not marked truncated");
        if s.truncated {
            assert!(!s.warnings.is_empty(), "cut at {cut}");
        }
    }
    // Before the header is complete there is nothing to read.
    assert!(debug1::read("cut", &bytes[..10], &Options::default()).is_err());
}
