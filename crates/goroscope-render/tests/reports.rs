//! Snapshot tests of everything a person reads, on hand-built reports.

mod common;

use common::*;
use goroscope_render::{render, render_diff, render_trend, OutputFormat, RenderOptions};

fn out(
    format: OutputFormat,
    reports: &[goroscope_analyze::Report],
    opts: &RenderOptions,
) -> String {
    let mut buf = Vec::new();
    render(&mut buf, format, reports, &[], opts).unwrap();
    String::from_utf8(buf).unwrap()
}

fn opts() -> RenderOptions {
    RenderOptions::default()
}

#[test]
fn terminal_80_columns() {
    let s = out(OutputFormat::TERMINAL, &[sample_report()], &opts());
    for line in s.lines() {
        assert!(
            unicode_width::UnicodeWidthStr::width(line) <= 80,
            "line wider than 80 columns: {line:?}"
        );
    }
    assert!(!s.contains('\x1b'), "no colour unless asked");
    insta::assert_snapshot!(s);
}

#[test]
fn terminal_narrow_verbose_top() {
    let o = RenderOptions {
        width: 50,
        verbose: 1,
        top: Some(2),
        ..opts()
    };
    let s = out(OutputFormat::TERMINAL, &[sample_report()], &o);
    for line in s.lines() {
        assert!(
            unicode_width::UnicodeWidthStr::width(line) <= 50,
            "{line:?}"
        );
    }
    assert!(s.contains("More findings: 1 (2 goroutines)"), "{s}");
    insta::assert_snapshot!(s);
}

#[test]
fn terminal_colour_only_when_asked() {
    let o = RenderOptions {
        color: true,
        ..opts()
    };
    let s = out(OutputFormat::TERMINAL, &[sample_report()], &o);
    assert!(s.contains("\x1b[1;31m1. LEAK (proven)"), "{s}");
}

#[test]
fn terminal_clean_and_several() {
    let s = out(
        OutputFormat::TERMINAL,
        &[clean_report(), clean_report()],
        &opts(),
    );
    insta::assert_snapshot!(s);
}

#[test]
fn markdown_report() {
    let s = out(OutputFormat::MARKDOWN, &[sample_report()], &opts());
    insta::assert_snapshot!(s);
}

#[test]
fn junit_report() {
    let s = out(
        OutputFormat::JUNIT,
        &[sample_report(), clean_report()],
        &opts(),
    );
    assert!(s.contains("failures=\"3\""), "{s}");
    insta::assert_snapshot!(s);
}

#[test]
fn html_without_snapshots() {
    let s = out(OutputFormat::HTML, &[sample_report()], &opts());
    assert_eq!(
        s.matches("<script").count(),
        1,
        "only the page's own zoom script; the label's <script> is escaped"
    );
    assert!(s.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!s.contains("src=\"http"), "nothing loaded from the network");
    insta::assert_snapshot!(s);
}

#[test]
fn execution_window_sites_in_the_terminal_markdown_and_html() {
    let r = sample_window_report();
    let t = out(OutputFormat::TERMINAL, std::slice::from_ref(&r), &opts());
    let table = &t[t.find("Lifecycles over").expect("the per-site table")..];
    let table = &table[..table.find("\nOther groups").unwrap_or(table.len())];
    insta::assert_snapshot!("window_terminal", table);
    assert!(
        table.contains("  leaking       64      0  0 → 64  main.handle (handler.go:57)\n"),
        "{table}"
    );
    assert!(
        table.contains("+21/s · blocked chan send 1.6 min"),
        "{table}"
    );
    // Wrapped under the counts at 80 columns.
    assert!(
        table.contains("lifetime p50 12 µs, p99 3.4 ms · blocked chan receive 1.2 s, sync\n             400 ms"),
        "{table}"
    );
    let two = RenderOptions {
        top: Some(2),
        ..opts()
    };
    let t = out(OutputFormat::TERMINAL, std::slice::from_ref(&r), &two);
    assert!(t.contains("…and 1 more site; use --top N or -v"), "{t}");

    let m = out(OutputFormat::MARKDOWN, std::slice::from_ref(&r), &opts());
    let table = &m[m.find("### Lifecycles").expect("a markdown table")..];
    let table = &table[..table.find("<details>").unwrap_or(table.len())];
    insta::assert_snapshot!("window_markdown", table);

    let h = out(OutputFormat::HTML, std::slice::from_ref(&r), &opts());
    assert!(h.contains("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"lifecycle-chart\""));
    assert_eq!(
        h.matches("<g class=\"site v-").count(),
        3,
        "one chart row per site"
    );
    assert!(h.contains("main.worker &lt;script&gt;") || !h.contains("main.worker <script>"));
    assert!(!h.contains("<script>alert"), "escaped");
    assert_eq!(
        h.matches("<script").count(),
        1,
        "only the page's own script"
    );
    // The leaking site's box-less row (nothing ended), the steady one's lifetime box.
    assert!(h.contains(">none ended</text>"), "{h}");
    assert!(h.contains("class=\"box\""));
    // Without a window, none of it.
    let plain = out(OutputFormat::HTML, &[sample_report()], &opts());
    assert!(!plain.contains("lifecycle-chart\" viewBox") && !plain.contains("Lifecycles over"));
}

#[test]
fn json_one_document_or_array() {
    let one = out(OutputFormat::JSON, &[clean_report()], &opts());
    let v: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert!(v.is_object());
    assert_eq!(v["schema_version"], goroscope_analyze::SCHEMA_VERSION);
    let two = out(
        OutputFormat::JSON,
        &[clean_report(), sample_report()],
        &opts(),
    );
    let v: serde_json::Value = serde_json::from_str(&two).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[1]["groups"][0]["verdict"], "leak");
    let none = out(OutputFormat::JSON, &[], &opts());
    assert_eq!(none.trim(), "[]");
    let compact = out(
        OutputFormat::JSON,
        &[clean_report()],
        &RenderOptions {
            json_pretty: false,
            ..opts()
        },
    );
    assert_eq!(compact.lines().count(), 1);
    insta::assert_snapshot!(one);
}

fn diff_out(format: OutputFormat) -> String {
    let mut buf = Vec::new();
    render_diff(&mut buf, format, &sample_diff(), &[], &opts()).unwrap();
    String::from_utf8(buf).unwrap()
}

fn trend_out(format: OutputFormat) -> String {
    let mut buf = Vec::new();
    render_trend(&mut buf, format, &sample_trend(), &[], &opts()).unwrap();
    String::from_utf8(buf).unwrap()
}

#[test]
fn diff_renderings() {
    insta::assert_snapshot!("diff_terminal", diff_out(OutputFormat::TERMINAL));
    insta::assert_snapshot!("diff_markdown", diff_out(OutputFormat::MARKDOWN));
    insta::assert_snapshot!("diff_junit", diff_out(OutputFormat::JUNIT));
    let v: serde_json::Value = serde_json::from_str(&diff_out(OutputFormat::JSON)).unwrap();
    assert_eq!(v["groups"][0]["change"], "new");
    let mut buf = Vec::new();
    let err = render_diff(&mut buf, OutputFormat::HTML, &sample_diff(), &[], &opts()).unwrap_err();
    assert!(err.to_string().contains("not available for diff"), "{err}");
    let err = render_diff(&mut buf, OutputFormat::SVG, &sample_diff(), &[], &opts()).unwrap_err();
    assert!(err.to_string().contains("needs the snapshots"), "{err}");
}

#[test]
fn trend_renderings() {
    insta::assert_snapshot!("trend_terminal", trend_out(OutputFormat::TERMINAL));
    insta::assert_snapshot!("trend_markdown", trend_out(OutputFormat::MARKDOWN));
    insta::assert_snapshot!("trend_junit", trend_out(OutputFormat::JUNIT));
    let v: serde_json::Value = serde_json::from_str(&trend_out(OutputFormat::JSON)).unwrap();
    assert_eq!(v["groups"][0]["verdict"], "leak");
}

/// A writer whose reader went away, like `goroscope analyze | head -1`.
struct ClosedPipe;
impl std::io::Write for ClosedPipe {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::ErrorKind::BrokenPipe.into())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn closed_pipe_comes_back_as_broken_pipe() {
    for f in OutputFormat::all() {
        let r = render(&mut ClosedPipe, f, &[sample_report()], &[], &opts());
        if f == OutputFormat::SVG || f == OutputFormat::FOLDED {
            // Nothing to write without snapshots except the empty-graph SVG.
            if let Err(e) = r {
                assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{f}");
            }
            continue;
        }
        let e = r.expect_err(f.as_str());
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{f}: {e}");
    }
}

/// Parses `xml` to the end, failing on the first well-formedness error.
fn assert_well_formed(xml: &str) {
    let mut r = quick_xml::Reader::from_str(xml);
    let mut depth = 0i32;
    loop {
        match r.read_event() {
            Ok(quick_xml::events::Event::Start(_)) => depth += 1,
            Ok(quick_xml::events::Event::End(_)) => depth -= 1,
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!(
                "not well-formed at byte {}: {e}\n{xml}",
                r.buffer_position()
            ),
        }
    }
    assert_eq!(depth, 0, "unbalanced elements");
}

#[test]
fn junit_is_well_formed_xml_with_hostile_text() {
    let mut r = sample_report();
    r.groups[0].explanation = Some("a < b && c > \"d\" ]]> \u{1} end".into());
    r.source.input = "dump<&>.txt".into();
    let s = out(OutputFormat::JUNIT, &[r], &opts());
    assert_well_formed(&s);
    let mut buf = Vec::new();
    render_diff(&mut buf, OutputFormat::JUNIT, &sample_diff(), &[], &opts()).unwrap();
    assert_well_formed(&String::from_utf8(buf).unwrap());
    let mut buf = Vec::new();
    render_trend(&mut buf, OutputFormat::JUNIT, &sample_trend(), &[], &opts()).unwrap();
    assert_well_formed(&String::from_utf8(buf).unwrap());
}

/// Every line of every terminal rendering fits every width from 40 to 120 columns.
#[test]
fn terminal_fits_every_width() {
    for width in 40..=120 {
        for verbose in [0, 1] {
            let o = RenderOptions {
                width,
                verbose,
                ..opts()
            };
            let mut outputs = vec![
                out(OutputFormat::TERMINAL, &[sample_report()], &o),
                out(OutputFormat::TERMINAL, &[sample_window_report()], &o),
            ];
            let mut buf = Vec::new();
            render_diff(&mut buf, OutputFormat::TERMINAL, &sample_diff(), &[], &o).unwrap();
            outputs.push(String::from_utf8(buf).unwrap());
            let mut buf = Vec::new();
            render_trend(&mut buf, OutputFormat::TERMINAL, &sample_trend(), &[], &o).unwrap();
            outputs.push(String::from_utf8(buf).unwrap());
            for s in outputs {
                for line in s.lines() {
                    assert!(
                        unicode_width::UnicodeWidthStr::width(line) <= width,
                        "width {width} (verbose {verbose}): {line:?}"
                    );
                }
            }
        }
    }
}

/// Two snapshots read from a tiny dump, for the forms that draw stacks.
fn tiny_snapshots() -> Vec<goroscope_model::Snapshot> {
    let dump = "goroutine 7 [chan receive]:\nmain.worker()\n\t/src/main.go:12 +0x1d\ncreated by main.main in goroutine 1\n\t/src/main.go:20 +0x25\n";
    let read = |name: &str| {
        goroscope_ingest::read_reader(name, dump.as_bytes(), &Default::default())
            .unwrap()
            .pop()
            .unwrap()
    };
    vec![read("before.txt"), read("after.txt")]
}

#[test]
fn every_renderer_writes_exactly_what_it_says_it_supports() {
    use goroscope_render::{Subject, RENDERERS};
    let snaps = tiny_snapshots();
    let reports = goroscope_analyze::analyze(&snaps[..1], &Default::default());
    let diff = goroscope_analyze::diff(&snaps[0], &snaps[1], &Default::default());
    let trend = goroscope_analyze::trend(&snaps, &Default::default());
    for r in RENDERERS {
        for subject in Subject::ALL {
            let mut buf = Vec::new();
            let res = match subject {
                Subject::Report => r.report(&mut buf, &reports, &snaps[..1], &opts()),
                Subject::Diff => r.diff(&mut buf, &diff, &snaps, &opts()),
                Subject::Trend => r.trend(&mut buf, &trend, &snaps, &opts()),
            };
            if r.supports(subject) {
                res.unwrap_or_else(|e| panic!("{} {subject:?}: {e}", r.name()));
                assert!(!buf.is_empty(), "{} {subject:?} wrote nothing", r.name());
                assert!(!r.about(subject).is_empty(), "{} {subject:?}", r.name());
            } else {
                let e = res.expect_err(r.name());
                assert_eq!(e.kind(), std::io::ErrorKind::Unsupported, "{}", r.name());
                assert!(e.to_string().contains(subject.command()), "{e}");
            }
        }
    }
}

#[test]
fn verbosity_adds_detail_level_by_level() {
    let mut r = sample_report();
    r.warnings = (1..=5).map(|i| format!("warning number {i}")).collect();
    let at = |verbose: u8| {
        out(
            OutputFormat::TERMINAL,
            std::slice::from_ref(&r),
            &RenderOptions { verbose, ..opts() },
        )
    };
    let (v0, v1, v2) = (at(0), at(1), at(2));
    // Labels always; evidence, goroutine ids and stacks from -v.
    assert!(v0.contains("labels      handler="), "{v0}");
    for (detail, shown_at_0) in [
        ("evidence", false),
        ("goids", false),
        ("  stack", false),
        ("runtime marked 120 goroutines (leaked)", false),
    ] {
        assert_eq!(v0.contains(detail), shown_at_0, "{detail} at 0:\n{v0}");
        assert!(v1.contains(detail), "{detail} at -v:\n{v1}");
    }
    // Warnings: three, then a count; all at -vv.
    assert!(
        v0.contains("warning number 3") && !v0.contains("warning number 4"),
        "{v0}"
    );
    assert!(v0.contains("…and 2 more warnings; -vv shows them"), "{v0}");
    assert!(v2.contains("warning number 5"), "{v2}");
    // -vv shows the other groups in full, not as a table.
    assert!(v1.contains("COUNT  VERDICT"), "{v1}");
    assert!(!v2.contains("COUNT  VERDICT"), "{v2}");
    assert!(v2.matches("  blocked at").count() > v1.matches("  blocked at").count());
}

#[test]
fn trend_rates_suit_the_window_and_flat_leaks_are_not_growing() {
    let mut t = sample_trend();
    // 0.3 minutes: 18 seconds. 40 per minute reads as 0.67 per second.
    t.minutes = Some(vec![0.0, 0.1, 0.2, 0.3]);
    let mut buf = Vec::new();
    render_trend(&mut buf, OutputFormat::TERMINAL, &t, &[], &opts()).unwrap();
    let s = String::from_utf8(buf).unwrap();
    assert!(s.contains("over 18 s"), "{s}");
    assert!(s.contains("grows +0.67/s"), "{s}");
    assert!(s.contains("2. LEAK · not growing · nil-chan"), "{s}");
    assert!(!s.contains("No group grows"), "{s}");
    let mut buf = Vec::new();
    render_trend(&mut buf, OutputFormat::MARKDOWN, &t, &[], &opts()).unwrap();
    let md = String::from_utf8(buf).unwrap();
    assert!(
        md.contains("| +0.67/s |") && md.contains("| none |"),
        "{md}"
    );
    // Nothing grows: said so, even with findings.
    for g in &mut t.groups {
        g.growing = false;
    }
    t.warnings = vec!["poll 2/4 at +6 s failed, a gap in the series: HTTP 503".into()];
    let mut buf = Vec::new();
    render_trend(&mut buf, OutputFormat::TERMINAL, &t, &[], &opts()).unwrap();
    let s = String::from_utf8(buf).unwrap();
    assert!(s.contains("No group grows steadily."), "{s}");
    assert!(s.contains("warning: poll 2/4"), "{s}");
}

#[test]
fn every_output_names_the_go_version_and_grouping_alike() {
    let mut r = sample_report();
    r.go_version = None;
    r.go_version_min = Some("go1.21".into());
    r.grouping = goroscope_analyze::Similarity::BlockingSite;
    for f in [
        OutputFormat::TERMINAL,
        OutputFormat::MARKDOWN,
        OutputFormat::HTML,
    ] {
        let s = out(f, std::slice::from_ref(&r), &opts());
        assert!(s.contains("≥ go1.21"), "{f}: {s}");
        assert!(
            s.contains("grouped by blocking") || s.contains("grouped by `blocking`"),
            "{f}"
        );
        assert!(!s.contains("blocking_site"), "{f} names the flag's value");
    }
}
