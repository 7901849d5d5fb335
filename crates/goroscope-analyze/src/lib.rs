//! Explains goroutine leaks: groups the goroutines of a [`goroscope_model::Snapshot`], applies
//! leak rules, takes runtime proofs into account, and compares snapshots (diff, trend).
//!
//! The result types in [`report`] are owned and serializable; this crate prints nothing.
//!
//! # Grouping
//! Goroutines are grouped by a signature chosen with [`Similarity`]. The default,
//! [`Similarity::IgnoreLines`], keys on the function names of the stack from the first frame
//! outside runtime plumbing outwards (line numbers, offsets and argument values ignored), the
//! wait state, and the `created by` function. Labels are *not* part of the key: a leak that
//! carries a request id label would otherwise split into one group per request; the values seen
//! are collected per group instead. Runtime frames above the blocking site are left out of the
//! signature so that a Go 1.27 `debug=2` dump (which has none) and a protobuf profile (which
//! has them) give the same group ids. When neither the format nor the frames tell the state (a
//! plain channel wait in a `debug=1` profile, which hides the runtime frames), the key is the
//! frames alone; [`diff`] and [`trend`] then count the groups with the same frames in the other
//! snapshots as one, whatever their states, so a `debug=1` and a protobuf profile of one
//! process match group for group (the merged group's evidence says so).
//!
//! The **blocking site** is the first frame outside runtime/sync/internal plumbing and outside
//! the standard library (falling back to the first non-plumbing frame for goroutines that live
//! entirely in the standard library, e.g. `net/http.(*persistConn).readLoop`). The **creation
//! site** is the `created by` frame; creator goids are kept (a few) and counted.
//!
//! # State inference
//! `debug=1` and protobuf profiles have no states: the state is inferred from the frames
//! (`runtime.chanrecv1` → chan receive, `sync.(*WaitGroup).Wait` → WaitGroup wait, …), and
//! `Group::state_inferred` says so. `debug=1` hides the runtime frames, so a bare channel
//! receive in user code has no known state there. Wait minutes are a lower bound.
//!
//! # Verdicts
//! In order: a runtime proof (`(leaked)` markers, or a goroutineleak profile among the inputs
//! listing the same stack signature) makes a group `leak` with `proven: true`; then the user's
//! ignore rules ([`Config`]) make it `benign`; then built-in benign knowledge ([`benign::TABLE`]:
//! runtime workers, servers idling in I/O, signal loops…) makes it `benign`; otherwise the worst
//! finding of the [`rules`] decides. See each rule's docs for its evidence.
//!
//! Proof matching compares function names from the first non-plumbing frame outwards. Stacks
//! of 100 frames or more are cut short differently by each form (a traceback elides their
//! middle, a profile keeps the innermost 128 program counters), so for them the innermost
//! [`frames::HEAD_FRAMES`] such frames suffice (the evidence says so). A goroutineleak record
//! without a stack (Go 1.27 counts main parked in `select {}` that way) is `benign` in the
//! profile's own report and proves nothing; reports it would have proved carry a warning.
//!
//! # What one snapshot can decide
//! | rule | verdict from one snapshot |
//! |---|---|
//! | `nil-chan`, `select-no-cases` | `leak` (header state `(nil chan)` / `(no cases)`, or `runtime.block`) |
//! | `http-body-not-closed` | `leak`: persistConn readLoops in `select` (an idle one waits in IO wait) |
//! | `chan-send-receiver-gone`, `waitgroup-missing-done`, `mutex-never-unlocked`, `cond-no-signal` | `suspect` when the wait is in user code, whatever the count |
//! | `pool-backlog` | `suspect`: request handlers (`net/http.(*conn).serve` below) blocked sending |
//! | `io-no-deadline` | `suspect`: client reads/dials/lookups and HTTP requests in user code, not under an accept loop or server |
//! | `chan-receive-no-sender`, `range-never-closed` | `suspect` for a plain `<-ch` (`runtime.chanrecv1` visible: protobuf, SIGQUIT), a single goroutine, or goroutines from many creators; `need-more-samples` for the worker-pool shape (several from one `go` statement and one creator), which a trend or a proof decides |
//! | `ctx-ignored`, `background-loop` | `suspect` for several copies of one sleeping / select loop; a single one is a normal background task |
//!
//! Any of them becomes `leak` + `proven` under a runtime proof, and `leak` in a trend that grows
//! significantly. Wait minutes are reported as evidence, never used to convict: an idle pool
//! waits for minutes too.
//!
//! # Rule levels
//! `Options::rule_levels` (the CLI's `-A`/`-W`/`-D RULE`, overriding the config's `[rules]`):
//! `allow` reports the rule's findings as `benign` (evidence says so), `warn` caps them at
//! `suspect` (never failing `--fail-on leak`), `deny` promotes `suspect` and
//! `need-more-samples` findings to `leak`. Levels do not touch runtime-proven groups except
//! through ignore rules.
//!
//! # Baseline
//! [`Options::with_baseline`] takes a snapshot of known goroutines (goleak's `IgnoreCurrent`):
//! a group whose count does not exceed the baseline's count for the same signature is `benign`.

pub mod benign;
pub mod config;
pub mod context;
mod describe;
mod diff;
mod engine;
pub mod frames;
mod group;
mod judge;
pub mod knowledge;
pub mod lifecycle;
mod magnitude;
mod proof;
mod relate;
pub mod report;
pub mod rules;
pub mod source;
mod trend;

pub use config::{Config, ConfigError, Level};
pub use context::ContextInfo;
pub use lifecycle::{window_trend, LifecycleReport, SiteReport};
pub use report::{
    diff_fails, fails, trend_fails, Change, DiffGroup, DiffReport, Group, Location, MinMax,
    ProofInfo, Relation, RelationGoroutine, Report, Similarity, SourceInfo, StackFrame, Summary,
    TrendGroup, TrendReport, Verdict, WaitObject, SCHEMA_VERSION,
};
pub use source::SourceOptions;

use goroscope_model::{Context, ProfileKind, Snapshot};
use std::collections::{BTreeMap, HashMap};

/// How to analyse.
#[derive(Debug, Clone)]
pub struct Options {
    pub similarity: Similarity,
    /// Ignore rules and rule levels from the config file.
    pub config: Config,
    /// `-A`/`-W`/`-D` from the command line; override `config.rules`.
    pub rule_levels: BTreeMap<String, Level>,
    /// At most this many goroids per group (counts stay exact).
    pub max_goids: usize,
    /// Group id → count of a baseline snapshot (see [`Options::with_baseline`]).
    pub baseline: Option<HashMap<String, u64>>,
    /// `--context`: overrides the context stated by the reader or inferred (see [`context`]).
    pub context: Option<Context>,
    /// Where to read the source lines goroutines block at (see [`source`]). On by default,
    /// for the paths the dump names.
    pub source: SourceOptions,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            similarity: Similarity::default(),
            config: Config::default(),
            rule_levels: BTreeMap::new(),
            max_goids: 100,
            baseline: None,
            context: None,
            source: SourceOptions::local(),
        }
    }
}

impl Options {
    /// The level of a rule: command line first, then config.
    pub fn level(&self, rule: &str) -> Option<Level> {
        self.rule_levels
            .get(rule)
            .or_else(|| self.config.rules.get(rule))
            .copied()
    }

    /// Ignores what `baseline` already had: groups (by signature under this options'
    /// similarity) whose count does not exceed the baseline's.
    pub fn with_baseline(mut self, baseline: &Snapshot) -> Self {
        let g = group::group(baseline, self.similarity, 0);
        self.baseline = Some(
            g.groups
                .iter()
                .map(|(sig, a)| (format!("{sig:016x}"), a.count))
                .collect(),
        );
        self
    }

    /// Sets a rule level, checking the rule id (for `-A`/`-W`/`-D`).
    pub fn set_level(&mut self, rule: &str, level: Level) -> Result<(), String> {
        if !rules::is_known(rule) {
            return Err(format!(
                "unknown rule `{rule}` (known: {})",
                rules::ids().join(", ")
            ));
        }
        self.rule_levels.insert(rule.to_string(), level);
        Ok(())
    }
}

/// Analyses snapshots: one [`Report`] per snapshot that is not a goroutineleak profile;
/// goroutineleak profiles among the inputs prove the groups of the others. When every input is
/// a goroutineleak profile, each gets its own report (all its groups proven).
pub fn analyze(snapshots: &[Snapshot], opts: &Options) -> Vec<Report> {
    let (leak, normal): (Vec<&Snapshot>, Vec<&Snapshot>) = snapshots
        .iter()
        .partition(|s| s.source.kind == ProfileKind::GoroutineLeak);
    if normal.is_empty() {
        return leak
            .iter()
            .map(|s| engine::analyze_one(s, opts, &[]))
            .collect();
    }
    let proofs: Vec<_> = leak
        .iter()
        .map(|s| (s.source.input.clone(), proof::proof_set(s)))
        .collect();
    normal
        .iter()
        .map(|s| engine::analyze_one(s, opts, &proofs))
        .collect()
}

pub use diff::diff;
pub use engine::OWN_LABELS;
pub use trend::trend;

/// Which of [`analyze`]'s groups each goroutine or record of a snapshot belongs to, for
/// outputs that carry the verdict per goroutine (`-o pprof` labels). Group ids depend only on
/// the similarity, so the index built with a report's `grouping` matches its groups.
pub struct GroupIndex {
    sigs: Vec<u64>,
    member: Vec<u32>,
    record_member: Vec<u32>,
}

impl GroupIndex {
    pub fn new(snap: &Snapshot, similarity: Similarity) -> Self {
        let g = group::group(snap, similarity, 0);
        GroupIndex {
            sigs: g.groups.iter().map(|(sig, _)| *sig).collect(),
            member: g.member,
            record_member: g.record_member,
        }
    }

    /// The group of each entry of the snapshot, in [`Snapshot::entries`] order (goroutines,
    /// then records), as an index for [`GroupIndex::id`].
    pub fn entry_groups(&self) -> impl Iterator<Item = usize> + '_ {
        self.member
            .iter()
            .chain(&self.record_member)
            .map(|&g| g as usize)
    }

    /// The id ([`Group::id`]) of group `index`.
    pub fn id(&self, index: usize) -> String {
        format!("{:016x}", self.sigs[index])
    }
}

/// The statistics `trend` uses, for callers that keep their own series (the watcher's window).
pub use trend::{mann_kendall, theil_sen, ALPHA as TREND_ALPHA};
