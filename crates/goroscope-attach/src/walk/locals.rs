//! A frame's live pointers, the way the garbage collector sees them: the locals pointer map
//! (`FUNCDATA_LocalsPointerMaps`) at the frame's stack map index (`PCDATA_StackMapIndex` at
//! the call, `getStackMap` in `runtime/stkframe.go`) marks which words of `[varp - n*8, varp)`
//! hold pointers the function still uses, and the arguments pointer map
//! (`FUNCDATA_ArgsPointerMaps`, same index) which words of `[argp, argp + n*8)` do (register
//! arguments live across a call sit in their spill slots there: `transfer(from, to)` still
//! holding `from` while it locks `to`). Used to find who holds a waited object (a channel in a
//! local variable or an argument), with none of a raw scan's stale words.

use super::Walker;
use crate::pclntab::{
    FUNCDATA_ARGS_POINTER_MAPS, FUNCDATA_LOCALS_POINTER_MAPS, PCDATA_STACK_MAP_INDEX,
};
use std::rc::Rc;

/// Bits in one locals map at most (words of locals in one frame).
const MAX_MAP_BITS: i32 = 1 << 16;

/// The live pointer slots of a frame at one pc: word indices from the bottom of the locals
/// (or arguments) area, and its size in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LiveSlots {
    pub nbit: u32,
    pub slots: Vec<u32>,
}

/// The bitmap `index` of a `stackmap` (`{n int32, nbit int32, bytedata…}`) as slot numbers.
pub(crate) fn live_slots(stackmap: &[u8], index: i32) -> Option<LiveSlots> {
    let n = i32::from_le_bytes(stackmap.get(0..4)?.try_into().ok()?);
    let nbit = i32::from_le_bytes(stackmap.get(4..8)?.try_into().ok()?);
    if n <= 0 || !(1..=MAX_MAP_BITS).contains(&nbit) || index < 0 || index >= n {
        return None;
    }
    let per = (nbit as usize).div_ceil(8);
    let at = 8usize.checked_add(per.checked_mul(index as usize)?)?;
    let bits = stackmap.get(at..at.checked_add(per)?)?;
    let slots = (0..nbit as u32)
        .filter(|&i| bits[(i / 8) as usize] & (1 << (i % 8)) != 0)
        .collect();
    Some(LiveSlots {
        nbit: nbit as u32,
        slots,
    })
}

/// A frame's live pointer slots at one pc: among its locals and among its arguments (each
/// `None` when the function has no such map).
#[derive(Debug, Clone, Default)]
pub(crate) struct FrameMaps {
    pub locals: Option<LiveSlots>,
    pub args: Option<LiveSlots>,
}

impl Walker<'_> {
    /// The live pointer slots of the frame at `pc` (cached).
    pub(super) fn frame_maps(&mut self, pc: u64) -> Rc<FrameMaps> {
        if let Some(v) = self.locals_maps.get(&pc) {
            return v.clone();
        }
        let v = Rc::new(FrameMaps {
            locals: self.build_live_slots(pc, FUNCDATA_LOCALS_POINTER_MAPS),
            args: self.build_live_slots(pc, FUNCDATA_ARGS_POINTER_MAPS),
        });
        self.locals_maps.insert(pc, v.clone());
        v
    }

    fn build_live_slots(&self, pc: u64, funcdata: usize) -> Option<LiveSlots> {
        let f = self.find(pc)?;
        let bin = self.bin;
        let link = pc.wrapping_sub(self.bias);
        // Back up to the call, as getStackMap does; the entry uses map 0.
        let index = if link != f.entry {
            match bin
                .pclntab
                .pcdata_value(&f, PCDATA_STACK_MAP_INDEX, link - 1)
            {
                -1 => 0,
                i => i,
            }
        } else {
            0
        };
        let off = bin.pclntab.funcdata_off(&f, funcdata)?;
        let at = bin.gofunc.checked_add(u64::from(off))?;
        let len = (bin.static_len(at) as usize).min(8 + (1 << 20));
        let map = bin.read_static(at, len)?;
        live_slots(map, index)
    }

    /// Pointer-like words in the live pointer slots (locals, then arguments) of the physical
    /// frame `(pc, sp, fp)`, read from `stack` (the bytes from `base` on).
    pub(super) fn live_pointers(
        &mut self,
        pc: u64,
        sp: u64,
        fp: u64,
        stack: &[u8],
        base: u64,
        out: &mut Vec<u64>,
    ) {
        let maps = self.frame_maps(pc);
        let read = |lo: u64, live: &LiveSlots, out: &mut Vec<u64>| {
            for &i in &live.slots {
                let Some(a) = lo.checked_add(u64::from(i) * 8) else {
                    continue;
                };
                let Some(o) = a.checked_sub(base).and_then(|o| usize::try_from(o).ok()) else {
                    continue;
                };
                if let Some(w) = o.checked_add(8).and_then(|e| stack.get(o..e)) {
                    let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
                    if (0x10000..(1u64 << 47)).contains(&w) {
                        out.push(w);
                    }
                }
            }
        };
        if let Some(live) = &maps.locals {
            // varp: below the return address, and below the saved frame pointer when the
            // frame has one (`resolveInternal`).
            let mut varp = fp.wrapping_sub(8);
            if varp > sp {
                varp = varp.wrapping_sub(8);
            }
            // A map that does not fit the frame is not this frame's map.
            if let Some(lo) = varp
                .checked_sub(u64::from(live.nbit) * 8)
                .filter(|&lo| lo >= sp)
            {
                read(lo, live, out);
            }
        }
        // argp: the caller's outgoing arguments, right above the return address (amd64).
        if let Some(live) = &maps.args {
            if fp > sp {
                read(fp, live, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_map_bitmaps() {
        // n = 2 maps of 10 bits: map 0 = slots 0 and 9, map 1 = slot 3.
        let mut m = vec![];
        m.extend_from_slice(&2i32.to_le_bytes());
        m.extend_from_slice(&10i32.to_le_bytes());
        m.extend_from_slice(&[0b0000_0001, 0b0000_0010, 0b0000_1000, 0]);
        assert_eq!(
            live_slots(&m, 0),
            Some(LiveSlots {
                nbit: 10,
                slots: vec![0, 9]
            })
        );
        assert_eq!(live_slots(&m, 1).unwrap().slots, vec![3]);
        assert!(live_slots(&m, 2).is_none());
        assert!(live_slots(&m, -1).is_none());
        assert!(live_slots(&m[..9], 1).is_none(), "cut short");
        let mut huge = m.clone();
        huge[4..8].copy_from_slice(&i32::MAX.to_le_bytes());
        assert!(live_slots(&huge, 0).is_none());
    }
}
