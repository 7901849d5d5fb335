//! pprof legacy text (`debug=1`). (Being written: see issue 2.)

use crate::{IngestError, Options, Result};
use goroscope_model::Snapshot;
use std::io::BufRead;

/// Reads a `debug=1` profile.
pub fn read<R: BufRead>(name: &str, _reader: R, _opts: &Options) -> Result<Vec<Snapshot>> {
    Err(IngestError::new(name, "debug=1 reader not built yet"))
}
