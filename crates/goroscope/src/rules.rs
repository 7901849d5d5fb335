//! `goroscope rules [RULE]`: the leak rule catalog, from `goroscope_analyze::rules::ALL`.

use crate::cli::RulesArgs;
use anyhow::Result;
use goroscope_analyze::rules::{self, Rule};
use std::io::Write;

pub fn cmd_rules(args: &RulesArgs, width: usize) -> Result<()> {
    let mut out = String::new();
    match &args.rule {
        None => list(&mut out, width),
        Some(id) => {
            let Some(rule) = rules::get(id) else {
                anyhow::bail!(
                    "unknown rule `{}`; the rules are: {}",
                    crate::clean(id),
                    rules::ids().join(", ")
                );
            };
            explain(&mut out, rule, width);
        }
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// One line per rule: the id, then what it detects, wrapped under itself.
fn list(out: &mut String, width: usize) {
    let id_w = rules::ALL.iter().map(|r| r.id.len()).max().unwrap_or(0);
    let avail = width.max(40).saturating_sub(id_w + 2);
    for r in rules::ALL {
        for (i, line) in wrap(r.summary, avail).into_iter().enumerate() {
            let id = if i == 0 { r.id } else { "" };
            out.push_str(&format!("{id:<id_w$}  {line}\n"));
        }
    }
    out.push_str(
        "\n`goroscope rules RULE` explains one. Levels: -A RULE (allow: benign), -W RULE (warn: at most\nsuspect), -D RULE (deny: suspects become leaks), or [rules] RULE = \"allow\" in --config.\n",
    );
}

fn explain(out: &mut String, r: &Rule, width: usize) {
    out.push_str(r.id);
    out.push('\n');
    const LABEL_W: usize = 9;
    let avail = width.max(40).saturating_sub(LABEL_W + 2);
    for (label, text) in [
        ("detects", r.summary),
        ("why", r.why),
        ("example", r.example),
        ("fix", r.fix),
    ] {
        for (i, line) in wrap(text, avail).into_iter().enumerate() {
            let l = if i == 0 { label } else { "" };
            out.push_str(&format!("  {l:<LABEL_W$}{line}\n"));
        }
    }
}

/// Wraps at spaces into lines of at most `max` characters (longer words stay whole).
fn wrap(text: &str, max: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > max {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}
