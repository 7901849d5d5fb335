//! Reads a text dump with the text reader and prints what it found: for timing the reader alone.
//!
//! `cargo run --release -p goroscope-ingest --example text_read -- FILE [THREADS]`

use goroscope_ingest::{text, Options};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: text_read FILE [THREADS]");
    let threads = args
        .next()
        .map_or(0, |t| t.parse().expect("THREADS is a number"));
    let file = std::fs::File::open(&path).expect("readable file");
    let t = Instant::now();
    let opts = Options {
        threads,
        ..Options::default()
    };
    match text::read(&path, file, &opts) {
        Ok(snaps) => {
            let el = t.elapsed();
            for s in &snaps {
                eprintln!(
                    "snapshot {}: {} goroutines, {} stacks, {} frames, {} warnings, truncated={}",
                    s.source.index,
                    s.total_goroutines(),
                    s.interner.stack_count(),
                    s.interner.frame_count(),
                    s.warnings.len(),
                    s.truncated
                );
                for w in s.warnings.iter().take(5) {
                    eprintln!("  warning: {w}");
                }
            }
            let total: u64 = snaps.iter().map(|s| s.total_goroutines()).sum();
            println!("{total} goroutines in {:.3} s", el.as_secs_f64());
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
