//! Escaping for the markup formats. Every piece of dump text (function names, files, labels,
//! wait reasons, warnings) is untrusted: a label value can hold `<script>`.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal or a document as itself: C0 controls (ESC starts
/// terminal escape sequences, CR overwrites a line), DEL, C1 controls (CSI, OSC), the
/// noncharacters U+FFFE/U+FFFF, and the bidirectional overrides that make text display in an
/// order other than its own ("Trojan Source").
pub fn is_control(c: char) -> bool {
    matches!(c,
        '\0'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{61c}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{2028}'
        | '\u{2029}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}'
        | '\u{fffe}'
        | '\u{ffff}')
}

/// Pushes the visible escape of a control character: `\x1b` for C0 controls and DEL,
/// `\u{9b}` for the others.
fn push_escaped(out: &mut String, c: char) {
    use std::fmt::Write as _;
    if (c as u32) < 0x80 {
        let _ = write!(out, "\\x{:02x}", c as u32);
    } else {
        let _ = write!(out, "\\u{{{:x}}}", c as u32);
    }
}

/// Text from a dump made safe to show: every control character ([`is_control`]; tabs and line
/// breaks too, which would break the layout) as a visible escape such as `\x1b`. Borrowed when
/// there is none, the usual case.
pub fn controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_control(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`controls`] over every string of a serializable value (every field of a report, map keys
/// too), or `None` when no string holds a control character. Works on whatever fields the
/// report types have, now and later, through their serde form; a value that does not survive
/// that round trip is an error, never passed on unescaped.
pub fn controls_in<T>(value: &T) -> Result<Option<T>, serde_json::Error>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    fn walk(v: &mut serde_json::Value) -> bool {
        use serde_json::Value;
        match v {
            Value::String(s) => match controls(s) {
                Cow::Borrowed(_) => false,
                Cow::Owned(o) => {
                    *s = o;
                    true
                }
            },
            Value::Array(a) => a.iter_mut().fold(false, |ch, x| walk(x) | ch),
            Value::Object(m) => {
                let mut changed = false;
                let keys: Vec<String> = m.keys().cloned().collect();
                for k in keys {
                    let mut x = m.remove(&k).unwrap_or(Value::Null);
                    changed |= walk(&mut x);
                    let key = controls(&k);
                    changed |= matches!(key, Cow::Owned(_));
                    m.insert(key.into_owned(), x);
                }
                changed
            }
            _ => false,
        }
    }
    let mut v = serde_json::to_value(value)?;
    if !walk(&mut v) {
        return Ok(None);
    }
    serde_json::from_value(v).map(Some)
}

/// Escapes text for XML/HTML element content and quoted attribute values. Control characters
/// ([`is_control`]; XML 1.0 forbids most of them) become visible escapes such as `\x1b`, so the
/// document stays well-formed and shows what was there; tabs and line breaks are kept.
pub fn xml(s: &str) -> Cow<'_, str> {
    if !s
        .chars()
        .any(|c| matches!(c, '<' | '>' | '&' | '"' | '\'') || escaped_in_xml(c))
    {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if escaped_in_xml(c) => push_escaped(&mut out, c),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn escaped_in_xml(c: char) -> bool {
    is_control(c) && !matches!(c, '\t' | '\n' | '\r')
}

/// Escapes text for a Markdown table cell or running text: characters that would start markup
/// are backslash-escaped, `|` cannot end the cell, line breaks become spaces and other control
/// characters visible escapes.
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c if is_control(c) => {
                out.push('\\');
                push_escaped(&mut out, c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Running Markdown text that keeps the code spans written in it: `` `mu.Lock()` `` stays a
/// code span (its content shown literally), the text around it is escaped as [`markdown`]. An
/// unmatched backtick is escaped like any other character.
pub fn markdown_with_code(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut rest = s;
    while let Some(open) = rest.find('`') {
        let Some(len) = rest[open + 1..].find('`') else {
            break;
        };
        out.push_str(&markdown(&rest[..open]));
        let code = &rest[open + 1..open + 1 + len];
        out.push_str(&markdown_code_text(code));
        rest = &rest[open + 2 + len..];
    }
    out.push_str(&markdown(rest));
    out
}

/// A code span for a table cell: as [`markdown_code_text`], and `|` (which GitHub treats as a
/// cell border even inside code) is escaped.
pub fn markdown_code(s: &str) -> String {
    code_span(&s.replace('|', "\\|"))
}

/// A code span outside tables that holds `s` literally: the fence is one backtick longer than
/// the longest run of backticks inside.
pub fn markdown_code_text(s: &str) -> String {
    code_span(s)
}

fn code_span(s: &str) -> String {
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let body = controls(&s.replace(['\n', '\r'], " ")).into_owned();
    let pad = if body.starts_with('`') || body.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

/// A fenced code block that holds `s` literally, whatever backticks it contains.
pub fn markdown_block(s: &str, info: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest.max(2) + 1);
    // Keep the block's lines and indentation; show every other control character escaped.
    let s: String = s
        .split('\n')
        .map(|l| {
            l.split('\t')
                .map(|p| controls(p).into_owned())
                .collect::<Vec<_>>()
                .join("\t")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = format!("{fence}{info}\n{s}");
    if !s.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&fence);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_markup_and_controls() {
        assert_eq!(xml("plain"), "plain");
        assert_eq!(
            xml("<script>a&b\"c'\u{1}</script>"),
            "&lt;script&gt;a&amp;b&quot;c&#39;\\x01&lt;/script&gt;"
        );
        assert_eq!(xml("a\u{1b}]0;x\u{7}\tb"), "a\\x1b]0;x\\x07\tb");
    }

    #[test]
    fn controls_become_visible() {
        assert!(matches!(controls("main.f"), Cow::Borrowed("main.f")));
        assert_eq!(controls("a\u{1b}[31mb"), "a\\x1b[31mb");
        assert_eq!(
            controls("\u{9b}\u{202e}x\r\n\t"),
            "\\u{9b}\\u{202e}x\\x0d\\x0a\\x09"
        );
        // Windows paths keep their backslashes; only controls change.
        assert_eq!(controls("C:\\src\\main.go"), "C:\\src\\main.go");
        assert_eq!(markdown("a\u{1b}b"), "a\\\\x1bb");
        assert_eq!(markdown_code_text("a\u{7}"), "`a\\x07`");
        assert_eq!(
            markdown_block("f\u{1b}\n\tx.go:1", ""),
            "```\nf\\x1b\n\tx.go:1\n```\n"
        );
    }

    #[test]
    fn controls_in_walks_every_string() {
        use std::collections::BTreeMap;
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        m.insert("k\u{1b}".into(), vec!["v\u{7}".into(), "ok".into()]);
        let clean = controls_in(&m).unwrap().unwrap();
        assert_eq!(clean["k\\x1b"], vec!["v\\x07".to_string(), "ok".into()]);
        let mut ok: BTreeMap<String, Vec<String>> = BTreeMap::new();
        ok.insert("k".into(), vec!["v".into()]);
        assert!(controls_in(&ok).unwrap().is_none());
    }

    #[test]
    fn markdown_keeps_code_spans() {
        assert_eq!(
            markdown_with_code("call `defer wg.Done()` first, *always*"),
            "call `defer wg.Done()` first, \\*always\\*"
        );
        assert_eq!(markdown_with_code("a ` b"), "a \\` b");
        assert_eq!(markdown_with_code("`x|y`"), "`x|y`");
    }

    #[test]
    fn markdown_code_survives_backticks_and_pipes() {
        assert_eq!(markdown_code("a|b"), "`a\\|b`");
        assert_eq!(markdown_code_text("a|b"), "`a|b`");
        assert_eq!(markdown_code("x`y"), "``x`y``");
        assert_eq!(markdown_code("`y"), "`` `y ``");
        assert_eq!(markdown_block("a```b", ""), "````\na```b\n````\n");
        assert_eq!(markdown("*a* | [b]"), "\\*a\\* \\| \\[b\\]");
    }
}
