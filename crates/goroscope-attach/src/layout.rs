//! Where the runtime keeps what we read: offsets in `runtime.g`, `gobuf`, `m` and `moduledata`,
//! the wait-reason numbering and `abi.FuncIDWrapper` of one Go release.
//!
//! Read from DWARF when the binary has it ([`crate::dwarf`]), else from the per-release tables in
//! `layouts_gen.rs`, generated from the installed toolchains by `examples/gen_layouts/` and
//! checked for drift by `tests/layout_drift.rs`.

/// Offsets (bytes) and constants for one Go release on linux/amd64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// `go1.N` minor this describes.
    pub minor: u32,
    pub g_size: u64,
    pub g_stack: u64,
    pub g_m: u64,
    pub g_sched: u64,
    pub g_syscallsp: u64,
    pub g_syscallpc: u64,
    pub g_atomicstatus: u64,
    pub g_goid: u64,
    pub g_waitsince: u64,
    pub g_waitreason: u64,
    pub g_lockedm: u64,
    pub g_parent_goid: u64,
    pub g_gopc: u64,
    pub g_startpc: u64,
    pub g_labels: u64,
    pub gobuf_sp: u64,
    pub gobuf_pc: u64,
    pub gobuf_bp: u64,
    pub m_procid: u64,
    pub m_curg: u64,
    pub moduledata_gofunc: u64,
    /// `abi.FuncIDWrapper`.
    pub funcid_wrapper: u8,
    /// `waitReasonStrings`, indexed by `waitReason`.
    pub wait_reasons: Vec<String>,
    /// The constants' names (`waitReasonChanReceive`), parallel to `wait_reasons`.
    pub wait_reason_names: Vec<String>,
    /// Where the runtime keeps who waits on what (`sudog`, `hchan`, semaphores); `None` when
    /// neither DWARF nor a table says (the snapshot then has no memory facts).
    pub mem: Option<MemLayout>,
}

/// Offsets (bytes) of what the exact wait objects are read from: `g.waiting`, the `sudog` a
/// blocked goroutine parks with, the channel (`hchan`), the semaphore table's roots, a
/// `sync.Cond`'s notify list, and where each `sync` type keeps its semaphore. A field that is a
/// `maybeTraceablePtr` (Go 1.26+: `sudog.elem`, `sudog.c`) points at its `vu` word, the
/// source of truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemLayout {
    pub g_waiting: u64,
    pub sudog_size: u64,
    pub sudog_g: u64,
    pub sudog_next: u64,
    pub sudog_prev: u64,
    pub sudog_elem: u64,
    pub sudog_is_select: u64,
    pub sudog_waitlink: u64,
    pub sudog_c: u64,
    pub hchan_qcount: u64,
    pub hchan_dataqsiz: u64,
    pub hchan_closed: u64,
    /// `hchan.timer` (Go 1.23+); 0 when the release has none.
    pub hchan_timer: u64,
    /// `hchan.recvq.first`.
    pub hchan_recvq: u64,
    /// `hchan.sendq.first`.
    pub hchan_sendq: u64,
    pub semaroot_treap: u64,
    pub semaroot_size: u64,
    pub notifylist_head: u64,
    /// `sync.Mutex`'s semaphore (`internal/sync.Mutex.sema` from Go 1.24).
    pub mutex_sema: u64,
    pub rwmutex_writer_sem: u64,
    pub rwmutex_reader_sem: u64,
    pub waitgroup_sema: u64,
    /// `sync.Cond.notify` (the `notifyList`).
    pub cond_notify: u64,
    /// `mheap.arenas` (the L1 array of arena maps), for finding a heap object's bounds.
    pub mheap_arenas: u64,
    /// `heapArena.spans`.
    pub heaparena_spans: u64,
    pub mspan_startaddr: u64,
    pub mspan_elemsize: u64,
}

/// `semTable`'s stride: each root is padded to a cache line (`cpu.CacheLinePadSize`, 64 on
/// amd64).
pub const SEMTABLE_STRIDE: u64 = 64;
/// `semTabSize`.
pub const SEMTABLE_SIZE: u64 = 251;
/// The heap's arena map on linux/amd64 (`arenaBaseOffset`, `heapArenaBytes`, `pageSize`,
/// `pagesPerArena`, `arenaL2Bits`; `arenaL1Bits` is 0): the same in Go 1.21 to 1.27.
pub const ARENA_BASE_OFFSET: u64 = 0xffff_8000_0000_0000;
pub const HEAP_ARENA_BYTES: u64 = 64 << 20;
pub const PAGE_SIZE: u64 = 8192;
pub const PAGES_PER_ARENA: u64 = HEAP_ARENA_BYTES / PAGE_SIZE;
pub const ARENA_L2_ENTRIES: u64 = 1 << 22;

impl MemLayout {
    /// In table order.
    pub fn to_array(&self) -> [u64; 27] {
        [
            self.g_waiting,
            self.sudog_size,
            self.sudog_g,
            self.sudog_next,
            self.sudog_prev,
            self.sudog_elem,
            self.sudog_is_select,
            self.sudog_waitlink,
            self.sudog_c,
            self.hchan_qcount,
            self.hchan_dataqsiz,
            self.hchan_closed,
            self.hchan_timer,
            self.hchan_recvq,
            self.hchan_sendq,
            self.semaroot_treap,
            self.semaroot_size,
            self.notifylist_head,
            self.mutex_sema,
            self.rwmutex_writer_sem,
            self.rwmutex_reader_sem,
            self.waitgroup_sema,
            self.cond_notify,
            self.mheap_arenas,
            self.heaparena_spans,
            self.mspan_startaddr,
            self.mspan_elemsize,
        ]
    }

    pub fn from_array(a: &[u64; 27]) -> MemLayout {
        MemLayout {
            g_waiting: a[0],
            sudog_size: a[1],
            sudog_g: a[2],
            sudog_next: a[3],
            sudog_prev: a[4],
            sudog_elem: a[5],
            sudog_is_select: a[6],
            sudog_waitlink: a[7],
            sudog_c: a[8],
            hchan_qcount: a[9],
            hchan_dataqsiz: a[10],
            hchan_closed: a[11],
            hchan_timer: a[12],
            hchan_recvq: a[13],
            hchan_sendq: a[14],
            semaroot_treap: a[15],
            semaroot_size: a[16],
            notifylist_head: a[17],
            mutex_sema: a[18],
            rwmutex_writer_sem: a[19],
            rwmutex_reader_sem: a[20],
            waitgroup_sema: a[21],
            cond_notify: a[22],
            mheap_arenas: a[23],
            heaparena_spans: a[24],
            mspan_startaddr: a[25],
            mspan_elemsize: a[26],
        }
    }

    /// Bytes of an `hchan` read: every field used lies before this.
    pub fn hchan_len(&self) -> u64 {
        [
            self.hchan_qcount,
            self.hchan_dataqsiz,
            self.hchan_closed,
            self.hchan_timer,
            self.hchan_recvq,
            self.hchan_sendq,
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
            + 8
    }

    /// Every offset inside its struct, and the structs of plausible sizes.
    pub fn check(&self, g_size: u64) -> Result<(), String> {
        if self.g_waiting.checked_add(8).is_none_or(|e| e > g_size) {
            return Err(format!("runtime.g.waiting at offset {}", self.g_waiting));
        }
        if !(48..=1024).contains(&self.sudog_size) {
            return Err(format!("runtime.sudog of {} bytes", self.sudog_size));
        }
        for (name, off, len) in [
            ("g", self.sudog_g, 8),
            ("next", self.sudog_next, 8),
            ("prev", self.sudog_prev, 8),
            ("elem", self.sudog_elem, 8),
            ("isSelect", self.sudog_is_select, 1),
            ("waitlink", self.sudog_waitlink, 8),
            ("c", self.sudog_c, 8),
        ] {
            if off.checked_add(len).is_none_or(|e| e > self.sudog_size) {
                return Err(format!(
                    "runtime.sudog.{name} at offset {off} outside its {} bytes",
                    self.sudog_size
                ));
            }
        }
        if self.hchan_len() > 512 {
            return Err("runtime.hchan offsets out of range".into());
        }
        if self.semaroot_size > SEMTABLE_STRIDE
            || self
                .semaroot_treap
                .checked_add(8)
                .is_none_or(|e| e > self.semaroot_size)
        {
            return Err("runtime.semaRoot layout out of range".into());
        }
        if [
            self.notifylist_head,
            self.mutex_sema,
            self.rwmutex_writer_sem,
            self.rwmutex_reader_sem,
            self.waitgroup_sema,
            self.cond_notify,
        ]
        .iter()
        .any(|&o| o > 256)
        {
            return Err("sync or notifyList offsets out of range".into());
        }
        if self.mheap_arenas > 1 << 20
            || self.heaparena_spans > 4 << 20
            || self.mspan_startaddr > 1024
            || self.mspan_elemsize > 1024
        {
            return Err("runtime.mheap, heapArena or mspan offsets out of range".into());
        }
        Ok(())
    }
}

impl Layout {
    /// The traceback text of a wait reason number, or `None` when the release does not have it.
    pub fn wait_reason(&self, n: u8) -> Option<&str> {
        self.wait_reasons.get(n as usize).map(|s| s.as_str())
    }

    /// Checks that every offset lies inside its struct and the structs have plausible sizes,
    /// so that reading a `g` (whose layout may come from a hostile binary's DWARF) never
    /// indexes past it or allocates by an absurd size.
    pub fn check(&self) -> Result<(), String> {
        if !(64..=16 << 10).contains(&self.g_size) {
            return Err(format!("runtime.g of {} bytes", self.g_size));
        }
        let gobuf = self.gobuf_sp.max(self.gobuf_pc).max(self.gobuf_bp);
        if gobuf >= 256 {
            return Err(format!("runtime.gobuf field at offset {gobuf}"));
        }
        let fields = [
            ("stack", self.g_stack, 16),
            ("m", self.g_m, 8),
            ("sched", self.g_sched, gobuf + 8),
            ("syscallsp", self.g_syscallsp, 8),
            ("syscallpc", self.g_syscallpc, 8),
            ("atomicstatus", self.g_atomicstatus, 4),
            ("goid", self.g_goid, 8),
            ("waitsince", self.g_waitsince, 8),
            ("waitreason", self.g_waitreason, 1),
            ("lockedm", self.g_lockedm, 8),
            ("parentGoid", self.g_parent_goid, 8),
            ("gopc", self.g_gopc, 8),
            ("startpc", self.g_startpc, 8),
            ("labels", self.g_labels, 8),
        ];
        for (name, off, len) in fields {
            if off.checked_add(len).is_none_or(|end| end > self.g_size) {
                return Err(format!(
                    "runtime.g.{name} at offset {off} outside its {} bytes",
                    self.g_size
                ));
            }
        }
        if self.m_procid >= 64 << 10 || self.m_curg >= 64 << 10 || self.moduledata_gofunc >= 4096 {
            return Err("runtime.m or moduledata offsets out of range".into());
        }
        if let Some(m) = &self.mem {
            m.check(self.g_size)?;
        }
        Ok(())
    }

    /// Labels are `*labelMap` = `map[string]string` before Go 1.24, a slice of pairs after.
    pub fn labels_are_map(&self) -> bool {
        self.minor < 24
    }
}

/// A table row as generated (static strings).
pub struct StaticLayout {
    pub minor: u32,
    pub offsets: [u64; 21],
    /// [`MemLayout`] in [`MemLayout::to_array`] order.
    pub mem: [u64; 27],
    pub funcid_wrapper: u8,
    pub wait_reasons: &'static [&'static str],
    pub wait_reason_names: &'static [&'static str],
}

impl StaticLayout {
    pub fn to_layout(&self) -> Layout {
        let o = &self.offsets;
        Layout {
            minor: self.minor,
            g_size: o[0],
            g_stack: o[1],
            g_m: o[2],
            g_sched: o[3],
            g_syscallsp: o[4],
            g_syscallpc: o[5],
            g_atomicstatus: o[6],
            g_goid: o[7],
            g_waitsince: o[8],
            g_waitreason: o[9],
            g_lockedm: o[10],
            g_parent_goid: o[11],
            g_gopc: o[12],
            g_startpc: o[13],
            g_labels: o[14],
            gobuf_sp: o[15],
            gobuf_pc: o[16],
            gobuf_bp: o[17],
            m_procid: o[18],
            m_curg: o[19],
            moduledata_gofunc: o[20],
            mem: Some(MemLayout::from_array(&self.mem)),
            funcid_wrapper: self.funcid_wrapper,
            wait_reasons: self.wait_reasons.iter().map(|s| s.to_string()).collect(),
            wait_reason_names: self
                .wait_reason_names
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

impl Layout {
    /// The offsets in [`StaticLayout::offsets`] order.
    pub fn offsets(&self) -> [u64; 21] {
        [
            self.g_size,
            self.g_stack,
            self.g_m,
            self.g_sched,
            self.g_syscallsp,
            self.g_syscallpc,
            self.g_atomicstatus,
            self.g_goid,
            self.g_waitsince,
            self.g_waitreason,
            self.g_lockedm,
            self.g_parent_goid,
            self.g_gopc,
            self.g_startpc,
            self.g_labels,
            self.gobuf_sp,
            self.gobuf_pc,
            self.gobuf_bp,
            self.m_procid,
            self.m_curg,
            self.moduledata_gofunc,
        ]
    }
}

include!("layouts_gen.rs");

/// The checked-in table for `go1.<minor>`.
pub fn table_for(minor: u32) -> Option<Layout> {
    TABLES
        .iter()
        .find(|t| t.minor == minor)
        .map(|t| t.to_layout())
}

/// The traceback text of a `waitReason` constant name, from any release's table.
pub fn wait_reason_text(name: &str) -> Option<&'static str> {
    TABLES.iter().rev().find_map(|t| {
        t.wait_reason_names
            .iter()
            .position(|n| *n == name)
            .map(|i| t.wait_reasons[i])
    })
}

/// The minors the tables cover.
pub fn table_minors() -> Vec<u32> {
    TABLES.iter().map(|t| t.minor).collect()
}
