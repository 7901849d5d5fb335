//! Readers that turn every goroutine dump a Go user has into [`Snapshot`]s.
//!
//! [`read_input`] takes what the user typed (a path, `-`, or an `http(s)://` URL), detects the
//! format from the first bytes (or takes [`Options::format`]) and hands the stream to one reader:
//!
//! * [`text`]: `debug=2`, panics, `fatal error:`, SIGQUIT and test-timeout tracebacks, also
//!   inside log files; streaming, one snapshot per dump found.
//! * [`debug1`]: pprof legacy text (`goroutine profile: total N`).
//! * [`proto`]: pprof protobuf (`debug=0`), gzipped or raw, goroutine and goroutineleak.
//! * execution traces (`runtime/trace`, `go test -trace`, `/debug/pprof/trace`), gzipped or
//!   not: read by `goroscope-exectrace` into the snapshot of the goroutines alive at the end of
//!   the window, with the window's lifecycles ([`goroscope_model::Snapshot::lifecycle`]).
//! * [`http`]: fetching a `/debug/pprof/goroutine` (or `/debug/pprof/trace`) URL.

pub mod debug1;
pub mod detect;
pub mod http;
pub mod proto;
pub mod text;

use goroscope_model::{ProfileKind, Snapshot};
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::time::Duration;

pub use detect::{detect, Detected};

/// A format the user can force with `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatHint {
    /// Text tracebacks (`debug=2`, panics, SIGQUIT), also inside logs.
    Text,
    /// pprof `debug=1` text.
    Debug1,
    /// pprof protobuf, gzipped or raw.
    Proto,
    /// A Go execution trace (Go 1.22+), gzipped or raw.
    ExecTrace,
}

/// How to read inputs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Skip detection and use this reader.
    pub format: Option<FormatHint>,
    /// Worker threads for the text reader (0: one per core).
    pub threads: usize,
    /// For URLs: the whole request's time budget.
    pub http_timeout: Duration,
    /// For URLs without a `debug` parameter: which form to ask for (2 unless told otherwise).
    pub http_debug: u8,
    /// Force the profile kind (goroutine or goroutineleak) instead of taking it from the
    /// profile's header, sample type or name.
    pub kind: Option<ProfileKind>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            format: None,
            threads: 0,
            http_timeout: Duration::from_secs(30),
            http_debug: 2,
            kind: None,
        }
    }
}

/// Why an input could not be read. Always names the input, and where in it when that is known.
#[derive(Debug, thiserror::Error)]
#[error("{input}{}: {message}", location(*.line, *.offset))]
pub struct IngestError {
    pub input: String,
    pub line: Option<u64>,
    pub offset: Option<u64>,
    pub message: String,
    #[source]
    pub source: Option<io::Error>,
}

fn location(line: Option<u64>, offset: Option<u64>) -> String {
    match (line, offset) {
        (Some(l), _) => format!(":{l}"),
        (None, Some(o)) => format!(" (byte {o})"),
        _ => String::new(),
    }
}

impl IngestError {
    pub fn new(input: impl Into<String>, message: impl Into<String>) -> Self {
        IngestError {
            input: input.into(),
            line: None,
            offset: None,
            message: message.into(),
            source: None,
        }
    }
    pub fn at_line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }
    pub fn at_offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }
    pub fn io(input: impl Into<String>, err: io::Error) -> Self {
        let message = err.to_string();
        IngestError {
            input: input.into(),
            line: None,
            offset: None,
            message,
            source: Some(err),
        }
    }
}

pub type Result<T, E = IngestError> = std::result::Result<T, E>;

/// Reads what the user named: a path, `-` for stdin, or an `http(s)://` URL.
/// Returns one snapshot per dump found in the input (a log may hold several).
pub fn read_input(input: &str, opts: &Options) -> Result<Vec<Snapshot>> {
    if input.starts_with("http://") || input.starts_with("https://") {
        let fetched = http::fetch(input, opts)?;
        let mut o = opts.clone();
        if o.format.is_none() {
            o.format = fetched.format;
        }
        // The snapshot and every error name the URL without its secrets.
        let name = goroscope_model::redact_url(input);
        return read_reader(&name, io::Cursor::new(fetched.body), &o);
    }
    if input == "-" {
        let stdin = io::stdin();
        return read_reader("-", stdin.lock(), opts);
    }
    let path = Path::new(input);
    let file = std::fs::File::open(path).map_err(|e| IngestError::io(input, e))?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(IngestError::new(
            input,
            "is a directory, not a goroutine dump",
        ));
    }
    read_reader(input, file, opts)
}

/// Reads a stream named `name` (used in errors and in [`goroscope_model::Source::input`]).
pub fn read_reader<R: Read>(name: &str, mut reader: R, opts: &Options) -> Result<Vec<Snapshot>> {
    // Read a head for detection (looping over short reads from pipes), then hand the readers
    // the head chained with the rest: nothing is read twice and nothing is held whole.
    let mut head = Vec::with_capacity(HEAD_BYTES);
    (&mut reader)
        .take(HEAD_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(|e| IngestError::io(name, e))?;
    let format = match opts.format {
        Some(f) => f,
        None => match detect(&head) {
            Detected::Format(f) => f,
            Detected::Empty => {
                return Err(IngestError::new(name, "empty input: no goroutine dump"))
            }
            Detected::NotADump(why) => return Err(IngestError::new(name, why).at_offset(0)),
        },
    };
    let stream = io::Cursor::new(head).chain(reader);
    match format {
        FormatHint::ExecTrace => {
            let opts = goroscope_exectrace::Options {
                input: name.to_string(),
                ..Default::default()
            };
            let a = goroscope_exectrace::read(BufReader::with_capacity(1 << 16, stream), &opts)
                .map_err(|e| trace_error(name, e))?;
            if a.window.generations == 0 {
                // Nothing complete: an empty report would read as "no leaks".
                let why = a.snapshot.warnings.first();
                let mut e = IngestError::new(
                    name,
                    format!(
                        "execution trace: no complete generation to read{}",
                        why.map(|w| format!(" ({})", w.message)).unwrap_or_default()
                    ),
                );
                if let Some(o) = why.and_then(|w| w.offset) {
                    e = e.at_offset(o);
                }
                return Err(e);
            }
            Ok(vec![a.snapshot])
        }
        FormatHint::Text => text::read(name, stream, opts),
        FormatHint::Debug1 => debug1::read(name, BufReader::with_capacity(1 << 16, stream), opts),
        FormatHint::Proto => {
            let mut bytes = Vec::new();
            stream
                .take(proto::MAX_PROFILE_BYTES + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| IngestError::io(name, e))?;
            if bytes.len() as u64 > proto::MAX_PROFILE_BYTES {
                return Err(IngestError::new(
                    name,
                    format!(
                        "pprof profile larger than {} bytes",
                        proto::MAX_PROFILE_BYTES
                    ),
                ));
            }
            proto::read(name, &bytes, opts).map(|s| vec![s])
        }
    }
}

/// An execution trace's error, naming the input and the byte where it went wrong.
fn trace_error(name: &str, e: goroscope_exectrace::Error) -> IngestError {
    use goroscope_exectrace::Error as E;
    match e {
        E::Malformed {
            offset,
            generation,
            message,
        } => {
            let message = match generation {
                Some(g) => format!("execution trace, generation {g}: {message}"),
                None => format!("execution trace: {message}"),
            };
            IngestError::new(name, message).at_offset(offset)
        }
        E::Io(io) => IngestError::io(name, io),
        other => IngestError::new(name, other.to_string()),
    }
}

/// How many bytes format detection looks at.
pub const HEAD_BYTES: usize = 64 * 1024;
