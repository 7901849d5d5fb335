//! Property tests (stable Rust, proptest) over what goroscope reads from hostile places: the
//! buildinfo and pclntab decoders (random bytes and mutated real tables) and the goroutine
//! walker over fake memory (random images, and mutated copies of a real process's memory,
//! which include the sudogs, channels and semaphore table the wait objects are read from).
//! Each case must end with a value or an error: no panic (debug builds check overflow), no
//! hang, no allocation sized by a value read from the image. (The core reader's own property
//! tests are unit tests of `core_file.rs`.)
#![cfg(target_os = "linux")]

mod common;
use common::*;
use goroscope_attach::binary::{parse_buildinfo, GoBinary};
use goroscope_attach::memory::{LiveMemory, Unmapped};
use goroscope_attach::pclntab::Pclntab;
use goroscope_attach::walk::WalkOptions;
use goroscope_attach::{attach_pid, snapshot_from_memory, FakeMemory, ProcessMemory};
use object::{Object, ObjectSection};
use proptest::prelude::*;
use std::cell::RefCell;
use std::sync::OnceLock;

/// The attach_basic fixture of the newest installed release: its binary, its `.gopclntab`
/// (bytes, address, text start) and an image of its memory recorded while it was read live.
struct Real {
    bin: GoBinary,
    pcln: (Vec<u8>, u64, u64),
    image: Vec<(u64, Vec<u8>)>,
    goroutines: usize,
}

/// Forwards reads to a live process and keeps what they returned.
struct Recorder {
    inner: LiveMemory,
    seen: RefCell<Vec<(u64, Vec<u8>)>>,
}

impl ProcessMemory for Recorder {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Unmapped> {
        self.inner.read(addr, buf)?;
        self.seen.borrow_mut().push((addr, buf.to_vec()));
        Ok(())
    }
}

/// Non-overlapping regions from possibly overlapping reads (the first read of a byte wins).
fn merge(mut reads: Vec<(u64, Vec<u8>)>) -> Vec<(u64, Vec<u8>)> {
    reads.sort_by_key(|r| r.0);
    let mut out: Vec<(u64, Vec<u8>)> = Vec::new();
    for (a, b) in reads {
        if let Some((la, lb)) = out.last_mut() {
            let lend = *la + lb.len() as u64;
            if a <= lend {
                let skip = (lend - a) as usize;
                if skip < b.len() {
                    lb.extend_from_slice(&b[skip..]);
                }
                continue;
            }
        }
        out.push((a, b));
    }
    out
}

fn real() -> &'static Real {
    static REAL: OnceLock<Real> = OnceLock::new();
    REAL.get_or_init(|| {
        let tcs = installed();
        let tc = tcs
            .last()
            .expect("no Go toolchains installed: run scripts/install-go.sh");
        let exe = build("attach_basic", tc, false);
        let bytes = std::fs::read(&exe).unwrap();
        let file = object::File::parse(&*bytes).unwrap();
        let s = file.section_by_name(".gopclntab").unwrap();
        let bin = GoBinary::load(&exe).unwrap();
        let pcln = (
            s.data().unwrap().to_vec(),
            s.address(),
            bin.pclntab.text_start,
        );
        let fx = Fixture::start(&exe, &[]);
        let live = attach_pid(fx.pid(), &Default::default()).unwrap();
        let rec = Recorder {
            inner: LiveMemory { pid: fx.pid() },
            seen: RefCell::new(Vec::new()),
        };
        let wopts = WalkOptions {
            retries: 0,
            ..WalkOptions::default()
        };
        let snap = snapshot_from_memory(&bin, &rec, 0, wopts, fake_source()).unwrap();
        assert_eq!(snap.goroutines.len(), live.goroutines.len());
        let image = merge(rec.seen.into_inner());
        Real {
            bin,
            pcln,
            image,
            goroutines: snap.goroutines.len(),
        }
    })
}

fn fake(image: &[(u64, Vec<u8>)]) -> FakeMemory {
    let mut m = FakeMemory::new();
    for (a, b) in image {
        m.map(*a, b.clone());
    }
    m
}

fn walk(bin: &GoBinary, mem: &FakeMemory) {
    let wopts = WalkOptions {
        retries: 1,
        now_nanos: Some(1 << 40),
        ..WalkOptions::default()
    };
    if let Ok(s) = snapshot_from_memory(bin, mem, 0, wopts, fake_source()) {
        // Whatever was read is bounded by what the image holds.
        assert!(s.goroutines.len() <= 1 << 20);
    }
}

/// Exercises a decoded table the way the walker does.
fn exercise(t: &Pclntab, seeds: &[u64]) {
    let (lo, hi) = t.text_range();
    let _ = t.find_by_name("main.main");
    for &x in seeds {
        let pc = lo.wrapping_add(x % hi.saturating_sub(lo).max(1));
        if let Some(f) = t.find(pc) {
            let _ = t.sp_delta(&f, pc);
            let _ = t.file_line(&f, pc);
            let _ = t.frames_at(&f, pc, &|o, ix| {
                let v = (o as u64) ^ (ix as u64) ^ x;
                Some([(v & 0xff) as u8; 16].map(|b| b ^ (v >> 8) as u8))
            });
        }
    }
}

#[test]
fn the_recorded_image_reads_like_the_process() {
    let r = real();
    let snap = snapshot_from_memory(
        &r.bin,
        &fake(&r.image),
        0,
        WalkOptions {
            retries: 0,
            ..WalkOptions::default()
        },
        fake_source(),
    )
    .unwrap();
    assert_eq!(snap.goroutines.len(), r.goroutines);
    assert!(r.goroutines >= 22);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn buildinfo_any_bytes(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_buildinfo(&b);
        let mut h = b"\xff Go buildinf:\x08\x02".to_vec();
        h.extend_from_slice(&b);
        let _ = parse_buildinfo(&h);
    }

    #[test]
    fn pclntab_random_tables(
        words in proptest::collection::vec(any::<u64>(), 8..64),
        tail in proptest::collection::vec(any::<u8>(), 0..2048),
        text in any::<u64>(),
        seeds in proptest::collection::vec(any::<u64>(), 1..16),
    ) {
        let mut d = 0xffff_fff1u32.to_le_bytes().to_vec();
        d.extend_from_slice(&[0, 0, 1, 8]);
        for w in &words {
            // Mostly small values, so that offsets land inside the table.
            d.extend_from_slice(&(w % 4096).to_le_bytes());
        }
        d.extend_from_slice(&tail);
        if let Ok(t) = Pclntab::parse(d, 0x1000, text) {
            exercise(&t, &seeds);
        }
    }

    #[test]
    fn pclntab_mutated_real_table(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..64),
        seeds in proptest::collection::vec(any::<u64>(), 1..32),
    ) {
        let r = real();
        let mut d = r.pcln.0.clone();
        for (i, v) in edits {
            // Half of the edits in the header and function table, where offsets live.
            let span = if v & 1 == 0 { d.len().min(1 << 16) } else { d.len() };
            d[i.index(span)] = v;
        }
        if let Ok(t) = Pclntab::parse(d, r.pcln.1, r.pcln.2) {
            exercise(&t, &seeds);
        }
    }

    /// A random image: allgs pointing into a region of random bytes.
    #[test]
    fn walker_random_images(
        len in 0u64..48,
        region in proptest::collection::vec(any::<u8>(), 1024..16384),
        offsets in proptest::collection::vec(any::<u16>(), 0..48),
    ) {
        let r = real();
        let (allgs, allglen) = (r.bin.allgs.unwrap(), r.bin.allglen.unwrap());
        const ARR: u64 = 0x7000_0000;
        const REGION: u64 = 0x7100_0000;
        let mut m = FakeMemory::new();
        m.map(allgs, ARR.to_le_bytes().to_vec());
        m.map(allglen, len.to_le_bytes().to_vec());
        let ptrs: Vec<u8> = offsets
            .iter()
            .flat_map(|&o| (REGION + (o as u64 % region.len() as u64)).to_le_bytes())
            .collect();
        if !ptrs.is_empty() {
            m.map(ARR, ptrs);
        }
        m.map(REGION, region);
        walk(&r.bin, &m);
    }

    /// The real image with fields of its `g`s set to edge values (each field the walker reads).
    #[test]
    fn walker_real_images_with_hostile_g_fields(
        edits in proptest::collection::vec(
            (any::<prop::sample::Index>(), any::<prop::sample::Index>(), 0u64..8, any::<u64>()),
            1..12,
        ),
    ) {
        let r = real();
        let l = &r.bin.layout;
        let mut m = fake(&r.image);
        let base = m.read_u64(r.bin.allgs.unwrap()).unwrap();
        let n = m.read_u64(r.bin.allglen.unwrap()).unwrap();
        let fields = [
            l.g_stack, l.g_stack + 8, l.g_m, l.g_sched + l.gobuf_sp, l.g_sched + l.gobuf_pc,
            l.g_syscallsp, l.g_syscallpc, l.g_atomicstatus, l.g_goid, l.g_waitsince,
            l.g_waitreason, l.g_lockedm, l.g_parent_goid, l.g_gopc, l.g_startpc, l.g_labels,
            l.mem.map_or(l.g_labels, |m| m.g_waiting),
        ];
        for (g, field, kind, v) in edits {
            let gp = m.read_u64(base + 8 * g.index(n as usize) as u64).unwrap();
            let at = gp + fields[field.index(fields.len())];
            let v = match kind {
                0 => u64::MAX,
                1 => i64::MIN as u64,
                2 => u64::MAX - 7,
                3 => 0,
                4 => 1 << 63,
                5 => v % 16,
                _ => v,
            };
            if m.read_u64(at).is_ok() {
                m.poke(at, &v.to_le_bytes());
            }
        }
        walk(&r.bin, &m);
    }

    /// The real image with words or bytes overwritten: g structs, stacks, allgs, labels.
    #[test]
    fn walker_mutated_real_images(
        edits in proptest::collection::vec(
            (any::<prop::sample::Index>(), any::<prop::sample::Index>(), any::<u64>(), any::<bool>()),
            1..32,
        ),
    ) {
        let r = real();
        let mut image = r.image.clone();
        for (region, at, v, word) in edits {
            let (_, b) = &mut image[region.index(r.image.len())];
            let i = at.index(b.len());
            if word && i + 8 <= b.len() {
                let i = i & !7;
                // Values near the edges of the address space, small ones and random ones.
                let v = match v % 4 {
                    0 => u64::MAX - (v >> 60),
                    1 => v >> 48,
                    _ => v,
                };
                b[i..i + 8].copy_from_slice(&v.to_le_bytes());
            } else {
                b[i] = v as u8;
            }
        }
        walk(&r.bin, &fake(&image));
    }
}
