//! Argument words like the runtime prints them after a frame's name: `printArgs` in
//! `runtime/traceback.go` (the same in Go 1.21 to 1.27), read from the frame's argument area.
//!
//! The compiler describes each function's arguments in `FUNCDATA_ArgInfo`: a byte program of
//! `(offset, size)` pairs from the frame's `argp`, with markers for `{`, `}`, `...` (more
//! arguments than printed) and `_` (an offset too large to encode). Register-ABI arguments are
//! printed from their spill slots, which the function may not have written yet (or may have
//! stopped updating): `FUNCDATA_ArgLiveInfo` and `PCDATA_ArgLiveIndex` say, per pc, which slots
//! are live; the others print with `?`. A plan is decoded once per (pc, trap) and applied to
//! every goroutine stopped there; only the words the keep policy keeps
//! ([`goroscope_model::ArgKeeper`]) are read.

use super::Walker;
use crate::pclntab::{FUNCDATA_ARG_INFO, FUNCDATA_ARG_LIVE_INFO, PCDATA_ARG_LIVE_INDEX};
use goroscope_model::FrameWords;

/// `abi.TraceArgsMaxLen`: the longest ArgInfo program.
pub(crate) const TRACE_ARGS_MAX_LEN: usize = (5 * 3 + 2) * 10 + 1;
const END_SEQ: u8 = 0xff;
const START_AGG: u8 = 0xfe;
const END_AGG: u8 = 0xfd;
const DOTDOTDOT: u8 = 0xfc;
const OFFSET_TOO_LARGE: u8 = 0xfb;

/// One thing `printArgs` prints (braces are left out: kept words are flattened).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArgOp {
    /// The `size` low bytes of the word at `argp + off`; `uncertain`: printed with `?`.
    Word { off: u8, size: u8, uncertain: bool },
    /// `...`.
    Dots,
    /// `_`.
    Underscore,
}

/// Decodes an ArgInfo program the way `printArgs` walks it. `live(i)` reads byte `i` of the
/// function's ArgLiveInfo (`None`: the function has none, or it is unreadable); `live_idx` is
/// `PCDATA_ArgLiveIndex` at the frame's pc. A program that runs off its bytes ends there.
pub(crate) fn plan(info: &[u8], live: &dyn Fn(usize) -> Option<u8>, live_idx: i32) -> Vec<ArgOp> {
    let start_offset = live(0).unwrap_or(0xff);
    let has_live = live(0).is_some();
    let is_live = |off: u8, slot: u8| -> bool {
        if !has_live || live_idx <= 0 || off < start_offset {
            return true;
        }
        let Ok(base) = usize::try_from(live_idx) else {
            return true;
        };
        match live(base + usize::from(slot / 8)) {
            Some(bits) => bits & (1 << (slot % 8)) != 0,
            // Unreadable: not known to be current.
            None => false,
        }
    };
    let mut out = Vec::new();
    let mut slot: u8 = 0;
    let mut pi = 0;
    let limit = info.len().min(TRACE_ARGS_MAX_LEN);
    while pi < limit {
        let o = info[pi];
        pi += 1;
        match o {
            END_SEQ => break,
            START_AGG | END_AGG => {}
            DOTDOTDOT => out.push(ArgOp::Dots),
            OFFSET_TOO_LARGE => out.push(ArgOp::Underscore),
            _ => {
                let Some(&size) = info.get(pi).filter(|_| pi < limit) else {
                    break;
                };
                pi += 1;
                out.push(ArgOp::Word {
                    off: o,
                    size,
                    uncertain: !is_live(o, slot),
                });
                if o >= start_offset {
                    slot = slot.wrapping_add(1);
                }
            }
        }
    }
    out
}

/// `print1`'s masking: the `size` low bytes of a little-endian word.
pub(crate) fn masked(x: u64, size: u8) -> u64 {
    if size >= 8 {
        x
    } else {
        let shift = 64 - u32::from(size) * 8;
        x.checked_shl(shift).map_or(0, |v| v >> shift)
    }
}

/// Applies a plan: the words kept (at most `max`), read with `word(off)` (`None`: unreadable,
/// which ends the list).
pub(crate) fn apply(plan: &[ArgOp], max: usize, word: impl Fn(u8) -> Option<u64>) -> FrameWords {
    let mut w = FrameWords::new(max);
    for op in plan {
        let go_on = match *op {
            ArgOp::Word {
                off,
                size,
                uncertain,
            } => match word(off) {
                Some(x) => w.word(masked(x, size), uncertain),
                None => {
                    w.rest();
                    false
                }
            },
            ArgOp::Dots => {
                w.rest();
                false
            }
            ArgOp::Underscore => w.underscore(),
        };
        if !go_on {
            break;
        }
    }
    w
}

impl Walker<'_> {
    /// The argument plan of the physical frame at `pc` (`trap`: the pc is not a return
    /// address), or `None` when the runtime prints `()` there. Cached.
    pub(super) fn arg_plan(&mut self, pc: u64, trap: bool) -> Option<std::rc::Rc<[ArgOp]>> {
        if let Some(p) = self.arg_plans.get(&(pc, trap)) {
            return p.clone();
        }
        let p = self.build_arg_plan(pc, trap);
        self.arg_plans.insert((pc, trap), p.clone());
        p
    }

    fn build_arg_plan(&self, pc: u64, trap: bool) -> Option<std::rc::Rc<[ArgOp]>> {
        let f = self.find(pc)?;
        let bin = self.bin;
        let link_pc = pc.wrapping_sub(self.bias);
        let sym_pc = if !trap && link_pc > f.entry {
            link_pc - 1
        } else {
            link_pc
        };
        let info_off = bin.pclntab.funcdata_off(&f, FUNCDATA_ARG_INFO)?;
        let info_addr = bin.gofunc.checked_add(u64::from(info_off))?;
        let n = (bin.static_len(info_addr) as usize).min(TRACE_ARGS_MAX_LEN);
        let info = bin.read_static(info_addr, n)?;
        let live_addr = bin
            .pclntab
            .funcdata_off(&f, FUNCDATA_ARG_LIVE_INFO)
            .and_then(|o| bin.gofunc.checked_add(u64::from(o)));
        let live = |i: usize| -> Option<u8> {
            let a = live_addr?.checked_add(i as u64)?;
            bin.read_static(a, 1).map(|b| b[0])
        };
        let live_idx = bin.pclntab.pcdata_value(&f, PCDATA_ARG_LIVE_INDEX, sym_pc);
        let ops = plan(info, &live, live_idx);
        (!ops.is_empty()).then(|| ops.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_live(_: usize) -> Option<u8> {
        None
    }

    #[test]
    fn plans_follow_print_args() {
        // f(a int, s struct{x, y int32}, ...) : 0x0/8, {0x8/4, 0xc/4}, ...
        let info = [
            0x00, 8, START_AGG, 0x08, 4, 0x0c, 4, END_AGG, DOTDOTDOT, END_SEQ, 0x10, 8,
        ];
        let p = plan(&info, &no_live, 0);
        assert_eq!(
            p,
            vec![
                ArgOp::Word {
                    off: 0,
                    size: 8,
                    uncertain: false
                },
                ArgOp::Word {
                    off: 8,
                    size: 4,
                    uncertain: false
                },
                ArgOp::Word {
                    off: 12,
                    size: 4,
                    uncertain: false
                },
                ArgOp::Dots,
            ]
        );
        let mem = |off: u8| Some(0x1111_1111_0000_0000u64 | u64::from(off) << 8 | 0xff);
        let w = apply(&p, 4, mem);
        assert_eq!(w.words(), &[0x1111_1111_0000_00ff, 0x8ff, 0xcff]);
        assert!(w.more);
        // An offset too large, and a program cut short.
        let p = plan(&[OFFSET_TOO_LARGE, 0x00], &no_live, 0);
        assert_eq!(p, vec![ArgOp::Underscore]);
        let w = apply(&p, 4, |_| Some(5));
        assert_eq!((w.words(), w.uncertain), (&[0][..], 1));
        assert!(plan(&[END_SEQ], &no_live, 0).is_empty());
        assert!(plan(&[], &no_live, 0).is_empty());
    }

    #[test]
    fn liveness_marks_stale_spill_slots() {
        // Two register args spilled at offsets 0 and 8 (start offset 0); a stack arg at 0x10
        // would be below nothing. Live bitmap at index 1: only slot 1 live.
        let info = [0x00, 8, 0x08, 8, END_SEQ];
        let live_info = [0x00u8, 0b10];
        let live = |i: usize| live_info.get(i).copied();
        let p = plan(&info, &live, 1);
        assert_eq!(
            p.iter()
                .map(|o| matches!(
                    o,
                    ArgOp::Word {
                        uncertain: true,
                        ..
                    }
                ))
                .collect::<Vec<_>>(),
            vec![true, false]
        );
        // liveIdx ≤ 0: everything live.
        assert!(plan(&info, &live, 0).iter().all(|o| matches!(
            o,
            ArgOp::Word {
                uncertain: false,
                ..
            }
        )));
        // Slots below the start offset are always live.
        let live_info2 = [0x08u8, 0b00];
        let live2 = |i: usize| live_info2.get(i).copied();
        let p = plan(&info, &live2, 1);
        assert!(matches!(
            p[0],
            ArgOp::Word {
                uncertain: false,
                ..
            }
        ));
        assert!(matches!(
            p[1],
            ArgOp::Word {
                uncertain: true,
                ..
            }
        ));
    }

    #[test]
    fn masking_like_print1() {
        assert_eq!(masked(0xffff_ffff_ffff_ff01, 1), 0x01);
        assert_eq!(masked(0xffff_ffff_1234_5678, 4), 0x1234_5678);
        assert_eq!(masked(0xdead_beef, 8), 0xdead_beef);
        assert_eq!(masked(0xdead_beef, 0), 0);
        assert_eq!(masked(0xdead_beef, 200), 0xdead_beef);
    }

    #[test]
    fn unreadable_word_ends_the_list() {
        let p = plan(&[0x00, 8, 0x08, 8, END_SEQ], &no_live, 0);
        let w = apply(&p, 4, |off| (off == 0).then_some(9));
        assert_eq!(w.words(), &[9]);
        assert!(w.more);
        // The keep cap.
        let w = apply(&p, 1, |_| Some(1));
        assert_eq!((w.words(), w.more), (&[1][..], true));
    }
}
