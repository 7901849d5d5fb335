//! The result of a check: owned, serializable (`-o json`, documented in `docs/json-schema.md`,
//! section "Check document"), and what every renderer reads.

use goroscope_analyze::Group;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The check's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckVerdict {
    /// Nothing the workload left behind is a leak: exit 0.
    Clean,
    /// At least one group is a leak: exit 1.
    Leaked,
}

impl CheckVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckVerdict::Clean => "clean",
            CheckVerdict::Leaked => "leaked",
        }
    }
}

impl fmt::Display for CheckVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the check concluded about one group of goroutines (only groups that are not benign
/// and whose count changed are listed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Grows with the number of runs (or, with one run, new or grown since the baseline; or
    /// left behind and a leak by its own evidence). Fails the check.
    Leak,
    /// Appeared or grew in run 1, then did not grow steadily: a pool, a cache, keep-alive
    /// connections warming up. Not a leak.
    WarmUp,
    /// Changed between runs without growing steadily. Not a leak.
    Unsteady,
    /// Fewer goroutines than at the baseline after the last run. Not a leak.
    Shrank,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Leak => "leak",
            Outcome::WarmUp => "warm-up",
            Outcome::Unsteady => "unsteady",
            Outcome::Shrank => "shrank",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a settle loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettledBy {
    /// Every watched group was back to its baseline count.
    Baseline,
    /// The watched counts were unchanged over the last polls.
    Stable,
    /// The poll budget or the settle timeout ran out first; the last poll was used.
    Deadline,
}

impl SettledBy {
    pub fn as_str(self) -> &'static str {
        match self {
            SettledBy::Baseline => "baseline",
            SettledBy::Stable => "stable",
            SettledBy::Deadline => "deadline",
        }
    }
}

/// One settled snapshot: the baseline (index 0) or the state after a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// `baseline`, `run 1`, `run 2`, …
    pub label: String,
    /// Goroutines in the snapshot the decision used.
    pub total_goroutines: u64,
    /// Snapshots taken until the goroutines settled.
    pub polls: u32,
    /// Seconds spent polling.
    pub settle_secs: f64,
    pub settled_by: SettledBy,
    /// Seconds the workload ran (or was waited for); `None` for the baseline.
    pub workload_secs: Option<f64>,
}

/// A group the workload changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckGroup {
    /// The group's stable id (as `groups[].id` of an analyze document).
    pub id: String,
    pub outcome: Outcome,
    /// Count at the baseline, then after each run.
    pub counts: Vec<u64>,
    /// Count after the last run minus the baseline's.
    pub since_baseline: i64,
    /// For a leak: goroutines added per run (Theil–Sen slope over runs 1..N, or the growth
    /// since the baseline with one run).
    pub growth_per_run: Option<f64>,
    /// `growth_per_run` divided by the requests per run the user stated (`--requests`).
    pub growth_per_request: Option<f64>,
    /// Mann–Kendall one-sided p-value of growth over runs 1..N (two runs or more).
    pub p_value: Option<f64>,
    /// Why the outcome, in one sentence.
    pub why: String,
    /// The group as analysed after the last run that has it (verdict, sites, fix…).
    pub group: Group,
}

/// The service `--start` started, and how it was stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceReport {
    /// Process id of the started command (leader of its own process group).
    pub pid: u32,
    /// The Go process read with `--target pid` (the command, or one of its descendants).
    pub go_pid: Option<u32>,
    /// Files holding the service's standard output and error.
    pub stdout: String,
    pub stderr: String,
    /// `sigterm` (stopped gracefully), `sigkill` (did not stop within the grace period) or
    /// `exited` (it had already exited).
    pub stopped_by: String,
    /// Seconds from the stop request until the whole process group was gone.
    pub stop_secs: f64,
    /// How it ended: `exit status 0`, `signal 15 (SIGTERM)`, …
    pub exit: String,
    /// Processes of its group still present after the stop (should be empty).
    pub left_behind: Vec<u32>,
}

/// Counts over the groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CheckSummary {
    /// Groups with outcome `leak`.
    pub leaks: usize,
    /// Goroutines those groups gained since the baseline.
    pub leaked_goroutines: u64,
    pub warm_up: usize,
    pub unsteady: usize,
    pub shrank: usize,
    /// Groups (not benign) with the same count at the baseline and after every run.
    pub unchanged: usize,
    /// Groups judged benign (known runtime/server idling, or ignored by configuration): never
    /// counted, whatever their counts.
    pub benign: usize,
}

/// The report of one `goroscope check`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    pub schema_version: u32,
    /// What was read: the URL (credentials removed) or `pid 1234`.
    pub target: String,
    pub verdict: CheckVerdict,
    /// Workload runs (`--repeat`).
    pub runs: u32,
    /// The workload's program (its file name; arguments are left out as they may hold
    /// secrets); `None` with `--duration`.
    pub workload: Option<String>,
    /// `--duration`: seconds waited per run instead of running a workload.
    pub duration_secs: Option<f64>,
    /// `--requests`: requests per run, as the user stated.
    pub requests_per_run: Option<u64>,
    /// Directory holding the service's and the workload's output.
    pub output_dir: String,
    pub service: Option<ServiceReport>,
    /// The baseline, then the state after each run.
    pub points: Vec<Point>,
    pub summary: CheckSummary,
    /// Leaks first, then warm-up, unsteady and shrunk groups.
    pub groups: Vec<CheckGroup>,
    /// How to read the result (e.g. why one run cannot tell warm-up from a leak).
    pub notes: Vec<String>,
    /// What did not go as planned (a settle that ran out of time, reader warnings).
    pub warnings: Vec<String>,
}

impl CheckReport {
    /// 0 clean, 1 leaked (errors are 2, see [`crate::CheckError`]).
    pub fn exit_code(&self) -> u8 {
        match self.verdict {
            CheckVerdict::Clean => 0,
            CheckVerdict::Leaked => 1,
        }
    }

    /// The groups with outcome `leak`.
    pub fn leaks(&self) -> impl Iterator<Item = &CheckGroup> {
        self.groups.iter().filter(|g| g.outcome == Outcome::Leak)
    }
}

/// `docs/json-schema.md`, section "Check document", must list every field the serializer
/// emits and nothing else, and name every enum value (like goroscope-render's
/// `tests/json_schema.rs` for the other documents).
#[cfg(test)]
mod schema_tests {
    use super::*;
    use serde_json::Value;
    use std::collections::BTreeSet;

    fn section(title: &str) -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/json-schema.md");
        let doc = std::fs::read_to_string(path).expect("docs/json-schema.md");
        let start = doc
            .find(&format!("\n## {title}\n"))
            .unwrap_or_else(|| panic!("no section {title:?} in docs/json-schema.md"));
        let rest = &doc[start + 4..];
        let end = rest.find("\n## ").unwrap_or(rest.len());
        rest[..end].to_string()
    }

    /// `a`, `a.b`, `list[].c`; `stop` paths are not entered.
    fn paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>, stop: &[&str]) {
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    out.insert(p.clone());
                    if !stop.contains(&p.as_str()) {
                        paths(child, &p, out, stop);
                    }
                }
            }
            Value::Array(items) => {
                for item in items.iter().filter(|i| i.is_object()) {
                    paths(item, &format!("{prefix}[]"), out, stop);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn check_document_fields_are_all_documented() {
        let report = crate::render::sample::report();
        let v = serde_json::to_value(&report).unwrap();
        // Every optional value is filled in the sample, so nested objects show their keys.
        for key in ["workload", "duration_secs", "requests_per_run", "service"] {
            assert!(!v[key].is_null(), "fill {key} in the sample");
        }
        let mut emitted = BTreeSet::new();
        paths(&v, "", &mut emitted, &["groups[].group"]);
        let doc = section("Check document");
        let listed: BTreeSet<String> = doc
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .map(str::to_string)
            .collect();
        let missing: Vec<_> = emitted.difference(&listed).collect();
        assert!(missing.is_empty(), "not documented: {missing:?}");
        let stale: Vec<_> = listed.difference(&emitted).collect();
        assert!(stale.is_empty(), "documented but not emitted: {stale:?}");
        assert!(serde_json::to_string(&report)
            .unwrap()
            .starts_with("{\"schema_version\":2,"));
    }

    #[test]
    fn every_enum_value_is_documented() {
        let doc = section("Check document");
        let mut values: Vec<String> = Vec::new();
        for v in [CheckVerdict::Clean, CheckVerdict::Leaked] {
            values.push(serde_json::to_string(&v).unwrap());
        }
        for o in [
            Outcome::Leak,
            Outcome::WarmUp,
            Outcome::Unsteady,
            Outcome::Shrank,
        ] {
            values.push(serde_json::to_string(&o).unwrap());
            assert_eq!(serde_json::to_string(&o).unwrap(), format!("\"{o}\""));
        }
        for s in [SettledBy::Baseline, SettledBy::Stable, SettledBy::Deadline] {
            values.push(serde_json::to_string(&s).unwrap());
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
        values.extend(["sigterm", "sigkill", "exited"].map(|s| format!("\"{s}\"")));
        for v in values {
            let bare = v.trim_matches('"');
            assert!(
                doc.contains(&format!("`{bare}`")),
                "the Check document section never mentions `{bare}`"
            );
        }
    }
}
