//! A million bare `goroutine 1 [running]:` lines (23 MB): each repeats goroutine 1, so each is
//! a dump of its own. Memory must stay bounded by what the reader holds at once (blocks in
//! flight, the snapshots kept), not grow with the headers: this once took 6 GB and aborted.
//!
//! Its own test binary, so the process's peak RSS (`VmHWM`) is this test's alone.

use goroscope_ingest::{read_reader, Options, MAX_SNAPSHOTS};

/// Peak resident memory of this process, from `/proc/self/status`.
fn peak_rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[test]
fn a_million_bare_headers_stay_bounded() {
    let text = "goroutine 1 [running]:\n".repeat(1_000_000);
    for threads in [1, 2] {
        let opts = Options {
            threads,
            ..Options::default()
        };
        let snaps = read_reader("bare.txt", text.as_bytes(), &opts).unwrap();
        assert_eq!(snaps.len(), MAX_SNAPSHOTS);
        let last = snaps.last().unwrap();
        assert!(
            last.warnings.iter().any(|w| w
                .message
                .contains("999000 more dumps (999000 goroutines) from here on were skipped")),
            "{:?}",
            last.warnings
        );
    }
    match peak_rss_bytes() {
        // The input itself is 23 MB; blocks in flight and one block's goroutines dominate.
        Some(peak) => assert!(peak < 600 << 20, "peak RSS {} MB", peak >> 20),
        None => eprintln!("SKIPPED the RSS check: no /proc/self/status on this system"),
    }
}
