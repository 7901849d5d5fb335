//! The owned, serializable result of an analysis.
//!
//! Everything here is self-contained (plain strings and numbers, no interner ids), so renderers
//! and library users need nothing but these types. Field names are part of the JSON contract
//! (`schema_version` 1): snake_case, additive changes only.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Version of the JSON document built from [`Report`], [`DiffReport`] and [`TrendReport`].
pub const SCHEMA_VERSION: u32 = 2;

/// How goroutines are grouped: the grouping key, from finest to coarsest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Similarity {
    /// Same functions, files and lines (offsets ignored), state and `created by` function.
    ExactStack,
    /// Same functions in the same order and the same state; lines, offsets and the creator
    /// ignored (so dumps of every form, with or without `created by`, agree).
    /// The default: a rebuilt binary or a different call line of one loop still groups together.
    #[default]
    IgnoreLines,
    /// Same blocking site (first frame outside runtime plumbing, by function) and state.
    BlockingSite,
    /// Same creation site (`created by` function) and state.
    CreationSite,
}

impl Similarity {
    pub fn as_str(self) -> &'static str {
        match self {
            Similarity::ExactStack => "exact_stack",
            Similarity::IgnoreLines => "ignore_lines",
            Similarity::BlockingSite => "blocking_site",
            Similarity::CreationSite => "creation_site",
        }
    }

    /// Parses the names `as_str` returns (also with `-` instead of `_`).
    pub fn parse(s: &str) -> Option<Similarity> {
        Some(match s.replace('-', "_").as_str() {
            "exact_stack" | "exact" => Similarity::ExactStack,
            "ignore_lines" | "lines" => Similarity::IgnoreLines,
            "blocking_site" | "blocking" => Similarity::BlockingSite,
            "creation_site" | "creation" | "created_by" => Similarity::CreationSite,
            _ => return None,
        })
    }
}

impl fmt::Display for Similarity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the analysis concluded about a group. Ordered by severity, like [`Verdict::rank`]:
/// `Benign < NeedMoreSamples < Suspect < Leak`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Healthy: known runtime/server idling, or ignored by configuration.
    Benign,
    /// More snapshots would decide (e.g. a worker pool that may or may not be growing).
    NeedMoreSamples,
    /// Heuristic evidence: worth a look, not proven.
    Suspect,
    /// Proven by the runtime, or unambiguous evidence (nil channel, `select {}`, a known leak
    /// signature, growth across snapshots).
    Leak,
}

impl Verdict {
    /// Severity: higher is worse (`benign` 0, `need-more-samples` 1, `suspect` 2, `leak` 3); the
    /// same order as the derived `Ord`.
    pub fn rank(self) -> u8 {
        match self {
            Verdict::Benign => 0,
            Verdict::NeedMoreSamples => 1,
            Verdict::Suspect => 2,
            Verdict::Leak => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Leak => "leak",
            Verdict::Suspect => "suspect",
            Verdict::NeedMoreSamples => "need-more-samples",
            Verdict::Benign => "benign",
        }
    }

    /// Parses `leak`, `suspect`, `need-more-samples`, `benign`.
    pub fn parse(s: &str) -> Option<Verdict> {
        Some(match s {
            "leak" => Verdict::Leak,
            "suspect" => Verdict::Suspect,
            "need-more-samples" | "need_more_samples" => Verdict::NeedMoreSamples,
            "benign" => Verdict::Benign,
            _ => return None,
        })
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A source location.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Location {
    pub function: String,
    /// Empty when the format does not carry files.
    pub file: String,
    /// 0 when unknown.
    pub line: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.file.is_empty() {
            f.write_str(&self.function)
        } else {
            write!(f, "{} ({}:{})", self.function, self.file, self.line)
        }
    }
}

/// One frame of a group's representative stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackFrame {
    pub function: String,
    pub file: String,
    pub line: u32,
    pub inlined: bool,
}

/// An inclusive range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinMax {
    pub min: u32,
    pub max: u32,
}

/// Where a report's snapshot came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    pub input: String,
    pub index: usize,
    /// `debug2`, `traceback`, `debug1`, `proto`, `attach`, `core`.
    pub format: String,
    /// `goroutine` or `goroutineleak`.
    pub kind: String,
}

/// Whether a runtime leak proof was available for this report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ProofInfo {
    pub available: bool,
    /// What proved: `(leaked) markers`, or the input of a goroutineleak profile.
    pub source: Option<String>,
}

/// Counts over the groups of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Summary {
    /// Groups with verdict `leak`.
    pub leaks: usize,
    /// Of those, groups proven by the runtime.
    pub proven_leaks: usize,
    pub suspects: usize,
    pub benign: usize,
    pub need_more_samples: usize,
    /// Goroutines in `leak` groups.
    pub leaked_goroutines: u64,
    /// Goroutines in `suspect` groups.
    pub suspect_goroutines: u64,
    /// Number of groups.
    pub groups: usize,
    /// Groups silenced by ignore rules or the baseline (still listed, verdict `benign`).
    pub ignored: usize,
}

/// A set of goroutines that look alike, with what the rules concluded about them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Stable signature: hex hash of the grouping key (function names, state), equal across
    /// snapshots and runs for the same code; used by diff and trend. The state is left out
    /// when nothing tells it (debug=1 hides the runtime frames); in a diff or trend where some
    /// snapshot has such a group, the groups with its frames in the others share its id.
    pub id: String,
    /// Exact number of goroutines.
    pub count: u64,
    /// Scheduler status (`waiting`, `running`, `unknown`, …); inferred when the format lacks it.
    pub status: String,
    /// Wait reason as the runtime words it; inferred from runtime frames for debug=1/proto.
    pub wait_reason: Option<String>,
    /// Whether `status`/`wait_reason` were inferred from frames rather than read from headers.
    pub state_inferred: bool,
    /// Minutes blocked (a lower bound: the runtime stamps it from GC cycles).
    pub wait_minutes: Option<MinMax>,
    pub top_frame: Option<Location>,
    /// First frame outside runtime/sync/internal plumbing: the user's line that blocks.
    pub blocking_site: Option<Location>,
    /// The `go` statement that started these goroutines.
    pub created_by: Option<Location>,
    /// A few creator goroutine ids (Go 1.21+ `in goroutine N`).
    pub creator_goids: Vec<u64>,
    /// Label key → distinct values seen in the group.
    pub labels: BTreeMap<String, Vec<String>>,
    /// Representative stack, innermost first.
    pub stack: Vec<StackFrame>,
    /// Goroutine ids (empty for aggregated formats), at most `Options::max_goids`.
    pub goids: Vec<u64>,
    pub goids_truncated: bool,
    pub verdict: Verdict,
    /// The rule id that decided (`chan-receive-no-sender`, …), or the benign entry's id.
    pub pattern: Option<String>,
    /// Proven leaked by the runtime (`(leaked)` marker or goroutineleak profile).
    pub proven: bool,
    /// One sentence on why.
    pub explanation: Option<String>,
    /// How to fix it.
    pub fix: Option<String>,
    /// The facts that decided the verdict.
    pub evidence: Vec<String>,
    /// For `need-more-samples`: the one step that would decide it.
    #[serde(default)]
    pub next_step: Option<String>,
    /// Ids of the report's `relations` this group takes part in.
    #[serde(default)]
    pub relations: Vec<String>,
}

/// A relation between goroutines: a deadlock, a lock chain, a program in which nothing can run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relation {
    /// `deadlock-N`, `lock-chain-N`, `stuck-1`.
    pub id: String,
    /// `deadlock`, `lock-chain` or `stuck`.
    pub kind: String,
    /// Every wait object was named by the runtime and every lock had a single holder candidate
    /// (else the relation is probable: holders are inferred from method receivers).
    pub sure: bool,
    /// One line for a reader.
    pub summary: String,
    /// Goroutines taking part (exact; `goroutines` may list fewer).
    pub count: u64,
    pub goroutines: Vec<RelationGoroutine>,
    pub objects: Vec<WaitObject>,
    /// Ids of the groups taking part.
    pub groups: Vec<String>,
}

/// A goroutine in a relation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationGoroutine {
    pub goid: u64,
    /// `waiter`, `holder` or `root-holder` (the end of a lock chain).
    pub role: String,
    /// Its state (wait reason or status).
    pub state: String,
    /// Where it blocks or runs.
    pub at: Option<Location>,
    /// Its group's id.
    pub group: String,
    /// What it waits on (`send on chan 0x…`), when known.
    pub waits_on: Option<String>,
    /// The address of the object it waits on (one of the relation's `objects`), when known.
    #[serde(default)]
    pub object: Option<String>,
    /// Addresses of the relation's objects it could free: a lock it (probably) holds, a
    /// channel it holds the other end of.
    #[serde(default)]
    pub holds: Vec<String>,
    /// The whole stack, for a lock chain's root holder (empty for the others).
    #[serde(default)]
    pub stack: Vec<Location>,
}

/// An object goroutines wait on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitObject {
    /// `chan`, `mutex`, `rwmutex`, `waitgroup`, `cond`.
    pub kind: String,
    /// Its address as the runtime printed it.
    pub addr: String,
    /// Goroutines waiting on it.
    pub waiters: u64,
    /// The type whose method holds it (a lock is a field of that object), when known.
    pub owner_type: Option<String>,
}

/// The analysis of one snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub source: SourceInfo,
    pub go_version: Option<String>,
    pub go_version_min: Option<String>,
    /// First line of a crash report, if any.
    pub reason: Option<String>,
    /// What the moment of the snapshot means (`live`, `exit`, `test`, `crash`, `deadlock`),
    /// and why.
    pub context: crate::context::ContextInfo,
    pub total_goroutines: u64,
    pub warnings: Vec<String>,
    pub grouping: Similarity,
    pub proof: ProofInfo,
    pub summary: Summary,
    /// Deadlocks, lock chains and stuck programs found among the goroutines.
    #[serde(default)]
    pub relations: Vec<Relation>,
    /// Worst first: leaks (proven first), suspects, need-more-samples, benign; then by count.
    pub groups: Vec<Group>,
    /// Births, deaths and lifetimes per creation site over the window, when the snapshot is
    /// the end of one (an execution trace).
    #[serde(default)]
    pub lifecycle: Option<crate::lifecycle::LifecycleReport>,
}

/// How a group changed between two snapshots.
#[cfg(test)]
mod tests {
    use super::Verdict;

    #[test]
    fn order_follows_severity() {
        let mut v = [
            Verdict::Leak,
            Verdict::Benign,
            Verdict::Suspect,
            Verdict::NeedMoreSamples,
        ];
        v.sort();
        assert_eq!(
            v,
            [
                Verdict::Benign,
                Verdict::NeedMoreSamples,
                Verdict::Suspect,
                Verdict::Leak
            ]
        );
        assert!(v.windows(2).all(|w| w[0].rank() < w[1].rank()));
        assert_eq!(Verdict::Leak.max(Verdict::Suspect), Verdict::Leak);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    New,
    Grown,
    Shrunk,
    Gone,
    Unchanged,
}

/// One group of a diff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffGroup {
    pub change: Change,
    pub before: u64,
    pub after: u64,
    /// `after - before`.
    pub delta: i64,
    /// The group as analysed in AFTER (in BEFORE for `gone`).
    pub group: Group,
}

/// What is new or grown in AFTER compared to BEFORE, matched by group signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffReport {
    pub schema_version: u32,
    pub before: SourceInfo,
    pub after: SourceInfo,
    pub before_total: u64,
    pub after_total: u64,
    pub grouping: Similarity,
    /// New and grown groups first (by delta), then shrunk, gone; unchanged are omitted.
    pub groups: Vec<DiffGroup>,
    /// Number of groups present with the same count in both.
    pub unchanged: usize,
}

/// One group across the snapshots of a trend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendGroup {
    /// Count per snapshot, in input order (0 where absent).
    pub counts: Vec<u64>,
    /// Theil–Sen slope, goroutines per minute (per snapshot when no timestamps).
    pub slope: f64,
    /// Whether `slope` is per minute (timestamps known) or per snapshot.
    pub slope_per_minute: bool,
    /// Mann–Kendall S statistic.
    pub mann_kendall_s: i64,
    /// Mann–Kendall normal-approximation Z.
    pub z: f64,
    /// One-sided p-value for an increasing trend.
    pub p_value: f64,
    pub verdict: Verdict,
    pub evidence: Vec<String>,
    /// The group as analysed in the last snapshot that has it.
    pub group: Group,
    /// Whether the counts grow: significantly (Mann–Kendall), or at every step. A group can be
    /// a `leak` without growing (proven by the runtime, or certain from one snapshot).
    #[serde(default)]
    pub growing: bool,
}

/// Per-group growth across ordered snapshots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendReport {
    pub schema_version: u32,
    pub sources: Vec<SourceInfo>,
    pub totals: Vec<u64>,
    /// Minutes since the first snapshot, when every snapshot has a timestamp.
    pub minutes: Option<Vec<f64>>,
    pub grouping: Similarity,
    /// Worst first, as `analyze` orders: by verdict, proven leaks first, then growing groups
    /// by slope, then by the last count.
    pub groups: Vec<TrendGroup>,
    /// What the trend could not see, e.g. polls of `--every` that failed (gaps in the series).
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// Whether any group of `reports` has a verdict at least as bad as `threshold`
/// (`--fail-on leak|suspect`).
pub fn fails(reports: &[Report], threshold: Verdict) -> bool {
    reports
        .iter()
        .flat_map(|r| &r.groups)
        .any(|g| g.verdict.rank() >= threshold.rank())
}

/// [`fails`] for a diff: only new or grown groups count.
pub fn diff_fails(diff: &DiffReport, threshold: Verdict) -> bool {
    diff.groups.iter().any(|d| {
        matches!(d.change, Change::New | Change::Grown)
            && d.group.verdict.rank() >= threshold.rank()
    })
}

/// [`fails`] for a trend.
pub fn trend_fails(trend: &TrendReport, threshold: Verdict) -> bool {
    trend
        .groups
        .iter()
        .any(|g| g.verdict.rank() >= threshold.rank())
}
