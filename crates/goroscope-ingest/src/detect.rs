//! Format detection from the first bytes of an input: the readers' own tests (each entry of
//! [`crate::readers::READERS`] says whether a head is its format) and the refusals of inputs
//! that are recognisably something else.

use crate::readers::{Head, READERS};
use crate::{FormatHint, HEAD_BYTES};

/// What the first bytes of an input look like.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Detected {
    Format(FormatHint),
    /// gzip-compressed: the format is inside.
    Compressed,
    /// No bytes at all (or only white space).
    Empty,
    /// Recognisably something else; the text says what, for the error message.
    NotADump(String),
}

/// Guesses the format of an input from its first bytes (up to [`crate::HEAD_BYTES`]; fewer
/// means the whole input).
pub fn detect(head: &[u8]) -> Detected {
    detect_head(&Head {
        bytes: head,
        eof: head.len() < HEAD_BYTES,
    })
}

/// [`detect`] on a head that says whether it is the whole input.
pub(crate) fn detect_head(h: &Head<'_>) -> Detected {
    let head = h.bytes;
    if head.iter().all(|b| b.is_ascii_whitespace()) {
        // Blank lines may go on past the head with a dump behind them: the text reader streams
        // over them.
        return if h.eof {
            Detected::Empty
        } else {
            Detected::Format(FormatHint::Text)
        };
    }
    for r in READERS {
        if r.name == "text" {
            break;
        }
        if (r.detect)(h) {
            return match r.hint {
                Some(f) => Detected::Format(f),
                None => Detected::Compressed,
            };
        }
    }
    if let Some(why) = refusal(h) {
        return Detected::NotADump(why);
    }
    // Everything else goes to the text reader, which finds dumps inside logs and says clearly
    // when there is none (race reports, Delve listings).
    Detected::Format(FormatHint::Text)
}

/// Inputs that are recognisably not a dump, whatever follows.
fn refusal(h: &Head<'_>) -> Option<String> {
    let head = h.bytes;
    let trimmed = trim_start(head);
    if is_html(trimmed) {
        return Some(HTML.into());
    }
    // JSON with no dump in it: refused only when the head is the whole input; a long JSON
    // log can have a dump after its first 64 KiB, which the text reader finds.
    if h.eof && looks_json(trimmed) && !contains(head, b"goroutine ") {
        return Some(JSON.into());
    }
    if looks_binary(head) && !contains(head, b"goroutine ") {
        return Some("binary data that is neither a pprof profile nor a text dump".into());
    }
    None
}

/// What to say when the text reader found no dump behind a head that detection let through.
pub(crate) fn what_it_looks_like(h: &Head<'_>) -> Option<String> {
    let trimmed = trim_start(h.bytes);
    if trimmed.is_empty() {
        return Some(format!(
            "no goroutine dump found: the input starts with {} or more bytes of blank lines and has no `goroutine N [state]:` header",
            h.bytes.len()
        ));
    }
    if looks_json(trimmed) {
        return Some(format!("{JSON}: no `goroutine N [state]:` header in it"));
    }
    None
}

pub(crate) const HTML: &str = "this is an HTML page, not a goroutine dump (for a /debug/pprof/ index, ask for /debug/pprof/goroutine?debug=2)";
const JSON: &str = "this looks like JSON, not a goroutine dump";

fn is_html(trimmed: &[u8]) -> bool {
    trimmed.starts_with(b"<!DOCTYPE")
        || trimmed.starts_with(b"<!doctype")
        || trimmed.starts_with(b"<html")
        || trimmed.starts_with(b"<HTML")
}

fn looks_json(trimmed: &[u8]) -> bool {
    trimmed.starts_with(b"{") || trimmed.starts_with(b"[")
}

pub(crate) fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// `<name> profile: total <N>` on the first line.
pub(crate) fn debug1_header(b: &[u8]) -> bool {
    let line = match memchr::memchr(b'\n', b) {
        Some(i) => &b[..i],
        None => b,
    };
    let Some(p) = memchr::memmem::find(line, b" profile: total ") else {
        return false;
    };
    let name = &line[..p];
    !name.is_empty() && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// More than a tenth of the first 4 KiB are control bytes.
pub(crate) fn looks_binary(b: &[u8]) -> bool {
    let sample = &b[..b.len().min(4096)];
    let odd = sample.iter().filter(|&&c| is_control(c)).count();
    odd * 10 > sample.len()
}

/// A control byte that text does not hold (tab, newline, carriage return and form feed do).
pub(crate) fn is_control(c: u8) -> bool {
    c < 0x09 || (c > 0x0d && c < 0x20) || c == 0x7f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(b: &[u8]) -> Detected {
        detect(b)
    }

    #[test]
    fn detects_the_forms() {
        assert_eq!(whole(b""), Detected::Empty);
        assert_eq!(whole(b" \n"), Detected::Empty);
        assert_eq!(whole(&[0x1f, 0x8b, 8, 0]), Detected::Compressed);
        assert_eq!(
            whole(b"goroutine profile: total 3\n1 @ 0x1\n"),
            Detected::Format(FormatHint::Debug1)
        );
        assert_eq!(
            whole(b"goroutineleak profile: total 3\n"),
            Detected::Format(FormatHint::Debug1)
        );
        assert_eq!(
            whole(b"goroutine 1 [running]:\nmain.main()\n"),
            Detected::Format(FormatHint::Text)
        );
        assert_eq!(
            whole(b"{\"Time\":\"2026-01-01T00:00:00Z\",\"Action\":\"start\",\"Package\":\"p\"}\n"),
            Detected::Format(FormatHint::Test2Json)
        );
        assert!(matches!(
            whole(b"<!DOCTYPE html><html>"),
            Detected::NotADump(_)
        ));
        assert!(matches!(whole(b"{\"a\": 1}"), Detected::NotADump(_)));
        assert_eq!(
            whole(b"go 1.23 trace\0\0\0"),
            Detected::Format(FormatHint::ExecTrace)
        );
        // The old format too, so that its reader can say which release reads it.
        assert_eq!(
            whole(b"go 1.21 trace\0\0\0"),
            Detected::Format(FormatHint::ExecTrace)
        );
        // Gzipped, it is the gzip entry's: the trace is detected inside.
        let mut gz = Vec::new();
        {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::fast());
            e.write_all(b"go 1.26 trace\0\0\0rest").unwrap();
        }
        assert_eq!(whole(&gz), Detected::Compressed);
        assert!(matches!(
            whole(&[0u8, 1, 2, 3, 4, 5, 0, 0, 0, 0]),
            Detected::NotADump(_)
        ));
    }

    #[test]
    fn heads_it_cannot_judge_go_to_the_text_reader() {
        // A head of blank lines, or of one long JSON line, that is not the whole input.
        let blank = vec![b'\n'; HEAD_BYTES];
        assert_eq!(detect(&blank), Detected::Format(FormatHint::Text));
        let mut json = b"{\"msg\":\"".to_vec();
        json.resize(HEAD_BYTES, b'x');
        assert_eq!(detect(&json), Detected::Format(FormatHint::Text));
        // A long line of printable text is never taken for a raw protobuf, even when its
        // bytes happen to parse as protobuf fields ('Z' is field 11, length-delimited).
        let z = vec![b'Z'; HEAD_BYTES];
        assert_eq!(detect(&z), Detected::Format(FormatHint::Text));
    }
}
