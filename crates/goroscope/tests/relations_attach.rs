//! Relations from memory, end to end (issue 8): `goroscope attach PID -o json` and
//! `goroscope attach PID --pause -o json` on the relation fixtures, built with every installed
//! Go release, find each relation with the goroutines EXPECT names and judge it as EXPECT
//! says is right for a live service:
//!
//! * `deadlock-pipeline`, `send-send-cycle`, `lock-order`, `wg-self`: a sure deadlock whose
//!   goroutines are EXPECT's (on its cycle or waiting behind it: `wg-self`'s coordinator before
//!   Go 1.25 holds the WaitGroup nowhere visible), every member a leak;
//! * `lock-chain`: with `--pause` (the stepper computes: its stack exists only when it is
//!   stopped) the chain from the 13 waiters through the refresher to the stepper, named as its
//!   root holder; without, no claim beyond what EXPECT allows;
//! * `rw-starved`: the writer and the queued readers waiting on the store's RWMutex, behind
//!   the readers that hold it (all of them named);
//! * `long-lived`, `signal-waiter`: quiet (no leak, no suspect);
//!
//! and a core of `send-send-cycle` (gcore of the live process) says the same as attach.
//!
//! Needs the Go toolchains of `scripts/install-go.sh`; attach needs ptrace on our own children
//! (the default on Linux); the core needs `gcore` (gdb) and skips visibly without it.
#![cfg(target_os = "linux")]

use goroscope_fixtures::{Expect, ExpectRelation, Fixture, StartOptions, Toolchain};
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Command;

fn goroscope(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_goroscope"))
        .args(args)
        .output()
        .expect("running goroscope");
    // 0: nothing found, 1: findings; anything else is an error.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "goroscope {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "goroscope {args:?}: not JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn attach(pid: u32, pause: bool) -> Value {
    let pid = pid.to_string();
    let mut args = vec!["attach", pid.as_str(), "-o", "json"];
    if pause {
        args.push("--pause");
    }
    goroscope(&args)
}

fn relations<'a>(r: &'a Value, kind: &str) -> Vec<&'a Value> {
    r["relations"]
        .as_array()
        .map(|v| v.iter().filter(|x| x["kind"] == kind).collect())
        .unwrap_or_default()
}

fn goids(rel: &Value) -> BTreeSet<u64> {
    rel["goroutines"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g["goid"].as_u64())
        .collect()
}

/// The verdict of the group goroutine `goid` is in.
fn verdict_of(r: &Value, goid: u64) -> Option<(String, String)> {
    r["groups"].as_array()?.iter().find_map(|g| {
        g["goids"]
            .as_array()?
            .iter()
            .any(|x| x.as_u64() == Some(goid))
            .then(|| {
                (
                    g["verdict"].as_str().unwrap_or("").to_string(),
                    g["pattern"].as_str().unwrap_or("").to_string(),
                )
            })
    })
}

/// Every blocked member's group has one of the verdicts EXPECT allows in a live service.
fn check_verdicts(tag: &str, r: &Value, rel: &ExpectRelation) {
    let allowed = rel
        .verdicts
        .get("live")
        .unwrap_or_else(|| panic!("{tag}: EXPECT names no live verdict"));
    for m in rel.members.iter().filter(|m| m.op != "busy") {
        let (v, p) = verdict_of(r, m.goid)
            .unwrap_or_else(|| panic!("{tag}: goroutine {} ({}) not reported", m.goid, m.role));
        assert!(
            allowed.contains(&v),
            "{tag}: goroutine {} ({} in {}) is {v} ({p}); EXPECT allows {allowed:?}",
            m.goid,
            m.role,
            m.function
        );
    }
}

fn no_findings(tag: &str, r: &Value) {
    for g in r["groups"].as_array().into_iter().flatten() {
        let v = g["verdict"].as_str().unwrap_or("");
        assert!(
            v != "leak" && v != "suspect",
            "{tag}: a {v} group on a healthy program: {g:#}"
        );
    }
}

fn deadlock(tag: &str, r: &Value, rel: &ExpectRelation) {
    let want: BTreeSet<u64> = rel.goids.iter().copied().collect();
    let ds = relations(r, "deadlock");
    let d = ds
        .iter()
        .find(|d| want.is_subset(&goids(d)))
        .unwrap_or_else(|| {
            panic!(
                "{tag}: no deadlock with goroutines {want:?}; relations: {:#}",
                r["relations"]
            )
        });
    assert_eq!(
        d["sure"], true,
        "{tag}: read from memory, it is sure: {d:#}"
    );
    assert_eq!(goids(d), want, "{tag}: exactly EXPECT's goroutines: {d:#}");
}

fn check(tag: &str, fixture: &str, e: &Expect, r: &Value, pause: bool) {
    match fixture {
        "relations/long-lived" | "relations/signal-waiter" => {
            no_findings(tag, r);
            return;
        }
        _ => {}
    }
    let rel = &e.relations[0];
    match fixture {
        "relations/lock-chain" => {
            let chains = relations(r, "lock-chain");
            if pause {
                let holder = rel.holder_goid.expect("EXPECT names the root holder");
                let c = chains
                    .iter()
                    .find(|c| {
                        c["goroutines"].as_array().is_some_and(|v| {
                            v.iter().any(|g| {
                                g["role"] == "root-holder" && g["goid"].as_u64() == Some(holder)
                            })
                        })
                    })
                    .unwrap_or_else(|| {
                        panic!(
                            "{tag}: no chain rooted at goroutine {holder}: {:#}",
                            r["relations"]
                        )
                    });
                let want: BTreeSet<u64> = rel.goids.iter().copied().collect();
                assert_eq!(goids(c), want, "{tag}: {c:#}");
                let s = c["summary"].as_str().unwrap_or("");
                assert!(
                    s.contains("(*Sim).Update") && s.contains("held too long"),
                    "{tag}: {s}"
                );
            }
        }
        "relations/rw-starved" => {
            let want: BTreeSet<u64> = rel.goids.iter().copied().collect();
            let c = relations(r, "lock-chain")
                .into_iter()
                .find(|c| goids(c) == want)
                .unwrap_or_else(|| {
                    panic!(
                        "{tag}: no chain over exactly {want:?}: {:#}",
                        r["relations"]
                    )
                });
            let holding: BTreeSet<u64> = rel
                .members
                .iter()
                .filter(|m| m.role == "reader-holding")
                .map(|m| m.goid)
                .collect();
            let holders: BTreeSet<u64> = c["goroutines"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|g| g["role"].as_str().is_some_and(|r| r.ends_with("holder")))
                .filter_map(|g| g["goid"].as_u64())
                .collect();
            assert_eq!(holders, holding, "{tag}: the readers holding it: {c:#}");
        }
        _ => deadlock(tag, r, rel),
    }
    check_verdicts(tag, r, rel);
}

const FIXTURES: &[&str] = &[
    "relations/deadlock-pipeline",
    "relations/send-send-cycle",
    "relations/lock-order",
    "relations/lock-chain",
    "relations/wg-self",
    "relations/rw-starved",
    "relations/long-lived",
    "relations/signal-waiter",
];

fn run_release(tc: &Toolchain) {
    for fixture in FIXTURES {
        let fx = Fixture::start(fixture, tc, &StartOptions::default());
        for pause in [false, true] {
            let tag = format!("{fixture} go{} pause={pause}", tc.version);
            let r = attach(fx.pid(), pause);
            assert_eq!(r["context"]["kind"], "live", "{tag}");
            check(&tag, fixture, &fx.expect, &r, pause);
            eprintln!("{tag}: ok");
        }
    }
}

fn release(minor: &str) {
    let tcs = goroscope_fixtures::toolchains();
    let Some(tc) = tcs.iter().find(|t| t.version.starts_with(minor)) else {
        eprintln!("SKIP: go{minor} is not installed");
        return;
    };
    run_release(tc);
}

#[test]
fn go_1_21() {
    release("1.21.");
}

#[test]
fn go_1_23() {
    release("1.23.");
}

#[test]
fn go_1_25() {
    release("1.25.");
}

#[test]
fn go_1_27() {
    release("1.27.");
}

/// A core of a live deadlock (gcore) reads like the process: the same sure deadlock.
#[test]
fn core_of_a_deadlock() {
    if Command::new("gcore").arg("--version").output().is_err() {
        eprintln!("SKIP: gcore (gdb) is not installed");
        return;
    }
    let tcs = goroscope_fixtures::toolchains();
    let tc = tcs.last().expect("a Go toolchain");
    let fixture = "relations/send-send-cycle";
    let fx = Fixture::start(fixture, tc, &StartOptions::default());
    let dir = std::env::temp_dir().join(format!("goroscope-relcore-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let prefix = dir.join("core");
    let st = Command::new("gcore")
        .arg("-o")
        .arg(&prefix)
        .arg(fx.pid().to_string())
        .output()
        .expect("gcore");
    let core = dir.join(format!("core.{}", fx.pid()));
    if !st.status.success() || !core.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        eprintln!(
            "SKIP: gcore could not write a core ({}): {}",
            st.status,
            String::from_utf8_lossy(&st.stderr)
        );
        return;
    }
    let exe = std::fs::read_link(format!("/proc/{}/exe", fx.pid())).unwrap();
    let core_s = core.display().to_string();
    let exe_s = exe.display().to_string();
    let r = goroscope(&[
        "analyze",
        "--core",
        &core_s,
        "--exe",
        &exe_s,
        "--context",
        "live",
        "-o",
        "json",
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    let tag = format!("{fixture} go{} core", tc.version);
    deadlock(&tag, &r, &fx.expect.relations[0]);
    check_verdicts(&tag, &r, &fx.expect.relations[0]);
}
