//! Property tests: the reader never panics, hangs or allocates by an unchecked length,
//! whatever the bytes — random bytes behind a valid header, and real traces (the seeds in
//! `tests/data`, written by Go 1.22, 1.23, 1.25 and 1.27 with `tests/data/seed.go`) cut,
//! flipped, inserted into and deleted from. Bad input is an error naming where it went wrong
//! or an analysis with warnings; what is read keeps its invariants. The cases are drawn from a
//! fixed seed (the same on every run); `PROPTEST_CASES` raises their number for a longer fuzz.

use goroscope_exectrace::{is_exec_trace, read, Analysis, Error, Options, Reader};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::io::Cursor;
use std::path::PathBuf;

fn seeds() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".trace"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    assert!(v.len() >= 3, "seed traces missing from {}", dir.display());
    v
}

fn analyse(bytes: Vec<u8>) -> Result<Analysis, Error> {
    let opts = Options {
        input: "fuzz".into(),
        max_ended_lifecycles: 1000,
        max_generation_bytes: 1 << 20,
        series_points: 16,
    };
    read(Cursor::new(bytes), &opts)
}

/// What holds for anything read.
fn check(a: &Analysis) {
    assert!(a.window.start <= a.window.end);
    for s in &a.sites {
        assert_eq!(
            s.born + s.existed_at_start,
            s.ended + s.alive_at_end,
            "every goroutine of a site ends or is alive at the end"
        );
        if let Some(l) = s.lifetimes() {
            assert!(l.min_ns <= l.p50_ns && l.p50_ns <= l.p90_ns && l.p90_ns <= l.max_ns);
        }
        assert!(s.alive_series.len() <= 16);
        if let Some(p) = s.alive_series.last() {
            assert_eq!(p.alive, s.alive_at_end as i64);
        }
    }
    let alive: u64 = a.sites.iter().map(|s| s.alive_at_end).sum();
    assert!(a.snapshot.goroutines.len() as u64 <= alive);
    for g in &a.snapshot.goroutines {
        let _ = a.snapshot.stack(g.stack);
    }
    for l in &a.goroutines {
        assert!(
            l.exec_ns >= 0 && l.sched_wait_ns >= 0 && l.total_ns() >= 0,
            "{l:?}"
        );
        assert!(l
            .blocked
            .iter()
            .all(|b| b.total_ns >= 0 && b.max_ns <= b.total_ns));
    }
}

/// Applies (position, op, byte) edits: overwrite, insert or delete.
fn mutate(mut data: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    for &(pos, op, b) in edits {
        if data.len() <= 16 {
            break;
        }
        // Keep the header: past it is where the reader must cope.
        let i = 16 + pos % (data.len() - 16);
        match op % 4 {
            0 => data[i] = b,
            1 => data.insert(i, b),
            2 => {
                data.remove(i);
            }
            _ => data[i] ^= 1 << (b % 8),
        }
    }
    data
}

fn runner(cases: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    )
}

#[test]
fn seeds_read_cleanly() {
    for (name, bytes) in seeds() {
        assert!(is_exec_trace(&bytes), "{name}");
        let a = analyse(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            a.snapshot.warnings.is_empty(),
            "{name}: {:?}",
            a.snapshot.warnings
        );
        assert_eq!(a.window.generations, 2, "{name}");
        check(&a);
        // The program's leaks: a chan send, a select {}, a mutex waiter, and the main goroutine.
        let reasons: Vec<&str> = a
            .snapshot
            .goroutines
            .iter()
            .map(|g| a.snapshot.str(g.state))
            .collect();
        for want in ["chan send", "select (no cases)", "sync.Mutex.Lock"] {
            assert!(reasons.contains(&want), "{name}: {reasons:?}");
        }
    }
}

#[test]
fn random_bytes_behind_a_header() {
    let mut r = runner(256);
    let headers: Vec<&[u8]> = vec![
        b"go 1.22 trace\0\0\0",
        b"go 1.23 trace\0\0\0",
        b"go 1.25 trace\0\0\0",
        b"go 1.26 trace\0\0\0",
    ];
    r.run(
        &(
            0..headers.len(),
            proptest::collection::vec(any::<u8>(), 0..4096),
        ),
        |(h, tail)| {
            let mut bytes = headers[h].to_vec();
            bytes.extend_from_slice(&tail);
            if let Ok(a) = analyse(bytes) {
                check(&a);
            }
            Ok(())
        },
    )
    .unwrap();
}

#[test]
fn mutated_real_traces() {
    let seeds = seeds();
    let mut r = runner(512);
    r.run(
        &(
            0..seeds.len(),
            proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8),
        ),
        |(i, edits)| {
            let bytes = mutate(seeds[i].1.clone(), &edits);
            match analyse(bytes) {
                Ok(a) => check(&a),
                Err(Error::Malformed { offset, .. }) => {
                    prop_assert!(offset as usize <= seeds[i].1.len() + edits.len())
                }
                Err(e) => prop_assert!(false, "{}: unexpected error {e}", seeds[i].0),
            }
            Ok(())
        },
    )
    .unwrap();
}

fn uvarint(b: &[u8], i: &mut usize) -> u64 {
    let (mut x, mut s) = (0u64, 0);
    loop {
        let c = b[*i];
        *i += 1;
        x |= ((c & 0x7f) as u64) << s;
        if c < 0x80 {
            return x;
        }
        s += 7;
    }
}

/// The batches of a trace: (start, end, generation; 0 for an end-of-generation marker).
fn batches(b: &[u8]) -> Vec<(usize, usize, u64)> {
    let mut v = Vec::new();
    let mut i = 16;
    while i < b.len() {
        let start = i;
        let kind = b[i];
        i += 1;
        if kind == 52 {
            v.push((start, i, 0));
            continue;
        }
        if kind == 49 {
            i += 1; // experiment
        }
        let gen = uvarint(b, &mut i);
        for _ in 0..2 {
            uvarint(b, &mut i);
        }
        let size = uvarint(b, &mut i) as usize;
        i += size;
        v.push((start, i, gen));
    }
    v
}

/// Offsets where a batch ends (a cut there leaves only whole batches).
fn batch_ends(b: &[u8]) -> Vec<usize> {
    let mut ends = vec![16];
    ends.extend(batches(b).into_iter().map(|(_, e, _)| e));
    ends
}

#[test]
fn a_broken_generation_after_good_ones_is_a_warning() {
    for (name, bytes) in seeds() {
        let bs = batches(&bytes);
        let first = bs[0].2;
        let (start, _, _) = *bs
            .iter()
            .find(|(_, _, g)| *g != first && *g != 0)
            .expect("two generations");
        let mut b = bytes[..start].to_vec();
        b.push(7); // not a batch
        b.extend_from_slice(&bytes[start..]);
        let a = analyse(b).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(a.window.generations, 1, "{name}");
        let w = &a.snapshot.warnings[0];
        assert!(w.message.contains("expected a batch"), "{name}: {w}");
        assert!(w.message.contains("generation"), "{name}: {w}");
        assert_eq!(w.offset, Some(start as u64), "{name}: {w}");
        check(&a);
    }
}

#[test]
fn every_cut_reads_what_is_complete() {
    for (name, bytes) in seeds() {
        let full = analyse(bytes.clone()).unwrap();
        // Before Go 1.26 a generation's end is only the next one's start: a cut between
        // batches looks like the end of the trace. From 1.26 on every cut is noticed.
        let silent: Vec<usize> = if bytes.starts_with(b"go 1.26") {
            Vec::new()
        } else {
            batch_ends(&bytes)
        };
        // Every cut point of the small seeds, in steps (the whole range for the first bytes).
        let cuts = (0..bytes.len()).filter(|c| *c < 64 || c % 7 == 0);
        for cut in cuts {
            match analyse(bytes[..cut].to_vec()) {
                Err(Error::NotATrace) => assert!(cut < 16, "{name} cut at {cut}"),
                Err(e) => panic!("{name} cut at {cut}: {e}"),
                Ok(a) => {
                    check(&a);
                    assert!(a.window.generations <= full.window.generations);
                    if a.window.generations < full.window.generations
                        && cut > 16
                        && !silent.contains(&cut)
                    {
                        assert!(
                            a.snapshot.truncated,
                            "{name} cut at {cut}: no cut-off warning ({:?})",
                            a.snapshot.warnings
                        );
                        let w = &a.snapshot.warnings[0];
                        assert!(w.offset.is_some_and(|o| o <= cut as u64), "{name}: {w}");
                    }
                }
            }
        }
    }
}

#[test]
fn gzipped_reads_the_same() {
    use std::io::Write;
    for (name, bytes) in seeds() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&bytes).unwrap();
        let gz = gz.finish().unwrap();
        assert!(is_exec_trace(&gz), "{name}");
        let a = analyse(bytes).unwrap();
        let b = analyse(gz).unwrap();
        assert_eq!(a.window.events, b.window.events, "{name}");
        assert_eq!(a.window.bytes, b.window.bytes, "{name}");
        assert_eq!(a.snapshot.goroutines, b.snapshot.goroutines, "{name}");
    }
}

#[test]
fn the_reader_alone_orders_time() {
    for (name, bytes) in seeds() {
        let mut r = Reader::new(Cursor::new(bytes)).unwrap();
        let mut last = i64::MIN;
        let mut n = 0;
        while let Some(ev) = r.next_event().unwrap() {
            assert!(ev.time > last, "{name}: time goes back at event {n}");
            last = ev.time;
            n += 1;
        }
        assert!(n > 50, "{name}");
        assert!(
            r.next_event().unwrap().is_none(),
            "{name}: stays at the end"
        );
    }
}

#[test]
fn not_a_trace() {
    for bytes in [
        &b""[..],
        b"go 1.22 trac",
        b"goroutine 1 [running]:\n",
        b"\x1f\x8b\x08",
    ] {
        assert!(!is_exec_trace(bytes));
        assert!(matches!(
            analyse(bytes.to_vec()),
            Err(Error::NotATrace | Error::Io(_))
        ));
    }
    let e = analyse(b"go 1.19 trace\0\0\0rest".to_vec()).unwrap_err();
    assert!(matches!(e, Error::OldFormat(19)), "{e}");
    let e = analyse(b"go 1.40 trace\0\0\0rest".to_vec()).unwrap_err();
    assert!(matches!(e, Error::UnsupportedVersion(40)), "{e}");
    assert!(e.to_string().contains("go 1.40"));
}

#[test]
fn a_generation_over_the_limit_is_refused() {
    let (name, bytes) = seeds().pop().unwrap();
    let opts = Options {
        max_generation_bytes: 100,
        ..Options::default()
    };
    let e = read(Cursor::new(bytes), &opts).unwrap_err();
    assert!(
        e.to_string().contains("larger than the limit"),
        "{name}: {e}"
    );
}
