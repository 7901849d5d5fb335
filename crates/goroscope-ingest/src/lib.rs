//! Readers that turn every goroutine dump a Go user has into [`Snapshot`]s.
//!
//! [`read_input`] takes what the user typed (a path, `-`, or an `http(s)://` URL), detects the
//! format from the first bytes (or takes [`Options::format`]) and streams the input through one
//! entry of the reader table ([`readers`]):
//!
//! * [`text`]: `debug=2`, panics, `fatal error:`, SIGQUIT (also `GOTRACEBACK=crash` with its
//!   per-thread sections) and test-timeout tracebacks, also inside log files; streaming, one
//!   snapshot per dump found.
//! * [`debug1`]: pprof legacy text (`goroutine profile: total N`).
//! * [`proto`]: pprof protobuf (`debug=0`), gzipped or raw, goroutine and goroutineleak.
//! * [`test2json`]: `go test -json` streams; the dumps inside their `Output` events.
//! * [`exectrace`]: execution traces (`runtime/trace`, `go test -trace`, `/debug/pprof/trace`):
//!   read by `goroscope-exectrace` into the snapshot of the goroutines alive at the end of the
//!   window, with the window's lifecycles ([`goroscope_model::Snapshot::lifecycle`]).
//! * [`gzip`]: any of the above, gzip-compressed (decompressed as it streams).
//!
//! URLs are completed and fetched by [`http`] ([`url`] holds the one URL-completion function
//! every command uses) and streamed like files.

pub mod debug1;
pub mod detect;
mod error;
pub mod exectrace;
pub mod gzip;
pub mod http;
pub mod proto;
pub mod readers;
pub mod test2json;
pub mod text;
pub mod url;

use goroscope_model::{Context, ProfileKind, Snapshot};
use std::io::{self, Read};
use std::path::Path;
use std::time::Duration;

pub use detect::{detect, Detected};
pub use error::{ErrorKind, IngestError, Result};

/// A format the user can force with `--format` (gzip is not one: a gzipped input is always
/// decompressed first, and the forced format applies to what is inside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatHint {
    /// Text tracebacks (`debug=2`, panics, SIGQUIT), also inside logs.
    Text,
    /// pprof `debug=1` text.
    Debug1,
    /// pprof protobuf, gzipped or raw.
    Proto,
    /// `go test -json` (test2json) events.
    Test2Json,
    /// A Go execution trace (Go 1.22+), gzipped or raw.
    ExecTrace,
}

impl FormatHint {
    /// The name the reader table and `--format` use.
    pub fn as_str(self) -> &'static str {
        match self {
            FormatHint::Text => "text",
            FormatHint::Debug1 => "debug1",
            FormatHint::Proto => "proto",
            FormatHint::Test2Json => "test2json",
            FormatHint::ExecTrace => "exectrace",
        }
    }
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
    /// The most snapshots kept from one input. A log holding more dumps keeps the first ones;
    /// the rest are skipped (not held in memory) and the last snapshot kept says how many
    /// dumps and goroutines were skipped from which line on.
    pub max_snapshots: usize,
}

/// Default [`Options::max_snapshots`]: far more dumps than one log of a service usually holds,
/// few enough that their per-snapshot tables stay small next to the goroutines.
pub const MAX_SNAPSHOTS: usize = 1000;

impl Default for Options {
    fn default() -> Self {
        Options {
            format: None,
            threads: 0,
            http_timeout: Duration::from_secs(30),
            http_debug: 2,
            kind: None,
            max_snapshots: MAX_SNAPSHOTS,
        }
    }
}

/// Whether what the user typed is a URL rather than a path.
pub fn is_url(input: &str) -> bool {
    let lower = |p: &str| {
        input
            .get(..p.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(p))
    };
    lower("http://") || lower("https://")
}

/// Reads what the user named: a path, `-` for stdin, or an `http(s)://` URL.
/// Returns one snapshot per dump found in the input (a log may hold several).
pub fn read_input(input: &str, opts: &Options) -> Result<Vec<Snapshot>> {
    if is_url(input) {
        let fetched = http::fetch(input, opts)?;
        let mut o = opts.clone();
        if o.format.is_none() {
            o.format = fetched.format;
        }
        // The snapshot and every error name the URL without its secrets.
        let name = goroscope_model::redact_url(input);
        let mut snaps = read_reader(&name, fetched.body, &o)?;
        // A dump fetched from a running service.
        for s in &mut snaps {
            s.context.get_or_insert(Context::Live);
        }
        return Ok(snaps);
    }
    if input == "-" {
        let stdin = io::stdin();
        return read_reader("-", stdin.lock(), opts);
    }
    let path = Path::new(input);
    let file = std::fs::File::open(path).map_err(|e| IngestError::io(input, "cannot open", e))?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(IngestError::not_a_dump(
            input,
            "is a directory, not a goroutine dump",
        ));
    }
    read_reader(input, file, opts)
}

/// Reads a stream named `name` (used in errors and in [`goroscope_model::Source::input`]).
pub fn read_reader<R: Read>(name: &str, mut reader: R, opts: &Options) -> Result<Vec<Snapshot>> {
    readers::read_stream(&readers::Input::new(name, opts), &mut reader)
}

/// How many bytes format detection looks at.
pub const HEAD_BYTES: usize = 64 * 1024;
