//! Unwinding a goroutine's stack with the `pcsp` tables, like the runtime's own unwinder; the
//! starting registers of running goroutines (thread registers, a signal frame, `g.sched` on the
//! system stack).

use super::gfields::{rd64, GFields};
use super::{Walker, G_DEAD, G_DEADEXTRA, G_RUNNING, G_SCAN, MAX_PHYS_FRAMES, STACK_WINDOW};
use crate::pclntab::FUNC_FLAG_TOP_FRAME;

/// One physical frame: its pc, stack pointer and frame pointer (`fp`: the caller's `sp`,
/// which is also `argp` on amd64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Phys {
    pub pc: u64,
    pub sp: u64,
    pub fp: u64,
    /// The pc is not a return address (the innermost frame of a signal or a `sigpanic`).
    pub trap: bool,
}

/// A stack as the runtime would print it: frames, elision, the argument words kept, and the
/// method frames (for finding who holds what).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Unwound {
    pub frames: Vec<goroscope_model::FrameId>,
    pub elided: goroscope_model::Elision,
    /// Printed frame index → its kept words.
    pub args: Vec<(u16, goroscope_model::FrameWords)>,
    /// Printed method frames: (index, sp, fp) of their physical frame.
    pub methods: Vec<(u16, u64, u64)>,
    /// Live pointers of the printed frames' locals (GC stack maps): (frame index, pointer).
    pub locals: Vec<(u16, u64)>,
}

/// One unwinding step: the pcsp delta at a pc and the flags that matter.
#[derive(Debug, Clone, Copy)]
pub(super) struct Step {
    delta: i32,
    top: bool,
    /// `sigpanic`/`debugCallV2`: the caller's pc is not a return address.
    injected: bool,
}

impl Walker<'_> {
    /// The part of a goroutine's stack to read: from where it stopped up to the top (at most
    /// [`STACK_WINDOW`], and at most what the memory has there); `(0, 0)` for running and dead
    /// goroutines and bad bounds.
    pub(super) fn stack_range(&self, g: &GFields) -> (u64, usize) {
        let (sp, n) = Self::stack_window(g);
        (sp, self.mem.readable_len(sp, n))
    }

    pub(super) fn stack_window(g: &GFields) -> (u64, usize) {
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

    /// The word at `a` of a stack whose bytes from `base` on are `stack` (read from memory
    /// when outside them, up to `hi`).
    fn stack_word(&self, stack: &[u8], base: u64, hi: u64, a: u64) -> Option<u64> {
        let o = a.checked_sub(base)?;
        if o.checked_add(8)? <= stack.len() as u64 {
            Some(rd64(stack, o))
        } else if a.checked_add(8)? <= hi {
            self.mem.read_u64(a).ok()
        } else {
            None
        }
    }

    /// Unwinds from `(pc, sp)` using pcsp; returns the physical frames.
    pub(super) fn unwind(
        &mut self,
        pc: u64,
        sp: u64,
        hi: u64,
        stack: &[u8],
        trap0: bool,
    ) -> Result<Vec<Phys>, String> {
        let mut out = Vec::new();
        let (mut pc, mut sp, mut trap) = (pc, sp, trap0);
        let base = sp;
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
            let fp = sp.wrapping_add(step.delta as i64 as u64).wrapping_add(8);
            out.push(Phys { pc, sp, fp, trap });
            if step.top || out.len() >= MAX_PHYS_FRAMES {
                break;
            }
            if fp <= sp && step.delta != 0 || fp > hi {
                return Err(format!("frame at pc {pc:#x} leaves the stack"));
            }
            let Some(lr) = self.stack_word(stack, base, hi, fp.wrapping_sub(8)) else {
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
    pub(super) fn step_at(&self, pc: u64) -> Result<Step, String> {
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

    /// Reads one goroutine's stack, unwinds it and prints it (frames and argument words) like
    /// the runtime. `Ok(None)`: no stack to read (running).
    pub(super) fn stack_of(
        &mut self,
        g: &GFields,
        stack: Option<&[u8]>,
    ) -> Result<Option<Unwound>, String> {
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
        let phys = self.unwind(pc, sp, g.stack_hi, bytes, trap)?;
        Ok(Some(self.print_stack(&phys, bytes, sp, g.stack_hi)))
    }

    /// Prints unwound physical frames: the frames the runtime shows, and the argument words
    /// of those the keep policy keeps, read from `stack` (the bytes from `base` on) or memory.
    pub(super) fn print_stack(
        &mut self,
        phys: &[Phys],
        stack: &[u8],
        base: u64,
        hi: u64,
    ) -> Unwound {
        let shown = self.printed(phys);
        let mut keeper = goroscope_model::ArgKeeper::new();
        let mut args = Vec::new();
        let mut methods = Vec::new();
        let mut locals = Vec::new();
        let mut words = Vec::new();
        let mut last_phys = None;
        for (i, s) in shown.frames.iter().enumerate() {
            // Each physical frame's live pointers once, at its innermost printed frame.
            if last_phys != Some(s.phys) {
                last_phys = Some(s.phys);
                if let Some(p) = phys.get(s.phys as usize) {
                    words.clear();
                    self.live_pointers(p.pc, p.sp, p.fp, stack, base, &mut words);
                    locals.extend(words.iter().map(|&w| (i as u16, w)));
                }
            }
            if s.inlined {
                continue; // `(...)`
            }
            let Some(p) = phys.get(s.phys as usize) else {
                continue;
            };
            if matches!(
                s.role,
                goroscope_model::ArgRole::Method | goroscope_model::ArgRole::Primitive
            ) {
                methods.push((i as u16, p.sp, p.fp));
            }
            let max = keeper.max_words(s.role);
            if max == 0 {
                continue;
            }
            let Some(plan) = self.arg_plan(p.pc, p.trap) else {
                continue;
            };
            let argp = p.fp;
            let w = super::args::apply(&plan, max, |off| {
                self.stack_word(
                    stack,
                    base,
                    hi.saturating_add(256),
                    argp.checked_add(u64::from(off))?,
                )
            });
            if keeper.keep(s.role, &w) {
                args.push((i as u16, w));
            }
        }
        Unwound {
            frames: shown.frames.iter().map(|s| s.id).collect(),
            elided: shown.elided,
            args,
            methods,
            locals,
        }
    }

    /// From a thread's registers inside a Go signal handler, the registers it interrupted:
    /// walk up to `runtime.sigtramp`, whose frame starts at the kernel's `rt_sigframe`
    /// (`pretcode`, then the `ucontext` whose `gregs` hold RSP at 15 and RIP at 16).
    pub(super) fn signal_context(&mut self, pc: u64, sp: u64) -> Option<(u64, u64)> {
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

    pub(super) fn in_systemstack_switch(&self, pc: u64) -> bool {
        self.find(pc)
            .is_some_and(|f| self.bin.pclntab.name(&f) == "runtime.systemstack_switch")
    }

    pub(super) fn thread_of(&self, g: &GFields) -> Option<(u64, u64)> {
        if g.m == 0 || self.opts.threads.is_empty() {
            return None;
        }
        let procid = self
            .mem
            .read_u64(g.m.wrapping_add(self.bin.layout.m_procid))
            .ok()?;
        self.opts.threads.get(&procid).copied()
    }
}
