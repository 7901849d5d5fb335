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
//! These are upper bounds: readers may keep less. The text reader keeps two words of the two
//! innermost frames that print any (`runtime.gopark` skipped: it never names the object), the
//! words of every `sync` primitive's method frame (`(*Mutex).lockSlow`: the object waited on),
//! and the receivers of the next two other method frames printed for sure (not `0x0?`), not
//! one equal to the receiver before it; at a million goroutines the full allowance cost 15–20 % more
//! reading time and 0.26 of the file in memory (`BENCHMARKS.md`, 2026-12-07).

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

/// One kept frame, packed in 32 bits: its index in the stack (bits 0–15), the number of words
/// (16–18), `more` (19), and which words were printed with `?` (20–23). A goroutine's frames
/// follow one entry holding the index of its first word in [`ArgStore::words`]; its words are
/// contiguous there. So a kept frame costs 4 bytes beside its words, and a goroutine 4 more
/// (12 bytes a frame with an explicit word start: a third of the store at a million
/// goroutines, measured on the 1M benchmark dump).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head(u32);

const _: () = assert!(
    MAX_ARG_WORDS_PER_FRAME <= 4,
    "a Head packs the word count in 3 bits and the uncertain flags in 4"
);

impl Head {
    fn new(frame: u16, len: usize, more: bool, uncertain: u8) -> Head {
        Head(
            u32::from(frame)
                | (len as u32) << 16
                | u32::from(more) << 19
                | u32::from(uncertain & 0xf) << 20,
        )
    }
    fn frame(self) -> usize {
        (self.0 & 0xffff) as usize
    }
    fn len(self) -> usize {
        (self.0 >> 16 & 0x7) as usize
    }
    fn more(self) -> bool {
        self.0 >> 19 & 1 != 0
    }
    fn uncertain(self) -> u8 {
        (self.0 >> 20 & 0xf) as u8
    }
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
    /// Per goroutine: the index of its first word (tagged [`RUN`]), then one [`Head`] per kept
    /// frame.
    heads: Vec<u32>,
    words: Vec<u64>,
}

/// One kept frame of a run added with [`ArgStore::push_run`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunFrame {
    /// Index of the frame in the goroutine's stack (innermost 0).
    pub frame: u16,
    /// How many of the run's words are this frame's (≤ [`MAX_ARG_WORDS_PER_FRAME`]).
    pub words: u8,
    /// Bit i: word i printed with `?`.
    pub uncertain: u8,
    pub more: bool,
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

/// Marks the entry that starts a goroutine's run in [`ArgStore::heads`] (it holds the index of
/// the run's first word), so that a whole store can be appended to another and its word
/// indexes moved without knowing where each run starts.
const RUN: u32 = 1 << 31;

/// Where a store appended with [`ArgStore::append`] landed: moves its references.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended(u32);

impl Appended {
    /// A reference into the appended store, as a reference into the store it was appended to.
    pub fn rebase(self, r: ArgsRef) -> ArgsRef {
        if r.is_empty() {
            return ArgsRef::EMPTY;
        }
        ArgsRef {
            start: r.start + self.0,
            len: r.len,
        }
    }
}

impl ArgStore {
    /// Stores the argument frames of one goroutine (innermost first) and returns the reference
    /// to put in [`crate::Goroutine::args`]. Words beyond [`MAX_ARG_WORDS_PER_FRAME`] are
    /// dropped (the frame's `more` is then set); frames at stack indexes beyond `u16::MAX`,
    /// and frames past the first `u16::MAX`, are dropped.
    pub fn push<'a>(&mut self, frames: impl IntoIterator<Item = NewFrameArgs<'a>>) -> ArgsRef {
        let (heads_len, words_len) = (self.heads.len(), self.words.len());
        // Room for the run's words (a run holds at most u16::MAX frames of 4 words).
        let room = words_len + usize::from(u16::MAX) * MAX_ARG_WORDS_PER_FRAME;
        if u32::try_from(heads_len + usize::from(u16::MAX) + 1).is_err() || room >= RUN as usize {
            return ArgsRef::EMPTY;
        }
        self.heads.push(RUN | words_len as u32);
        let mut n = 0usize;
        for f in frames {
            if n >= usize::from(u16::MAX) || f.frame > usize::from(u16::MAX) {
                break;
            }
            let len = f.words.len().min(MAX_ARG_WORDS_PER_FRAME);
            // A loop, not a memcpy call: runs are a few words.
            for &w in &f.words[..len] {
                self.words.push(w);
            }
            let uncertain = f.uncertain & ((1u16 << len) - 1) as u8;
            let more = f.more || f.words.len() > len;
            self.heads
                .push(Head::new(f.frame as u16, len, more, uncertain).0);
            n += 1;
        }
        if n == 0 {
            self.heads.truncate(heads_len);
            self.words.truncate(words_len);
            return ArgsRef::EMPTY;
        }
        ArgsRef {
            start: heads_len as u32,
            len: n as u16,
        }
    }

    /// Stores one goroutine's frames whose words are `words`, in order (each frame takes the
    /// next [`RunFrame::words`] of them): the bulk form of [`ArgStore::push`] for readers that
    /// collect a goroutine's words as they parse it, without a slice per frame. Frames past
    /// the words given, over the per-frame cap or past `u16::MAX` frames are dropped.
    pub fn push_run(&mut self, words: &[u64], frames: &[RunFrame]) -> ArgsRef {
        let (heads_len, words_len) = (self.heads.len(), self.words.len());
        let frames = &frames[..frames.len().min(usize::from(u16::MAX))];
        if frames.is_empty()
            || u32::try_from(heads_len + frames.len() + 1).is_err()
            || words_len + words.len() >= RUN as usize
        {
            return ArgsRef::EMPTY;
        }
        self.heads.reserve(frames.len() + 1);
        self.heads.push(RUN | words_len as u32);
        let mut at = 0usize;
        let mut n = 0usize;
        for f in frames {
            let len = usize::from(f.words);
            if len > MAX_ARG_WORDS_PER_FRAME || at + len > words.len() {
                break;
            }
            at += len;
            let uncertain = f.uncertain & ((1u16 << len) - 1) as u8;
            self.heads
                .push(Head::new(f.frame, len, f.more, uncertain).0);
            n += 1;
        }
        if n == 0 {
            self.heads.truncate(heads_len);
            return ArgsRef::EMPTY;
        }
        self.words.extend_from_slice(&words[..at]);
        ArgsRef {
            start: heads_len as u32,
            len: n as u16,
        }
    }

    /// Copies the frames behind a reference into another store (readers that parse blocks
    /// into stores of their own move a goroutine's words into its snapshot's store this way
    /// when they cannot [`ArgStore::append`] the whole block's) and returns the reference in
    /// `self`. A reference from another, smaller store, or a full store, gives
    /// [`ArgsRef::EMPTY`].
    pub fn copy_from(&mut self, src: &ArgStore, r: ArgsRef) -> ArgsRef {
        if r.is_empty() {
            return ArgsRef::EMPTY;
        }
        let Some((word_start, heads)) = src.run(r) else {
            return ArgsRef::EMPTY;
        };
        let n: usize = heads.iter().map(|&h| Head(h).len()).sum();
        let Some(words) = src.words.get(word_start..word_start + n) else {
            return ArgsRef::EMPTY;
        };
        let (start, new_word_start) = (self.heads.len(), self.words.len());
        if u32::try_from(start + heads.len() + 1).is_err() || new_word_start + n >= RUN as usize {
            return ArgsRef::EMPTY;
        }
        self.heads.push(RUN | new_word_start as u32);
        for &h in heads {
            self.heads.push(h);
        }
        for &w in words {
            self.words.push(w);
        }
        ArgsRef {
            start: start as u32,
            len: r.len,
        }
    }

    /// Appends every run of `other` (one copy of each array: readers move a whole block's
    /// words into its snapshot's store this way); [`Appended::rebase`] turns `other`'s
    /// references into references here. `None` when the result would not fit.
    pub fn append(&mut self, other: &ArgStore) -> Option<Appended> {
        let (head_off, word_off) = (self.heads.len(), self.words.len());
        if u32::try_from(head_off + other.heads.len()).is_err()
            || word_off + other.words.len() >= RUN as usize
        {
            return None;
        }
        let shift = word_off as u32;
        self.heads.reserve(other.heads.len());
        for &h in &other.heads {
            self.heads.push(if h & RUN != 0 { h + shift } else { h });
        }
        self.words.extend_from_slice(&other.words);
        Some(Appended(head_off as u32))
    }

    /// A reference's first-word index and frame heads, if it is one of this store's.
    fn run(&self, r: ArgsRef) -> Option<(usize, &[u32])> {
        let start = r.start as usize;
        let first = *self.heads.get(start)?;
        if first & RUN == 0 {
            return None;
        }
        let word_start = (first & !RUN) as usize;
        let heads = self.heads.get(start + 1..start + 1 + usize::from(r.len))?;
        Some((word_start, heads))
    }

    /// The frames behind a reference, innermost first. A reference from another store yields
    /// nothing rather than panicking.
    pub fn frames(&self, r: ArgsRef) -> impl Iterator<Item = FrameArgs<'_>> + '_ {
        let (mut at, heads) = if r.is_empty() {
            (0, &[][..])
        } else {
            self.run(r).unwrap_or((0, &[]))
        };
        heads.iter().map(move |&h| {
            let h = Head(h);
            let words = self.words.get(at..at + h.len()).unwrap_or(&[]);
            at += h.len();
            FrameArgs {
                frame: h.frame(),
                words,
                uncertain: h.uncertain(),
                more: h.more(),
            }
        })
    }

    /// The words of frame `frame` of the goroutine behind `r`, if kept.
    pub fn frame(&self, r: ArgsRef, frame: usize) -> Option<FrameArgs<'_>> {
        self.frames(r).find(|f| f.frame == frame)
    }

    /// Forgets every run, keeping the allocations (a reader's per-block store, once its
    /// runs have moved into a snapshot's, is filled again for the next block).
    pub fn clear(&mut self) {
        self.heads.clear();
        self.words.clear();
    }

    /// Bytes held (for memory accounting in benchmarks).
    pub fn heap_bytes(&self) -> usize {
        self.heads.capacity() * std::mem::size_of::<u32>()
            + self.words.capacity() * std::mem::size_of::<u64>()
    }

    /// Whether any goroutine has argument words.
    pub fn is_empty(&self) -> bool {
        self.heads.is_empty()
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
        // Copied into another store, the frames read the same through the new reference.
        let mut other = ArgStore::default();
        let _ = other.push([NewFrameArgs {
            frame: 1,
            words: &[9],
            uncertain: 1,
            more: true,
        }]);
        let c = other.copy_from(&st, a);
        let copied: Vec<_> = other.frames(c).collect();
        assert_eq!(copied, fs);
        assert_eq!(other.copy_from(&st, b), ArgsRef::EMPTY);
        assert_eq!(other.copy_from(&ArgStore::default(), a), ArgsRef::EMPTY);
        // Appended whole, the references move with it.
        let mut third = ArgStore::default();
        let first = third.copy_from(&other, c);
        let at = third.append(&st).unwrap();
        let moved: Vec<_> = third.frames(at.rebase(a)).collect();
        assert_eq!(moved, fs);
        assert_eq!(third.frames(first).collect::<Vec<_>>(), fs);
        assert_eq!(at.rebase(ArgsRef::EMPTY), ArgsRef::EMPTY);
        // The bulk form stores the same frames as `push`.
        let mut bulk = ArgStore::default();
        let r = bulk.push_run(
            &[0xc0001840c0, 0, 1, 2, 3, 4],
            &[
                RunFrame {
                    frame: 0,
                    words: 2,
                    uncertain: 0b10,
                    more: false,
                },
                RunFrame {
                    frame: 3,
                    words: 4,
                    uncertain: 0,
                    more: true,
                },
                // Past the words given: dropped.
                RunFrame {
                    frame: 4,
                    words: 1,
                    uncertain: 0,
                    more: false,
                },
            ],
        );
        assert_eq!(bulk.frames(r).collect::<Vec<_>>(), fs);
        assert_eq!(bulk.push_run(&[1], &[]), ArgsRef::EMPTY);
        // A reference into the middle of a run is no reference.
        let inside = ArgsRef { start: 1, len: 1 };
        assert_eq!(st.frames(inside).count(), 0);
    }
}
