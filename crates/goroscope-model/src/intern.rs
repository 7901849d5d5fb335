//! Interning of strings, frames, stacks and label sets.
//!
//! A million goroutines usually share a few hundred distinct stacks, so a snapshot stores each
//! distinct string, frame, stack and label set once and refers to it by a small copyable id.
//! Ids are only meaningful together with the [`Interner`] that produced them.

use hashbrown::HashTable;
use rustc_hash::FxHasher;
use std::hash::{Hash, Hasher};

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);
        impl $name {
            /// The position of this id in its table.
            #[inline]
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

id_type!(
    /// An interned string.
    Sym
);
id_type!(
    /// An interned [`Frame`].
    FrameId
);
id_type!(
    /// An interned stack: the frames of one goroutine, innermost first.
    StackId
);
id_type!(
    /// An interned, sorted set of pprof labels.
    LabelSetId
);

#[inline]
fn fx<T: Hash + ?Sized>(v: &T) -> u64 {
    let mut h = FxHasher::default();
    v.hash(&mut h);
    h.finish()
}

/// One frame of a stack, without its argument values (those differ per goroutine and say
/// nothing about where it is stuck).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Frame {
    /// Fully qualified Go function name as the runtime prints it, e.g. `main.worker.func1`,
    /// `net/http.(*conn).serve`, `main.Map[...]`.
    pub function: Sym,
    /// Source file as printed (absolute, `-trimpath`-relative, or `module@version/...`).
    /// The empty string when the format does not carry it.
    pub file: Sym,
    /// Source line; 0 when unknown.
    pub line: u32,
    /// Offset of the PC from the function entry (`+0x1d`), when printed.
    pub offset: Option<u32>,
    /// The frame was inlined into its caller (printed with `(...)` arguments in text dumps,
    /// or an inlined line of a location in pprof).
    pub inlined: bool,
}

/// Stores each distinct string, frame, stack and label set once.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    strings: Vec<Box<str>>,
    string_index: HashTable<u32>,
    frames: Vec<Frame>,
    frame_index: HashTable<u32>,
    stacks: Vec<Box<[FrameId]>>,
    stack_index: HashTable<u32>,
    label_sets: Vec<Box<[(Sym, Sym)]>>,
    label_index: HashTable<u32>,
}

impl Interner {
    /// A new interner whose label set 0 is the empty set and string 0 the empty string.
    pub fn new() -> Self {
        let mut i = Interner::default();
        i.intern_str("");
        i.intern_labels(Vec::new());
        i
    }

    /// The empty string's symbol.
    pub const EMPTY: Sym = Sym(0);
    /// The empty label set.
    pub const NO_LABELS: LabelSetId = LabelSetId(0);

    /// Interns a string.
    pub fn intern_str(&mut self, s: &str) -> Sym {
        let h = fx(s);
        let strings = &self.strings;
        if let Some(&i) = self.string_index.find(h, |&i| &*strings[i as usize] == s) {
            return Sym(i);
        }
        let id = self.strings.len() as u32;
        self.strings.push(s.into());
        let strings = &self.strings;
        self.string_index
            .insert_unique(h, id, |&i| fx(&*strings[i as usize]));
        Sym(id)
    }

    /// Looks a string up without interning it.
    pub fn find_str(&self, s: &str) -> Option<Sym> {
        let h = fx(s);
        self.string_index
            .find(h, |&i| &*self.strings[i as usize] == s)
            .map(|&i| Sym(i))
    }

    /// The text of a symbol.
    #[inline]
    pub fn str(&self, s: Sym) -> &str {
        &self.strings[s.index()]
    }

    /// Interns a frame.
    pub fn intern_frame(&mut self, f: Frame) -> FrameId {
        let h = fx(&f);
        let frames = &self.frames;
        if let Some(&i) = self.frame_index.find(h, |&i| frames[i as usize] == f) {
            return FrameId(i);
        }
        let id = self.frames.len() as u32;
        self.frames.push(f);
        let frames = &self.frames;
        self.frame_index
            .insert_unique(h, id, |&i| fx(&frames[i as usize]));
        FrameId(id)
    }

    /// The frame behind an id.
    #[inline]
    pub fn frame(&self, f: FrameId) -> &Frame {
        &self.frames[f.index()]
    }

    /// Interns a stack (innermost frame first).
    pub fn intern_stack(&mut self, frames: &[FrameId]) -> StackId {
        let h = fx(frames);
        let stacks = &self.stacks;
        if let Some(&i) = self
            .stack_index
            .find(h, |&i| &*stacks[i as usize] == frames)
        {
            return StackId(i);
        }
        let id = self.stacks.len() as u32;
        self.stacks.push(frames.into());
        let stacks = &self.stacks;
        self.stack_index
            .insert_unique(h, id, |&i| fx(&*stacks[i as usize]));
        StackId(id)
    }

    /// The frames of a stack, innermost first.
    #[inline]
    pub fn stack(&self, s: StackId) -> &[FrameId] {
        &self.stacks[s.index()]
    }

    /// Interns a label set; the pairs are sorted by key (then value) first.
    pub fn intern_labels(&mut self, mut pairs: Vec<(Sym, Sym)>) -> LabelSetId {
        {
            let strings = &self.strings;
            pairs.sort_by(|a, b| {
                (&*strings[a.0.index()], &*strings[a.1.index()])
                    .cmp(&(&*strings[b.0.index()], &*strings[b.1.index()]))
            });
        }
        let h = fx(&pairs[..]);
        let sets = &self.label_sets;
        if let Some(&i) = self
            .label_index
            .find(h, |&i| *sets[i as usize] == pairs[..])
        {
            return LabelSetId(i);
        }
        let id = self.label_sets.len() as u32;
        self.label_sets.push(pairs.into());
        let sets = &self.label_sets;
        self.label_index
            .insert_unique(h, id, |&i| fx(&*sets[i as usize]));
        LabelSetId(id)
    }

    /// The `(key, value)` pairs of a label set, sorted by key.
    #[inline]
    pub fn labels(&self, l: LabelSetId) -> &[(Sym, Sym)] {
        &self.label_sets[l.index()]
    }

    /// Number of distinct stacks.
    pub fn stack_count(&self) -> usize {
        self.stacks.len()
    }

    /// Number of distinct frames.
    pub fn frame_count(&self) -> usize {
        self.frames.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_idempotent() {
        let mut a = Interner::new();
        let f = a.intern_str("main.f");
        assert_eq!(a.intern_str("main.f"), f);
        assert_eq!(a.str(f), "main.f");
        assert_eq!(a.find_str("main.f"), Some(f));
        let file = a.intern_str("main.go");
        let frame = Frame {
            function: f,
            file,
            line: 3,
            offset: Some(0x10),
            inlined: false,
        };
        let fr = a.intern_frame(frame);
        assert_eq!(a.intern_frame(frame), fr);
        let st = a.intern_stack(&[fr, fr]);
        assert_eq!(a.intern_stack(&[fr, fr]), st);
        assert_ne!(a.intern_stack(&[fr]), st);
        assert_eq!(a.frame(a.stack(st)[0]).line, 3);
    }

    #[test]
    fn label_sets_are_order_independent() {
        let mut i = Interner::new();
        let (a, b, c) = (i.intern_str("a"), i.intern_str("b"), i.intern_str("c"));
        let x = i.intern_labels(vec![(b, c), (a, c)]);
        let y = i.intern_labels(vec![(a, c), (b, c)]);
        assert_eq!(x, y);
        assert_eq!(i.labels(x)[0].0, a);
    }
}
