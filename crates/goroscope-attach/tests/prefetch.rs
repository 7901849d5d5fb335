//! `--pause` copies every goroutine before stopping the target and, while it is stopped,
//! reads the `g`s again and only the stacks of goroutines whose `g` changed. Checked on a fake
//! address space: an unchanged goroutine's stack is not read again, a changed one's is (at its
//! new place), and the snapshot replayed from the recording equals the one read directly.
#![cfg(target_os = "linux")]

mod common;
use common::*;
use goroscope_attach::binary::GoBinary;
use goroscope_attach::memory::{RecordingMemory, Unmapped};
use goroscope_attach::walk::{WalkOptions, Walker};
use goroscope_attach::{snapshot_from_memory, FakeMemory, ProcessMemory};
use std::cell::RefCell;

/// Forwards to a fake and logs every range read.
struct Logged<'a> {
    inner: &'a FakeMemory,
    log: RefCell<Vec<(u64, usize)>>,
}

impl ProcessMemory for Logged<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Unmapped> {
        self.log.borrow_mut().push((addr, buf.len()));
        self.inner.read(addr, buf)
    }
}

impl Logged<'_> {
    fn touched(&self, lo: u64, hi: u64) -> bool {
        self.log
            .borrow()
            .iter()
            .any(|&(a, n)| a < hi && a + n as u64 > lo)
    }
}

#[test]
fn pause_rereads_only_stacks_of_changed_goroutines() {
    let tcs = installed();
    let Some(tc) = tcs.last() else {
        panic!("no Go toolchains installed: run scripts/install-go.sh");
    };
    let exe = build("attach_basic", tc, false);
    let bin = GoBinary::load(&exe).unwrap();
    let l = bin.layout.clone();
    let (allgs, allglen) = (bin.allgs.unwrap(), bin.allglen.unwrap());
    let goexit = bin.pclntab.find_by_name("runtime.goexit").unwrap();
    let recurse = bin.pclntab.find_by_name("main.recurse").unwrap();
    let mut mem = FakeMemory::new();
    const ARR: u64 = 0x10_0000;
    const G1: u64 = 0x20_0000;
    const G2: u64 = 0x30_0000;
    const S1: u64 = 0x40_0000;
    const S2: u64 = 0x50_0000;
    mem.map(allgs, ARR.to_le_bytes().to_vec());
    mem.map(allglen, 2u64.to_le_bytes().to_vec());
    mem.map(ARR, [G1.to_le_bytes(), G2.to_le_bytes()].concat());
    for (addr, goid, stack) in [(G1, 1u64, S1), (G2, 2, S2)] {
        mem.map(addr, vec![0; l.g_size as usize]);
        mem.poke(addr + l.g_goid, &goid.to_le_bytes());
        mem.poke(addr + l.g_atomicstatus, &4u32.to_le_bytes());
        mem.poke(addr + l.g_stack, &stack.to_le_bytes());
        mem.poke(addr + l.g_stack + 8, &(stack + 0x1000).to_le_bytes());
        mem.poke(
            addr + l.g_sched + l.gobuf_pc,
            &(goexit.entry + 1).to_le_bytes(),
        );
        mem.poke(
            addr + l.g_sched + l.gobuf_sp,
            &(stack + 0xff8).to_le_bytes(),
        );
        mem.poke(addr + l.g_startpc, &recurse.entry.to_le_bytes());
        mem.map(stack, vec![0; 0x1000]);
    }
    let pre = Walker::new(&bin, &mem, 0, WalkOptions::default())
        .pre_read()
        .unwrap();
    assert_eq!(pre.len(), 2);
    assert!(pre.stack(0).is_some() && pre.stack(1).is_some());
    // Goroutine 2 ran and parked again lower in its stack.
    mem.poke(G2 + l.g_sched + l.gobuf_sp, &(S2 + 0xff0).to_le_bytes());

    let logged = Logged {
        inner: &mem,
        log: RefCell::new(Vec::new()),
    };
    let rec = RecordingMemory::new(&logged);
    let reused = Walker::new(&bin, &rec, 0, WalkOptions::default())
        .prefetch_with(Some(&pre))
        .unwrap();
    assert_eq!(reused, vec![0], "only goroutine 1's copy still stands");
    assert!(
        !logged.touched(S1, S1 + 0x1000),
        "goroutine 1's stack was read again: {:?}",
        logged.log.borrow()
    );
    assert!(
        logged.touched(S2 + 0xff0, S2 + 0x1000),
        "goroutine 2's stack was not read at its new sp: {:?}",
        logged.log.borrow()
    );
    for i in reused {
        let (sp, buf, off, n) = pre.stack(i).unwrap();
        rec.record_if_absent(sp, buf, off, n);
    }
    rec.start_replay();
    // The replay equals a direct read (both goroutines, goroutine 2 at its new sp).
    let direct =
        snapshot_from_memory(&bin, &mem, 0, WalkOptions::default(), fake_source()).unwrap();
    logged.log.borrow_mut().clear();
    let replayed =
        snapshot_from_memory(&bin, &rec, 0, WalkOptions::default(), fake_source()).unwrap();
    assert!(
        !logged.touched(S1, S1 + 0x1000) && !logged.touched(S2, S2 + 0x1000),
        "the replay read stacks from the target: {:?}",
        logged.log.borrow()
    );
    assert_eq!(from_snapshot(&direct), from_snapshot(&replayed));
    assert_eq!(replayed.goroutines.len(), 2);

    // Without a copy, every stack is read while stopped.
    let logged = Logged {
        inner: &mem,
        log: RefCell::new(Vec::new()),
    };
    let reused = Walker::new(&bin, &logged, 0, WalkOptions::default())
        .prefetch_with(None)
        .unwrap();
    assert!(reused.is_empty());
    assert!(logged.touched(S1, S1 + 0x1000) && logged.touched(S2, S2 + 0x1000));
}
