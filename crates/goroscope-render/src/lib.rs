//! Reports people and tools read, from goroscope's analysis and snapshots.
//!
//! Every output form is one [`Renderer`]: a type in its own module that says which subjects it
//! writes ([`Subject::Report`] for `analyze`, [`Subject::Diff`], [`Subject::Trend`]) and
//! implements those; the trait's default for the others is an "unsupported" error. The forms
//! are listed once, in [`RENDERERS`]: adding an output is one file and one line there, and the
//! CLI's `--output` values and `--help` text for each command come from that table.
//! [`OutputFormat`] is a handle to one entry, found by name with `FromStr`.
//!
//! Renderers only present: every judgement (verdicts, patterns, explanations, fixes) comes from
//! the report types of `goroscope-analyze`. Everything from a dump is untrusted text: the
//! human-readable forms show control characters escaped ([`escape::controls`]), the markup
//! forms escape markup too.
//!
//! | format | report (`analyze`) | diff | trend |
//! |---|---|---|---|
//! | `terminal` | findings, then a table of the rest | new / grown groups | growing groups |
//! | `json` | one document per report; an array when several | one document | one document |
//! | `markdown` | summary table, findings with stacks | table of changes | table of groups |
//! | `html` | one self-contained page: flame graph, groups, stacks | — | — |
//! | `svg` | flame graph of the snapshots | differential flame graph | last snapshot |
//! | `folded` | folded stacks of the snapshots | `path before after` | last snapshot |
//! | `pprof` | gzipped goroutine profile, verdicts as labels | AFTER's profile | last snapshot |
//! | `junit` | one testcase per finding | one per new/grown group | one per growing group |
//! | `dot` | the wait-for graph of the relations (Graphviz) | — | — |
//!
//! Errors are the writer's: a closed pipe comes back as [`io::ErrorKind::BrokenPipe`] for the
//! caller to treat as the normal end it is.

mod dot;
pub mod escape;
pub mod folded;
mod html;
mod json;
mod junit;
mod lifecycle;
mod markdown;
pub mod pprof_out;
mod svg;
mod terminal;
mod text;

pub use folded::{
    fold, fold_diff, fold_where, write_flamegraph, write_flamegraph_diff, write_folded,
    write_folded_diff, FlameOptions, FoldOptions, Keep,
};

use goroscope_analyze::{DiffReport, Group, Report, TrendReport, Verdict};
use goroscope_model::Snapshot;
use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

/// What a renderer is asked to write: the result of `analyze`, of `diff` or of `trend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    /// [`Report`]s of one or more snapshots (`analyze`, `attach`, `run`).
    Report,
    /// A [`DiffReport`].
    Diff,
    /// A [`TrendReport`].
    Trend,
}

impl Subject {
    pub const ALL: [Subject; 3] = [Subject::Report, Subject::Diff, Subject::Trend];

    /// The command that makes it, for messages.
    pub fn command(self) -> &'static str {
        match self {
            Subject::Report => "analyze",
            Subject::Diff => "diff",
            Subject::Trend => "trend",
        }
    }
}

/// One output form. Implement the subjects it supports and say so in [`Renderer::supports`];
/// the other methods keep their default, an [`io::ErrorKind::Unsupported`] error naming the
/// form and the command.
pub trait Renderer: Sync {
    /// The `--output` name.
    fn name(&self) -> &'static str;
    /// Other names `--output` accepts.
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }
    /// Whether it writes `subject`.
    fn supports(&self, subject: Subject) -> bool;
    /// What it writes for `subject`, a few words for `--help`.
    fn about(&self, subject: Subject) -> &'static str;
    /// Binary output, not for a terminal.
    fn is_binary(&self) -> bool {
        false
    }
    /// Writes the analysis of one or more snapshots. `snapshots` are the snapshots the reports
    /// were made from (matched to reports by source input, index and format, so a
    /// goroutineleak profile that only served as proof may be among them).
    fn report(
        &self,
        _w: &mut dyn Write,
        _reports: &[Report],
        _snapshots: &[Snapshot],
        _opts: &RenderOptions,
    ) -> io::Result<()> {
        Err(unsupported(self.name(), Subject::Report))
    }
    /// Writes a diff; `snapshots` is `[before, after]` (or empty).
    fn diff(
        &self,
        _w: &mut dyn Write,
        _diff: &DiffReport,
        _snapshots: &[Snapshot],
        _opts: &RenderOptions,
    ) -> io::Result<()> {
        Err(unsupported(self.name(), Subject::Diff))
    }
    /// Writes a trend; `snapshots` are the trend's inputs in order (or empty).
    fn trend(
        &self,
        _w: &mut dyn Write,
        _trend: &TrendReport,
        _snapshots: &[Snapshot],
        _opts: &RenderOptions,
    ) -> io::Result<()> {
        Err(unsupported(self.name(), Subject::Trend))
    }
}

/// Every output form, in the order `--help` lists them. One line per form.
pub static RENDERERS: &[&dyn Renderer] = &[
    &terminal::Terminal,
    &json::Json,
    &markdown::Markdown,
    &html::Html,
    &svg::Svg,
    &folded::Folded,
    &pprof_out::Pprof,
    &junit::Junit,
    &dot::Dot,
];

/// An output form: a handle to one of [`RENDERERS`].
#[derive(Clone, Copy)]
pub struct OutputFormat(&'static dyn Renderer);

impl OutputFormat {
    pub const TERMINAL: OutputFormat = OutputFormat(&terminal::Terminal);
    pub const JSON: OutputFormat = OutputFormat(&json::Json);
    pub const MARKDOWN: OutputFormat = OutputFormat(&markdown::Markdown);
    pub const HTML: OutputFormat = OutputFormat(&html::Html);
    pub const SVG: OutputFormat = OutputFormat(&svg::Svg);
    pub const FOLDED: OutputFormat = OutputFormat(&folded::Folded);
    pub const PPROF: OutputFormat = OutputFormat(&pprof_out::Pprof);
    pub const JUNIT: OutputFormat = OutputFormat(&junit::Junit);
    pub const DOT: OutputFormat = OutputFormat(&dot::Dot);

    /// Every form, in the order `--help` lists them.
    pub fn all() -> impl Iterator<Item = OutputFormat> {
        RENDERERS.iter().map(|&r| OutputFormat(r))
    }

    /// The forms that write `subject`.
    pub fn supporting(subject: Subject) -> impl Iterator<Item = OutputFormat> {
        Self::all().filter(move |f| f.supports(subject))
    }

    pub fn renderer(self) -> &'static dyn Renderer {
        self.0
    }

    pub fn as_str(self) -> &'static str {
        self.0.name()
    }

    /// Whether the output is binary (not for a terminal).
    pub fn is_binary(self) -> bool {
        self.0.is_binary()
    }

    pub fn supports(self, subject: Subject) -> bool {
        self.0.supports(subject)
    }

    /// Parses a name or alias, accepting only forms that write `subject`.
    pub fn parse_for(s: &str, subject: Subject) -> Result<OutputFormat, UnknownFormat> {
        let f: OutputFormat = s.parse()?;
        if f.supports(subject) {
            Ok(f)
        } else {
            Err(UnknownFormat {
                name: s.to_string(),
                subject: Some(subject),
            })
        }
    }
}

impl PartialEq for OutputFormat {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for OutputFormat {}

impl std::hash::Hash for OutputFormat {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl fmt::Debug for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OutputFormat({})", self.as_str())
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown `--output` name, or one the command cannot write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFormat {
    pub name: String,
    /// The command it was asked of, when the name is known but not supported there.
    pub subject: Option<Subject>,
}

impl fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |s: Option<Subject>| {
            OutputFormat::all()
                .filter(|o| s.is_none_or(|s| o.supports(s)))
                .map(|o| o.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self.subject {
            None => write!(
                f,
                "unknown output format {:?}; expected one of: {}",
                self.name,
                names(None)
            ),
            Some(s) => write!(
                f,
                "{} cannot write --output {}; it writes: {}",
                s.command(),
                self.name,
                names(Some(s))
            ),
        }
    }
}

impl std::error::Error for UnknownFormat {}

impl FromStr for OutputFormat {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        Self::all()
            .find(|f| f.as_str() == lower || f.0.aliases().contains(&lower.as_str()))
            .ok_or_else(|| UnknownFormat {
                name: s.to_string(),
                subject: None,
            })
    }
}

/// How to render.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// ANSI colours in terminal output (the CLI decides from `--color`, `NO_COLOR` and whether
    /// stdout is a terminal).
    pub color: bool,
    /// Terminal width in columns (at least 40 is used).
    pub width: usize,
    /// Show this many findings in full and this many rows in each table (`--top N`); `None`:
    /// [`RenderOptions::DEFAULT_FULL_FINDINGS`] and [`RenderOptions::DEFAULT_OTHER_ROWS`], or
    /// everything when verbose. Whatever is left out is counted ("…and N more").
    pub top: Option<usize>,
    /// Detail in the terminal report (`-v` is 1, `-vv` 2). 0: what a person needs to act, and
    /// the labels; 1: also each finding's evidence, goroutine ids and stack, every row of every
    /// table; 2: also every warning, every goroutine id kept, and the other groups in full.
    pub verbose: u8,
    /// How folded stacks, flame graphs and the HTML report's flame graph fold frames.
    pub fold: FoldOptions,
    /// Pretty-print JSON (the default); compact puts each document on one line.
    pub json_pretty: bool,
}

impl RenderOptions {
    /// Rows of each terminal table without `--top` or `--verbose`.
    pub const DEFAULT_OTHER_ROWS: usize = 10;
    /// Findings shown in full in the terminal without `--top` or `--verbose`; the rest are
    /// listed one line each.
    pub const DEFAULT_FULL_FINDINGS: usize = 10;

    pub(crate) fn full_findings(&self) -> usize {
        match (self.top, self.verbose) {
            (Some(t), _) => t,
            (None, 0) => Self::DEFAULT_FULL_FINDINGS,
            (None, _) => usize::MAX,
        }
    }

    pub(crate) fn table_rows(&self) -> usize {
        match (self.top, self.verbose) {
            (Some(t), _) => t,
            (None, 0) => Self::DEFAULT_OTHER_ROWS,
            (None, _) => usize::MAX,
        }
    }

    pub(crate) fn width(&self) -> usize {
        self.width.max(40)
    }
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            color: false,
            width: 80,
            top: None,
            verbose: 0,
            fold: FoldOptions::default(),
            json_pretty: true,
        }
    }
}

/// Writes the analysis of one or more snapshots in `format` (see [`Renderer::report`]).
pub fn render(
    w: &mut dyn Write,
    format: OutputFormat,
    reports: &[Report],
    snapshots: &[Snapshot],
    opts: &RenderOptions,
) -> io::Result<()> {
    format.0.report(w, reports, snapshots, opts)
}

/// Writes a diff in `format` (see [`Renderer::diff`]). `snapshots` is `[before, after]` (or
/// empty). `svg` is a differential flame graph (widths from AFTER, red for growth, blue for
/// shrinkage) and `folded` gives `path before after` lines; `pprof` is the AFTER snapshot's
/// profile (compare with `go tool pprof -diff_base`).
pub fn render_diff(
    w: &mut dyn Write,
    format: OutputFormat,
    diff: &DiffReport,
    snapshots: &[Snapshot],
    opts: &RenderOptions,
) -> io::Result<()> {
    format.0.diff(w, diff, snapshots, opts)
}

/// Writes a trend in `format` (see [`Renderer::trend`]). `snapshots` are the trend's inputs in
/// order (or empty); the stack-based formats show the last one.
pub fn render_trend(
    w: &mut dyn Write,
    format: OutputFormat,
    trend: &TrendReport,
    snapshots: &[Snapshot],
    opts: &RenderOptions,
) -> io::Result<()> {
    format.0.trend(w, trend, snapshots, opts)
}

/// The last of `snapshots`, for the stack-based forms of a diff or trend, or an error saying
/// they are needed.
pub(crate) fn last_snapshot<'a>(
    snapshots: &'a [Snapshot],
    format: &str,
    what: &str,
) -> io::Result<&'a Snapshot> {
    snapshots.last().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("--output {format} needs the snapshots of the {what}"),
        )
    })
}

/// The error of a [`Renderer`] method for a subject it does not write.
pub fn unsupported(format: &str, subject: Subject) -> io::Error {
    let supported: Vec<&str> = OutputFormat::supporting(subject)
        .map(|f| f.as_str())
        .collect();
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "--output {format} is not available for {}; use {}",
            subject.command(),
            supported.join(", ")
        ),
    )
}

/// `value` with control characters escaped in every string ([`escape::controls_in`]), for the
/// human-readable forms; borrowed when there were none.
pub(crate) fn clean<T>(value: &T) -> io::Result<std::borrow::Cow<'_, T>>
where
    T: Clone + serde::Serialize + serde::de::DeserializeOwned,
{
    match escape::controls_in(value) {
        Ok(Some(v)) => Ok(std::borrow::Cow::Owned(v)),
        Ok(None) => Ok(std::borrow::Cow::Borrowed(value)),
        Err(e) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("cannot escape the report's text: {e}"),
        )),
    }
}

/// [`clean`] over a slice.
pub(crate) fn clean_all<T>(values: &[T]) -> io::Result<std::borrow::Cow<'_, [T]>>
where
    T: Clone + serde::Serialize + serde::de::DeserializeOwned,
{
    let mut out: Option<Vec<T>> = None;
    for (i, v) in values.iter().enumerate() {
        if let std::borrow::Cow::Owned(c) = clean(v)? {
            out.get_or_insert_with(|| values.to_vec())[i] = c;
        }
    }
    Ok(match out {
        Some(v) => std::borrow::Cow::Owned(v),
        None => std::borrow::Cow::Borrowed(values),
    })
}

/// The snapshot a report was made from: same input, position and format (a goroutineleak
/// profile that only proved other snapshots has no report of its own).
pub(crate) fn snapshot_of<'a>(r: &Report, snapshots: &'a [Snapshot]) -> Option<&'a Snapshot> {
    snapshots.iter().find(|s| {
        s.source.input == r.source.input
            && s.source.index == r.source.index
            && s.source.format.as_str() == r.source.format
    })
}

/// The snapshots the stack-based formats draw: those the reports were made from, or every
/// snapshot when no report names one (e.g. the caller rendered without analysing).
pub(crate) fn stack_snapshots<'a>(
    reports: &[Report],
    snapshots: &'a [Snapshot],
) -> Vec<&'a Snapshot> {
    let matched: Vec<&Snapshot> = reports
        .iter()
        .filter_map(|r| snapshot_of(r, snapshots))
        .collect();
    if matched.is_empty() {
        snapshots.iter().collect()
    } else {
        matched
    }
}

/// Findings (leaks, then suspects) before the rest, proven leaks first; the order within each
/// class is the report's (by count).
pub(crate) fn ordered(groups: &[Group]) -> Vec<&Group> {
    let mut v: Vec<&Group> = groups.iter().collect();
    v.sort_by_key(|g| (std::cmp::Reverse(g.verdict.rank()), !g.proven));
    v
}

pub(crate) fn is_finding(g: &Group) -> bool {
    matches!(g.verdict, Verdict::Leak | Verdict::Suspect)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for f in OutputFormat::all() {
            assert_eq!(f.as_str().parse::<OutputFormat>().unwrap(), f);
            for a in f.renderer().aliases() {
                assert_eq!(a.parse::<OutputFormat>().unwrap(), f, "alias {a}");
            }
        }
        assert_eq!(
            "MD".parse::<OutputFormat>().unwrap(),
            OutputFormat::MARKDOWN
        );
        let e = "yaml".parse::<OutputFormat>().unwrap_err().to_string();
        assert!(e.contains("yaml") && e.contains("junit"), "{e}");
        let e = OutputFormat::parse_for("html", Subject::Diff)
            .unwrap_err()
            .to_string();
        assert!(e.contains("diff cannot write --output html"), "{e}");
        assert!(e.contains("terminal") && !e.contains("html,"), "{e}");
    }

    #[test]
    fn names_and_aliases_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for r in RENDERERS {
            for n in std::iter::once(&r.name()).chain(r.aliases()) {
                assert!(seen.insert(*n), "{n} names two renderers");
                assert_eq!(*n, n.to_ascii_lowercase(), "names are lower case");
            }
            for s in Subject::ALL {
                assert!(
                    !r.about(s).is_empty() || !r.supports(s),
                    "{} {s:?}",
                    r.name()
                );
            }
        }
    }
}
