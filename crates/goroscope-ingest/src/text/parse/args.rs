//! The argument words the runtime prints after a frame's function name (`printArgs` in
//! `runtime/traceback.go`): `0xc0001840c0`, `0x0?` (a register argument whose spill slot may
//! be stale), `{…}` around the words of a struct or string argument (flattened here, in order),
//! `...` where the list goes on unprinted, `_` for a word at an offset too large to print.
//! Inlined frames print `(...)`: no words.

/// What [`parse`] found besides the words it appended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// Words appended.
    pub n: u8,
    /// Bit i: word i was printed with `?` (or as `_`).
    pub uncertain: u8,
    /// The list went on past the words kept (`...`, the cap, or text that is not a word).
    pub more: bool,
}

/// Hex digit values; 0xff for bytes that are not hex digits.
static HEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Appends at most `max` words of an argument list (the text between the parentheses) to
/// `out`. Cheap: one pass over the bytes, stopping at the cap, nothing allocated but the
/// words.
#[inline]
pub(crate) fn parse(args: &[u8], max: usize, out: &mut Vec<u64>) -> Parsed {
    let mut p = Parsed::default();
    let n = args.len();
    let mut i = 0;
    while i < n {
        let c = args[i];
        if c == b'0' {
            if i + 1 >= n || args[i + 1] != b'x' {
                p.more = true;
                return p;
            }
            let start = i + 2;
            // At most 17 digits are looked at: 17 is too many for a word.
            let lim = (start + 17).min(n);
            let mut j = start;
            let mut v: u64 = 0;
            while j < lim {
                let d = HEX[args[j] as usize];
                if d == 0xff {
                    break;
                }
                v = (v << 4) | u64::from(d);
                j += 1;
            }
            if j == start || j - start > 16 {
                p.more = true;
                return p;
            }
            let unsure = j < n && args[j] == b'?';
            if !push(&mut p, out, v, unsure, max) {
                return p;
            }
            i = j + usize::from(unsure);
        } else if matches!(c, b' ' | b',' | b'{' | b'}') {
            i += 1;
        } else if c == b'_' {
            if !push(&mut p, out, 0, true, max) {
                return p;
            }
            i += 1;
        } else {
            // `...` (the list goes on) or anything that is not a word.
            p.more = true;
            return p;
        }
    }
    p
}

/// Whether the first word of an argument list was printed with `?` (found without parsing
/// it: the byte before the first `,`, or the end).
#[inline]
pub(crate) fn first_uncertain(args: &[u8]) -> bool {
    let end = args.iter().position(|&c| c == b',').unwrap_or(args.len());
    args[..end].ends_with(b"?")
}

/// Adds a word; false (with `more` set) when the cap is reached.
#[inline(always)]
fn push(p: &mut Parsed, out: &mut Vec<u64>, v: u64, unsure: bool, max: usize) -> bool {
    if usize::from(p.n) >= max {
        p.more = true;
        return false;
    }
    out.push(v);
    if unsure {
        p.uncertain |= 1 << p.n;
    }
    p.n += 1;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str, max: usize) -> (Vec<u64>, u8, bool) {
        let mut out = vec![7];
        let r = parse(s.as_bytes(), max, &mut out);
        assert_eq!(out[0], 7, "appends, never touches what was there");
        assert_eq!(out.len(), 1 + usize::from(r.n));
        (out[1..].to_vec(), r.uncertain, r.more)
    }

    #[test]
    fn the_forms_the_runtime_prints() {
        assert_eq!(p("", 4), (vec![], 0, false));
        assert_eq!(p("...", 4), (vec![], 0, true));
        assert_eq!(
            p("0xc00001c0c0, 0xc00001c120", 4),
            (vec![0xc00001c0c0, 0xc00001c120], 0, false)
        );
        assert_eq!(
            p("0xc0001840c0, 0xc000057f58?", 4),
            (vec![0xc0001840c0, 0xc000057f58], 0b10, false)
        );
        // Struct and string words flattened, in order.
        assert_eq!(
            p("{0x555bd1?, 0x2e3109c10aa0?}, 0x6dcae8", 4),
            (vec![0x555bd1, 0x2e3109c10aa0, 0x6dcae8], 0b11, false)
        );
        assert_eq!(p("{}", 4), (vec![], 0, false));
        assert_eq!(p("{0x1, ...}, 0x2", 4), (vec![1], 0, true));
        assert_eq!(p("0x1, 0x2, 0x3, 0x4, 0x5", 4), (vec![1, 2, 3, 4], 0, true));
        assert_eq!(p("0x1, 0x2", 1), (vec![1], 0, true));
        assert_eq!(p("_, 0x2", 4), (vec![0, 2], 0b01, false));
        // Text that is not a word stops the list.
        assert_eq!(p("0x1, zz", 4), (vec![1], 0, true));
        assert_eq!(p("0x, 0x1", 4), (vec![], 0, true));
        assert_eq!(p("0x11111111111111111, 0x1", 4), (vec![], 0, true));
        assert_eq!(p("0xFFFFFFFFFFFFFFFF", 4), (vec![u64::MAX], 0, false));
        assert_eq!(p("0xaBc", 4), (vec![0xabc], 0, false));
    }

    #[test]
    fn uncertain_first_words() {
        assert!(first_uncertain(b"0x0?, 0x1"));
        assert!(first_uncertain(b"0xc000012345?"));
        assert!(!first_uncertain(b"0xc000012345, 0x0?"));
        assert!(!first_uncertain(b""));
        // A struct's first word.
        assert!(first_uncertain(b"{0x1?, 0x2}"));
    }
}
