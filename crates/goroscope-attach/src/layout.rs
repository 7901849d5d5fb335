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
