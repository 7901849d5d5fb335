//! Exact wait objects from memory: on the relation fixtures (`fixtures/go/relations/*`), built
//! with every installed release, stripped and not, read non-blocking and with `--pause`, every
//! goroutine EXPECT says waits on an object (a channel, a mutex, an RWMutex, a WaitGroup) has
//! exactly that object, by address, with its operation, among the snapshot's memory facts; the
//! channels it waits on are read (not closed, no room); and the holders found from memory are
//! the ones EXPECT names.
#![cfg(target_os = "linux")]

use goroscope_attach::{attach_pid, AttachOptions};
use goroscope_fixtures::{ExpectMember, Fixture, StartOptions, Toolchain};
use goroscope_model::{Goid, HoldKind, MemoryFacts, ObjectKind, Snapshot, WaitOp};

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or_else(|_| panic!("not hex: {s}"))
}

fn op_matches(want: &str, got: WaitOp) -> bool {
    matches!(
        (want, got),
        ("send", WaitOp::Send)
            | ("recv", WaitOp::Recv)
            | ("lock", WaitOp::Lock)
            | ("rlock", WaitOp::RLock)
            | ("wait", WaitOp::Wait)
    )
}

/// Every member that waits on an object has it in `mem`; returns the members checked.
fn check_members(tag: &str, members: &[ExpectMember], mem: &MemoryFacts) -> usize {
    let mut n = 0;
    for m in members {
        let Some(addr) = m.waits_on.as_deref().map(hex) else {
            continue;
        };
        let ws = mem.waits_of(Goid(m.goid));
        assert!(
            ws.iter().any(|w| w.addr == addr && op_matches(&m.op, w.op)),
            "{tag}: goroutine {} ({} {}) should wait on {addr:#x} ({}); memory says {ws:?} (unread: {})",
            m.goid,
            m.role,
            m.function,
            m.op,
            mem.unread.contains(&Goid(m.goid))
        );
        for w in ws.iter().filter(|w| w.kind == ObjectKind::Chan) {
            let c = mem.chan(w.addr).expect("every waited channel is read");
            assert!(
                !c.ready_for(w.op),
                "{tag}: goroutine {} is blocked on {c:?}, which is ready for a {:?}",
                m.goid,
                w.op
            );
        }
        n += 1;
    }
    n
}

fn snapshot(fx: &Fixture, pause: bool) -> Snapshot {
    attach_pid(
        fx.pid(),
        &AttachOptions {
            pause,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{} go{}: {e}", fx.name, fx.toolchain.version))
}

fn toolchains() -> Vec<Toolchain> {
    goroscope_fixtures::toolchains()
}

fn run(fixture: &str, extra: impl Fn(&str, &Fixture, &Snapshot)) {
    for tc in &toolchains() {
        for stripped in [false, true] {
            let opts = StartOptions {
                stripped,
                ..Default::default()
            };
            let fx = Fixture::start(fixture, tc, &opts);
            for pause in [false, true] {
                let tag = format!(
                    "{fixture} go{} stripped={stripped} pause={pause}",
                    tc.version
                );
                let snap = snapshot(&fx, pause);
                let mem = snap
                    .memory
                    .as_ref()
                    .unwrap_or_else(|| panic!("{tag}: no memory facts: {:?}", snap.warnings));
                let n: usize = fx
                    .expect
                    .relations
                    .iter()
                    .map(|r| check_members(&tag, &r.members, mem))
                    .sum();
                assert!(n >= 2, "{tag}: only {n} members wait on an object");
                // The holders EXPECT names for each lock (a busy one's stack only when the
                // target is stopped: a running goroutine has none to read otherwise).
                for r in &fx.expect.relations {
                    for o in r.objects.iter().filter(|o| o.kind.contains("mutex")) {
                        let addr = hex(&o.addr);
                        let hs = mem.holders_of(addr);
                        for h in &o.holders {
                            let busy = r.members.iter().any(|m| m.goid == *h && m.op == "busy");
                            if busy && !pause {
                                continue;
                            }
                            assert!(
                                hs.iter().any(|x| x.goid == Goid(*h)),
                                "{tag}: goroutine {h} holds {} ({addr:#x}); memory says {hs:?}",
                                o.name
                            );
                        }
                    }
                }
                extra(&tag, &fx, &snap);
                eprintln!("{tag}: {n} waits exact");
            }
        }
    }
}

#[test]
fn deadlock_pipeline_channels() {
    run("relations/deadlock-pipeline", |_, _, _| {});
}

#[test]
fn send_send_cycle_peers_hold_each_others_channel() {
    run("relations/send-send-cycle", |tag, fx, snap| {
        let mem = snap.memory.as_ref().unwrap();
        // Each peer's receiver (`*peer`) holds the channel the other one sends on.
        let r = &fx.expect.relations[0];
        for m in &r.members {
            let mine = hex(m.waits_on.as_deref().unwrap());
            let other = r
                .members
                .iter()
                .find(|o| o.goid != m.goid)
                .expect("two peers");
            let hs = mem.holders_of(mine);
            assert!(
                hs.iter()
                    .any(|h| h.goid == Goid(other.goid) && h.how == HoldKind::Field),
                "{tag}: goroutine {} should hold {mine:#x} in its *peer; holders {hs:?}",
                other.goid
            );
            assert!(
                hs.iter().all(|h| h.goid != Goid(m.goid)),
                "{tag}: a waiter is not its own channel's holder"
            );
        }
    });
}

#[test]
fn lock_chain_locks() {
    run("relations/lock-chain", |_, _, _| {});
}

#[test]
fn lock_order_locks() {
    run("relations/lock-order", |_, _, _| {});
}

#[test]
fn wg_self_waitgroup() {
    run("relations/wg-self", |_, _, _| {});
}

#[test]
fn rw_starved_readers_hold_the_lock() {
    run("relations/rw-starved", |tag, fx, snap| {
        let mem = snap.memory.as_ref().unwrap();
        let r = &fx.expect.relations[0];
        let obj = &r.objects[0];
        let addr = hex(&obj.addr);
        let holding: Vec<u64> = r
            .members
            .iter()
            .filter(|m| m.role == "reader-holding")
            .map(|m| m.goid)
            .collect();
        assert!(!holding.is_empty());
        let hs = mem.holders_of(addr);
        for g in &holding {
            assert!(
                hs.iter().any(|h| h.goid == Goid(*g) && h.how == HoldKind::Frame),
                "{tag}: reader {g} holds the read lock {addr:#x} (its (*Store).Scan frame defers RUnlock); holders {hs:?}"
            );
        }
        // Only they: the waiters are not holders.
        assert_eq!(hs.len(), holding.len(), "{tag}: {hs:?}");
    });
}

/// The reading itself, on a fake address space built with a real binary's layout: channel
/// waits and a select's cases (each with the direction of the queue it sits in), a lock from
/// the semaphore table, and what must not be believed: a sudog that does not point back at its
/// goroutine, a select whose case list loops, a case in neither queue, a channel whose state
/// is impossible.
#[test]
fn memory_facts_on_fake_memory() {
    use goroscope_attach::binary::GoBinary;
    use goroscope_attach::walk::WalkOptions;
    use goroscope_attach::{snapshot_from_memory, FakeMemory};
    let tc = toolchains().pop().expect("a Go toolchain");
    let exe = goroscope_fixtures::build_with("attach_basic", &tc, Default::default());
    let bin = GoBinary::load(&exe).unwrap();
    let l = bin.layout.clone();
    let m = l.mem.expect("the newest release has a wait layout");
    let (allgs, allglen) = (bin.allgs.unwrap(), bin.allglen.unwrap());
    let semtable = bin.semtable.expect("runtime.semtable");
    let goexit = bin.pclntab.find_by_name("runtime.goexit").unwrap();
    let mut mem = FakeMemory::new();
    const ARR: u64 = 0x10_0000;
    const STACK: u64 = 0x40_0000;
    const SUDOGS: u64 = 0x50_0000;
    const CHANS: u64 = 0x60_0000;
    const MU: u64 = 0x70_0040;
    let gaddr = |i: u64| 0x20_0000 + i * 0x1000;
    let n = 7u64;
    mem.map(allgs, vec![0; 24]);
    mem.poke(allgs, &ARR.to_le_bytes());
    mem.map(allglen, vec![0; 8]);
    mem.poke(allglen, &n.to_le_bytes());
    mem.map(ARR, (1..=n).flat_map(|i| gaddr(i).to_le_bytes()).collect());
    mem.map(STACK, vec![0; 0x1000]);
    mem.map(SUDOGS, vec![0; 0x4000]);
    mem.map(CHANS, vec![0; 0x1000]);
    mem.map(semtable, vec![0; 251 * 64]);
    let reason = |r: &str| l.wait_reasons.iter().position(|w| w == r).unwrap() as u8;
    let mut g = |i: u64, why: &str, waiting: u64| {
        let a = gaddr(i);
        mem.map(a, vec![0; l.g_size as usize]);
        mem.poke(a + l.g_goid, &i.to_le_bytes());
        mem.poke(a + l.g_atomicstatus, &4u32.to_le_bytes());
        mem.poke(a + l.g_stack, &STACK.to_le_bytes());
        mem.poke(a + l.g_stack + 8, &(STACK + 0x1000).to_le_bytes());
        mem.poke(
            a + l.g_sched + l.gobuf_pc,
            &(goexit.entry + 1).to_le_bytes(),
        );
        mem.poke(a + l.g_sched + l.gobuf_sp, &(STACK + 0xff8).to_le_bytes());
        mem.poke(a + l.g_startpc, &goexit.entry.to_le_bytes());
        mem.poke(a + l.g_waitreason, &[reason(why)]);
        mem.poke(a + m.g_waiting, &waiting.to_le_bytes());
    };
    let sudog = |k: u64| SUDOGS + k * 0x100;
    let chan = |k: u64| CHANS + k * 0x100;
    g(1, "chan receive", sudog(0));
    g(2, "select", sudog(1));
    g(3, "chan send", sudog(3));
    g(4, "select", sudog(4));
    g(5, "sync.Mutex.Lock", 0);
    g(6, "select", sudog(5));
    g(7, "chan receive", sudog(7));
    let mut s = |k: u64, gp: u64, c: u64, select: bool, waitlink: u64, next: u64| {
        let a = sudog(k);
        mem.poke(a + m.sudog_g, &gp.to_le_bytes());
        mem.poke(a + m.sudog_c, &c.to_le_bytes());
        mem.poke(a + m.sudog_is_select, &[select as u8]);
        mem.poke(a + m.sudog_waitlink, &waitlink.to_le_bytes());
        mem.poke(a + m.sudog_next, &next.to_le_bytes());
    };
    // 1: receives on chan 0 (unbuffered, its recvq holds sudog 0).
    s(0, gaddr(1), chan(0), false, 0, 0);
    // 2: select: sends on chan 0 (sudog 1, in its sendq), receives on chan 1 (sudog 2).
    s(1, gaddr(2), chan(0), true, sudog(2), 0);
    s(2, gaddr(2), chan(1), true, 0, 0);
    // 3: its sudog belongs to goroutine 1 (reused since): not believed.
    s(3, gaddr(1), chan(0), false, 0, 0);
    // 4: a select whose list loops back on itself.
    s(4, gaddr(4), chan(1), true, sudog(4), 0);
    // 6: a select case in neither queue of its channel.
    s(5, gaddr(6), chan(2), true, 0, 0);
    // 7: a channel with more values than room: not a channel.
    s(7, gaddr(7), chan(3), false, 0, 0);
    let mut ch = |k: u64, qcount: u64, dataqsiz: u64, recvq: u64, sendq: u64| {
        let a = chan(k);
        mem.poke(a + m.hchan_qcount, &qcount.to_le_bytes());
        mem.poke(a + m.hchan_dataqsiz, &dataqsiz.to_le_bytes());
        mem.poke(a + m.hchan_recvq, &recvq.to_le_bytes());
        mem.poke(a + m.hchan_sendq, &sendq.to_le_bytes());
    };
    ch(0, 0, 0, sudog(0), sudog(1));
    ch(1, 0, 0, sudog(2), 0);
    ch(2, 0, 0, 0, 0);
    ch(3, 9, 2, sudog(7), 0);
    // 5: waits for mutex MU: its sudog (6) is the treap root of MU's semaphore's bucket.
    let sema = MU + m.mutex_sema;
    let bucket = (sema >> 3) % 251;
    mem.poke(
        semtable + bucket * 64 + m.semaroot_treap,
        &sudog(6).to_le_bytes(),
    );
    mem.poke(sudog(6) + m.sudog_g, &gaddr(5).to_le_bytes());
    mem.poke(sudog(6) + m.sudog_elem, &sema.to_le_bytes());

    let wopts = WalkOptions {
        system: true,
        ..WalkOptions::default()
    };
    let snap = snapshot_from_memory(&bin, &mem, 0, wopts, fake_source()).unwrap();
    assert_eq!(snap.goroutines.len(), n as usize);
    let mf = snap.memory.as_ref().expect("memory facts");
    let w = |g: u64| {
        mf.waits_of(Goid(g))
            .iter()
            .map(|w| (w.addr, w.kind, w.op, w.select))
            .collect::<Vec<_>>()
    };
    assert_eq!(w(1), vec![(chan(0), ObjectKind::Chan, WaitOp::Recv, false)]);
    assert_eq!(
        w(2),
        vec![
            (chan(0), ObjectKind::Chan, WaitOp::Send, true),
            (chan(1), ObjectKind::Chan, WaitOp::Recv, true)
        ]
    );
    assert_eq!(w(5), vec![(MU, ObjectKind::Mutex, WaitOp::Lock, false)]);
    for bad in [3, 4, 6, 7] {
        assert!(w(bad).is_empty(), "goroutine {bad}: {:?}", w(bad));
        assert!(mf.unread.contains(&Goid(bad)), "goroutine {bad} unread");
    }
    let c0 = mf.chan(chan(0)).unwrap();
    assert_eq!(
        (c0.qcount, c0.dataqsiz, c0.closed, c0.timer),
        (0, 0, false, false)
    );
    assert!(mf.chan(chan(3)).is_none());
}

fn fake_source() -> goroscope_model::Source {
    goroscope_model::Source {
        input: "fake".into(),
        index: 0,
        line: None,
        format: goroscope_model::Format::Attach,
        kind: goroscope_model::ProfileKind::Goroutine,
    }
}

/// Stripped binaries: `runtime.semtable` is found from the code that uses it, at the address
/// the symbol table gives in the same program built unstripped.
#[test]
fn semtable_without_symbols() {
    use goroscope_attach::binary::GoBinary;
    for tc in &toolchains() {
        let exe = goroscope_fixtures::build_with("attach_basic", tc, Default::default());
        let bin = GoBinary::load(&exe).unwrap();
        let sym = bin.semtable.expect("runtime.semtable symbol");
        assert_eq!(
            goroscope_attach::stripped::find_semtable(&bin),
            Some(sym),
            "go{}",
            tc.version
        );
        let stripped = goroscope_fixtures::build_with(
            "attach_basic",
            tc,
            goroscope_fixtures::BuildOptions {
                stripped: true,
                ..Default::default()
            },
        );
        let sbin = GoBinary::load(&stripped).unwrap();
        assert!(sbin.semtable.is_some(), "go{}: stripped", tc.version);
    }
}

/// `sync.Cond` waits: every goroutine of the `cond-no-signal` fixture waits on the one Cond
/// its gate points to, found on the Cond's notify list.
#[test]
fn cond_waiters_share_their_cond() {
    for tc in &toolchains() {
        for stripped in [false, true] {
            let fx = Fixture::start(
                "cond-no-signal",
                tc,
                &StartOptions {
                    stripped,
                    ..Default::default()
                },
            );
            let tag = format!("go{} stripped={stripped}", tc.version);
            let snap = snapshot(&fx, false);
            let mem = snap.memory.as_ref().expect("memory facts");
            let waiters: Vec<_> = snap
                .goroutines
                .iter()
                .filter(|g| g.wait_reason == Some(goroscope_model::WaitReason::SyncCondWait))
                .collect();
            assert_eq!(waiters.len() as u64, fx.expect.sites[0].count, "{tag}");
            let conds: std::collections::BTreeSet<u64> = waiters
                .iter()
                .map(|g| {
                    let ws = mem.waits_of(g.goid);
                    assert!(
                        ws.len() == 1 && ws[0].kind == ObjectKind::Cond && ws[0].op == WaitOp::Wait,
                        "{tag}: goroutine {}: {ws:?}",
                        g.goid
                    );
                    ws[0].addr
                })
                .collect();
            assert_eq!(conds.len(), 1, "{tag}: one Cond: {conds:?}");
        }
    }
}
