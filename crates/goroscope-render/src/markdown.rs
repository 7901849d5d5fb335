//! Markdown for pasting into an issue or a pull request (GitHub-flavoured: tables and
//! `<details>`): a summary, a table of findings, each finding with its stack in a code block, and
//! the other groups folded away.

use crate::escape::{
    markdown as esc, markdown_block, markdown_code as code, markdown_code_text as ctext,
    markdown_with_code as prose,
};
use crate::text::{self, plural, thousands};
use crate::{is_finding, ordered, RenderOptions, Renderer, Subject};
use goroscope_analyze::{Change, DiffReport, Group, Location, Report, TrendReport, Verdict};
use goroscope_model::Snapshot;
use std::io::{self, Write};

pub(crate) struct Markdown;

impl Renderer for Markdown {
    fn name(&self) -> &'static str {
        "markdown"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["md"]
    }
    fn supports(&self, _: Subject) -> bool {
        true
    }
    fn about(&self, subject: Subject) -> &'static str {
        match subject {
            Subject::Report => "for an issue or a pull request",
            Subject::Diff => "table of changes",
            Subject::Trend => "table of groups",
        }
    }
    fn report(
        &self,
        w: &mut dyn Write,
        r: &[Report],
        _snapshots: &[Snapshot],
        opts: &RenderOptions,
    ) -> io::Result<()> {
        reports(w, &crate::clean_all(r)?, opts)
    }
    fn diff(
        &self,
        w: &mut dyn Write,
        d: &DiffReport,
        _snapshots: &[Snapshot],
        opts: &RenderOptions,
    ) -> io::Result<()> {
        diff(w, &*crate::clean(d)?, opts)
    }
    fn trend(
        &self,
        w: &mut dyn Write,
        t: &TrendReport,
        _snapshots: &[Snapshot],
        opts: &RenderOptions,
    ) -> io::Result<()> {
        trend(w, &*crate::clean(t)?, opts)
    }
}

pub fn reports(w: &mut dyn Write, reports: &[Report], opts: &RenderOptions) -> io::Result<()> {
    let mut out = String::new();
    if reports.is_empty() {
        out.push_str("No goroutine snapshots to report on.\n");
    }
    for (i, r) in reports.iter().enumerate() {
        if i > 0 {
            out.push_str("\n---\n\n");
        }
        report(&mut out, r, opts);
    }
    w.write_all(out.as_bytes())
}

fn verdict_word(g: &Group) -> String {
    match g.verdict {
        Verdict::Leak if g.proven => "**leak** (proven)".to_string(),
        Verdict::Leak => "**leak**".to_string(),
        Verdict::Suspect => "suspect".to_string(),
        v => v.as_str().to_string(),
    }
}

fn loc(l: Option<&Location>) -> String {
    match l {
        None => String::new(),
        Some(l) => {
            let fl = text::file_line(l);
            if fl.is_empty() {
                code(&l.function)
            } else {
                format!("{} {}", code(&l.function), code(&short_path(&fl)))
            }
        }
    }
}

/// The last two path elements: enough to find the file, short enough for a table.
fn short_path(p: &str) -> String {
    let parts: Vec<&str> = p.rsplitn(3, '/').collect();
    if parts.len() == 3 {
        format!("…/{}/{}", parts[1], parts[0])
    } else {
        p.to_string()
    }
}

fn report(out: &mut String, r: &Report, opts: &RenderOptions) {
    let s = &r.summary;
    out.push_str(&format!(
        "## goroscope: {}\n\n",
        esc(&text::source_name(&r.source))
    ));
    let mut facts = vec![format!("format `{}`", r.source.format)];
    if let Some(v) = text::go_version(r.go_version.as_deref(), r.go_version_min.as_deref()) {
        facts.push(esc(&v));
    }
    facts.push(plural(r.total_goroutines, "goroutine", "goroutines"));
    facts.push(format!(
        "{} (grouped by `{}`)",
        plural(r.groups.len() as u64, "group", "groups"),
        text::grouping(r.grouping)
    ));
    out.push_str(&facts.join(" · "));
    out.push_str("\n\n");
    let mut verdicts = vec![];
    if s.leaks > 0 {
        let proven = if s.proven_leaks > 0 {
            format!(" ({} proven)", s.proven_leaks)
        } else {
            String::new()
        };
        verdicts.push(format!(
            "**{}**{proven} ({})",
            plural(s.leaks as u64, "leak", "leaks"),
            plural(s.leaked_goroutines, "goroutine", "goroutines")
        ));
    }
    if s.suspects > 0 {
        verdicts.push(format!(
            "**{}** ({})",
            plural(s.suspects as u64, "suspect", "suspects"),
            plural(s.suspect_goroutines, "goroutine", "goroutines")
        ));
    }
    if s.need_more_samples > 0 {
        verdicts.push(format!("{} need more samples", s.need_more_samples));
    }
    verdicts.push(format!("{} benign", s.benign));
    out.push_str(&verdicts.join(" · "));
    out.push_str("\n\n");
    if let Some(reason) = &r.reason {
        out.push_str(&format!("Crash: {}\n\n", ctext(reason)));
    }
    out.push_str(&format!(
        "Context: **{}** — {}\n\n",
        esc(&r.context.kind),
        prose(&r.context.why)
    ));
    if r.proof.available {
        out.push_str(&format!(
            "Leak proof: {}\n\n",
            esc(r.proof.source.as_deref().unwrap_or("runtime"))
        ));
    }
    if !r.warnings.is_empty() {
        out.push_str("<details><summary>Warnings</summary>\n\n");
        for warning in &r.warnings {
            out.push_str(&format!("- {}\n", esc(warning)));
        }
        out.push_str("\n</details>\n\n");
    }

    if !r.relations.is_empty() {
        out.push_str("### Relations\n\n");
        for rel in &r.relations {
            out.push_str(&format!(
                "- **{}** ({}, {}): {}\n",
                esc(&rel.id),
                if rel.sure { "sure" } else { "probable" },
                plural(rel.count, "goroutine", "goroutines"),
                esc(&rel.summary)
            ));
            for g in rel.goroutines.iter().filter(|g| !g.stack.is_empty()) {
                let mut s = String::new();
                for f in &g.stack {
                    s.push_str(&f.function);
                    s.push('\n');
                    if !f.file.is_empty() {
                        s.push_str(&format!("\t{}:{}\n", f.file, f.line));
                    }
                }
                out.push_str(&format!(
                    "\n  <details><summary>goroutine {} ({})</summary>\n\n",
                    g.goid,
                    esc(&g.state)
                ));
                out.push_str(&markdown_block(&s, "  "));
                out.push_str("\n  </details>\n\n");
            }
        }
        out.push('\n');
    }

    let groups = ordered(&r.groups);
    let (findings, rest): (Vec<&Group>, Vec<&Group>) =
        groups.into_iter().partition(|g| is_finding(g));
    let limit = opts.top.unwrap_or(usize::MAX);
    let undecided: Vec<&Group> = rest
        .iter()
        .copied()
        .filter(|g| g.verdict == Verdict::NeedMoreSamples)
        .collect();
    if findings.is_empty() {
        out.push_str("No leaks or suspects.\n\n");
    } else {
        out.push_str("| # | Verdict | Goroutines | Pattern | Blocked at | Created by | State |\n");
        out.push_str("|---:|---|---:|---|---|---|---|\n");
        for (i, g) in findings.iter().take(limit).enumerate() {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                i + 1,
                verdict_word(g),
                thousands(g.count),
                g.pattern.as_deref().map(code).unwrap_or_default(),
                loc(text::site(g)),
                loc(g.created_by.as_ref()),
                esc(&state_with_minutes(g)),
            ));
        }
        if findings.len() > limit {
            out.push_str(&format!(
                "\n{}.\n",
                text::more(findings.len() - limit, "finding", "findings")
            ));
        }
        out.push('\n');
        for (i, g) in findings.iter().take(limit).enumerate() {
            finding(out, i + 1, g);
        }
    }
    if !undecided.is_empty() {
        let n: u64 = undecided.iter().map(|g| g.count).sum();
        out.push_str(&format!(
            "### Need more samples: {} ({})\n\nBlocked, but one snapshot cannot tell a leak from a wait.\n\n",
            plural(undecided.len() as u64, "group", "groups"),
            plural(n, "goroutine", "goroutines")
        ));
        // The next step once when they share it (they usually do), else a column.
        let first = undecided[0].next_step.as_deref();
        let shared = undecided.iter().all(|g| g.next_step.as_deref() == first);
        if shared {
            out.push_str("| Goroutines | Pattern | State | Where |\n|---:|---|---|---|\n");
        } else {
            out.push_str("| Goroutines | Pattern | State | Where | Next step |\n");
            out.push_str("|---:|---|---|---|---|\n");
        }
        for g in undecided.iter().take(limit) {
            out.push_str(&format!(
                "| {} | {} | {} | {} |",
                thousands(g.count),
                g.pattern.as_deref().map(code).unwrap_or_default(),
                esc(&text::state(g)),
                text::site(g).map(|l| code(&l.function)).unwrap_or_default(),
            ));
            if !shared {
                out.push_str(&format!(
                    " {} |",
                    g.next_step.as_deref().map(prose).unwrap_or_default()
                ));
            }
            out.push('\n');
        }
        if let (true, Some(s)) = (shared, first) {
            out.push_str(&format!("\nNext step: {}\n", prose(s)));
        }
        out.push('\n');
    }
    if let Some(l) = &r.lifecycle {
        crate::lifecycle::markdown(out, l, limit);
    }
    if !rest.is_empty() {
        let n: u64 = rest.iter().map(|g| g.count).sum();
        out.push_str(&format!(
            "<details><summary>Other groups: {} ({})</summary>\n\n",
            rest.len(),
            plural(n, "goroutine", "goroutines")
        ));
        out.push_str("| Goroutines | Verdict | Pattern | State | Where |\n");
        out.push_str("|---:|---|---|---|---|\n");
        let shown = limit.min(rest.len());
        for g in &rest[..shown] {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                thousands(g.count),
                g.verdict.as_str(),
                g.pattern.as_deref().map(code).unwrap_or_default(),
                esc(&text::state(g)),
                text::site(g).map(|l| code(&l.function)).unwrap_or_default(),
            ));
        }
        if shown < rest.len() {
            out.push_str(&format!(
                "\n{}.\n",
                text::more(rest.len() - shown, "group", "groups")
            ));
        }
        out.push_str("\n</details>\n");
    }
}

fn state_with_minutes(g: &Group) -> String {
    let mut s = text::state(g);
    if let Some(m) = &g.wait_minutes {
        s.push_str(&format!(", {}", text::minutes(m)));
    }
    s
}

fn finding(out: &mut String, n: usize, g: &Group) {
    let mut title = format!(
        "### {n}. {}: {}",
        match (g.verdict, g.proven) {
            (Verdict::Leak, true) => "Leak (proven)",
            (Verdict::Leak, false) => "Leak",
            _ => "Suspect",
        },
        plural(g.count, "goroutine", "goroutines")
    );
    if let Some(p) = &g.pattern {
        title.push_str(&format!(" · {}", ctext(p)));
    }
    out.push_str(&title);
    out.push_str("\n\n");
    if let Some(b) = text::site(g) {
        out.push_str(&format!("- **Blocked at** {}\n", full_loc(b)));
    }
    if let Some(c) = &g.created_by {
        let by = match g.creator_goids.first() {
            Some(id) => format!(" in goroutine {id}"),
            None => String::new(),
        };
        out.push_str(&format!("- **Created by** {}{by}\n", full_loc(c)));
    }
    out.push_str(&format!("- **State** {}\n", esc(&state_with_minutes(g))));
    // Rule texts write code as `code spans`: keep them.
    if let Some(e) = &g.explanation {
        out.push_str(&format!("- **Why** {}\n", prose(e)));
    }
    if let Some(f) = &g.fix {
        out.push_str(&format!("- **Fix** {}\n", prose(f)));
    }
    if !g.relations.is_empty() {
        out.push_str(&format!(
            "- **Relations** {}\n",
            esc(&g.relations.join(", "))
        ));
    }
    if let Some(n) = &g.next_step {
        out.push_str(&format!("- **Next step** {}\n", prose(n)));
    }
    if !g.evidence.is_empty() {
        out.push_str("- **Evidence**\n");
        for e in &g.evidence {
            out.push_str(&format!("  - {}\n", esc(e)));
        }
    }
    if !g.labels.is_empty() {
        let l: Vec<String> = g
            .labels
            .iter()
            .map(|(k, v)| ctext(&format!("{k}={}", v.join("|"))))
            .collect();
        out.push_str(&format!("- **Labels** {}\n", l.join(" ")));
    }
    if !g.goids.is_empty() {
        let ids: Vec<String> = g.goids.iter().take(20).map(u64::to_string).collect();
        let more = if g.goids.len() > 20 || g.goids_truncated {
            " …"
        } else {
            ""
        };
        out.push_str(&format!("- **Goroutine ids** {}{more}\n", ids.join(", ")));
    }
    if !g.stack.is_empty() {
        let mut s = String::new();
        for f in &g.stack {
            s.push_str(&f.function);
            if f.inlined {
                s.push_str(" (inlined)");
            }
            s.push('\n');
            if !f.file.is_empty() {
                s.push_str(&format!("\t{}:{}\n", f.file, f.line));
            }
        }
        if let Some(c) = &g.created_by {
            s.push_str(&format!("created by {}\n", c.function));
            if !c.file.is_empty() {
                s.push_str(&format!("\t{}:{}\n", c.file, c.line));
            }
        }
        out.push_str("\n<details><summary>Stack</summary>\n\n");
        out.push_str(&markdown_block(&s, ""));
        out.push_str("\n</details>\n");
    }
    out.push('\n');
}

fn full_loc(l: &Location) -> String {
    let fl = text::file_line(l);
    if fl.is_empty() {
        ctext(&l.function)
    } else {
        format!("{} at {}", ctext(&l.function), ctext(&fl))
    }
}

pub fn diff(w: &mut dyn Write, d: &DiffReport, opts: &RenderOptions) -> io::Result<()> {
    let mut out = format!(
        "## goroscope diff: {} → {}\n\nGoroutines: {} → {} ({:+})\n\n",
        esc(&text::source_name(&d.before)),
        esc(&text::source_name(&d.after)),
        thousands(d.before_total),
        thousands(d.after_total),
        d.after_total as i64 - d.before_total as i64
    );
    let limit = opts.top.unwrap_or(usize::MAX);
    let changed: Vec<_> = d.groups.iter().collect();
    if changed
        .iter()
        .all(|g| !matches!(g.change, Change::New | Change::Grown))
    {
        out.push_str("Nothing new or grown in AFTER.\n\n");
    }
    if !changed.is_empty() {
        out.push_str("| Change | Before | After | Δ | Verdict | Pattern | Blocked at |\n");
        out.push_str("|---|---:|---:|---:|---|---|---|\n");
        for dg in changed.iter().take(limit) {
            out.push_str(&format!(
                "| {} | {} | {} | {:+} | {} | {} | {} |\n",
                change_word(dg.change),
                thousands(dg.before),
                thousands(dg.after),
                dg.delta,
                verdict_word(&dg.group),
                dg.group.pattern.as_deref().map(code).unwrap_or_default(),
                loc(text::site(&dg.group)),
            ));
        }
        if changed.len() > limit {
            out.push_str(&format!(
                "\n{}.\n",
                text::more(changed.len() - limit, "group", "groups")
            ));
        }
        out.push('\n');
    }
    out.push_str(&format!("{} unchanged groups.\n", d.unchanged));
    w.write_all(out.as_bytes())
}

fn change_word(c: Change) -> &'static str {
    match c {
        Change::New => "**new**",
        Change::Grown => "**grown**",
        Change::Shrunk => "shrunk",
        Change::Gone => "gone",
        Change::Unchanged => "unchanged",
    }
}

pub fn trend(w: &mut dyn Write, t: &TrendReport, opts: &RenderOptions) -> io::Result<()> {
    let totals: Vec<String> = t.totals.iter().map(|n| thousands(*n)).collect();
    let window = t.minutes.as_ref().and_then(|m| m.last().copied());
    let over = window
        .map(|m| format!(" over {}", text::span(m)))
        .unwrap_or_default();
    let mut out = format!(
        "## goroscope trend: {}{over}\n\nGoroutines: {} · grouped by `{}`\n\n",
        esc(&text::trend_subject(&t.sources)),
        totals.join(" → "),
        text::grouping(t.grouping)
    );
    for warning in &t.warnings {
        out.push_str(&format!("- Warning: {}\n", esc(warning)));
    }
    if !t.warnings.is_empty() {
        out.push('\n');
    }
    if !t.groups.iter().any(|g| g.growing) {
        out.push_str("No group grows steadily.\n\n");
    }
    let limit = opts.top.unwrap_or(usize::MAX);
    if t.groups.is_empty() {
        out.push_str("No groups.\n");
    } else {
        out.push_str("| Verdict | Counts | Growth | p | Pattern | Blocked at |\n");
        out.push_str("|---|---|---:|---:|---|---|\n");
        for tg in t.groups.iter().take(limit) {
            let counts: Vec<String> = tg.counts.iter().map(|n| thousands(*n)).collect();
            let growth = if tg.growing {
                text::rate(tg.slope, tg.slope_per_minute, window)
            } else {
                "none".to_string()
            };
            out.push_str(&format!(
                "| {} | {} | {growth} | {:.4} | {} | {} |\n",
                verdict_word(&{
                    let mut g = tg.group.clone();
                    g.verdict = tg.verdict;
                    g
                }),
                counts.join(" → "),
                tg.p_value,
                tg.group.pattern.as_deref().map(code).unwrap_or_default(),
                loc(text::site(&tg.group)),
            ));
        }
        if t.groups.len() > limit {
            out.push_str(&format!(
                "\n{}.\n",
                text::more(t.groups.len() - limit, "group", "groups")
            ));
        }
    }
    w.write_all(out.as_bytes())
}
