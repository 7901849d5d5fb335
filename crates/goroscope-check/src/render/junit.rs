//! JUnit XML for CI systems: one test case per leaked group (a failure), or one passing test
//! case when nothing leaked; [`junit_error`] for a check that could not decide.
//!
//! Test case names are stable across runs of the same code (the blocking function and its
//! state, not lines or counts), so CI systems can follow a leak from build to build.

use super::{clean, growth, site, state, what_ran};
use crate::decide::arrows;
use crate::report::{CheckGroup, CheckReport, Outcome};
use goroscope_render::escape::xml;
use std::io::{self, Write};

const CLASS: &str = "goroscope.check";

fn case_name(g: &CheckGroup) -> String {
    let f = site(g).map_or("(no stack)", |l| l.function.as_str());
    format!("{} [{}]", clean(f), state(g))
}

fn body(r: &CheckReport, g: &CheckGroup) -> String {
    let mut b = format!("{}\n", g.why);
    let labels: Vec<&str> = r.points.iter().map(|p| p.label.as_str()).collect();
    b.push_str(&format!(
        "Counts: {} ({})\n",
        arrows(&g.counts),
        labels.join(", ")
    ));
    if let Some(gr) = growth(g) {
        b.push_str(&format!("Growth: {gr}\n"));
    }
    if let Some(s) = site(g) {
        b.push_str(&format!("Blocked at: {s}\n"));
    }
    if let Some(c) = &g.group.created_by {
        b.push_str(&format!("Created by: {c}\n"));
    }
    b.push_str(&format!("State: {}\n", state(g)));
    if let Some(e) = &g.group.explanation {
        b.push_str(&format!("Analysis: {} — {e}\n", g.group.verdict));
    }
    if let Some(f) = &g.group.fix {
        b.push_str(&format!("Fix: {f}\n"));
    }
    if !g.group.stack.is_empty() {
        b.push_str("Stack:\n");
        for f in &g.group.stack {
            b.push_str(&format!("  {}\n", f.function));
            if !f.file.is_empty() {
                b.push_str(&format!("      {}:{}\n", f.file, f.line));
            }
        }
    }
    b
}

fn header(out: &mut String, suite: &str, tests: usize, failures: usize, errors: usize) {
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"goroscope check\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\">\n"
    ));
    out.push_str(&format!(
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\">\n",
        xml(suite)
    ));
}

fn footer(out: &mut String) {
    out.push_str("  </testsuite>\n</testsuites>\n");
}

/// Writes the report as JUnit XML.
pub fn junit(w: &mut dyn Write, r: &CheckReport) -> io::Result<()> {
    let leaks: Vec<&CheckGroup> = r
        .groups
        .iter()
        .filter(|g| g.outcome == Outcome::Leak)
        .collect();
    let suite = format!("goroscope check {}", r.target);
    let mut out = String::new();
    if leaks.is_empty() {
        header(&mut out, &suite, 1, 0, 0);
        out.push_str(&format!(
            "    <testcase classname=\"{CLASS}\" name=\"{}\"/>\n",
            xml(&format!("no goroutines left behind ({})", what_ran(r)))
        ));
    } else {
        header(&mut out, &suite, leaks.len(), leaks.len(), 0);
        for g in leaks {
            let msg = format!(
                "{} goroutines left behind since the baseline{}",
                g.since_baseline,
                growth(g).map(|s| format!(" ({s})")).unwrap_or_default()
            );
            out.push_str(&format!(
                "    <testcase classname=\"{CLASS}\" name=\"{}\">\n      <failure type=\"leak\" message=\"{}\">{}</failure>\n    </testcase>\n",
                xml(&case_name(g)),
                xml(&msg),
                xml(&body(r, g))
            ));
        }
    }
    footer(&mut out);
    w.write_all(out.as_bytes())
}

/// JUnit XML for a check that ended in an error (one test case with an `<error>`).
pub fn junit_error(w: &mut dyn Write, target: &str, error: &str) -> io::Result<()> {
    let mut out = String::new();
    header(&mut out, &format!("goroscope check {target}"), 1, 0, 1);
    let first = error.lines().next().unwrap_or("error");
    out.push_str(&format!(
        "    <testcase classname=\"{CLASS}\" name=\"check\">\n      <error type=\"error\" message=\"{}\">{}</error>\n    </testcase>\n",
        xml(first),
        xml(error)
    ));
    footer(&mut out);
    w.write_all(out.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::sample;
    use quick_xml::events::Event;
    use quick_xml::Reader;

    /// (testcases, failures, errors) of a well-formed document; panics when it is not.
    fn parse(doc: &str) -> (usize, usize, usize) {
        let mut r = Reader::from_str(doc);
        let (mut cases, mut failures, mut errors) = (0, 0, 0);
        let mut depth = 0i32;
        loop {
            match r.read_event().expect("well-formed XML") {
                Event::Eof => break,
                Event::Start(e) => {
                    depth += 1;
                    match e.name().as_ref() {
                        b"testcase" => cases += 1,
                        b"failure" => failures += 1,
                        b"error" => errors += 1,
                        _ => {}
                    }
                }
                Event::Empty(e) if e.name().as_ref() == b"testcase" => cases += 1,
                Event::End(_) => depth -= 1,
                _ => {}
            }
        }
        assert_eq!(depth, 0, "unbalanced:\n{doc}");
        (cases, failures, errors)
    }

    fn render(r: &CheckReport) -> String {
        let mut out = Vec::new();
        junit(&mut out, r).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn one_failing_case_per_leak() {
        let mut r = sample::report();
        let doc = render(&r);
        assert_eq!(parse(&doc), (1, 1, 0), "{doc}");
        assert!(doc.contains("name=\"main.audit [chan send]\""), "{doc}");
        assert!(doc.contains("+5.0 per run, 1.0 per request"), "{doc}");
        r.groups.push(r.groups[0].clone());
        assert_eq!(parse(&render(&r)), (2, 2, 0));
    }

    #[test]
    fn a_clean_check_is_one_passing_case() {
        let mut r = sample::report();
        r.groups.retain(|g| g.outcome != Outcome::Leak);
        let doc = render(&r);
        assert_eq!(parse(&doc), (1, 0, 0), "{doc}");
        assert!(doc.contains("no goroutines left behind (3 runs of check-load"));
    }

    #[test]
    fn hostile_text_stays_well_formed() {
        let mut r = sample::report();
        r.groups[0].group.blocking_site.as_mut().unwrap().function = "main.<x>&\"y\"\u{1}".into();
        r.target = "http://h/?a=<b>".into();
        assert_eq!(parse(&render(&r)), (1, 1, 0));
    }

    #[test]
    fn errors_are_error_cases() {
        let mut out = Vec::new();
        junit_error(
            &mut out,
            "pid 12",
            "the workload failed in run 1 (exit status 1)\n  <output>",
        )
        .unwrap();
        let doc = String::from_utf8(out).unwrap();
        assert_eq!(parse(&doc), (1, 0, 1), "{doc}");
        assert!(doc.contains("message=\"the workload failed in run 1 (exit status 1)\""));
    }
}
