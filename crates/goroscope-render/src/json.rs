//! JSON: the report types serialized as they are (see `docs/json-schema.md`).
//!
//! `analyze` prints one document when there is one report (one snapshot) and a JSON array of
//! documents, in input order, when there are several (several inputs, or one input holding
//! several dumps) or none (`[]`). `diff` and `trend` print one document. Every document ends
//! with a newline.

use crate::RenderOptions;
use goroscope_analyze::Report;
use serde::Serialize;
use std::io::{self, Write};

pub fn reports(w: &mut dyn Write, reports: &[Report], opts: &RenderOptions) -> io::Result<()> {
    match reports {
        [one] => self::one(w, one, opts),
        many => self::one(w, &many, opts),
    }
}

pub fn one<T: Serialize + ?Sized>(
    w: &mut dyn Write,
    value: &T,
    opts: &RenderOptions,
) -> io::Result<()> {
    let mut buf = io::BufWriter::new(&mut *w);
    if opts.json_pretty {
        serde_json::to_writer_pretty(&mut buf, value)
    } else {
        serde_json::to_writer(&mut buf, value)
    }
    .map_err(into_io)?;
    buf.write_all(b"\n")?;
    buf.flush()
}

/// serde_json wraps the writer's error; give the caller the io error back (a closed pipe must
/// stay recognisable as `BrokenPipe`).
fn into_io(e: serde_json::Error) -> io::Error {
    match e.io_error_kind() {
        Some(kind) => io::Error::new(kind, e),
        None => io::Error::new(io::ErrorKind::InvalidData, e),
    }
}
