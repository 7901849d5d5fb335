//! The wait-for graph in Graphviz's DOT language (`--output dot`): goroutines and the channels,
//! locks and WaitGroups they wait on, from each report's relations (deadlocks, lock chains,
//! stuck programs). `goroscope analyze dump.txt -o dot | dot -Tsvg > waits.svg`.
//!
//! Goroutine → object edges are waits ("send", "lock"); object → goroutine edges say who could
//! free it (a lock's probable holder, the other end of a channel). Deadlocked goroutines are
//! red, a lock chain's root holder orange; a probable relation's edges are dashed.

use crate::escape;
use crate::{RenderOptions, Renderer, Subject};
use goroscope_analyze::Report;
use goroscope_model::Snapshot;
use std::collections::BTreeMap;
use std::io::{self, Write};

pub(crate) struct Dot;

impl Renderer for Dot {
    fn name(&self) -> &'static str {
        "dot"
    }
    fn aliases(&self) -> &'static [&'static str] {
        &["graphviz"]
    }
    fn supports(&self, subject: Subject) -> bool {
        subject == Subject::Report
    }
    fn about(&self, _: Subject) -> &'static str {
        "the wait-for graph of deadlocks and lock chains, for Graphviz"
    }
    fn report(
        &self,
        w: &mut dyn Write,
        reports: &[Report],
        _snapshots: &[Snapshot],
        _opts: &RenderOptions,
    ) -> io::Result<()> {
        write_dot(w, reports)
    }
}

/// A DOT string literal's contents: quotes and backslashes escaped, control characters shown
/// escaped (never raw: a dump is untrusted text).
fn q(s: &str) -> String {
    let s = escape::controls(s);
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Writes one digraph with a cluster per report that has relations.
pub fn write_dot(w: &mut dyn Write, reports: &[Report]) -> io::Result<()> {
    writeln!(w, "digraph waits {{")?;
    writeln!(w, "  rankdir=LR;")?;
    writeln!(
        w,
        "  node [fontname=\"monospace\", fontsize=10]; edge [fontname=\"monospace\", fontsize=9];"
    )?;
    let mut any = false;
    for (ri, r) in reports.iter().enumerate() {
        if r.relations.is_empty() {
            continue;
        }
        any = true;
        writeln!(w, "  subgraph cluster_{ri} {{")?;
        writeln!(
            w,
            "    label=\"{} ({})\";",
            q(&crate::text::source_name(&r.source)),
            q(&r.context.kind)
        )?;
        // Goroutines and objects once each (a goroutine may be in several relations), with the
        // worst role seen and whether any relation it is in is only probable.
        let mut goroutines: BTreeMap<u64, (String, String, bool, String)> = BTreeMap::new();
        let mut objects: BTreeMap<String, String> = BTreeMap::new();
        let mut edges: Vec<(String, String, String, bool)> = Vec::new();
        for rel in &r.relations {
            for o in &rel.objects {
                let label = match &o.owner_type {
                    Some(t) => format!("{} {}\nin a {t}\n{} waiting", o.kind, o.addr, o.waiters),
                    None => format!("{} {}\n{} waiting", o.kind, o.addr, o.waiters),
                };
                objects.entry(o.addr.clone()).or_insert(label);
            }
            for g in &rel.goroutines {
                let at =
                    g.at.as_ref()
                        .map(|l| l.function.clone())
                        .unwrap_or_default();
                let color = if rel.kind == "deadlock" || rel.kind == "stuck" {
                    "red"
                } else if g.role == "root-holder" {
                    "orange"
                } else {
                    "black"
                };
                let e = goroutines.entry(g.goid).or_insert((
                    format!("goroutine {}\n{}\n{at}", g.goid, g.state),
                    color.to_string(),
                    rel.sure,
                    g.role.clone(),
                ));
                if color == "red" {
                    e.1 = color.to_string();
                }
                if let Some(o) = &g.object {
                    let op = g
                        .waits_on
                        .as_deref()
                        .and_then(|s| s.split(" on ").next())
                        .unwrap_or("waits");
                    edges.push((format!("g{}", g.goid), obj_id(o), op.to_string(), rel.sure));
                }
                for o in &g.holds {
                    let what = if rel.kind == "lock-chain" {
                        "held by"
                    } else {
                        "freed by"
                    };
                    edges.push((obj_id(o), format!("g{}", g.goid), what.into(), rel.sure));
                }
            }
        }
        for (goid, (label, color, _, _)) in &goroutines {
            writeln!(
                w,
                "    g{goid} [shape=box, color={color}, label=\"{}\"];",
                q(label)
            )?;
        }
        for (addr, label) in &objects {
            writeln!(
                w,
                "    {} [shape=ellipse, style=filled, fillcolor=\"#eeeeee\", label=\"{}\"];",
                obj_id(addr),
                q(label)
            )?;
        }
        edges.sort();
        edges.dedup();
        for (from, to, label, sure) in edges {
            writeln!(
                w,
                "    {from} -> {to} [label=\"{}\"{}];",
                q(&label),
                if sure { "" } else { ", style=dashed" }
            )?;
        }
        writeln!(w, "  }}")?;
    }
    if !any {
        writeln!(
            w,
            "  none [shape=plaintext, label=\"no deadlock, lock chain or stuck program found\"];"
        )?;
    }
    writeln!(w, "}}")
}

/// A node id for an object address (`0xc000184060` → `o_c000184060`): ids stay plain.
fn obj_id(addr: &str) -> String {
    let hex: String = addr
        .trim_start_matches("0x")
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .collect();
    format!("o_{hex}")
}
