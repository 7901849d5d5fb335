//! The report as Markdown (a CI job summary, a pull-request comment).

use super::{clean, file_line, growth, site, state, what_ran};
use crate::decide::arrows;
use crate::report::{CheckReport, CheckVerdict, Outcome};
use goroscope_analyze::Location;
use goroscope_render::escape;

/// Escaped running text (control characters replaced first: a dump can hold anything).
fn md(s: &str) -> String {
    escape::markdown(&clean(s))
}

/// A code span for a table cell.
fn code(s: &str) -> String {
    escape::markdown_code(&clean(s))
}
use std::io::{self, Write};

fn cell(l: Option<&Location>) -> String {
    match l {
        None => "—".to_string(),
        Some(l) => {
            let fl = file_line(l);
            if fl.is_empty() {
                code(&l.function)
            } else {
                format!("{} ({})", code(&l.function), md(&fl))
            }
        }
    }
}

pub(super) fn write(w: &mut dyn Write, r: &CheckReport) -> io::Result<()> {
    match r.verdict {
        CheckVerdict::Leaked => writeln!(
            w,
            "## goroscope check: FAILED — {} leak{}\n",
            r.summary.leaks,
            if r.summary.leaks == 1 { "" } else { "s" }
        )?,
        CheckVerdict::Clean => writeln!(w, "## goroscope check: passed\n")?,
    }
    writeln!(w, "Target {} · {}\n", code(&r.target), md(&what_ran(r)))?;
    let totals: Vec<String> = r
        .points
        .iter()
        .map(|p| format!("{} {}", p.label, p.total_goroutines))
        .collect();
    writeln!(w, "Goroutines: {}\n", totals.join(" · "))?;
    if !r.groups.is_empty() {
        writeln!(
            w,
            "| # | outcome | counts (baseline first) | growth | blocked at | created by |"
        )?;
        writeln!(w, "|---|---|---|---|---|---|")?;
        for (i, g) in r.groups.iter().enumerate() {
            let outcome = if g.outcome == Outcome::Leak {
                format!("**{}**", g.outcome)
            } else {
                g.outcome.to_string()
            };
            writeln!(
                w,
                "| {} | {outcome} | {} | {} | {} | {} |",
                i + 1,
                arrows(&g.counts),
                growth(g).map(|s| md(&s)).unwrap_or_else(|| "—".into()),
                cell(site(g)),
                cell(g.group.created_by.as_ref()),
            )?;
        }
        writeln!(w)?;
    }
    for (i, g) in r.groups.iter().enumerate() {
        if g.outcome != Outcome::Leak {
            continue;
        }
        let name = site(g).map_or_else(|| "(no stack)".to_string(), |s| code(&s.function));
        writeln!(w, "### {}. leak: {name}\n", i + 1)?;
        writeln!(w, "- why: {}", md(&g.why))?;
        writeln!(w, "- state: {}", md(&state(g)))?;
        if let Some(e) = &g.group.explanation {
            writeln!(w, "- analysis: {} — {}", g.group.verdict, md(e))?;
        }
        if let Some(f) = &g.group.fix {
            writeln!(w, "- fix: {}", md(f))?;
        }
        writeln!(w)?;
    }
    writeln!(
        w,
        "{} benign and {} unchanged groups not shown. Output of the service and workload: {}\n",
        r.summary.benign,
        r.summary.unchanged,
        code(&r.output_dir)
    )?;
    for n in &r.notes {
        writeln!(w, "> **Note:** {}\n", md(n))?;
    }
    for warn in &r.warnings {
        writeln!(w, "> **Warning:** {}\n", md(warn))?;
    }
    Ok(())
}
