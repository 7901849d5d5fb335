//! Helpers shared by the `pprof_*` integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `shared/<rel>` found beside the repository (or one of its ancestors), as laid out for
/// developers and CI; `GOROSCOPE_SHARED` overrides.
pub fn shared_dir(rel: &str) -> Option<PathBuf> {
    if let Some(root) = std::env::var_os("GOROSCOPE_SHARED") {
        let p = Path::new(&root).join(rel);
        return p.is_dir().then_some(p);
    }
    let mut dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    loop {
        let p = dir.join("shared").join(rel);
        if p.is_dir() {
            return Some(p);
        }
        dir = dir.parent()?;
    }
}

/// The real Go 1.27 samples.
pub fn samples_dir() -> Option<PathBuf> {
    shared_dir("research/go127-samples")
}

/// The real third-party dumps.
pub fn real_dumps_dir() -> Option<PathBuf> {
    shared_dir("testdata/real-dumps")
}
