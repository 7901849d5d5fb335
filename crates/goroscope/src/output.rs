//! Where output goes: stdout, or a file named with `--out` written safely.

use crate::cli::OutputArgs;
use anyhow::{bail, Context, Result};
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Whether an error chain is a closed pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Runs `f` against stdout or the `--out` file. A file is written to a temporary name beside it
/// and renamed into place only when complete; it never replaces one of the inputs, nor an
/// existing file unless `--force` is given.
pub fn write(
    out: &OutputArgs,
    inputs: &[String],
    f: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    let Some(path) = &out.out else {
        let stdout = io::stdout();
        let mut w = BufWriter::with_capacity(1 << 16, stdout.lock());
        f(&mut w)?;
        w.flush()?;
        return Ok(());
    };
    check_target(path, inputs, out.force)?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("--out {}: not a file name", path.display()))?;
    let tmp: PathBuf = dir.join(format!(
        ".{}.goroscope-{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> Result<()> {
        let file =
            fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut w = BufWriter::with_capacity(1 << 16, file);
        f(&mut w).with_context(|| format!("writing {}", path.display()))?;
        w.flush()?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        if !out.force && path.exists() {
            bail!(
                "--out {}: exists (use --force to replace it)",
                path.display()
            );
        }
        fs::rename(&tmp, path)
            .with_context(|| format!("cannot move output into {}", path.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn check_target(path: &Path, inputs: &[String], force: bool) -> Result<()> {
    let target = fs::canonicalize(path).ok();
    for input in inputs {
        if input == "-" || input.contains("://") {
            continue;
        }
        if let (Some(t), Ok(i)) = (&target, fs::canonicalize(input)) {
            if *t == i {
                bail!(
                    "--out {}: is one of the inputs; refusing to overwrite it",
                    path.display()
                );
            }
        }
    }
    if path.exists() && !force {
        bail!(
            "--out {}: exists (use --force to replace it)",
            path.display()
        );
    }
    Ok(())
}
