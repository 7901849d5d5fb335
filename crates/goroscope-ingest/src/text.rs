//! Text tracebacks: `debug=2`, panics, `fatal error:`, SIGQUIT and test-timeout dumps, also
//! inside log files. (Being written: see issue 2.)

use crate::{IngestError, Options, Result};
use goroscope_model::Snapshot;
use std::io::Read;

/// Reads every dump in a text stream.
pub fn read<R: Read>(name: &str, _reader: R, _opts: &Options) -> Result<Vec<Snapshot>> {
    Err(IngestError::new(name, "text reader not built yet"))
}
