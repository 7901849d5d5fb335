//! The per-site table of an execution window ([`LifecycleReport`]) in the terminal, Markdown
//! and HTML reports (JSON serializes it as it is), and the HTML report's per-site chart: each
//! site's lifetimes (min, p50–p99, max on a log scale) beside its alive count over the window.

use crate::escape::{markdown as esc, markdown_code as code, xml};
use crate::text::{self, thousands, truncate, wrap};
use goroscope_analyze::lifecycle::{human_ns, rate_text};
use goroscope_analyze::{LifecycleReport, SiteReport, Verdict};
use std::fmt::Write as _;
use std::io::{self, Write};

/// How a site's verdict reads: a site leaks, is steady, or the window does not decide.
pub(crate) fn word(v: Verdict) -> &'static str {
    match v {
        Verdict::Leak => "leaking",
        Verdict::Suspect => "suspect",
        Verdict::Benign => "steady",
        Verdict::NeedMoreSamples => "undecided",
    }
}

fn secs(s: f64) -> String {
    human_ns((s * 1e9).round().max(0.0) as u64)
}

/// `main.spawn (main.go:42)`, or the entry function of goroutines from before the window.
pub(crate) fn site_name(s: &SiteReport) -> String {
    match (&s.go_statement, &s.entry_function) {
        (Some(g), _) => {
            let file = g.file.rsplit('/').next().unwrap_or(&g.file);
            if file.is_empty() {
                g.function.clone()
            } else {
                format!("{} ({file}:{})", g.function, g.line)
            }
        }
        (None, Some(e)) => format!("{e} (existed before the window)"),
        (None, None) => "(existed before the window; entry unknown)".into(),
    }
}

/// `lifetime p50 12 µs, p99 3.4 ms · blocked chan send 12 s, sync 1.0 s · +20/s`.
fn details(s: &SiteReport, max_reasons: usize) -> String {
    let mut parts = Vec::new();
    if let Some(r) = s.rate_per_minute {
        parts.push(rate_text(r));
    }
    if let Some(l) = &s.lifetime {
        parts.push(format!("lifetime p50 {}, p99 {}", secs(l.p50), secs(l.p99)));
    }
    if !s.blocked.is_empty() {
        let mut b: Vec<String> = s
            .blocked
            .iter()
            .take(max_reasons)
            .map(|b| format!("{} {}", b.reason, secs(b.seconds)))
            .collect();
        if s.blocked.len() > max_reasons {
            b.push(format!("+{} more", s.blocked.len() - max_reasons));
        }
        parts.push(format!("blocked {}", b.join(", ")));
    }
    parts.join(" · ")
}

fn heading(l: &LifecycleReport) -> String {
    format!(
        "Lifecycles over the {} window ({}): {} born, {} ended",
        secs(l.window_seconds),
        match l.source.as_str() {
            "exectrace" => "execution trace",
            other => other,
        },
        thousands(l.born),
        thousands(l.ended)
    )
}

/// The terminal table: one row per site (counts and where), and under it a line with its
/// rate, lifetimes and blocked time by reason.
pub(crate) fn terminal(
    w: &mut dyn Write,
    l: &LifecycleReport,
    rows: usize,
    width: usize,
    paint: &dyn Fn(Verdict, &str) -> String,
    dim: &dyn Fn(&str) -> String,
    bold: &dyn Fn(&str) -> String,
) -> io::Result<()> {
    writeln!(w)?;
    for line in wrap(&heading(l), width) {
        writeln!(w, "{}", bold(&line))?;
    }
    if l.sites.is_empty() {
        return writeln!(w, "  no goroutine of the program was seen in the window");
    }
    let shown = &l.sites[..rows.min(l.sites.len())];
    let num_w = |f: &dyn Fn(&SiteReport) -> u64, head: &str| {
        shown
            .iter()
            .map(|s| thousands(f(s)).len())
            .max()
            .unwrap_or(0)
            .max(head.len())
    };
    let born_w = num_w(&|s| s.born, "BORN");
    let ended_w = num_w(&|s| s.ended, "ENDED");
    let alive = |s: &SiteReport| {
        format!(
            "{} → {}",
            thousands(s.alive_at_start),
            thousands(s.alive_at_end)
        )
    };
    let alive_w = shown
        .iter()
        .map(|s| text::width(&alive(s)))
        .max()
        .unwrap_or(0)
        .max(5);
    let verdict_w = shown
        .iter()
        .map(|s| word(s.verdict).len())
        .max()
        .unwrap_or(0)
        .max("VERDICT".len());
    let fixed = 2 + verdict_w + 2 + born_w + 2 + ended_w + 2 + alive_w + 2;
    // The site in its column when it has room, else on a line of its own under the counts.
    let inline = width >= fixed + 16;
    let site_w = if inline {
        width - fixed
    } else {
        width.saturating_sub(4)
    };
    let head = format!(
        "{:<verdict_w$}  {:>born_w$}  {:>ended_w$}  {:<alive_w$}",
        "VERDICT", "BORN", "ENDED", "ALIVE"
    );
    writeln!(
        w,
        "  {}",
        dim(&if inline {
            format!("{head}  SITE")
        } else {
            head
        })
    )?;
    let indent = " ".repeat(if inline { 2 + verdict_w + 2 } else { 4 });
    for s in shown {
        let counts = format!(
            "  {}  {:>born_w$}  {:>ended_w$}  {:<alive_w$}",
            paint(s.verdict, &format!("{:<verdict_w$}", word(s.verdict))),
            thousands(s.born),
            thousands(s.ended),
            alive(s),
        );
        let site = truncate(&site_name(s), site_w);
        if inline {
            writeln!(w, "{counts}  {site}")?;
        } else {
            writeln!(w, "{}", counts.trim_end())?;
            writeln!(w, "    {site}")?;
        }
        let d = details(s, 3);
        if !d.is_empty() {
            for line in wrap(&d, width.saturating_sub(indent.len()).max(20)) {
                writeln!(w, "{indent}{}", dim(&line))?;
            }
        }
    }
    if shown.len() < l.sites.len() {
        writeln!(
            w,
            "  {}; use --top N or -v",
            text::more(l.sites.len() - shown.len(), "site", "sites")
        )?;
    }
    Ok(())
}

/// The Markdown table.
pub(crate) fn markdown(out: &mut String, l: &LifecycleReport, limit: usize) {
    let _ = write!(out, "### {}\n\n", esc(&heading(l)));
    if l.sites.is_empty() {
        out.push_str("No goroutine of the program was seen in the window.\n\n");
        return;
    }
    out.push_str("| Verdict | Born | Ended | Alive (start → end) | Lifetime p50 / p99 | Blocked | Rate | Site |\n");
    out.push_str("|---|---:|---:|---:|---|---|---:|---|\n");
    for s in l.sites.iter().take(limit) {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} → {} | {} | {} | {} | {} |",
            match s.verdict {
                Verdict::Leak => "**leaking**",
                v => word(v),
            },
            thousands(s.born),
            thousands(s.ended),
            thousands(s.alive_at_start),
            thousands(s.alive_at_end),
            s.lifetime
                .map(|t| format!("{} / {}", secs(t.p50), secs(t.p99)))
                .unwrap_or_default(),
            esc(&s
                .blocked
                .iter()
                .map(|b| format!("{} {}", b.reason, secs(b.seconds)))
                .collect::<Vec<_>>()
                .join(", ")),
            s.rate_per_minute.map(rate_text).unwrap_or_default(),
            code(&site_name(s)),
        );
    }
    if l.sites.len() > limit {
        let _ = write!(
            out,
            "\n{}.\n",
            text::more(l.sites.len() - limit, "site", "sites")
        );
    }
    out.push('\n');
}

/// Sites the HTML chart draws, at most.
pub const CHART_SITES: usize = 40;

const ROW_H: f64 = 26.0;
const LABEL_W: f64 = 360.0;
const LIFE_W: f64 = 420.0;
const GAP: f64 = 30.0;
const SPARK_W: f64 = 300.0;
const TOP: f64 = 34.0;

/// The HTML section: the chart, then the table.
pub(crate) fn html(out: &mut String, i: usize, l: &LifecycleReport) {
    let _ = writeln!(out, "<h3 id=\"s{i}-lifecycles\">{}</h3>", xml(&heading(l)));
    if l.sites.is_empty() {
        out.push_str("<p>No goroutine of the program was seen in the window.</p>\n");
        return;
    }
    let _ = writeln!(
        out,
        "<figure class=\"lifecycle\" id=\"s{i}-lifecycle-chart\">{}<figcaption>Per creation site: lifetimes of the goroutines that ended in the window (line: min to max, box: p50 to p99, log scale), and the number alive over the window (scaled to each site's peak; the number is the count at the end). Hover for the numbers.</figcaption></figure>",
        chart(l)
    );
    out.push_str("<div class=\"tablewrap\"><table class=\"groups lifecycle\">\n<thead><tr><th>Verdict</th><th>Born</th><th>Ended</th><th>Alive (start → end)</th><th>Lifetime p50 / p99</th><th>Blocked</th><th>Rate</th><th>Site</th></tr></thead>\n<tbody>\n");
    for s in &l.sites {
        let _ = writeln!(
            out,
            "<tr id=\"s{i}-site-{}\" title=\"{}\"><td><span class=\"badge v-{}\">{}</span></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{} → {}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td><code>{}</code></td></tr>",
            xml(&s.id),
            xml(&s.explanation),
            s.verdict.as_str(),
            word(s.verdict),
            thousands(s.born),
            thousands(s.ended),
            thousands(s.alive_at_start),
            thousands(s.alive_at_end),
            s.lifetime
                .map(|t| format!("{} / {}", secs(t.p50), secs(t.p99)))
                .unwrap_or_default(),
            xml(&s
                .blocked
                .iter()
                .map(|b| format!("{} {}", b.reason, secs(b.seconds)))
                .collect::<Vec<_>>()
                .join(", ")),
            s.rate_per_minute.map(rate_text).unwrap_or_default(),
            xml(&site_name(s)),
        );
    }
    out.push_str("</tbody>\n</table></div>\n");
}

/// Where `seconds` falls on the log-scale lifetime axis from `lo` to `hi` seconds.
fn log_x(seconds: f64, lo: f64, hi: f64) -> f64 {
    let s = seconds.max(lo).min(hi);
    LABEL_W + (s.ln() - lo.ln()) / (hi.ln() - lo.ln()) * LIFE_W
}

/// The per-site chart as inline SVG: nothing loaded, every text escaped, a `<title>` per row.
pub(crate) fn chart(l: &LifecycleReport) -> String {
    let sites = &l.sites[..l.sites.len().min(CHART_SITES)];
    // The lifetime axis: whole decades from the shortest lifetime measured to the window (or
    // the longest lifetime), at most twelve of them.
    let measured = sites.iter().filter_map(|s| s.lifetime);
    let top = measured
        .clone()
        .map(|t| t.max)
        .fold(l.window_seconds, f64::max)
        .max(1e-6);
    let hi = 10f64.powf(top.log10().ceil());
    let low = measured
        .map(|t| t.min)
        .filter(|&m| m > 0.0)
        .fold(f64::INFINITY, f64::min);
    let low = if low.is_finite() { low } else { hi / 1e6 };
    let lo = 10f64
        .powf(low.log10().floor())
        .max(hi / 1e12)
        .min(hi / 10.0);
    let width = LABEL_W + LIFE_W + GAP + SPARK_W + 60.0;
    let height = TOP + ROW_H * sites.len() as f64 + 24.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"lifecycle-chart\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"Lifetimes and alive counts per creation site\">"
    );
    let _ = write!(
        s,
        "<text x=\"{LABEL_W}\" y=\"14\" class=\"axis-title\">lifetime of ended goroutines (log)</text><text x=\"{}\" y=\"14\" class=\"axis-title\">alive over the {} window</text>",
        LABEL_W + LIFE_W + GAP,
        xml(&secs(l.window_seconds))
    );
    // Decade ticks.
    let mut d = lo;
    while d <= hi * 1.0001 {
        let x = log_x(d, lo, hi);
        let _ = write!(
            s,
            "<line x1=\"{x:.1}\" y1=\"{}\" x2=\"{x:.1}\" y2=\"{}\" class=\"tick\"/><text x=\"{x:.1}\" y=\"{}\" class=\"tick-label\">{}</text>",
            TOP - 6.0,
            height - 20.0,
            height - 6.0,
            xml(&secs(d))
        );
        d *= 10.0;
    }
    for (row, site) in sites.iter().enumerate() {
        let y = TOP + ROW_H * row as f64;
        let mid = y + ROW_H / 2.0;
        let name = site_name(site);
        let mut tip = format!(
            "{name}\n{}: born {}, ended {}, alive {} → {}",
            word(site.verdict),
            site.born,
            site.ended,
            site.alive_at_start,
            site.alive_at_end
        );
        let d = details(site, usize::MAX);
        if !d.is_empty() {
            tip.push('\n');
            tip.push_str(&d);
        }
        let _ = write!(
            s,
            "<g class=\"site v-{}\" data-site=\"{}\"><title>{}</title>",
            site.verdict.as_str(),
            xml(&site.id),
            xml(&tip)
        );
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{:.1}\" class=\"label\">{}</text>",
            LABEL_W - 8.0,
            mid + 4.0,
            xml(&truncate(&name, 58))
        );
        match site.lifetime {
            Some(t) => {
                let (x0, x1) = (log_x(t.min, lo, hi), log_x(t.max, lo, hi));
                let (b0, b1) = (log_x(t.p50, lo, hi), log_x(t.p99, lo, hi));
                let _ = write!(
                    s,
                    "<line x1=\"{x0:.1}\" y1=\"{mid:.1}\" x2=\"{x1:.1}\" y2=\"{mid:.1}\" class=\"whisker\"/><rect x=\"{b0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" class=\"box\"/>",
                    y + 6.0,
                    (b1 - b0).max(2.0),
                    ROW_H - 12.0
                );
            }
            None => {
                let _ = write!(
                    s,
                    "<text x=\"{}\" y=\"{:.1}\" class=\"none\">{}</text>",
                    LABEL_W + 4.0,
                    mid + 4.0,
                    match (site.born, site.ended) {
                        (0, 0) => "none born or ended",
                        (_, 0) => "none ended",
                        _ => "those that ended were born before the window",
                    }
                );
            }
        }
        // The alive series as a polyline over the window, scaled to the site's own peak (the
        // shape tells growth; the number at its end, the size).
        let x0 = LABEL_W + LIFE_W + GAP;
        let max_alive = site
            .alive_series
            .iter()
            .map(|p| p.alive)
            .max()
            .unwrap_or(0)
            .max(1) as f64;
        let pts: Vec<String> = site
            .alive_series
            .iter()
            .map(|p| {
                let x = x0
                    + if l.window_seconds > 0.0 {
                        p.seconds / l.window_seconds * SPARK_W
                    } else {
                        0.0
                    };
                let py = y + ROW_H - 4.0 - p.alive as f64 / max_alive * (ROW_H - 8.0);
                format!("{x:.1},{py:.1}")
            })
            .collect();
        let _ = write!(
            s,
            "<line x1=\"{x0}\" y1=\"{:.1}\" x2=\"{}\" y2=\"{:.1}\" class=\"base\"/><polyline points=\"{}\" class=\"alive\"/><text x=\"{}\" y=\"{:.1}\" class=\"count\">{}</text></g>",
            y + ROW_H - 4.0,
            x0 + SPARK_W,
            y + ROW_H - 4.0,
            pts.join(" "),
            x0 + SPARK_W + 4.0,
            mid + 4.0,
            site.alive_at_end
        );
    }
    if l.sites.len() > sites.len() {
        let _ = write!(
            s,
            "<text x=\"4\" y=\"{:.1}\" class=\"tick-label\">{}</text>",
            height - 6.0,
            xml(&text::more(l.sites.len() - sites.len(), "site", "sites"))
        );
    }
    s.push_str("</svg>");
    s
}

/// CSS for the chart and table (added to the page's).
pub(crate) const CSS: &str = r#"
figure.lifecycle { margin: 8px 0; overflow-x: auto; border: 1px solid var(--line); border-radius: 4px; }
figure.lifecycle figcaption { font-size: 12px; color: #5f6368; padding: 4px 8px; }
svg.lifecycle-chart { display: block; font: 11px system-ui, sans-serif; }
svg.lifecycle-chart .axis-title { fill: #5f6368; }
svg.lifecycle-chart .tick { stroke: var(--line); }
svg.lifecycle-chart .tick-label { fill: #5f6368; text-anchor: middle; }
svg.lifecycle-chart .label { text-anchor: end; fill: #202124; font-family: ui-monospace, monospace; }
svg.lifecycle-chart .whisker { stroke: #5f6368; stroke-width: 1.5; }
svg.lifecycle-chart .box { fill: #8ab4f8; stroke: #1a73e8; }
svg.lifecycle-chart .none { fill: #9aa0a6; font-style: italic; }
svg.lifecycle-chart .base { stroke: var(--line); }
svg.lifecycle-chart .alive { fill: none; stroke: var(--benign); stroke-width: 1.5; }
svg.lifecycle-chart .v-leak .alive { stroke: var(--leak); stroke-width: 2; }
svg.lifecycle-chart .v-leak .label { fill: var(--leak); font-weight: 600; }
svg.lifecycle-chart .count { fill: #5f6368; }
"#;
