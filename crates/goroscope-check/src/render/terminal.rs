//! The report for a terminal or a CI log.

use super::{clean, growth, site, state, what_ran, RenderOptions};
use crate::decide::arrows;
use crate::report::{CheckReport, CheckVerdict, Outcome};
use goroscope_analyze::Location;
use std::io::{self, Write};

struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\u{1b}[{code}m{s}\u{1b}[0m")
        } else {
            s.to_string()
        }
    }
    fn bad(&self, s: &str) -> String {
        self.wrap("1;31", s)
    }
    fn good(&self, s: &str) -> String {
        self.wrap("1;32", s)
    }
    fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
}

fn loc(l: &Location) -> String {
    clean(&l.to_string())
}

pub(super) fn write(w: &mut dyn Write, r: &CheckReport, opts: &RenderOptions) -> io::Result<()> {
    let p = Paint { on: opts.color };
    writeln!(w, "goroscope check: {} · {}", clean(&r.target), what_ran(r))?;
    match r.verdict {
        CheckVerdict::Leaked => writeln!(
            w,
            "{}: {} group{} of goroutines left behind by the workload ({} goroutines since the baseline)",
            p.bad("FAILED"),
            r.summary.leaks,
            if r.summary.leaks == 1 { "" } else { "s" },
            r.summary.leaked_goroutines
        )?,
        CheckVerdict::Clean => writeln!(
            w,
            "{}: no goroutines left behind that {}",
            p.good("PASSED"),
            if r.runs >= 2 {
                "grow with the runs"
            } else {
                "were not there before"
            }
        )?,
    }
    let totals: Vec<String> = r
        .points
        .iter()
        .map(|pt| format!("{} {}", pt.label, pt.total_goroutines))
        .collect();
    let polls: Vec<String> = r.points.iter().map(|pt| pt.polls.to_string()).collect();
    writeln!(
        w,
        "{}",
        p.dim(&format!(
            "goroutines: {} (settled after {} polls)",
            totals.join(" · "),
            polls.join("/")
        ))
    )?;
    let mut n = 0;
    for g in r.groups.iter().filter(|g| g.outcome == Outcome::Leak) {
        n += 1;
        writeln!(w)?;
        let mut head = format!("{n}. {}", p.bad("LEAK"));
        if let Some(gr) = growth(g) {
            head.push_str(&format!(" · {gr}"));
        } else {
            head.push_str(&format!(" · {:+} since the baseline", g.since_baseline));
        }
        if let Some(pat) = &g.group.pattern {
            head.push_str(&format!(" · {}", clean(pat)));
        }
        writeln!(w, "{head}")?;
        let labels: Vec<&str> = r.points.iter().map(|pt| pt.label.as_str()).collect();
        writeln!(
            w,
            "  counts      {} ({})",
            arrows(&g.counts),
            labels.join(", ")
        )?;
        if let Some(s) = site(g) {
            writeln!(w, "  blocked at  {}", loc(s))?;
        }
        if let Some(c) = &g.group.created_by {
            writeln!(w, "  created by  {}", loc(c))?;
        }
        writeln!(w, "  state       {}", state(g))?;
        writeln!(w, "  why         {}", clean(&g.why))?;
        if let Some(e) = &g.group.explanation {
            writeln!(
                w,
                "  analysis    {}: {}",
                g.group.verdict.as_str(),
                clean(e)
            )?;
        }
        if let Some(f) = &g.group.fix {
            writeln!(w, "  fix         {}", clean(f))?;
        }
    }
    let rest: Vec<_> = r
        .groups
        .iter()
        .filter(|g| g.outcome != Outcome::Leak)
        .collect();
    if !rest.is_empty() {
        writeln!(w)?;
        writeln!(w, "Changed, but not leaks:")?;
        let rows: Vec<(String, String, String)> = rest
            .iter()
            .map(|g| {
                (
                    arrows(&g.counts),
                    g.outcome.as_str().to_string(),
                    site(g).map(loc).unwrap_or_else(|| "(no stack)".into()),
                )
            })
            .collect();
        let wc = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
        let wo = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
        writeln!(w, "  {:<wc$}  {:<wo$}  WHERE", "COUNTS", "OUTCOME")?;
        for (c, o, s) in rows {
            writeln!(w, "  {c:<wc$}  {o:<wo$}  {s}")?;
        }
    }
    writeln!(w)?;
    writeln!(
        w,
        "{}",
        p.dim(&format!(
            "{} benign and {} unchanged groups not shown",
            r.summary.benign, r.summary.unchanged
        ))
    )?;
    if let Some(s) = &r.service {
        let by = match s.stopped_by.as_str() {
            "sigterm" => "stopped by SIGTERM",
            "sigkill" => "killed with SIGKILL after the grace period",
            _ => "had exited",
        };
        writeln!(
            w,
            "service: pid {}, {by} in {:.2}s, ended with {}; output in {} and {}",
            s.pid,
            s.stop_secs,
            s.exit,
            clean(&s.stdout),
            clean(&s.stderr)
        )?;
    }
    writeln!(w, "workload output: {}", clean(&r.output_dir))?;
    for note in &r.notes {
        writeln!(w, "note: {}", clean(note))?;
    }
    for warn in &r.warnings {
        writeln!(w, "warning: {}", clean(warn))?;
    }
    Ok(())
}
