//! Building fixture programs, once per test process, into `<repo>/fixtures/build`.

use crate::toolchain::{go_command, repo_root, Toolchain};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// The fixture programs that speak the ADDR/EXPECT/READY protocol: every directory of
/// `fixtures/go` whose `main.go` uses the `internal/fx` package, sorted. (Other programs there,
/// such as the attach tests' `attach_basic`, have protocols of their own.)
pub fn fixture_names() -> Vec<String> {
    let dir = repo_root().join("fixtures").join("go");
    let mut out: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path().join("main.go"))
                .is_ok_and(|src| src.contains("\"goroscope.test/fixtures/internal/fx\""))
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

/// How to build a fixture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct BuildOptions {
    /// `go build -trimpath` (file paths printed module-relative).
    pub trimpath: bool,
    /// `-ldflags=-s -w`: no symbol table, no DWARF.
    pub stripped: bool,
    /// `-buildmode=pie`: a position-independent executable.
    pub pie: bool,
    /// `CGO_ENABLED=1`: an externally linked, dynamically linked binary (needs a C compiler).
    pub cgo: bool,
}

impl BuildOptions {
    /// The suffix of the binary's name: `-trimpath`, `-pie`, `-stripped`, `-cgo`, in that
    /// order, for the options set.
    pub fn suffix(&self) -> String {
        let mut s = String::new();
        for (on, tag) in [
            (self.trimpath, "-trimpath"),
            (self.pie, "-pie"),
            (self.stripped, "-stripped"),
            (self.cgo, "-cgo"),
        ] {
            if on {
                s.push_str(tag);
            }
        }
        s
    }
}

type BuildKey = (String, String, BuildOptions);
type BuildCell = Arc<OnceLock<Result<PathBuf, String>>>;

fn build_cells() -> &'static Mutex<HashMap<BuildKey, BuildCell>> {
    static CELLS: OnceLock<Mutex<HashMap<BuildKey, BuildCell>>> = OnceLock::new();
    CELLS.get_or_init(Default::default)
}

/// Builds `fixtures/go/<name>` with `tc` into `<repo>/fixtures/build/<version>/<name>` (once
/// per test process) and returns the binary's path.
///
/// # Panics
/// When the build fails (with go's output).
pub fn build(name: &str, tc: &Toolchain) -> PathBuf {
    build_with(name, tc, BuildOptions::default())
}

/// [`build`] with options; the binary's name gets [`BuildOptions::suffix`].
pub fn build_with(name: &str, tc: &Toolchain, opts: BuildOptions) -> PathBuf {
    let key = (tc.version.clone(), name.to_owned(), opts);
    let cell = {
        let mut cells = build_cells().lock().unwrap_or_else(|p| p.into_inner());
        cells.entry(key).or_default().clone()
    };
    cell.get_or_init(|| go_build(name, tc, opts))
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn go_build(name: &str, tc: &Toolchain, opts: BuildOptions) -> Result<PathBuf, String> {
    let root = repo_root();
    let src = root.join("fixtures").join("go").join(name);
    if !src.join("main.go").is_file() {
        return Err(format!(
            "no fixture {name}: {} has no main.go",
            src.display()
        ));
    }
    let dir = root.join("fixtures").join("build").join(&tc.version);
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let file = format!("{name}{}", opts.suffix());
    // Fixtures in subdirectories (`relations/lock-chain`) build to the same subdirectory.
    let out = dir.join(&file);
    let out_dir = out.parent().unwrap_or(&dir).to_path_buf();
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| format!("creating {}: {e}", out_dir.display()))?;
    let base = out
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.clone());
    // Build to a name of our own, then rename: several test binaries may build the same
    // fixture at once, and none may ever run a half-written file.
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let tmp = out_dir.join(format!(
        ".{base}.{}.{}.tmp",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let mut cmd = go_command(tc);
    cmd.arg("build");
    if opts.trimpath {
        cmd.arg("-trimpath");
    }
    if opts.pie {
        cmd.arg("-buildmode=pie");
    }
    if opts.stripped {
        cmd.arg("-ldflags=-s -w");
    }
    if opts.cgo {
        cmd.env("CGO_ENABLED", "1");
    }
    cmd.arg("-o").arg(&tmp).arg(format!("./{name}"));
    let output = cmd
        .output()
        .map_err(|e| format!("running {}: {e}", tc.go.display()))?;
    if !output.status.success() {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!(
            "go {} build of fixture {name} failed ({}):\n{}{}",
            tc.version,
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    std::fs::rename(&tmp, &out)
        .map_err(|e| format!("renaming {} to {}: {e}", tmp.display(), out.display()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolchain::toolchains;
    use crate::{Fixture, StartOptions};
    /// Several test binaries may build the same fixture at once: each builds to a name of its
    /// own and renames, so all succeed and the result is a complete program.
    #[test]
    fn concurrent_builds_of_one_fixture_do_not_collide() {
        let tc = toolchains()
            .pop()
            .expect("toolchains() panics when there is none");
        let opts = BuildOptions {
            trimpath: true,
            ..Default::default()
        };
        let outs: Vec<Result<PathBuf, String>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..3)
                .map(|_| s.spawn(|| go_build("select-no-cases", &tc, opts)))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for o in &outs {
            let p = o.as_ref().unwrap_or_else(|e| panic!("{e}"));
            assert!(p.ends_with(format!("{}/select-no-cases-trimpath", tc.version)));
        }
        let mut fx = Fixture::start(
            "select-no-cases",
            &tc,
            &StartOptions {
                trimpath: true,
                n: Some(2),
                ..Default::default()
            },
        );
        assert_eq!(fx.expect.sites[0].count, 2);
        let dump = fx.fetch("/debug/pprof/goroutine?debug=1").unwrap();
        let text = String::from_utf8_lossy(&dump);
        // -trimpath: module-relative file names, nothing from the build machine.
        assert!(
            text.contains("goroscope.test/fixtures/select-no-cases/main.go:"),
            "{text}"
        );
        assert!(!text.contains(&*repo_root().to_string_lossy()), "{text}");
    }
}
