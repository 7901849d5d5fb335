//! `--output dot`: the wait-for graph is valid Graphviz (checked with the real `dot` where it is
//! installed; the test setup installs it) and has the relation's goroutines, objects and edges.

mod common;

use common::*;
use goroscope_render::{render, OutputFormat, RenderOptions};
use std::io::Write;
use std::process::{Command, Stdio};

fn dot_of(reports: &[goroscope_analyze::Report]) -> String {
    let mut out = Vec::new();
    render(
        &mut out,
        OutputFormat::DOT,
        reports,
        &[],
        &RenderOptions::default(),
    )
    .unwrap();
    String::from_utf8(out).unwrap()
}

/// Runs Graphviz on `src`, if installed; `None` when it is not.
fn graphviz(src: &str) -> Option<(bool, String)> {
    let mut child = match Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(_) => {
            eprintln!("SKIPPED: graphviz `dot` not installed (scripts/test.sh installs it)");
            return None;
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(src.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Some((
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[test]
fn lock_chain_graph_is_valid_graphviz() {
    let mut r = sample_report();
    // Hostile text from a dump: quotes, backslashes, an escape sequence.
    r.relations[0].goroutines[1].state = "running \"x\\y\" \u{1b}[31m".into();
    let src = dot_of(&[r]);
    assert!(src.starts_with("digraph waits {"), "{src}");
    assert!(src.contains("g20 [shape=box"), "{src}");
    assert!(src.contains("g8 [shape=box, color=orange"), "{src}");
    assert!(src.contains("o_c0000a0008 [shape=ellipse"), "{src}");
    assert!(
        src.contains("g20 -> o_c0000a0008 [label=\"lock\"]"),
        "{src}"
    );
    assert!(
        src.contains("o_c0000a0008 -> g8 [label=\"held by\"]"),
        "{src}"
    );
    assert!(!src.contains('\u{1b}'), "no raw escape: {src}");
    if let Some((ok, err)) = graphviz(&src) {
        assert!(ok, "dot rejected it: {err}\n{src}");
    }
}

#[test]
fn no_relations_is_still_a_graph() {
    let src = dot_of(&[clean_report()]);
    assert!(src.contains("no deadlock, lock chain or stuck program found"));
    if let Some((ok, err)) = graphviz(&src) {
        assert!(ok, "{err}");
    }
}
