//! Attach speed at scale, beside the runtime's own `debug=2` stop-the-world dump time measured
//! on the same process in the same run.
//!
//! `cargo bench -p goroscope-attach --bench attach` (env: `GOROSCOPE_BENCH_GOROUTINES`, default
//! 100000; `GOROSCOPE_BENCH_ROUNDS`, default 5; `GOROSCOPE_BENCH_GO`, a version such as 1.27.3,
//! default the newest installed).
//!
//! Goals (issue 4): ≤ 0.5 s non-blocking and ≤ 100 ms of target pause with `--pause` at 100k
//! goroutines.

#[path = "../tests/common/mod.rs"]
mod common;

use goroscope_attach::{attach_pid_with_stats, AttachOptions};
use std::time::Duration;

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("GOROSCOPE_BENCH_GOROUTINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rounds: usize = std::env::var("GOROSCOPE_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let tcs = common::installed();
    let want = std::env::var("GOROSCOPE_BENCH_GO").ok();
    let Some(tc) = tcs
        .iter()
        .rev()
        .find(|t| want.as_deref().is_none_or(|w| t.version == w))
    else {
        eprintln!("SKIP: no matching Go toolchain installed (run scripts/install-go.sh)");
        std::process::exit(1);
    };
    let exe = common::build("attach_basic", tc, false);
    let extra = n.to_string();
    let t = std::time::Instant::now();
    let mut fx = common::Fixture::start(&exe, &[("ATTACH_EXTRA", extra.as_str())]);
    eprintln!(
        "go{}: fixture with {n} extra goroutines ready in {:?}",
        tc.version,
        t.elapsed()
    );

    let (mut load, mut nb, mut pz, mut pread, mut rt) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut pz_full, mut pread_full, mut reused) = (vec![], vec![], 0);
    let mut count = 0;
    for round in 0..rounds + 1 {
        let (s, st) = attach_pid_with_stats(fx.pid(), &AttachOptions::default()).expect("attach");
        count = s.goroutines.len();
        let (_, sp) = attach_pid_with_stats(
            fx.pid(),
            &AttachOptions {
                pause: true,
                ..Default::default()
            },
        )
        .expect("attach --pause");
        // The same without the copy taken before the stop: every stack copied while stopped.
        let (_, sf) = attach_pid_with_stats(
            fx.pid(),
            &AttachOptions {
                pause: true,
                precopy: false,
                ..Default::default()
            },
        )
        .expect("attach --pause without precopy");
        fx.send("timeddump");
        let line = fx.read_until_prefix("DUMPNS ");
        let ns: u64 = line.trim().parse().unwrap();
        if round == 0 {
            continue; // warm-up (page cache, allocator)
        }
        load.push(st.load);
        nb.push(st.read);
        pz.push(sp.paused.unwrap());
        pread.push(sp.read);
        pz_full.push(sf.paused.unwrap());
        pread_full.push(sf.read);
        reused = sp.stacks_reused;
        rt.push(Duration::from_nanos(ns));
    }
    assert!(count >= n, "only {count} goroutines read");
    println!(
        "attach bench: go{}, {count} goroutines, {rounds} rounds (median / min)",
        tc.version
    );
    let row = |name: &str, v: &mut Vec<Duration>| {
        let min = *v.iter().min().unwrap();
        println!("  {name:<44} {:>10.1?} / {:>10.1?}", median(v), min);
    };
    row("binary load (pclntab, DWARF)", &mut load);
    row("non-blocking read (target never stopped)", &mut nb);
    row("--pause: target stopped", &mut pz);
    row("--pause: whole read (after load)", &mut pread);
    row("--pause, no precopy: target stopped", &mut pz_full);
    row(
        "--pause, no precopy: whole read (after load)",
        &mut pread_full,
    );
    row("runtime debug=2 dump (stop-the-world)", &mut rt);
    println!("  (last --pause: {reused} stacks copied before the stop still valid, not re-read)");
}
