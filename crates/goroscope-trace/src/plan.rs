//! Where the probes go: functions of the Go runtime resolved from the binary (its `.gopclntab`,
//! so stripped binaries too), each probe on an instruction the kernel **emulates**.
//!
//! A uprobe replaces one instruction with a breakpoint. When the breakpoint fires, the kernel
//! either emulates the instruction it replaced (jumps, calls, `nop`, `push reg`: one trap, about a
//! microsecond) or copies it out of line and single-steps it (everything else: two traps, 25–36 µs
//! a hit on a virtualised machine, measured in the research notes). So every probe here sits on an
//! emulated instruction, found by decoding the function (`iced-x86`):
//!
//! * **create**: in `runtime.newproc1`, the first emulated instruction after the store of the new
//!   goroutine's `goid` (`newg.goid = pp.goidcache`), reached from the store in straight-line code
//!   that no branch enters and that leaves the register holding `newg` alone. By then `goid`,
//!   `parentGoid`, `gopc` and `startpc` are all set (Go 1.21–1.24 assign the goid after the status
//!   change, 1.25+ before; the store is the one point common to both). The probe reads `newg` from
//!   that register (passed to the BPF program as the attach cookie). Never a uretprobe: a return
//!   probe rewrites the return address on the stack, which the Go runtime reads when it copies
//!   stacks (`fatal error: unknown caller pc`).
//! * **exit**: `runtime.gdestroy(gp)` (Go 1.22+: every goroutine's end, coroutines' included), else
//!   `runtime.goexit0(gp)`, at its `push %rbp`, `gp` in `RAX`.
//! * **park** (opt-in): `runtime.gopark` at its `push %rbp` (the running `g` in `R14`, the wait
//!   reason in `CL`); **resume**: `runtime.execute(gp)` at its `push %rbp`, `gp` in `RAX`.
//!
//! `push %rbp` is also the only place where a user stack taken by the BPF program includes the
//! function's caller (the kernel fixes up the frame that is half built).

use crate::error::TraceError;
use goroscope_attach::binary::GoBinary;
use iced_x86::{
    Decoder, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory, OpAccess,
};
use iced_x86::{Mnemonic, OpKind, Register};
use std::collections::HashSet;

/// What a probe observes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A goroutine was created (its `g` is complete).
    Create,
    /// A goroutine ended.
    Exit,
    /// A goroutine parked (`gopark`).
    Park,
    /// A goroutine was scheduled to run (`execute`).
    Resume,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Create => "create",
            Role::Exit => "exit",
            Role::Park => "park",
            Role::Resume => "resume",
        }
    }
}

/// A general-purpose register as the BPF program reads it from `struct pt_regs` (x86-64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reg {
    R15,
    R14,
    R13,
    R12,
    Rbp,
    Rbx,
    R11,
    R10,
    R9,
    R8,
    Rax,
    Rcx,
    Rdx,
    Rsi,
    Rdi,
}

impl Reg {
    /// The register's index in the uapi `struct pt_regs` (8-byte words): what the BPF program's
    /// register switch expects in the attach cookie.
    pub fn pt_regs_index(self) -> u64 {
        match self {
            Reg::R15 => 0,
            Reg::R14 => 1,
            Reg::R13 => 2,
            Reg::R12 => 3,
            Reg::Rbp => 4,
            Reg::Rbx => 5,
            Reg::R11 => 6,
            Reg::R10 => 7,
            Reg::R9 => 8,
            Reg::R8 => 9,
            Reg::Rax => 10,
            Reg::Rcx => 11,
            Reg::Rdx => 12,
            Reg::Rsi => 13,
            Reg::Rdi => 14,
        }
    }

    fn from_iced(r: Register) -> Option<Reg> {
        Some(match r.full_register() {
            Register::R15 => Reg::R15,
            Register::R14 => Reg::R14,
            Register::R13 => Reg::R13,
            Register::R12 => Reg::R12,
            Register::RBP => Reg::Rbp,
            Register::RBX => Reg::Rbx,
            Register::R11 => Reg::R11,
            Register::R10 => Reg::R10,
            Register::R9 => Reg::R9,
            Register::R8 => Reg::R8,
            Register::RAX => Reg::Rax,
            Register::RCX => Reg::Rcx,
            Register::RDX => Reg::Rdx,
            Register::RSI => Reg::Rsi,
            Register::RDI => Reg::Rdi,
            _ => return None,
        })
    }
}

/// One uprobe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub role: Role,
    /// The runtime function it is in.
    pub function: String,
    /// Link-time address of the probed instruction.
    pub addr: u64,
    /// Its offset from the function's entry.
    pub offset: u64,
    /// Its offset in the executable's file (where the uprobe is attached).
    pub file_offset: u64,
    /// The register holding the goroutine's `g` when the probe fires.
    pub g_reg: Reg,
    /// The probed instruction, for messages (`push rbp`, `call`, `je`, `nop`).
    pub instruction: String,
    /// Its bytes in the file: what must be back in the target after detaching.
    pub bytes: Vec<u8>,
}

/// Offsets in `runtime.g` the BPF program reads (from the attach layout: DWARF, else the
/// per-release table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GOffsets {
    pub goid: u32,
    pub parent_goid: u32,
    pub gopc: u32,
    pub startpc: u32,
}

/// Every probe for one executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub go_version: String,
    pub offsets: GOffsets,
    pub probes: Vec<Probe>,
}

impl Plan {
    /// The probes of one role.
    pub fn of(&self, role: Role) -> impl Iterator<Item = &Probe> + '_ {
        self.probes.iter().filter(move |p| p.role == role)
    }
}

/// Plans the probes for `bin`: creation and exit always, park and resume with `park`.
pub fn plan(bin: &GoBinary, park: bool) -> Result<Plan, TraceError> {
    let l = &bin.layout;
    let off = |name: &str, v: u64| -> Result<u32, TraceError> {
        u32::try_from(v)
            .ok()
            .filter(|&v| v < l.g_size as u32)
            .ok_or_else(|| TraceError::Placement {
                function: "runtime.g".into(),
                reason: format!("offset of {name} ({v}) is not inside the g"),
            })
    };
    let offsets = GOffsets {
        goid: off("goid", l.g_goid)?,
        parent_goid: off("parentGoid", l.g_parent_goid)?,
        gopc: off("gopc", l.g_gopc)?,
        startpc: off("startpc", l.g_startpc)?,
    };
    let mut probes = create_probes(bin, offsets.goid)?;
    let exit_fn = if bin.pclntab.find_by_name("runtime.gdestroy").is_some() {
        "runtime.gdestroy"
    } else {
        "runtime.goexit0"
    };
    probes.push(push_rbp_probe(bin, exit_fn, Role::Exit, Reg::Rax)?);
    if park {
        probes.push(push_rbp_probe(bin, "runtime.gopark", Role::Park, Reg::R14)?);
        probes.push(push_rbp_probe(
            bin,
            "runtime.execute",
            Role::Resume,
            Reg::Rax,
        )?);
    }
    Ok(Plan {
        go_version: bin.go_version.clone(),
        offsets,
        probes,
    })
}

/// A function's code, decoded.
struct Code {
    name: String,
    entry: u64,
    bytes: Vec<u8>,
    insns: Vec<Instruction>,
}

fn decode(bin: &GoBinary, name: &str) -> Result<Code, TraceError> {
    let f = bin
        .pclntab
        .find_by_name(name)
        .ok_or_else(|| TraceError::Placement {
            function: name.into(),
            reason: format!(
                "not in the binary's function table ({}); this Go release may have renamed or inlined it",
                bin.go_version
            ),
        })?;
    let len = f.end.saturating_sub(f.entry);
    if len == 0 || len > 1 << 20 {
        return Err(TraceError::Placement {
            function: name.into(),
            reason: format!("implausible size {len}"),
        });
    }
    let bytes = bin
        .read_static(f.entry, len as usize)
        .ok_or_else(|| TraceError::Placement {
            function: name.into(),
            reason: "its code is not in the file".into(),
        })?
        .to_vec();
    let mut d = Decoder::with_ip(64, &bytes, f.entry, DecoderOptions::NONE);
    let mut insns = Vec::new();
    while d.can_decode() {
        let i = d.decode();
        if i.is_invalid() {
            break;
        }
        insns.push(i);
    }
    Ok(Code {
        name: name.into(),
        entry: f.entry,
        bytes,
        insns,
    })
}

impl Code {
    fn raw(&self, i: &Instruction) -> &[u8] {
        let o = (i.ip() - self.entry) as usize;
        &self.bytes[o..o + i.len()]
    }

    fn probe(
        &self,
        bin: &GoBinary,
        role: Role,
        i: &Instruction,
        g_reg: Reg,
    ) -> Result<Probe, TraceError> {
        let file_offset = bin
            .file_offset(i.ip())
            .ok_or_else(|| TraceError::Placement {
                function: self.name.clone(),
                reason: format!("{:#x} is not backed by the file", i.ip()),
            })?;
        Ok(Probe {
            role,
            function: self.name.clone(),
            addr: i.ip(),
            offset: i.ip() - self.entry,
            file_offset,
            g_reg,
            instruction: emulated(self.raw(i)).unwrap_or("?").to_string(),
            bytes: self.raw(i).to_vec(),
        })
    }
}

/// What the kernel emulates on x86-64 (`arch/x86/kernel/uprobes.c`: `branch_setup_xol_ops`,
/// `push_setup_xol_ops`), in the exact encodings accepted here: no prefixes at all (the kernel
/// single-steps a branch with an operand-size prefix). `None`: it would be single-stepped.
pub fn emulated(b: &[u8]) -> Option<&'static str> {
    match b {
        [0xe8, _, _, _, _] => Some("call"),
        [0xe9, _, _, _, _] | [0xeb, _] => Some("jmp"),
        [0x70..=0x7f, _] | [0x0f, 0x80..=0x8f, _, _, _, _] => Some("jcc"),
        [0x90] => Some("nop"),
        [0x55] => Some("push rbp"),
        [0x50..=0x57] | [0x41, 0x50..=0x57] => Some("push"),
        _ => None,
    }
}

/// The function's `push %rbp`: its first instruction (a frame-setting nosplit function) or the
/// first after the stack-bound check (`cmp`/`lea`, `jbe` to `morestack`, which comes back to the
/// entry, so the push runs once a call).
fn push_rbp_probe(bin: &GoBinary, name: &str, role: Role, g_reg: Reg) -> Result<Probe, TraceError> {
    let code = decode(bin, name)?;
    for i in code.insns.iter().take(8) {
        if code.raw(i) == [0x55] {
            return code.probe(bin, role, i, g_reg);
        }
        // Only the stack check may come before it.
        let check = matches!(i.mnemonic(), Mnemonic::Cmp | Mnemonic::Lea)
            || i.flow_control() == FlowControl::ConditionalBranch;
        if !check {
            break;
        }
    }
    Err(TraceError::Placement {
        function: name.into(),
        reason:
            "no `push %rbp` in its prologue to probe (the kernel would single-step anything else)"
                .into(),
    })
}

/// The creation probes: after each store of `goid` in `runtime.newproc1`.
fn create_probes(bin: &GoBinary, goid_off: u32) -> Result<Vec<Probe>, TraceError> {
    let code = decode(bin, "runtime.newproc1")?;
    // Every instruction a branch of the function lands on.
    let targets: HashSet<u64> = code
        .insns
        .iter()
        .filter(|i| {
            matches!(
                i.flow_control(),
                FlowControl::ConditionalBranch | FlowControl::UnconditionalBranch
            )
        })
        .filter(|i| matches!(i.op0_kind(), OpKind::NearBranch64))
        .map(|i| i.near_branch_target())
        .collect();
    let mut info = InstructionInfoFactory::new();
    let mut probes = Vec::new();
    let mut why = Vec::new();
    for (k, st) in code.insns.iter().enumerate() {
        let is_goid_store = st.mnemonic() == Mnemonic::Mov
            && st.op_count() == 2
            && st.op0_kind() == OpKind::Memory
            && st.op1_kind() == OpKind::Register
            && st.op1_register().is_gpr64()
            && st.memory_index() == Register::None
            && st.memory_base().is_gpr64()
            && st.memory_base() != Register::RSP
            && st.memory_displacement64() == goid_off as u64;
        if !is_goid_store {
            continue;
        }
        let base = st.memory_base();
        let Some(g_reg) = Reg::from_iced(base) else {
            continue;
        };
        let mut found = None;
        for i in &code.insns[k + 1..] {
            if targets.contains(&i.ip()) {
                why.push(format!(
                    "{:#x}: a branch enters the code after the store",
                    i.ip()
                ));
                break;
            }
            if emulated(code.raw(i)).is_some() {
                found = Some(*i);
                break;
            }
            if i.flow_control() != FlowControl::Next {
                why.push(format!("{:#x}: reached a {:?} first", i.ip(), i.mnemonic()));
                break;
            }
            let clobbers = info.info(i).used_registers().iter().any(|u| {
                u.register().full_register() == base.full_register()
                    && !matches!(u.access(), OpAccess::Read | OpAccess::CondRead)
            });
            if clobbers {
                why.push(format!("{:#x}: overwrites {base:?} (newg)", i.ip()));
                break;
            }
        }
        if let Some(i) = found {
            probes.push(code.probe(bin, Role::Create, &i, g_reg)?);
        }
    }
    if probes.is_empty() {
        return Err(TraceError::Placement {
            function: code.name,
            reason: if why.is_empty() {
                format!("no store of g.goid (offset {goid_off}) found")
            } else {
                format!(
                    "no emulated instruction after the store of g.goid ({})",
                    why.join("; ")
                )
            },
        });
    }
    Ok(probes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_emulated_encodings() {
        assert_eq!(emulated(&[0x55]), Some("push rbp"));
        assert_eq!(emulated(&[0x41, 0x56]), Some("push"));
        assert_eq!(emulated(&[0xe8, 1, 2, 3, 4]), Some("call"));
        assert_eq!(emulated(&[0x74, 0x11]), Some("jcc"));
        assert_eq!(emulated(&[0x0f, 0x84, 0, 0, 0, 0]), Some("jcc"));
        assert_eq!(emulated(&[0x90]), Some("nop"));
        // The stack check, ret, a NOPW (operand-size prefix), a multi-byte nop, a mov.
        assert_eq!(emulated(&[0x49, 0x3b, 0x66, 0x10]), None);
        assert_eq!(emulated(&[0xc3]), None);
        assert_eq!(emulated(&[0x66, 0x90]), None);
        assert_eq!(emulated(&[0x0f, 0x1f, 0x40, 0x00]), None);
        assert_eq!(emulated(&[0x48, 0x89, 0xe5]), None);
    }

    #[test]
    fn pt_regs_indices_follow_the_uapi_struct() {
        // struct pt_regs { r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, … }
        assert_eq!(Reg::R14.pt_regs_index(), 1);
        assert_eq!(Reg::Rax.pt_regs_index(), 10);
        assert_eq!(Reg::Rdi.pt_regs_index(), 14);
        assert_eq!(Reg::from_iced(Register::EAX), Some(Reg::Rax));
        assert_eq!(Reg::from_iced(Register::RSP), None);
    }
}
