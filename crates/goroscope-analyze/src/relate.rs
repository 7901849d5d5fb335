//! Relations between goroutines: what each blocked goroutine waits on, who could free it, and
//! the shapes that follow — deadlocked sets (with their cycles), lock chains rooted at a holder,
//! a program in which nothing can run, goroutines whose creator is gone.
//!
//! # Evidence, and how sure it is
//! * **Wait objects** read from memory come first (attach and cores,
//!   [`goroscope_model::MemoryFacts`]): exact, closures included, a select waiting on each of
//!   its cases' channels. A channel that is closed or has room (or something buffered) for the
//!   waiter's operation never makes its waiter stuck, and a timer channel's receiver is a timed
//!   loop, woken by its timer: neither is a wait on other goroutines.
//! * Otherwise **wait objects** come from the argument words the runtime prints: the channel of
//!   `runtime.chansend`/`chanrecv` (visible in `GOTRACEBACK=system|crash` dumps, `debug=2` before
//!   Go 1.27, and attach), the mutex of `sync.(*Mutex).lockSlow` (visible in every text form), the
//!   RWMutex behind `runtime_SemacquireRWMutex[R]`, the WaitGroup of `(*WaitGroup).Wait`, the Cond of
//!   `(*Cond).Wait`. A word printed with `?` (a register argument whose spill slot may be stale)
//!   is not used. Aggregated forms (`debug=1`, protobuf) print no arguments: no relations there.
//! * **Who could free a waiter** is inferred: a goroutine whose kept argument words mention the
//!   channel, WaitGroup or Cond (it holds it: it may be the other side); for a lock, the goroutine
//!   that is *inside* the object containing it (a method receiver at or just below the lock's
//!   address) and does not wait on it — the probable holder; from memory also the goroutines
//!   whose receiver's object holds the object ([`goroscope_model::Holder`]). A dump does not show
//!   references held in closures, the heap or globals, so "nobody else mentions it" is never
//!   taken as proof.
//! * **Deadlocked set**: blocked goroutines each of whose objects has at least one visible freer,
//!   all freers being in the set themselves (the closure computed by removing, until nothing
//!   changes, any goroutine one of whose freers can still run). A select stays only if every
//!   case's freers are in the set (any case that can proceed frees it). Its strongly connected
//!   parts are the cycles shown; the rest of the set waits behind them. A cycle is sure when
//!   every object was read from memory or named by a runtime/sync frame and every lock had one
//!   holder.
//! * **Stuck program**: no user goroutine can run or be woken by I/O, a timer or a signal, and
//!   every user goroutine waits on a channel or a lock: what the runtime's own deadlock detector
//!   would report, had something (a listener, a cgo thread, `signal.Notify`) not kept it quiet.
//!   Also when only the network poller or the standard library could run (a pprof listener)
//!   but `main` and every other user goroutine wait to *hand something over* — a send, a lock —
//!   which only another user goroutine could take: a hung pipeline behind a debug server.
//! * **Orphans are not cycles**: an object only its waiters mention (a jobs channel main keeps
//!   unseen) is left to the pattern rules, except a WaitGroup several goroutines wait on (they
//!   are the ones that should call Done) and a lock its waiter holds.
//! * **Lock chain**: from the waiters of a lock, follow the probable holder while it waits on
//!   another lock; the chain ends at a holder that runs (the lock is held too long), one blocked
//!   on something else (a channel, I/O), a cycle, or no visible holder.
//!
//! Cost: one pass over the goroutines that wait on a channel or a lock (reading a few argument
//! words), and — only when there are such objects — one pass over every kept argument word;
//! nothing per goroutine otherwise.

use crate::frames::{is_plumbing, is_std, package_of};
use crate::group::Grouped;
use goroscope_model::{FrameId, Goroutine, MemoryFacts, Snapshot, Status, WaitReason};
use rustc_hash::{FxHashMap, FxHashSet};

/// What kind of object a goroutine waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ObjectKind {
    Chan,
    Mutex,
    RwMutex,
    WaitGroup,
    Cond,
    /// A bare runtime semaphore (from memory).
    Semaphore,
}

impl ObjectKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Chan => "chan",
            ObjectKind::Mutex => "mutex",
            ObjectKind::RwMutex => "rwmutex",
            ObjectKind::WaitGroup => "waitgroup",
            ObjectKind::Cond => "cond",
            ObjectKind::Semaphore => "semaphore",
        }
    }

    fn from_memory(k: goroscope_model::ObjectKind) -> ObjectKind {
        use goroscope_model::ObjectKind as M;
        match k {
            M::Chan => ObjectKind::Chan,
            M::Mutex => ObjectKind::Mutex,
            M::RwMutex => ObjectKind::RwMutex,
            M::WaitGroup => ObjectKind::WaitGroup,
            M::Cond => ObjectKind::Cond,
            M::Semaphore => ObjectKind::Semaphore,
        }
    }

    fn is_lock(self) -> bool {
        matches!(self, ObjectKind::Mutex | ObjectKind::RwMutex)
    }
}

/// The operation a goroutine is blocked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Op {
    Send,
    Recv,
    Lock,
    RLock,
    Wait,
    Acquire,
}

impl Op {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Op::Send => "send",
            Op::Recv => "receive",
            Op::Lock => "lock",
            Op::RLock => "read-lock",
            Op::Wait => "wait",
            Op::Acquire => "acquire",
        }
    }

    fn from_memory(op: goroscope_model::WaitOp) -> Op {
        use goroscope_model::WaitOp as M;
        match op {
            M::Send => Op::Send,
            M::Recv => Op::Recv,
            M::Lock => Op::Lock,
            M::RLock => Op::RLock,
            M::Wait => Op::Wait,
            M::Acquire => Op::Acquire,
        }
    }
}

/// Runtime and sync frames whose first argument word names the object waited on, with the
/// offset from that word to the object's address (semaphores sit inside their lock).
struct ObjFrame {
    function: &'static str,
    kind: ObjectKind,
    op: Op,
    /// Subtracted from the word to get the object's address.
    offset: u64,
}

const fn of(function: &'static str, kind: ObjectKind, op: Op, offset: u64) -> ObjFrame {
    ObjFrame {
        function,
        kind,
        op,
        offset,
    }
}

/// Frames that name a wait object, innermost preferred. Layouts (Go 1.21–1.27, amd64):
/// `sync.Mutex{state int32; sema uint32}` (sema at +4); `sync.RWMutex{w Mutex; writerSem;
/// readerSem; …}` (writerSem at +8, readerSem at +12); `WaitGroup` and `Cond` by receiver.
const OBJ_FRAMES: &[ObjFrame] = &[
    of("runtime.chansend", ObjectKind::Chan, Op::Send, 0),
    of("runtime.chansend1", ObjectKind::Chan, Op::Send, 0),
    of("runtime.chanrecv", ObjectKind::Chan, Op::Recv, 0),
    of("runtime.chanrecv1", ObjectKind::Chan, Op::Recv, 0),
    of("runtime.chanrecv2", ObjectKind::Chan, Op::Recv, 0),
    of("sync.(*Mutex).lockSlow", ObjectKind::Mutex, Op::Lock, 0),
    of(
        "internal/sync.(*Mutex).lockSlow",
        ObjectKind::Mutex,
        Op::Lock,
        0,
    ),
    of("sync.(*Mutex).Lock", ObjectKind::Mutex, Op::Lock, 0),
    of(
        "internal/sync.(*Mutex).Lock",
        ObjectKind::Mutex,
        Op::Lock,
        0,
    ),
    of("sync.(*RWMutex).RLock", ObjectKind::RwMutex, Op::RLock, 0),
    of("sync.(*RWMutex).Lock", ObjectKind::RwMutex, Op::Lock, 0),
    of("sync.(*WaitGroup).Wait", ObjectKind::WaitGroup, Op::Wait, 0),
    of("sync.(*Cond).Wait", ObjectKind::Cond, Op::Wait, 0),
];

/// Frames whose first word is a semaphore's address (`runtime.semacquire1(&rw.writerSem, …)`):
/// the object is found from it with the offset of the wrapper further out ([`SEMA_WRAPPERS`]).
const SEMA_FRAMES: &[&str] = &[
    "runtime.semacquire1",
    "runtime.semacquire",
    "sync.runtime_SemacquireMutex",
    "internal/sync.runtime_SemacquireMutex",
    "sync.runtime_SemacquireRWMutexR",
    "sync.runtime_SemacquireRWMutex",
    "sync.runtime_SemacquireWaitGroup",
    "sync.runtime_Semacquire",
];

/// The sync wrappers that say what a semaphore belongs to, with the semaphore's offset in its
/// object: `Mutex{state int32; sema uint32}`, `RWMutex{w Mutex; writerSem; readerSem; …}`,
/// `WaitGroup{noCopy; state atomic.Uint64; sema uint32}` (Go 1.21–1.27, amd64). The innermost
/// one on the stack decides.
const SEMA_WRAPPERS: &[(&str, ObjectKind, Op, u64)] = &[
    (
        "sync.runtime_SemacquireRWMutexR",
        ObjectKind::RwMutex,
        Op::RLock,
        12,
    ),
    (
        "sync.runtime_SemacquireRWMutex",
        ObjectKind::RwMutex,
        Op::Lock,
        8,
    ),
    (
        "sync.runtime_SemacquireMutex",
        ObjectKind::Mutex,
        Op::Lock,
        4,
    ),
    (
        "internal/sync.runtime_SemacquireMutex",
        ObjectKind::Mutex,
        Op::Lock,
        4,
    ),
    (
        "sync.runtime_SemacquireWaitGroup",
        ObjectKind::WaitGroup,
        Op::Wait,
        8,
    ),
    ("sync.(*WaitGroup).Wait", ObjectKind::WaitGroup, Op::Wait, 8),
];

/// How far past a method receiver a lock may sit and still be taken as a field of that object.
pub(crate) const MAX_FIELD_OFFSET: u64 = 1024;

/// A word that may be a pointer into the Go heap or data (not a small integer, flag or length).
pub(crate) fn pointer_like(w: u64) -> bool {
    (0x10000..(1u64 << 47)).contains(&w)
}

/// The states in which a goroutine waits on a channel or a lock (and nothing else can wake it).
pub(crate) fn is_sync_wait(r: Option<WaitReason>) -> bool {
    matches!(
        r,
        Some(
            WaitReason::ChanSend
                | WaitReason::ChanReceive
                | WaitReason::ChanSendNilChan
                | WaitReason::ChanReceiveNilChan
                | WaitReason::SelectNoCases
                | WaitReason::SyncMutexLock
                | WaitReason::SyncRwMutexLock
                | WaitReason::SyncRwMutexRLock
                | WaitReason::SyncWaitGroupWait
                | WaitReason::SyncCondWait
                | WaitReason::Semacquire
        )
    )
}

/// What goroutine `g` waits on: an object named by a runtime or sync frame's argument, or
/// found from the semaphore a `semacquire` frame names and the sync wrapper further out.
/// What a frame is to [`wait_object`], decided once per interned frame.
#[derive(Debug, Clone, Copy)]
enum WaitFrame {
    /// An entry of [`OBJ_FRAMES`].
    Object(u8),
    /// A frame that names the semaphore, and the entry of [`SEMA_WRAPPERS`] it also is.
    Sema(Option<u8>),
    /// An entry of [`SEMA_WRAPPERS`] (also plumbing).
    Wrapper(u8),
    Plumbing,
    /// Past the blocking operation.
    Other,
}

fn wait_frame(snap: &Snapshot, fid: FrameId, cache: &mut [Option<WaitFrame>]) -> WaitFrame {
    let Some(slot) = cache.get_mut(fid.index()) else {
        return WaitFrame::Other;
    };
    *slot.get_or_insert_with(|| {
        let name = snap.function(fid);
        if let Some(i) = OBJ_FRAMES.iter().position(|o| o.function == name) {
            WaitFrame::Object(i as u8)
        } else if SEMA_FRAMES.contains(&name) {
            WaitFrame::Sema(
                SEMA_WRAPPERS
                    .iter()
                    .position(|w| w.0 == name)
                    .map(|i| i as u8),
            )
        } else if let Some(i) = SEMA_WRAPPERS.iter().position(|w| w.0 == name) {
            WaitFrame::Wrapper(i as u8)
        } else if is_plumbing(name) {
            WaitFrame::Plumbing
        } else {
            WaitFrame::Other
        }
    })
}

fn wait_object(
    snap: &Snapshot,
    g: &Goroutine,
    cache: &mut [Option<WaitFrame>],
) -> Option<(u64, ObjectKind, Op)> {
    if g.args.is_empty() {
        return None;
    }
    let frames = snap.stack(g.stack);
    let mut sema: Option<u64> = None;
    for fa in snap.frame_args(g) {
        let Some(&fid) = frames.get(fa.frame) else {
            continue;
        };
        let word = fa
            .words
            .first()
            .copied()
            .filter(|&w| !fa.uncertain(0) && pointer_like(w));
        match wait_frame(snap, fid, cache) {
            WaitFrame::Object(i) => {
                let of = &OBJ_FRAMES[i as usize];
                if let Some(w) = word.filter(|&w| w >= of.offset) {
                    return Some((w - of.offset, of.kind, of.op));
                }
            }
            WaitFrame::Sema(_) => sema = sema.or(word),
            WaitFrame::Wrapper(_) | WaitFrame::Plumbing => {}
            WaitFrame::Other => break, // past the blocking operation
        }
    }
    let sema = sema?;
    let mut wrapper = None;
    for &f in frames {
        match wait_frame(snap, f, cache) {
            WaitFrame::Wrapper(i) | WaitFrame::Sema(Some(i)) => {
                wrapper = Some(i);
                break;
            }
            WaitFrame::Other => break,
            _ => {}
        }
    }
    let (_, kind, op, off) = SEMA_WRAPPERS[wrapper? as usize];
    sema.checked_sub(off).map(|a| (a, kind, op))
}

/// The receiver type of a pointer-receiver method (`pkg.(*T).M` → `T`), not of closures inside
/// methods (`.func1`) or generic methods (their first word is a dictionary).
/// A method of the runtime's or `sync`'s own primitives: its receiver is a lock, WaitGroup,
/// Cond or channel, never an object that contains one.
fn lock_primitive(function: &str) -> bool {
    let pkg = package_of(function);
    matches!(pkg, "runtime" | "sync" | "sync/atomic" | "internal/sync")
        || pkg.starts_with("runtime/internal")
}

pub(crate) fn pointer_receiver(function: &str) -> Option<&str> {
    let open = function.find(".(*")?;
    let rest = &function[open + 3..];
    let close = rest.find(").")?;
    let ty = &rest[..close];
    let method = &rest[close + 2..];
    if ty.contains('[') || method.contains('.') || method.contains('-') || method.is_empty() {
        return None;
    }
    Some(ty)
}

/// An object at least one goroutine waits on.
#[derive(Debug, Clone)]
pub(crate) struct Object {
    pub addr: u64,
    pub kind: ObjectKind,
    /// Indices into `snap.goroutines` of its waiters, with their operation.
    pub waiters: Vec<(u32, Op)>,
    /// Goroutines that could free its waiters: those that mention it (channels, WaitGroups,
    /// Conds; for WaitGroups also the waiters' live children) or the probable holders (locks).
    pub freers: Vec<u32>,
    /// For locks: the holder is the only candidate.
    pub sole_holder: bool,
    /// No goroutine but its own waiters mentions it (a WaitGroup whose workers all wait on
    /// it): its waiters are taken as its only freers — probable, since a global or the heap
    /// may hold it unseen.
    pub self_held: bool,
    /// For locks: the holders are goroutines inside a method of the owner's type whose receiver
    /// the dump does not print (`0x0?`) — matched by type, not address: probable.
    pub by_type: bool,
    /// For locks: the holders are plain functions with a pointer to the object containing the
    /// lock among their arguments, not methods on it: probable.
    pub by_arg: bool,
    /// For locks: the receiver type of the object the lock is a field of, when known.
    pub owner_type: Option<String>,
    /// For locks: the frame (goroutine, frame index) of each probable holder whose receiver is
    /// the owner object — "inside `(*Sim).Update`".
    pub holder_frames: Vec<(u32, usize)>,
    /// Every waiter's wait on it was read from memory (not inferred from argument words).
    pub exact: bool,
}

impl Object {
    /// Whether the evidence that its waiters can only be freed by its freers is sure: read
    /// from memory, or named by a runtime/sync frame and not held only by its own waiters;
    /// for a lock, one holder.
    pub(crate) fn sure(&self) -> bool {
        (self.exact || !self.self_held) && (!self.kind.is_lock() || self.sole_holder)
    }
}

/// Why a lock chain ends where it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChainEnd {
    /// The last holder runs (running, runnable, in a syscall): the lock is held too long.
    Busy,
    /// The last holder waits on something that is not a lock.
    Blocked,
    /// The chain runs into a deadlocked set.
    Deadlock,
    /// No goroutine visibly holds the last lock.
    NoHolder,
}

/// Waiters of a lock, and the holders behind it up to the root.
#[derive(Debug, Clone)]
pub(crate) struct Chain {
    /// The lock whose waiters start the chain (index into `objects`).
    pub object: usize,
    /// Holders in order (goroutine, the lock it holds): the first holds `object`.
    pub holders: Vec<(u32, usize)>,
    pub end: ChainEnd,
    /// Every step had a single holder candidate.
    pub sure: bool,
}

/// A strongly connected part of a deadlocked set.
#[derive(Debug, Clone)]
pub(crate) struct Cycle {
    pub goroutines: Vec<u32>,
    pub objects: Vec<usize>,
    /// Every object was named by a runtime/sync frame and every lock had a sole holder.
    pub sure: bool,
}

/// Everything the relation layer found in one snapshot.
#[derive(Debug, Clone, Default)]
pub(crate) struct Relations {
    pub objects: Vec<Object>,
    /// Goroutine index → (object index, op), for goroutines with a known wait object (a
    /// select's first case).
    pub waits: FxHashMap<u32, (usize, Op)>,
    /// Goroutine index → every object it waits on, for those that wait on several (a select
    /// read from memory).
    pub cases: FxHashMap<u32, Vec<(usize, Op)>>,
    /// Goroutines waiting on a channel a timer feeds (read from memory): timed loops.
    pub timer_waits: FxHashSet<u32>,
    /// Goroutines whose channel can already proceed (closed, room, or a value buffered): about
    /// to run, whatever they wait on.
    pub ready: FxHashSet<u32>,
    /// Goroutines of the deadlocked set.
    pub deadlocked: FxHashSet<u32>,
    pub cycles: Vec<Cycle>,
    /// Goroutine → its cycle in `cycles`.
    pub cycle_index: FxHashMap<u32, usize>,
    pub chains: Vec<Chain>,
    /// Nothing can run: the number of user goroutines all waiting on channels or locks.
    pub stuck: Option<u64>,
    /// Sorted goids present in the snapshot (to tell whether a creator is still alive), when
    /// the snapshot lists every goroutine.
    pub goids: Option<Vec<u64>>,
}

impl Relations {
    /// Whether `goid` is among the snapshot's goroutines; `None` when the snapshot may not list
    /// them all (a single-goroutine crash traceback, a cut-off dump, an aggregated form).
    pub(crate) fn alive(&self, goid: u64) -> Option<bool> {
        self.goids.as_ref().map(|v| v.binary_search(&goid).is_ok())
    }

    /// The cycle a goroutine belongs to.
    pub(crate) fn cycle_of(&self, g: u32) -> Option<usize> {
        self.cycle_index.get(&g).copied()
    }

    /// Every object goroutine `g` waits on (one, or a select's cases).
    pub(crate) fn objects_of(&self, g: u32) -> &[(usize, Op)] {
        match self.cases.get(&g) {
            Some(v) => v,
            None => self.waits.get(&g).map(std::slice::from_ref).unwrap_or(&[]),
        }
    }

    /// Whether goroutine `g` (in state `reason`) waits only on what other goroutines can do: a
    /// channel or a lock (a select too, when memory read its cases and none is a timer).
    pub(crate) fn sync_wait(&self, g: u32, reason: Option<WaitReason>) -> bool {
        if self.ready.contains(&g) || self.timer_waits.contains(&g) {
            return false;
        }
        is_sync_wait(reason) || self.waits.contains_key(&g)
    }
}

/// Builds the relations of `snap`.
pub(crate) fn build(snap: &Snapshot, grouped: &Grouped) -> Relations {
    let mut rel = Relations {
        goids: complete_listing(snap).then(|| {
            let mut v: Vec<u64> = snap.goroutines.iter().map(|g| g.goid.0).collect();
            if !v.is_sorted() {
                v.sort_unstable();
            }
            v
        }),
        ..Relations::default()
    };
    if snap.goroutines.is_empty() {
        return rel;
    }
    // 1. Wait objects: read from memory first, else named by argument words.
    let mut index: FxHashMap<u64, usize> = FxHashMap::default();
    // Per interned frame, dense (a hash lookup per frame of every goroutine is too dear).
    let mut wait_frames: Vec<Option<WaitFrame>> = vec![None; snap.interner.frame_count()];
    let mem = snap.memory.as_ref();
    for (i, g) in snap.goroutines.iter().enumerate() {
        if !waiting(g) {
            continue;
        }
        let i = i as u32;
        if let Some(m) = mem {
            let mws = m.waits_of(g.goid);
            if !mws.is_empty() {
                memory_waits(&mut rel, &mut index, m, i, mws);
                continue;
            }
        }
        if !is_sync_wait(g.wait_reason.or_else(|| inferred(grouped, i as usize))) {
            continue;
        }
        let Some((addr, kind, op)) = wait_object(snap, g, &mut wait_frames) else {
            continue;
        };
        add_wait(&mut rel, &mut index, i, addr, kind, op, false);
    }
    if !rel.objects.is_empty() {
        find_freers(snap, &mut rel, &index);
        deadlocked_set(snap, &mut rel);
        chains(snap, &mut rel);
    }
    if rel.goids.is_some() {
        // Only a listing of every goroutine can show that nothing is left to run.
        rel.stuck = stuck(snap, grouped, &rel);
    }
    rel
}

/// Records that goroutine `i` waits on the object at `addr`.
fn add_wait(
    rel: &mut Relations,
    index: &mut FxHashMap<u64, usize>,
    i: u32,
    addr: u64,
    kind: ObjectKind,
    op: Op,
    exact: bool,
) {
    let o = *index.entry(addr).or_insert_with(|| {
        rel.objects.push(Object {
            addr,
            kind,
            waiters: Vec::new(),
            freers: Vec::new(),
            sole_holder: false,
            self_held: false,
            by_type: false,
            by_arg: false,
            owner_type: None,
            holder_frames: Vec::new(),
            exact,
        });
        rel.objects.len() - 1
    });
    let obj = &mut rel.objects[o];
    obj.exact &= exact;
    // A Mutex at an RWMutex's address is its writer lock: one object.
    if obj.kind == ObjectKind::Mutex && kind == ObjectKind::RwMutex {
        obj.kind = kind;
    }
    if obj.waiters.iter().any(|&(w, _)| w == i) {
        return; // two cases of one select on one channel
    }
    obj.waiters.push((i, op));
    match rel.waits.get(&i) {
        None => {
            rel.waits.insert(i, (o, op));
        }
        Some(&first) => {
            let cases = rel.cases.entry(i).or_insert_with(|| vec![first]);
            cases.push((o, op));
        }
    }
}

/// Records what memory says goroutine `i` waits on. A wait on a channel that can proceed or
/// that a timer feeds is not a wait on other goroutines; nor is a select whose cases may be
/// timers the release does not mark (before Go 1.23).
fn memory_waits(
    rel: &mut Relations,
    index: &mut FxHashMap<u64, usize>,
    m: &MemoryFacts,
    i: u32,
    mws: &[goroscope_model::MemWait],
) {
    use goroscope_model::ObjectKind as M;
    let chan = |w: &goroscope_model::MemWait| (w.kind == M::Chan).then(|| m.chan(w.addr)).flatten();
    if mws.iter().any(|w| chan(w).is_some_and(|c| c.timer)) {
        rel.timer_waits.insert(i);
        return;
    }
    if mws
        .iter()
        .any(|w| chan(w).is_some_and(|c| c.ready_for(w.op)))
    {
        rel.ready.insert(i);
        return;
    }
    if mws.iter().any(|w| w.select) && !m.timers_known {
        return;
    }
    for w in mws {
        add_wait(
            rel,
            index,
            i,
            w.addr,
            ObjectKind::from_memory(w.kind),
            Op::from_memory(w.op),
            true,
        );
    }
}

fn waiting(g: &Goroutine) -> bool {
    matches!(g.status, Status::Waiting | Status::Leaked | Status::Unknown)
}

fn inferred(grouped: &Grouped, i: usize) -> Option<WaitReason> {
    let gi = *grouped.member.get(i)? as usize;
    grouped.groups.get(gi).and_then(|(_, a)| a.reason)
}

/// Whether the snapshot lists every goroutine of the process (so a creator that is not in it
/// has exited).
fn complete_listing(snap: &Snapshot) -> bool {
    if snap.truncated || snap.goroutines.is_empty() || !snap.records.is_empty() {
        return false;
    }
    // A panic with the default GOTRACEBACK=single prints only the panicking goroutine; a full
    // listing has the main goroutine (goid 1) unless main already returned (exit).
    snap.goroutines.iter().any(|g| g.goid.0 == 1)
}

/// Who could free each object's waiters.
fn find_freers(snap: &Snapshot, rel: &mut Relations, index: &FxHashMap<u64, usize>) {
    let has_locks = rel.objects.iter().any(|o| o.kind.is_lock());
    // Words that mention an object; receivers (for lock holders).
    let mut mentions: Vec<FxHashSet<u32>> = vec![FxHashSet::default(); rel.objects.len()];
    // (addr, goroutine, type index, frame index)
    let mut receivers: Vec<(u64, u32, u32, usize)> = Vec::new();
    let mut types: Vec<String> = Vec::new();
    let mut type_index: FxHashMap<String, u32> = FxHashMap::default();
    // (type index, goroutine, frame index) of methods whose receiver word is stale or missing.
    let mut unknown_receivers: Vec<(u32, u32, usize)> = Vec::new();
    // (addr, goroutine, frame index) of plain user functions' pointer arguments.
    let mut pointer_args: Vec<(u64, u32, usize)> = Vec::new();
    // What each frame is to the holder search, decided once per interned frame (the function
    // name's parsing and the type's interning are too dear per goroutine).
    #[derive(Clone, Copy)]
    enum Class {
        Skip,
        Plain,
        Method(u32),
    }
    let mut classes: Vec<Option<Class>> = vec![None; snap.interner.frame_count()];
    // Lock addresses, sorted: only a receiver or pointer just below one can contain it (most
    // of a million goroutines' receivers contain none; keeping them all costs a sort).
    let mut locks: Vec<u64> = rel
        .objects
        .iter()
        .filter(|o| o.kind.is_lock())
        .map(|o| o.addr)
        .collect();
    locks.sort_unstable();
    let near_lock = |p: u64| {
        let i = locks.partition_point(|&l| l < p);
        locks.get(i).is_some_and(|&l| l - p < MAX_FIELD_OFFSET)
    };
    for (i, g) in snap.goroutines.iter().enumerate() {
        if g.args.is_empty() {
            continue;
        }
        let frames = snap.stack(g.stack);
        for fa in snap.frame_args(g) {
            for (k, &w) in fa.words.iter().enumerate() {
                if fa.uncertain(k) || !pointer_like(w) {
                    continue;
                }
                if let Some(&o) = index.get(&w) {
                    mentions[o].insert(i as u32);
                }
            }
            if has_locks {
                let Some(&fid) = frames.get(fa.frame) else {
                    continue;
                };
                let Some(slot) = classes.get_mut(fid.index()) else {
                    continue;
                };
                let class = *slot.get_or_insert_with(|| {
                    let function = snap.function(fid);
                    // The sync primitives' own methods (`(*WaitGroup).Wait`,
                    // `(*Mutex).lockSlow`) have the waited object as receiver: it contains no
                    // other lock.
                    if lock_primitive(function) {
                        return Class::Skip;
                    }
                    match pointer_receiver(function) {
                        Some(ty) => Class::Method(match type_index.get(ty) {
                            Some(&t) => t,
                            None => {
                                types.push(ty.to_string());
                                type_index.insert(ty.to_string(), (types.len() - 1) as u32);
                                (types.len() - 1) as u32
                            }
                        }),
                        None if !is_std(function) && !function.contains(".func") => Class::Plain,
                        None => Class::Skip,
                    }
                });
                match class {
                    Class::Skip => {}
                    // A plain user function's pointer arguments: the objects it works inside
                    // (`transfer(from, to *Account)`), weaker than a receiver.
                    Class::Plain => {
                        for (k, &w) in fa.words.iter().enumerate() {
                            if !fa.uncertain(k) && pointer_like(w) && near_lock(w) {
                                pointer_args.push((w, i as u32, fa.frame));
                            }
                        }
                    }
                    Class::Method(t) => match fa.words.first() {
                        Some(&r) if !fa.uncertain(0) && pointer_like(r) => {
                            if near_lock(r) {
                                receivers.push((r, i as u32, t, fa.frame));
                            }
                        }
                        // `(*Store).Scan(0x0?)`: inside some Store, which one the dump cannot
                        // say.
                        _ => unknown_receivers.push((t, i as u32, fa.frame)),
                    },
                }
            }
        }
    }
    receivers.sort_unstable();
    receivers.dedup();
    pointer_args.sort_unstable();
    pointer_args.dedup();
    // Methods with an unknown receiver, by type (a lock's owner type looks them up).
    let mut unknown_by_type: FxHashMap<u32, Vec<(u32, usize)>> = FxHashMap::default();
    for &(t, g, f) in &unknown_receivers {
        unknown_by_type.entry(t).or_default().push((g, f));
    }
    let by_goid: FxHashMap<u64, u32> = match snap.memory.as_ref() {
        Some(m) if !m.holders.is_empty() => snap
            .goroutines
            .iter()
            .enumerate()
            .map(|(i, g)| (g.goid.0, i as u32))
            .collect(),
        _ => FxHashMap::default(),
    };
    // Children of each waiter, for WaitGroups (a worker calls Done).
    let waiter_goids: FxHashSet<u64> = rel
        .objects
        .iter()
        .filter(|o| o.kind == ObjectKind::WaitGroup)
        .flat_map(|o| {
            o.waiters
                .iter()
                .map(|&(w, _)| snap.goroutines[w as usize].goid.0)
        })
        .collect();
    let mut children: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
    if !waiter_goids.is_empty() {
        for (i, g) in snap.goroutines.iter().enumerate() {
            if let Some(c) = g.creator_goid.filter(|c| waiter_goids.contains(&c.0)) {
                children.entry(c.0).or_default().push(i as u32);
            }
        }
    }
    for (o, obj) in rel.objects.iter_mut().enumerate() {
        let waiters: FxHashSet<u32> = obj.waiters.iter().map(|&(w, _)| w).collect();
        let mut freers: Vec<u32> = Vec::new();
        match obj.kind {
            // Read from memory: the holders memory found (below) know the objects' bounds,
            // which receiver addresses alone do not.
            ObjectKind::Mutex | ObjectKind::RwMutex if obj.exact && snap.memory.is_some() => {
                for &m in &mentions[o] {
                    if !waiters.contains(&m) {
                        freers.push(m);
                    }
                }
            }
            ObjectKind::Mutex | ObjectKind::RwMutex => {
                // A lock taken from user code is a field of a user type (the standard
                // library's locks are unexported): its holder is inside a user method, never
                // an HTTP listener or a file that happens to sit just below it in memory.
                let user_lock = obj.waiters.iter().any(|&(w, _)| {
                    let g = &snap.goroutines[w as usize];
                    snap.stack(g.stack)
                        .iter()
                        .map(|&f| snap.function(f))
                        .find(|f| !lock_primitive(f))
                        .is_some_and(|f| !is_std(f))
                });
                // The Go idiom `func (c *Cache) Get() { c.mu.Lock() … }`: the method that calls
                // Lock in the waiters names the type that holds the lock. When the waiters agree
                // on one, only goroutines inside that type's methods can be holders (objects of
                // other types may sit just below the lock in memory).
                let mut caller_types = obj.waiters.iter().map(|&(w, _)| {
                    let g = &snap.goroutines[w as usize];
                    snap.stack(g.stack)
                        .iter()
                        .map(|&f| snap.function(f))
                        .find(|f| !lock_primitive(f))
                        .and_then(pointer_receiver)
                });
                let first = caller_types.next().flatten();
                let caller_type: Option<u32> = first
                    .filter(|t| caller_types.all(|x| x == Some(*t)))
                    .and_then(|t| type_index.get(t).copied());
                let plausible = |g: u32, frame: usize| {
                    let st = snap.stack(snap.goroutines[g as usize].stack);
                    let user_ok =
                        !user_lock || st.get(frame).is_some_and(|&f| !is_std(snap.function(f)));
                    let type_ok = caller_type.is_none_or(|t| {
                        st.get(frame)
                            .and_then(|&f| pointer_receiver(snap.function(f)))
                            .is_some_and(|ty| type_index.get(ty) == Some(&t))
                    });
                    user_ok && type_ok
                };
                // The innermost object that contains the lock: the largest receiver at or below
                // its address, within MAX_FIELD_OFFSET; its goroutines that do not wait on the
                // lock are the probable holders. Then any goroutine that mentions the lock.
                let lo = obj.addr.saturating_sub(MAX_FIELD_OFFSET - 1);
                let start = receivers.partition_point(|r| r.0 < lo);
                let end = receivers.partition_point(|r| r.0 <= obj.addr);
                let mut best: Option<u64> = None;
                for r in receivers[start..end].iter().rev() {
                    if waiters.contains(&r.1) || !plausible(r.1, r.3) {
                        continue;
                    }
                    match best {
                        None => {
                            best = Some(r.0);
                            obj.owner_type = Some(types[r.2 as usize].clone());
                            freers.push(r.1);
                            obj.holder_frames.push((r.1, r.3));
                        }
                        Some(b) if b == r.0 => {
                            freers.push(r.1);
                            obj.holder_frames.push((r.1, r.3));
                        }
                        Some(_) => break,
                    }
                }
                if freers.is_empty() {
                    // The owner type from the waiters' own receivers, for the report; then the
                    // goroutines inside a method of that type whose receiver the dump does not
                    // name (printed `0x0?`): they may hold it — by type only, so never sure.
                    let owner = caller_type.or_else(|| {
                        receivers[start..end]
                            .iter()
                            .rev()
                            .find(|r| plausible(r.1, r.3))
                            .map(|r| r.2)
                    });
                    if let Some(ot) = owner {
                        obj.owner_type = Some(types[ot as usize].clone());
                        // (In goroutine order: a goroutine's frames are adjacent.)
                        for &(g, f) in unknown_by_type.get(&ot).map(Vec::as_slice).unwrap_or(&[]) {
                            if !waiters.contains(&g) && freers.last() != Some(&g) && plausible(g, f)
                            {
                                freers.push(g);
                                obj.holder_frames.push((g, f));
                                obj.by_type = true;
                            }
                        }
                    }
                }
                if freers.is_empty() {
                    // Then a plain function inside the object by a pointer argument: the largest
                    // such pointer at or below the lock, within MAX_FIELD_OFFSET — probable.
                    let start = pointer_args.partition_point(|p| p.0 < lo);
                    let end = pointer_args.partition_point(|p| p.0 <= obj.addr);
                    let mut best: Option<u64> = None;
                    for p in pointer_args[start..end].iter().rev() {
                        if waiters.contains(&p.1) || !plausible(p.1, p.2) {
                            continue;
                        }
                        if best.is_some_and(|b| b != p.0) {
                            break;
                        }
                        best = Some(p.0);
                        freers.push(p.1);
                        obj.holder_frames.push((p.1, p.2));
                        obj.by_arg = true;
                    }
                }
                for &m in &mentions[o] {
                    if !waiters.contains(&m) {
                        freers.push(m);
                    }
                }
            }
            ObjectKind::Chan | ObjectKind::Cond | ObjectKind::Semaphore => {
                freers.extend(mentions[o].iter().filter(|m| !waiters.contains(m)));
            }
            ObjectKind::WaitGroup => {
                freers.extend(mentions[o].iter().filter(|m| !waiters.contains(m)));
                for &(w, _) in &obj.waiters {
                    let goid = snap.goroutines[w as usize].goid.0;
                    if let Some(ch) = children.get(&goid) {
                        freers.extend(ch.iter().filter(|c| !waiters.contains(c)));
                    }
                }
            }
        }
        // Goroutines memory shows holding it (a field of their receiver's object, or for a
        // lock a frame of a method of the owner's type).
        if let Some(m) = snap.memory.as_ref() {
            for h in m.holders_of(obj.addr) {
                let Some(&hi) = by_goid.get(&h.goid.0) else {
                    continue;
                };
                if waiters.contains(&hi) {
                    continue;
                }
                freers.push(hi);
                if obj.kind.is_lock() && !obj.holder_frames.iter().any(|&(g, _)| g == hi) {
                    obj.holder_frames.push((hi, usize::from(h.frame)));
                    // "in a Store": the type of the method the holder is inside.
                    if obj.owner_type.is_none()
                        && matches!(
                            h.how,
                            goroscope_model::HoldKind::Inside | goroscope_model::HoldKind::Frame
                        )
                    {
                        let g = &snap.goroutines[hi as usize];
                        obj.owner_type = snap
                            .stack(g.stack)
                            .get(usize::from(h.frame))
                            .and_then(|&f| pointer_receiver(snap.function(f)))
                            .map(str::to_string);
                    }
                }
            }
        }
        if freers.is_empty() && !obj.kind.is_lock() {
            // Only its own waiters hold it: each waits for a Done, send or signal that only
            // the waiters themselves could make.
            freers.extend(mentions[o].iter().filter(|m| waiters.contains(m)));
            // Or memory shows them holding it (in a live local or argument).
            if let Some(m) = snap.memory.as_ref() {
                for h in m.holders_of(obj.addr) {
                    if let Some(&hi) = by_goid.get(&h.goid.0) {
                        if waiters.contains(&hi) {
                            freers.push(hi);
                        }
                    }
                }
            }
            obj.self_held = !freers.is_empty();
        }
        freers.sort_unstable();
        freers.dedup();
        obj.sole_holder = obj.kind.is_lock() && freers.len() == 1 && !obj.by_type && !obj.by_arg;
        obj.freers = freers;
    }
}

/// Whether goroutine `i` can still run or be woken by something outside the channels and locks
/// the relation layer sees (I/O, a timer, a signal, the scheduler).
fn can_progress(rel: &Relations, i: u32, g: &Goroutine, reason: Option<WaitReason>) -> bool {
    match g.status {
        Status::Running | Status::Runnable | Status::Syscall | Status::Preempted => true,
        Status::Waiting | Status::Leaked | Status::Unknown => !rel.sync_wait(i, reason),
        _ => false,
    }
}

/// The deadlocked set and its cycles.
fn deadlocked_set(snap: &Snapshot, rel: &mut Relations) {
    // Start from every goroutine with a known object whose freers are visible; remove, until
    // nothing changes, any goroutine one of whose freers is not in the set (a worklist over the
    // reverse edges: linear in the edges).
    // A channel or Cond that only its waiters mention, or a WaitGroup only its one waiter
    // mentions, is an orphan, not a cycle: blocked in the same operation, none of them can free
    // another, and nobody visible can (the pattern rules judge it: a receive with no sender, a
    // missing Done). Several goroutines waiting on a WaitGroup that only they hold are the ones
    // that should call Done: a deadlock. A lock its waiter holds is a true self-deadlock. A
    // bare semaphore (from memory: what `WaitGroup.Wait` waits on before Go 1.25, parked as
    // `semacquire`) is judged like a WaitGroup.
    let orphan = |o: usize| {
        let obj = &rel.objects[o];
        obj.self_held
            && match obj.kind {
                ObjectKind::WaitGroup | ObjectKind::Semaphore => obj.freers.len() < 2,
                ObjectKind::Chan | ObjectKind::Cond => true,
                ObjectKind::Mutex | ObjectKind::RwMutex => false,
            }
    };
    // A select stays only if every case's object has visible freers and is no orphan.
    let objs = |g: u32| rel.objects_of(g);
    // Membership by goroutine index (a hash set emptied by removals keeps its tombstones, and
    // every later lookup of an absent key walks them: 0.3 s on the 1M-goroutine benchmark).
    let mut in_set = vec![false; snap.goroutines.len()];
    let mut members = 0usize;
    for &g in rel.waits.keys() {
        if objs(g)
            .iter()
            .all(|&(o, _)| !rel.objects[o].freers.is_empty() && !orphan(o))
        {
            in_set[g as usize] = true;
            members += 1;
        }
    }
    // Freer → the objects it could free: (freer, object) pairs sorted by freer (one
    // allocation, not one per freer).
    let mut frees: Vec<(u32, u32)> = rel
        .objects
        .iter()
        .enumerate()
        .flat_map(|(o, obj)| obj.freers.iter().map(move |&f| (f, o as u32)))
        .collect();
    frees.sort_unstable();
    let frees_of = |g: u32| {
        let a = frees.partition_point(|p| p.0 < g);
        let b = frees.partition_point(|p| p.0 <= g);
        frees[a..b].iter().map(|p| p.1 as usize)
    };
    // Objects one of whose freers is outside the set (once per object: an object many
    // goroutines wait on and hold would make a per-waiter test quadratic).
    let outside: Vec<bool> = rel
        .objects
        .iter()
        .map(|obj| obj.freers.iter().any(|&f| !in_set[f as usize]))
        .collect();
    let mut queue: Vec<u32> = rel
        .waits
        .keys()
        .copied()
        .filter(|&g| in_set[g as usize] && objs(g).iter().any(|&(o, _)| outside[o]))
        .collect();
    for &g in &queue {
        in_set[g as usize] = false;
        members -= 1;
    }
    // Each object's waiters are released once, by the first freer that can progress.
    let mut released = vec![false; rel.objects.len()];
    while let Some(g) = queue.pop() {
        // `g` can run or be freed from outside: every waiter of what it could free may be freed.
        for o in frees_of(g) {
            if std::mem::replace(&mut released[o], true) {
                continue;
            }
            for &(w, _) in &rel.objects[o].waiters {
                if std::mem::replace(&mut in_set[w as usize], false) {
                    members -= 1;
                    queue.push(w);
                }
            }
        }
    }
    let set: FxHashSet<u32> = if members == 0 {
        FxHashSet::default()
    } else {
        (0..in_set.len() as u32)
            .filter(|&g| in_set[g as usize])
            .collect()
    };
    if set.is_empty() {
        return;
    }
    // Cycles: strongly connected parts of goroutine → object → freer, inside the set, over a
    // graph with the objects as nodes too (linear in waits and freers; an object held by many
    // goroutines would otherwise give each of its waiters an edge to each of them).
    let mut nodes: Vec<u32> = set.iter().copied().collect();
    nodes.sort_unstable();
    let pos: FxHashMap<u32, usize> = nodes.iter().enumerate().map(|(i, &g)| (g, i)).collect();
    let n = nodes.len();
    let mut obj_node: FxHashMap<usize, usize> = FxHashMap::default();
    let mut obj_of_node: Vec<usize> = Vec::new();
    let mut waits_of: Vec<Vec<usize>> = Vec::with_capacity(n);
    for &g in &nodes {
        let mut v = Vec::new();
        for &(o, _) in objs(g) {
            let id = *obj_node.entry(o).or_insert_with(|| {
                obj_of_node.push(o);
                n + obj_of_node.len() - 1
            });
            v.push(id);
        }
        v.sort_unstable();
        v.dedup();
        waits_of.push(v);
    }
    let succ = |i: usize| -> Vec<usize> {
        if i < n {
            waits_of[i].clone()
        } else {
            rel.objects[obj_of_node[i - n]]
                .freers
                .iter()
                .filter_map(|f| pos.get(f).copied())
                .collect()
        }
    };
    let mut cycles = Vec::new();
    for comp in tarjan(n + obj_of_node.len(), succ) {
        // A part of one node has no cycle; any larger one does (a goroutine freeing the object
        // it waits on — a lock it holds — is a part of two).
        if comp.len() < 2 {
            continue;
        }
        let mut goroutines: Vec<u32> = comp.iter().filter(|&&i| i < n).map(|&i| nodes[i]).collect();
        goroutines.sort_unstable();
        let mut objects: Vec<usize> = goroutines
            .iter()
            .flat_map(|&g| objs(g).iter().map(|&(o, _)| o))
            .collect();
        objects.sort_unstable();
        objects.dedup();
        let sure = objects.iter().all(|&o| rel.objects[o].sure());
        cycles.push(Cycle {
            goroutines,
            objects,
            sure,
        });
    }
    cycles.sort_by_key(|c| std::cmp::Reverse(c.goroutines.len()));
    rel.cycle_index = cycles
        .iter()
        .enumerate()
        .flat_map(|(c, cy)| cy.goroutines.iter().map(move |&g| (g, c)))
        .collect();
    rel.cycles = cycles;
    rel.deadlocked = set;
    let _ = snap;
}

/// Tarjan's strongly connected components, iteratively (stacks can be long).
fn tarjan(n: usize, succ: impl Fn(usize) -> Vec<usize>) -> Vec<Vec<usize>> {
    const UNSEEN: usize = usize::MAX;
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<usize> = Vec::new();
    let mut out = Vec::new();
    let mut next = 0;
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        // (node, successors, position in successors)
        let mut work: Vec<(usize, Vec<usize>, usize)> = vec![(root, succ(root), 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some((v, ws, k)) = work.last_mut() {
            let v = *v;
            if let Some(&w) = ws.get(*k) {
                *k += 1;
                if index[w] == UNSEEN {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    let s = succ(w);
                    work.push((w, s, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some((u, _, _)) = work.last() {
                let u = *u;
                low[u] = low[u].min(low[v]);
            }
            if low[v] == index[v] {
                let mut comp = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                out.push(comp);
            }
        }
    }
    out
}

/// Lock chains: from each lock with waiters, through probable holders, to the root.
fn chains(snap: &Snapshot, rel: &mut Relations) {
    let mut out = Vec::new();
    for (o, obj) in rel.objects.iter().enumerate() {
        if !obj.kind.is_lock() {
            continue;
        }
        let mut holders: Vec<(u32, usize)> = Vec::new();
        let mut sure = true;
        let mut cur = o;
        let mut seen: FxHashSet<usize> = FxHashSet::default();
        let end = loop {
            if !seen.insert(cur) {
                break ChainEnd::Deadlock;
            }
            let c = &rel.objects[cur];
            // The holder: the first candidate that is not itself one of the waiters.
            let Some(&h) = c.freers.first() else {
                break ChainEnd::NoHolder;
            };
            sure &= c.freers.len() == 1 && !c.by_type;
            holders.push((h, cur));
            if rel.deadlocked.contains(&h) {
                break ChainEnd::Deadlock;
            }
            let hg = &snap.goroutines[h as usize];
            match rel.waits.get(&h) {
                Some(&(next, _)) if rel.objects[next].kind.is_lock() => cur = next,
                Some(_) => break ChainEnd::Blocked,
                None if matches!(
                    hg.status,
                    Status::Running | Status::Runnable | Status::Syscall | Status::Preempted
                ) =>
                {
                    break ChainEnd::Busy
                }
                None => break ChainEnd::Blocked,
            }
        };
        out.push(Chain {
            object: o,
            holders,
            end,
            sure,
        });
    }
    rel.chains = out;
}

/// Nothing can run: every user goroutine waits on a channel or a lock (or `select {}`), none
/// runs, is runnable, in a syscall, in I/O, asleep or in a select (whose timer could fire), no
/// library goroutine could be woken from outside (a server in I/O wait could take a request
/// that frees someone), and no goroutine delivers signals to the program (a signal could wake
/// a waiter). Runtime workers (every frame in `runtime`) idle by design and do not count.
fn stuck(snap: &Snapshot, grouped: &Grouped, rel: &Relations) -> Option<u64> {
    if snap.goroutines.is_empty() || !snap.records.is_empty() {
        return None;
    }
    let mut users = 0u64;
    // Whether a goroutine of the standard library alone, or one in the network poller, can
    // progress (an HTTP server's accept loop, the signal loop): it could start user code (a
    // handler) that frees someone.
    let mut std_progress = false;
    // Whether every user goroutine waits to hand something over — a send, a lock — which only
    // another user goroutine could take: then nothing from outside can help.
    let mut all_handover = true;
    // A program whose main goroutine serves (I/O wait) is alive, whatever else is stuck: the
    // rules judge those. Main blocked handing over is a hung program.
    let mut main_blocked = false;
    for (i, g) in snap.goroutines.iter().enumerate() {
        let (_, a) = &grouped.groups[grouped.member[i] as usize];
        let reason = g.wait_reason.or(a.reason);
        let stack = snap.stack(g.stack);
        let user = grouped.facts[&a.stack].has_user_frame;
        if stack
            .iter()
            .any(|&f| snap.function(f).starts_with("os/signal."))
        {
            std_progress = true;
            continue;
        }
        if can_progress(rel, i as u32, g, reason) {
            if stack
                .iter()
                .all(|&f| snap.function(f).starts_with("runtime."))
            {
                continue; // a runtime worker
            }
            // A goroutine in the network poller (a server's accept loop, user code or not)
            // progresses only by starting other code: like the standard library's own.
            if user && reason != Some(WaitReason::IoWait) {
                return None;
            }
            std_progress = true;
            continue;
        }
        if user {
            users += 1;
            main_blocked |= g.goid.0 == 1;
            all_handover &= matches!(
                reason,
                Some(
                    WaitReason::ChanSend
                        | WaitReason::ChanSendNilChan
                        | WaitReason::SyncMutexLock
                        | WaitReason::SyncRwMutexLock
                        | WaitReason::SyncRwMutexRLock
                )
            );
        }
    }
    (users > 0 && (!std_progress || (all_handover && main_blocked))).then_some(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receivers() {
        assert_eq!(pointer_receiver("main.(*Sim).Update"), Some("Sim"));
        assert_eq!(
            pointer_receiver("github.com/a/b.(*Server).serve"),
            Some("Server")
        );
        assert_eq!(pointer_receiver("main.(*Sim).Update.func1"), None);
        assert_eq!(pointer_receiver("main.(*List[...]).Push"), None);
        assert_eq!(pointer_receiver("main.Sim.Update"), None);
        assert_eq!(pointer_receiver("main.(*T).M-fm"), None);
        assert_eq!(pointer_receiver("main.main"), None);
    }

    #[test]
    fn tarjan_finds_cycles() {
        // 0 → 1 → 2 → 0, 3 → 0, 4 → 4
        let edges = [vec![1], vec![2], vec![0], vec![0], vec![4]];
        let mut comps: Vec<Vec<usize>> = tarjan(5, |i| edges[i].clone())
            .into_iter()
            .map(|mut c| {
                c.sort();
                c
            })
            .collect();
        comps.sort();
        assert_eq!(comps, vec![vec![0, 1, 2], vec![3], vec![4]]);
    }

    use crate::rules::testkit::*;
    use crate::Verdict;
    use goroscope_model::Context;

    const LOCK_SLOW: (&str, &str, u32) = ("internal/sync.(*Mutex).lockSlow", "mutex.go", 149);
    const LOCK: (&str, &str, u32) = ("sync.(*Mutex).Lock", "mutex.go", 46);
    const MAIN: (&str, &str, u32) = ("main.main", "main.go", 1);

    /// Go 1.27 debug=2 of the lock chain in the issue: 13 goroutines wait on mutex X of a Node;
    /// goroutine A holds X (inside a Node method) and waits on mutex Y of a Sim; goroutine B
    /// holds Y and is running inside a Sim method.
    fn lock_chain() -> Vec<G> {
        const NODE: u64 = 0xc0000a0000;
        const SIM: u64 = 0xc0000b0000;
        let mut gs = vec![G::new("select (no cases)", &[MAIN]).goid(1)];
        for i in 0..13 {
            gs.push(
                G::new(
                    "sync.Mutex.Lock",
                    &[LOCK_SLOW, LOCK, ("main.(*Node).Get", "node.go", 30)],
                )
                .args(0, &[NODE + 8])
                .args(2, &[NODE, 0x3])
                .by(("main.serve", "main.go", 9))
                .goid(20 + i)
                .creator(1)
                .minutes(8),
            );
        }
        gs.push(
            G::new(
                "sync.Mutex.Lock",
                &[
                    LOCK_SLOW,
                    LOCK,
                    ("main.(*Sim).Snapshot", "sim.go", 50),
                    ("main.(*Node).Step", "node.go", 70),
                ],
            )
            .args(0, &[SIM + 16])
            .args(2, &[SIM])
            .args(3, &[NODE])
            .by(("main.main", "main.go", 12))
            .goid(7)
            .creator(1)
            .minutes(8),
        );
        gs.push(
            G::new(
                "running",
                &[
                    ("main.integrate", "sim.go", 90),
                    ("main.(*Sim).Update", "sim.go", 80),
                ],
            )
            .args(1, &[SIM])
            .by(("main.main", "main.go", 13))
            .goid(8)
            .creator(1),
        );
        gs
    }

    #[test]
    fn lock_chain_names_the_busy_holder() {
        for ctx in [Context::Live, Context::Crash] {
            let r = report_in(ctx, &lock_chain());
            let chain = r
                .relations
                .iter()
                .find(|x| x.kind == "lock-chain")
                .unwrap_or_else(|| panic!("{:#?}", r.relations));
            assert!(chain.sure, "{chain:#?}");
            let root = chain
                .goroutines
                .iter()
                .find(|g| g.role == "root-holder")
                .unwrap();
            assert_eq!(root.goid, 8);
            assert!(!root.stack.is_empty());
            assert!(chain
                .goroutines
                .iter()
                .any(|g| g.role == "holder" && g.goid == 7));
            assert!(
                chain.summary.contains("13 goroutines wait on mutex")
                    && chain.summary.contains("goroutine 7")
                    && chain.summary.contains("goroutine 8 in main.(*Sim).Update")
                    && chain.summary.contains("held too long"),
                "{}",
                chain.summary
            );
            let waiters = r.groups.iter().find(|g| g.count == 13).unwrap();
            assert_eq!(
                (waiters.verdict, waiters.pattern.as_deref()),
                (Verdict::Suspect, Some("lock-held-too-long")),
                "{waiters:#?}"
            );
            assert!(waiters.relations.contains(&chain.id));
            let a = r.groups.iter().find(|g| g.goids == vec![7]).unwrap();
            assert_eq!(a.pattern.as_deref(), Some("lock-held-too-long"));
            // The busy holder itself runs: it is named, not judged a leak.
            let b = r.groups.iter().find(|g| g.goids == vec![8]).unwrap();
            assert_eq!(b.verdict, Verdict::Benign);
            assert!(b.relations.contains(&chain.id));
        }
    }

    #[test]
    fn lock_order_deadlock_is_a_leak_even_live() {
        const A: u64 = 0xc000100000;
        const B: u64 = 0xc000200000;
        let transfer = ("main.(*Account).Transfer", "bank.go", 20);
        let gs = vec![
            G::new("IO wait", &[("main.main", "main.go", 1)]).goid(1),
            G::new("sync.Mutex.Lock", &[LOCK_SLOW, LOCK, transfer])
                .args(0, &[B])
                .args(2, &[A, B])
                .goid(10),
            G::new("sync.Mutex.Lock", &[LOCK_SLOW, LOCK, transfer])
                .args(0, &[A])
                .args(2, &[B, A])
                .goid(11),
        ];
        let r = report_in(Context::Live, &gs);
        let d = r
            .relations
            .iter()
            .find(|x| x.kind == "deadlock")
            .unwrap_or_else(|| panic!("{:#?}", r.relations));
        assert!(d.sure);
        let mut goids: Vec<u64> = d.goroutines.iter().map(|g| g.goid).collect();
        goids.sort();
        assert_eq!(goids, vec![10, 11]);
        let g = r
            .groups
            .iter()
            .find(|g| g.pattern.as_deref() == Some("deadlock"))
            .unwrap();
        assert_eq!((g.verdict, g.count), (Verdict::Leak, 2));
    }

    #[test]
    fn lock_order_through_plain_functions_is_a_probable_deadlock() {
        // `transfer(from, to *Account)` locks from.mu then to.mu (the fixture lock-order):
        // each holds its first account's lock by a pointer argument, not a receiver.
        const A: u64 = 0xc00010c100;
        const B: u64 = 0xc00010c120;
        let transfer = ("main.transfer", "main.go", 35);
        let gs = vec![
            G::new("IO wait", &[MAIN]).goid(1),
            G::new("sync.Mutex.Lock", &[LOCK_SLOW, LOCK, transfer])
                .args(0, &[B + 0x18])
                .args(2, &[A, B])
                .goid(5),
            G::new("sync.Mutex.Lock", &[LOCK_SLOW, LOCK, transfer])
                .args(0, &[A + 0x18])
                .args(2, &[B, A])
                .goid(6),
        ];
        let r = report_in(Context::Live, &gs);
        let d = r
            .relations
            .iter()
            .find(|x| x.kind == "deadlock")
            .unwrap_or_else(|| panic!("{:#?}", r.relations));
        assert!(!d.sure, "holders by pointer argument are probable: {d:#?}");
        let mut goids: Vec<u64> = d.goroutines.iter().map(|g| g.goid).collect();
        goids.sort();
        assert_eq!(goids, vec![5, 6]);
        let g = r.groups.iter().find(|g| g.count == 2).unwrap();
        assert_eq!(
            (g.verdict, g.pattern.as_deref()),
            (Verdict::Suspect, Some("deadlock"))
        );
    }

    #[test]
    fn orphans_and_neighbours_are_not_cycles() {
        // Go 1.27 debug=2 (shared/research/go127-samples): a WaitGroup whose worker returned
        // without Done, and a mutex 16 bytes above it, locked by a creator that returned. The
        // WaitGroup's own `Wait` receiver does not contain the mutex; a lone waiter of an object
        // only it mentions is an orphan, not a deadlock.
        const WG: u64 = 0x252c4aa681e0;
        const MU: u64 = 0x252c4aa681f0;
        const CH: u64 = 0xc000120000;
        let mut gs = vec![
            G::new("IO wait", &[MAIN]).goid(1),
            G::new(
                "sync.WaitGroup.Wait",
                &[
                    ("sync.(*WaitGroup).Wait", "waitgroup.go", 206),
                    ("main.leakWG.func1", "main.go", 48),
                ],
            )
            .args(0, &[WG])
            .by(("main.leakWG", "main.go", 48))
            .creator(1)
            .goid(16),
            G::new(
                "sync.Mutex.Lock",
                &[LOCK_SLOW, LOCK, ("main.leakMutex.func1", "main.go", 55)],
            )
            .args(0, &[MU])
            .by(("main.leakMutex", "main.go", 55))
            .creator(1)
            .goid(18),
        ];
        // Eight workers receive from a jobs channel only they mention (main keeps it unseen).
        for i in 0..8 {
            gs.push(
                G::new(
                    "chan receive",
                    &[
                        ("runtime.chanrecv", "chan.go", 583),
                        ("runtime.chanrecv2", "chan.go", 447),
                        ("main.worker", "main.go", 19),
                    ],
                )
                .args(0, &[CH, 0])
                .args(1, &[CH, 0])
                .args(2, &[CH])
                .by(("main.main.func1", "main.go", 30))
                .creator(1)
                .goid(30 + i),
            );
        }
        for ctx in [Context::Live, Context::Crash] {
            let r = report_in(ctx, &gs);
            assert!(
                r.relations.iter().all(|x| x.kind != "deadlock"),
                "{ctx:?}: {:#?}",
                r.relations
            );
            for g in &r.groups {
                assert_ne!(g.pattern.as_deref(), Some("deadlock"), "{ctx:?}: {g:#?}");
            }
            let wg = r.groups.iter().find(|g| g.goids == vec![16]).unwrap();
            assert_eq!(wg.pattern.as_deref(), Some("waitgroup-missing-done"));
            let mu = r.groups.iter().find(|g| g.goids == vec![18]).unwrap();
            assert_eq!(mu.pattern.as_deref(), Some("mutex-never-unlocked"));
        }
    }

    #[test]
    fn deadlocked_pipeline_from_runtime_frames() {
        // GOTRACEBACK=system: runtime.chansend names each channel; each stage holds its input
        // and output channels as arguments. main sends into stage 1; stage 3 sends back to main.
        let (c0, c1, c2, c3) = (0xc000010000u64, 0xc000010060, 0xc0000100c0, 0xc000010120);
        let send = ("runtime.chansend1", "chan.go", 161);
        let stage = |input: u64, output: u64, goid: u64| {
            G::new(
                "chan send",
                &[
                    ("runtime.chansend", "chan.go", 283),
                    send,
                    ("main.stage", "main.go", 14),
                ],
            )
            .args(0, &[output, 0xc000070000, 1])
            .args(2, &[input, output])
            .by(("main.main", "main.go", 30))
            .creator(1)
            .goid(goid)
        };
        let mut gs = vec![
            G::new(
                "chan send",
                &[
                    ("runtime.chansend", "chan.go", 283),
                    send,
                    ("main.main", "main.go", 33),
                ],
            )
            .args(0, &[c0, 0xc000080000, 1])
            .args(2, &[c3])
            .goid(1),
            stage(c0, c1, 5),
            stage(c1, c2, 6),
            stage(c2, c3, 7),
        ];
        for ctx in [Context::Crash, Context::Live] {
            let r = report_in(ctx, &gs);
            let d = r
                .relations
                .iter()
                .find(|x| x.kind == "deadlock")
                .unwrap_or_else(|| panic!("{:#?}", r));
            assert_eq!(d.count, 4, "{d:#?}");
            assert!(d.summary.contains("send on chan"), "{}", d.summary);
            let main = r.groups.iter().find(|g| g.goids == vec![1]).unwrap();
            assert_eq!(
                (main.verdict, main.pattern.as_deref()),
                (Verdict::Leak, Some("deadlock")),
                "main blocked forever is never benign: {main:#?}"
            );
            // The program is stuck too: nothing can run.
            assert!(r.relations.iter().any(|x| x.kind == "stuck"));
        }
        // A fourth stage that reads the last channel and runs: no deadlock, nothing stuck.
        gs.push(
            G::new("runnable", &[("main.drain", "main.go", 40)])
                .args(0, &[c3])
                .goid(9),
        );
        let r = report_in(Context::Crash, &gs);
        assert!(r.relations.is_empty(), "{:#?}", r.relations);
        assert!(
            r.groups.iter().all(|g| g.verdict != Verdict::Leak),
            "{:#?}",
            r.groups
        );
    }

    #[test]
    fn stuck_program_without_visible_objects() {
        // A SIGABRT of a hung program, frames without arguments: no object is known, but no
        // goroutine can run either.
        let gs = vec![
            G::new("chan send", &[("main.main", "main.go", 10)]).goid(1),
            G::new("chan receive", &[("main.worker", "main.go", 20)])
                .by(("main.main", "main.go", 8))
                .creator(1)
                .goid(5),
            G::new(
                "GC worker (idle)",
                &[("runtime.gcBgMarkWorker", "mgc.go", 1)],
            )
            .goid(2),
        ];
        let r = report_in(Context::Crash, &gs);
        assert!(
            r.relations.iter().any(|x| x.kind == "stuck"),
            "{:#?}",
            r.relations
        );
        for f in ["main.main", "main.worker"] {
            let g = r.groups.iter().find(|g| g.stack[0].function == f).unwrap();
            assert_eq!(
                (g.verdict, g.pattern.as_deref()),
                (Verdict::Leak, Some("deadlock")),
                "{f}"
            );
        }
        let gc = r
            .groups
            .iter()
            .find(|g| g.stack[0].function == "runtime.gcBgMarkWorker")
            .unwrap();
        assert_eq!(gc.verdict, Verdict::Benign);
        // A server in I/O wait could take a request that frees them: not stuck.
        let mut with_server = gs.clone();
        with_server.push(
            G::new(
                "IO wait",
                &[
                    ("internal/poll.(*FD).Accept", "fd.go", 1),
                    ("net/http.(*Server).Serve", "server.go", 2),
                ],
            )
            .goid(3),
        );
        let r = report_in(Context::Crash, &with_server);
        assert!(r.relations.is_empty(), "{:#?}", r.relations);
        // Unless every user goroutine waits to hand something over (a pipeline of senders): a
        // request's handler could receive, but none of these is waiting for one.
        let mut senders = with_server.clone();
        senders[1] = G::new("chan send", &[("main.stage", "main.go", 20)])
            .by(("main.main", "main.go", 8))
            .creator(1)
            .goid(5);
        let r = report_in(Context::Live, &senders);
        assert!(
            r.relations.iter().any(|x| x.kind == "stuck"),
            "{:#?}",
            r.relations
        );
        let g = r.groups.iter().find(|g| g.goids == vec![5]).unwrap();
        assert_eq!(g.verdict, Verdict::Leak, "{g:#?}");
        // A dump that may not list every goroutine (no goroutine 1) proves nothing stuck.
        let partial: Vec<G> = gs[1..].to_vec();
        let r = report_in(Context::Crash, &partial);
        assert!(r.relations.is_empty());
    }

    #[test]
    fn creators_gone_make_live_senders_suspect() {
        // Result senders created by request goroutines that have returned: the classic leak.
        let mut gs = vec![G::new("IO wait", &[("main.main", "main.go", 1)]).goid(1)];
        for i in 0..5 {
            gs.push(
                G::new("chan send", &[("main.query.func1", "main.go", 28)])
                    .by(("main.query", "main.go", 25))
                    .creator(500 + i),
            );
        }
        let r = report_in(Context::Live, &gs);
        let g = r.groups.iter().find(|g| g.count == 5).unwrap();
        assert_eq!(
            (g.verdict, g.pattern.as_deref()),
            (Verdict::Suspect, Some("chan-send-receiver-gone")),
            "{g:#?}"
        );
        assert!(g.evidence.iter().any(|e| e.contains("no longer running")));
        // Created by goroutine 1, still alive: one live moment cannot tell.
        let alive: Vec<G> = vec![
            G::new("IO wait", &[("main.main", "main.go", 1)]).goid(1),
            G::new("chan send", &[("main.query.func1", "main.go", 28)])
                .by(("main.query", "main.go", 25))
                .creator(1)
                .times(5),
        ];
        let r = report_in(Context::Live, &alive);
        let g = r.groups.iter().find(|g| g.count == 5).unwrap();
        assert_eq!(g.verdict, Verdict::NeedMoreSamples);
    }

    #[test]
    fn magnitude_makes_a_live_site_a_suspect() {
        let gs = vec![
            G::new("IO wait", &[("main.main", "main.go", 1)]).goid(1),
            G::new("chan receive", &[("main.worker", "main.go", 20)])
                .by(("main.spawn", "main.go", 8))
                .creator(1)
                .times(9_500),
            G::new("chan receive", &[("main.other", "main.go", 30)])
                .by(("main.spawn", "main.go", 9))
                .creator(1)
                .times(500),
        ];
        let r = report_in(Context::Live, &gs);
        let g = &r.groups[0];
        assert_eq!((g.count, g.verdict), (9_500, Verdict::Suspect), "{g:#?}");
        assert!(
            g.evidence.iter().any(|e| e.contains("95 % of all")),
            "{g:#?}"
        );
        assert!(g.next_step.is_some());
        let small = r.groups.iter().find(|g| g.count == 500).unwrap();
        assert_eq!(small.verdict, Verdict::NeedMoreSamples);
    }

    #[test]
    fn long_lived_actors_are_benign_live_but_leaks_at_exit() {
        let mut gs = vec![G::new("select (no cases)", &[MAIN]).goid(1).minutes(240)];
        for i in 0..12 {
            gs.push(
                G::new(
                    "select",
                    &[(
                        "github.com/thejerf/suture/v4.(*Supervisor).Serve",
                        "supervisor.go",
                        300,
                    )],
                )
                .by(("main.main", "main.go", 40))
                .creator(1)
                .goid(30 + i)
                .minutes(240),
            );
        }
        // Many copies of one select loop: background-loop, but one per owner, started by main,
        // blocked since the process started.
        let r = report_in(Context::Live, &gs);
        let g = r.groups.iter().find(|g| g.count == 12).unwrap();
        assert_eq!(
            (g.verdict, g.pattern.as_deref()),
            (Verdict::NeedMoreSamples, Some("background-loop")),
            "twelve from one creator is more than one per owner: {g:#?}"
        );
        // A supervisor tree: each supervisor started by its parent (all still running).
        let per_owner: Vec<G> = std::iter::once(gs[0].clone())
            .chain((0..12).map(|i| {
                G::new(
                    "select",
                    &[(
                        "github.com/thejerf/suture/v4.(*Supervisor).Serve",
                        "supervisor.go",
                        300,
                    )],
                )
                .by((
                    "github.com/thejerf/suture/v4.(*Supervisor).Add",
                    "supervisor.go",
                    90,
                ))
                .creator(if i == 0 { 1 } else { 29 + i })
                .goid(30 + i)
                .minutes(238)
            }))
            .collect();
        let r = report_in(Context::Live, &per_owner);
        let g = r.groups.iter().find(|g| g.count == 12).unwrap();
        assert_eq!(
            (g.verdict, g.pattern.as_deref()),
            (Verdict::Benign, Some("benign:long-lived-actor")),
            "{g:#?}"
        );
        let r = report_in(Context::Exit, &per_owner);
        let g = r.groups.iter().find(|g| g.count == 12).unwrap();
        assert_eq!(g.verdict, Verdict::Leak);
    }

    #[test]
    fn waitgroup_held_only_by_its_waiters_is_a_probable_deadlock() {
        // Workers `defer wg.Done()` then wait on the same WaitGroup; the coordinator waits too.
        const WG: u64 = 0xc0003000a0;
        let wait = ("sync.(*WaitGroup).Wait", "waitgroup.go", 118);
        let mut gs = vec![
            G::new("IO wait", &[("main.main", "main.go", 1)]).goid(1),
            G::new(
                "sync.WaitGroup.Wait",
                &[wait, ("main.coordinate", "main.go", 30)],
            )
            .args(0, &[WG])
            .args(1, &[3])
            .by(("main.main", "main.go", 40))
            .creator(1)
            .goid(18),
        ];
        for i in 0..3 {
            gs.push(
                G::new(
                    "sync.WaitGroup.Wait",
                    &[wait, ("main.worker", "main.go", 20)],
                )
                .args(0, &[WG])
                .args(1, &[WG, i])
                .by(("main.coordinate", "main.go", 26))
                .creator(18)
                .goid(19 + i),
            );
        }
        let r = report_in(Context::Live, &gs);
        let d = r
            .relations
            .iter()
            .find(|x| x.kind == "deadlock")
            .unwrap_or_else(|| panic!("{:#?}", r.relations));
        assert!(!d.sure, "only the waiters hold it: probable");
        for g in r
            .groups
            .iter()
            .filter(|g| g.wait_reason.as_deref() == Some("sync.WaitGroup.Wait"))
        {
            assert_eq!(
                (g.verdict, g.pattern.as_deref()),
                (Verdict::Suspect, Some("deadlock")),
                "{g:#?}"
            );
        }
        // A worker that does not wait (it will call Done) frees them: nothing.
        let mut freed = gs.clone();
        freed.push(
            G::new("running", &[("main.worker", "main.go", 22)])
                .args(0, &[WG, 9])
                .goid(40),
        );
        let r = report_in(Context::Live, &freed);
        assert!(r.relations.is_empty(), "{:#?}", r.relations);
    }

    /// Go 1.27 SIGQUIT (GOTRACEBACK=system) of the rw-starved fixture: the writer and the later
    /// readers name only the RWMutex's semaphores; the readers holding the read lock sleep in
    /// (*Store).Scan, whose receiver prints `0x0?`.
    #[test]
    fn rwmutex_writer_starved_by_readers_from_semaphore_words() {
        const STORE: u64 = 0x1aba02d03980;
        const RW: u64 = STORE + 0x10;
        let park = ("runtime.gopark", "proc.go", 474);
        let sema = ("runtime.semacquire1", "sema.go", 192);
        let mut gs = vec![G::new("IO wait", &[("main.main", "main.go", 1)]).goid(1)];
        for i in 0..3 {
            gs.push(
                G::new(
                    "sleep",
                    &[
                        park,
                        ("time.Sleep", "time.go", 368),
                        ("main.(*Store).Scan", "main.go", 38),
                    ],
                )
                .args_q(0, &[0x51b89240ed7, 0x7da3fe, 0x12, 0, 0x7fa61c], 0b11111)
                .args(1, &[0x34630b8a000])
                .args_q(2, &[0], 1)
                .by(("main.main", "main.go", 60))
                .creator(1)
                .goid(5 + i),
            );
        }
        gs.push(
            G::new(
                "sync.RWMutex.Lock",
                &[
                    park,
                    sema,
                    ("sync.runtime_SemacquireRWMutex", "sema.go", 105),
                    ("sync.(*RWMutex).Lock", "rwmutex.go", 155),
                    ("main.(*Store).Put", "main.go", 48),
                ],
            )
            .args(1, &[RW + 8, 0, 3, 0, 0x18])
            .args_q(2, &[0x2c, 0x20, 0xafd9e4], 0b111)
            .args_q(3, &[0xafd958], 1)
            .args(4, &[STORE, 0x76d158, 1])
            .by(("main.main", "main.go", 66))
            .creator(1)
            .goid(8),
        );
        for i in 0..4 {
            gs.push(
                G::new(
                    "sync.RWMutex.RLock",
                    &[
                        park,
                        sema,
                        ("sync.runtime_SemacquireRWMutexR", "sema.go", 100),
                        ("sync.(*RWMutex).RLock", "rwmutex.go", 74),
                        ("main.(*Store).Get", "main.go", 56),
                    ],
                )
                .args(1, &[RW + 12, 0, 3, 0, 0x17])
                .args(4, &[STORE, 0x76d158, 1])
                .by(("main.main", "main.go", 70))
                .creator(1)
                .goid(9 + i),
            );
        }
        let r = report_in(Context::Crash, &gs);
        let chain = r
            .relations
            .iter()
            .find(|x| x.kind == "lock-chain")
            .unwrap_or_else(|| panic!("{:#?}", r.relations));
        assert!(!chain.sure, "holders matched by type only: probable");
        assert_eq!(chain.objects[0].kind, "rwmutex");
        assert_eq!(chain.objects[0].addr, format!("{RW:#x}"));
        assert!(chain.summary.contains("in a Store"), "{}", chain.summary);
        for f in ["main.(*Store).Put", "main.(*Store).Get"] {
            let g = r
                .groups
                .iter()
                .find(|g| g.stack.iter().any(|s| s.function == f))
                .unwrap();
            assert_eq!(
                (g.verdict, g.pattern.as_deref()),
                (Verdict::Suspect, Some("lock-held-while-blocked")),
                "{f}: {g:#?}"
            );
        }
    }

    mod from_memory {
        use super::*;
        use goroscope_model::{
            ChanState, Goid, HoldKind, Holder, MemWait, MemoryFacts, ObjectKind as K, WaitOp,
        };

        fn wait(goid: u64, addr: u64, kind: K, op: WaitOp, select: bool) -> MemWait {
            MemWait {
                goid: Goid(goid),
                addr,
                kind,
                op,
                select,
            }
        }

        fn chan(addr: u64) -> ChanState {
            ChanState {
                addr,
                qcount: 0,
                dataqsiz: 0,
                closed: false,
                timer: false,
            }
        }

        fn field(addr: u64, goid: u64) -> Holder {
            Holder {
                addr,
                goid: Goid(goid),
                frame: 0,
                receiver: 0xc000900000,
                offset: 8,
                how: HoldKind::Field,
            }
        }

        const A: u64 = 0xc000010000;
        const B: u64 = 0xc000010060;
        const C: u64 = 0xc0000100c0;

        /// Closures: no argument names a channel; memory says who waits on what and who
        /// holds it.
        fn peers() -> Vec<G> {
            let send = ("main.main.func1", "main.go", 20);
            vec![
                G::new("IO wait", &[("main.main", "main.go", 1)]).goid(1),
                G::new("chan send", &[send]).goid(10).creator(1),
                G::new("chan send", &[send]).goid(11).creator(1),
            ]
        }

        fn peers_mem() -> MemoryFacts {
            MemoryFacts {
                waits: vec![
                    wait(10, A, K::Chan, WaitOp::Send, false),
                    wait(11, B, K::Chan, WaitOp::Send, false),
                ],
                chans: vec![chan(A), chan(B)],
                holders: vec![field(A, 11), field(B, 10)],
                timers_known: true,
                ..Default::default()
            }
        }

        #[test]
        fn send_send_cycle_from_memory_is_a_sure_deadlock() {
            let r = report_mem(Context::Live, &peers(), peers_mem());
            let d = r
                .relations
                .iter()
                .find(|x| x.kind == "deadlock")
                .unwrap_or_else(|| panic!("{:#?}", r.relations));
            assert!(d.sure, "{d:#?}");
            let mut goids: Vec<u64> = d.goroutines.iter().map(|g| g.goid).collect();
            goids.sort();
            assert_eq!(goids, vec![10, 11]);
            let g = r.groups.iter().find(|g| g.count == 2).unwrap();
            assert_eq!(
                (g.verdict, g.pattern.as_deref()),
                (Verdict::Leak, Some("deadlock")),
                "{g:#?}"
            );
            // Without memory (the same dump as text: closures print no channel), nothing.
            let r = report_in(Context::Live, &peers());
            assert!(r.relations.is_empty(), "{:#?}", r.relations);
        }

        /// Workers waiting on the WaitGroup only they could call Done on (Go < 1.25 parks them
        /// as `semacquire`; no kept argument word names it): memory shows each holding it in a
        /// live local or argument, so they are its only freers — a deadlock; one such waiter
        /// alone is an orphan (the pattern rules judge it).
        #[test]
        fn waiters_holding_their_waitgroup_in_memory_deadlock() {
            const WG: u64 = 0xc0000841c0;
            let wait_at = ("main.worker", "main.go", 20);
            let local = |goid: u64| Holder {
                addr: WG,
                goid: Goid(goid),
                frame: 2,
                receiver: 0,
                offset: 0,
                how: HoldKind::Local,
            };
            let gs: Vec<G> = [20, 21, 22]
                .iter()
                .map(|&g| G::new("semacquire", &[wait_at]).goid(g))
                .collect();
            let m = MemoryFacts {
                waits: [20, 21, 22]
                    .iter()
                    .map(|&g| wait(g, WG, K::WaitGroup, WaitOp::Wait, false))
                    .collect(),
                holders: vec![local(20), local(21), local(22)],
                timers_known: true,
                ..Default::default()
            };
            let r = report_mem(Context::Live, &gs, m.clone());
            let d = r
                .relations
                .iter()
                .find(|x| x.kind == "deadlock")
                .unwrap_or_else(|| panic!("{:#?}", r.relations));
            let mut goids: Vec<u64> = d.goroutines.iter().map(|g| g.goid).collect();
            goids.sort();
            assert_eq!(goids, vec![20, 21, 22]);
            // Without the holders, nobody is seen to hold it: no relation.
            let bare = MemoryFacts {
                holders: Vec::new(),
                ..m.clone()
            };
            let r = report_mem(Context::Live, &gs, bare);
            assert!(r.relations.iter().all(|x| x.kind != "deadlock"));
            // One waiter holding it alone: an orphan, not a deadlock.
            let one = MemoryFacts {
                waits: m.waits[..1].to_vec(),
                holders: vec![local(20)],
                ..m
            };
            let r = report_mem(Context::Live, &gs[..1], one);
            assert!(
                r.relations.iter().all(|x| x.kind != "deadlock"),
                "{:#?}",
                r.relations
            );
        }

        #[test]
        fn goroutines_waiting_behind_a_cycle_are_in_its_relation() {
            let mut gs = peers();
            gs.push(G::new("chan send", &[("main.late", "main.go", 50)]).goid(12));
            let mut m = peers_mem();
            m.waits.push(wait(12, A, K::Chan, WaitOp::Send, false));
            let r = report_mem(Context::Live, &gs, m);
            let d = r.relations.iter().find(|x| x.kind == "deadlock").unwrap();
            assert_eq!(d.count, 3, "{d:#?}");
            let behind = d.goroutines.iter().find(|g| g.goid == 12).unwrap();
            assert_eq!(behind.role, "waits-behind");
            let g = r.groups.iter().find(|g| g.goids == vec![12]).unwrap();
            assert!(g.relations.contains(&d.id), "{g:#?}");
            assert_eq!(g.verdict, Verdict::Leak);
        }

        #[test]
        fn a_channel_that_can_proceed_never_makes_its_waiter_stuck() {
            for (qcount, dataqsiz, closed) in [(0, 1, false), (0, 0, true)] {
                let mut m = peers_mem();
                m.chans[0] = ChanState {
                    qcount,
                    dataqsiz,
                    closed,
                    ..chan(A)
                };
                let r = report_mem(Context::Live, &peers(), m);
                assert!(
                    r.relations.iter().all(|x| x.kind != "deadlock"),
                    "{qcount}/{dataqsiz}/{closed}: {:#?}",
                    r.relations
                );
            }
        }

        #[test]
        fn a_select_is_freed_by_any_case() {
            let sel = ("main.loop", "main.go", 30);
            let mut gs = peers();
            gs.push(G::new("select", &[sel]).goid(12).creator(1));
            gs.push(G::new("running", &[("main.feed", "main.go", 40)]).goid(13));
            // 12 selects on A (held by 11, in the cycle) and C (held by 13, which runs).
            let mut m = peers_mem();
            m.waits.push(wait(12, A, K::Chan, WaitOp::Send, true));
            m.waits.push(wait(12, C, K::Chan, WaitOp::Recv, true));
            m.chans.push(chan(C));
            m.holders.push(field(C, 13));
            let r = report_mem(Context::Live, &gs, m.clone());
            let d = r.relations.iter().find(|x| x.kind == "deadlock").unwrap();
            assert!(
                d.goroutines.iter().all(|g| g.goid != 12),
                "a case someone running can free: {d:#?}"
            );
            // Now C's only holder is 10, itself deadlocked: every case is stuck.
            m.holders.retain(|h| h.addr != C);
            m.holders.push(field(C, 10));
            let r = report_mem(Context::Live, &gs, m.clone());
            let sel_group = r
                .groups
                .iter()
                .find(|g| g.stack[0].function == "main.loop")
                .unwrap();
            assert_eq!(
                sel_group.pattern.as_deref(),
                Some("deadlock"),
                "{sel_group:#?}"
            );
            // Before Go 1.23 a select's case may be an unmarked timer: not a wait on others.
            m.timers_known = false;
            let r = report_mem(Context::Live, &gs, m);
            let sel_group = r
                .groups
                .iter()
                .find(|g| g.stack[0].function == "main.loop")
                .unwrap();
            assert_ne!(sel_group.pattern.as_deref(), Some("deadlock"));
        }

        #[test]
        fn a_timer_channel_receiver_is_a_timed_loop() {
            let tick = ("main.(*Flusher).run", "flush.go", 12);
            let gs = vec![
                G::new("IO wait", &[("main.main", "main.go", 1)]).goid(1),
                G::new("chan receive", &[tick])
                    .goid(20)
                    .creator(1)
                    .by(("main.main", "main.go", 9)),
            ];
            let m = MemoryFacts {
                waits: vec![wait(20, C, K::Chan, WaitOp::Recv, false)],
                chans: vec![ChanState {
                    timer: true,
                    dataqsiz: 1,
                    ..chan(C)
                }],
                timers_known: true,
                ..Default::default()
            };
            let r = report_mem(Context::Live, &gs, m.clone());
            let g = r.groups.iter().find(|g| g.goids == vec![20]).unwrap();
            assert_eq!(
                (g.verdict, g.pattern.as_deref()),
                (Verdict::Benign, Some("benign:timer-loop")),
                "{g:#?}"
            );
            // At exit it is still a loop nobody stopped.
            let r = report_mem(Context::Exit, &gs, m);
            let g = r.groups.iter().find(|g| g.goids == vec![20]).unwrap();
            assert_eq!(g.verdict, Verdict::Leak, "{g:#?}");
        }

        #[test]
        fn readers_holding_a_read_lock_root_the_chain() {
            // rw-starved: the readers' receivers print `?`, memory finds their frames.
            const RW: u64 = 0xc000070dc0;
            const STORE: u64 = 0xc000070db0;
            let scan = ("main.(*Store).Scan", "main.go", 38);
            let mut gs = vec![G::new("IO wait", &[("main.main", "main.go", 1)]).goid(1)];
            for i in 0..3 {
                gs.push(
                    G::new("sleep", &[("time.Sleep", "time.go", 1), scan])
                        .goid(5 + i)
                        .creator(1),
                );
            }
            gs.push(
                G::new(
                    "sync.RWMutex.Lock",
                    &[
                        ("sync.(*RWMutex).Lock", "rwmutex.go", 1),
                        ("main.(*Store).Put", "main.go", 46),
                    ],
                )
                .args(1, &[STORE])
                .goid(8)
                .creator(1),
            );
            let mut m = MemoryFacts {
                waits: vec![wait(8, RW, K::RwMutex, WaitOp::Lock, false)],
                timers_known: true,
                ..Default::default()
            };
            for i in 0..3 {
                m.holders.push(Holder {
                    addr: RW,
                    goid: Goid(5 + i),
                    frame: 1,
                    receiver: STORE,
                    offset: 0x68,
                    how: HoldKind::Frame,
                });
            }
            let r = report_mem(Context::Live, &gs, m);
            let chain = r
                .relations
                .iter()
                .find(|x| x.kind == "lock-chain")
                .unwrap_or_else(|| panic!("{:#?}", r.relations));
            assert!(!chain.sure, "three probable holders");
            let mut holders: Vec<u64> = chain
                .goroutines
                .iter()
                .filter(|g| g.role.ends_with("holder"))
                .map(|g| g.goid)
                .collect();
            holders.sort();
            assert_eq!(
                holders,
                vec![5, 6, 7],
                "every reader holding it: {chain:#?}"
            );
            assert!(
                chain.summary.contains("main.(*Store).Scan"),
                "{}",
                chain.summary
            );
            let w = r.groups.iter().find(|g| g.goids == vec![8]).unwrap();
            assert_eq!(
                (w.verdict, w.pattern.as_deref()),
                (Verdict::Suspect, Some("lock-held-while-blocked")),
                "{w:#?}"
            );
        }
    }
}
