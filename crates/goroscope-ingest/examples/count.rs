//! Reads one goroutine dump with `goroscope_ingest::read_input` and prints how many goroutines it
//! stands for: the pure-ingest baseline that `bench/run.sh` times beside `goroscope analyze`.
//!
//! Usage: `count [--threads N] [--detail] INPUT` (INPUT: a path, `-` or an http(s) URL).
//! Prints the total on stdout; with `--detail`, one line per snapshot on stderr.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut opts = goroscope_ingest::Options::default();
    let mut detail = false;
    let mut input = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => match args.next().and_then(|v| v.parse().ok()) {
                Some(n) => opts.threads = n,
                None => return usage("--threads needs a number"),
            },
            "--detail" => detail = true,
            "-h" | "--help" => {
                println!("usage: count [--threads N] [--detail] INPUT");
                return ExitCode::SUCCESS;
            }
            _ if input.is_none() => input = Some(arg),
            _ => return usage(&format!("unexpected argument {arg:?}")),
        }
    }
    let Some(input) = input else {
        return usage("no input named");
    };
    let snapshots = match goroscope_ingest::read_input(&input, &opts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("count: {e}");
            return ExitCode::from(2);
        }
    };
    let total: u64 = snapshots.iter().map(|s| s.total_goroutines()).sum();
    if detail {
        for s in &snapshots {
            eprintln!(
                "snapshot {} (line {:?}): format {}, context {}, {} goroutines, {} system stacks, {} records, {} stacks, {} bytes of argument words, {} warnings{}{}",
                s.source.index,
                s.source.line,
                s.source.format,
                s.context.map_or("-", |c| c.as_str()),
                s.goroutines.len(),
                s.system_stacks.len(),
                s.records.len(),
                s.interner.stack_count(),
                s.args.heap_bytes(),
                s.warnings.len(),
                if s.truncated { ", truncated" } else { "" },
                s.test
                    .as_ref()
                    .map(|t| format!(", test {:?} {:?}", t.package, t.tests))
                    .unwrap_or_default(),
            );
            for w in &s.warnings {
                eprintln!("  warning: {w}");
            }
        }
    }
    println!("{total}");
    ExitCode::SUCCESS
}

fn usage(why: &str) -> ExitCode {
    eprintln!("count: {why}\nusage: count [--threads N] [--detail] INPUT");
    ExitCode::from(2)
}
