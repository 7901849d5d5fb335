//! Go execution traces (`runtime/trace`, `go test -trace`, `/debug/pprof/trace`), read by
//! `goroscope-exectrace` into the snapshot of the goroutines alive at the end of the window,
//! with the window's lifecycles. A gzipped trace is decompressed by the [`crate::gzip`] entry
//! first, like every other format.

use crate::readers::{Head, Input, Reader};
use crate::{ErrorKind, FormatHint, IngestError, Result};
use goroscope_model::Snapshot;
use std::io::{BufReader, Read};

pub(crate) static READER: Reader = Reader {
    name: "exectrace",
    hint: Some(FormatHint::ExecTrace),
    detect: |h: &Head<'_>| goroscope_exectrace::is_exec_trace(h.bytes),
    read,
};

fn read(input: &Input<'_>, stream: &mut dyn Read) -> Result<Vec<Snapshot>> {
    let name = input.name;
    let opts = goroscope_exectrace::Options {
        input: name.to_string(),
        ..Default::default()
    };
    let a = goroscope_exectrace::read(BufReader::with_capacity(1 << 16, stream), &opts)
        .map_err(|e| trace_error(name, e))?;
    if a.window.generations == 0 {
        // Nothing complete: an empty report would read as "no leaks".
        let why = a.snapshot.warnings.first();
        let mut e = IngestError::syntax(
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
            IngestError::syntax(name, message).at_offset(offset)
        }
        E::Io(io) => IngestError::io(name, "reading the execution trace", io),
        other @ (E::NotATrace | E::OldFormat(_) | E::UnsupportedVersion(_)) => {
            IngestError::new(ErrorKind::NotADump, name, other.to_string())
        }
    }
}
