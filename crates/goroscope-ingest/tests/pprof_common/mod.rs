//! Helpers shared by the `pprof_*` integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// `shared/<rel>`, found by goroscope-fixtures (`GOROSCOPE_SHARED` overrides). Always `Some`:
/// it panics, naming where it looked, when the data is missing (a test that needs it must not
/// pass on nothing).
pub fn shared_dir(rel: &str) -> Option<PathBuf> {
    Some(goroscope_fixtures::shared_testdata(rel))
}

/// The real Go 1.27 samples.
pub fn samples_dir() -> Option<PathBuf> {
    shared_dir("research/go127-samples")
}

/// The real third-party dumps.
pub fn real_dumps_dir() -> Option<PathBuf> {
    shared_dir("testdata/real-dumps")
}
