//! The per-parser frame cache: the raw bytes of a function name and its file line
//! (`path:line +0xoff`) map to an interned frame, so a frame seen before is found without
//! parsing either line again. Frames follow each other the same way in most stacks, so each
//! entry remembers the entry that followed it last time and that guess is tried before hashing.

use super::super::line::FileLine;
use goroscope_model::{ArgRole, Frame, FrameId, Interner};
use hashbrown::HashTable;
use rustc_hash::FxHasher;
use std::hash::Hasher;

/// Where a cached frame's key bytes live in the arena.
#[derive(Debug, Clone, Copy)]
pub(super) struct FrameKey {
    name: (u32, u32),
    key: (u32, u32),
    dots: bool,
    /// The name has a space (only valid inside brackets: checked again on a hit).
    pub spaced: bool,
    /// What its argument words are to the relation analysis.
    pub role: ArgRole,
    /// The entry that followed this one last time (`u32::MAX`: none yet).
    next: u32,
    pub id: FrameId,
}

/// See the module docs.
#[derive(Default)]
pub(super) struct FrameCache {
    table: HashTable<u32>,
    /// The entry of the last frame read in one step (a guess for the next one's predecessor;
    /// `u32::MAX`: none).
    last: u32,
    keys: Vec<FrameKey>,
    arena: Vec<u8>,
}

/// The cache key's hash: the file line (`path:line +0xoff`) nearly always identifies the
/// frame, so the name only contributes its length (names are compared on a hit).
#[inline]
fn hash_frame(name: &[u8], key: &[u8], dots: bool) -> u64 {
    let mut h = FxHasher::default();
    h.write(key);
    h.write_usize(name.len() << 1 | dots as usize);
    h.finish()
}

/// Byte equality for short keys, in 8-byte words (no call into `memcmp`).
#[inline]
pub(super) fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a == b;
    }
    let word = |s: &[u8], i: usize| u64::from_ne_bytes(s[i..i + 8].try_into().expect("8 bytes"));
    let mut i = 0;
    while i + 8 <= n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    // The tail, as the last 8 bytes (overlapping what was compared).
    word(a, n - 8) == word(b, n - 8)
}

fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

impl FrameCache {
    pub fn new() -> Self {
        FrameCache {
            last: u32::MAX,
            ..Default::default()
        }
    }

    /// Whether entry `i` (if any) is this function name with this file key.
    #[inline]
    fn key_is(&self, i: u32, name: &[u8], key: &[u8], dots: bool) -> bool {
        let Some(k) = self.keys.get(i as usize) else {
            return false;
        };
        let arena = &self.arena;
        k.dots == dots
            && same(&arena[k.key.0 as usize..k.key.1 as usize], key)
            && same(&arena[k.name.0 as usize..k.name.1 as usize], name)
    }

    /// The index of the entry of a function name with this file key.
    #[inline]
    fn index(&self, name: &[u8], key: &[u8], dots: bool) -> Option<u32> {
        if key.is_empty() {
            return None;
        }
        let h = hash_frame(name, key, dots);
        let keys = &self.keys;
        let arena = &self.arena;
        let slice = |r: (u32, u32)| &arena[r.0 as usize..r.1 as usize];
        self.table
            .find(h, |&i| {
                let k = &keys[i as usize];
                k.dots == dots && same(slice(k.key), key) && same(slice(k.name), name)
            })
            .copied()
    }

    /// The entry of a frame read in one step (function and file line together): the guess
    /// from the previous frame first, then the table. Remembers the answer as the previous
    /// frame's successor and as the next guess's starting point.
    #[inline]
    pub fn step(&mut self, name: &[u8], key: &[u8], dots: bool) -> Option<&FrameKey> {
        let prev = self.last as usize;
        let guess = self.keys.get(prev).map_or(u32::MAX, |k| k.next);
        let idx = if self.key_is(guess, name, key, dots) {
            guess
        } else {
            let i = self.index(name, key, dots)?;
            if let Some(k) = self.keys.get_mut(prev) {
                k.next = i;
            }
            i
        };
        self.last = idx;
        self.keys.get(idx as usize)
    }

    /// The entry of a function name with this file key, if seen before.
    #[inline]
    pub fn get(&self, name: &[u8], key: &[u8], dots: bool) -> Option<&FrameKey> {
        self.index(name, key, dots).map(|i| &self.keys[i as usize])
    }

    /// The frame of a function name with its file line (or none), interned on first sight.
    pub fn frame_id(
        &mut self,
        interner: &mut Interner,
        name: &[u8],
        dots: bool,
        f: Option<&FileLine<'_>>,
    ) -> FrameId {
        let key = f.map_or(&b""[..], |f| f.key);
        let h = hash_frame(name, key, dots);
        let keys = &self.keys;
        let arena = &self.arena;
        let slice = |r: (u32, u32)| &arena[r.0 as usize..r.1 as usize];
        if let Some(&i) = self.table.find(h, |&i| {
            let k = &keys[i as usize];
            k.dots == dots && slice(k.name) == name && slice(k.key) == key
        }) {
            return self.keys[i as usize].id;
        }
        let function = interner.intern_str(&lossy(name));
        let (file, line, offset) = match f {
            Some(f) => (interner.intern_str(&lossy(f.path)), f.line, f.offset),
            None => (Interner::EMPTY, 0, None),
        };
        let id = interner.intern_frame(Frame {
            function,
            file,
            line,
            offset,
            inlined: dots && f.is_some() && offset.is_none(),
        });
        let n0 = self.arena.len() as u32;
        self.arena.extend_from_slice(name);
        let n1 = self.arena.len() as u32;
        self.arena.extend_from_slice(key);
        let n2 = self.arena.len() as u32;
        let idx = self.keys.len() as u32;
        self.keys.push(FrameKey {
            name: (n0, n1),
            key: (n1, n2),
            dots,
            spaced: memchr::memchr(b' ', name).is_some(),
            role: ArgRole::of(name),
            next: u32::MAX,
            id,
        });
        let keys = &self.keys;
        let arena = &self.arena;
        self.table.insert_unique(h, idx, |&i| {
            let k = &keys[i as usize];
            hash_frame(
                &arena[k.name.0 as usize..k.name.1 as usize],
                &arena[k.key.0 as usize..k.key.1 as usize],
                k.dots,
            )
        });
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_compares_every_byte() {
        let a = b"example.com/gosvc/chains.go:73 +0x2c";
        for i in 0..a.len() {
            let mut b = a.to_vec();
            b[i] ^= 1;
            assert!(!same(a, &b), "byte {i}");
        }
        let copy = a.to_vec();
        assert!(same(a, &copy));
        assert!(same(b"abc", b"abc") && !same(b"abc", b"abd") && !same(b"abc", b"abcd"));
    }
}
