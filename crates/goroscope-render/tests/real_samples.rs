//! Reports of real Go 1.27 dumps (`shared/research/go127-samples`), read by the ingest readers
//! and analysed by goroscope-analyze, in every human format. Addresses, group ids and goroutine
//! ids are filtered out of the snapshots so they only change when the rendering does.

use goroscope_analyze::{analyze, Options, Report};
use goroscope_model::Snapshot;
use goroscope_render::{render, render_diff, OutputFormat, RenderOptions};
use std::path::{Path, PathBuf};

/// `shared/research/go127-samples`: beside the repository (as CI lays it out), or the
/// workplace's copy.
fn samples_dir() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        manifest.join("../../../shared/research/go127-samples"),
        manifest.join("../../shared/research/go127-samples"),
        PathBuf::from("/work/shared/research/go127-samples"),
    ];
    let found = candidates.into_iter().find(|p| p.is_dir());
    if found.is_none() {
        eprintln!("SKIP: shared/research/go127-samples not found beside the repository");
    }
    found
}

/// Reads samples, naming each snapshot `[samples]/NAME` so reports do not depend on where the
/// samples live.
fn read(names: &[&str]) -> Option<Vec<Snapshot>> {
    let dir = samples_dir()?;
    let mut all = Vec::new();
    for name in names {
        let p = dir.join(name);
        if !p.exists() {
            eprintln!("SKIP: {} is missing", p.display());
            return None;
        }
        let snaps = goroscope_ingest::read_input(
            p.to_str().unwrap(),
            &goroscope_ingest::Options::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        for mut s in snaps {
            s.source.input = format!("[samples]/{name}");
            all.push(s);
        }
    }
    Some(all)
}

fn out(format: OutputFormat, reports: &[Report], snaps: &[Snapshot]) -> String {
    let mut buf = Vec::new();
    render(&mut buf, format, reports, snaps, &RenderOptions::default()).unwrap();
    String::from_utf8(buf).unwrap()
}

macro_rules! snap {
    ($name:expr, $value:expr) => {
        insta::with_settings!({filters => vec![
            (r"\b[0-9a-f]{16}\b", "[group-id]"),
            (r"0x[0-9a-f]+", "[addr]"),
        ]}, {
            insta::assert_snapshot!($name, $value);
        });
    };
}

#[test]
fn proto_with_goroutineleak_proof() {
    let Some(snaps) = read(&["goroutine_debug0.pb.gz", "goroutineleak_debug0.pb.gz"]) else {
        return;
    };
    let reports = analyze(&snaps, &Options::default());
    assert_eq!(reports.len(), 1, "the goroutineleak profile only proves");
    assert!(reports[0].proof.available);
    let term = out(OutputFormat::TERMINAL, &reports, &snaps);
    assert!(term.contains("LEAK (proven)"), "{term}");
    snap!("proto_terminal", term);
    snap!(
        "proto_markdown",
        out(OutputFormat::MARKDOWN, &reports, &snaps)
    );
    snap!("proto_junit", out(OutputFormat::JUNIT, &reports, &snaps));

    // Stack formats draw the analysed snapshot only, not the proof profile beside it.
    let folded = out(OutputFormat::FOLDED, &reports, &snaps);
    let total: u64 = folded
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, reports[0].total_goroutines);
    snap!("proto_folded", folded);

    let html = out(OutputFormat::HTML, &reports, &snaps);
    assert!(html.contains("<svg"), "flame graph in the page");
    assert!(html.contains("main.leakRecv.func1"));
}

#[test]
fn debug1_report() {
    let Some(snaps) = read(&["goroutine_debug1.txt"]) else {
        return;
    };
    let reports = analyze(&snaps, &Options::default());
    let term = out(OutputFormat::TERMINAL, &reports, &snaps);
    assert!(
        term.contains("(inferred)"),
        "debug=1 states are inferred:\n{term}"
    );
    snap!("debug1_terminal", term);
    let json: serde_json::Value =
        serde_json::from_str(&out(OutputFormat::JSON, &reports, &snaps)).unwrap();
    assert_eq!(json["source"]["format"], "debug1");
    assert_eq!(
        json["total_goroutines"].as_u64().unwrap(),
        snaps[0].total_goroutines()
    );
}

#[test]
fn diff_of_real_profiles() {
    let Some(before) = read(&["goroutine_debug1.txt"]) else {
        return;
    };
    let Some(after) = read(&["goroutine_debug0.pb.gz"]) else {
        return;
    };
    let d = goroscope_analyze::diff(&before[0], &after[0], &Options::default());
    let mut buf = Vec::new();
    render_diff(
        &mut buf,
        OutputFormat::TERMINAL,
        &d,
        &[before[0].clone(), after[0].clone()],
        &RenderOptions::default(),
    )
    .unwrap();
    let s = String::from_utf8(buf).unwrap();
    assert!(s.starts_with("goroscope diff"), "{s}");
    snap!("diff_debug1_then_proto_terminal", s);

    let pair = [before[0].clone(), after[0].clone()];
    let mut svg = Vec::new();
    render_diff(
        &mut svg,
        OutputFormat::SVG,
        &d,
        &pair,
        &RenderOptions::default(),
    )
    .unwrap();
    let svg = String::from_utf8(svg).unwrap();
    assert!(
        svg.contains("red: more goroutines in AFTER"),
        "differential flame graph"
    );
    let mut folded = Vec::new();
    render_diff(
        &mut folded,
        OutputFormat::FOLDED,
        &d,
        &pair,
        &RenderOptions::default(),
    )
    .unwrap();
    let (mut b, mut a) = (0, 0);
    for line in String::from_utf8(folded).unwrap().lines() {
        let mut it = line.rsplit(' ');
        a += it.next().unwrap().parse::<u64>().unwrap();
        b += it.next().unwrap().parse::<u64>().unwrap();
    }
    assert_eq!(
        (b, a),
        (pair[0].total_goroutines(), pair[1].total_goroutines())
    );
}

#[test]
fn debug2_text_dump() {
    let Some(snaps) = read(&["goroutine_debug2.txt"]) else {
        return;
    };
    let reports = analyze(&snaps, &Options::default());
    let term = out(OutputFormat::TERMINAL, &reports, &snaps);
    assert!(
        term.contains("created by"),
        "text dumps carry creators:\n{term}"
    );
    snap!("debug2_terminal", term);
    snap!(
        "debug2_markdown",
        out(OutputFormat::MARKDOWN, &reports, &snaps)
    );
    let folded = out(OutputFormat::FOLDED, &reports, &snaps);
    assert!(
        folded.lines().any(|l| l.contains(";[chan receive")),
        "state as the leaf:\n{folded}"
    );
}

#[test]
fn trend_across_three_real_snapshots() {
    let Some(snaps) = read(&[
        "wait_61s_0gc_debug2.txt",
        "wait_61s_1gc_debug2.txt",
        "wait_61s_2gc_debug2.txt",
    ]) else {
        return;
    };
    let t = goroscope_analyze::trend(&snaps, &Options::default());
    for format in [OutputFormat::TERMINAL, OutputFormat::MARKDOWN] {
        let mut buf = Vec::new();
        goroscope_render::render_trend(&mut buf, format, &t, &snaps, &RenderOptions::default())
            .unwrap();
        let s = String::from_utf8(buf).unwrap();
        assert!(s.contains("3 snapshots"), "{s}");
        snap!(format!("trend_wait61s_{format}"), s);
    }
    let mut buf = Vec::new();
    goroscope_render::render_trend(
        &mut buf,
        OutputFormat::FOLDED,
        &t,
        &snaps,
        &RenderOptions::default(),
    )
    .unwrap();
    let total: u64 = String::from_utf8(buf)
        .unwrap()
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, snaps[2].total_goroutines(), "the last snapshot");
}
