//! The protobuf reader against real Go 1.27 profiles (`/work/shared/research/go127-samples`,
//! also looked up beside the repository as `../shared/...`).

use goroscope_ingest::{proto, read_input, FormatHint, Options};
use goroscope_model::{Format, ProfileKind, Snapshot};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

mod pprof_common;
use pprof_common::samples_dir;

fn sample(name: &str) -> Option<PathBuf> {
    let dir = samples_dir()?;
    Some(dir.join(name))
}

macro_rules! need_sample {
    ($name:expr) => {
        match sample($name) {
            Some(p) => p,
            None => {
                eprintln!("SKIPPED: go127-samples not found (looked for shared/research/go127-samples beside the repository; set GOROSCOPE_SHARED)");
                return;
            }
        }
    };
}

fn read_one(path: &Path) -> Snapshot {
    let mut snaps = read_input(path.to_str().unwrap(), &Options::default()).unwrap();
    assert_eq!(snaps.len(), 1);
    snaps.remove(0)
}

/// One frame as `go tool pprof -raw` prints it: function, file, line, inlined.
type RawFrame = (String, String, u32, bool);
type Labels = Vec<(String, String)>;
/// One sample of `-raw`: its value, stack and labels.
type RawSample = (i64, Vec<RawFrame>, Labels);

/// Parses `go tool pprof -raw` output: samples (count, stack, labels) in order.
fn parse_raw(text: &str) -> Vec<RawSample> {
    #[derive(PartialEq)]
    enum Sec {
        Head,
        Samples,
        Locations,
        Other,
    }
    let mut sec = Sec::Head;
    let mut samples: Vec<(i64, Vec<u64>, Labels)> = Vec::new();
    let mut locs: std::collections::HashMap<u64, Vec<(String, String, u32)>> = Default::default();
    let mut cur_loc = 0u64;
    for line in text.lines() {
        match line {
            "Samples:" => {
                sec = Sec::Samples;
                continue;
            }
            "Locations" => {
                sec = Sec::Locations;
                continue;
            }
            "Mappings" => {
                sec = Sec::Other;
                continue;
            }
            _ => {}
        }
        match sec {
            Sec::Samples => {
                let t = line.trim();
                if let Some((count, ids)) =
                    t.split_once(':').filter(|(c, _)| c.parse::<i64>().is_ok())
                {
                    let ids = ids.split_whitespace().map(|s| s.parse().unwrap()).collect();
                    samples.push((count.parse().unwrap(), ids, Vec::new()));
                } else if t.contains(":[") {
                    // handler:[/api/orders] tenant:[acme corp]
                    let last = samples.last_mut().unwrap();
                    let mut rest = t;
                    while let Some(colon) = rest.find(":[") {
                        let key = rest[..colon].trim().to_string();
                        let close = rest[colon..].find(']').unwrap() + colon;
                        last.2.push((key, rest[colon + 2..close].to_string()));
                        rest = &rest[close + 1..];
                    }
                }
            }
            Sec::Locations => {
                let t = line.trim();
                let body = if let Some((id, body)) = t
                    .split_once(": ")
                    .filter(|(id, _)| id.parse::<u64>().is_ok())
                {
                    cur_loc = id.parse().unwrap();
                    // drop the address and mapping
                    body.splitn(3, ' ').nth(2).unwrap()
                } else {
                    t
                };
                // <func> <file>:<line>:<col> s=<start>
                let mut parts = body.split(' ');
                let func = parts.next().unwrap().to_string();
                let pos = parts.next().unwrap();
                let mut p = pos.rsplitn(3, ':');
                let _col = p.next();
                let line_no: u32 = p.next().unwrap().parse().unwrap();
                let file = p.next().unwrap().to_string();
                locs.entry(cur_loc).or_default().push((func, file, line_no));
            }
            _ => {}
        }
    }
    samples
        .into_iter()
        .map(|(count, ids, labels)| {
            let mut frames = Vec::new();
            for id in ids {
                let lines = &locs[&id];
                for (i, (f, file, l)) in lines.iter().enumerate() {
                    frames.push((f.clone(), file.clone(), *l, i + 1 < lines.len()));
                }
            }
            (count, frames, labels)
        })
        .collect()
}

fn frames_of(snap: &Snapshot, i: usize) -> Vec<RawFrame> {
    snap.stack(snap.records[i].stack)
        .iter()
        .map(|&f| {
            let s = snap.frame_site(f);
            (
                s.function.to_string(),
                s.file.to_string(),
                s.line,
                snap.frame(f).inlined,
            )
        })
        .collect()
}

#[test]
fn goroutine_profile_matches_go_tool_pprof_raw() {
    let pb = need_sample!("goroutine_debug0.pb.gz");
    let raw = std::fs::read_to_string(sample("pprof_raw_goroutine.txt").unwrap()).unwrap();
    let want = parse_raw(&raw);
    assert_eq!(want.len(), 11, "the -raw listing has 11 samples");

    let snap = read_one(&pb);
    assert_eq!(snap.source.format, Format::Proto);
    assert_eq!(snap.source.kind, ProfileKind::Goroutine);
    assert_eq!(snap.records.len(), want.len());
    for (i, (count, frames, labels)) in want.iter().enumerate() {
        assert_eq!(snap.records[i].count as i64, *count, "sample {i}");
        assert_eq!(&frames_of(&snap, i), frames, "sample {i}");
        let mut got: Labels = snap
            .labels(snap.records[i].labels)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        got.sort();
        assert_eq!(&got, labels, "sample {i}");
    }
    assert_eq!(snap.total_goroutines(), 18);
    // Time: 2026-11-26 14:32:19.492734612 +0000 UTC
    assert_eq!(
        snap.taken_at,
        Some(UNIX_EPOCH + Duration::new(1_795_703_539, 492_734_612))
    );
    assert_eq!(snap.duration_nanos, None);
    assert!(snap.delta_counts.is_empty());
    assert!(snap.declared_total.is_none());
    // The inlined mutex frames (one location, three lines) are marked.
    let mutex_record = (0..snap.records.len())
        .find(|&i| frames_of(&snap, i).last().unwrap().0 == "main.leakMutex.func1")
        .unwrap();
    let mutex = frames_of(&snap, mutex_record);
    let inl: Vec<_> = mutex.iter().filter(|f| f.3).map(|f| f.0.as_str()).collect();
    assert_eq!(
        inl,
        [
            "runtime.goparkunlock",
            "internal/sync.(*Mutex).Lock",
            "sync.(*Mutex).Lock"
        ]
    );
}

#[test]
fn goroutineleak_profile_is_recognised_by_its_sample_type() {
    let pb = need_sample!("goroutineleak_debug0.pb.gz");
    let snap = read_one(&pb);
    assert_eq!(snap.source.kind, ProfileKind::GoroutineLeak);
    // `go tool pprof -traces`: 14 leaked goroutines in 7 samples.
    assert_eq!(snap.records.len(), 7);
    assert_eq!(snap.total_goroutines(), 14);
    let labeled: Vec<u64> = snap
        .records
        .iter()
        .filter(|r| {
            snap.labels(r.labels)
                .any(|(k, v)| k == "tenant" && v == "acme corp")
        })
        .map(|r| r.count)
        .collect();
    assert_eq!(labeled, [3]);
    // Even when the bytes are read under a neutral name, the sample type decides.
    let bytes = std::fs::read(&pb).unwrap();
    let again = proto::read("stdin", &bytes, &Options::default()).unwrap();
    assert_eq!(again.source.kind, ProfileKind::GoroutineLeak);
}

#[test]
fn delta_profile_keeps_signed_counts() {
    let pb = need_sample!("http_goroutine_delta_1s.pb.gz");
    let snap = read_one(&pb);
    assert_eq!(snap.source.kind, ProfileKind::Goroutine);
    // `Duration: 1.00` in -raw; the exact window is a little over the requested second.
    let d = snap.duration_nanos.unwrap();
    assert!((1_000_000_000..1_100_000_000).contains(&d), "{d}");
    // -raw: 4, -1, -1, -1, 1, 1 (one of the -1 samples has an empty stack).
    assert_eq!(snap.delta_counts, [4, -1, -1, -1, 1, 1]);
    assert_eq!(
        snap.records.iter().map(|r| r.count).collect::<Vec<_>>(),
        [4, 0, 0, 0, 1, 1]
    );
    assert!(snap.stack(snap.records[3].stack).is_empty());
    let grown = &frames_of(&snap, 0);
    assert_eq!(grown.last().unwrap().0, "main.leakRecv.func1");
}

#[test]
fn raw_uncompressed_profile_reads_the_same() {
    let pb = need_sample!("goroutine_debug0.pb.gz");
    let gz = std::fs::read(&pb).unwrap();
    let raw = goroscope_pprof::gunzip(&gz, 1 << 20).unwrap();
    let a = proto::read("a", &gz, &Options::default()).unwrap();
    let b = goroscope_ingest::read_reader("b", raw.as_slice(), &Options::default()).unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(a.records.len(), b[0].records.len());
    for i in 0..a.records.len() {
        assert_eq!(frames_of(&a, i), frames_of(&b[0], i));
    }
}

#[test]
fn truncated_gzip_is_a_clear_error() {
    let pb = need_sample!("goroutine_debug0.pb.gz");
    let gz = std::fs::read(&pb).unwrap();
    let opts = Options {
        format: Some(FormatHint::Proto),
        ..Options::default()
    };
    let err = goroscope_ingest::read_reader("cut.pb.gz", &gz[..gz.len() - 40], &opts).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("cut.pb.gz: "), "{msg}");
    assert!(msg.contains("gzip data is corrupt or cut off"), "{msg}");
}

#[test]
fn a_non_goroutine_profile_is_refused() {
    use goroscope_pprof::{encode_gz, Profile, StringTable, ValueType};
    let mut s = StringTable::new();
    let p = Profile {
        sample_type: vec![ValueType {
            r#type: s.index("alloc_space"),
            unit: s.index("bytes"),
        }],
        string_table: s.into_table(),
        ..Profile::default()
    };
    let err = proto::read("heap.pb.gz", &encode_gz(&p), &Options::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("measures alloc_space, not goroutines"),
        "{err}"
    );
}
