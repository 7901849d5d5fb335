//! `--pause`'s copy: every goroutine is copied while the target runs ([`Walker::pre_read`]); while
//! it is stopped only the `g`s are read again, and the stacks of those that changed
//! ([`Walker::prefetch_with`]).

use super::gfields::GFields;
use super::{Walker, G_RUNNING, G_SCAN, STACK_WINDOW};
use crate::error::AttachError;

/// What [`Walker::pre_read`] copied, per `runtime.allgs` slot.
#[derive(Debug, Default)]
pub struct PreRead {
    pub(super) gsz: usize,
    pub(super) addrs: Vec<u64>,
    /// `gsz` bytes per slot.
    pub(super) raw: Vec<u8>,
    pub(super) read_ok: Vec<bool>,
    /// Per slot: `(sp, offset in stack_bytes, length)`; length 0 when nothing was read.
    pub(super) stacks: Vec<(u64, usize, usize)>,
    pub(super) stack_bytes: std::rc::Rc<Vec<u8>>,
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

impl Walker<'_> {
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
}
