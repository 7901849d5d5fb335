//! Writing a [`CheckReport`] for people (terminal, Markdown) and tools (JSON, JUnit XML).
//!
//! Every string that comes from a dump (function names, files, wait reasons) is untrusted:
//! the terminal form replaces control characters, Markdown and XML escape their markup.

mod junit;
mod markdown;
mod terminal;

pub use junit::{junit, junit_error};

use crate::report::{CheckGroup, CheckReport};
use goroscope_analyze::Location;
use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

/// The forms `-o` takes for `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckFormat {
    Terminal,
    /// The check document of `docs/json-schema.md`.
    Json,
    Markdown,
}

impl CheckFormat {
    pub const NAMES: &'static [&'static str] = &["terminal", "json", "markdown"];

    pub fn as_str(self) -> &'static str {
        match self {
            CheckFormat::Terminal => "terminal",
            CheckFormat::Json => "json",
            CheckFormat::Markdown => "markdown",
        }
    }
}

impl fmt::Display for CheckFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CheckFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "terminal" | "text" | "term" => CheckFormat::Terminal,
            "json" => CheckFormat::Json,
            "markdown" | "md" => CheckFormat::Markdown,
            _ => {
                return Err(format!(
                    "'{s}': check writes {} (use --junit FILE for JUnit XML)",
                    CheckFormat::NAMES.join(", ")
                ))
            }
        })
    }
}

/// How to render.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RenderOptions {
    /// ANSI colours in the terminal form.
    pub color: bool,
}

/// Writes `report` in `format`.
pub fn render(
    w: &mut dyn Write,
    format: CheckFormat,
    report: &CheckReport,
    opts: &RenderOptions,
) -> io::Result<()> {
    match format {
        CheckFormat::Terminal => terminal::write(w, report, opts),
        CheckFormat::Markdown => markdown::write(w, report),
        CheckFormat::Json => {
            serde_json::to_writer_pretty(&mut *w, report).map_err(io::Error::other)?;
            w.write_all(b"\n")
        }
    }
}

/// Control characters of untrusted text replaced by `?` (a dump can hold anything).
pub(crate) fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// `main.go:27` (the file's base name), or empty.
pub(crate) fn file_line(l: &Location) -> String {
    if l.file.is_empty() {
        return String::new();
    }
    let base = l.file.rsplit(['/', '\\']).next().unwrap_or(&l.file);
    if l.line > 0 {
        format!("{base}:{}", l.line)
    } else {
        base.to_string()
    }
}

/// Where a group's goroutines block: the blocking site, else the top frame.
pub(crate) fn site(g: &CheckGroup) -> Option<&Location> {
    g.group
        .blocking_site
        .as_ref()
        .or(g.group.top_frame.as_ref())
}

/// `chan send`, `select`, `running`.
pub(crate) fn state(g: &CheckGroup) -> String {
    clean(g.group.wait_reason.as_deref().unwrap_or(&g.group.status))
}

/// `+5.0 per run, 1.0 per request`.
pub(crate) fn growth(g: &CheckGroup) -> Option<String> {
    let run = g.growth_per_run?;
    let mut s = format!("{} per run", crate::decide::rate(run));
    if let Some(r) = g.growth_per_request {
        s.push_str(&format!(
            ", {} per request",
            crate::decide::rate(r).trim_start_matches('+')
        ));
    }
    Some(s)
}

/// The first line: what ran, against what.
pub(crate) fn what_ran(r: &CheckReport) -> String {
    let runs = if r.runs == 1 {
        "1 run".to_string()
    } else {
        format!("{} runs", r.runs)
    };
    let mut s = match (&r.workload, r.duration_secs) {
        (Some(w), _) => format!("{runs} of {}", clean(w)),
        (None, Some(d)) => format!("{runs} of {d:.0}s each"),
        (None, None) => runs,
    };
    if let Some(n) = r.requests_per_run {
        s.push_str(&format!(
            ", {n} request{} per run",
            if n == 1 { "" } else { "s" }
        ));
    }
    s
}

#[cfg(test)]
pub(crate) mod sample {
    //! A full report for renderer and schema tests.

    use crate::report::*;
    use goroscope_analyze::{Group, Location, MinMax, StackFrame, Verdict};
    use std::collections::BTreeMap;

    pub fn group(function: &str, verdict: Verdict) -> Group {
        Group {
            id: "4f2a9c0d11e3b7a5".into(),
            count: 15,
            status: "waiting".into(),
            wait_reason: Some("chan send".into()),
            state_inferred: false,
            wait_minutes: Some(MinMax { min: 1, max: 2 }),
            top_frame: Some(Location {
                function: function.into(),
                file: "/src/svc/main.go".into(),
                line: 27,
            }),
            blocking_site: Some(Location {
                function: function.into(),
                file: "/src/svc/main.go".into(),
                line: 27,
            }),
            created_by: Some(Location {
                function: "main.handleOrder".into(),
                file: "/src/svc/main.go".into(),
                line: 33,
            }),
            creator_goids: vec![7],
            labels: BTreeMap::from([("route".to_string(), vec!["/order".to_string()])]),
            stack: vec![StackFrame {
                function: function.into(),
                file: "/src/svc/main.go".into(),
                line: 27,
                inlined: false,
            }],
            goids: vec![101, 102],
            goids_truncated: true,
            verdict,
            pattern: Some("chan-send-receiver-gone".into()),
            proven: false,
            explanation: Some("blocked sending on a channel nobody receives from any more".into()),
            fix: Some("give the channel a buffer of 1".into()),
            evidence: vec!["blocked in user code".into()],
            next_step: Some("take a second sample".into()),
            relations: vec!["stuck-1".into()],
        }
    }

    pub fn report() -> CheckReport {
        CheckReport {
            schema_version: goroscope_analyze::SCHEMA_VERSION,
            target: "http://127.0.0.1:6060/debug/pprof/goroutine".into(),
            verdict: CheckVerdict::Leaked,
            runs: 3,
            workload: Some("check-load".into()),
            duration_secs: Some(10.0),
            requests_per_run: Some(5),
            output_dir: "/tmp/goroscope-check-x".into(),
            service: Some(ServiceReport {
                pid: 1234,
                go_pid: Some(1235),
                stdout: "/tmp/goroscope-check-x/service.stdout".into(),
                stderr: "/tmp/goroscope-check-x/service.stderr".into(),
                stopped_by: "sigterm".into(),
                stop_secs: 0.01,
                exit: "exit status 0".into(),
                left_behind: vec![99],
            }),
            points: vec![
                Point {
                    label: "baseline".into(),
                    total_goroutines: 9,
                    polls: 3,
                    settle_secs: 0.3,
                    settled_by: SettledBy::Stable,
                    workload_secs: None,
                },
                Point {
                    label: "run 1".into(),
                    total_goroutines: 14,
                    polls: 3,
                    settle_secs: 0.3,
                    settled_by: SettledBy::Stable,
                    workload_secs: Some(0.2),
                },
            ],
            summary: CheckSummary {
                leaks: 1,
                leaked_goroutines: 15,
                warm_up: 1,
                unsteady: 0,
                shrank: 0,
                unchanged: 2,
                benign: 5,
            },
            groups: vec![
                CheckGroup {
                    id: "4f2a9c0d11e3b7a5".into(),
                    outcome: Outcome::Leak,
                    counts: vec![0, 5, 10, 15],
                    since_baseline: 15,
                    growth_per_run: Some(5.0),
                    growth_per_request: Some(1.0),
                    p_value: Some(0.06),
                    why: "grew at every run".into(),
                    group: group("main.audit", Verdict::Suspect),
                },
                CheckGroup {
                    id: "0000000000000001".into(),
                    outcome: Outcome::WarmUp,
                    counts: vec![0, 4, 4, 4],
                    since_baseline: 4,
                    growth_per_run: None,
                    growth_per_request: None,
                    p_value: Some(1.0),
                    why: "appeared in run 1".into(),
                    group: group("main.worker", Verdict::NeedMoreSamples),
                },
            ],
            notes: vec!["with 3 runs a group fails when it grew at every run".into()],
            warnings: vec!["run 2: did not settle".into()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: CheckFormat, r: &CheckReport) -> String {
        let mut out = Vec::new();
        render(&mut out, f, r, &RenderOptions::default()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn formats_parse() {
        for n in CheckFormat::NAMES {
            assert_eq!(n.parse::<CheckFormat>().unwrap().as_str(), *n);
        }
        let e = "junit".parse::<CheckFormat>().unwrap_err();
        assert!(e.contains("--junit FILE"), "{e}");
    }

    #[test]
    fn json_round_trips() {
        let r = sample::report();
        let j = text(CheckFormat::Json, &r);
        let back: CheckReport = serde_json::from_str(&j).unwrap();
        assert_eq!(back, r);
        assert!(j.starts_with("{\n  \"schema_version\": 2,"), "{j}");
        assert!(j.contains("\"outcome\": \"warm-up\""), "{j}");
        assert!(j.ends_with("}\n"));
    }

    #[test]
    fn terminal_names_the_leak_its_growth_and_sites() {
        let t = text(CheckFormat::Terminal, &sample::report());
        for want in [
            "FAILED",
            "3 runs of check-load, 5 requests per run",
            "LEAK",
            "+5.0 per run, 1.0 per request",
            "0 → 5 → 10 → 15",
            "main.audit (/src/svc/main.go:27)",
            "main.handleOrder (/src/svc/main.go:33)",
            "chan send",
            "give the channel a buffer of 1",
            "warm-up",
            "service.stdout",
            "stopped by SIGTERM",
            "note:",
            "warning:",
        ] {
            assert!(t.contains(want), "missing {want:?} in:\n{t}");
        }
        assert!(!t.contains('\u{1b}'), "no colour unless asked");
        let mut out = Vec::new();
        render(
            &mut out,
            CheckFormat::Terminal,
            &sample::report(),
            &RenderOptions { color: true },
        )
        .unwrap();
        assert!(String::from_utf8(out).unwrap().contains("\u{1b}[1;31m"));
    }

    #[test]
    fn hostile_names_are_neutralised() {
        let mut r = sample::report();
        r.groups[0].group.blocking_site.as_mut().unwrap().function =
            "main.x\u{1b}]0;pwned\u{7}|<b>`y`".into();
        let t = text(CheckFormat::Terminal, &r);
        assert!(!t.contains('\u{1b}') && !t.contains('\u{7}'), "{t:?}");
        let m = text(CheckFormat::Markdown, &r);
        assert!(!m.contains('\u{1b}') && !m.contains('\u{7}'), "{m:?}");
        // In a table cell: a code span that holds the text literally, `|` escaped.
        assert!(m.contains("`` main.x?]0;pwned?\\|<b>`y` ``"), "{m}");
        // In running text: markup escaped.
        r.notes = vec!["<script>*x*</script>".into()];
        let m = text(CheckFormat::Markdown, &r);
        assert!(m.contains("\\<script\\>\\*x\\*"), "{m}");
    }

    #[test]
    fn markdown_has_a_table_and_sections() {
        let m = text(CheckFormat::Markdown, &sample::report());
        assert!(m.starts_with("## goroscope check: FAILED"), "{m}");
        assert!(m.contains("| 1 | **leak** | 0 → 5 → 10 → 15 |"), "{m}");
        assert!(m.contains("### 1. leak: `main.audit`"), "{m}");
        assert!(m.contains("+5.0 per run, 1.0 per request"), "{m}");
    }

    #[test]
    fn clean_reports_say_so() {
        let mut r = sample::report();
        r.verdict = crate::CheckVerdict::Clean;
        r.groups.remove(0);
        r.summary.leaks = 0;
        let t = text(CheckFormat::Terminal, &r);
        assert!(t.contains("PASSED"), "{t}");
        let m = text(CheckFormat::Markdown, &r);
        assert!(m.starts_with("## goroscope check: passed"), "{m}");
    }
}
