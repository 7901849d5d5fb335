//! Log prefixes and report markers: how the lines of a dump inside a log are prefixed
//! (timestamps, klog headers, syslog), and the marker lines (`panic: …`, `SIGQUIT: quit`) that
//! wait outside any goroutine for a header to confirm they start a report.

use super::super::line::{self, MarkerKind};

/// A marker line seen outside any goroutine, waiting for a header to confirm it.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub kind: MarkerKind,
    pub text: String,
    /// Where the marker starts in the raw line.
    pub pos: usize,
    /// The bytes before it (capped), to compare with the header's log prefix.
    pub before: Vec<u8>,
    /// Line, relative to the parser's first line.
    pub line: u64,
    /// It follows a `-----` thread separator: a `GOTRACEBACK=crash` per-thread section of
    /// the report before it, not a new report.
    pub continues: bool,
    /// `running tests:` listed under it (a `go test` timeout).
    pub tests: Vec<String>,
}

/// Tests kept from one `running tests:` list.
pub(crate) const MAX_TESTS: usize = 64;

impl Candidate {
    /// Whether it can start the report of a header printed without a prefix.
    pub fn fits_unprefixed_header(&self) -> bool {
        self.kind != MarkerKind::Debug1 && Prefix::default().accepts(self)
    }
}

/// How lines of the current dump are prefixed (log timestamps, klog headers…).
#[derive(Debug, Clone, Default)]
pub(crate) struct Prefix {
    /// Length of the header's prefix.
    pub len: usize,
    /// Its last one or two bytes (`"] "`, `": "`, `"Z "`), to find a varying-length prefix.
    pub delim: Vec<u8>,
}

impl Prefix {
    pub fn from_header_prefix(p: &[u8]) -> Prefix {
        let t = line::trim_end(p);
        let delim = if t.is_empty() {
            Vec::new()
        } else if t.len() < p.len() {
            vec![t[t.len() - 1], b' ']
        } else {
            vec![t[t.len() - 1]]
        };
        Prefix {
            len: p.len(),
            delim,
        }
    }

    /// The content of a line after the prefix.
    #[inline]
    pub fn strip<'a>(&self, raw: &'a [u8]) -> &'a [u8] {
        let dl = self.delim.len();
        if raw.len() >= self.len && (dl == 0 || raw[..self.len].ends_with(&self.delim)) {
            return &raw[self.len..];
        }
        if dl > 0 {
            if let Some(p) = memchr::memmem::find(raw, &self.delim) {
                return &raw[p + dl..];
            }
            // A prefix-only line whose trailing space was trimmed.
            if dl == 2 && raw.ends_with(&self.delim[..1]) && raw.len() <= self.len {
                return b"";
            }
        }
        raw
    }

    /// Whether a marker line belongs to a dump whose header has this prefix: at the line's
    /// start or behind the same prefix, or behind something that is not log text: a terminal's
    /// echo (`^\`) or a shell prompt (`user@host:~/x$ `, where a background program's crash
    /// lands).
    pub fn accepts(&self, c: &Candidate) -> bool {
        c.pos == 0
            || c.pos == self.len
            || (!self.delim.is_empty() && c.before.ends_with(&self.delim))
            || !c.before.iter().any(u8::is_ascii_alphanumeric)
            || ends_in_prompt(&c.before)
    }
}

/// `…$ `, `…# `, `…% `, `…> `, `…❯ `: what shells end their prompts with.
fn ends_in_prompt(before: &[u8]) -> bool {
    let Some(b) = before.strip_suffix(b" ") else {
        return false;
    };
    let b = line::trim_end(b);
    matches!(b.last(), Some(b'$' | b'#' | b'%' | b'>')) || b.ends_with("❯".as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(before: &str) -> Candidate {
        Candidate {
            kind: MarkerKind::Signal,
            text: "SIGABRT: abort".into(),
            pos: before.len(),
            before: before.as_bytes().to_vec(),
            line: 1,
            continues: false,
            tests: Vec::new(),
        }
    }

    #[test]
    fn markers_behind_prompts_and_echoes_are_accepted_log_text_is_not() {
        let p = Prefix::default();
        for ok in [
            "",
            "^\\",
            "user@host:~/svc$ ",
            "root@box:/# ",
            "% ",
            "❯ ",
            ">>> ",
        ] {
            assert!(p.accepts(&cand(ok)), "{ok:?}");
        }
        for no in [
            "2026-01-01 level=info msg=",
            "user@host:~/svc$",
            "I1126 x.go:1] ",
        ] {
            assert!(!p.accepts(&cand(no)), "{no:?}");
        }
    }
}
