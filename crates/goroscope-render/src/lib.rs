//! Reports people and tools read, from goroscope's analysis and snapshots.
//!
//! One entry point per kind of analysis — [`render`] for `analyze`, [`render_diff`] for `diff`
//! and [`render_trend`] for `trend` — each taking an [`OutputFormat`] and [`RenderOptions`].
//! Renderers only present: every judgement (verdicts, patterns, explanations, fixes) comes from
//! the report types of `goroscope-analyze`.
//!
//! | format | `render` | `render_diff` / `render_trend` |
//! |---|---|---|
//! | `terminal` | findings, then a table of the rest | changed / growing groups |
//! | `json` | one document per report; an array when several | one document |
//! | `markdown` | summary table, findings with stacks | table of changes |
//! | `html` | one self-contained page: flame graph, groups, stacks | — |
//! | `svg` | flame graph of the snapshots | diff: differential flame graph; trend: last snapshot |
//! | `folded` | folded stacks of the snapshots | diff: `path before after`; trend: last snapshot |
//! | `pprof` | gzipped goroutine profile of the snapshots | profile of AFTER / the last snapshot |
//! | `junit` | one testcase per finding | one testcase per new/grown or growing group |
//!
//! Errors are the writer's: a closed pipe comes back as [`io::ErrorKind::BrokenPipe`] for the
//! caller to treat as the normal end it is.

pub mod escape;
pub mod folded;
mod html;
mod json;
mod junit;
mod markdown;
pub mod pprof_out;
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

/// What to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    Terminal,
    Json,
    Markdown,
    Html,
    /// Flame graph SVG.
    Svg,
    /// Folded stacks (`a;b;c count`).
    Folded,
    /// Gzipped pprof protobuf goroutine profile (binary).
    Pprof,
    /// JUnit XML for CI systems.
    Junit,
}

impl OutputFormat {
    /// Every format, in the order `--help` lists them.
    pub const ALL: &'static [OutputFormat] = &[
        OutputFormat::Terminal,
        OutputFormat::Json,
        OutputFormat::Markdown,
        OutputFormat::Html,
        OutputFormat::Svg,
        OutputFormat::Folded,
        OutputFormat::Pprof,
        OutputFormat::Junit,
    ];

    /// The names `FromStr` accepts (also what clap shows as possible values).
    pub const NAMES: &'static [&'static str] = &[
        "terminal", "json", "markdown", "html", "svg", "folded", "pprof", "junit",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Terminal => "terminal",
            OutputFormat::Json => "json",
            OutputFormat::Markdown => "markdown",
            OutputFormat::Html => "html",
            OutputFormat::Svg => "svg",
            OutputFormat::Folded => "folded",
            OutputFormat::Pprof => "pprof",
            OutputFormat::Junit => "junit",
        }
    }

    /// Whether the output is binary (not for a terminal).
    pub fn is_binary(self) -> bool {
        self == OutputFormat::Pprof
    }

    /// Whether `render_diff` and `render_trend` support this format (all but `html`).
    pub fn supports_diff_and_trend(self) -> bool {
        self != OutputFormat::Html
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown `--output` name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownFormat(pub String);

impl fmt::Display for UnknownFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown output format {:?}; expected one of: {}",
            self.0,
            OutputFormat::NAMES.join(", ")
        )
    }
}

impl std::error::Error for UnknownFormat {}

impl FromStr for OutputFormat {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "terminal" | "text" | "term" => OutputFormat::Terminal,
            "json" => OutputFormat::Json,
            "markdown" | "md" => OutputFormat::Markdown,
            "html" => OutputFormat::Html,
            "svg" | "flamegraph" => OutputFormat::Svg,
            "folded" => OutputFormat::Folded,
            "pprof" | "proto" => OutputFormat::Pprof,
            "junit" | "junit-xml" => OutputFormat::Junit,
            _ => return Err(UnknownFormat(s.to_string())),
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
    /// everything with `verbose`. Whatever is left out is counted ("…and N more").
    pub top: Option<usize>,
    /// Evidence, goroutine ids, labels and full stacks in terminal output.
    pub verbose: bool,
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
            (None, true) => usize::MAX,
            (None, false) => Self::DEFAULT_FULL_FINDINGS,
        }
    }

    pub(crate) fn table_rows(&self) -> usize {
        match (self.top, self.verbose) {
            (Some(t), _) => t,
            (None, true) => usize::MAX,
            (None, false) => Self::DEFAULT_OTHER_ROWS,
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
            verbose: false,
            fold: FoldOptions::default(),
            json_pretty: true,
        }
    }
}

/// Writes the analysis of one or more snapshots. `snapshots` are the snapshots the reports were
/// made from (matched to reports by source input, index and format, so a goroutineleak profile
/// that only served as proof may be among them); the stack-based formats (`svg`, `folded`,
/// `pprof` and the HTML flame graph) use them, the others only read `reports`.
pub fn render(
    w: &mut dyn Write,
    format: OutputFormat,
    reports: &[Report],
    snapshots: &[Snapshot],
    opts: &RenderOptions,
) -> io::Result<()> {
    match format {
        OutputFormat::Terminal => terminal::reports(w, reports, opts),
        OutputFormat::Json => json::reports(w, reports, opts),
        OutputFormat::Markdown => markdown::reports(w, reports, opts),
        OutputFormat::Html => html::reports(w, reports, snapshots, opts),
        OutputFormat::Svg => {
            let title = flame_title(reports);
            folded::write_flamegraph(
                w,
                stack_snapshots(reports, snapshots),
                &FlameOptions {
                    title,
                    fold: opts.fold,
                    ..FlameOptions::default()
                },
            )
        }
        OutputFormat::Folded => {
            folded::write_folded(w, stack_snapshots(reports, snapshots), &opts.fold)
        }
        OutputFormat::Pprof => pprof_out::write(w, stack_snapshots(reports, snapshots)),
        OutputFormat::Junit => junit::reports(w, reports),
    }
}

/// Writes a diff. `snapshots` is `[before, after]` (or empty). `svg` is a differential flame
/// graph (widths from AFTER, red for growth, blue for shrinkage) and `folded` gives
/// `path before after` lines; `pprof` is the AFTER snapshot's profile (compare with
/// `go tool pprof -diff_base`).
pub fn render_diff(
    w: &mut dyn Write,
    format: OutputFormat,
    diff: &DiffReport,
    snapshots: &[Snapshot],
    opts: &RenderOptions,
) -> io::Result<()> {
    match format {
        OutputFormat::Terminal => terminal::diff(w, diff, opts),
        OutputFormat::Json => json::one(w, diff, opts),
        OutputFormat::Markdown => markdown::diff(w, diff, opts),
        OutputFormat::Junit => junit::diff(w, diff),
        OutputFormat::Html => Err(unsupported(format, "diff")),
        OutputFormat::Svg if snapshots.len() == 2 => folded::write_flamegraph_diff(
            w,
            &snapshots[0],
            &snapshots[1],
            &FlameOptions {
                title: format!(
                    "Goroutines: {} → {}",
                    snapshots[0].source.input, snapshots[1].source.input
                ),
                subtitle: Some("red: more goroutines in AFTER, blue: fewer".to_string()),
                fold: opts.fold,
                ..FlameOptions::default()
            },
        ),
        OutputFormat::Folded if snapshots.len() == 2 => {
            folded::write_folded_diff(w, &snapshots[0], &snapshots[1], &opts.fold)
        }
        OutputFormat::Svg | OutputFormat::Folded | OutputFormat::Pprof => {
            render_last(w, format, snapshots, "diff (AFTER)", opts)
        }
    }
}

/// Writes a trend. `snapshots` are the trend's inputs in order (or empty); the stack-based
/// formats show the last one.
pub fn render_trend(
    w: &mut dyn Write,
    format: OutputFormat,
    trend: &TrendReport,
    snapshots: &[Snapshot],
    opts: &RenderOptions,
) -> io::Result<()> {
    match format {
        OutputFormat::Terminal => terminal::trend(w, trend, opts),
        OutputFormat::Json => json::one(w, trend, opts),
        OutputFormat::Markdown => markdown::trend(w, trend, opts),
        OutputFormat::Junit => junit::trend(w, trend),
        OutputFormat::Html => Err(unsupported(format, "trend")),
        OutputFormat::Svg | OutputFormat::Folded | OutputFormat::Pprof => {
            render_last(w, format, snapshots, "trend (last snapshot)", opts)
        }
    }
}

fn render_last(
    w: &mut dyn Write,
    format: OutputFormat,
    snapshots: &[Snapshot],
    what: &str,
    opts: &RenderOptions,
) -> io::Result<()> {
    let last = snapshots.last().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("--output {format} needs the snapshots of the {what}"),
        )
    })?;
    let one = std::slice::from_ref(last);
    match format {
        OutputFormat::Svg => folded::write_flamegraph(
            w,
            one,
            &FlameOptions {
                title: format!("Goroutines: {}", last.source.input),
                fold: opts.fold,
                ..FlameOptions::default()
            },
        ),
        OutputFormat::Folded => folded::write_folded(w, one, &opts.fold),
        _ => pprof_out::write(w, one),
    }
}

fn unsupported(format: OutputFormat, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "--output {format} is not available for {what}; use terminal, json, markdown, junit, svg, folded or pprof"
        ),
    )
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
fn stack_snapshots<'a>(reports: &[Report], snapshots: &'a [Snapshot]) -> Vec<&'a Snapshot> {
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

fn flame_title(reports: &[Report]) -> String {
    match reports {
        [r] => format!("Goroutines: {}", r.source.input),
        _ => "Goroutines".to_string(),
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
        for (f, n) in OutputFormat::ALL.iter().zip(OutputFormat::NAMES) {
            assert_eq!(f.as_str(), *n);
            assert_eq!(n.parse::<OutputFormat>().unwrap(), *f);
        }
        let e = "yaml".parse::<OutputFormat>().unwrap_err().to_string();
        assert!(e.contains("yaml") && e.contains("junit"), "{e}");
    }
}
