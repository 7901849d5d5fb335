//! Times analysis against ingest on one dump (the "≤ 20 % of ingest" goal), and what the
//! relation layer adds (the "≤ 10 %" goal of issue 8): the same snapshots analysed again with
//! their argument words dropped, so the relation layer finds no wait object and costs nothing.
//! `cargo run --release -p goroscope-analyze --example perf -- DUMP [RUNS]`
use goroscope_analyze::{analyze, Options};
use goroscope_model::{ArgStore, ArgsRef};
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
    let mut best_bare = f64::MAX;
    let mut relations = 0usize;
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
        let mut bare = snaps.clone();
        for s in &mut bare {
            s.args = ArgStore::default();
            for g in &mut s.goroutines {
                g.args = ArgsRef::EMPTY;
            }
        }
        // Alternate which goes first, so neither always runs on a warmer cache.
        for first in [true, false] {
            if first {
                let t = Instant::now();
                let reports = analyze(&snaps, &Options::default());
                best_analyze = best_analyze.min(t.elapsed().as_secs_f64());
                relations = reports.iter().map(|r| r.relations.len()).sum();
                let total: u64 = reports.iter().map(|r| r.total_goroutines).sum();
                let groups: usize = reports.iter().map(|r| r.groups.len()).sum();
                eprintln!("{total} goroutines, {groups} groups, {relations} relations");
            } else {
                let t = Instant::now();
                std::hint::black_box(analyze(&bare, &Options::default()));
                best_bare = best_bare.min(t.elapsed().as_secs_f64());
            }
        }
    }
    println!(
        "ingest {best_ingest:.3}s  analyze {best_analyze:.3}s  analyze/ingest {:.1}%  (best of {runs})",
        100.0 * best_analyze / best_ingest
    );
    println!(
        "analyze without argument words {best_bare:.3}s: the relation layer ({relations} relations) adds {:.3}s, {:.1}% of ingest + analyze",
        best_analyze - best_bare,
        100.0 * (best_analyze - best_bare) / (best_ingest + best_bare)
    );
}
