//! One `runtime.g`: the fields the walker uses, decoded with the release's layout.

use crate::binary::GoBinary;

/// The fields of one `runtime.g` we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GFields {
    pub addr: u64,
    pub status: u32,
    pub goid: u64,
    pub stack_lo: u64,
    pub stack_hi: u64,
    pub m: u64,
    pub sched_sp: u64,
    pub sched_pc: u64,
    pub syscallsp: u64,
    pub syscallpc: u64,
    pub waitsince: i64,
    pub waitreason: u8,
    pub lockedm: u64,
    pub parent_goid: u64,
    pub gopc: u64,
    pub startpc: u64,
    pub labels: u64,
    /// `g.waiting`: the `sudog` list of a channel operation or select it is parked in (0 when
    /// none, or when the release's layout does not say where it is).
    pub waiting: u64,
}

pub(super) fn rd64(b: &[u8], o: u64) -> u64 {
    let Ok(o) = usize::try_from(o) else {
        return 0;
    };
    b.get(o..o.saturating_add(8))
        .map(|s| u64::from_le_bytes(s.try_into().unwrap()))
        .unwrap_or(0)
}

impl GFields {
    pub fn decode(bin: &GoBinary, addr: u64, b: &[u8]) -> GFields {
        let l = &bin.layout;
        GFields {
            addr,
            status: (rd64(b, l.g_atomicstatus) & 0xffff_ffff) as u32,
            goid: rd64(b, l.g_goid),
            stack_lo: rd64(b, l.g_stack),
            stack_hi: rd64(b, l.g_stack + 8),
            m: rd64(b, l.g_m),
            sched_sp: rd64(b, l.g_sched + l.gobuf_sp),
            sched_pc: rd64(b, l.g_sched + l.gobuf_pc),
            syscallsp: rd64(b, l.g_syscallsp),
            syscallpc: rd64(b, l.g_syscallpc),
            waitsince: rd64(b, l.g_waitsince) as i64,
            waitreason: b.get(l.g_waitreason as usize).copied().unwrap_or(0),
            lockedm: rd64(b, l.g_lockedm),
            parent_goid: rd64(b, l.g_parent_goid),
            gopc: rd64(b, l.g_gopc),
            startpc: rd64(b, l.g_startpc),
            labels: rd64(b, l.g_labels),
            waiting: l.mem.map_or(0, |m| rd64(b, m.g_waiting)),
        }
    }

    /// Where unwinding starts: `syscallsp/pc` while in a syscall, else `sched` (as
    /// `unwinder.initAt` does for a goroutine that is not running).
    pub(super) fn start(&self) -> (u64, u64) {
        if self.syscallsp != 0 {
            (self.syscallpc, self.syscallsp)
        } else {
            (self.sched_pc, self.sched_sp)
        }
    }
}
