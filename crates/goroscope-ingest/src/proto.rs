//! pprof protobuf (`debug=0`). (Being written: see issue 2.)

use crate::{IngestError, Options, Result};
use goroscope_model::Snapshot;

/// The largest profile read (compressed or raw).
pub const MAX_PROFILE_BYTES: u64 = 1 << 30;

/// Reads a gzipped or raw profile.proto.
pub fn read(name: &str, _bytes: &[u8], _opts: &Options) -> Result<Snapshot> {
    Err(IngestError::new(name, "protobuf reader not built yet"))
}
