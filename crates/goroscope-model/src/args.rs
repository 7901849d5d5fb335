//! Frame argument words: `main.stage(0xc00001c0c0, 0xc00001c120)` in a traceback.
//!
//! Argument values differ per goroutine, so they are not part of the interned [`crate::Frame`];
//! each goroutine refers to a run of [`ArgStore`] entries instead. Readers keep only the words
//! the relation analysis uses, so that a million goroutines cost tens of bytes each, not
//! hundreds: the words of the innermost [`MAX_ARG_FRAMES`] frames that print any (the blocking
//! operation: `runtime.chansend1(0xc0001840c0, …)`, `sync.(*Mutex).Lock(0xc000012345)`, the
//! user frame that blocks), and the first word (the receiver) of deeper method frames
//! (`main.(*Sim).Update(0xc0000a0000)`), at most [`MAX_ARG_WORDS_PER_FRAME`] words a frame.
//! Words inside `{…}` (a struct or string argument) are kept in order, braces dropped.

/// Words kept from the innermost frames that print arguments.
pub const MAX_ARG_FRAMES: usize = 3;
/// Words kept per frame.
pub const MAX_ARG_WORDS_PER_FRAME: usize = 4;

/// Where a goroutine's argument frames are in its snapshot's [`ArgStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ArgsRef {
    start: u32,
    len: u16,
}

impl ArgsRef {
    /// No arguments.
    pub const EMPTY: ArgsRef = ArgsRef { start: 0, len: 0 };

    pub fn is_empty(self) -> bool {
        self.len == 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ArgFrame {
    /// Index of the frame in the goroutine's stack (innermost 0).
    frame: u16,
    /// Number of words (≤ [`MAX_ARG_WORDS_PER_FRAME`]).
    len: u8,
    /// Bit i: word i printed with `?` (the runtime is not sure the value is current).
    uncertain: u8,
    /// The argument list went on (`...`, or words dropped at the cap).
    more: bool,
    start: u32,
}

/// The argument words printed after one frame's function name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameArgs<'a> {
    /// Index of the frame in the goroutine's stack (innermost 0).
    pub frame: usize,
    /// The words as printed, in order.
    pub words: &'a [u64],
    uncertain: u8,
    /// The list went on past the words kept (`...` or the cap).
    pub more: bool,
}

impl FrameArgs<'_> {
    /// Whether word `i` was printed with `?`: a register-ABI argument whose spill slot may be
    /// stale, so the value may not be what the function holds now.
    pub fn uncertain(&self, i: usize) -> bool {
        i < 8 && self.uncertain & (1 << i) != 0
    }
}

/// Argument words of every goroutine of a snapshot.
#[derive(Debug, Clone, Default)]
pub struct ArgStore {
    frames: Vec<ArgFrame>,
    words: Vec<u64>,
}

/// One frame's words being added with [`ArgStore::push`].
#[derive(Debug, Clone, Copy)]
pub struct NewFrameArgs<'a> {
    pub frame: usize,
    pub words: &'a [u64],
    /// Bit i: word i printed with `?`.
    pub uncertain: u8,
    pub more: bool,
}

impl ArgStore {
    /// Stores the argument frames of one goroutine (innermost first) and returns the reference
    /// to put in [`crate::Goroutine::args`]. Words beyond [`MAX_ARG_WORDS_PER_FRAME`] are
    /// dropped (the frame's `more` is then set); frames beyond `u16::MAX` are dropped.
    pub fn push<'a>(&mut self, frames: impl IntoIterator<Item = NewFrameArgs<'a>>) -> ArgsRef {
        let start = self.frames.len();
        for f in frames {
            if self.frames.len() - start >= usize::from(u16::MAX) || f.frame > usize::from(u16::MAX)
            {
                break;
            }
            let n = f.words.len().min(MAX_ARG_WORDS_PER_FRAME);
            let Ok(word_start) = u32::try_from(self.words.len()) else {
                break;
            };
            self.words.extend_from_slice(&f.words[..n]);
            self.frames.push(ArgFrame {
                frame: f.frame as u16,
                len: n as u8,
                uncertain: f.uncertain & ((1u16 << n) - 1) as u8,
                more: f.more || f.words.len() > n,
                start: word_start,
            });
        }
        let len = self.frames.len() - start;
        match u32::try_from(start) {
            Ok(start) if len > 0 => ArgsRef {
                start,
                len: len as u16,
            },
            _ => {
                self.frames.truncate(start);
                ArgsRef::EMPTY
            }
        }
    }

    /// The frames behind a reference, innermost first. A reference from another store yields
    /// nothing rather than panicking.
    pub fn frames(&self, r: ArgsRef) -> impl Iterator<Item = FrameArgs<'_>> + '_ {
        let start = r.start as usize;
        let end = start + usize::from(r.len);
        let frames = self.frames.get(start..end).unwrap_or(&[]);
        frames.iter().map(move |f| {
            let s = f.start as usize;
            FrameArgs {
                frame: usize::from(f.frame),
                words: self.words.get(s..s + usize::from(f.len)).unwrap_or(&[]),
                uncertain: f.uncertain,
                more: f.more,
            }
        })
    }

    /// The words of frame `frame` of the goroutine behind `r`, if kept.
    pub fn frame(&self, r: ArgsRef, frame: usize) -> Option<FrameArgs<'_>> {
        self.frames(r).find(|f| f.frame == frame)
    }

    /// Bytes held (for memory accounting in benchmarks).
    pub fn heap_bytes(&self) -> usize {
        self.frames.capacity() * std::mem::size_of::<ArgFrame>()
            + self.words.capacity() * std::mem::size_of::<u64>()
    }

    /// Whether any goroutine has argument words.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_caps_and_flags() {
        let mut st = ArgStore::default();
        let a = st.push([
            NewFrameArgs {
                frame: 0,
                words: &[0xc0001840c0, 0x0],
                uncertain: 0b10,
                more: false,
            },
            NewFrameArgs {
                frame: 3,
                words: &[1, 2, 3, 4, 5, 6],
                uncertain: 0,
                more: false,
            },
        ]);
        let b = st.push([]);
        assert!(b.is_empty());
        let fs: Vec<_> = st.frames(a).collect();
        assert_eq!(fs.len(), 2);
        assert_eq!(fs[0].words, &[0xc0001840c0, 0]);
        assert!(!fs[0].uncertain(0) && fs[0].uncertain(1) && !fs[0].more);
        assert_eq!(
            (fs[1].frame, fs[1].words, fs[1].more),
            (3, &[1, 2, 3, 4][..], true)
        );
        assert_eq!(st.frame(a, 3).map(|f| f.words.len()), Some(4));
        assert!(st.frame(a, 1).is_none());
        // A reference into another (smaller) store yields nothing.
        assert_eq!(ArgStore::default().frames(a).count(), 0);
    }
}
