//! The terminal report: findings first (proven leaks, leaks, suspects), each with what a person
//! needs to act, then a compact table of everything else. Fits the given width (80 columns is
//! the design point); colour only when asked.

use crate::text::{self, plural, thousands, truncate, truncate_left, wrap};
use crate::{is_finding, ordered, RenderOptions, Renderer, Subject};
use goroscope_analyze::{Change, DiffReport, Group, Location, Report, TrendReport, Verdict};
use goroscope_model::Snapshot;
use std::io::{self, Write};

/// ANSI styling that is a no-op without colour.
#[derive(Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn wrap(self, code: &str, s: &str) -> String {
        if self.0 && !s.is_empty() {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn bold(self, s: &str) -> String {
        self.wrap("1", s)
    }
    fn dim(self, s: &str) -> String {
        self.wrap("2", s)
    }
    fn verdict(self, v: Verdict, s: &str) -> String {
        match v {
            Verdict::Leak => self.wrap("1;31", s),
            Verdict::Suspect => self.wrap("1;33", s),
            Verdict::NeedMoreSamples => self.wrap("36", s),
            Verdict::Benign => self.wrap("2", s),
        }
    }
    fn good(self, s: &str) -> String {
        self.wrap("32", s)
    }
}

pub(crate) struct Terminal;

impl Renderer for Terminal {
    fn name(&self) -> &'static str {
        "terminal"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["text", "term"]
    }
    fn supports(&self, _: Subject) -> bool {
        true
    }
    fn about(&self, subject: Subject) -> &'static str {
        match subject {
            Subject::Report => "findings, then a table of the other groups",
            Subject::Diff => "new and grown groups",
            Subject::Trend => "growing groups",
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

const LABEL_W: usize = 12;

pub fn reports(w: &mut dyn Write, reports: &[Report], opts: &RenderOptions) -> io::Result<()> {
    if reports.is_empty() {
        return writeln!(w, "No goroutine snapshots to report on.");
    }
    for (i, r) in reports.iter().enumerate() {
        if i > 0 {
            writeln!(w)?;
            writeln!(w, "{}", "═".repeat(opts.width().min(80)))?;
            writeln!(w)?;
        }
        report(w, r, opts)?;
    }
    Ok(())
}

fn report(w: &mut dyn Write, r: &Report, opts: &RenderOptions) -> io::Result<()> {
    let p = Paint(opts.color);
    let width = opts.width();
    header(w, r, p, width, opts.verbose)?;
    relations(w, r, p, width, opts.verbose)?;

    let groups = ordered(&r.groups);
    let (findings, rest): (Vec<&Group>, Vec<&Group>) =
        groups.into_iter().partition(|g| is_finding(g));
    let (undecided, rest): (Vec<&Group>, Vec<&Group>) = rest
        .into_iter()
        .partition(|g| g.verdict == Verdict::NeedMoreSamples);

    if findings.is_empty() {
        writeln!(w)?;
        writeln!(
            w,
            "{}",
            p.good(&format!(
                "No leaks or suspects among {}.",
                plural(r.total_goroutines, "goroutine", "goroutines")
            ))
        )?;
    } else {
        let shown = opts.full_findings().min(findings.len());
        for (i, g) in findings.iter().take(shown).enumerate() {
            writeln!(w)?;
            finding(w, i + 1, g, p, width, opts.verbose)?;
        }
        if shown < findings.len() {
            // The rest of the findings, one line each: still all listed, worst first.
            let more = &findings[shown..];
            let n: u64 = more.iter().map(|g| g.count).sum();
            writeln!(w)?;
            writeln!(
                w,
                "{}",
                p.bold(&format!(
                    "More findings: {} ({})",
                    thousands(more.len() as u64),
                    plural(n, "goroutine", "goroutines")
                ))
            )?;
            table(w, more, opts.table_rows(), p, width)?;
        }
    }

    if !undecided.is_empty() {
        need_more_samples(w, &undecided, opts, p, width)?;
    }

    if let Some(l) = &r.lifecycle {
        crate::lifecycle::terminal(
            w,
            l,
            opts.table_rows(),
            width,
            &|v, s| p.verdict(v, s),
            &|s| p.dim(s),
            &|s| p.bold(s),
        )?;
    }

    if !rest.is_empty() {
        writeln!(w)?;
        let n: u64 = rest.iter().map(|g| g.count).sum();
        writeln!(
            w,
            "{}",
            p.bold(&format!(
                "Other groups: {} ({})",
                thousands(rest.len() as u64),
                plural(n, "goroutine", "goroutines")
            ))
        )?;
        if opts.verbose >= 2 {
            // Everything: each group in full, as the findings are.
            for (i, g) in rest.iter().enumerate() {
                writeln!(w)?;
                finding(w, findings.len() + i + 1, g, p, width, opts.verbose)?;
            }
        } else {
            table(w, &rest, opts.table_rows(), p, width)?;
        }
    }
    Ok(())
}

fn header(w: &mut dyn Write, r: &Report, p: Paint, width: usize, verbose: u8) -> io::Result<()> {
    let mut facts = vec![r.source.format.clone()];
    if r.source.kind != "goroutine" {
        facts.push(r.source.kind.clone());
    }
    if let Some(v) = text::go_version(r.go_version.as_deref(), r.go_version_min.as_deref()) {
        facts.push(v);
    }
    facts.push(format!(
        "{} in {}",
        plural(r.total_goroutines, "goroutine", "goroutines"),
        plural(r.groups.len() as u64, "group", "groups")
    ));
    if r.grouping != goroscope_analyze::Similarity::default() {
        facts.push(format!("grouped by {}", text::grouping(r.grouping)));
    }
    let name = text::source_name(&r.source);
    let line = format!("goroscope: {name} · {}", facts.join(" · "));
    if text::width(&line) <= width {
        writeln!(w, "{}", p.bold(&line))?;
    } else {
        // The input on a line of its own (long paths cut from the left), then the facts.
        writeln!(
            w,
            "{}",
            p.bold(&format!(
                "goroscope: {}",
                truncate_left(&name, width.saturating_sub(11))
            ))
        )?;
        for l in wrap(&facts.join(" · "), width) {
            writeln!(w, "{l}")?;
        }
    }

    let s = &r.summary;
    let mut parts = Vec::new();
    if s.leaks > 0 {
        let mut t = plural(s.leaks as u64, "leak", "leaks");
        if s.proven_leaks > 0 {
            t.push_str(&format!(" ({} proven)", s.proven_leaks));
        }
        t.push_str(&format!(
            ", {}",
            plural(s.leaked_goroutines, "goroutine", "goroutines")
        ));
        parts.push((t, Some(Verdict::Leak)));
    }
    if s.suspects > 0 {
        let t = format!(
            "{}, {}",
            plural(s.suspects as u64, "suspect", "suspects"),
            plural(s.suspect_goroutines, "goroutine", "goroutines")
        );
        parts.push((t, Some(Verdict::Suspect)));
    }
    if s.need_more_samples > 0 {
        parts.push((
            format!(
                "{} need more samples",
                thousands(s.need_more_samples as u64)
            ),
            Some(Verdict::NeedMoreSamples),
        ));
    }
    parts.push((format!("{} benign", thousands(s.benign as u64)), None));
    if s.ignored > 0 {
        parts.push((format!("{} ignored", thousands(s.ignored as u64)), None));
    }
    // Wrap between parts, measuring the text without colour codes.
    let mut line = String::new();
    let mut lw = 0;
    for (text, v) in parts {
        let tw = text::width(&text);
        if lw > 0 && lw + 3 + tw > width {
            writeln!(w, "{line}")?;
            line.clear();
            lw = 0;
        }
        if lw > 0 {
            line.push_str(" · ");
            lw += 3;
        }
        line.push_str(&match v {
            Some(v) => p.verdict(v, &text),
            None => text,
        });
        lw += tw;
    }
    writeln!(w, "{line}")?;

    if let Some(reason) = &r.reason {
        for l in wrap(&format!("crash: {reason}"), width) {
            writeln!(w, "{l}")?;
        }
    }
    // What the moment means decides the verdicts: always said.
    for l in wrap(
        &format!("context: {} — {}", r.context.kind, r.context.why),
        width,
    ) {
        writeln!(w, "{}", p.dim(&l))?;
    }
    if r.proof.available {
        let src = r.proof.source.as_deref().unwrap_or("runtime");
        for l in wrap(&format!("leak proof: {src}"), width) {
            writeln!(w, "{}", p.dim(&l))?;
        }
    } else if s.suspects > 0 {
        // Memory reads have no --prove: the runtime marks proven leaks (_Gleaked) only while a
        // goroutineleak profile's detection cycle has run in the process.
        let hint = if matches!(r.source.format.as_str(), "attach" | "core") {
            "no runtime leak proof in memory: goroutines show as leaked only after the process has served a goroutineleak profile (Go ≥ 1.26)"
        } else {
            "no runtime leak proof in the input: on Go ≥ 1.26 a goroutineleak profile (--prove) can turn suspects into proven leaks"
        };
        for l in wrap(hint, width) {
            writeln!(w, "{}", p.dim(&l))?;
        }
    }
    warnings(w, &r.warnings, p, width, verbose)
}

/// Warnings, the first few (all at `-vv`), then how many more.
fn warnings(
    w: &mut dyn Write,
    warnings: &[String],
    p: Paint,
    width: usize,
    verbose: u8,
) -> io::Result<()> {
    let shown = if verbose >= 2 { usize::MAX } else { 3 };
    for warning in warnings.iter().take(shown) {
        for l in wrap(&format!("warning: {warning}"), width) {
            writeln!(w, "{}", p.verdict(Verdict::Suspect, &l))?;
        }
    }
    if warnings.len() > shown {
        let line = format!(
            "{}; -vv shows them",
            text::more(warnings.len() - shown, "warning", "warnings")
        );
        writeln!(w, "{line}")?;
    }
    Ok(())
}

/// Deadlocks, lock chains and stuck programs: one entry each, with the root holder's stack.
fn relations(w: &mut dyn Write, r: &Report, p: Paint, width: usize, verbose: u8) -> io::Result<()> {
    if r.relations.is_empty() {
        return Ok(());
    }
    writeln!(w)?;
    writeln!(w, "{}", p.bold("Relations"))?;
    for rel in &r.relations {
        let head = format!(
            "{} · {} · {}",
            rel.id,
            if rel.sure { "sure" } else { "probable" },
            plural(rel.count, "goroutine", "goroutines")
        );
        let v = if rel.kind == "lock-chain" {
            Verdict::Suspect
        } else {
            Verdict::Leak
        };
        writeln!(w, "  {}", p.verdict(v, &truncate(&head, width - 2)))?;
        for l in wrap(&rel.summary, width.saturating_sub(4)) {
            writeln!(w, "    {l}")?;
        }
        for g in rel.goroutines.iter().filter(|g| !g.stack.is_empty()) {
            writeln!(
                w,
                "    {}",
                p.dim(&format!("goroutine {} ({}):", g.goid, g.state))
            )?;
            let max = if verbose > 0 { usize::MAX } else { 6 };
            let avail = width.saturating_sub(6);
            for f in g.stack.iter().take(max) {
                let fl = text::file_line(f);
                let line = if fl.is_empty() {
                    f.function.clone()
                } else {
                    format!("{} ({fl})", f.function)
                };
                writeln!(w, "      {}", truncate(&line, avail))?;
            }
            if g.stack.len() > max {
                writeln!(
                    w,
                    "      {}",
                    text::more(g.stack.len() - max, "frame", "frames")
                )?;
            }
        }
    }
    Ok(())
}

/// Groups one snapshot cannot decide, and the step that would decide them (said once when
/// they share it).
fn need_more_samples(
    w: &mut dyn Write,
    groups: &[&Group],
    opts: &RenderOptions,
    p: Paint,
    width: usize,
) -> io::Result<()> {
    writeln!(w)?;
    let n: u64 = groups.iter().map(|g| g.count).sum();
    let head = format!(
        "Need more samples: {} ({})",
        plural(groups.len() as u64, "group", "groups"),
        plural(n, "goroutine", "goroutines")
    );
    writeln!(
        w,
        "{}",
        p.verdict(Verdict::NeedMoreSamples, &truncate(&head, width))
    )?;
    for l in wrap(
        "blocked, but one snapshot cannot tell a leak from a wait",
        width.saturating_sub(2),
    ) {
        writeln!(w, "  {}", p.dim(&l))?;
    }
    if opts.verbose >= 2 {
        for (i, g) in groups.iter().enumerate() {
            writeln!(w)?;
            finding(w, i + 1, g, p, width, opts.verbose)?;
        }
        return Ok(());
    }
    table(w, groups, opts.table_rows(), p, width)?;
    let mut steps: Vec<&str> = Vec::new();
    for g in groups.iter().take(opts.table_rows()) {
        if let Some(s) = g.next_step.as_deref() {
            if !steps.contains(&s) {
                steps.push(s);
            }
        }
    }
    for s in steps {
        for (i, l) in wrap(s, width.saturating_sub(4)).into_iter().enumerate() {
            writeln!(w, "  {}{l}", if i == 0 { "→ " } else { "  " })?;
        }
    }
    Ok(())
}

fn title(g: &Group) -> String {
    let mut t = match g.verdict {
        Verdict::Leak if g.proven => "LEAK (proven)".to_string(),
        Verdict::Leak => "LEAK".to_string(),
        Verdict::Suspect => "SUSPECT".to_string(),
        Verdict::NeedMoreSamples => "NEED MORE SAMPLES".to_string(),
        Verdict::Benign => "BENIGN".to_string(),
    };
    t.push_str(&format!(
        " · {}",
        plural(g.count, "goroutine", "goroutines")
    ));
    if let Some(pat) = &g.pattern {
        t.push_str(&format!(" · {pat}"));
    }
    t
}

/// A labelled field, wrapped under its label.
fn field(w: &mut dyn Write, label: &str, value: &str, p: Paint, width: usize) -> io::Result<()> {
    let avail = width.saturating_sub(2 + LABEL_W);
    for (i, l) in wrap(value, avail).into_iter().enumerate() {
        let lab = if i == 0 { label } else { "" };
        writeln!(w, "  {}{l}", p.dim(&format!("{lab:<LABEL_W$}")))?;
    }
    Ok(())
}

/// A location: `function (file:line) suffix` on one line when it fits; else the function (and
/// suffix) wrapped, and the file under it, cut from the left.
fn location(
    w: &mut dyn Write,
    label: &str,
    loc: &Location,
    suffix: &str,
    p: Paint,
    width: usize,
) -> io::Result<()> {
    let avail = width.saturating_sub(2 + LABEL_W);
    let fl = text::file_line(loc);
    let one = if fl.is_empty() {
        format!("{}{suffix}", loc.function)
    } else {
        format!("{} ({fl}){suffix}", loc.function)
    };
    if text::width(&one) <= avail {
        return writeln!(w, "  {}{one}", p.dim(&format!("{label:<LABEL_W$}")));
    }
    let pad = " ".repeat(LABEL_W);
    for (i, l) in wrap(&format!("{}{suffix}", loc.function), avail)
        .into_iter()
        .enumerate()
    {
        let lab = if i == 0 { label } else { "" };
        writeln!(w, "  {}{l}", p.dim(&format!("{lab:<LABEL_W$}")))?;
    }
    if !fl.is_empty() {
        writeln!(w, "  {pad}{}", truncate_left(&fl, avail))?;
    }
    Ok(())
}

fn finding(
    w: &mut dyn Write,
    n: usize,
    g: &Group,
    p: Paint,
    width: usize,
    verbose: u8,
) -> io::Result<()> {
    let head = truncate(&format!("{n}. {}", title(g)), width);
    writeln!(w, "{}", p.verdict(g.verdict, &head))?;
    if let Some(b) = &g.blocking_site {
        location(w, "blocked at", b, "", p, width)?;
    } else if let Some(t) = &g.top_frame {
        location(w, "top frame", t, "", p, width)?;
    }
    if let Some(c) = &g.created_by {
        let suffix = match g.creator_goids.as_slice() {
            [] => String::new(),
            [one] => format!(" in goroutine {one}"),
            [first, ..] => format!(" in goroutines {first}, …"),
        };
        location(w, "created by", c, &suffix, p, width)?;
    }
    let mut st = text::state(g);
    if let Some(m) = &g.wait_minutes {
        st.push_str(&format!(", blocked {}", text::minutes(m)));
    }
    field(w, "state", &st, p, width)?;
    if let Some(e) = &g.explanation {
        field(w, "why", e, p, width)?;
    }
    if let Some(f) = &g.fix {
        field(w, "fix", f, p, width)?;
    }
    if !g.relations.is_empty() {
        field(w, "relations", &g.relations.join(", "), p, width)?;
    }
    if let Some(n) = &g.next_step {
        field(w, "next", n, p, width)?;
    }
    // Labels are how people tell handlers apart: always shown, every value at -v.
    if !g.labels.is_empty() {
        let max = if verbose > 0 { usize::MAX } else { 3 };
        field(w, "labels", &text::labels(g, max), p, width)?;
    }
    if verbose > 0 {
        for (i, e) in g.evidence.iter().enumerate() {
            field(
                w,
                if i == 0 { "evidence" } else { "" },
                &format!("• {e}"),
                p,
                width,
            )?;
        }
        if !g.goids.is_empty() {
            // -v: the first 20; -vv: every id the analysis kept.
            let max = if verbose >= 2 { usize::MAX } else { 20 };
            let ids: Vec<String> = g.goids.iter().take(max).map(u64::to_string).collect();
            let more = if g.goids_truncated || ids.len() < g.goids.len() {
                format!(" … ({} in all)", thousands(g.count))
            } else {
                String::new()
            };
            field(w, "goids", &format!("{}{more}", ids.join(" ")), p, width)?;
        }
        if !g.stack.is_empty() {
            writeln!(w, "  {}", p.dim("stack"))?;
            let avail = width.saturating_sub(4);
            for f in &g.stack {
                let inl = if f.inlined { " (inlined)" } else { "" };
                writeln!(
                    w,
                    "    {}",
                    truncate(&format!("{}{inl}", f.function), avail)
                )?;
                if !f.file.is_empty() {
                    writeln!(
                        w,
                        "        {}",
                        truncate_left(&format!("{}:{}", f.file, f.line), avail - 4)
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// The table of non-findings: COUNT VERDICT STATE WHERE, the last column taking what is left.
fn table(
    w: &mut dyn Write,
    rows: &[&Group],
    limit: usize,
    p: Paint,
    width: usize,
) -> io::Result<()> {
    let shown = &rows[..limit.min(rows.len())];
    let count_w = shown
        .iter()
        .map(|g| thousands(g.count).len())
        .max()
        .unwrap_or(0)
        .max(5);
    // Below 60 columns `need-more-samples` shortens to `need-more`.
    let narrow = width < 60;
    let verdict_name = |v: Verdict| match v {
        Verdict::NeedMoreSamples if narrow => "need-more",
        v => v.as_str(),
    };
    let verdict_w = shown
        .iter()
        .map(|g| verdict_name(g.verdict).len())
        .max()
        .unwrap_or(0)
        .max(7);
    let mut state_w = shown
        .iter()
        .map(|g| text::width(&text::state(g)))
        .max()
        .unwrap_or(0)
        .clamp(5, 18);
    // WHERE gets at least 12 columns; the state column gives way first on narrow terminals.
    let fixed = |state_w: usize| 2 + count_w + 2 + verdict_w + 2 + state_w + 2;
    if fixed(state_w) + 12 > width {
        state_w = state_w.saturating_sub(fixed(state_w) + 12 - width).max(5);
    }
    let where_w = width.saturating_sub(fixed(state_w)).max(8);
    writeln!(
        w,
        "  {}",
        p.dim(&format!(
            "{:>count_w$}  {:<verdict_w$}  {:<state_w$}  WHERE",
            "COUNT", "VERDICT", "STATE"
        ))
    )?;
    for g in shown {
        let mut site = text::site(g)
            .map(|l| l.function.clone())
            .unwrap_or_else(|| "(no stack)".to_string());
        if !g.labels.is_empty() {
            site.push_str(&format!("  {}", text::labels(g, 1)));
        }
        let verdict = format!("{:<verdict_w$}", verdict_name(g.verdict));
        writeln!(
            w,
            "  {:>count_w$}  {}  {:<state_w$}  {}",
            thousands(g.count),
            p.verdict(g.verdict, &verdict),
            truncate(&text::state(g), state_w),
            truncate(&site, where_w)
        )?;
    }
    if shown.len() < rows.len() {
        let more = &rows[shown.len()..];
        let n: u64 = more.iter().map(|g| g.count).sum();
        let line = format!(
            "{} ({}); use --top N or -v",
            text::more(more.len(), "group", "groups"),
            plural(n, "goroutine", "goroutines")
        );
        for l in wrap(&line, width - 2) {
            writeln!(w, "  {l}")?;
        }
    }
    Ok(())
}

pub fn diff(w: &mut dyn Write, d: &DiffReport, opts: &RenderOptions) -> io::Result<()> {
    let p = Paint(opts.color);
    let width = opts.width();
    let delta = d.after_total as i64 - d.before_total as i64;
    let (before, after) = (text::source_name(&d.before), text::source_name(&d.after));
    let totals = format!(
        "{} → {} goroutines ({delta:+})",
        thousands(d.before_total),
        thousands(d.after_total),
    );
    let head = format!("goroscope diff: {before} → {after} · {totals}");
    if text::width(&head) <= width {
        writeln!(w, "{}", p.bold(&head))?;
    } else {
        let avail = width.saturating_sub(10);
        writeln!(w, "{}", p.bold("goroscope diff"))?;
        writeln!(w, "  before  {}", truncate_left(&before, avail))?;
        writeln!(w, "  after   {}", truncate_left(&after, avail))?;
        writeln!(w, "{totals}")?;
    }
    let count = |c: Change| d.groups.iter().filter(|g| g.change == c).count() as u64;
    let counts = format!(
        "{} new · {} grown · {} shrunk · {} gone · {} unchanged",
        count(Change::New),
        count(Change::Grown),
        count(Change::Shrunk),
        count(Change::Gone),
        d.unchanged
    );
    for l in wrap(&counts, width) {
        writeln!(w, "{l}")?;
    }
    let (up, down): (Vec<_>, Vec<_>) = d
        .groups
        .iter()
        .partition(|g| matches!(g.change, Change::New | Change::Grown));
    if up.is_empty() {
        writeln!(w)?;
        writeln!(w, "{}", p.good("Nothing new or grown in AFTER."))?;
    }
    let limit = opts.full_findings();
    for (i, dg) in up.iter().take(limit).enumerate() {
        writeln!(w)?;
        let g = &dg.group;
        let what = match dg.change {
            Change::New => format!("NEW +{}", thousands(dg.after)),
            _ => format!(
                "GROWN {} → {} (+{})",
                thousands(dg.before),
                thousands(dg.after),
                dg.delta
            ),
        };
        let mut head = format!("{}. {what} · {}", i + 1, g.verdict.as_str());
        if g.proven {
            head.push_str(" (proven)");
        }
        if let Some(pat) = &g.pattern {
            head.push_str(&format!(" · {pat}"));
        }
        let v = if g.verdict == Verdict::Benign {
            Verdict::NeedMoreSamples
        } else {
            g.verdict
        };
        writeln!(w, "{}", p.verdict(v, &truncate(&head, width)))?;
        group_brief(w, g, p, width)?;
    }
    if up.len() > limit {
        writeln!(w)?;
        let line = format!(
            "{} new or grown; raise --top to see them",
            text::more(up.len() - limit, "group", "groups")
        );
        for l in wrap(&line, width) {
            writeln!(w, "{l}")?;
        }
    }
    if !down.is_empty() {
        writeln!(w)?;
        writeln!(w, "{}", p.bold("Shrunk or gone"))?;
        let shown = opts.table_rows().min(down.len());
        let moves: Vec<String> = down[..shown]
            .iter()
            .map(|dg| format!("{} → {}", thousands(dg.before), thousands(dg.after)))
            .collect();
        let move_w = moves.iter().map(|m| text::width(m)).max().unwrap_or(0);
        // `  shrunk  10 → 4  site`: the site takes what is left, at least 8 columns.
        let avail = width.saturating_sub(2 + 6 + 2 + move_w + 2).max(8);
        for (dg, mv) in down[..shown].iter().zip(&moves) {
            let site = text::site(&dg.group)
                .map(|l| l.function.clone())
                .unwrap_or_default();
            let change = match dg.change {
                Change::Gone => "gone",
                _ => "shrunk",
            };
            writeln!(
                w,
                "  {change:<6}  {mv:>move_w$}  {}",
                truncate(&site, avail)
            )?;
        }
        if shown < down.len() {
            writeln!(w, "  {}", text::more(down.len() - shown, "group", "groups"))?;
        }
    }
    Ok(())
}

fn group_brief(w: &mut dyn Write, g: &Group, p: Paint, width: usize) -> io::Result<()> {
    if let Some(b) = text::site(g) {
        location(w, "blocked at", b, "", p, width)?;
    }
    if let Some(c) = &g.created_by {
        location(w, "created by", c, "", p, width)?;
    }
    field(w, "state", &text::state(g), p, width)?;
    if let Some(e) = &g.explanation {
        field(w, "why", e, p, width)?;
    }
    if let Some(f) = &g.fix {
        field(w, "fix", f, p, width)?;
    }
    if !g.labels.is_empty() {
        field(w, "labels", &text::labels(g, 3), p, width)?;
    }
    Ok(())
}

pub fn trend(w: &mut dyn Write, t: &TrendReport, opts: &RenderOptions) -> io::Result<()> {
    let p = Paint(opts.color);
    let width = opts.width();
    let window = t.minutes.as_ref().and_then(|m| m.last().copied());
    let totals: Vec<String> = t.totals.iter().map(|n| thousands(*n)).collect();
    let over = window
        .map(|m| format!(" over {}", text::span(m)))
        .unwrap_or_default();
    let mut head = format!(
        "goroscope trend: {}{over} · goroutines {}",
        text::trend_subject(&t.sources),
        totals.join(" → ")
    );
    if t.grouping != goroscope_analyze::Similarity::default() {
        head.push_str(&format!(" · grouped by {}", text::grouping(t.grouping)));
    }
    for l in wrap(&head, width) {
        writeln!(w, "{}", p.bold(&l))?;
    }
    warnings(w, &t.warnings, p, width, opts.verbose)?;
    let (findings, rest): (Vec<_>, Vec<_>) = t
        .groups
        .iter()
        .partition(|g| matches!(g.verdict, Verdict::Leak | Verdict::Suspect));
    let growing = t.groups.iter().filter(|g| g.growing).count();
    if growing == 0 {
        writeln!(w)?;
        writeln!(w, "{}", p.good("No group grows steadily."))?;
    }
    let limit = opts.full_findings();
    for (i, tg) in findings.iter().take(limit).enumerate() {
        writeln!(w)?;
        let g = &tg.group;
        let mut head = format!("{}. {}", i + 1, tg.verdict.as_str().to_uppercase());
        if g.proven && tg.verdict == Verdict::Leak {
            head.push_str(" (proven)");
        }
        if tg.growing {
            head.push_str(&format!(
                " · grows {}",
                text::rate(tg.slope, tg.slope_per_minute, window)
            ));
        } else {
            head.push_str(" · not growing");
        }
        if let Some(pat) = &g.pattern {
            head.push_str(&format!(" · {pat}"));
        }
        writeln!(w, "{}", p.verdict(tg.verdict, &truncate(&head, width)))?;
        let counts: Vec<String> = tg.counts.iter().map(|n| thousands(*n)).collect();
        field(w, "counts", &counts.join(" → "), p, width)?;
        field(
            w,
            "trend",
            &format!(
                "Mann–Kendall S={} z={:.2} p={:.4}",
                tg.mann_kendall_s, tg.z, tg.p_value
            ),
            p,
            width,
        )?;
        group_brief(w, g, p, width)?;
        if opts.verbose > 0 {
            for (i, e) in tg.evidence.iter().enumerate() {
                field(
                    w,
                    if i == 0 { "evidence" } else { "" },
                    &format!("• {e}"),
                    p,
                    width,
                )?;
            }
        }
    }
    if findings.len() > limit {
        writeln!(w)?;
        let line = format!(
            "{} among the findings; raise --top to see them",
            text::more(findings.len() - limit, "group", "groups")
        );
        for l in wrap(&line, width) {
            writeln!(w, "{l}")?;
        }
    }
    if !rest.is_empty() {
        writeln!(w)?;
        writeln!(
            w,
            "{}",
            p.bold(&format!("Other groups: {}", thousands(rest.len() as u64)))
        )?;
        let shown = opts.table_rows().min(rest.len());
        let narrow = width < 60;
        let verdict_name = |v: Verdict| match v {
            Verdict::NeedMoreSamples if narrow => "need-more",
            v => v.as_str(),
        };
        let rows: Vec<(&str, String, String)> = rest[..shown]
            .iter()
            .map(|tg| {
                let counts: Vec<String> = tg.counts.iter().map(|n| thousands(*n)).collect();
                let site = text::site(&tg.group)
                    .map(|l| l.function.clone())
                    .unwrap_or_default();
                (verdict_name(tg.verdict), counts.join("→"), site)
            })
            .collect();
        let verdict_w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(7);
        let counts_w = rows
            .iter()
            .map(|r| text::width(&r.1))
            .max()
            .unwrap_or(0)
            .clamp(6, (width / 3).max(6));
        let where_w = width
            .saturating_sub(2 + verdict_w + 2 + counts_w + 2)
            .max(8);
        writeln!(
            w,
            "  {}",
            p.dim(&format!(
                "{:<verdict_w$}  {:<counts_w$}  WHERE",
                "VERDICT", "COUNTS"
            ))
        )?;
        for (verdict, counts, site) in &rows {
            writeln!(
                w,
                "  {:<verdict_w$}  {:<counts_w$}  {}",
                verdict,
                truncate(counts, counts_w),
                truncate(site, where_w)
            )?;
        }
        if shown < rest.len() {
            let line = format!(
                "{}; use --top N or -v",
                text::more(rest.len() - shown, "group", "groups")
            );
            writeln!(w, "  {}", truncate(&line, width - 2))?;
        }
    }
    Ok(())
}
