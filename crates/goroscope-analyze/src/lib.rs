//! Explains goroutine leaks: groups the goroutines of a [`goroscope_model::Snapshot`], applies
//! leak rules, takes runtime proofs into account, and compares snapshots (diff, trend).
//!
//! The result types in [`report`] are owned and serializable; this crate prints nothing.

pub mod report;

pub use report::{
    diff_fails, fails, trend_fails, Change, DiffGroup, DiffReport, Group, Location, MinMax,
    ProofInfo, Report, Similarity, SourceInfo, StackFrame, Summary, TrendGroup, TrendReport,
    Verdict, SCHEMA_VERSION,
};
