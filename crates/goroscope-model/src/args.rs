//! Frame argument words: `main.stage(0xc00001c0c0, 0xc00001c120)` in a traceback.
//!
//! Argument values differ per goroutine, so they are not part of the interned [`crate::Frame`];
//! each goroutine refers to a run of [`ArgStore`] entries instead. Readers keep only the words
//! the relation analysis uses, so that a million goroutines cost tens of bytes each, not
//! hundreds. The keep policy is one piece of code, [`ArgKeeper`] (with [`ArgRole`]), used by
//! every reader that reads arguments (text tracebacks, attach, cores), so that they keep
//! exactly the same words of the same frames:
//!
//! * the words (at most [`INNER_ARG_WORDS`]) of the innermost [`INNER_ARG_FRAMES`] frames that
//!   print any, `runtime.gopark`/`goparkunlock` skipped (they print the park callback, a lock
//!   word and the wait reason, never the object waited on): the blocking operation and its
//!   caller (`runtime.chanrecv` and `chanrecv1`, `sync.runtime_SemacquireWaitGroup` and
//!   `(*WaitGroup).Wait`, a user function blocked in a send);
//! * the words of every `sync` primitive's method frame, whatever its depth
//!   (`(*Mutex).lockSlow`: the object waited on), not counted among the receivers below, so
//!   that the user method holding a lock (`(*Cache).Refresh` under `(*Sim).Snapshot`) is kept;
//! * the words of the caller that blocks — the first frame outside the runtime, `sync` and
//!   `internal/` packages that prints words — wherever it is: its pointer arguments are the
//!   objects it works inside (`transfer(from, to *Account)` holding `from.mu`);
//! * then the receivers (first words) of at most [`MAX_RECEIVERS`] deeper method frames
//!   outside those packages
//!   (`main.(*Sim).Update(0xc0000a0000)`), printed for sure (a `0x0?` receiver is a stale
//!   register spill: it would tie the goroutine to an object it may not be inside), one equal
//!   to the receiver kept before it (a method recursing on its object) not again.
//!
//! Words inside `{…}` (a struct or string argument) are kept in order, braces dropped
//! ([`FrameWords`]). The store itself holds up to [`MAX_ARG_WORDS_PER_FRAME`] words a frame.
//! The policy's sizes were measured on the 1M-goroutine benchmark dump (`BENCHMARKS.md`,
//! 2026-12-07): three frames of four words and up to four receivers cost reading it 15–20 %
//! more CPU and 313 MB instead of 188 MB, over the goal of 0.25 of the file.

/// Innermost frames (that print words, the park frame skipped) whose words are kept.
pub const INNER_ARG_FRAMES: usize = 2;
/// Words kept of each innermost frame: the object the call works on and the one after it (a
/// pipeline stage's `in` and `out`, a string's pointer and length).
pub const INNER_ARG_WORDS: usize = 2;
/// Receivers of deeper method frames kept per goroutine, innermost first. The objects that
/// matter for a lock chain are the ones the blocking call is nearest to (the method holding a
/// lock calls the one that waits).
pub const MAX_RECEIVERS: usize = 2;
/// Words an [`ArgStore`] holds per frame (what its packed frame heads have room for).
pub const MAX_ARG_WORDS_PER_FRAME: usize = 4;

const _: () = assert!(INNER_ARG_WORDS <= MAX_ARG_WORDS_PER_FRAME);

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

/// What a frame's argument words are to the keep policy, from its function's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgRole {
    Plain,
    /// A method: its first word is the receiver ([`is_method`]).
    Method,
    /// `runtime.gopark`/`goparkunlock`: the park callback, a lock word and the wait reason,
    /// never the object waited on (the frame after it has that). Never kept.
    Park,
    /// A method of `sync`'s primitives (`(*Mutex).lockSlow`, `(*WaitGroup).Wait`): its
    /// receiver is the object waited on. Always kept like an innermost frame, and not counted
    /// among the deeper receivers, so the user methods outside it (the lock's holder
    /// candidates) still are.
    Primitive,
    /// Any other function or method of the runtime, `sync` or an `internal/` package
    /// (`runtime.chansend`, `internal/poll.(*FD).Accept`): plumbing under the caller that
    /// blocks, kept only among the innermost frames, never as a deeper receiver.
    Low,
}

impl ArgRole {
    /// The role of a function as printed in a traceback.
    pub fn of(name: impl AsRef<[u8]>) -> ArgRole {
        let name = name.as_ref();
        let low = name.starts_with(b"runtime.")
            || name.starts_with(b"sync.")
            || name.starts_with(b"internal/");
        if name == b"runtime.gopark" || name == b"runtime.goparkunlock" {
            ArgRole::Park
        } else if is_method(name) {
            if name.starts_with(b"sync.") || name.starts_with(b"internal/sync.") {
                ArgRole::Primitive
            } else if low {
                ArgRole::Low
            } else {
                ArgRole::Method
            }
        } else if low {
            ArgRole::Low
        } else {
            ArgRole::Plain
        }
    }
}

/// The keep policy (see the module docs), frame by frame, innermost first: for each frame the
/// runtime prints with arguments (hidden frames are not printed, inlined ones print `(...)`:
/// neither counts), ask [`ArgKeeper::max_words`] how many words to read (0: the frame is not
/// kept), then [`ArgKeeper::keep`] whether the words read are kept (which records them).
/// Readers that parse words their own way use [`ArgKeeper::accepts`] and
/// [`ArgKeeper::kept`] instead.
#[derive(Debug, Clone, Copy, Default)]
pub struct ArgKeeper {
    inner: u8,
    receivers: u8,
    last_receiver: Option<u64>,
    /// The caller that blocks (the first frame outside the runtime, `sync` and `internal/`
    /// that prints words) has been seen.
    caller_seen: bool,
}

impl ArgKeeper {
    pub fn new() -> Self {
        ArgKeeper::default()
    }

    /// Whether a frame of this role would be kept as a deeper receiver: the innermost frames
    /// are done and it is no sync primitive's. Its first word must then be printed for sure
    /// (readers may test that before parsing).
    #[inline(always)]
    pub fn as_receiver(&self, role: ArgRole) -> bool {
        usize::from(self.inner) >= INNER_ARG_FRAMES
            && role != ArgRole::Primitive
            && !self.is_caller(role)
    }

    /// Whether a frame of this role is the caller that blocks: the first frame outside the
    /// runtime, `sync` and `internal/` that prints words, kept like an innermost frame
    /// wherever it is (its pointer arguments are the objects it works inside:
    /// `transfer(from, to *Account)`).
    #[inline(always)]
    pub fn is_caller(&self, role: ArgRole) -> bool {
        !self.caller_seen && matches!(role, ArgRole::Plain | ArgRole::Method)
    }

    /// How many words of the next printed frame to read: [`INNER_ARG_WORDS`] while the
    /// innermost frames last and for a sync primitive's method, then 1 (the receiver) of a
    /// method frame while fewer than [`MAX_RECEIVERS`] are kept, else 0 (the frame is not
    /// kept); 0 for the park frame.
    #[inline(always)]
    pub fn max_words(&self, role: ArgRole) -> usize {
        match role {
            ArgRole::Park => 0,
            _ if !self.as_receiver(role) => INNER_ARG_WORDS,
            ArgRole::Method if usize::from(self.receivers) < MAX_RECEIVERS => 1,
            _ => 0,
        }
    }

    /// Whether a frame whose words were read (at most [`ArgKeeper::max_words`]; `uncertain`:
    /// bit i, word i printed with `?`) is kept: it printed a word, and a deeper receiver was
    /// printed for sure and is not the receiver kept before it.
    #[inline(always)]
    pub fn accepts(&self, role: ArgRole, words: &[u64], uncertain: u8) -> bool {
        match words.first() {
            None => false,
            Some(&w) => {
                !self.as_receiver(role) || (uncertain & 1 == 0 && self.last_receiver != Some(w))
            }
        }
    }

    /// Records a kept frame (one [`ArgKeeper::accepts`] took) by its first word.
    #[inline(always)]
    pub fn kept(&mut self, role: ArgRole, first: u64) {
        if self.is_caller(role) {
            self.caller_seen = true;
            self.inner = self.inner.saturating_add(1);
        } else if self.as_receiver(role) {
            self.receivers = self.receivers.saturating_add(1);
            self.last_receiver = Some(first);
        } else {
            self.inner = self.inner.saturating_add(1);
        }
    }

    /// [`ArgKeeper::accepts`] and, when it does, [`ArgKeeper::kept`].
    pub fn keep(&mut self, role: ArgRole, w: &FrameWords) -> bool {
        let ok = self.accepts(role, w.words(), w.uncertain);
        if ok {
            self.kept(role, w.words()[0]);
        }
        ok
    }
}

/// One frame's words as they are kept, built from what the runtime prints in order
/// (`printArgs` in `runtime/traceback.go`): a word (`0xc0001840c0`, `0x0?`), `_` (an offset too
/// large to print: kept as an uncertain 0), `...` (the list goes on unprinted: nothing more is
/// kept), with the words inside `{…}` flattened in order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameWords {
    words: [u64; MAX_ARG_WORDS_PER_FRAME],
    n: u8,
    max: u8,
    /// Bit i: word i printed with `?` (or as `_`).
    pub uncertain: u8,
    /// The list went on past the words kept (`...`, the cap, or text that is not a word).
    pub more: bool,
}

impl FrameWords {
    /// Keeps at most `max` (≤ [`MAX_ARG_WORDS_PER_FRAME`]) words.
    pub fn new(max: usize) -> Self {
        FrameWords {
            max: max.min(MAX_ARG_WORDS_PER_FRAME) as u8,
            ..FrameWords::default()
        }
    }

    /// Adds a printed word; false (with `more` set) once the cap is reached: stop feeding.
    #[inline]
    pub fn word(&mut self, v: u64, uncertain: bool) -> bool {
        if self.more {
            return false;
        }
        let n = usize::from(self.n);
        if n >= usize::from(self.max) {
            self.more = true;
            return false;
        }
        self.words[n] = v;
        if uncertain {
            self.uncertain |= 1 << n;
        }
        self.n += 1;
        true
    }

    /// `_`: a word at an offset too large to print.
    #[inline]
    pub fn underscore(&mut self) -> bool {
        self.word(0, true)
    }

    /// `...` (or anything that is not a word): the list goes on, nothing more is kept.
    #[inline]
    pub fn rest(&mut self) {
        self.more = true;
    }

    pub fn words(&self) -> &[u64] {
        &self.words[..usize::from(self.n)]
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The frame to push with [`ArgStore::push`] (frame `frame` of the stack), when it kept any
    /// word.
    pub fn at(&self, frame: usize) -> Option<NewFrameArgs<'_>> {
        (self.n > 0).then(|| NewFrameArgs {
            frame,
            words: self.words(),
            uncertain: self.uncertain,
            more: self.more,
        })
    }
}

/// Whether a function name is a method, whose first argument word is its receiver:
/// `pkg.(*T).M` or `pkg/path.T.M` (generic types included), not a closure (`f.func1`,
/// `f.gowrap2`, `T.M.func1.3`) or a plain function.
pub fn is_method(name: impl AsRef<[u8]>) -> bool {
    let name = name.as_ref();
    // The part after the package path: `T.M`, `(*T).M`, `f.func1`…
    let tail = match name.iter().rposition(|&c| c == b'/') {
        Some(i) => &name[i + 1..],
        None => name,
    };
    let Some(dot) = tail.iter().position(|&c| c == b'.') else {
        return false;
    };
    // Split what follows the package name at the dots outside brackets and parentheses.
    let rest = &tail[dot + 1..];
    let mut depth = 0i32;
    let mut cut = None;
    for (i, &c) in rest.iter().enumerate() {
        match c {
            b'[' | b'(' | b'{' => depth += 1,
            b']' | b')' | b'}' => depth -= 1,
            b'.' if depth == 0 => {
                if cut.is_some() {
                    // Three names or more: a closure inside a method (`T.M.func1`).
                    return false;
                }
                cut = Some(i);
            }
            _ => {}
        }
    }
    let Some(cut) = cut else {
        return false;
    };
    let (recv, method) = (&rest[..cut], &rest[cut + 1..]);
    let closure = method.first().is_some_and(u8::is_ascii_digit)
        || [&b"func"[..], b"gowrap", b"deferwrap"].iter().any(|p| {
            method
                .strip_prefix(*p)
                .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
        });
    // `-fm`: a method value's wrapper, not a method.
    !recv.is_empty() && !method.is_empty() && !closure && !method.contains(&b'-')
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

    /// Runs the policy over printed frames `(name, words, uncertain)`: (frame, words, more).
    fn keep_all(frames: &[(&str, &[u64], u8)]) -> Vec<(usize, Vec<u64>, bool)> {
        let mut k = ArgKeeper::new();
        let mut kept = Vec::new();
        for (i, &(name, words, unc)) in frames.iter().enumerate() {
            let mut w = FrameWords::new(k.max_words(ArgRole::of(name)));
            for (b, &v) in words.iter().enumerate() {
                if !w.word(v, unc & (1 << b) != 0) {
                    break;
                }
            }
            if k.keep(ArgRole::of(name), &w) {
                let f = w.at(i).unwrap();
                kept.push((f.frame, f.words.to_vec(), f.more));
            }
        }
        kept
    }

    #[test]
    fn keep_policy_innermost_frames_then_receivers() {
        let kept = keep_all(&[
            ("runtime.gopark", &[1, 2, 3], 0), // never kept, does not count
            ("runtime.chansend", &[4, 5, 6], 0),
            ("main.helper.func1", &[], 0), // `()`: does not count
            ("runtime.chansend1", &[0, 0], 0b11), // uncertain words count among the innermost
            ("main.stage", &[7], 0),       // the caller that blocks: kept wherever it is
            ("main.(*Sim).Update", &[9, 10], 0),
            ("main.(*Sim).Update", &[9], 0), // the same receiver again (recursion): not again
            ("main.(*Sim).step", &[0], 1),   // a `?` receiver: not kept
            ("main.T.Get", &[12, 13], 0),
            ("main.(*U).Run", &[14], 0), // past MAX_RECEIVERS
        ]);
        assert_eq!(
            kept,
            vec![
                (1, vec![4, 5], true),
                (3, vec![0, 0], false),
                (4, vec![7], false),
                (5, vec![9], true),
                (8, vec![12], true),
            ]
        );
        assert_eq!(
            INNER_ARG_FRAMES + 1 + MAX_RECEIVERS,
            kept.len(),
            "the test covers the caps (and the caller)"
        );
        // A receiver that differs from the one kept just before is kept, even if seen earlier.
        let kept = keep_all(&[
            ("main.a", &[1], 0),
            ("main.b", &[2], 0),
            ("main.(*T).x", &[0xa0], 0),
            ("main.(*T).y", &[0xa0], 0),
            ("main.(*T).z", &[0xb0], 0),
        ]);
        assert_eq!(kept[2..], [(2, vec![0xa0], false), (4, vec![0xb0], false)]);
        // A sync primitive's method is kept like an innermost frame whatever its depth, and
        // leaves both receiver places to the user methods outside it.
        let kept = keep_all(&[
            ("runtime.semacquire1", &[1, 2, 3], 0),
            ("sync.runtime_SemacquireMutex", &[1, 0], 0b10),
            ("internal/sync.(*Mutex).lockSlow", &[0xc0, 7], 0b10),
            ("main.(*Cache).Refresh", &[0xa0], 0),
            ("sync.(*RWMutex).Lock", &[0xd0], 0),
            ("main.(*Sim).Snapshot", &[0xb0], 0),
        ]);
        assert_eq!(
            kept,
            vec![
                (0, vec![1, 2], true),
                (1, vec![1, 0], false),
                (2, vec![0xc0, 7], false),
                (3, vec![0xa0], false),
                (4, vec![0xd0], false),
                (5, vec![0xb0], false),
            ]
        );
        assert_eq!(
            ArgRole::of("internal/sync.(*Mutex).lockSlow"),
            ArgRole::Primitive
        );
        assert_eq!(ArgRole::of("runtime.goparkunlock"), ArgRole::Park);
        assert_eq!(ArgRole::of(b"main.T.Get"), ArgRole::Method);
        assert_eq!(ArgRole::of("main.main"), ArgRole::Plain);
    }

    #[test]
    fn frame_words_flags() {
        let mut w = FrameWords::new(4);
        assert!(w.word(0xc000010000, false));
        assert!(w.underscore());
        assert!(w.word(7, true));
        w.rest();
        assert!(!w.word(8, false));
        assert_eq!(w.words(), &[0xc000010000, 0, 7]);
        assert_eq!((w.uncertain, w.more), (0b110, true));
        assert!(FrameWords::new(0).at(0).is_none());
        let mut one = FrameWords::new(1);
        assert!(one.word(1, false));
        assert!(!one.more);
        assert!(!one.word(2, false));
        assert!(one.more);
    }

    #[test]
    fn methods_by_name() {
        for m in [
            "main.(*Sim).Update",
            "net/http.(*persistConn).readLoop",
            "main.T.Get",
            "main.(*List[...]).Push",
            "example.com/a/b.(*T).m",
            "sync.(*Mutex).Lock",
            "internal/sync.(*Mutex).lockSlow",
            "example.com/x.(*List[go.shape.struct { A int }]).Push",
            "main.List[...].Push",
            "github.com/a/b%2ev2.Config.Validate",
            "gopkg.in/yaml%2ev2.(*decoder).unmarshal",
        ] {
            assert!(is_method(m), "{m}");
        }
        for f in [
            "main.main",
            "main.stage",
            "main.(*T).M.func1",
            "main.main.func2",
            "main.f.gowrap1",
            "main.T.M.func1.3",
            "main.(*T).M-fm",
            "runtime.gopark",
            "nodot",
            "main.f.deferwrap1",
            "main.Map[...]",
            "github.com/a/b%2ev2.fn",
            "non-Go function",
        ] {
            assert!(!is_method(f), "{f}");
        }
    }
}
