//! JUnit XML for CI systems: one `<testsuite>` per snapshot, one `<testcase>` per finding.
//! Leaks and suspects are `<failure>`s; a group that needs more samples is `<skipped>`. A
//! snapshot without findings gets one passing testcase, so a clean run still shows a test.

use crate::escape::xml;
use crate::text::{self, plural};
use crate::{is_finding, ordered, RenderOptions, Renderer, Subject};
use goroscope_analyze::{Change, DiffReport, Group, Report, TrendReport, Verdict};
use goroscope_model::Snapshot;
use std::io::{self, Write};

pub(crate) struct Junit;

impl Renderer for Junit {
    fn name(&self) -> &'static str {
        "junit"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["junit-xml"]
    }
    fn supports(&self, _: Subject) -> bool {
        true
    }
    fn about(&self, _: Subject) -> &'static str {
        "XML for CI"
    }
    fn report(
        &self,
        w: &mut dyn Write,
        r: &[Report],
        _snapshots: &[Snapshot],
        _opts: &RenderOptions,
    ) -> io::Result<()> {
        reports(w, &crate::clean_all(r)?)
    }
    fn diff(
        &self,
        w: &mut dyn Write,
        d: &DiffReport,
        _snapshots: &[Snapshot],
        _opts: &RenderOptions,
    ) -> io::Result<()> {
        diff(w, &*crate::clean(d)?)
    }
    fn trend(
        &self,
        w: &mut dyn Write,
        t: &TrendReport,
        _snapshots: &[Snapshot],
        _opts: &RenderOptions,
    ) -> io::Result<()> {
        trend(w, &*crate::clean(t)?)
    }
}

struct Case {
    class: String,
    name: String,
    /// `(type, message, body)` of a failure.
    failure: Option<(String, String, String)>,
    skipped: Option<String>,
}

struct Suite {
    name: String,
    cases: Vec<Case>,
}

fn write(w: &mut dyn Write, suites: &[Suite]) -> io::Result<()> {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let total: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failures: usize = suites
        .iter()
        .flat_map(|s| &s.cases)
        .filter(|c| c.failure.is_some())
        .count();
    let skipped: usize = suites
        .iter()
        .flat_map(|s| &s.cases)
        .filter(|c| c.skipped.is_some())
        .count();
    out.push_str(&format!(
        "<testsuites name=\"goroscope\" tests=\"{total}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n"
    ));
    for s in suites {
        let f = s.cases.iter().filter(|c| c.failure.is_some()).count();
        let sk = s.cases.iter().filter(|c| c.skipped.is_some()).count();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{f}\" errors=\"0\" skipped=\"{sk}\">\n",
            xml(&s.name),
            s.cases.len()
        ));
        for c in &s.cases {
            out.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\"",
                xml(&c.class),
                xml(&c.name)
            ));
            match (&c.failure, &c.skipped) {
                (Some((ty, msg, body)), _) => {
                    out.push_str(&format!(
                        ">\n      <failure type=\"{}\" message=\"{}\">{}</failure>\n    </testcase>\n",
                        xml(ty),
                        xml(msg),
                        xml(body)
                    ));
                }
                (None, Some(why)) => {
                    out.push_str(&format!(
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                        xml(why)
                    ));
                }
                (None, None) => out.push_str("/>\n"),
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    w.write_all(out.as_bytes())
}

fn case_name(g: &Group) -> String {
    let site = text::site(g)
        .map(|l| {
            let fl = text::file_line(l);
            if fl.is_empty() {
                l.function.clone()
            } else {
                format!("{} ({fl})", l.function)
            }
        })
        .unwrap_or_else(|| "(no stack)".to_string());
    format!("{site} [{}]", plural(g.count, "goroutine", "goroutines"))
}

fn body(g: &Group) -> String {
    let mut b = String::new();
    if let Some(e) = &g.explanation {
        b.push_str(e);
        b.push('\n');
    }
    if let Some(f) = &g.fix {
        b.push_str(&format!("Fix: {f}\n"));
    }
    b.push_str(&format!("State: {}\n", text::state(g)));
    if let Some(c) = &g.created_by {
        b.push_str(&format!("Created by: {c}\n"));
    }
    for e in &g.evidence {
        b.push_str(&format!("Evidence: {e}\n"));
    }
    if !g.stack.is_empty() {
        b.push_str("Stack:\n");
        for f in &g.stack {
            b.push_str(&format!("  {}\n", f.function));
            if !f.file.is_empty() {
                b.push_str(&format!("      {}:{}\n", f.file, f.line));
            }
        }
    }
    b
}

fn group_case(g: &Group, prefix: &str) -> Case {
    let class = format!(
        "goroscope.{}",
        g.pattern.as_deref().unwrap_or(g.verdict.as_str())
    );
    let name = format!("{prefix}{}", case_name(g));
    match g.verdict {
        Verdict::Leak | Verdict::Suspect => {
            let kind = if g.proven {
                "proven leak".to_string()
            } else {
                g.verdict.as_str().to_string()
            };
            let msg = format!(
                "{kind}: {}",
                g.explanation
                    .clone()
                    .unwrap_or_else(|| plural(g.count, "goroutine", "goroutines"))
            );
            Case {
                class,
                name,
                failure: Some((g.verdict.as_str().to_string(), msg, body(g))),
                skipped: None,
            }
        }
        Verdict::NeedMoreSamples => Case {
            class,
            name,
            failure: None,
            skipped: Some(
                g.explanation
                    .clone()
                    .unwrap_or_else(|| "needs more snapshots to decide".to_string()),
            ),
        },
        Verdict::Benign => Case {
            class,
            name,
            failure: None,
            skipped: None,
        },
    }
}

pub fn reports(w: &mut dyn Write, reports: &[Report]) -> io::Result<()> {
    let suites: Vec<Suite> = reports
        .iter()
        .map(|r| {
            let mut cases: Vec<Case> = ordered(&r.groups)
                .into_iter()
                .filter(|g| is_finding(g) || g.verdict == Verdict::NeedMoreSamples)
                .map(|g| group_case(g, ""))
                .collect();
            if !cases.iter().any(|c| c.failure.is_some()) {
                cases.insert(
                    0,
                    Case {
                        class: "goroscope".to_string(),
                        name: format!(
                            "no goroutine leaks ({} in {})",
                            plural(r.total_goroutines, "goroutine", "goroutines"),
                            plural(r.groups.len() as u64, "group", "groups")
                        ),
                        failure: None,
                        skipped: None,
                    },
                );
            }
            Suite {
                name: format!("goroscope analyze {}", text::source_name(&r.source)),
                cases,
            }
        })
        .collect();
    write(w, &suites)
}

pub fn diff(w: &mut dyn Write, d: &DiffReport) -> io::Result<()> {
    let mut cases: Vec<Case> = d
        .groups
        .iter()
        .filter(|dg| matches!(dg.change, Change::New | Change::Grown))
        .map(|dg| {
            let prefix = match dg.change {
                Change::New => format!("new +{}: ", dg.after),
                _ => format!("grown {} → {}: ", dg.before, dg.after),
            };
            group_case(&dg.group, &prefix)
        })
        .collect();
    if !cases.iter().any(|c| c.failure.is_some()) {
        cases.insert(
            0,
            Case {
                class: "goroscope".to_string(),
                name: "no leaking goroutines new or grown in AFTER".to_string(),
                failure: None,
                skipped: None,
            },
        );
    }
    write(
        w,
        &[Suite {
            name: format!(
                "goroscope diff {} {}",
                text::source_name(&d.before),
                text::source_name(&d.after)
            ),
            cases,
        }],
    )
}

pub fn trend(w: &mut dyn Write, t: &TrendReport) -> io::Result<()> {
    let mut cases: Vec<Case> = t
        .groups
        .iter()
        .filter(|tg| tg.verdict != Verdict::Benign)
        .map(|tg| {
            let mut g = tg.group.clone();
            g.verdict = tg.verdict;
            g.evidence = tg.evidence.clone();
            let counts: Vec<String> = tg.counts.iter().map(u64::to_string).collect();
            group_case(&g, &format!("{}: ", counts.join("→")))
        })
        .collect();
    if !cases.iter().any(|c| c.failure.is_some()) {
        cases.insert(
            0,
            Case {
                class: "goroscope".to_string(),
                name: "no group grows steadily".to_string(),
                failure: None,
                skipped: None,
            },
        );
    }
    write(
        w,
        &[Suite {
            name: format!("goroscope trend ({} snapshots)", t.sources.len()),
            cases,
        }],
    )
}
