//! One fuzz input through the text reader, with the invariants every answer must keep.

use goroscope_ingest::{text, Options};

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
                assert!(!s.goroutines.is_empty(), "no empty snapshots");
                total += s.total_goroutines();
                for g in &s.goroutines {
                    for &f in s.stack(g.stack) {
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
                }
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

fn memchr_count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}
