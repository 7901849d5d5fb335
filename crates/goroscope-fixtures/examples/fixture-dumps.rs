//! Writes every dump form of fixture programs into a directory, for looking at by hand or for
//! snapshot tests elsewhere:
//!
//! ```text
//! cargo run -p goroscope-fixtures --example fixture-dumps -- OUTDIR [VERSION|all] [FIXTURE...] [--labels] [--n N]
//! ```
//!
//! Per toolchain and fixture: `expect.json` (ADDR and EXPECT), `goroutine_debug{2,1}.txt`,
//! `goroutine_debug0.pb.gz`, `goroutineleak_debug{2,1}.txt` and `goroutineleak_debug0.pb.gz`
//! (Go 1.27+), `sigquit.txt` (from a fresh process, EXPECT in `expect_sigquit.json`) and
//! `panic.txt` (`GOTRACEBACK=all`, EXPECT in `expect_panic.json`). Each process has its own
//! EXPECT: goroutine ids and totals may differ between them.

use goroscope_fixtures::{fixture_names, run_panic, toolchains, Fixture, StartOptions};
use std::path::PathBuf;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    const USAGE: &str = "usage: fixture-dumps OUTDIR [VERSION|all] [FIXTURE...] [--labels] [--n N]";
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return;
    }
    if let Some(bad) = args
        .iter()
        .find(|a| a.starts_with('-') && *a != "--labels" && *a != "--n")
    {
        eprintln!("unknown option {bad}\n{USAGE}");
        std::process::exit(2);
    }
    let mut opts = StartOptions::default();
    if let Some(i) = args.iter().position(|a| a == "--labels") {
        args.remove(i);
        opts.labels = true;
    }
    if let Some(i) = args.iter().position(|a| a == "--n") {
        args.remove(i);
        opts.n = Some(args.remove(i).parse().expect("--n takes a number"));
    }
    let Some(out) = args.first().map(PathBuf::from) else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let version = args.get(1).cloned().unwrap_or_else(|| "all".into());
    let names: Vec<String> = if args.len() > 2 {
        args[2..].to_vec()
    } else {
        fixture_names()
    };
    for tc in toolchains()
        .into_iter()
        .filter(|t| version == "all" || t.version == version)
    {
        for name in &names {
            let dir = out.join(&tc.version).join(name);
            std::fs::create_dir_all(&dir).expect("creating the output directory");
            let write = |file: &str, bytes: &[u8]| {
                std::fs::write(dir.join(file), bytes).expect("writing a dump");
            };
            let mut fx = Fixture::start(name, &tc, &opts);
            let expect = serde_json::json!({ "addr": fx.addr, "expect": fx.expect });
            write(
                "expect.json",
                serde_json::to_string_pretty(&expect).unwrap().as_bytes(),
            );
            let mut forms = vec![
                ("goroutine_debug2.txt", "/debug/pprof/goroutine?debug=2"),
                ("goroutine_debug1.txt", "/debug/pprof/goroutine?debug=1"),
                ("goroutine_debug0.pb.gz", "/debug/pprof/goroutine?debug=0"),
            ];
            if tc.has_goroutineleak() {
                forms.extend([
                    (
                        "goroutineleak_debug1.txt",
                        "/debug/pprof/goroutineleak?debug=1",
                    ),
                    (
                        "goroutineleak_debug0.pb.gz",
                        "/debug/pprof/goroutineleak?debug=0",
                    ),
                    (
                        "goroutineleak_debug2.txt",
                        "/debug/pprof/goroutineleak?debug=2",
                    ),
                ]);
            }
            for (file, path) in forms {
                match fx.fetch(path) {
                    Ok(b) => write(file, &b),
                    Err(e) => eprintln!("{} {name}: {e}", tc.version),
                }
            }
            drop(fx);
            let fx = Fixture::start(name, &tc, &opts);
            let expect = serde_json::to_string_pretty(&fx.expect).unwrap();
            write("expect_sigquit.json", expect.as_bytes());
            write("sigquit.txt", fx.sigquit().as_bytes());
            let crash = run_panic(name, &tc, &opts);
            let expect = serde_json::to_string_pretty(&crash.expect).unwrap();
            write("expect_panic.json", expect.as_bytes());
            write("panic.txt", crash.stderr.as_bytes());
            eprintln!("{} {name}: {}", tc.version, dir.display());
        }
    }
}
