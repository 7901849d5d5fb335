//! Test data that lives outside the repository: `shared/` beside the main checkout (real dumps
//! by others, research samples). Tests that need it fail loudly when it is missing, naming
//! where they looked and how to point them elsewhere (`GOROSCOPE_SHARED`).

use crate::toolchain::repo_root;
use std::path::PathBuf;

/// The `shared/` directory: `GOROSCOPE_SHARED` if set, else the first `shared/` beside the
/// repository or beside one of its ancestors (CI lays it beside the clone; a git worktree
/// under the main checkout's parent finds the main one's).
pub fn shared_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("GOROSCOPE_SHARED") {
        return Some(PathBuf::from(d)).filter(|p| p.is_dir());
    }
    let root = repo_root();
    root.ancestors()
        .skip(1)
        .map(|d| d.join("shared"))
        .find(|p| p.is_dir())
}

/// `shared/<rel>` (e.g. `testdata/real-dumps`).
///
/// # Panics
/// When it is not there: a test that needs it must not pass on nothing.
pub fn shared_testdata(rel: &str) -> PathBuf {
    let found = shared_dir().map(|d| d.join(rel)).filter(|p| p.exists());
    found.unwrap_or_else(|| {
        panic!(
            "shared/{rel} not found beside the repository ({}) or any of its ancestors; \
             set GOROSCOPE_SHARED=DIR to point at a copy",
            repo_root().display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_shared_path_fails_loudly() {
        let r = std::panic::catch_unwind(|| shared_testdata("no/such/thing"));
        let msg = r.unwrap_err();
        let msg = msg
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or("");
        assert!(msg.contains("GOROSCOPE_SHARED"), "{msg}");
    }
}
