//! Bad targets give clear errors (never a panic or a hang), and the walker works on an
//! in-memory fake address space.
#![cfg(target_os = "linux")]

mod common;
use common::*;
use goroscope_attach::binary::GoBinary;
use goroscope_attach::walk::WalkOptions;
use goroscope_attach::{attach_pid, snapshot_from_memory, AttachError, AttachOptions, FakeMemory};
use goroscope_model::Status;
use std::process::{Command, Stdio};

#[test]
fn non_go_and_missing_processes() {
    let mut sleep = Command::new("sleep")
        .arg("30")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let e = attach_pid(sleep.id(), &AttachOptions::default()).unwrap_err();
    assert!(matches!(e, AttachError::NotGo { .. }), "{e}");
    assert!(e.to_string().contains("is not a Go program"), "{e}");
    let _ = sleep.kill();
    let _ = sleep.wait();
    let e = attach_pid(u32::MAX - 7, &AttachOptions::default()).unwrap_err();
    assert!(matches!(e, AttachError::NoProcess { .. }), "{e}");
    let e = goroscope_attach::run_and_snapshot(&[], &AttachOptions::default()).unwrap_err();
    assert!(e.to_string().contains("no command"), "{e}");
}

/// Issue 7, item 16: a kernel thread and a zombie are named as what they are (both used to be
/// "no process … it may have exited").
#[test]
fn kernel_threads_and_zombies_say_what_they_are() {
    let e = attach_pid(2, &AttachOptions::default()).unwrap_err();
    assert!(matches!(e, AttachError::KernelThread { .. }), "{e}");
    assert!(e.to_string().contains("is a kernel thread"), "{e}");

    let mut z = Command::new("true").spawn().unwrap();
    let stat = format!("/proc/{}/stat", z.id());
    let t = std::time::Instant::now();
    while !std::fs::read_to_string(&stat)
        .unwrap_or_default()
        .rsplit_once(") ")
        .is_some_and(|(_, r)| r.starts_with('Z'))
    {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(30),
            "`true` did not exit"
        );
        std::thread::yield_now();
    }
    let e = attach_pid(z.id(), &AttachOptions::default()).unwrap_err();
    let _ = z.wait();
    assert!(matches!(e, AttachError::Zombie { .. }), "{e}");
    let m = e.to_string();
    assert!(
        m.contains("is a zombie") && m.contains(&format!("pid {}", std::process::id())),
        "{m}"
    );
}

#[test]
fn permission_error_names_the_fixes() {
    let e = AttachError::Permission {
        pid: 42,
        scope: "1".into(),
        detail: "EPERM".into(),
        privilege: goroscope_attach::error::Privilege::User,
    };
    let m = e.to_string();
    for needle in [
        "ptrace_scope",
        "CAP_SYS_PTRACE",
        "--cap-add SYS_PTRACE",
        "securityContext",
        "sudo goroscope attach 42",
    ] {
        assert!(m.contains(needle), "missing {needle:?} in {m}");
    }
}

fn fixture_binary() -> Option<(GoBinary, std::path::PathBuf)> {
    let tcs = installed();
    let tc = tcs.last()?;
    let exe = build("attach_basic", tc, false);
    Some((GoBinary::load(&exe).unwrap(), exe))
}

#[test]
fn walker_on_fake_memory() {
    let Some((bin, _)) = fixture_binary() else {
        panic!("no Go toolchains installed: run scripts/install-go.sh");
    };
    let l = bin.layout.clone();
    let (allgs, allglen) = (bin.allgs.unwrap(), bin.allglen.unwrap());
    let goexit = bin.pclntab.find_by_name("runtime.goexit").unwrap();
    let recurse = bin.pclntab.find_by_name("main.recurse").unwrap();
    let mut mem = FakeMemory::new();
    const ARR: u64 = 0x10_0000;
    const G1: u64 = 0x20_0000;
    const G2: u64 = 0x30_0000;
    const STACK: u64 = 0x40_0000;
    mem.map(allgs, vec![0; 24]);
    mem.poke(allgs, &ARR.to_le_bytes());
    mem.map(allglen, vec![0; 8]);
    mem.poke(allglen, &3u64.to_le_bytes());
    // The third g pointer leads nowhere: reported, not fatal.
    mem.map(
        ARR,
        [
            G1.to_le_bytes(),
            G2.to_le_bytes(),
            0xdead_0000u64.to_le_bytes(),
        ]
        .concat(),
    );
    let mut g = |addr: u64, goid: u64, status: u32, pc: u64, sp: u64| {
        mem.map(addr, vec![0; l.g_size as usize]);
        mem.poke(addr + l.g_goid, &goid.to_le_bytes());
        mem.poke(addr + l.g_atomicstatus, &status.to_le_bytes());
        mem.poke(addr + l.g_stack, &STACK.to_le_bytes());
        mem.poke(addr + l.g_stack + 8, &(STACK + 0x1000).to_le_bytes());
        mem.poke(addr + l.g_sched + l.gobuf_pc, &pc.to_le_bytes());
        mem.poke(addr + l.g_sched + l.gobuf_sp, &sp.to_le_bytes());
        mem.poke(addr + l.g_startpc, &recurse.entry.to_le_bytes());
    };
    // Goroutine 1: parked at the very bottom (runtime.goexit), waiting on "chan receive".
    g(G1, 1, 4, goexit.entry + 1, STACK + 0xff8);
    // Goroutine 2: its saved sp is outside its stack (a torn or corrupt g).
    g(G2, 2, 4, goexit.entry + 1, 0x99);
    let chan_receive = l
        .wait_reasons
        .iter()
        .position(|w| w == "chan receive")
        .unwrap() as u8;
    mem.poke(G1 + l.g_waitreason, &[chan_receive]);
    mem.map(STACK, vec![0; 0x1000]);
    // Parked 3.5 minutes ago by the runtime's clock; locked to a thread.
    let now: i64 = 1_000_000_000_000;
    mem.poke(G1 + l.g_waitsince, &(now - 210_000_000_000).to_le_bytes());
    mem.poke(G1 + l.g_lockedm, &0xdead_0000u64.to_le_bytes());
    let wopts = WalkOptions {
        now_nanos: Some(now),
        ..WalkOptions::default()
    };
    let snap = snapshot_from_memory(&bin, &mem, 0, wopts, fake_source()).unwrap();
    assert_eq!(snap.goroutines.len(), 2);
    let g1 = &snap.goroutines[0];
    assert_eq!((g1.goid.0, g1.status), (1, Status::Waiting));
    assert_eq!(snap.str(g1.state), "chan receive");
    assert_eq!(g1.wait_minutes, Some(3));
    assert!(g1.locked_to_thread);
    assert_eq!(snap.goroutines[1].wait_minutes, None);
    // Only runtime frames: shown anyway, like the runtime does when nothing else is left.
    assert_eq!(snap.function(snap.stack(g1.stack)[0]), "runtime.goexit");
    let g2 = &snap.goroutines[1];
    assert!(g2.stack_unavailable);
    assert!(
        snap.warnings
            .iter()
            .any(|w| w.message.contains("goroutine 2")),
        "{:?}",
        snap.warnings
    );
    let has = |needle: &str| snap.warnings.iter().any(|w| w.message.contains(needle));
    assert!(
        has("1 runtime.g structs were unreadable"),
        "{:?}",
        snap.warnings
    );
    // Goroutine 2 parked without a GC since: its wait time is unknown, and the snapshot says so.
    assert!(
        has("1 waiting goroutines have no wait start"),
        "{:?}",
        snap.warnings
    );

    // An implausible allglen is refused, not allocated.
    mem.poke(allglen, &u64::MAX.to_le_bytes());
    let e = snapshot_from_memory(&bin, &mem, 0, WalkOptions::default(), fake_source()).unwrap_err();
    assert!(e.to_string().contains("implausible"), "{e}");
    // A g array that does not start with goroutine 1 means a wrong layout: refused.
    mem.poke(allglen, &1u64.to_le_bytes());
    mem.poke(G1 + l.g_goid, &77u64.to_le_bytes());
    let e = snapshot_from_memory(&bin, &mem, 0, WalkOptions::default(), fake_source()).unwrap_err();
    assert!(e.to_string().contains("goroutine 1"), "{e}");
    // Unmapped allgs.
    let empty = FakeMemory::new();
    let e =
        snapshot_from_memory(&bin, &empty, 0, WalkOptions::default(), fake_source()).unwrap_err();
    assert!(e.to_string().contains("runtime.allglen"), "{e}");
}

#[test]
fn truncated_or_garbage_binaries_are_errors() {
    let Some((_, exe)) = fixture_binary() else {
        panic!("no Go toolchains installed: run scripts/install-go.sh");
    };
    let bytes = std::fs::read(&exe).unwrap();
    for cut in [0usize, 16, 64, 4096, bytes.len() / 2] {
        let r = GoBinary::from_bytes(format!("cut{cut}"), &bytes[..cut]);
        assert!(r.is_err(), "binary cut at {cut} accepted");
    }
    // Random bytes anywhere must not panic or hang (errors or wrong names are fine).
    // Garble inside .gopclntab (found by its header) and after it.
    let start = bytes
        .windows(8)
        .position(|w| w == [0xf1, 0xff, 0xff, 0xff, 0, 0, 1, 8])
        .expect("pclntab header");
    for seed in 0..8u64 {
        let mut b = bytes.clone();
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = start + (x % (b.len() - start) as u64) as usize;
            b[i] = (x >> 32) as u8;
        }
        if let Ok(bin) = GoBinary::from_bytes("garbled".into(), &b) {
            let (lo, hi) = bin.pclntab.text_range();
            let mut pc = lo;
            while pc < hi.min(lo + 2_000_000) {
                if let Some(f) = bin.pclntab.find(pc) {
                    let _ = bin
                        .pclntab
                        .frames_at(&f, pc, &|o, ix| bin.inl_record(o, ix));
                    let _ = bin.pclntab.sp_delta(&f, pc);
                }
                pc += 997;
            }
        }
    }
}

/// Helper run in a child process by `unprivileged_attach_names_the_fix`: drops to `nobody`,
/// then attaches to `GOROSCOPE_PERM_PID` and prints the error.
#[test]
#[ignore = "helper: run in a child process by unprivileged_attach_names_the_fix"]
fn permission_helper() {
    let pid: u32 = std::env::var("GOROSCOPE_PERM_PID")
        .unwrap()
        .parse()
        .unwrap();
    // SAFETY: plain syscalls; this process exists only to run this helper.
    unsafe {
        assert_eq!(libc::setgid(65534), 0);
        assert_eq!(libc::setuid(65534), 0);
    }
    match attach_pid(pid, &AttachOptions::default()) {
        Ok(_) => println!("RESULT ok"),
        Err(e) => println!("RESULT {}", e.to_string().replace('\n', " ")),
    }
}

#[test]
fn unprivileged_attach_names_the_fix() {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        eprintln!("SKIP: needs root to start a process another user cannot read");
        return;
    }
    let Some((_, exe)) = fixture_binary() else {
        panic!("no Go toolchains installed: run scripts/install-go.sh");
    };
    let fx = Fixture::start(&exe, &[]);
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "permission_helper",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("GOROSCOPE_PERM_PID", fx.pid().to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.split_once("RESULT ").map(|(_, r)| r.to_string()))
        .unwrap_or_else(|| panic!("helper printed no result: {text}"));
    assert!(line.contains("permission denied"), "{line}");
    assert!(
        line.contains("CAP_SYS_PTRACE") && line.contains("ptrace_scope"),
        "{line}"
    );
}
