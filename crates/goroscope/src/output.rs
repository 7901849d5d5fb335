//! Where output goes: stdout (no `--out`, or `--out -`), or a file named with `--out`, written
//! safely.
//!
//! A file is written to a new temporary file beside it and moved into place only when complete,
//! so a reader never sees half a report and a failed run leaves the old file as it was. What
//! `--out` may replace is narrow on purpose, because goroscope often runs as root (attach, run):
//! - only a regular file, and only with `--force`; never one of the inputs (by inode, so a hard
//!   link or another spelling of the path is caught too);
//! - never a symbolic link: goroscope does not write through it (a link planted where a
//!   report goes would redirect a privileged write over any file), nor replace it; it says so
//!   and names the link's target;
//! - never a FIFO, a socket, a device or a directory (`--out /dev/stdout --force` must not turn
//!   `/dev/stdout` into a file): `--out -` is stdout.

use crate::cli::OutputArgs;
use anyhow::{bail, Context, Result};
use std::fs;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Whether an error chain is a closed pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Runs `f` against stdout or the `--out` file (see the module docs for what may be replaced).
/// `protected` are the paths that must never be replaced: the inputs and the files the
/// analysis read.
pub fn write(
    out: &OutputArgs,
    protected: &[String],
    f: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    let path = match &out.out {
        Some(p) if p.as_os_str() != "-" => p,
        _ => {
            let stdout = io::stdout();
            let mut w = BufWriter::with_capacity(1 << 16, stdout.lock());
            f(&mut w)?;
            w.flush()?;
            return Ok(());
        }
    };
    let shown = crate::clean(&path.display().to_string());
    let existing = check_target(path, &shown, protected, out.force)?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("--out {shown}: not a file name"))?;
    let (tmp, file) = create_temp(dir, &name.to_string_lossy())
        .with_context(|| format!("--out {shown}: cannot create a file in {}", dir.display()))?;
    let result = (|| -> Result<()> {
        let mut w = BufWriter::with_capacity(1 << 16, file);
        f(&mut w).with_context(|| format!("writing {shown}"))?;
        w.flush()?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        if let Some(meta) = &existing {
            // The replacement keeps the permissions of the file it replaces.
            file.set_permissions(meta.permissions())?;
        }
        file.sync_all()?;
        drop(file);
        if out.force {
            // Whatever came to be at the path since the check must still be a regular file
            // (or nothing): rename replaces it, never what a link points to.
            check_kind(path, &shown)?;
            fs::rename(&tmp, path)
                .with_context(|| format!("cannot move the output into {shown}"))?;
        } else {
            place_new(&tmp, path, &shown)?;
        }
        Ok(())
    })();
    let _ = fs::remove_file(&tmp);
    result
}

/// A new file beside the target, created exclusively (a name someone else made, or a link
/// planted there, makes `create_new` fail rather than be followed).
fn create_temp(dir: &Path, name: &str) -> io::Result<(PathBuf, fs::File)> {
    let mut last = None;
    for n in 0..100u32 {
        let tmp = dir.join(format!(".{name}.goroscope-{}-{n}.tmp", std::process::id()));
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary name")))
}

/// Moves `tmp` to `path` only if nothing is there: a hard link fails when the name exists,
/// atomically. File systems without hard links fall back to a check and a rename.
fn place_new(tmp: &Path, path: &Path, shown: &str) -> Result<()> {
    match fs::hard_link(tmp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            bail!("--out {shown}: exists (use --force to replace it)")
        }
        Err(_) => {
            if fs::symlink_metadata(path).is_ok() {
                bail!("--out {shown}: exists (use --force to replace it)");
            }
            fs::rename(tmp, path).with_context(|| format!("cannot move the output into {shown}"))
        }
    }
}

/// What the path is, in words, when it is not a regular file.
fn kind_of(ft: &fs::FileType) -> Option<&'static str> {
    if ft.is_file() {
        None
    } else if ft.is_symlink() {
        Some("symbolic link")
    } else if ft.is_dir() {
        Some("directory")
    } else if ft.is_fifo() {
        Some("FIFO")
    } else if ft.is_char_device() {
        Some("character device")
    } else if ft.is_block_device() {
        Some("block device")
    } else if ft.is_socket() {
        Some("socket")
    } else {
        Some("special file")
    }
}

/// Refuses anything at `path` but a regular file (or nothing).
fn check_kind(path: &Path, shown: &str) -> Result<Option<fs::Metadata>> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("--out {shown}")),
    };
    match kind_of(&meta.file_type()) {
        None => Ok(Some(meta)),
        Some("symbolic link") => {
            let target = fs::read_link(path)
                .map(|t| crate::clean(&t.display().to_string()))
                .unwrap_or_else(|_| "?".into());
            bail!(
                "--out {shown}: is a symbolic link (to {target}); goroscope does not write through links, so that a link planted where a report goes cannot redirect the write over another file: name the file itself"
            )
        }
        Some("directory") => bail!("--out {shown}: is a directory; name a file in it"),
        Some(kind) => bail!(
            "--out {shown}: is a {kind}, not a regular file; goroscope writes only regular files (use --out - for stdout, or a shell redirect)"
        ),
    }
}

/// Checks where `--out` points before anything is written; returns the metadata of the regular
/// file it would replace.
fn check_target(
    path: &Path,
    shown: &str,
    protected: &[String],
    force: bool,
) -> Result<Option<fs::Metadata>> {
    let Some(meta) = check_kind(path, shown)? else {
        return Ok(None);
    };
    for input in protected {
        if input == "-" || input.contains("://") {
            continue;
        }
        if let Ok(i) = fs::metadata(input) {
            if i.dev() == meta.dev() && i.ino() == meta.ino() {
                bail!("--out {shown}: is one of the inputs; refusing to overwrite it");
            }
        }
    }
    if !force {
        bail!("--out {shown}: exists (use --force to replace it)");
    }
    Ok(Some(meta))
}
