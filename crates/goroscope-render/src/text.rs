//! Plain-text helpers shared by the human-readable renderers: display width, truncation,
//! wrapping, numbers and wait times.

use goroscope_analyze::{Group, Location, MinMax, Similarity, SourceInfo};
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

/// The Go version, named the same way in every output: `go1.27.3` when the dump says which,
/// `≥ go1.27` when only a lower bound is known (from what the format shows).
pub fn go_version(exact: Option<&str>, min: Option<&str>) -> Option<String> {
    match (exact, min) {
        (Some(v), _) if !v.is_empty() => Some(v.to_string()),
        (_, Some(m)) if !m.is_empty() => Some(format!("≥ {m}")),
        _ => None,
    }
}

/// The grouping as the `--group` flag names it (`lines`, not `ignore_lines`).
pub fn grouping(s: Similarity) -> &'static str {
    match s {
        Similarity::ExactStack => "exact",
        Similarity::IgnoreLines => "lines",
        Similarity::BlockingSite => "blocking",
        Similarity::CreationSite => "creation",
    }
}

/// A group's pprof labels, `key=v1|v2 key2=v`, at most `max_values` values per key (then
/// `|+N`). Empty when it has none.
pub fn labels(g: &Group, max_values: usize) -> String {
    g.labels
        .iter()
        .map(|(k, vals)| {
            // A value with a space or a separator in it is quoted, so `k=a b` cannot read as
            // two labels.
            let shown: Vec<String> = vals
                .iter()
                .take(max_values)
                .map(|v| {
                    if v.is_empty() || v.contains([' ', '|', '=', '"']) {
                        format!("{v:?}")
                    } else {
                        v.clone()
                    }
                })
                .collect();
            let mut s = format!("{k}={}", shown.join("|"));
            if vals.len() > shown.len() {
                s.push_str(&format!("|+{}", vals.len() - shown.len()));
            }
            s
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A span of minutes in the unit that reads best: `45 s`, `2.5 min`, `3.1 h`.
pub fn span(minutes: f64) -> String {
    if minutes < 1.0 {
        let s = minutes * 60.0;
        if s < 10.0 {
            format!("{s:.1} s")
        } else {
            format!("{s:.0} s")
        }
    } else if minutes < 120.0 {
        format!("{minutes:.1} min")
    } else {
        format!("{:.1} h", minutes / 60.0)
    }
}

/// A growth rate in the unit that suits the window it was measured over: per second under a
/// minute (a 20 s window in goroutines per minute reads as a flood), per minute up to two
/// hours, per hour beyond; per snapshot when there are no timestamps.
pub fn rate(slope_per_unit: f64, per_minute: bool, window_minutes: Option<f64>) -> String {
    if !per_minute {
        return format!("{slope_per_unit:+.2}/snapshot");
    }
    match window_minutes {
        Some(w) if w < 1.0 => format!("{:+.2}/s", slope_per_unit / 60.0),
        Some(w) if w >= 120.0 => format!("{:+.1}/h", slope_per_unit * 60.0),
        _ => format!("{slope_per_unit:+.2}/min"),
    }
}

/// What a trend follows: `4 snapshots`, or `13 points of the execution window of trace.out`
/// for a trend over one window (its sources are the same trace, once per point).
pub fn trend_subject(sources: &[SourceInfo]) -> String {
    match sources {
        [first, _, ..]
            if first.format == "exectrace" && sources.iter().all(|s| s.input == first.input) =>
        {
            format!(
                "{} points of the execution window of {}",
                thousands(sources.len() as u64),
                first.input
            )
        }
        _ => plural(sources.len() as u64, "snapshot", "snapshots"),
    }
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

    #[test]
    fn a_trend_over_one_window_says_so() {
        let src = |input: &str, format: &str, index| SourceInfo {
            input: input.into(),
            index,
            format: format.into(),
            kind: "goroutine".into(),
        };
        let window: Vec<SourceInfo> = (0..13).map(|i| src("t.out", "exectrace", i)).collect();
        assert_eq!(
            trend_subject(&window),
            "13 points of the execution window of t.out"
        );
        // Traces of several windows are snapshots like any other.
        let two = [src("a.out", "exectrace", 0), src("b.out", "exectrace", 0)];
        assert_eq!(trend_subject(&two), "2 snapshots");
        assert_eq!(trend_subject(&[src("d.txt", "debug2", 0)]), "1 snapshot");
    }

    #[test]
    fn versions_groupings_spans_and_rates() {
        assert_eq!(
            go_version(Some("go1.27.3"), Some("go1.27")).unwrap(),
            "go1.27.3"
        );
        assert_eq!(go_version(None, Some("go1.21")).unwrap(), "≥ go1.21");
        assert_eq!(go_version(None, None), None);
        assert_eq!(grouping(Similarity::IgnoreLines), "lines");
        assert_eq!(span(0.2), "12 s");
        assert_eq!(span(0.05), "3.0 s");
        assert_eq!(span(2.5), "2.5 min");
        assert_eq!(span(300.0), "5.0 h");
        // 30 goroutines per minute over a 20-second window: half a goroutine a second.
        assert_eq!(rate(30.0, true, Some(20.0 / 60.0)), "+0.50/s");
        assert_eq!(rate(1.5, true, Some(10.0)), "+1.50/min");
        assert_eq!(rate(0.5, true, Some(600.0)), "+30.0/h");
        assert_eq!(rate(2.0, false, None), "+2.00/snapshot");
    }
}
