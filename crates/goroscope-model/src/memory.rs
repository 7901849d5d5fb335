//! Facts only a process's memory holds: what each blocked goroutine waits on, by address, read
//! from the runtime's own structures (a channel operation's `sudog` on `g.waiting`, a select's
//! one per case; a semaphore's `sudog` in `runtime.semtable`; a `sync.Cond`'s notify list), the
//! state of each waited channel (`hchan`), and which goroutines hold a pointer to a waited
//! object (a live local of one of their frames, a field of a method receiver's object).
//! Attach and cores fill
//! [`crate::Snapshot::memory`]; text and aggregated readers leave it `None`: a dump prints
//! argument words at best (see [`crate::ArgStore`]), never these.
//!
//! Everything here was read from a live target or a core, so it is as exact as the moment of
//! the read: with `--pause` or from a core, one consistent moment; without, each goroutine's
//! facts were checked against the goroutine they belong to (a `sudog` points back at its `g`)
//! but different goroutines may have been read microseconds apart.

use crate::Goid;

/// What kind of object a goroutine waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectKind {
    /// A channel (`hchan`): the address is the channel value itself.
    Chan,
    /// A `sync.Mutex` (the address of the mutex).
    Mutex,
    /// A `sync.RWMutex` (the address of the RWMutex; its writer mutex is at the same address).
    RwMutex,
    /// A `sync.WaitGroup`.
    WaitGroup,
    /// A `sync.Cond`.
    Cond,
    /// A runtime semaphore that is none of the above (the address is the semaphore word).
    Semaphore,
}

impl ObjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Chan => "chan",
            ObjectKind::Mutex => "mutex",
            ObjectKind::RwMutex => "rwmutex",
            ObjectKind::WaitGroup => "waitgroup",
            ObjectKind::Cond => "cond",
            ObjectKind::Semaphore => "semaphore",
        }
    }
}

/// The operation a goroutine is blocked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WaitOp {
    Send,
    Recv,
    /// `Mutex.Lock`, `RWMutex.Lock`.
    Lock,
    /// `RWMutex.RLock`.
    RLock,
    /// `WaitGroup.Wait`, `Cond.Wait`.
    Wait,
    /// A bare semaphore acquire.
    Acquire,
}

impl WaitOp {
    pub fn as_str(self) -> &'static str {
        match self {
            WaitOp::Send => "send",
            WaitOp::Recv => "receive",
            WaitOp::Lock => "lock",
            WaitOp::RLock => "read-lock",
            WaitOp::Wait => "wait",
            WaitOp::Acquire => "acquire",
        }
    }
}

/// One object a goroutine waits on. A select waits on several (one per case that has a
/// channel; `select` set), and is freed as soon as any of them can proceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemWait {
    pub goid: Goid,
    /// The object's address: the channel, or the `sync` value the semaphore belongs to (see
    /// [`ObjectKind`]).
    pub addr: u64,
    pub kind: ObjectKind,
    pub op: WaitOp,
    /// One case of a select.
    pub select: bool,
}

/// A waited channel's state (`hchan`), read from memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChanState {
    pub addr: u64,
    /// Values in the buffer (`qcount`).
    pub qcount: u64,
    /// Buffer size (`dataqsiz`; 0: unbuffered).
    pub dataqsiz: u64,
    pub closed: bool,
    /// A timer feeds it (`hchan.timer`, Go 1.23+): a `time.Timer`'s or `time.Ticker`'s `C`,
    /// `time.After`, `time.Tick`. `false` before Go 1.23, where the runtime does not say.
    pub timer: bool,
}

impl ChanState {
    /// A send on it would not block: closed (it panics instead) or room in the buffer.
    pub fn send_ready(&self) -> bool {
        self.closed || self.qcount < self.dataqsiz
    }

    /// A receive on it would not block: closed or something buffered.
    pub fn recv_ready(&self) -> bool {
        self.closed || self.qcount > 0
    }

    /// Operation `op` on it would not block.
    pub fn ready_for(&self, op: WaitOp) -> bool {
        match op {
            WaitOp::Send => self.send_ready(),
            WaitOp::Recv => self.recv_ready(),
            _ => false,
        }
    }
}

/// How a goroutine holds a waited object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HoldKind {
    /// A word of the object its method's receiver points to (the first
    /// [`MAX_RECEIVER_PREFIX`] bytes) is the object's address: the object is a field of it
    /// (a channel or `*sync.WaitGroup` stored in a struct).
    Field,
    /// A live pointer of one of its frames (a slot the GC's stack map marks live at the frame's
    /// pc: a local variable or a spilled value the function still uses; or an argument word
    /// printed without `?`) is the object's
    /// address (`results := make(chan T)` in a function that will read it later), or for a
    /// lock, points into the heap object that contains it (`from *Account` holding
    /// `from.mu`): a probable holder.
    Local,
    /// A method's receiver (printed for sure) points into the heap object that contains the
    /// lock: the goroutine is inside the object, its probable holder.
    Inside,
    /// The object is a field of a method receiver's struct (a lock inside it) and that
    /// method's frame holds the object's or the struct's address, although the receiver
    /// argument itself is not known (printed with `?`): a probable holder of the lock.
    Frame,
}

/// Bytes of a method receiver's object read for [`HoldKind::Field`].
pub const MAX_RECEIVER_PREFIX: u64 = 256;

/// A goroutine that holds a waited object: it may be the one to free its waiters (the other
/// side of a channel, a lock's holder, a WaitGroup's worker).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Holder {
    /// The waited object.
    pub addr: u64,
    pub goid: Goid,
    /// Index in the goroutine's stack (innermost 0) of the frame holding it (the method frame
    /// for a receiver).
    pub frame: u16,
    /// The receiver's address (the struct holding the object), 0 when unknown.
    pub receiver: u64,
    /// Where the object's address was found: the byte offset in the receiver's object
    /// ([`HoldKind::Field`]) or in the frame ([`HoldKind::Frame`]).
    pub offset: u32,
    pub how: HoldKind,
}

/// Everything read from memory about who waits on what (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryFacts {
    /// Sorted by goid (then address): several per goroutine for a select.
    pub waits: Vec<MemWait>,
    /// Every channel in `waits`, sorted by address.
    pub chans: Vec<ChanState>,
    /// Sorted by object address, then goid.
    pub holders: Vec<Holder>,
    /// Goroutines whose wait could not be read exactly (a torn read, a select case in no
    /// queue): they have no entry in `waits`, whatever else they wait on.
    pub unread: Vec<Goid>,
    /// The release says which channels a timer feeds ([`ChanState::timer`], Go 1.23+): a
    /// select none of whose cases is a timer channel waits only on other goroutines.
    pub timers_known: bool,
}

impl MemoryFacts {
    /// What `goid` waits on (several for a select; empty when not read or not waiting on a
    /// channel or a lock).
    pub fn waits_of(&self, goid: Goid) -> &[MemWait] {
        let lo = self.waits.partition_point(|w| w.goid < goid);
        let hi = self.waits.partition_point(|w| w.goid <= goid);
        &self.waits[lo..hi]
    }

    /// The state of the channel at `addr`, when it is waited on.
    pub fn chan(&self, addr: u64) -> Option<&ChanState> {
        self.chans
            .binary_search_by_key(&addr, |c| c.addr)
            .ok()
            .map(|i| &self.chans[i])
    }

    /// The holders of the object at `addr`.
    pub fn holders_of(&self, addr: u64) -> &[Holder] {
        let lo = self.holders.partition_point(|h| h.addr < addr);
        let hi = self.holders.partition_point(|h| h.addr <= addr);
        &self.holders[lo..hi]
    }

    /// Sorts every list into the order the lookups expect.
    pub fn sort(&mut self) {
        self.waits.sort_unstable();
        self.waits.dedup();
        self.chans.sort_unstable_by_key(|c| c.addr);
        self.chans.dedup_by_key(|c| c.addr);
        self.holders.sort_unstable();
        self.holders.dedup();
        self.unread.sort_unstable();
        self.unread.dedup();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_after_sort() {
        let w = |g: u64, a: u64| MemWait {
            goid: Goid(g),
            addr: a,
            kind: ObjectKind::Chan,
            op: WaitOp::Recv,
            select: true,
        };
        let mut m = MemoryFacts {
            waits: vec![w(9, 0x20), w(3, 0x10), w(9, 0x10), w(3, 0x10)],
            chans: vec![
                ChanState {
                    addr: 0x20,
                    qcount: 1,
                    dataqsiz: 4,
                    closed: false,
                    timer: false,
                },
                ChanState {
                    addr: 0x10,
                    qcount: 0,
                    dataqsiz: 0,
                    closed: false,
                    timer: true,
                },
            ],
            ..Default::default()
        };
        m.sort();
        assert_eq!(m.waits_of(Goid(9)).len(), 2);
        assert_eq!(m.waits_of(Goid(3)).len(), 1, "duplicates dropped");
        assert!(m.waits_of(Goid(4)).is_empty());
        let c = m.chan(0x20).unwrap();
        assert!(c.send_ready() && c.recv_ready());
        let u = m.chan(0x10).unwrap();
        assert!(!u.ready_for(WaitOp::Send) && !u.ready_for(WaitOp::Recv) && u.timer);
        assert!(m.chan(0x30).is_none());
        assert!(m.holders_of(0x10).is_empty());
    }
}
