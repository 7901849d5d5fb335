//! Format detection from the first bytes of an input.

use crate::FormatHint;

/// What the first bytes of an input look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detected {
    Format(FormatHint),
    /// No bytes at all (or only white space).
    Empty,
    /// Recognisably something else; the text says what, for the error message.
    NotADump(String),
}

/// Guesses the format of an input from its first bytes (up to [`crate::HEAD_BYTES`]).
pub fn detect(head: &[u8]) -> Detected {
    if head.iter().all(|b| b.is_ascii_whitespace()) {
        return Detected::Empty;
    }
    // An execution trace (`go 1.NN trace`, gzipped or not) before the gzip check: both can be
    // gzipped.
    if goroscope_exectrace::is_exec_trace(head) {
        return Detected::Format(FormatHint::ExecTrace);
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return Detected::Format(FormatHint::Proto);
    }
    // A raw profile.proto: Go starts it with field 11 (period_type), others with field 1
    // (sample_type, 0x0a); either way a run of well-formed protobuf fields.
    if (head[0] == 0x0a && looks_binary(head)) || crate::proto::looks_like_raw_profile(head) {
        return Detected::Format(FormatHint::Proto);
    }
    let trimmed = trim_start(head);
    if trimmed.starts_with(b"<!DOCTYPE")
        || trimmed.starts_with(b"<html")
        || trimmed.starts_with(b"<HTML")
    {
        return Detected::NotADump(
            "this is an HTML page, not a goroutine dump (for a /debug/pprof/ index, ask for /debug/pprof/goroutine?debug=2)".into(),
        );
    }
    if debug1_header(trimmed) {
        return Detected::Format(FormatHint::Debug1);
    }
    if (trimmed.starts_with(b"{") || trimmed.starts_with(b"[")) && !contains(head, b"goroutine ") {
        return Detected::NotADump("this looks like JSON, not a goroutine dump".into());
    }
    if looks_binary(head) && !contains(head, b"goroutine ") {
        return Detected::NotADump(
            "binary data that is neither a pprof profile nor a text dump".into(),
        );
    }
    // Everything else goes to the text reader, which finds dumps inside logs and says clearly
    // when there is none (race reports, Delve listings).
    Detected::Format(FormatHint::Text)
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// `<name> profile: total <N>` on the first line.
fn debug1_header(b: &[u8]) -> bool {
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

fn looks_binary(b: &[u8]) -> bool {
    let sample = &b[..b.len().min(4096)];
    let odd = sample
        .iter()
        .filter(|&&c| c < 0x09 || (c > 0x0d && c < 0x20) || c == 0x7f)
        .count();
    odd * 10 > sample.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_forms() {
        assert_eq!(detect(b""), Detected::Empty);
        assert_eq!(detect(b" \n"), Detected::Empty);
        assert_eq!(
            detect(&[0x1f, 0x8b, 8, 0]),
            Detected::Format(FormatHint::Proto)
        );
        assert_eq!(
            detect(b"goroutine profile: total 3\n1 @ 0x1\n"),
            Detected::Format(FormatHint::Debug1)
        );
        assert_eq!(
            detect(b"goroutineleak profile: total 3\n"),
            Detected::Format(FormatHint::Debug1)
        );
        assert_eq!(
            detect(b"goroutine 1 [running]:\nmain.main()\n"),
            Detected::Format(FormatHint::Text)
        );
        assert!(matches!(
            detect(b"<!DOCTYPE html><html>"),
            Detected::NotADump(_)
        ));
        assert!(matches!(detect(b"{\"a\": 1}"), Detected::NotADump(_)));
        assert_eq!(
            detect(b"go 1.23 trace\0\0\0"),
            Detected::Format(FormatHint::ExecTrace)
        );
        // The old format too, so that its reader can say which release reads it.
        assert_eq!(
            detect(b"go 1.21 trace\0\0\0"),
            Detected::Format(FormatHint::ExecTrace)
        );
        let mut gz = Vec::new();
        {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::fast());
            e.write_all(b"go 1.26 trace\0\0\0rest").unwrap();
        }
        assert_eq!(detect(&gz), Detected::Format(FormatHint::ExecTrace));
        assert!(matches!(
            detect(&[0u8, 1, 2, 3, 4, 5, 0, 0, 0, 0]),
            Detected::NotADump(_)
        ));
    }
}
