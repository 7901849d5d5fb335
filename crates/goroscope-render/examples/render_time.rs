//! Times each output format on one input, after reading and analysing it once, so the cost of
//! rendering alone shows (the CLI's end-to-end time is mostly reading).
//!
//!     cargo run --release -p goroscope-render --example render_time -- DUMP

use goroscope_render::{render, OutputFormat, RenderOptions};
use std::time::Instant;

fn main() {
    let input = std::env::args().nth(1).expect("usage: render_time DUMP");
    let t = Instant::now();
    let snaps = goroscope_ingest::read_input(&input, &goroscope_ingest::Options::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let read = t.elapsed();
    let t = Instant::now();
    let reports = goroscope_analyze::analyze(&snaps, &goroscope_analyze::Options::default());
    let analysed = t.elapsed();
    let total: u64 = snaps.iter().map(|s| s.total_goroutines()).sum();
    println!(
        "{input}: {total} goroutines, {} groups; read {:.3} s, analyze {:.3} s",
        reports.iter().map(|r| r.groups.len()).sum::<usize>(),
        read.as_secs_f64(),
        analysed.as_secs_f64()
    );
    for format in OutputFormat::all() {
        let mut out = Vec::new();
        let t = Instant::now();
        render(
            &mut out,
            format,
            &reports,
            &snaps,
            &RenderOptions::default(),
        )
        .unwrap();
        println!(
            "{:>9}: {:>8.3} s, {:>9} bytes",
            format.as_str(),
            t.elapsed().as_secs_f64(),
            out.len()
        );
    }
}
