//! Times analysis against ingest on one dump (the "≤ 20 % of ingest" goal):
//! `cargo run --release -p goroscope-analyze --example perf -- DUMP [RUNS]`
use goroscope_analyze::{analyze, Options};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: perf DUMP [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(3);
    let mut best_ingest = f64::MAX;
    let mut best_analyze = f64::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        let snaps = match goroscope_ingest::read_input(&path, &Default::default()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        };
        best_ingest = best_ingest.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let reports = analyze(&snaps, &Options::default());
        best_analyze = best_analyze.min(t.elapsed().as_secs_f64());
        let total: u64 = reports.iter().map(|r| r.total_goroutines).sum();
        let groups: usize = reports.iter().map(|r| r.groups.len()).sum();
        eprintln!("{total} goroutines, {groups} groups");
    }
    println!(
        "ingest {best_ingest:.3}s  analyze {best_analyze:.3}s  analyze/ingest {:.1}%  (best of {runs})",
        100.0 * best_analyze / best_ingest
    );
}
