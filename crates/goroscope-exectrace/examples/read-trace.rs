//! Reads an execution trace and prints what goroscope sees: the window, per creation site
//! counts, and (with `--goroutines`) every goroutine's lifecycle as JSON lines.
//!
//! `cargo run --release -p goroscope-exectrace --example read-trace -- trace.out [--goroutines]`

use goroscope_exectrace::{read_path, Options};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: read-trace TRACE [--goroutines]");
        std::process::exit(2);
    };
    let per_goroutine = args.any(|a| a == "--goroutines");
    let opts = Options {
        input: path.clone(),
        max_ended_lifecycles: if per_goroutine {
            usize::MAX
        } else {
            Options::default().max_ended_lifecycles
        },
        ..Options::default()
    };
    let a = match read_path(path.as_ref(), &opts) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("read-trace: {path}: {e}");
            std::process::exit(1);
        }
    };
    let s = &a.snapshot;
    println!(
        "{}: {} · {} generations · {} events · {:.3} s · {} goroutines alive at the end",
        path,
        a.window.version,
        a.window.generations,
        a.window.events,
        a.window.duration().as_secs_f64(),
        s.goroutines.len()
    );
    for w in &s.warnings {
        println!("warning: {w}");
    }
    for site in &a.sites {
        if site.born + site.existed_at_start == 0 {
            continue;
        }
        let life = site
            .lifetimes()
            .map(|l| {
                format!(
                    " p50 {:.3} ms p99 {:.3} ms",
                    l.p50_ns as f64 / 1e6,
                    l.p99_ns as f64 / 1e6
                )
            })
            .unwrap_or_default();
        println!(
            "{:>8} born {:>8} ended {:>8} alive {:>6} before  {}{}",
            site.born,
            site.ended,
            site.alive_at_end,
            site.existed_at_start,
            a.site_name(site),
            life
        );
    }
    if per_goroutine {
        for l in &a.goroutines {
            let blocked: Vec<String> = l
                .blocked
                .iter()
                .map(|b| format!("{:?}:{}", s.str(b.reason), b.total_ns))
                .collect();
            println!(
                "g{} created={:?} first_seen={} started={:?} ended={:?} forever={:?} runs={} exec={} sched={} syscall={} syscall_block={} blocked=[{}] end={:?} entry={:?}",
                l.goid,
                l.created.map(|c| (c.at, c.creator.map(|g| g.0))),
                l.first_seen,
                l.started,
                l.ended,
                l.blocked_forever_at,
                l.runs,
                l.exec_ns,
                l.sched_wait_ns,
                l.syscall_ns,
                l.syscall_block_ns,
                blocked.join(" "),
                l.end.state,
                l.entry_function.map(|f| s.str(f)),
            );
        }
    }
}
