//! Helpers shared by the text-reader tests: the frame-argument words a reader must keep,
//! computed the slow, obvious way (string splitting, no cache, one goroutine at a time), to
//! check the fast path, the frame cache and the parallel merge against.
#![allow(dead_code)]

use goroscope_model::{Goroutine, Snapshot};

/// Innermost frames whose words the text reader keeps, and how many words of each.
pub const INNER_FRAMES: usize = 2;
pub const INNER_WORDS: usize = 2;
/// Receivers of deeper method frames the text reader keeps per goroutine.
pub const MAX_RECEIVERS: usize = 2;

/// One frame's kept words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    pub frame: usize,
    pub words: Vec<u64>,
    pub uncertain: Vec<bool>,
    pub more: bool,
}

/// A goroutine header line: its goid.
fn header_goid(l: &str) -> Option<u64> {
    let rest = l.strip_prefix("goroutine ")?;
    let end = rest.find(|c: char| !c.is_ascii_digit())?;
    let goid = rest[..end].parse().ok()?;
    (l.trim_end().ends_with(':') && rest[end..].contains('[')).then_some(goid)
}

/// Whether a name is a method (receiver first): `pkg.(*T).M` or `pkg.T.M`.
pub fn naive_is_method(name: &str) -> bool {
    let tail = name.rsplit('/').next().unwrap_or(name);
    let Some((_, rest)) = tail.split_once('.') else {
        return false;
    };
    // Blank out what is inside brackets and parentheses, then split at the dots left.
    let mut depth = 0;
    let flat: String = rest
        .chars()
        .map(|c| match c {
            '[' | '(' | '{' => {
                depth += 1;
                'X'
            }
            ']' | ')' | '}' => {
                depth -= 1;
                'X'
            }
            '.' if depth > 0 => 'X',
            c => c,
        })
        .collect();
    let parts: Vec<&str> = flat.split('.').collect();
    if parts.len() != 2 || parts[0].is_empty() || parts[1].is_empty() {
        return false;
    }
    let m = parts[1];
    let closure = m.starts_with(|c: char| c.is_ascii_digit())
        || ["func", "gowrap", "deferwrap"].iter().any(|p| {
            m.strip_prefix(p)
                .is_some_and(|d| d.chars().all(|c| c.is_ascii_digit()))
        });
    !closure && !m.contains('-')
}

/// The words of one argument list: (words, uncertain, more).
fn words(args: &str, max: usize) -> (Vec<u64>, Vec<bool>, bool) {
    let flat = args.replace(['{', '}'], "");
    let (mut w, mut u) = (Vec::new(), Vec::new());
    for tok in flat.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let (v, unsure) = if tok == "_" {
            (0, true)
        } else if let Some(h) = tok.strip_prefix("0x") {
            let (h, unsure) = match h.strip_suffix('?') {
                Some(h) => (h, true),
                None => (h, false),
            };
            match u64::from_str_radix(h, 16) {
                Ok(v) if !h.is_empty() && h.len() <= 16 && !h.starts_with('+') => (v, unsure),
                _ => return (w, u, true),
            }
        } else {
            return (w, u, true);
        };
        if w.len() == max {
            return (w, u, true);
        }
        w.push(v);
        u.push(unsure);
    }
    (w, u, false)
}

/// Per goroutine header of an unprefixed text dump, in order: its goid and the words the text
/// reader keeps (see `goroscope_model::ArgStore`): up to [`INNER_WORDS`] words of the
/// [`INNER_FRAMES`] innermost frames that print any (`runtime.gopark` and `goparkunlock`
/// skipped), of every `sync` primitive's method frame and of the caller that blocks (the first
/// frame outside the runtime, sync and internal/ that prints words), then the receivers of
/// deeper method frames (outside those packages) printed without `?`, at most
/// [`MAX_RECEIVERS`], a receiver equal to the one kept before it not again.
pub fn naive_args(text: &str) -> Vec<(u64, Vec<Kept>)> {
    let mut out: Vec<(u64, Vec<Kept>)> = Vec::new();
    // goid, kept, frame index, inner frames kept, in ancestors, receivers kept, last receiver,
    // caller kept
    type Cur = (u64, Vec<Kept>, usize, usize, bool, usize, Option<u64>, bool);
    let mut cur: Option<Cur> = None;
    for l in text.lines() {
        let l = l.strip_suffix('\r').unwrap_or(l);
        if let Some(goid) = header_goid(l) {
            if let Some((g, k, ..)) = cur.take() {
                out.push((g, k));
            }
            cur = Some((goid, Vec::new(), 0, 0, false, 0, None, false));
            continue;
        }
        let Some((_, kept, frame, inner, anc, receivers, last, caller_kept)) = cur.as_mut() else {
            continue;
        };
        if l.trim().is_empty() {
            let (g, k, ..) = cur.take().unwrap();
            out.push((g, k));
            continue;
        }
        if l.starts_with("[originating from goroutine ") {
            *anc = true;
            continue;
        }
        if l.starts_with(['\t', ' ']) || l.starts_with("created by ") || !l.ends_with(')') {
            continue;
        }
        let Some(open) = l.rfind('(') else { continue };
        let (name, args) = (&l[..open], &l[open + 1..l.len() - 1]);
        let index = *frame;
        *frame += 1;
        if *anc || args.is_empty() || name == "runtime.gopark" || name == "runtime.goparkunlock" {
            continue;
        }
        // A sync primitive's method (`sync.(*Mutex).lockSlow`) names the object waited on:
        // kept like an innermost frame, whatever its depth.
        let primitive = naive_is_method(name)
            && (name.starts_with("sync.") || name.starts_with("internal/sync."));
        // The caller that blocks: the first frame outside the runtime, sync and internal/
        // that prints words, kept like an innermost frame.
        let low = name.starts_with("runtime.")
            || name.starts_with("sync.")
            || name.starts_with("internal/");
        let caller = !*caller_kept && !primitive && !low && args != "...";
        let receiver = *inner >= INNER_FRAMES && !primitive && !caller;
        let max = if !receiver {
            INNER_WORDS
        } else if naive_is_method(name) && !low && *receivers < MAX_RECEIVERS {
            1
        } else {
            continue;
        };
        let (w, u, more) = words(args, max);
        if w.is_empty() || (receiver && (*last == Some(w[0]) || u[0])) {
            continue;
        }
        if caller {
            *caller_kept = true;
            *inner += 1;
        } else if receiver {
            *receivers += 1;
            *last = Some(w[0]);
        } else {
            *inner += 1;
        }
        kept.push(Kept {
            frame: index,
            words: w,
            uncertain: u,
            more,
        });
    }
    if let Some((g, k, ..)) = cur.take() {
        out.push((g, k));
    }
    out
}

/// What a reader kept of `g`'s words.
pub fn reader_args(s: &Snapshot, g: &Goroutine) -> Vec<Kept> {
    s.frame_args(g)
        .map(|f| Kept {
            frame: f.frame,
            words: f.words.to_vec(),
            uncertain: (0..f.words.len()).map(|i| f.uncertain(i)).collect(),
            more: f.more,
        })
        .collect()
}

/// Checks every goroutine (and system stack) of `snaps`, read from `text`, against
/// [`naive_args`], in input order; returns how many frames with words were compared.
pub fn check_args(what: &str, text: &str, snaps: &[Snapshot]) -> usize {
    let want = naive_args(text);
    let mut got: Vec<(u64, Vec<Kept>)> = Vec::new();
    for s in snaps {
        // Goroutines and system stacks interleave in the text; compare each list in order.
        for g in s.goroutines.iter().chain(&s.system_stacks) {
            got.push((g.goid.0, reader_args(s, g)));
        }
    }
    // Per snapshot, goroutines then system stacks: reorder `want` the same way.
    let mut want_sorted = Vec::new();
    let mut i = 0;
    for s in snaps {
        let n = s.goroutines.len() + s.system_stacks.len();
        let block: Vec<_> = want[i..(i + n).min(want.len())].to_vec();
        want_sorted.extend(block.iter().filter(|(g, _)| *g != 0).cloned());
        want_sorted.extend(block.iter().filter(|(g, _)| *g == 0).cloned());
        i += n;
    }
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: {} goroutines and system stacks read, {} headers",
        got.len(),
        want.len()
    );
    let mut frames = 0;
    for (g, w) in got.iter().zip(&want_sorted) {
        assert_eq!(g, w, "{what}: goroutine {}", g.0);
        frames += g.1.len();
    }
    frames
}
