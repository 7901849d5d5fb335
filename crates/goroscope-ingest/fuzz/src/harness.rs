//! One fuzz input through the readers, with the invariants every answer must keep.

use goroscope_ingest::{read_reader, text, Options};
use goroscope_model::{Format, Snapshot, MAX_ARG_WORDS_PER_FRAME};

/// Reads `data` with a block size and thread count taken from its first bytes, then checks
/// the answer: no panic, every id resolvable, counts bounded by the input.
pub fn text_one(data: &[u8]) {
    let (block, threads) = match data {
        [a, b, ..] => (64 + (*a as usize) * 13, 1 + (*b as usize % 2)),
        _ => (4096, 1),
    };
    let opts = Options {
        threads,
        ..Options::default()
    };
    let headers = memchr_count(data, b"goroutine ");
    let lines = data.iter().filter(|&&c| c == b'\n').count() as u64 + 1;
    match text::read_with_block("fuzz", data, &opts, block) {
        Ok(snaps) => {
            assert!(!snaps.is_empty());
            let mut total = 0u64;
            for (i, s) in snaps.iter().enumerate() {
                assert_eq!(s.source.index, i);
                assert!(
                    !s.goroutines.is_empty() || !s.system_stacks.is_empty(),
                    "no empty snapshots"
                );
                total += s.total_goroutines();
                check_ids(s);
                for w in &s.warnings {
                    if let Some(l) = w.line {
                        assert!(l >= 1 && l <= lines, "warning line {l} of {lines}");
                    }
                }
            }
            assert!(
                total as usize <= headers,
                "{total} goroutines from {headers} headers"
            );
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("fuzz"), "error names the input: {msg}");
        }
    }
}

/// Every id in a snapshot resolves; argument words point at frames of their stack.
fn check_ids(s: &Snapshot) {
    for g in s.goroutines.iter().chain(&s.system_stacks) {
        let stack = s.stack(g.stack);
        for &f in stack {
            let _ = s.frame_site(f);
        }
        if let Some(f) = g.created_by {
            let _ = s.frame_site(f);
        }
        for a in g.ancestors.iter() {
            let _ = s.stack(a.stack).len();
        }
        let _ = s.labels(g.labels).count();
        let _ = s.str(g.state);
        for fa in s.frame_args(g) {
            assert!(
                fa.frame < stack.len(),
                "argument frame {} of {}",
                fa.frame,
                stack.len()
            );
            assert!(!fa.words.is_empty() && fa.words.len() <= MAX_ARG_WORDS_PER_FRAME);
        }
    }
    for g in &s.system_stacks {
        assert_eq!(g.goid.0, 0, "system stacks are goroutine 0");
    }
    assert!(
        s.goroutines.iter().all(|g| g.goid.0 != 0),
        "goroutine 0 is never a goroutine"
    );
    for r in &s.records {
        for &f in s.stack(r.stack) {
            let _ = s.frame_site(f);
        }
        let _ = s.labels(r.labels).count();
    }
}

/// Reads `data` as any input (format detection, gzip, test2json, text, debug=1, protobuf)
/// and checks the answer: no panic, every id resolvable, goroutines of text forms bounded by
/// the headers in the (decompressed) input, errors that name the input.
pub fn any_one(data: &[u8]) {
    let threads = data.first().map_or(1, |b| 1 + (*b as usize % 2));
    let opts = Options {
        threads,
        max_snapshots: 50,
        ..Options::default()
    };
    match read_reader("fuzz", data, &opts) {
        Ok(snaps) => {
            assert!(!snaps.is_empty());
            assert!(snaps.len() <= 50, "{} snapshots over the cap", snaps.len());
            for (i, s) in snaps.iter().enumerate() {
                assert_eq!(s.source.index, i);
                assert_eq!(s.source.input, "fuzz");
                check_ids(s);
                if matches!(s.source.format, Format::Debug2 | Format::Traceback) {
                    assert!(!s.goroutines.is_empty() || !s.system_stacks.is_empty());
                }
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("fuzz"), "error names the input: {msg}");
        }
    }
}

fn memchr_count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}
