//! Escaping for the markup formats. Every piece of dump text (function names, files, labels,
//! wait reasons, warnings) is untrusted: a label value can hold `<script>`.

use std::borrow::Cow;

/// Escapes text for XML/HTML element content and quoted attribute values. Characters XML 1.0
/// forbids (most C0 controls) become U+FFFD so the document stays well-formed.
pub fn xml(s: &str) -> Cow<'_, str> {
    if !s
        .chars()
        .any(|c| matches!(c, '<' | '>' | '&' | '"' | '\'') || forbidden_in_xml(c))
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
            c if forbidden_in_xml(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn forbidden_in_xml(c: char) -> bool {
    (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}')
}

/// Escapes text for a Markdown table cell or running text: characters that would start markup
/// are backslash-escaped, `|` cannot end the cell, and line breaks become spaces.
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
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
    let body = s.replace(['\n', '\r'], " ");
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
            "&lt;script&gt;a&amp;b&quot;c&#39;\u{FFFD}&lt;/script&gt;"
        );
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
