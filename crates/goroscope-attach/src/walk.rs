//! The goroutine walker: `allgs` → every `runtime.g` → status, wait reason, creator, labels and
//! the stack, unwound with the pclntab `pcsp` tables and printed the way the runtime's own
//! traceback prints it (runtime frames and wrappers hidden, inlined frames expanded).

use crate::binary::GoBinary;
use crate::error::AttachError;
use crate::memory::ProcessMemory;
use crate::pclntab::{Func, FUNC_FLAG_TOP_FRAME};
use goroscope_model::{
    Elision, Frame, FrameId, Goid, Goroutine, Interner, LabelSetId, Snapshot, Status, WaitReason,
};
use std::collections::HashMap;
use std::rc::Rc;

/// What to read and how.
#[derive(Debug, Clone)]
pub struct WalkOptions {
    /// Show what `GOTRACEBACK=system` shows: runtime goroutines and runtime frames. `false`
    /// matches pprof `debug=2` / `runtime.Stack(buf, true)`.
    pub system: bool,
    /// Re-read each goroutine after reading its stack and retry this many times on a change.
    pub retries: u32,
    /// `CLOCK_MONOTONIC` now, in the target's clock, for wait minutes (None: don't compute).
    pub now_nanos: Option<i64>,
    /// Running threads' registers: `m.procid` (thread id) → (pc, sp), when stopped or from a core.
    pub threads: HashMap<u64, (u64, u64)>,
    /// Refuse more goroutines than this (bad memory guard).
    pub max_goroutines: u64,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            system: false,
            retries: 3,
            now_nanos: None,
            threads: HashMap::new(),
            max_goroutines: 50_000_000,
        }
    }
}

const G_SCAN: u32 = 0x1000;
const G_RUNNABLE: u32 = 1;
const G_RUNNING: u32 = 2;
const G_SYSCALL: u32 = 3;
const G_WAITING: u32 = 4;
const G_DEAD: u32 = 6;
const G_COPYSTACK: u32 = 8;
const G_PREEMPTED: u32 = 9;
const G_LEAKED: u32 = 10;
const G_DEADEXTRA: u32 = 11;
/// Initial stack read per goroutine; deeper stacks are read word by word.
const STACK_WINDOW: u64 = 64 * 1024;
const MAX_PHYS_FRAMES: usize = 100_000;
const INNER_FRAMES: usize = 50;
const OUTER_FRAMES: usize = 50;

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
}

/// What [`Walker::pre_read`] copied, per `runtime.allgs` slot.
#[derive(Debug, Default)]
pub struct PreRead {
    gsz: usize,
    addrs: Vec<u64>,
    /// `gsz` bytes per slot.
    raw: Vec<u8>,
    read_ok: Vec<bool>,
    /// Per slot: `(sp, offset in stack_bytes, length)`; length 0 when nothing was read.
    stacks: Vec<(u64, usize, usize)>,
    stack_bytes: std::rc::Rc<Vec<u8>>,
}

impl PreRead {
    /// The stack copied for slot `i`: `(address, buffer, offset, length)`.
    pub fn stack(&self, i: usize) -> Option<(u64, std::rc::Rc<Vec<u8>>, usize, usize)> {
        let &(sp, off, n) = self.stacks.get(i)?;
        (n > 0).then(|| (sp, self.stack_bytes.clone(), off, n))
    }

    /// Bytes of stack copied in all.
    pub fn stack_bytes_len(&self) -> usize {
        self.stack_bytes.len()
    }

    /// Goroutine slots copied.
    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }
}

fn rd64(b: &[u8], o: u64) -> u64 {
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
        }
    }

    /// Where unwinding starts: `syscallsp/pc` while in a syscall, else `sched` (as
    /// `unwinder.initAt` does for a goroutine that is not running).
    fn start(&self) -> (u64, u64) {
        if self.syscallsp != 0 {
            (self.syscallpc, self.syscallsp)
        } else {
            (self.sched_pc, self.sched_sp)
        }
    }
}

/// One logical frame, symbolized once per physical pc.
#[derive(Debug, Clone, Copy)]
struct Logical {
    id: FrameId,
    /// Name has a dot and is not an unexported `runtime.` function.
    visible_by_name: bool,
    gopanic: bool,
    /// `runtime.runFinalizers` / `runtime.runCleanups`: always shown.
    always: bool,
    wrapper: bool,
    /// `gopanic`, `sigpanic`, `panicwrap`: a wrapper calling these is shown.
    panicky: bool,
}

/// Reads goroutines out of a target.
pub struct Walker<'a> {
    pub bin: &'a GoBinary,
    pub mem: &'a dyn ProcessMemory,
    /// Load bias (PIE): runtime address = link address + bias.
    pub bias: u64,
    pub opts: WalkOptions,
    interner: Interner,
    cache: HashMap<(u64, bool), Rc<[Logical]>>,
    steps: HashMap<u64, Result<Step, String>>,
    creators: HashMap<u64, Option<FrameId>>,
    pub warnings: Vec<String>,
    /// Physical frames unwound (for benchmarks).
    pub frames_unwound: u64,
}

/// One unwinding step: the pcsp delta at a pc and the flags that matter.
#[derive(Debug, Clone, Copy)]
struct Step {
    delta: i32,
    top: bool,
    /// `sigpanic`/`debugCallV2`: the caller's pc is not a return address.
    injected: bool,
}

/// Raw data of one goroutine before it becomes a model `Goroutine`.
struct Raw {
    g: GFields,
    frames: Option<Vec<(u64, bool)>>,
}

impl<'a> Walker<'a> {
    pub fn new(
        bin: &'a GoBinary,
        mem: &'a dyn ProcessMemory,
        bias: u64,
        opts: WalkOptions,
    ) -> Self {
        Walker {
            bin,
            mem,
            bias,
            opts,
            interner: Interner::new(),
            cache: HashMap::new(),
            steps: HashMap::new(),
            creators: HashMap::new(),
            warnings: Vec::new(),
            frames_unwound: 0,
        }
    }

    fn find(&self, pc: u64) -> Option<Func> {
        self.bin.pclntab.find(pc.wrapping_sub(self.bias))
    }

    /// `runtime.allgs` data pointer and `allglen`, read in the runtime's own order
    /// (`atomicAllG`: length first).
    pub fn allgs(&self) -> Result<(u64, u64), AttachError> {
        let (allgs, allglen) = match (self.bin.allgs, self.bin.allglen) {
            (Some(a), Some(l)) => (a.wrapping_add(self.bias), l.wrapping_add(self.bias)),
            _ => crate::stripped::find_allgs(self.bin, self.mem, self.bias)?,
        };
        let len = self.mem.read_u64(allglen).map_err(|e| {
            AttachError::bad_memory(format!("cannot read runtime.allglen at {:#x}", e.addr))
        })?;
        let ptr = self.mem.read_u64(allgs).map_err(|e| {
            AttachError::bad_memory(format!("cannot read runtime.allgs at {:#x}", e.addr))
        })?;
        if len > self.opts.max_goroutines {
            return Err(AttachError::bad_memory(format!(
                "runtime.allglen = {len} is implausible (limit {})",
                self.opts.max_goroutines
            )));
        }
        Ok((ptr, len))
    }

    /// The bytes of a `g` that are read: every field we use lies before `labels + 8`.
    fn g_prefix_len(&self) -> usize {
        let l = &self.bin.layout;
        (l.g_labels + 8).max(l.g_startpc + 8).min(l.g_size) as usize
    }

    /// `runtime.allgs`'s pointers, in order. Read in chunks, so that what is allocated is
    /// what the target really holds, never what a length read from it claims.
    fn allg_addrs(&self) -> Result<Vec<u64>, AttachError> {
        let (ptr, len) = self.allgs()?;
        const CHUNK: u64 = 1 << 16;
        let mut out = Vec::new();
        let mut buf = Vec::new();
        let mut i = 0;
        while i < len {
            let n = (len - i).min(CHUNK);
            buf.resize(n as usize * 8, 0);
            let at = ptr
                .checked_add(i * 8)
                .filter(|a| a.checked_add(n * 8).is_some());
            if at.is_none_or(|a| self.mem.read(a, &mut buf).is_err()) {
                return Err(AttachError::bad_memory(format!(
                    "cannot read {len} pointers of runtime.allgs at {ptr:#x}"
                )));
            }
            out.extend(
                buf.chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))),
            );
            i += n;
        }
        Ok(out)
    }

    /// The part of a goroutine's stack to read: from where it stopped up to the top (at most
    /// [`STACK_WINDOW`], and at most what the memory has there); `(0, 0)` for running and dead
    /// goroutines and bad bounds.
    fn stack_range(&self, g: &GFields) -> (u64, usize) {
        let (sp, n) = Self::stack_window(g);
        (sp, self.mem.readable_len(sp, n))
    }

    fn stack_window(g: &GFields) -> (u64, usize) {
        let (_, sp) = g.start();
        let st = g.status & !G_SCAN;
        if st == G_RUNNING
            || st == G_DEAD
            || st == G_DEADEXTRA
            || sp < g.stack_lo
            || sp > g.stack_hi
        {
            (0, 0)
        } else {
            (sp, (g.stack_hi - sp).min(STACK_WINDOW) as usize)
        }
    }

    /// Copies every goroutine non-blocking (the target runs): each `g`'s prefix, then the
    /// stack it pointed to. Taken just before `--pause` stops the target, so that while it is
    /// stopped only the `g`s are read again and only the stacks of goroutines whose `g`
    /// changed (see [`Walker::prefetch_with`]).
    pub fn pre_read(&mut self) -> Result<PreRead, AttachError> {
        let addrs = self.allg_addrs()?;
        let gsz = self.g_prefix_len();
        let granges: Vec<(u64, usize)> = addrs.iter().map(|&a| (a, gsz)).collect();
        let mut raw = vec![0u8; addrs.len() * gsz];
        let read_ok = crate::memory::read_coalesced(self.mem, &granges, &mut raw, 512);
        let sranges: Vec<(u64, usize)> = (0..addrs.len())
            .map(|i| {
                if !read_ok[i] {
                    return (0, 0);
                }
                let g = GFields::decode(self.bin, addrs[i], &raw[i * gsz..(i + 1) * gsz]);
                self.stack_range(&g)
            })
            .collect();
        let mut bytes = vec![0u8; sranges.iter().map(|r| r.1).sum()];
        let sok = crate::memory::read_coalesced(self.mem, &sranges, &mut bytes, 512);
        let mut pos = 0;
        let stacks = sranges
            .iter()
            .zip(sok)
            .map(|(&(sp, n), ok)| {
                let e = (sp, pos, if ok { n } else { 0 });
                pos += n;
                e
            })
            .collect();
        Ok(PreRead {
            gsz,
            addrs,
            raw,
            read_ok,
            stacks,
            stack_bytes: std::rc::Rc::new(bytes),
        })
    }

    /// Reads every `g` (dead ones included) in allgs order.
    pub fn read_gs(&mut self) -> Result<Vec<GFields>, AttachError> {
        let addrs = self.allg_addrs()?;
        if addrs.is_empty() {
            return Ok(Vec::new());
        }
        let gsz = self.g_prefix_len();
        let ranges: Vec<(u64, usize)> = addrs.iter().map(|&a| (a, gsz)).collect();
        let mut slots: Vec<Option<GFields>> = vec![None; addrs.len()];
        crate::memory::visit_coalesced(self.mem, &ranges, 512, |i, b| {
            slots[i] = Some(GFields::decode(self.bin, addrs[i], b));
        });
        let out: Vec<GFields> = slots.into_iter().flatten().collect();
        let missing = addrs.len() - out.len();
        if missing > 0 && missing * 2 > addrs.len() {
            return Err(AttachError::bad_memory(format!(
                "{missing} of {} runtime.g structs are unreadable (the process is exiting?)",
                addrs.len()
            )));
        }
        if missing > 0 {
            self.warnings.push(format!(
                "{missing} runtime.g structs were unreadable and are missing"
            ));
        }
        Ok(out)
    }

    /// Unwinds from `(pc, sp)` using pcsp; returns physical frames as `(pc, trap)`.
    fn unwind(
        &mut self,
        pc: u64,
        sp: u64,
        hi: u64,
        stack: &[u8],
        trap0: bool,
    ) -> Result<Vec<(u64, bool)>, String> {
        let mut out = Vec::new();
        let (mut pc, mut sp, mut trap) = (pc, sp, trap0);
        let base = sp;
        let word = |a: u64| -> Option<u64> {
            let o = a.checked_sub(base)?;
            if o.checked_add(8)? <= stack.len() as u64 {
                Some(rd64(stack, o))
            } else if a.checked_add(8)? <= hi {
                self.mem.read_u64(a).ok()
            } else {
                None
            }
        };
        loop {
            let step = match self.steps.get(&pc) {
                Some(s) => s.clone(),
                None => {
                    let s = self.step_at(pc);
                    self.steps.insert(pc, s.clone());
                    s
                }
            };
            let step = step?;
            out.push((pc, trap));
            if step.top || out.len() >= MAX_PHYS_FRAMES {
                break;
            }
            let fp = sp.wrapping_add(step.delta as i64 as u64).wrapping_add(8);
            if fp <= sp && step.delta != 0 || fp > hi {
                return Err(format!("frame at pc {pc:#x} leaves the stack"));
            }
            let Some(lr) = word(fp.wrapping_sub(8)) else {
                return Err(format!(
                    "cannot read return address at {:#x}",
                    fp.wrapping_sub(8)
                ));
            };
            if lr == 0 {
                break;
            }
            trap = step.injected;
            sp = fp;
            pc = lr;
        }
        self.frames_unwound += out.len() as u64;
        Ok(out)
    }

    /// What unwinding needs to know about one pc, computed once.
    fn step_at(&self, pc: u64) -> Result<Step, String> {
        let Some(f) = self.find(pc) else {
            return Err(format!("pc {pc:#x} is outside Go text"));
        };
        let top = f.flag & FUNC_FLAG_TOP_FRAME != 0;
        let delta = match self.bin.pclntab.sp_delta(&f, pc.wrapping_sub(self.bias)) {
            Some(d) => d,
            None if top => 0,
            None => {
                return Err(format!(
                    "no pcsp entry for {} at {pc:#x}",
                    self.bin.pclntab.name(&f)
                ))
            }
        };
        let name = self.bin.pclntab.name(&f);
        Ok(Step {
            delta,
            top,
            injected: name == "runtime.sigpanic" || name == "runtime.debugCallV2",
        })
    }

    fn logical(&mut self, pc: u64, trap: bool) -> Rc<[Logical]> {
        if let Some(v) = self.cache.get(&(pc, trap)) {
            return v.clone();
        }
        let Some(f) = self.find(pc) else {
            return Rc::from(Vec::new());
        };
        let link_pc = pc.wrapping_sub(self.bias);
        let sym_pc = if !trap && link_pc > f.entry {
            link_pc - 1
        } else {
            link_pc
        };
        let bin = self.bin;
        let frames = bin
            .pclntab
            .frames_at(&f, sym_pc, &|off, ix| bin.inl_record(off, ix));
        let n = frames.len();
        let wrapper_id = bin.layout.funcid_wrapper;
        let v: Rc<[Logical]> = frames
            .into_iter()
            .enumerate()
            .map(|(i, sf)| {
                let physical = i + 1 == n;
                let function = self.interner.intern_str(&print_name(&sf.name, bin.minor));
                let file = self.interner.intern_str(&sf.file);
                let id = self.interner.intern_frame(Frame {
                    function,
                    file,
                    line: sf.line,
                    offset: physical
                        .then(|| link_pc.saturating_sub(f.entry) as u32)
                        .filter(|&o| o > 0),
                    inlined: !physical,
                });
                let name = sf.name.as_str();
                Logical {
                    id,
                    visible_by_name: visible_name(name),
                    gopanic: name == "runtime.gopanic",
                    always: name == "runtime.runFinalizers" || name == "runtime.runCleanups",
                    wrapper: sf.func_id == wrapper_id && wrapper_id != 0,
                    panicky: matches!(
                        name,
                        "runtime.gopanic" | "runtime.sigpanic" | "runtime.panicwrap"
                    ),
                }
            })
            .collect();
        self.cache.insert((pc, trap), v.clone());
        v
    }

    /// The frames the runtime would print, with elision.
    fn printed(&mut self, phys: &[(u64, bool)]) -> (Vec<FrameId>, Elision) {
        let mut all = Vec::new();
        for &(pc, trap) in phys {
            all.extend_from_slice(&self.logical(pc, trap));
        }
        let pick = |show_runtime: bool| -> Vec<FrameId> {
            let mut out = Vec::new();
            let mut callee_panicky = false;
            for l in &all {
                let callee = callee_panicky;
                callee_panicky = l.panicky;
                let show = show_runtime
                    || if l.wrapper && !callee {
                        false
                    } else {
                        l.always || (l.gopanic && !out.is_empty()) || l.visible_by_name
                    };
                if show {
                    out.push(l.id);
                }
            }
            out
        };
        let mut shown = pick(self.opts.system);
        if shown.is_empty() {
            shown = pick(true);
        }
        if shown.len() > INNER_FRAMES + OUTER_FRAMES {
            let elided = shown.len() - INNER_FRAMES - OUTER_FRAMES;
            let mut v = shown[..INNER_FRAMES].to_vec();
            v.extend_from_slice(&shown[shown.len() - OUTER_FRAMES..]);
            return (v, Elision::Count(elided as u32));
        }
        (shown, Elision::None)
    }

    fn is_system(&self, g: &GFields) -> bool {
        let Some(f) = self.find(g.startpc) else {
            return false;
        };
        let name = self.bin.pclntab.name(&f);
        match name {
            "runtime.main" | "runtime.corostart" | "runtime.handleAsyncEvent" => false,
            // Shown while calling back into user code; parked on their own wait reason otherwise.
            "runtime.runfinq" | "runtime.runFinalizers" => {
                g.status & !G_SCAN == G_WAITING
                    && self.bin.layout.wait_reason(g.waitreason) == Some("finalizer wait")
            }
            "runtime.runCleanups" => {
                g.status & !G_SCAN == G_WAITING
                    && self.bin.layout.wait_reason(g.waitreason) == Some("cleanup wait")
            }
            n => n.starts_with("runtime."),
        }
    }

    /// Reads one goroutine's stack and unwinds it. `Ok(None)`: no stack to read (running).
    fn stack_of(
        &mut self,
        g: &GFields,
        stack: Option<&[u8]>,
    ) -> Result<Option<Vec<(u64, bool)>>, String> {
        let st = g.status & !G_SCAN;
        let (pc, sp, trap) = if st == G_RUNNING {
            match self.thread_of(g) {
                // The thread runs on the goroutine's stack: its registers are the truth.
                Some((pc, sp)) if sp >= g.stack_lo && sp < g.stack_hi => (pc, sp, true),
                // The thread is in a signal handler (a crash core: `crash()` raised SIGABRT
                // on the goroutine's stack): the interrupted registers are in the signal frame.
                Some((pc, sp))
                    if self
                        .signal_context(pc, sp)
                        .is_some_and(|(_, s)| s >= g.stack_lo && s < g.stack_hi) =>
                {
                    let (pc, sp) = self.signal_context(pc, sp).unwrap();
                    (pc, sp, true)
                }
                // The goroutine switched to the system stack (`systemstack`, e.g. while
                // panicking or allocating): `g.sched` was saved at the switch and is current.
                // (`systemstack` zeroes `sched.sp` again when it switches back.)
                _ if self.in_systemstack_switch(g.sched_pc)
                    && g.sched_sp >= g.stack_lo
                    && g.sched_sp < g.stack_hi =>
                {
                    (g.sched_pc, g.sched_sp, false)
                }
                _ => return Ok(None),
            }
        } else {
            let (pc, sp) = g.start();
            (pc, sp, false)
        };
        if sp < g.stack_lo || sp > g.stack_hi || g.stack_hi - sp > 1 << 30 {
            return Err(format!(
                "sp {sp:#x} outside its stack [{:#x}, {:#x})",
                g.stack_lo, g.stack_hi
            ));
        }
        let owned;
        let bytes = match stack {
            Some(b) if st != G_RUNNING => b,
            _ => {
                let n = (g.stack_hi - sp).min(STACK_WINDOW) as usize;
                let mut b = vec![0u8; n];
                self.mem
                    .read(sp, &mut b)
                    .map_err(|_| format!("cannot read stack at {sp:#x}"))?;
                owned = b;
                &owned
            }
        };
        self.unwind(pc, sp, g.stack_hi, bytes, trap).map(Some)
    }

    /// From a thread's registers inside a Go signal handler, the registers it interrupted:
    /// walk up to `runtime.sigtramp`, whose frame starts at the kernel's `rt_sigframe`
    /// (`pretcode`, then the `ucontext` whose `gregs` hold RSP at 15 and RIP at 16).
    fn signal_context(&mut self, pc: u64, sp: u64) -> Option<(u64, u64)> {
        let (mut pc, mut sp) = (pc, sp);
        for _ in 0..64 {
            let f = self.find(pc)?;
            let is_tramp = self.bin.pclntab.name(&f) == "runtime.sigtramp";
            let step = self.step_at(pc).ok()?;
            let fp = sp.wrapping_add(step.delta as i64 as u64).wrapping_add(8);
            if is_tramp {
                let uc = fp;
                let rsp = self.mem.read_u64(uc.wrapping_add(40 + 15 * 8)).ok()?;
                let rip = self.mem.read_u64(uc.wrapping_add(40 + 16 * 8)).ok()?;
                return Some((rip, rsp));
            }
            if step.top || fp <= sp {
                return None;
            }
            pc = self.mem.read_u64(fp.wrapping_sub(8)).ok()?;
            sp = fp;
        }
        None
    }

    fn in_systemstack_switch(&self, pc: u64) -> bool {
        self.find(pc)
            .is_some_and(|f| self.bin.pclntab.name(&f) == "runtime.systemstack_switch")
    }

    fn thread_of(&self, g: &GFields) -> Option<(u64, u64)> {
        if g.m == 0 || self.opts.threads.is_empty() {
            return None;
        }
        let procid = self
            .mem
            .read_u64(g.m.wrapping_add(self.bin.layout.m_procid))
            .ok()?;
        self.opts.threads.get(&procid).copied()
    }

    /// Reads (and discards) everything a snapshot needs from the target: allgs, the g structs,
    /// and the stacks, including running goroutines' stacks at their threads' registers. Run
    /// over a [`crate::memory::RecordingMemory`] while the target is stopped, so the target
    /// can be resumed before the (slower) unwinding and symbolizing.
    pub fn prefetch(&mut self) -> Result<(), AttachError> {
        self.prefetch_with(None).map(|_| ())
    }

    /// [`Walker::prefetch`] after a [`Walker::pre_read`]: the `g`s are read again, and the stack
    /// of a goroutine whose `g` prefix reads byte for byte as it did in `pre` is not read again
    /// (returned: those allgs slots, whose stacks in `pre` stand). A goroutine that ran in
    /// between left `_Grunning`, which bumps `g.trackingSeq`, a byte of that prefix (as do
    /// its `sched` registers, status and wait reason); only exactly a multiple of 256 runs
    /// ending parked at the same `sp` and `pc` with the same wait could go unseen. Running
    /// goroutines' stacks, and stacks that moved, are read now.
    pub fn prefetch_with(&mut self, pre: Option<&PreRead>) -> Result<Vec<usize>, AttachError> {
        let addrs = self.allg_addrs()?;
        let gsz = self.g_prefix_len();
        let granges: Vec<(u64, usize)> = addrs.iter().map(|&a| (a, gsz)).collect();
        let mut gs: Vec<Option<GFields>> = vec![None; addrs.len()];
        let mut same = vec![false; addrs.len()];
        let bin = self.bin;
        crate::memory::visit_coalesced(self.mem, &granges, 512, |i, b| {
            gs[i] = Some(GFields::decode(bin, addrs[i], b));
            if let Some(p) = pre {
                same[i] = p.gsz == gsz
                    && p.addrs.get(i) == Some(&addrs[i])
                    && p.read_ok[i]
                    && p.stacks[i].2 > 0
                    && &p.raw[i * gsz..(i + 1) * gsz] == b;
            }
        });
        let ranges: Vec<(u64, usize)> = gs
            .iter()
            .zip(&same)
            .map(|(g, &same)| match g {
                Some(g) if !same => self.stack_range(g),
                _ => (0, 0),
            })
            .collect();
        let live: Vec<GFields> = gs.into_iter().flatten().collect();
        crate::memory::visit_coalesced(self.mem, &ranges, 512, |_, _| {});
        for g in &live {
            if g.status & !G_SCAN == G_RUNNING {
                let sp = match self.thread_of(g) {
                    Some((_, sp)) if sp >= g.stack_lo && sp < g.stack_hi => Some(sp),
                    Some((pc, sp)) if self.signal_context(pc, sp).is_some() => {
                        self.signal_context(pc, sp).map(|(_, s)| s)
                    }
                    _ if self.in_systemstack_switch(g.sched_pc) => Some(g.sched_sp),
                    _ => None,
                };
                if let Some(sp) = sp.filter(|&sp| sp >= g.stack_lo && sp < g.stack_hi) {
                    let mut b = vec![0u8; (g.stack_hi - sp).min(STACK_WINDOW) as usize];
                    let _ = self.mem.read(sp, &mut b);
                }
            }
        }
        Ok((0..same.len()).filter(|&i| same[i]).collect())
    }

    /// The goroutines to report and the stack range to read for each.
    #[allow(clippy::type_complexity)]
    fn live_and_stack_ranges(&mut self) -> Result<(Vec<GFields>, Vec<(u64, usize)>), AttachError> {
        let gs = self.read_gs()?;
        // Sanity: goroutine 1 must be among the first.
        if !gs.is_empty() && !gs.iter().take(4).any(|g| g.goid == 1) {
            return Err(AttachError::bad_memory(format!(
                "runtime.allgs does not start with goroutine 1 (layout {} wrong for {}?)",
                self.bin.layout_source, self.bin.go_version
            )));
        }
        let live: Vec<GFields> = gs
            .into_iter()
            .filter(|g| {
                let st = g.status & !G_SCAN;
                st != G_DEAD && st != G_DEADEXTRA
            })
            .filter(|g| self.opts.system || !self.is_system(g))
            .collect();
        // Batch-read the stacks of goroutines that are not running.
        let ranges: Vec<(u64, usize)> = live.iter().map(|g| self.stack_range(g)).collect();
        Ok((live, ranges))
    }

    /// Reads all goroutines into `snap`.
    pub fn snapshot_into(&mut self, snap: &mut Snapshot) -> Result<(), AttachError> {
        let (live, ranges) = self.live_and_stack_ranges()?;
        // Unwind straight from the merged read blocks (no per-goroutine copy); ranges whose
        // block could not be read are read alone.
        type StackResult = Result<Option<Vec<(u64, bool)>>, String>;
        let mut results: Vec<Option<StackResult>> = vec![None; live.len()];
        let mem = self.mem;
        crate::memory::visit_coalesced(mem, &ranges, 512, |i, bytes| {
            results[i] = Some(self.stack_of(&live[i], Some(bytes)));
        });
        let mut raws = Vec::with_capacity(live.len());
        for (g, r) in live.iter().zip(results) {
            let r = match r {
                Some(r) => r,
                None => self.stack_of(g, None),
            };
            raws.push((*g, r));
        }
        // Re-validate: a goroutine that moved while we read it is read again, alone.
        // Only the prefix holding status, goid, stack bounds, sched and syscall{sp,pc}.
        let l = &self.bin.layout;
        let gsz = [
            l.g_goid,
            l.g_atomicstatus,
            l.g_sched + l.gobuf_pc,
            l.g_sched + l.gobuf_sp,
            l.g_syscallsp,
            l.g_syscallpc,
            l.g_stack + 8,
        ]
        .into_iter()
        .max()
        .unwrap_or(0) as usize
            + 8;
        let again: Vec<(u64, usize)> = raws.iter().map(|(g, _)| (g.addr, gsz)).collect();
        let mut now_all: Vec<Option<GFields>> = vec![None; again.len()];
        crate::memory::visit_coalesced(self.mem, &again, 512, |i, b| {
            now_all[i] = Some(GFields::decode(self.bin, again[i].0, b));
        });
        let mut out = Vec::with_capacity(raws.len());
        for (i, (g, r)) in raws.into_iter().enumerate() {
            let now = now_all[i];
            if let (true, Ok(frames)) = (now.is_some_and(|n| same(&n, &g)), &r) {
                out.push(Raw {
                    g,
                    frames: frames.clone(),
                });
                continue;
            }
            out.push(self.retry(now.unwrap_or(g), r)?);
        }
        let mut unstamped = 0;
        for raw in out {
            let st = raw.g.status & !G_SCAN;
            if (st == G_WAITING || st == G_SYSCALL) && raw.g.waitsince == 0 {
                unstamped += 1;
            }
            if let Some(gr) = self.goroutine(raw) {
                snap.goroutines.push(gr);
            }
        }
        if unstamped > 0 && self.opts.now_nanos.is_some() {
            self.warnings.push(format!(
                "{unstamped} waiting goroutines have no wait start recorded (the runtime stamps it \
                 only at a GC after they parked): their wait minutes are unknown, not zero"
            ));
        }
        snap.interner = std::mem::take(&mut self.interner);
        Ok(())
    }

    fn retry(
        &mut self,
        mut g: GFields,
        mut last: Result<Option<Vec<(u64, bool)>>, String>,
    ) -> Result<Raw, AttachError> {
        let gsz = self.bin.layout.g_size as usize;
        let mut b = vec![0u8; gsz];
        for _ in 0..self.opts.retries {
            if self.mem.read(g.addr, &mut b).is_err() {
                break;
            }
            let before = GFields::decode(self.bin, g.addr, &b);
            let r = self.stack_of(&before, None);
            if self.mem.read(g.addr, &mut b).is_err() {
                break;
            }
            let after = GFields::decode(self.bin, g.addr, &b);
            g = after;
            last = r;
            if let (true, Ok(frames)) = (same(&before, &after), &last) {
                return Ok(Raw {
                    g,
                    frames: frames.clone(),
                });
            }
        }
        match last {
            Ok(frames) => Ok(Raw { g, frames }),
            Err(e) => {
                self.warnings.push(format!(
                    "goroutine {}: stack unreadable ({e}); it changed while being read",
                    g.goid
                ));
                Ok(Raw { g, frames: None })
            }
        }
    }

    fn goroutine(&mut self, raw: Raw) -> Option<Goroutine> {
        let g = raw.g;
        let st = g.status & !G_SCAN;
        if st == G_DEAD || st == G_DEADEXTRA {
            return None;
        }
        let (stack, elided) = match &raw.frames {
            Some(ph) => {
                let (v, e) = self.printed(ph);
                (self.interner.intern_stack(&v), e)
            }
            None => (self.interner.intern_stack(&[]), Elision::None),
        };
        let mut gr = Goroutine::new(Goid(g.goid), stack);
        gr.elided = elided;
        gr.stack_unavailable = raw.frames.is_none();
        gr.gp = Some(g.addr);
        let reason_text = if (st == G_WAITING || st == G_LEAKED) && g.waitreason != 0 {
            Some(
                self.bin
                    .layout
                    .wait_reason(g.waitreason)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("wait reason {}", g.waitreason)),
            )
        } else {
            None
        };
        gr.status = match st {
            0 => Status::Idle,
            G_RUNNABLE => Status::Runnable,
            G_RUNNING => Status::Running,
            G_SYSCALL => Status::Syscall,
            G_WAITING => Status::Waiting,
            G_COPYSTACK => Status::CopyStack,
            G_PREEMPTED => Status::Preempted,
            G_LEAKED => Status::Leaked,
            _ => Status::Unknown,
        };
        gr.leaked = st == G_LEAKED;
        let state = match &reason_text {
            Some(r) => {
                gr.wait_reason = Some(WaitReason::from_text(r));
                r.clone()
            }
            None => gr.status.as_str().to_string(),
        };
        gr.state = self.interner.intern_str(&state);
        if let (Some(now), true) = (
            self.opts.now_nanos,
            (st == G_WAITING || st == G_SYSCALL) && g.waitsince != 0,
        ) {
            let m = now.saturating_sub(g.waitsince) / 60_000_000_000;
            if m >= 1 {
                gr.wait_minutes = Some(m.min(u32::MAX as i64) as u32);
            }
        }
        gr.locked_to_thread = g.lockedm != 0;
        gr.labels = self.labels(&g);
        if g.goid != 1 {
            let c = match self.creators.get(&g.gopc) {
                Some(c) => *c,
                None => {
                    let c = self.creator_frame(g.gopc);
                    self.creators.insert(g.gopc, c);
                    c
                }
            };
            if let Some(c) = c {
                gr.created_by = Some(c);
                if g.parent_goid != 0 {
                    gr.creator_goid = Some(Goid(g.parent_goid));
                }
            }
        }
        Some(gr)
    }

    /// `printcreatedby`: the function containing `gopc` and the line of the `go` statement,
    /// unless the runtime would hide it.
    fn creator_frame(&mut self, gopc: u64) -> Option<FrameId> {
        let f = self.find(gopc)?;
        let name = self.bin.pclntab.name(&f).to_string();
        let wrapper = f.func_id == self.bin.layout.funcid_wrapper;
        if !(self.opts.system || (visible_name(&name) && !wrapper)) {
            return None;
        }
        let link = gopc.wrapping_sub(self.bias);
        let tracepc = if link > f.entry { link - 1 } else { link };
        let (file, line) = self.bin.pclntab.file_line(&f, tracepc);
        let function = self.interner.intern_str(&print_name(&name, self.bin.minor));
        let file = self.interner.intern_str(&file);
        Some(self.interner.intern_frame(Frame {
            function,
            file,
            line,
            offset: (link > f.entry).then(|| (link - f.entry) as u32),
            inlined: false,
        }))
    }

    fn labels(&mut self, g: &GFields) -> LabelSetId {
        if g.labels == 0 {
            return Interner::NO_LABELS;
        }
        let pairs = if self.bin.layout.labels_are_map() {
            crate::labels::read_map(self.mem, g.labels)
        } else {
            crate::labels::read_slice(self.mem, g.labels)
        };
        match pairs {
            Ok(p) => {
                let v = p
                    .into_iter()
                    .map(|(k, v)| (self.interner.intern_str(&k), self.interner.intern_str(&v)))
                    .collect();
                self.interner.intern_labels(v)
            }
            Err(e) => {
                self.warnings
                    .push(format!("goroutine {}: labels unreadable: {e}", g.goid));
                Interner::NO_LABELS
            }
        }
    }
}

fn same(a: &GFields, b: &GFields) -> bool {
    a.status == b.status
        && a.goid == b.goid
        && a.sched_sp == b.sched_sp
        && a.sched_pc == b.sched_pc
        && a.syscallsp == b.syscallsp
        && a.stack_hi == b.stack_hi
}

/// A function name the way the runtime prints it (`printFuncName`): `runtime.gopanic` is
/// `panic`, and generic shapes become `[...]` (Go 1.26+ keeps the method name of a generic
/// method of a generic type between two `[...]`).
pub fn print_name(name: &str, minor: u32) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    if name == "runtime.gopanic" {
        return Cow::Borrowed("panic");
    }
    let Some(i) = name.find('[') else {
        return Cow::Borrowed(name);
    };
    let Some(j) = name.rfind(']') else {
        return Cow::Borrowed(name);
    };
    if j <= i {
        return Cow::Borrowed(name);
    }
    let interior = &name[i + 1..j];
    if minor < 26 || !interior.contains('[') {
        return Cow::Owned(format!("{}[...]{}", &name[..i], &name[j + 1..]));
    }
    let (mut depth, mut rbr, mut lbr) = (1i32, None, None);
    for (k, c) in interior.char_indices() {
        if c == '[' {
            depth += 1;
            if depth != 1 {
                continue;
            }
            lbr = Some(k);
            break;
        }
        if c == ']' {
            depth -= 1;
            if depth < 0 {
                break;
            }
            if depth != 0 {
                continue;
            }
            rbr = Some(k);
        }
    }
    if depth == 1 {
        match (rbr, lbr) {
            (Some(r), Some(l)) if l > r => {
                return Cow::Owned(format!(
                    "{}[...]{}[...]{}",
                    &name[..i],
                    &interior[r + 1..l],
                    &name[j + 1..]
                ))
            }
            (None, None) => return Cow::Owned(format!("{}[...]{}", &name[..i], &name[j + 1..])),
            _ => {}
        }
    }
    Cow::Borrowed(name)
}

/// `showfuncinfo`'s name test: a dot, and not an unexported `runtime.` function.
pub fn visible_name(name: &str) -> bool {
    if !name.contains('.') {
        return false;
    }
    match name.strip_prefix("runtime.") {
        Some(rest) => rest.starts_with(|c: char| c.is_ascii_uppercase()),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_print_like_print_func_name() {
        assert_eq!(print_name("runtime.gopanic", 27), "panic");
        assert_eq!(print_name("main.f[go.shape.int]", 21), "main.f[...]");
        assert_eq!(
            print_name("main.(*T[go.shape.int]).m", 27),
            "main.(*T[...]).m"
        );
        assert_eq!(
            print_name("main.(*T[go.shape.int]).m[go.shape.string]", 27),
            "main.(*T[...]).m[...]"
        );
        assert_eq!(
            print_name("main.(*T[go.shape.int]).m[go.shape.string]", 25),
            "main.(*T[...]"
        );
        assert_eq!(print_name("main.plain", 27), "main.plain");
        assert_eq!(print_name("weird]name[", 27), "weird]name[");
    }

    #[test]
    fn runtime_frames_are_hidden_like_showfuncinfo() {
        assert!(visible_name("main.main"));
        assert!(visible_name("runtime.Gosched"));
        assert!(!visible_name("runtime.gopark"));
        assert!(!visible_name("runtime.goexit"));
        assert!(visible_name("runtime/pprof.writeGoroutine"));
        assert!(!visible_name("nodot"));
    }
}
