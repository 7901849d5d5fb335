//! Fetching `/debug/pprof/goroutine` URLs. (Being written: see issue 2.)

use crate::{FormatHint, IngestError, Options, Result};

/// A fetched answer.
#[derive(Debug)]
pub struct Fetched {
    pub body: Vec<u8>,
    /// The format the URL asked for, when known.
    pub format: Option<FormatHint>,
}

/// Fetches a URL.
pub fn fetch(url: &str, _opts: &Options) -> Result<Fetched> {
    Err(IngestError::new(url, "URL fetching not built yet"))
}
