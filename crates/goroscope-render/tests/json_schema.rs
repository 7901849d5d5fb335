//! `docs/json-schema.md` must list every field the serializer emits, and nothing it does not:
//! serialize a full example of each document, walk its keys, and compare with the doc's tables.

mod common;

use common::*;
use goroscope_analyze::{Change, Similarity, Verdict};
use serde_json::Value;
use std::collections::BTreeSet;

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/json-schema.md");
    std::fs::read_to_string(path).expect("docs/json-schema.md")
}

/// The part of the doc from `## {title}` to the next `## ` heading.
fn section(doc: &str, title: &str) -> String {
    let start = doc
        .find(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("no section {title:?} in docs/json-schema.md"));
    let rest = &doc[start + 4..];
    let end = rest.find("\n## ").map_or(rest.len(), |e| e);
    rest[..end].to_string()
}

/// Paths of every key: `a`, `a.b`, `list[].c`. Maps with free keys (`labels`) and nested Group
/// objects in diff/trend (`groups[].group`, documented once in the Group table) are not entered.
fn paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>, stop: &[&str]) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(p.clone());
                if !stop.contains(&p.as_str()) {
                    paths(child, &p, out, stop);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                if item.is_object() {
                    paths(item, &format!("{prefix}[]"), out, stop);
                }
            }
        }
        _ => {}
    }
}

/// The backticked field names in the first column of the section's tables.
fn documented(section: &str) -> BTreeSet<String> {
    section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect()
}

fn check(title: &str, emitted: BTreeSet<String>, doc_section: &str) {
    let listed = documented(doc_section);
    let missing: Vec<_> = emitted.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "docs/json-schema.md, section {title:?}, does not document {missing:?}"
    );
    let stale: Vec<_> = listed.difference(&emitted).collect();
    assert!(
        stale.is_empty(),
        "docs/json-schema.md, section {title:?}, lists fields the serializer does not emit: {stale:?}"
    );
}

#[test]
fn analyze_document_fields_are_all_documented() {
    let mut r = sample_window_report();
    // Fill every optional value so nested objects show their keys.
    r.reason = Some("panic: boom".into());
    r.go_version_min = Some("go1.21".into());
    let v = serde_json::to_value(&r).unwrap();
    let mut emitted = BTreeSet::new();
    paths(&v, "", &mut emitted, &["groups[].labels"]);
    let d = doc();
    // The Group table (`### Group`) is part of this section.
    check(
        "Analyze document",
        emitted,
        &section(&d, "Analyze document"),
    );
    // The first field of every document.
    assert!(serde_json::to_string(&r)
        .unwrap()
        .starts_with("{\"schema_version\":2,"));
}

#[test]
fn diff_document_fields_are_all_documented() {
    let v = serde_json::to_value(sample_diff()).unwrap();
    let mut emitted = BTreeSet::new();
    paths(&v, "", &mut emitted, &["groups[].group"]);
    check("Diff document", emitted, &section(&doc(), "Diff document"));
}

#[test]
fn trend_document_fields_are_all_documented() {
    let v = serde_json::to_value(sample_trend()).unwrap();
    let mut emitted = BTreeSet::new();
    paths(&v, "", &mut emitted, &["groups[].group"]);
    check(
        "Trend document",
        emitted,
        &section(&doc(), "Trend document"),
    );
}

#[test]
fn every_enum_value_is_documented() {
    let d = doc();
    let json = |v: &dyn erased::Ser| v.json();
    let mut values: Vec<String> = Vec::new();
    for v in [
        Verdict::Leak,
        Verdict::Suspect,
        Verdict::NeedMoreSamples,
        Verdict::Benign,
    ] {
        values.push(json(&v));
    }
    for c in [
        Change::New,
        Change::Grown,
        Change::Shrunk,
        Change::Gone,
        Change::Unchanged,
    ] {
        values.push(json(&c));
    }
    for s in [
        Similarity::ExactStack,
        Similarity::IgnoreLines,
        Similarity::BlockingSite,
        Similarity::CreationSite,
    ] {
        values.push(json(&s));
    }
    for v in values {
        let bare = v.trim_matches('"');
        assert!(
            d.contains(&format!("`{bare}`")),
            "docs/json-schema.md never mentions the value `{bare}`"
        );
    }
}

mod erased {
    pub trait Ser {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Ser for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap()
        }
    }
}
