//! The goroutine walker: `allgs` → every `runtime.g` → status, wait reason, creator, labels and
//! the stack, unwound with the pclntab `pcsp` tables and printed the way the runtime's own
//! traceback prints it (runtime frames and wrappers hidden, inlined frames expanded).
//!
//! By concern: [`gfields`] decodes a `runtime.g`; [`unwind`] walks a stack; [`print`] turns
//! physical frames into the frames the runtime would print; [`precopy`] is `--pause`'s copy
//! before and during the stop. Values read from the target are untrusted (see the crate's
//! overflow policy).

mod args;
mod gfields;
mod locals;
mod precopy;
mod print;
mod unwind;
mod waits;

pub use gfields::GFields;
pub use precopy::PreRead;
pub use print::{print_name, visible_name};

use crate::binary::GoBinary;
use crate::error::AttachError;
use crate::memory::ProcessMemory;
use crate::pclntab::Func;
use goroscope_model::{
    ArgStore, Elision, Frame, FrameId, Goid, Goroutine, Interner, LabelSetId, Snapshot, Status,
    WaitReason,
};
use print::Logical;
use std::collections::HashMap;
use std::rc::Rc;
use unwind::{Step, Unwound};

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

pub(crate) const G_SCAN: u32 = 0x1000;
pub(crate) const G_RUNNABLE: u32 = 1;
pub(crate) const G_RUNNING: u32 = 2;
pub(crate) const G_SYSCALL: u32 = 3;
pub(crate) const G_WAITING: u32 = 4;
pub(crate) const G_DEAD: u32 = 6;
pub(crate) const G_COPYSTACK: u32 = 8;
pub(crate) const G_PREEMPTED: u32 = 9;
pub(crate) const G_LEAKED: u32 = 10;
pub(crate) const G_DEADEXTRA: u32 = 11;
/// Initial stack read per goroutine; deeper stacks are read word by word.
pub(crate) const STACK_WINDOW: u64 = 64 * 1024;
pub(crate) const MAX_PHYS_FRAMES: usize = 100_000;
pub(crate) const INNER_FRAMES: usize = 50;
pub(crate) const OUTER_FRAMES: usize = 50;

/// Reads goroutines out of a target.
pub struct Walker<'a> {
    pub bin: &'a GoBinary,
    pub mem: &'a dyn ProcessMemory,
    /// Load bias (PIE): runtime address = link address + bias.
    pub bias: u64,
    pub opts: WalkOptions,
    interner: Interner,
    // Per-pc caches, looked up once per frame of every goroutine: a fast hash.
    cache: rustc_hash::FxHashMap<(u64, bool), Rc<[Logical]>>,
    steps: rustc_hash::FxHashMap<u64, Result<Step, String>>,
    arg_plans: rustc_hash::FxHashMap<(u64, bool), Option<Rc<[args::ArgOp]>>>,
    locals_maps: rustc_hash::FxHashMap<u64, Rc<locals::FrameMaps>>,
    args: ArgStore,
    creators: rustc_hash::FxHashMap<u64, Option<FrameId>>,
    pub warnings: Vec<String>,
    /// Physical frames unwound (for benchmarks).
    pub frames_unwound: u64,
}

/// Raw data of one goroutine before it becomes a model `Goroutine`.
struct Raw {
    g: GFields,
    frames: Option<Unwound>,
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
            cache: Default::default(),
            steps: Default::default(),
            arg_plans: Default::default(),
            locals_maps: Default::default(),
            args: ArgStore::default(),
            creators: Default::default(),
            warnings: Vec::new(),
            frames_unwound: 0,
        }
    }

    pub(super) fn find(&self, pc: u64) -> Option<Func> {
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
    pub(super) fn g_prefix_len(&self) -> usize {
        let l = &self.bin.layout;
        let waiting = l.mem.map_or(0, |m| m.g_waiting + 8);
        (l.g_labels + 8)
            .max(l.g_startpc + 8)
            .max(waiting)
            .min(l.g_size) as usize
    }

    /// `runtime.allgs`'s pointers, in order. Read in chunks, so that what is allocated is
    /// what the target really holds, never what a length read from it claims.
    pub(super) fn allg_addrs(&self) -> Result<Vec<u64>, AttachError> {
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
        type StackResult = Result<Option<Unwound>, String>;
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
            match r {
                Ok(frames) if now.is_some_and(|n| same(&n, &g)) => out.push(Raw { g, frames }),
                r => out.push(self.retry(now.unwrap_or(g), r)?),
            }
        }
        let mut unstamped = 0;
        let mut ins = Vec::with_capacity(out.len());
        for mut raw in out {
            let st = raw.g.status & !G_SCAN;
            if (st == G_WAITING || st == G_SYSCALL) && raw.g.waitsince == 0 {
                unstamped += 1;
            }
            let (methods, locals) = raw
                .frames
                .as_mut()
                .map(|u| {
                    (
                        std::mem::take(&mut u.methods),
                        std::mem::take(&mut u.locals),
                    )
                })
                .unwrap_or_default();
            let mem_in = waits::MemIn::new(&raw.g, methods, locals);
            if let Some(gr) = self.goroutine(raw) {
                snap.goroutines.push(gr);
                ins.push(mem_in);
            }
        }
        if unstamped > 0 && self.opts.now_nanos.is_some() {
            self.warnings.push(format!(
                "{unstamped} waiting goroutines have no wait start recorded (the runtime stamps it \
                 only at a GC after they parked): their wait minutes are unknown, not zero"
            ));
        }
        snap.interner = std::mem::take(&mut self.interner);
        snap.args = std::mem::take(&mut self.args);
        snap.memory = self.memory_facts(snap, &ins);
        Ok(())
    }

    fn retry(
        &mut self,
        mut g: GFields,
        mut last: Result<Option<Unwound>, String>,
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
            Some(u) => (self.interner.intern_stack(&u.frames), u.elided),
            None => (self.interner.intern_stack(&[]), Elision::None),
        };
        let mut gr = Goroutine::new(Goid(g.goid), stack);
        gr.elided = elided;
        if let Some(u) = &raw.frames {
            gr.args = self
                .args
                .push(u.args.iter().filter_map(|(i, w)| w.at(usize::from(*i))));
        }
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
        let c = creator_site(self.bin, self.bias, gopc)?;
        if !(self.opts.system || c.visible) {
            return None;
        }
        let function = self.interner.intern_str(&c.function);
        let file = self.interner.intern_str(&c.file);
        Some(self.interner.intern_frame(Frame {
            function,
            file,
            line: c.line,
            offset: c.offset,
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

/// Where a goroutine was created: the `go` statement at `gopc` (a runtime address), as the
/// runtime's `printcreatedby` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CreatorSite {
    /// The function holding the `go` statement, named the way the runtime prints it.
    pub function: String,
    pub file: String,
    /// The line of the `go` statement.
    pub line: u32,
    /// `gopc`'s offset in its function (`+0x…` in a traceback).
    pub offset: Option<u32>,
    /// The runtime shows it in a `debug=2` dump (`false`: a runtime function or a wrapper, only
    /// shown with `GOTRACEBACK=system`).
    pub visible: bool,
}

/// Symbolizes a goroutine's `gopc` (a runtime address; `bias` is the load bias of a PIE) into
/// its creation site: what attach prints as `created by`, and what the eBPF tracer keys its
/// creation sites by. `None` when no function holds `gopc`.
pub fn creator_site(bin: &GoBinary, bias: u64, gopc: u64) -> Option<CreatorSite> {
    let link = gopc.wrapping_sub(bias);
    let f = bin.pclntab.find(link)?;
    let name = bin.pclntab.name(&f);
    let wrapper = f.func_id == bin.layout.funcid_wrapper;
    let tracepc = if link > f.entry { link - 1 } else { link };
    let (file, line) = bin.pclntab.file_line(&f, tracepc);
    Some(CreatorSite {
        function: print_name(name, bin.minor).into_owned(),
        file,
        line,
        offset: (link > f.entry).then(|| (link - f.entry) as u32),
        visible: visible_name(name) && !wrapper,
    })
}
