//! SAFETY soak: attach many times, alternating non-blocking and `--pause`, to a fixture whose
//! goroutines are created, finish and grow their stacks all the time. Every attach must succeed,
//! the parked goroutines must read identically every time, the target must never be left
//! stopped or traced, and it must keep answering.
//!
//! `GOROSCOPE_SOAK_N` sets the number of attaches (default 100; the 1,000 is
//! `GOROSCOPE_SOAK_N=1000`).
#![cfg(target_os = "linux")]

mod common;
use common::*;
use goroscope_attach::{attach_pid, AttachOptions};

fn untraced(pid: u32) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .all(|t| {
            let p = t.unwrap().path().join("status");
            let s = std::fs::read_to_string(p).unwrap_or_default();
            let tracer = s
                .lines()
                .find_map(|l| l.strip_prefix("TracerPid:"))
                .unwrap_or("0")
                .trim()
                .to_string();
            let state = s
                .lines()
                .find_map(|l| l.strip_prefix("State:"))
                .unwrap_or("")
                .trim()
                .to_string();
            tracer == "0" && !state.starts_with('t') && !state.starts_with('T')
        })
}

#[test]
fn soak_attach_under_churn() {
    let n: usize = std::env::var("GOROSCOPE_SOAK_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let tcs = installed();
    assert!(
        !tcs.is_empty(),
        "no Go toolchains installed: run scripts/install-go.sh"
    );
    let tc = tcs.last().unwrap();
    let exe = build("attach_basic", tc, false);
    let mut fx = Fixture::start(&exe, &[]);
    let reference = from_snapshot(&attach_pid(fx.pid(), &AttachOptions::default()).unwrap());
    let parked: Vec<u64> = reference
        .iter()
        .map(|g| g.goid)
        .filter(|&g| g != 1)
        .collect();
    fx.send("churn");
    fx.read_until("CHURN");
    let mut torn_warnings = 0;
    for i in 0..n {
        let pause = i % 2 == 1;
        let snap = attach_pid(
            fx.pid(),
            &AttachOptions {
                pause,
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("attach #{i} (pause={pause}) failed: {e}"));
        torn_warnings += snap
            .warnings
            .iter()
            .filter(|w| w.message.contains("changed while being read"))
            .count();
        let ours = from_snapshot(&snap);
        for id in &parked {
            let a = reference.iter().find(|g| g.goid == *id).unwrap();
            let b = ours
                .iter()
                .find(|g| g.goid == *id)
                .unwrap_or_else(|| panic!("attach #{i}: goroutine {id} missing"));
            assert_eq!(
                a, b,
                "attach #{i} (pause={pause}): parked goroutine {id} read differently"
            );
        }
        // No garbage frames anywhere, churning goroutines included.
        for g in &snap.goroutines {
            for &f in snap.stack(g.stack) {
                let fr = snap.frame(f);
                assert!(
                    fr.line > 0 && snap.str(fr.file) != "?",
                    "attach #{i}: goroutine {} has a bad frame {}",
                    g.goid,
                    snap.frame_site(f)
                );
            }
        }
        assert!(
            untraced(fx.pid()),
            "attach #{i}: target left stopped or traced"
        );
    }
    fx.send("ping");
    fx.read_until("PONG");
    eprintln!("{n} attaches under churn: all succeeded; {torn_warnings} goroutines reported torn (changed while read)");
}
