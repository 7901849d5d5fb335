//! Reports people and tools read, from goroscope's analysis and snapshots.
//!
//! One entry point per kind of analysis — [`render`] for `analyze`, [`render_diff`] and
//! [`render_trend`] — each taking an [`OutputFormat`] and [`RenderOptions`]. Renderers only
//! present: every judgement (verdicts, patterns, explanations) comes from the report.

pub mod escape;
pub mod folded;

pub use folded::{fold, write_flamegraph, write_folded, FlameOptions, FoldOptions};
