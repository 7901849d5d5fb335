//! Plain-text helpers shared by the human-readable renderers: display width, truncation,
//! wrapping, numbers and wait times.

use goroscope_analyze::{Group, Location, MinMax, SourceInfo};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Columns `s` takes on a terminal.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` cut to at most `max` columns, ending in `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw > max - 1 {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    out
}

/// `s` cut from the left to at most `max` columns, starting with `…` when cut: for paths, whose
/// end (the file name) matters most.
pub fn truncate_left(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut rev = Vec::new();
    let mut w = 0;
    for c in s.chars().rev() {
        let cw = c.width().unwrap_or(0);
        if w + cw > max - 1 {
            break;
        }
        rev.push(c);
        w += cw;
    }
    let mut out = String::from("…");
    out.extend(rev.into_iter().rev());
    out
}

/// Wraps `text` at spaces into lines of at most `max` columns; words longer than a line are
/// cut into pieces.
pub fn wrap(text: &str, max: usize) -> Vec<String> {
    let max = max.max(10);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut lw = 0;
    for word in text.split_whitespace() {
        let mut word = word.to_string();
        loop {
            let ww = width(&word);
            let need = if lw == 0 { ww } else { lw + 1 + ww };
            if need <= max {
                if lw > 0 {
                    line.push(' ');
                }
                line.push_str(&word);
                lw = need;
                break;
            }
            if lw > 0 {
                lines.push(std::mem::take(&mut line));
                lw = 0;
                continue;
            }
            // A word longer than a whole line: cut it.
            let mut head = String::new();
            let mut hw = 0;
            let mut rest = String::new();
            for c in word.chars() {
                let cw = c.width().unwrap_or(0);
                if rest.is_empty() && hw + cw <= max {
                    head.push(c);
                    hw += cw;
                } else {
                    rest.push(c);
                }
            }
            lines.push(head);
            word = rest;
            if word.is_empty() {
                break;
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `n thing` / `n things`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// `…and 3 more groups`.
pub fn more(n: usize, one: &str, many: &str) -> String {
    format!(
        "…and {} more {}",
        thousands(n as u64),
        if n == 1 { one } else { many }
    )
}

/// Wait minutes are lower bounds (the runtime stamps them from GC cycles): `≥ 5 min`,
/// `≥ 5–12 min`.
pub fn minutes(m: &MinMax) -> String {
    if m.min == m.max {
        format!("≥ {} min", m.min)
    } else {
        format!("≥ {}–{} min", m.min, m.max)
    }
}

/// The state of a group: wait reason (or status), `(inferred)` when read from frames.
pub fn state(g: &Group) -> String {
    let mut s = match &g.wait_reason {
        Some(r) if !r.is_empty() => r.clone(),
        _ => g.status.clone(),
    };
    if g.state_inferred {
        s.push_str(" (inferred)");
    }
    s
}

/// `file:line`, or empty when the format has no files.
pub fn file_line(l: &Location) -> String {
    if l.file.is_empty() {
        String::new()
    } else if l.line == 0 {
        l.file.clone()
    } else {
        format!("{}:{}", l.file, l.line)
    }
}

/// Where a group is: its blocking site, else its top frame.
pub fn site(g: &Group) -> Option<&Location> {
    g.blocking_site.as_ref().or(g.top_frame.as_ref())
}

/// `input` or `input #2` for the second dump of one input.
pub fn source_name(s: &SourceInfo) -> String {
    if s.index == 0 {
        s.input.clone()
    } else {
        format!("{} #{}", s.input, s.index + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_and_wrapping() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(truncate_left("/a/b/main.go:12", 10), "…ain.go:12");
        assert_eq!(
            wrap("one two three four", 10),
            vec!["one two", "three four"]
        );
        assert_eq!(wrap("abcdefghijklmnop", 10), vec!["abcdefghij", "klmnop"]);
        assert_eq!(wrap("", 10), vec![""]);
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(minutes(&MinMax { min: 5, max: 5 }), "≥ 5 min");
    }
}
