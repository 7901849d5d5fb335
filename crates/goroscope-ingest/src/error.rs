//! Why an input could not be read.
//!
//! Every error names the input (as the user typed it) and, where known, the line or byte
//! offset; [`IngestError::kind`] says what kind of failure it is, for callers that react to
//! one (retry a connection, suggest `http://`, map to an exit code). The message never repeats
//! the text of the underlying error: that error is chained as [`std::error::Error::source`],
//! so `{:#}` (anyhow) prints each cause once.

use std::fmt;
use std::io;

/// What kind of failure an [`IngestError`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Reading the input failed (opening a file, reading a pipe, a connection dropped
    /// mid-body); the OS or transport error is the source.
    Io,
    /// Nothing in it: no bytes, or only white space.
    Empty,
    /// Recognisably something else: HTML, JSON, another profile, a race report, or text with
    /// no goroutine dump in it.
    NotADump,
    /// A goroutine dump whose bytes break its format's grammar (a bad `debug=1` line, a corrupt
    /// protobuf or gzip stream). `line` is where, for line-based formats.
    Syntax { line: Option<u64> },
    /// The input is larger than a limit this reader keeps (protobuf and its decompressed size,
    /// one `debug=1` line, nested compression).
    TooLarge { limit: u64 },
    /// The URL is not one that can be fetched (not http/https, no host, a bad parameter).
    BadUrl,
    /// The server could not be reached: refused, unknown host, TLS handshake failure, or
    /// a protocol mix-up (`https://` to a plain-HTTP port).
    Connect,
    /// The request did not complete within its time budget.
    Timeout,
    /// The server answered with this HTTP status instead of a dump.
    Http { status: u16 },
}

/// Why an input could not be read (see the module docs).
#[derive(Debug)]
pub struct IngestError {
    input: String,
    line: Option<u64>,
    offset: Option<u64>,
    kind: ErrorKind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl IngestError {
    /// An error of `kind` about `input`, saying `message`.
    pub fn new(kind: ErrorKind, input: impl Into<String>, message: impl Into<String>) -> Self {
        IngestError {
            input: input.into(),
            line: None,
            offset: None,
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// A grammar error (see [`ErrorKind::Syntax`]); [`IngestError::at_line`] fills its line.
    pub fn syntax(input: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Syntax { line: None }, input, message)
    }

    /// Not a goroutine dump (see [`ErrorKind::NotADump`]).
    pub fn not_a_dump(input: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotADump, input, message)
    }

    /// Reading failed while doing `what` (`"cannot open"`, `"reading"`); the I/O error is
    /// chained, not repeated in the message. Errors a decoder reports through `io::Error`
    /// (`InvalidData`: a corrupt gzip stream) are [`ErrorKind::Syntax`].
    pub fn io(input: impl Into<String>, what: impl Into<String>, err: io::Error) -> Self {
        let kind = match err.kind() {
            io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput => {
                ErrorKind::Syntax { line: None }
            }
            io::ErrorKind::TimedOut => ErrorKind::Timeout,
            _ => ErrorKind::Io,
        };
        Self::new(kind, input, what).with_source(err)
    }

    /// Chains `source` as the cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub fn at_line(mut self, line: u64) -> Self {
        self.line = Some(line);
        if let ErrorKind::Syntax { line: l } = &mut self.kind {
            *l = Some(line);
        }
        self
    }

    pub fn at_offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }

    /// The input as the user named it.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// 1-based line of the input where it went wrong, when known.
    pub fn line(&self) -> Option<u64> {
        self.line
    }

    /// Byte offset in the input where it went wrong, when known.
    pub fn offset(&self) -> Option<u64> {
        self.offset
    }

    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// What went wrong, without the input's name, the location or the chained cause.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The message replaced, keeping everything else.
    pub(crate) fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }
}

impl fmt::Display for IngestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.input)?;
        match (self.line, self.offset) {
            (Some(l), _) => write!(f, ":{l}")?,
            (None, Some(o)) => write!(f, " (byte {o})")?,
            _ => {}
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for IngestError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

pub type Result<T, E = IngestError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn an_os_error_is_chained_not_repeated() {
        let os = io::Error::from(io::ErrorKind::NotFound);
        let os_text = os.to_string();
        let e = IngestError::io("dump.txt", "cannot open", os);
        assert_eq!(e.kind(), &ErrorKind::Io);
        assert_eq!(e.to_string(), "dump.txt: cannot open");
        assert_eq!(e.source().map(|s| s.to_string()), Some(os_text.clone()));
        // What anyhow's `{:#}` prints: every cause once.
        let mut chain = vec![e.to_string()];
        let mut cur = e.source();
        while let Some(s) = cur {
            chain.push(s.to_string());
            cur = s.source();
        }
        let all = chain.join(": ");
        assert_eq!(all.matches(&os_text).count(), 1, "{all}");
    }

    #[test]
    fn kinds_and_locations() {
        let e = IngestError::syntax("p.txt", "bad frame line").at_line(7);
        assert_eq!(e.kind(), &ErrorKind::Syntax { line: Some(7) });
        assert_eq!(e.to_string(), "p.txt:7: bad frame line");
        let e = IngestError::not_a_dump("x", "JSON").at_offset(0);
        assert_eq!(e.to_string(), "x (byte 0): JSON");
        let bad = io::Error::new(io::ErrorKind::InvalidData, "corrupt deflate stream");
        assert!(matches!(
            IngestError::io("x.gz", "decompressing", bad).kind(),
            ErrorKind::Syntax { .. }
        ));
    }
}
