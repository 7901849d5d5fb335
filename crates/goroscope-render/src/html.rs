//! One self-contained HTML page: per snapshot a summary, the flame graph (inline SVG), the
//! findings, for an execution window the per-site lifecycle chart (inline SVG) and table, and a
//! table of every group, each with its stack in a collapsible `<details>`.
//!
//! Nothing is loaded from anywhere: CSS and one small script are inline (collapsing is native
//! `<details>`, flame graph tooltips are SVG `<title>`s, the script only adds click-to-zoom to
//! the flame graphs), and a Content-Security-Policy forbids every fetch, so the page opens the
//! same offline, from an e-mail attachment or a CI artifact. Every piece of dump text is escaped.

use crate::escape::xml;
use crate::folded::{write_flamegraph, FlameOptions};
use crate::text::{self, plural, thousands};
use crate::{is_finding, ordered, RenderOptions, Renderer, Subject};
use goroscope_analyze::{Group, Location, Report, Verdict};
use goroscope_model::Snapshot;
use std::fmt::Write as _;
use std::io::{self, Write};

const CSS: &str = r#"
:root { --leak:#c62828; --suspect:#b26a00; --more:#00697a; --benign:#5f6368; --line:#dadce0; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #202124; background: #fff; }
header.top { background: #202124; color: #fff; padding: 12px 24px; }
header.top h1 { margin: 0; font-size: 18px; font-weight: 600; }
main { padding: 0 24px 48px; max-width: 1400px; }
section.snapshot { border-bottom: 1px solid var(--line); padding-bottom: 24px; }
h2 { font-size: 18px; margin: 24px 0 4px; word-break: break-all; }
h3 { font-size: 15px; margin: 20px 0 8px; }
.facts { color: #5f6368; margin: 0 0 8px; }
.counts span { display: inline-block; margin-right: 12px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; white-space: nowrap; }
.v-leak { background: var(--leak); } .v-suspect { background: var(--suspect); }
.v-need-more-samples { background: var(--more); } .v-benign { background: var(--benign); }
.warn { color: var(--suspect); }
figure.flame { margin: 8px 0; overflow-x: auto; border: 1px solid var(--line); border-radius: 4px; }
figure.flame svg { display: block; width: 100%; height: auto; }
.finding { border: 1px solid var(--line); border-left: 4px solid var(--benign); border-radius: 4px; padding: 8px 12px; margin: 8px 0; }
.finding.v-leak-card { border-left-color: var(--leak); } .finding.v-suspect-card { border-left-color: var(--suspect); }
.finding h4 { margin: 0 0 6px; font-size: 14px; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
dl.kv dt { color: #5f6368; } dl.kv dd { margin: 0; word-break: break-word; }
code, pre { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre.stack { background: #f8f9fa; border: 1px solid var(--line); padding: 8px; overflow-x: auto; margin: 4px 0; }
table.groups { border-collapse: collapse; width: 100%; }
table.groups th, table.groups td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
table.groups td.n { text-align: right; font-variant-numeric: tabular-nums; }
table.groups td.p { white-space: nowrap; }
table.groups td code { word-break: break-all; }
.tablewrap { overflow-x: auto; }
details summary { cursor: pointer; }
figure.flame figcaption { font-size: 12px; color: #5f6368; padding: 4px 8px; }
figure.flame g { cursor: pointer; }
"#;

/// Click-to-zoom for inferno's flame graphs, written for this page (inferno's own script expects
/// to be the whole document). Frames are `<g>` with a `<rect fg:x fg:w y>` (sample offset and
/// width, depth as y: the root is at the bottom) and a `<text>` label. `#s0-flame-zoom=N` in the
/// URL zooms into frame N on load, for links and for the browser test.
const ZOOM_JS: &str = r#"
(function () {
  "use strict";
  var FONT = 12, FONT_W = 0.59, PAD = 3;
  function num(el, a) { return parseFloat(el.getAttribute(a)); }
  function setup(fig) {
    var inner = fig.querySelector("svg svg");
    if (!inner) { return; }
    var width = num(inner, "width");
    var total = num(inner, "total_samples") || 1;
    var items = [];
    inner.querySelectorAll(":scope > g").forEach(function (g) {
      var r = g.querySelector("rect"), t = g.querySelector("text"), ti = g.querySelector("title");
      if (!r) { return; }
      var name = ti ? ti.textContent : "";
      var cut = name.lastIndexOf(" (");
      if (cut > 0) { name = name.slice(0, cut); }
      items.push({ g: g, r: r, t: t, name: name, x: num(r, "fg:x"), w: num(r, "fg:w"),
        y: num(r, "y"), rx: r.getAttribute("x"), rw: r.getAttribute("width"),
        tx: t ? t.getAttribute("x") : null, tt: t ? t.textContent : "" });
    });
    function label(it, pct) {
      var chars = Math.floor((pct / 100 * width - PAD * 2) / (FONT * FONT_W));
      it.t.textContent = chars >= it.name.length ? it.name
        : (chars >= 3 ? it.name.slice(0, chars - 2) + ".." : "");
    }
    function place(it, x, pct) {
      it.g.style.display = "";
      it.r.setAttribute("x", x.toFixed(4) + "%");
      it.r.setAttribute("width", pct.toFixed(4) + "%");
      if (it.t) { it.t.setAttribute("x", (x + 0.25).toFixed(4) + "%"); label(it, pct); }
    }
    function reset() {
      items.forEach(function (it) {
        it.g.style.display = "";
        it.r.setAttribute("x", it.rx);
        it.r.setAttribute("width", it.rw);
        if (it.t) { it.t.setAttribute("x", it.tx); it.t.textContent = it.tt; }
      });
    }
    function zoom(z) {
      items.forEach(function (it) {
        var inside = it.x >= z.x && it.x + it.w <= z.x + z.w;
        var covers = it.x <= z.x && it.x + it.w >= z.x + z.w;
        if (it.y > z.y && covers) { place(it, 0, 100); }
        else if (it.y <= z.y && inside) { place(it, (it.x - z.x) / z.w * 100, it.w / z.w * 100); }
        else { it.g.style.display = "none"; }
      });
    }
    items.forEach(function (it) {
      it.g.addEventListener("click", function () {
        if (it.w >= total) { reset(); } else { zoom(it); }
      });
    });
    var btn = fig.querySelector("button.unzoom");
    if (btn) { btn.addEventListener("click", reset); }
    var m = location.hash.match(/^#([\w-]+)-zoom=(\d+)$/);
    if (m && m[1] === fig.id && items[+m[2]]) { zoom(items[+m[2]]); }
  }
  document.querySelectorAll("figure.flame").forEach(setup);
})();
"#;

pub(crate) struct Html;

impl Renderer for Html {
    fn name(&self) -> &'static str {
        "html"
    }
    fn supports(&self, subject: Subject) -> bool {
        subject == Subject::Report
    }
    fn about(&self, subject: Subject) -> &'static str {
        match subject {
            Subject::Report => "self-contained page with a flame graph",
            _ => "",
        }
    }
    fn report(
        &self,
        w: &mut dyn Write,
        r: &[Report],
        snapshots: &[Snapshot],
        opts: &RenderOptions,
    ) -> io::Result<()> {
        reports(w, &crate::clean_all(r)?, snapshots, opts)
    }
}

pub fn reports(
    w: &mut dyn Write,
    reports: &[Report],
    snapshots: &[Snapshot],
    opts: &RenderOptions,
) -> io::Result<()> {
    let mut out = String::with_capacity(256 * 1024);
    let title = match reports {
        [r] => format!("goroscope: {}", text::source_name(&r.source)),
        _ => format!("goroscope: {} snapshots", reports.len()),
    };
    let _ = write!(
        out,
        concat!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n",
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
            "<meta name=\"generator\" content=\"goroscope\">\n",
            "<title>{}</title>\n<style>{}{}</style>\n</head>\n<body>\n",
            "<header class=\"top\"><h1>{}</h1></header>\n<main>\n"
        ),
        xml(&title),
        CSS,
        if reports.iter().any(|r| r.lifecycle.is_some()) {
            crate::lifecycle::CSS
        } else {
            ""
        },
        xml(&title)
    );
    if reports.is_empty() {
        out.push_str("<p>No goroutine snapshots to report on.</p>\n");
    }
    for (i, r) in reports.iter().enumerate() {
        let snap = crate::snapshot_of(r, snapshots);
        report(&mut out, i, r, snap, opts)?;
    }
    out.push_str("</main>\n<script>");
    out.push_str(ZOOM_JS);
    out.push_str("</script>\n</body>\n</html>\n");
    w.write_all(out.as_bytes())
}

fn badge(v: Verdict, proven: bool) -> String {
    let text = if proven && v == Verdict::Leak {
        "leak · proven".to_string()
    } else {
        v.as_str().to_string()
    };
    format!(
        "<span class=\"badge v-{}\">{}</span>",
        v.as_str(),
        xml(&text)
    )
}

fn loc_html(l: &Location) -> String {
    let fl = text::file_line(l);
    if fl.is_empty() {
        format!("<code>{}</code>", xml(&l.function))
    } else {
        format!(
            "<code>{}</code><br><code>{}</code>",
            xml(&l.function),
            xml(&fl)
        )
    }
}

fn stack_html(g: &Group) -> String {
    let mut s = String::new();
    for f in &g.stack {
        s.push_str(&f.function);
        if f.inlined {
            s.push_str(" (inlined)");
        }
        s.push('\n');
        if !f.file.is_empty() {
            let _ = writeln!(s, "\t{}:{}", f.file, f.line);
        }
    }
    if let Some(c) = &g.created_by {
        let _ = writeln!(s, "created by {}", c.function);
        if !c.file.is_empty() {
            let _ = writeln!(s, "\t{}:{}", c.file, c.line);
        }
    }
    format!("<pre class=\"stack\">{}</pre>", xml(&s))
}

fn report(
    out: &mut String,
    i: usize,
    r: &Report,
    snap: Option<&Snapshot>,
    opts: &RenderOptions,
) -> io::Result<()> {
    let s = &r.summary;
    let _ = writeln!(
        out,
        "<section class=\"snapshot\" id=\"s{i}\">\n<h2>{}</h2>",
        xml(&text::source_name(&r.source))
    );
    let mut facts = vec![r.source.format.clone()];
    if r.source.kind != "goroutine" {
        facts.push(r.source.kind.clone());
    }
    if let Some(v) = text::go_version(r.go_version.as_deref(), r.go_version_min.as_deref()) {
        facts.push(v);
    }
    facts.push(plural(r.total_goroutines, "goroutine", "goroutines"));
    facts.push(plural(r.groups.len() as u64, "group", "groups"));
    facts.push(format!("grouped by {}", text::grouping(r.grouping)));
    let _ = writeln!(out, "<p class=\"facts\">{}</p>", xml(&facts.join(" · ")));
    let _ = writeln!(
        out,
        concat!(
            "<p class=\"counts\"><span>{} {} ({} proven, {})</span>",
            "<span>{} {} ({})</span><span>{} {}</span><span>{} {}</span></p>"
        ),
        badge(Verdict::Leak, false),
        s.leaks,
        s.proven_leaks,
        xml(&plural(s.leaked_goroutines, "goroutine", "goroutines")),
        badge(Verdict::Suspect, false),
        s.suspects,
        xml(&plural(s.suspect_goroutines, "goroutine", "goroutines")),
        badge(Verdict::NeedMoreSamples, false),
        s.need_more_samples,
        badge(Verdict::Benign, false),
        s.benign,
    );
    if let Some(reason) = &r.reason {
        let _ = writeln!(out, "<p>Crash: <code>{}</code></p>", xml(reason));
    }
    let _ = writeln!(
        out,
        "<p class=\"context\">Context: <strong>{}</strong> — {}</p>",
        xml(&r.context.kind),
        xml(&r.context.why)
    );
    if r.proof.available {
        let _ = writeln!(
            out,
            "<p>Leak proof: {}</p>",
            xml(r.proof.source.as_deref().unwrap_or("runtime"))
        );
    }
    if !r.warnings.is_empty() {
        let _ = writeln!(
            out,
            "<details class=\"warn\"><summary>{}</summary><ul>",
            xml(&plural(r.warnings.len() as u64, "warning", "warnings"))
        );
        for w in &r.warnings {
            let _ = writeln!(out, "<li>{}</li>", xml(w));
        }
        out.push_str("</ul></details>\n");
    }

    if let Some(snap) = snap {
        let _ = write!(
            out,
            concat!(
                "<h3>Flame graph</h3>\n<figure class=\"flame\" id=\"s{}-flame\">\n",
                "<figcaption>Click a frame to zoom into it, the bottom frame to zoom out. ",
                "<button type=\"button\" class=\"unzoom\">Reset zoom</button></figcaption>\n"
            ),
            i
        );
        let mut svg = Vec::new();
        write_flamegraph(
            &mut svg,
            [snap],
            &FlameOptions {
                title: format!("Goroutines: {}", text::source_name(&r.source)),
                no_javascript: true,
                width: Some(1200),
                fold: opts.fold,
                ..FlameOptions::default()
            },
        )?;
        out.push_str(&inline_svg(&String::from_utf8_lossy(&svg)));
        out.push_str("\n</figure>\n");
    }

    if !r.relations.is_empty() {
        let _ = writeln!(out, "<h3>Relations ({})</h3>", r.relations.len());
        for rel in &r.relations {
            let _ = writeln!(
                out,
                "<div class=\"relation\" id=\"s{i}-{}\"><p><code>{}</code> ({}, {}): {}</p>",
                xml(&rel.id),
                xml(&rel.id),
                if rel.sure { "sure" } else { "probable" },
                xml(&plural(rel.count, "goroutine", "goroutines")),
                xml(&rel.summary)
            );
            for g in rel.goroutines.iter().filter(|g| !g.stack.is_empty()) {
                let frames: String = g
                    .stack
                    .iter()
                    .map(|f| format!("{}\n", loc_html(f)))
                    .collect();
                let _ = writeln!(
                    out,
                    "<details open><summary>goroutine {} ({})</summary><pre>{frames}</pre></details>",
                    g.goid,
                    xml(&g.state)
                );
            }
            out.push_str("</div>\n");
        }
    }

    let groups = ordered(&r.groups);
    let findings: Vec<&Group> = groups.iter().copied().filter(|g| is_finding(g)).collect();
    let _ = writeln!(out, "<h3>Findings ({})</h3>", findings.len());
    if findings.is_empty() {
        out.push_str("<p>No leaks or suspects.</p>\n");
    }
    for (n, g) in findings.iter().enumerate() {
        finding(out, i, n + 1, g);
    }

    let undecided: Vec<&Group> = groups
        .iter()
        .copied()
        .filter(|g| g.verdict == Verdict::NeedMoreSamples)
        .collect();
    if !undecided.is_empty() {
        let _ = writeln!(
            out,
            "<h3>Need more samples ({})</h3>\n<p>Blocked, but one snapshot cannot tell a leak from a wait.</p>\n<ul class=\"undecided\">",
            undecided.len()
        );
        for g in &undecided {
            let _ = writeln!(
                out,
                "<li>{} × {} at {}{}</li>",
                thousands(g.count),
                g.pattern
                    .as_deref()
                    .map(|p| format!("<code>{}</code>", xml(p)))
                    .unwrap_or_default(),
                text::site(g).map(loc_html).unwrap_or_default(),
                g.next_step
                    .as_deref()
                    .map(|s| format!(" — next: {}", xml(s)))
                    .unwrap_or_default()
            );
        }
        out.push_str("</ul>\n");
    }

    if let Some(l) = &r.lifecycle {
        crate::lifecycle::html(out, i, l);
    }

    let _ = writeln!(out, "<h3>All groups ({})</h3>", groups.len());
    out.push_str(
        "<div class=\"tablewrap\"><table class=\"groups\">\n<thead><tr><th>Goroutines</th><th>Verdict</th><th>Pattern</th><th>State</th><th>Where</th><th>Created by</th></tr></thead>\n<tbody>\n",
    );
    for g in &groups {
        let mut state = text::state(g);
        if let Some(m) = &g.wait_minutes {
            state.push_str(&format!(", {}", text::minutes(m)));
        }
        let _ = writeln!(
            out,
            "<tr id=\"s{i}-g{}\"><td class=\"n\">{}</td><td>{}</td><td class=\"p\">{}</td><td>{}</td><td>{}<details><summary>stack</summary>{}</details></td><td>{}</td></tr>",
            xml(&g.id),
            thousands(g.count),
            badge(g.verdict, g.proven),
            g.pattern.as_deref().map(|p| format!("<code>{}</code>", xml(p))).unwrap_or_default(),
            xml(&state),
            text::site(g).map(loc_html).unwrap_or_default(),
            stack_html(g),
            g.created_by.as_ref().map(loc_html).unwrap_or_default(),
        );
    }
    out.push_str("</tbody>\n</table></div>\n</section>\n");
    Ok(())
}

fn finding(out: &mut String, i: usize, n: usize, g: &Group) {
    let _ = writeln!(
        out,
        "<div class=\"finding v-{}-card\" id=\"s{i}-f{n}\">\n<h4>{n}. {} {}{}</h4>\n<dl class=\"kv\">",
        g.verdict.as_str(),
        badge(g.verdict, g.proven),
        xml(&plural(g.count, "goroutine", "goroutines")),
        g.pattern
            .as_deref()
            .map(|p| format!(" · <code>{}</code>", xml(p)))
            .unwrap_or_default()
    );
    let mut kv = |k: &str, v: String| {
        let _ = writeln!(out, "<dt>{}</dt><dd>{v}</dd>", xml(k));
    };
    if let Some(b) = text::site(g) {
        kv("blocked at", loc_html(b));
    }
    if let Some(c) = &g.created_by {
        let by = g
            .creator_goids
            .first()
            .map(|id| format!(" in goroutine {id}"))
            .unwrap_or_default();
        kv("created by", format!("{}{}", loc_html(c), xml(&by)));
    }
    let mut state = text::state(g);
    if let Some(m) = &g.wait_minutes {
        state.push_str(&format!(", blocked {}", text::minutes(m)));
    }
    kv("state", xml(&state).into_owned());
    if let Some(e) = &g.explanation {
        kv("why", xml(e).into_owned());
    }
    if let Some(f) = &g.fix {
        kv("fix", xml(f).into_owned());
    }
    if !g.relations.is_empty() {
        kv("relations", xml(&g.relations.join(", ")).into_owned());
    }
    if let Some(s) = &g.next_step {
        kv("next step", xml(s).into_owned());
    }
    if !g.evidence.is_empty() {
        let items: String = g
            .evidence
            .iter()
            .map(|e| format!("<li>{}</li>", xml(e)))
            .collect();
        kv("evidence", format!("<ul>{items}</ul>"));
    }
    if !g.labels.is_empty() {
        let l: Vec<String> = g
            .labels
            .iter()
            .map(|(k, v)| format!("<code>{}={}</code>", xml(k), xml(&v.join("|"))))
            .collect();
        kv("labels", l.join(" "));
    }
    if !g.goids.is_empty() {
        let ids: Vec<String> = g.goids.iter().map(u64::to_string).collect();
        let more = if g.goids_truncated { " …" } else { "" };
        kv("goroutine ids", format!("{}{more}", ids.join(", ")));
    }
    out.push_str("</dl>\n");
    let _ = writeln!(
        out,
        "<details><summary>stack</summary>{}</details>\n</div>",
        stack_html(g)
    );
}

/// inferno's SVG, made fit to sit inside the page: no XML prolog, and none of the script
/// machinery (even with `no_javascript` inferno keeps an `onload` handler, a script of settings
/// and the search/zoom controls, which would be dead text and CSP violations here). Each frame's
/// `<title>` still gives its tooltip.
pub(crate) fn inline_svg(svg: &str) -> String {
    let mut s = svg.find("<svg").map_or(svg, |at| &svg[at..]).to_string();
    s = s.replacen(" onload=\"init(evt)\"", "", 1);
    while let Some(start) = s.find("<script") {
        match s[start..].find("</script>") {
            Some(len) => s.replace_range(start..start + len + "</script>".len(), ""),
            None => {
                s.truncate(start);
                break;
            }
        }
    }
    for id in ["details", "unzoom", "search", "matched"] {
        let marker = format!("<text id=\"{id}\"");
        if let Some(start) = s.find(&marker) {
            if let Some(len) = s[start..].find("</text>") {
                s.replace_range(start..start + len + "</text>".len(), "");
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_svg_drops_prolog_and_script() {
        let svg = concat!(
            "<?xml version=\"1.0\"?><!DOCTYPE svg><svg onload=\"init(evt)\" x=\"1\">",
            "<script type=\"text/ecmascript\"><![CDATA[var a = 1;]]></script>",
            "<text id=\"search\" x=\"1\">Search</text><g><title>f</title></g></svg>"
        );
        assert_eq!(
            inline_svg(svg),
            "<svg x=\"1\"><g><title>f</title></g></svg>"
        );
    }
}
