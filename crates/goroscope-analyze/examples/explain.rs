//! Prints the groups of the given dumps (goroutineleak profiles among them prove the others):
//! `cargo run -p goroscope-analyze --example explain -- DUMP...`
use goroscope_analyze::{analyze, Options};

fn main() {
    let mut snaps = Vec::new();
    for p in std::env::args().skip(1) {
        match goroscope_ingest::read_input(&p, &Default::default()) {
            Ok(s) => snaps.extend(s),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        }
    }
    for r in analyze(&snaps, &Options::default()) {
        println!(
            "== {} ({}, {} goroutines, proof: {:?})",
            r.source.input, r.source.format, r.total_goroutines, r.proof.source
        );
        println!("   {:?}", r.summary);
        for g in &r.groups {
            let site = g
                .blocking_site
                .as_ref()
                .map(|l| l.to_string())
                .unwrap_or_default();
            println!(
                "{:>6} {:<17} {:<24} {:<22} {}{}",
                g.count,
                g.verdict.as_str(),
                g.pattern.as_deref().unwrap_or("-"),
                g.wait_reason.as_deref().unwrap_or(&g.status),
                site,
                if g.proven { "  [proven]" } else { "" }
            );
        }
    }
}
