//! Who waits on what, exactly, from the runtime's own structures (see
//! [`goroscope_model::MemoryFacts`]):
//!
//! * **channels**: a goroutine parked in a channel operation or a select has its `sudog`s on
//!   `g.waiting` (one, or one per select case linked by `waitlink`), each naming its channel
//!   (`sudog.c`). A select case's direction is the queue of that channel it sits in (`recvq` or
//!   `sendq`). Each waited channel's `hchan` gives its buffer, `closed` and (Go 1.23+) timer.
//! * **semaphores** (`sync.Mutex`, `RWMutex`, `WaitGroup`): the waiter's `sudog` sits in
//!   `runtime.semtable`, a table of treaps keyed by the semaphore's address (`sudog.elem`; same
//!   address waiters chained by `waitlink`); the wait reason says which `sync` type the
//!   semaphore belongs to, and so the object's address.
//! * **`sync.Cond`**: the waiter's `sudog` is on the Cond's notify list; the Cond is found
//!   among the words of its `sync.(*Cond).Wait` frame and confirmed by finding the sudog there.
//! * **holders**: goroutines with a live local or argument (per the GC's stack maps) equal to
//!   a waited object's address (a waiter too, unless the object is a lock); goroutines whose pointer-receiver method's object holds a waited object's
//!   address in its first [`MAX_RECEIVER_PREFIX`] bytes (a channel in a struct field), never
//!   past the end of the heap object the receiver points into (its span's element size, from
//!   the heap's arena map: a neighbour in the same span is another object); for a lock, the
//!   goroutines with a sure receiver or a live local pointing into the heap object that
//!   contains it, and goroutines in a method of that object's type whose frame holds the
//!   lock's or the object's address while the receiver argument itself printed `?`.
//!
//! Every `sudog` must point back at the goroutine it was reached from (`sudog.g`), every count
//! is bounded by what the process can hold, and a goroutine whose wait cannot be read whole
//! (a torn read, a select case in neither queue) gets no wait at all rather than a partial one:
//! a select missing a case could look stuck when it is not.

use super::gfields::{rd64, GFields};
use super::{Walker, G_LEAKED, G_SCAN, G_WAITING};
use crate::layout::{
    MemLayout, ARENA_BASE_OFFSET, ARENA_L2_ENTRIES, HEAP_ARENA_BYTES, PAGES_PER_ARENA, PAGE_SIZE,
    SEMTABLE_SIZE, SEMTABLE_STRIDE,
};
use goroscope_model::{
    ChanState, Goid, HoldKind, Holder, MemWait, MemoryFacts, ObjectKind, Snapshot, WaitOp,
    WaitReason, MAX_RECEIVER_PREFIX,
};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

/// What the walker keeps of each reported goroutine for this pass (kept small: there is one
/// per goroutine).
#[derive(Debug, Clone)]
pub(super) struct MemIn {
    /// The `g`'s address.
    pub addr: u64,
    /// `g.waiting`.
    pub waiting: u64,
    /// Waiting (or leaked): parked where the runtime's wait structures hold it.
    pub parked: bool,
    /// Printed method frames: (index, sp, fp).
    pub methods: Box<[(u16, u64, u64)]>,
    /// Live pointers of its frames' locals: (frame index, pointer).
    pub locals: Box<[(u16, u64)]>,
}

impl MemIn {
    pub(super) fn new(g: &GFields, methods: Vec<(u16, u64, u64)>, locals: Vec<(u16, u64)>) -> Self {
        let st = g.status & !G_SCAN;
        MemIn {
            addr: g.addr,
            waiting: g.waiting,
            parked: st == G_WAITING || st == G_LEAKED,
            methods: methods.into_boxed_slice(),
            locals: locals.into_boxed_slice(),
        }
    }
}

/// A select has at most 65536 cases (`runtime.selectgo`).
const MAX_SELECT_CASES: usize = 1 << 16;
/// Nodes of one channel queue or notify list walked at most, beyond the sudogs already read.
const MAX_QUEUE_READS: usize = 4096;
/// Bytes of a frame searched for a Cond or a lock's owner.
const MAX_FRAME_SCAN: u64 = 4096;
/// How far past a method receiver a lock may sit and be taken as its field (as the relation
/// analysis takes it).
const MAX_FIELD_OFFSET: u64 = 1024;

/// A `sudog` as read.
#[derive(Debug, Clone, Copy)]
struct Sudog {
    g: u64,
    next: u64,
    prev: u64,
    elem: u64,
    is_select: bool,
    waitlink: u64,
    c: u64,
}

impl Sudog {
    fn decode(m: &MemLayout, b: &[u8]) -> Sudog {
        Sudog {
            g: rd64(b, m.sudog_g),
            next: rd64(b, m.sudog_next),
            prev: rd64(b, m.sudog_prev),
            elem: rd64(b, m.sudog_elem),
            is_select: b.get(m.sudog_is_select as usize).is_some_and(|&v| v != 0),
            waitlink: rd64(b, m.sudog_waitlink),
            c: rd64(b, m.sudog_c),
        }
    }
}

/// A word that may be a pointer into a Go heap or data (as the relation analysis judges it).
fn pointer_like(w: u64) -> bool {
    (0x10000..(1u64 << 47)).contains(&w) && w % 8 == 0
}

/// The type of a pointer-receiver method's receiver, package included (`main.(*Sim`), not of
/// closures inside methods or generic methods (whose first word is a dictionary).
pub(crate) fn pointer_receiver_type(function: &str) -> Option<&str> {
    let open = function.find(".(*")?;
    let rest = &function[open + 3..];
    let close = rest.find(").")?;
    let (ty, method) = (&rest[..close], &rest[close + 2..]);
    if ty.contains('[') || method.contains('.') || method.contains('-') || method.is_empty() {
        return None;
    }
    Some(&function[..open + 3 + close])
}

impl Walker<'_> {
    /// Reads [`MemoryFacts`] for the goroutines of `snap` (`ins` parallel to its goroutines).
    pub(super) fn memory_facts(&mut self, snap: &Snapshot, ins: &[MemIn]) -> Option<MemoryFacts> {
        let Some(ml) = self.bin.layout.mem else {
            self.warnings.push(format!(
                "no layout of the runtime's wait structures for {} (layout {}): wait objects are not read from memory",
                self.bin.go_version, self.bin.layout_source
            ));
            return None;
        };
        let mut facts = MemoryFacts {
            timers_known: ml.hchan_timer != 0,
            ..MemoryFacts::default()
        };
        self.chan_waits(&ml, snap, ins, &mut facts);
        self.sema_waits(&ml, snap, ins, &mut facts);
        self.cond_waits(&ml, snap, ins, &mut facts);
        facts.sort();
        self.holders(snap, ins, &mut facts);
        facts.holders.sort_unstable();
        facts.holders.dedup();
        Some(facts)
    }

    /// Reads `len` bytes at each address and decodes them.
    fn read_each<T: Copy>(
        &self,
        addrs: &[u64],
        len: u64,
        decode: impl Fn(&[u8]) -> T,
    ) -> Vec<Option<T>> {
        let ranges: Vec<(u64, usize)> = addrs
            .iter()
            .map(|&a| {
                if a.checked_add(len).is_some() {
                    (a, len as usize)
                } else {
                    (0, 0)
                }
            })
            .collect();
        let mut out = vec![None; addrs.len()];
        crate::memory::visit_coalesced(self.mem, &ranges, 512, |i, b| {
            if b.len() as u64 == len {
                out[i] = Some(decode(b));
            }
        });
        out
    }

    fn chan_waits(
        &mut self,
        ml: &MemLayout,
        snap: &Snapshot,
        ins: &[MemIn],
        facts: &mut MemoryFacts,
    ) {
        // (goroutine index, is a select)
        let cands: Vec<(usize, bool)> = snap
            .goroutines
            .iter()
            .enumerate()
            .filter(|(i, _)| ins[*i].parked && ins[*i].waiting != 0)
            .filter_map(|(i, g)| match g.wait_reason {
                Some(WaitReason::ChanSend | WaitReason::ChanReceive)
                | Some(WaitReason::SynctestChanSend | WaitReason::SynctestChanReceive) => {
                    Some((i, false))
                }
                Some(WaitReason::Select | WaitReason::SynctestSelect) => Some((i, true)),
                _ => None,
            })
            .collect();
        if cands.is_empty() {
            return;
        }
        // Each candidate's sudogs, level by level along `waitlink` (one batch per level), in
        // one flat list (a million goroutines must not cost a million small vectors).
        let mut flat: Vec<(u32, u64, Sudog)> = Vec::with_capacity(cands.len());
        let mut ncases = vec![0u32; cands.len()];
        let mut bad = vec![false; cands.len()];
        // Select sudogs seen: each belongs to one goroutine's list, once (a cycle is torn).
        let mut linked: HashSet<u64> = HashSet::default();
        let mut frontier: Vec<(usize, u64)> = cands
            .iter()
            .enumerate()
            .map(|(c, &(i, _))| (c, ins[i].waiting))
            .collect();
        let len = ml.sudog_size as usize;
        while !frontier.is_empty() {
            let ranges: Vec<(u64, usize)> = frontier
                .iter()
                .map(|&(_, a)| match a.checked_add(len as u64) {
                    Some(_) => (a, len),
                    None => (0, 0),
                })
                .collect();
            let mut got = vec![false; frontier.len()];
            let mut next = Vec::new();
            // Decoded straight from the read blocks (no copy per sudog).
            crate::memory::visit_coalesced(self.mem, &ranges, 512, |k, b| {
                if b.len() != len {
                    return;
                }
                got[k] = true;
                let (c, addr) = frontier[k];
                let (gi, select) = cands[c];
                let s = Sudog::decode(ml, b);
                if s.g != ins[gi].addr || s.is_select != select || s.c == 0 {
                    bad[c] = true;
                    return;
                }
                flat.push((c as u32, addr, s));
                ncases[c] += 1;
                if select && s.waitlink != 0 {
                    if ncases[c] as usize >= MAX_SELECT_CASES || !linked.insert(s.waitlink) {
                        bad[c] = true;
                    } else {
                        next.push((c, s.waitlink));
                    }
                }
            });
            for (k, &(c, _)) in frontier.iter().enumerate() {
                if !got[k] {
                    bad[c] = true;
                }
            }
            frontier = next;
        }
        // Contiguous per candidate, in list order.
        if !flat.is_sorted_by_key(|f| f.0) {
            flat.sort_by_key(|f| f.0);
        }
        let mut starts = vec![0usize; cands.len() + 1];
        for (c, n) in ncases.iter().enumerate() {
            starts[c + 1] = starts[c] + *n as usize;
        }
        let cases = |c: usize| &flat[starts[c]..starts[c + 1]];
        // The channels.
        let mut chan_addrs: Vec<u64> = Vec::new();
        {
            let mut seen: HashSet<u64> = HashSet::default();
            let mut last = 0;
            for f in flat.iter().filter(|f| !bad[f.0 as usize]) {
                if f.2.c != last && seen.insert(f.2.c) {
                    chan_addrs.push(f.2.c);
                }
                last = f.2.c;
            }
        }
        chan_addrs.sort_unstable();
        let hlen = ml.hchan_len();
        let raw = self.read_each(&chan_addrs, hlen, |b| {
            (
                rd64(b, ml.hchan_qcount),
                rd64(b, ml.hchan_dataqsiz),
                rd64(b, ml.hchan_closed) & 0xffff_ffff,
                if ml.hchan_timer != 0 {
                    rd64(b, ml.hchan_timer)
                } else {
                    0
                },
                rd64(b, ml.hchan_recvq),
                rd64(b, ml.hchan_sendq),
            )
        });
        // addr → (state, recvq first, sendq first)
        let mut chans: HashMap<u64, (ChanState, u64, u64)> = HashMap::default();
        for (&addr, r) in chan_addrs.iter().zip(raw) {
            let Some((qcount, dataqsiz, closed, timer, recvq, sendq)) = r else {
                continue;
            };
            if !pointer_like(addr) || dataqsiz >= 1 << 40 || qcount > dataqsiz || closed > 1 {
                continue;
            }
            chans.insert(
                addr,
                (
                    ChanState {
                        addr,
                        qcount,
                        dataqsiz,
                        closed: closed == 1,
                        timer: timer != 0,
                    },
                    recvq,
                    sendq,
                ),
            );
        }
        // Select cases: the queue each sits in. Queues are walked over the sudogs already
        // read (every waiter's), reading only the ones not seen (bounded).
        let any_select = cands.iter().zip(&bad).any(|(&(_, sel), &b)| sel && !b);
        let mut queues: HashMap<u64, (HashSet<u64>, HashSet<u64>)> = HashMap::default();
        if any_select {
            let selected: HashSet<u64> = flat
                .iter()
                .filter(|f| cands[f.0 as usize].1 && !bad[f.0 as usize])
                .map(|f| f.2.c)
                .collect();
            // The sudogs read already, of the channels whose queues are walked.
            let mut known: HashMap<u64, Sudog> = HashMap::default();
            for &(_, a, s) in flat.iter().filter(|f| selected.contains(&f.2.c)) {
                known.insert(a, s);
            }
            for c in selected {
                let Some(&(_, rq, sq)) = chans.get(&c) else {
                    continue;
                };
                let recv = self.walk_queue(ml, rq, &mut known);
                let send = self.walk_queue(ml, sq, &mut known);
                queues.insert(c, (recv, send));
            }
        }
        // The waits, and each waited channel's state once.
        let mut used: HashSet<u64> = HashSet::default();
        let mut last_used = 0;
        let mut ws = Vec::new();
        facts.waits.reserve(cands.len());
        for (c, &(gi, select)) in cands.iter().enumerate() {
            let goid = snap.goroutines[gi].goid;
            if bad[c] || cases(c).is_empty() {
                facts.unread.push(goid);
                continue;
            }
            ws.clear();
            let mut ok = true;
            for &(_, addr, s) in cases(c) {
                let Some((state, _, _)) = chans.get(&s.c) else {
                    ok = false;
                    break;
                };
                let op = if select {
                    match queues.get(&s.c) {
                        Some((r, _)) if r.contains(&addr) => WaitOp::Recv,
                        Some((_, w)) if w.contains(&addr) => WaitOp::Send,
                        _ => {
                            ok = false;
                            break;
                        }
                    }
                } else if matches!(
                    snap.goroutines[gi].wait_reason,
                    Some(WaitReason::ChanSend | WaitReason::SynctestChanSend)
                ) {
                    WaitOp::Send
                } else {
                    WaitOp::Recv
                };
                ws.push((
                    MemWait {
                        goid,
                        addr: s.c,
                        kind: ObjectKind::Chan,
                        op,
                        select,
                    },
                    *state,
                ));
            }
            if !ok {
                facts.unread.push(goid);
                continue;
            }
            for &(w, st) in &ws {
                facts.waits.push(w);
                if st.addr != last_used && used.insert(st.addr) {
                    facts.chans.push(st);
                }
                last_used = st.addr;
            }
        }
    }

    /// The sudogs of a channel queue (`waitq.first`, then `next`), as a set of addresses.
    fn walk_queue(
        &self,
        ml: &MemLayout,
        first: u64,
        known: &mut HashMap<u64, Sudog>,
    ) -> HashSet<u64> {
        let mut out = HashSet::default();
        let mut p = first;
        let mut reads = 0;
        let limit = known.len() + MAX_QUEUE_READS;
        while p != 0 && out.len() < limit {
            if !out.insert(p) {
                break; // a cycle: torn
            }
            let s = match known.get(&p) {
                Some(s) => *s,
                None => {
                    reads += 1;
                    if reads > MAX_QUEUE_READS {
                        break;
                    }
                    let mut b = vec![0u8; ml.sudog_size as usize];
                    if self.mem.read(p, &mut b).is_err() {
                        break;
                    }
                    let s = Sudog::decode(ml, &b);
                    known.insert(p, s);
                    s
                }
            };
            p = s.next;
        }
        out
    }

    fn sema_waits(
        &mut self,
        ml: &MemLayout,
        snap: &Snapshot,
        ins: &[MemIn],
        facts: &mut MemoryFacts,
    ) {
        let cands: Vec<usize> = snap
            .goroutines
            .iter()
            .enumerate()
            .filter(|(i, g)| {
                ins[*i].parked
                    && matches!(
                        g.wait_reason,
                        Some(
                            WaitReason::SyncMutexLock
                                | WaitReason::SyncRwMutexLock
                                | WaitReason::SyncRwMutexRLock
                                | WaitReason::SyncWaitGroupWait
                                | WaitReason::SynctestWaitGroupWait
                                | WaitReason::Semacquire
                        )
                    )
            })
            .map(|(i, _)| i)
            .collect();
        if cands.is_empty() {
            return;
        }
        let by_g = match self.bin.semtable {
            Some(t) => self.semtable_waiters(ml, t.wrapping_add(self.bias), ins.len()),
            None => {
                self.warnings.push(
                    "runtime.semtable not found (no symbols, and the code that uses it was not recognised): lock and WaitGroup waits are not read from memory".into(),
                );
                HashMap::default()
            }
        };
        for gi in cands {
            let g = &snap.goroutines[gi];
            let Some(&sema) = by_g.get(&ins[gi].addr) else {
                facts.unread.push(g.goid);
                continue;
            };
            let in_wg_wait = || {
                snap.stack(g.stack)
                    .iter()
                    .any(|&f| snap.function(f) == "sync.(*WaitGroup).Wait")
            };
            let (kind, op, off) = match g.wait_reason {
                Some(WaitReason::SyncMutexLock) => (ObjectKind::Mutex, WaitOp::Lock, ml.mutex_sema),
                Some(WaitReason::SyncRwMutexLock) => {
                    (ObjectKind::RwMutex, WaitOp::Lock, ml.rwmutex_writer_sem)
                }
                Some(WaitReason::SyncRwMutexRLock) => {
                    (ObjectKind::RwMutex, WaitOp::RLock, ml.rwmutex_reader_sem)
                }
                Some(WaitReason::SyncWaitGroupWait | WaitReason::SynctestWaitGroupWait) => {
                    (ObjectKind::WaitGroup, WaitOp::Wait, ml.waitgroup_sema)
                }
                // Before Go 1.25 a WaitGroup's waiters say `semacquire`; their frames tell.
                _ if in_wg_wait() => (ObjectKind::WaitGroup, WaitOp::Wait, ml.waitgroup_sema),
                _ => (ObjectKind::Semaphore, WaitOp::Acquire, 0),
            };
            let Some(addr) = sema.checked_sub(off) else {
                facts.unread.push(g.goid);
                continue;
            };
            facts.waits.push(MemWait {
                goid: g.goid,
                addr,
                kind,
                op,
                select: false,
            });
        }
    }

    /// Every semaphore waiter in `runtime.semtable` at `table`: `g` address → semaphore
    /// address. Treaps are walked level by level (one batch per level), bounded by the number
    /// of goroutines the process has.
    fn semtable_waiters(
        &mut self,
        ml: &MemLayout,
        table: u64,
        goroutines: usize,
    ) -> HashMap<u64, u64> {
        let mut out = HashMap::default();
        let mut roots = vec![0u8; (SEMTABLE_SIZE * SEMTABLE_STRIDE) as usize];
        if self.mem.read(table, &mut roots).is_err() {
            self.warnings.push(format!(
                "runtime.semtable at {table:#x} is unreadable: lock and WaitGroup waits are not read from memory"
            ));
            return out;
        }
        let limit = goroutines.saturating_mul(2).saturating_add(4096);
        let mut seen: HashSet<u64> = HashSet::default();
        // (sudog address, in the tree (children to follow) or in a wait list)
        let mut frontier: Vec<(u64, bool)> = (0..SEMTABLE_SIZE)
            .map(|i| rd64(&roots, i * SEMTABLE_STRIDE + ml.semaroot_treap))
            .filter(|&t| t != 0)
            .map(|t| (t, true))
            .collect();
        while !frontier.is_empty() && seen.len() < limit {
            frontier.retain(|(a, _)| seen.insert(*a));
            let addrs: Vec<u64> = frontier.iter().map(|f| f.0).collect();
            let read = self.read_each(&addrs, ml.sudog_size, |b| Sudog::decode(ml, b));
            let mut next = Vec::new();
            for (&(_, tree), s) in frontier.iter().zip(read) {
                let Some(s) = s else { continue };
                if s.g != 0 && s.elem != 0 {
                    out.insert(s.g, s.elem);
                }
                if tree {
                    next.extend(
                        [s.prev, s.next]
                            .into_iter()
                            .filter(|&a| a != 0)
                            .map(|a| (a, true)),
                    );
                }
                if s.waitlink != 0 {
                    next.push((s.waitlink, false));
                }
            }
            frontier = next;
        }
        if seen.len() >= limit {
            self.warnings.push(
                "runtime.semtable holds more waiters than the process has goroutines (read while it changed?): some lock waits are not read".into(),
            );
        }
        out
    }

    fn cond_waits(
        &mut self,
        ml: &MemLayout,
        snap: &Snapshot,
        ins: &[MemIn],
        facts: &mut MemoryFacts,
    ) {
        for (gi, g) in snap.goroutines.iter().enumerate() {
            if g.wait_reason != Some(WaitReason::SyncCondWait) || !ins[gi].parked {
                continue;
            }
            let frames = snap.stack(g.stack);
            let frame = ins[gi].methods.iter().find(|(i, _, _)| {
                frames
                    .get(usize::from(*i))
                    .is_some_and(|&f| snap.function(f) == "sync.(*Cond).Wait")
            });
            let found = frame.and_then(|&(_, sp, fp)| self.find_cond(ml, ins[gi].addr, sp, fp));
            match found {
                Some(addr) => facts.waits.push(MemWait {
                    goid: g.goid,
                    addr,
                    kind: ObjectKind::Cond,
                    op: WaitOp::Wait,
                    select: false,
                }),
                None => facts.unread.push(g.goid),
            }
        }
    }

    /// The `sync.Cond` whose notify list holds goroutine `gp`'s sudog, among the words of its
    /// `(*Cond).Wait` frame (`[sp, fp + 16)`: locals and the receiver's spill slot).
    fn find_cond(&self, ml: &MemLayout, gp: u64, sp: u64, fp: u64) -> Option<u64> {
        let end = fp.checked_add(16)?;
        let n = end.checked_sub(sp)?.min(MAX_FRAME_SCAN) as usize;
        let mut b = vec![0u8; self.mem.readable_len(sp, n)];
        self.mem.read(sp, &mut b).ok()?;
        let mut tried = HashSet::default();
        for w in b
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8")))
        {
            if !pointer_like(w) || !tried.insert(w) || tried.len() > 64 {
                continue;
            }
            let Some(head_at) = w
                .checked_add(ml.cond_notify)
                .and_then(|a| a.checked_add(ml.notifylist_head))
            else {
                continue;
            };
            let Ok(mut p) = self.mem.read_u64(head_at) else {
                continue;
            };
            let mut sb = vec![0u8; ml.sudog_size as usize];
            for _ in 0..MAX_QUEUE_READS {
                if p == 0 || self.mem.read(p, &mut sb).is_err() {
                    break;
                }
                let s = Sudog::decode(ml, &sb);
                if s.g == gp {
                    return Some(w);
                }
                p = s.next;
            }
        }
        None
    }

    /// Goroutines that hold a waited object (see the module docs).
    fn holders(&mut self, snap: &Snapshot, ins: &[MemIn], facts: &mut MemoryFacts) {
        if facts.waits.is_empty() {
            return;
        }
        let waited: HashSet<u64> = facts.waits.iter().map(|w| w.addr).collect();
        // Waited locks: their waiters never hold them (a waiter's local naming its lock is the
        // lock it asks for); other objects' waiters may (a worker waiting on the WaitGroup it
        // should call Done on).
        let locks: HashSet<u64> = facts
            .waits
            .iter()
            .filter(|w| matches!(w.kind, ObjectKind::Mutex | ObjectKind::RwMutex))
            .map(|w| w.addr)
            .collect();
        let waits_on = |goid: Goid, addr: u64| facts.waits_of(goid).iter().any(|w| w.addr == addr);
        // Certain pointer receivers of pointer-receiver methods: (receiver, goroutine, frame).
        let mut receivers: Vec<(u64, usize, u16)> = Vec::new();
        let mut is_recv: HashMap<goroscope_model::FrameId, bool> = HashMap::default();
        for (gi, g) in snap.goroutines.iter().enumerate() {
            if g.args.is_empty() {
                continue;
            }
            let frames = snap.stack(g.stack);
            for fa in snap.frame_args(g) {
                let Some(&fid) = frames.get(fa.frame) else {
                    continue;
                };
                let recv = *is_recv
                    .entry(fid)
                    .or_insert_with(|| pointer_receiver_type(snap.function(fid)).is_some());
                if !recv {
                    continue;
                }
                match fa.words.first() {
                    Some(&r) if !fa.uncertain(0) && pointer_like(r) => {
                        receivers.push((r, gi, fa.frame as u16))
                    }
                    _ => {}
                }
            }
        }
        let mut holders = Vec::new();
        // Live locals holding a waited object.
        for (gi, g) in snap.goroutines.iter().enumerate() {
            let mut seen: Vec<u64> = Vec::new();
            for &(frame, w) in &ins[gi].locals {
                if waited.contains(&w)
                    && !seen.contains(&w)
                    && !(locks.contains(&w) && waits_on(g.goid, w))
                {
                    seen.push(w);
                    holders.push(Holder {
                        addr: w,
                        goid: g.goid,
                        frame,
                        receiver: 0,
                        offset: 0,
                        how: HoldKind::Local,
                    });
                }
            }
        }
        if !receivers.is_empty() {
            let mut addrs: Vec<u64> = receivers.iter().map(|r| r.0).collect();
            addrs.sort_unstable();
            addrs.dedup();
            let ends = self.object_ends(&addrs);
            let ranges: Vec<(u64, usize)> = addrs
                .iter()
                .zip(ends)
                .map(|(&a, end)| {
                    let n = match end {
                        Some(e) => e.saturating_sub(a).min(MAX_RECEIVER_PREFIX),
                        None => MAX_RECEIVER_PREFIX,
                    };
                    (a, self.mem.readable_len(a, n as usize))
                })
                .collect();
            // receiver → (word offset, waited object)
            let mut fields: HashMap<u64, Vec<(u32, u64)>> = HashMap::default();
            crate::memory::visit_coalesced(self.mem, &ranges, 512, |i, b| {
                for (k, c) in b.chunks_exact(8).enumerate() {
                    let w = u64::from_le_bytes(c.try_into().expect("8"));
                    if waited.contains(&w) {
                        fields.entry(addrs[i]).or_default().push((k as u32 * 8, w));
                    }
                }
            });
            for &(r, gi, frame) in &receivers {
                let goid = snap.goroutines[gi].goid;
                for &(offset, obj) in fields.get(&r).map(Vec::as_slice).unwrap_or(&[]) {
                    if !waits_on(goid, obj) {
                        holders.push(Holder {
                            addr: obj,
                            goid,
                            frame,
                            receiver: r,
                            offset,
                            how: HoldKind::Field,
                        });
                    }
                }
            }
        }
        // Locks: goroutines with a pointer (a sure receiver, a live local) into the heap object
        // that contains the lock are its probable holders; the object's bounds come from its
        // span, so a neighbour in memory is never taken for it.
        let locks: Vec<u64> = {
            let mut v: Vec<u64> = facts
                .waits
                .iter()
                .filter(|w| matches!(w.kind, ObjectKind::Mutex | ObjectKind::RwMutex))
                .map(|w| w.addr)
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        if locks.is_empty() {
            facts.holders.extend(holders);
            return;
        }
        let near = |p: u64| {
            let i = locks.partition_point(|&l| l < p);
            locks.get(i).is_some_and(|&l| l - p < MAX_FIELD_OFFSET)
        };
        // (pointer, goroutine, frame, a receiver)
        let mut cands: Vec<(u64, usize, u16, bool)> = receivers
            .iter()
            .filter(|r| near(r.0))
            .map(|&(r, gi, f)| (r, gi, f, true))
            .collect();
        for (gi, i) in ins.iter().enumerate() {
            cands.extend(
                i.locals
                    .iter()
                    .filter(|l| near(l.1))
                    .map(|&(f, p)| (p, gi, f, false)),
            );
            // Sure argument words of plain functions too (`transfer(from, to *Account)`).
            let g = &snap.goroutines[gi];
            for fa in snap.frame_args(g) {
                for (k, &w) in fa.words.iter().enumerate() {
                    if !fa.uncertain(k) && pointer_like(w) && near(w) {
                        cands.push((w, gi, fa.frame as u16, false));
                    }
                }
            }
        }
        let mut ptrs: Vec<u64> = cands.iter().map(|c| c.0).collect();
        ptrs.sort_unstable();
        ptrs.dedup();
        let ends: HashMap<u64, u64> = ptrs
            .iter()
            .zip(self.object_ends(&ptrs))
            .filter_map(|(&p, e)| Some((p, e?)))
            .collect();
        // The locks within [p, end of p's object).
        let inside = |p: u64| -> &[u64] {
            let end = ends
                .get(&p)
                .copied()
                .unwrap_or(p + 8)
                .min(p + MAX_FIELD_OFFSET);
            let lo = locks.partition_point(|&l| l < p);
            let hi = locks.partition_point(|&l| l < end);
            &locks[lo..hi]
        };
        let mut seen: HashSet<(u64, Goid)> = HashSet::default();
        for &(p, gi, frame, recv) in &cands {
            let goid = snap.goroutines[gi].goid;
            for &lock in inside(p) {
                if waits_on(goid, lock) || !seen.insert((lock, goid)) {
                    continue;
                }
                holders.push(Holder {
                    addr: lock,
                    goid,
                    frame,
                    receiver: p,
                    offset: (lock - p) as u32,
                    how: if recv {
                        HoldKind::Inside
                    } else {
                        HoldKind::Local
                    },
                });
            }
        }
        // Locks inside a struct whose methods' receivers printed `?`: frames of a method of
        // the owner's type that hold the lock's or the owner's address.
        for &lock in &locks {
            // The owner: the innermost struct containing the lock among its waiters' receivers.
            let owner = receivers
                .iter()
                .filter(|&&(r, gi, _)| {
                    inside(r).contains(&lock) && waits_on(snap.goroutines[gi].goid, lock)
                })
                .max_by_key(|r| r.0)
                .and_then(|&(r, gi, frame)| {
                    let g = &snap.goroutines[gi];
                    let f = *snap.stack(g.stack).get(usize::from(frame))?;
                    Some((r, pointer_receiver_type(snap.function(f))?.to_string()))
                });
            let Some((owner, ty)) = owner else {
                continue;
            };
            for (gi, g) in snap.goroutines.iter().enumerate() {
                if ins[gi].methods.is_empty()
                    || waits_on(g.goid, lock)
                    || seen.contains(&(lock, g.goid))
                {
                    continue;
                }
                let frames = snap.stack(g.stack);
                for &(idx, sp, fp) in &ins[gi].methods {
                    let Some(&fid) = frames.get(usize::from(idx)) else {
                        continue;
                    };
                    if pointer_receiver_type(snap.function(fid)) != Some(ty.as_str()) {
                        continue;
                    }
                    // A receiver known for sure is either the owner (an `Inside` holder above)
                    // or another object of the type.
                    let known = snap
                        .args
                        .frame(g.args, usize::from(idx))
                        .is_some_and(|fa| !fa.words.is_empty() && !fa.uncertain(0));
                    if known {
                        continue;
                    }
                    if let Some(offset) = self.frame_mentions(sp, fp, &[lock, owner]) {
                        holders.push(Holder {
                            addr: lock,
                            goid: g.goid,
                            frame: idx,
                            receiver: owner,
                            offset,
                            how: HoldKind::Frame,
                        });
                        break;
                    }
                }
            }
        }
        facts.holders.extend(holders);
    }

    /// The end of the heap object each pointer points into: its span (`mheap_.arenas` →
    /// `heapArena.spans`) and the span's element size. `None` when the pointer is not in the
    /// heap (a global, a stack, unmapped) or the map cannot be read. Three batched levels of
    /// reads, each bounded by the pointers asked about.
    fn object_ends(&self, ptrs: &[u64]) -> Vec<Option<u64>> {
        let mut out = vec![None; ptrs.len()];
        let (Some(ml), Some(arenas)) = (self.bin.layout.mem, self.bin.mheap_arenas) else {
            return out;
        };
        let Ok(l2) = self.mem.read_u64(arenas.wrapping_add(self.bias)) else {
            return out;
        };
        if l2 == 0 {
            return out;
        }
        // Level 1: each pointer's heapArena.
        let entry = |p: u64| -> Option<u64> {
            let ri = p.wrapping_sub(ARENA_BASE_OFFSET) / HEAP_ARENA_BYTES;
            (ri < ARENA_L2_ENTRIES)
                .then(|| l2.checked_add(ri * 8))
                .flatten()
        };
        let e: Vec<u64> = ptrs.iter().map(|&p| entry(p).unwrap_or(0)).collect();
        let has = self.read_each(&e, 8, |b| rd64(b, 0));
        // Level 2: the span of each pointer's page.
        let spans_at: Vec<u64> = ptrs
            .iter()
            .zip(&has)
            .map(|(&p, ha)| match ha {
                Some(ha) if *ha != 0 => ha
                    .checked_add(ml.heaparena_spans)
                    .and_then(|a| a.checked_add((p / PAGE_SIZE % PAGES_PER_ARENA) * 8))
                    .unwrap_or(0),
                _ => 0,
            })
            .collect();
        let spans = self.read_each(&spans_at, 8, |b| rd64(b, 0));
        // Level 3: the span's start and element size.
        let n = ml.mspan_startaddr.max(ml.mspan_elemsize) + 8;
        let sp: Vec<u64> = spans.iter().map(|s| s.unwrap_or(0)).collect();
        let heads = self.read_each(&sp, n, |b| {
            (rd64(b, ml.mspan_startaddr), rd64(b, ml.mspan_elemsize))
        });
        for (i, (&p, h)) in ptrs.iter().zip(heads).enumerate() {
            let Some((start, size)) = h else { continue };
            if spans_at[i] == 0 || sp[i] == 0 || size == 0 || size > 1 << 40 || p < start {
                continue;
            }
            let k = (p - start) / size;
            out[i] = k
                .checked_add(1)
                .and_then(|k| k.checked_mul(size))
                .and_then(|o| start.checked_add(o));
        }
        out
    }

    /// The offset from `sp` of the first word of the frame `[sp, fp + 8)` equal to one of
    /// `addrs`.
    fn frame_mentions(&self, sp: u64, fp: u64, addrs: &[u64]) -> Option<u32> {
        let n = fp.checked_add(8)?.checked_sub(sp)?.min(MAX_FRAME_SCAN) as usize;
        let mut b = vec![0u8; self.mem.readable_len(sp, n)];
        self.mem.read(sp, &mut b).ok()?;
        b.chunks_exact(8)
            .position(|c| addrs.contains(&u64::from_le_bytes(c.try_into().expect("8"))))
            .map(|k| k as u32 * 8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receiver_types_with_their_package() {
        assert_eq!(
            pointer_receiver_type("main.(*Sim).Update"),
            Some("main.(*Sim")
        );
        assert_eq!(
            pointer_receiver_type("net/http.(*persistConn).readLoop"),
            Some("net/http.(*persistConn")
        );
        assert_eq!(pointer_receiver_type("main.(*Sim).Update.func1"), None);
        assert_eq!(pointer_receiver_type("main.(*List[...]).Push"), None);
        assert_eq!(pointer_receiver_type("main.Sim.Update"), None);
        assert_eq!(pointer_receiver_type("main.(*T).M-fm"), None);
        assert_eq!(pointer_receiver_type("main.main"), None);
    }
}
