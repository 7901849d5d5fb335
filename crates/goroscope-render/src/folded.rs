//! Folded stacks (`root;…;leaf count`), the input format of flame graph tools, and the flame
//! graph SVG that `inferno` draws from them.
//!
//! Each line is one distinct path: the goroutine's frames from its outermost (the function the
//! `go` statement started) to its innermost, then — when the dump says — the goroutine's state as
//! the leaf, in brackets (`[chan receive]`). The state as the leaf keeps goroutines that run the
//! same code in one tower and shows, at its tip, what they wait for; formats without states
//! (pprof `debug=1` and protobuf) simply end at the innermost frame.
//!
//! Several snapshots are merged: counts of equal paths are summed.

use crate::{RenderOptions, Renderer, Subject};
use goroscope_analyze::{DiffReport, Report, TrendReport};
use goroscope_model::{Entry, Goroutine, Interner, Snapshot, StackId, Status, Sym};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

/// `folded`: the folded stacks of the snapshots (`path before after` for a diff).
pub(crate) struct Folded;

impl Renderer for Folded {
    fn name(&self) -> &'static str {
        "folded"
    }
    fn supports(&self, _: Subject) -> bool {
        true
    }
    fn about(&self, subject: Subject) -> &'static str {
        match subject {
            Subject::Report => "stacks for flame graph tools",
            Subject::Diff => "`path before after` stacks",
            Subject::Trend => "stacks of the last snapshot",
        }
    }
    fn report(
        &self,
        w: &mut dyn Write,
        reports: &[Report],
        snapshots: &[Snapshot],
        opts: &RenderOptions,
    ) -> io::Result<()> {
        write_folded(w, crate::stack_snapshots(reports, snapshots), &opts.fold)
    }
    fn diff(
        &self,
        w: &mut dyn Write,
        _diff: &DiffReport,
        snapshots: &[Snapshot],
        opts: &RenderOptions,
    ) -> io::Result<()> {
        if let [before, after] = snapshots {
            return write_folded_diff(w, before, after, &opts.fold);
        }
        let last = crate::last_snapshot(snapshots, "folded", "diff (AFTER)")?;
        write_folded(w, [last], &opts.fold)
    }
    fn trend(
        &self,
        w: &mut dyn Write,
        _trend: &TrendReport,
        snapshots: &[Snapshot],
        opts: &RenderOptions,
    ) -> io::Result<()> {
        let last = crate::last_snapshot(snapshots, "folded", "trend (last snapshot)")?;
        write_folded(w, [last], &opts.fold)
    }
}

/// How to fold stacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoldOptions {
    /// End each path with the goroutine's state (`[chan receive]`) when the format has one.
    pub state_leaf: bool,
    /// Name frames `function (file:line)` instead of `function`: finer towers, one per call site.
    pub lines: bool,
}

impl Default for FoldOptions {
    fn default() -> Self {
        FoldOptions {
            state_leaf: true,
            lines: false,
        }
    }
}

/// What aggregates within one snapshot before any string is built: a million goroutines share
/// a few hundred (stack, state) pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Leaf {
    None,
    /// Interned state text.
    State(Sym, bool),
    /// No state text, but a known status.
    Status(Status, bool),
}

fn leaf_of(g: &Goroutine) -> Leaf {
    if g.state != Interner::EMPTY {
        Leaf::State(g.state, g.leaked)
    } else if g.status != Status::Unknown {
        Leaf::Status(g.status, g.leaked)
    } else if g.leaked {
        Leaf::Status(Status::Leaked, false)
    } else {
        Leaf::None
    }
}

/// Makes a frame name safe for the folded format: `;` separates frames and a line break ends a
/// record, so neither may appear inside a name (Go prints `go.shape.struct { a int; b int }` in
/// generic instantiations).
pub(crate) fn push_clean(out: &mut String, name: &str) {
    for c in name.chars() {
        match c {
            ';' => out.push(','),
            '\n' | '\r' | '\t' => out.push(' '),
            // Control characters (an ESC from a hostile dump) as visible escapes: they would
            // reach the terminal of whoever reads the stacks, and make the SVG invalid XML.
            c if crate::escape::is_control(c) => {
                out.push_str(&crate::escape::controls(c.encode_utf8(&mut [0; 4])))
            }
            c => out.push(c),
        }
    }
}

fn push_frames(out: &mut String, snap: &Snapshot, stack: StackId, opts: &FoldOptions) {
    for (i, &f) in snap.stack(stack).iter().rev().enumerate() {
        if i > 0 {
            out.push(';');
        }
        let site = snap.frame_site(f);
        push_clean(out, site.function);
        if opts.lines && !site.file.is_empty() {
            out.push_str(" (");
            push_clean(out, site.file);
            out.push(':');
            out.push_str(&site.line.to_string());
            out.push(')');
        }
    }
}

fn path(snap: &Snapshot, stack: StackId, leaf: Leaf, opts: &FoldOptions) -> String {
    let mut out = String::new();
    push_frames(&mut out, snap, stack, opts);
    let leaf_text = match leaf {
        Leaf::None => None,
        Leaf::State(s, leaked) => Some((snap.str(s).to_string(), leaked)),
        Leaf::Status(s, leaked) => Some((s.as_str().to_string(), leaked)),
    };
    if let Some((text, leaked)) = leaf_text {
        if !out.is_empty() {
            out.push(';');
        }
        out.push('[');
        push_clean(&mut out, &text);
        if leaked && text != "leaked" {
            out.push_str(" (leaked)");
        }
        out.push(']');
    }
    if out.is_empty() {
        out.push_str("[no stack]");
    }
    out
}

/// Which goroutines to keep: called once per entry (goroutine or aggregated record).
pub type Keep<'k> = &'k dyn Fn(&Snapshot, &Entry<'_>) -> bool;

/// The folded paths of `snapshots` with their goroutine counts, sorted by path.
pub fn fold<'a>(
    snapshots: impl IntoIterator<Item = &'a Snapshot>,
    opts: &FoldOptions,
) -> Vec<(String, u64)> {
    fold_where(snapshots, opts, &|_, _| true)
}

/// [`fold`] of only the entries `keep` accepts (e.g. the goroutines of leak groups).
pub fn fold_where<'a>(
    snapshots: impl IntoIterator<Item = &'a Snapshot>,
    opts: &FoldOptions,
    keep: Keep<'_>,
) -> Vec<(String, u64)> {
    let mut merged: BTreeMap<String, u64> = BTreeMap::new();
    for snap in snapshots {
        let mut per_key: HashMap<(StackId, Leaf), u64> = HashMap::new();
        for e in snap.entries() {
            if !keep(snap, &e) {
                continue;
            }
            let leaf = match (opts.state_leaf, e.goroutine) {
                (true, Some(g)) => leaf_of(g),
                _ => Leaf::None,
            };
            *per_key.entry((e.stack, leaf)).or_default() += e.count;
        }
        for ((stack, leaf), count) in per_key {
            if count == 0 {
                continue;
            }
            *merged.entry(path(snap, stack, leaf, opts)).or_default() += count;
        }
    }
    merged.into_iter().collect()
}

/// Writes `path count` lines.
pub fn write_folded<'a>(
    w: &mut dyn Write,
    snapshots: impl IntoIterator<Item = &'a Snapshot>,
    opts: &FoldOptions,
) -> io::Result<()> {
    for (p, n) in fold(snapshots, opts) {
        writeln!(w, "{p} {n}")?;
    }
    Ok(())
}

/// Differential folded stacks: each path with its count in BEFORE and in AFTER
/// (`path before after`), the input of a differential flame graph.
pub fn fold_diff(
    before: &Snapshot,
    after: &Snapshot,
    opts: &FoldOptions,
) -> Vec<(String, u64, u64)> {
    let mut merged: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (p, n) in fold([before], opts) {
        merged.entry(p).or_default().0 = n;
    }
    for (p, n) in fold([after], opts) {
        merged.entry(p).or_default().1 = n;
    }
    merged.into_iter().map(|(p, (b, a))| (p, b, a)).collect()
}

/// Writes `path before after` lines.
pub fn write_folded_diff(
    w: &mut dyn Write,
    before: &Snapshot,
    after: &Snapshot,
    opts: &FoldOptions,
) -> io::Result<()> {
    for (p, b, a) in fold_diff(before, after, opts) {
        writeln!(w, "{p} {b} {a}")?;
    }
    Ok(())
}

/// A differential flame graph: frames are as wide as in AFTER and coloured by change, red for
/// goroutines gained since BEFORE, blue for goroutines lost (paths only in BEFORE have no width).
pub fn write_flamegraph_diff(
    w: &mut dyn Write,
    before: &Snapshot,
    after: &Snapshot,
    opts: &FlameOptions,
) -> io::Result<()> {
    let lines: Vec<String> = fold_diff(before, after, &opts.fold)
        .into_iter()
        .map(|(p, b, a)| format!("{p} {b} {a}"))
        .collect();
    if !lines.iter().any(|l| !l.ends_with(" 0")) {
        return write_empty_svg(w, &opts.title);
    }
    draw(w, &lines, opts, false)
}

/// How to draw the flame graph.
#[derive(Debug, Clone)]
pub struct FlameOptions {
    pub title: String,
    pub subtitle: Option<String>,
    /// Width in pixels; `None` for inferno's default (1200).
    pub width: Option<usize>,
    /// Leave out inferno's embedded JavaScript (search, zoom): for inlining the SVG into an HTML
    /// page, where each frame's `<title>` still gives a tooltip.
    pub no_javascript: bool,
    pub fold: FoldOptions,
}

impl Default for FlameOptions {
    fn default() -> Self {
        FlameOptions {
            title: "Goroutines".to_string(),
            subtitle: None,
            width: None,
            no_javascript: false,
            fold: FoldOptions::default(),
        }
    }
}

/// Draws a flame graph of `snapshots` as SVG. A snapshot with no goroutines still gives a
/// valid SVG that says so, not an error.
pub fn write_flamegraph<'a>(
    w: &mut dyn Write,
    snapshots: impl IntoIterator<Item = &'a Snapshot>,
    opts: &FlameOptions,
) -> io::Result<()> {
    let lines: Vec<String> = fold(snapshots, &opts.fold)
        .into_iter()
        .map(|(p, n)| format!("{p} {n}"))
        .collect();
    if lines.is_empty() {
        return write_empty_svg(w, &opts.title);
    }
    draw(w, &lines, opts, true)
}

fn draw(
    w: &mut dyn Write,
    lines: &[String],
    opts: &FlameOptions,
    state_colours: bool,
) -> io::Result<()> {
    let mut o = inferno::flamegraph::Options::default();
    o.title = crate::escape::controls(&opts.title).into_owned();
    o.subtitle = opts
        .subtitle
        .as_deref()
        .map(|s| crate::escape::controls(s).into_owned());
    o.image_width = opts.width;
    o.count_name = "goroutines".to_string();
    o.name_type = "Function:".to_string();
    o.colors =
        inferno::flamegraph::color::Palette::Basic(inferno::flamegraph::color::BasicPalette::Aqua);
    // Same name, same colour, in every run: reports and snapshot tests stay stable.
    o.hash = true;
    o.deterministic = true;
    o.no_javascript = opts.no_javascript;
    // Lines are already sorted and merged by `fold`.
    o.no_sort = true;
    // inferno wants an io::Write by value; write into a buffer so a broken pipe surfaces once,
    // as the caller's error.
    let mut buf = Vec::with_capacity(64 * 1024);
    inferno::flamegraph::from_lines(&mut o, lines.iter().map(String::as_str), &mut buf)?;
    if state_colours && opts.fold.state_leaf {
        let svg = String::from_utf8_lossy(&buf);
        return w.write_all(colour_states(&svg).as_bytes());
    }
    w.write_all(&buf)
}

/// Gives the `[state]` leaves their own colours so they stand apart from code frames: red for
/// goroutines the runtime proved leaked, grey for waiting, green for running or runnable.
fn colour_states(svg: &str) -> String {
    const MARK: &str = "<g><title>[";
    let mut out = String::with_capacity(svg.len());
    let mut rest = svg;
    while let Some(at) = rest.find(MARK) {
        let end = rest[at..].find("</g>").map_or(rest.len(), |e| at + e);
        let frame = &rest[at..end];
        let title_end = frame.find("</title>").unwrap_or(frame.len());
        let state = &frame[MARK.len()..title_end];
        let colour = if state.contains("leaked") {
            "rgb(229,115,115)"
        } else if state.starts_with("running") || state.starts_with("runnable") {
            "rgb(129,199,132)"
        } else {
            "rgb(200,200,200)"
        };
        out.push_str(&rest[..at]);
        match frame.find(" fill=\"") {
            Some(f) => {
                let v = f + " fill=\"".len();
                let close = frame[v..].find('"').map_or(frame.len(), |c| v + c);
                out.push_str(&frame[..v]);
                out.push_str(colour);
                out.push_str(&frame[close..]);
            }
            None => out.push_str(frame),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn write_empty_svg(w: &mut dyn Write, title: &str) -> io::Result<()> {
    write!(
        w,
        concat!(
            "<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"60\" ",
            "viewBox=\"0 0 600 60\"><title>{t}</title>",
            "<text x=\"300\" y=\"35\" text-anchor=\"middle\" font-family=\"Verdana\" font-size=\"14\">",
            "{t}: no goroutines</text></svg>\n"
        ),
        t = crate::escape::xml(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use goroscope_model::{Format, Frame, Goid, ProfileKind, Record, Source, StateText};

    pub(crate) fn snap() -> Snapshot {
        let mut s = Snapshot::new(Source {
            input: "t".into(),
            index: 0,
            line: None,
            format: Format::Debug2,
            kind: ProfileKind::Goroutine,
        });
        let fr = |s: &mut Snapshot, name: &str, line| {
            let function = s.interner.intern_str(name);
            let file = s.interner.intern_str("/src/main.go");
            s.interner.intern_frame(Frame {
                function,
                file,
                line,
                offset: None,
                inlined: false,
            })
        };
        let a = fr(&mut s, "main.worker", 10);
        let b = fr(&mut s, "main.main.func1", 20);
        let c = fr(&mut s, "main.F[go.shape.struct { a int; b int }]", 30);
        let st = s.interner.intern_stack(&[a, b]);
        let st2 = s.interner.intern_stack(&[c]);
        for i in 0..3 {
            let mut g = Goroutine::new(Goid(i), st);
            g.set_state(
                &StateText::parse("chan receive, 5 minutes"),
                &mut s.interner,
            );
            s.goroutines.push(g);
        }
        let mut g = Goroutine::new(Goid(9), st2);
        g.set_state(&StateText::parse("select (leaked)"), &mut s.interner);
        s.goroutines.push(g);
        s.records.push(Record {
            count: 4,
            stack: st,
            labels: Interner::NO_LABELS,
        });
        s
    }

    #[test]
    fn folds_root_first_with_state_leaf_and_merges() {
        let s = snap();
        let lines = fold(std::slice::from_ref(&s), &FoldOptions::default());
        assert_eq!(
            lines,
            vec![
                (
                    "main.F[go.shape.struct { a int, b int }];[select (leaked)]".to_string(),
                    1
                ),
                ("main.main.func1;main.worker".to_string(), 4),
                ("main.main.func1;main.worker;[chan receive]".to_string(), 3),
            ]
        );
        let two = fold(
            &[s.clone(), s],
            &FoldOptions {
                state_leaf: false,
                lines: true,
            },
        );
        assert_eq!(
            two[1],
            (
                "main.main.func1 (/src/main.go:20);main.worker (/src/main.go:10)".to_string(),
                14
            )
        );
    }

    #[test]
    fn differential_folding_and_flamegraph() {
        let before = snap();
        let mut after = snap();
        let g = after.goroutines[0].clone();
        after.goroutines.push(g);
        let d = fold_diff(&before, &after, &FoldOptions::default());
        assert!(d.contains(&(
            "main.main.func1;main.worker;[chan receive]".to_string(),
            3,
            4
        )));
        let mut out = Vec::new();
        write_flamegraph_diff(&mut out, &before, &after, &FlameOptions::default()).unwrap();
        let svg = String::from_utf8(out).unwrap();
        assert!(svg.contains("main.worker"), "{svg}");
        assert!(
            svg.contains("+1") || svg.contains("+25"),
            "differential titles:\n{svg}"
        );
    }

    #[test]
    fn state_leaves_get_their_own_colours() {
        let svg = concat!(
            "<svg><g><title>main.f (3 goroutines)</title><rect fill=\"rgb(1,2,3)\"/></g>",
            "<g><title>[chan receive (leaked)] (1 goroutines)</title><rect fill=\"rgb(1,2,3)\"/></g>",
            "<g><title>[select] (2 goroutines)</title><rect fill=\"rgb(1,2,3)\"/></g></svg>"
        );
        let out = colour_states(svg);
        assert!(out.contains("main.f (3 goroutines)</title><rect fill=\"rgb(1,2,3)\""));
        assert!(out.contains("(leaked)] (1 goroutines)</title><rect fill=\"rgb(229,115,115)\""));
        assert!(out.contains("[select] (2 goroutines)</title><rect fill=\"rgb(200,200,200)\""));
    }

    #[test]
    fn flamegraph_is_svg_with_frames() {
        let s = snap();
        let mut out = Vec::new();
        write_flamegraph(&mut out, std::slice::from_ref(&s), &FlameOptions::default()).unwrap();
        let svg = String::from_utf8(out).unwrap();
        assert!(svg.contains("<svg"), "{svg}");
        assert!(svg.contains("main.worker"));
        assert!(svg.contains("[chan receive]"));
        let mut empty = Vec::new();
        let e = Snapshot::new(s.source.clone());
        write_flamegraph(&mut empty, &[e], &FlameOptions::default()).unwrap();
        assert!(String::from_utf8(empty).unwrap().contains("no goroutines"));
    }
}
