//! Errors, each with what to do about it.

use std::io;

/// Why a process or core could not be read. Every message says what went wrong and, where
/// there is one, the fix.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// This platform cannot attach (only Linux on amd64 is supported).
    #[error("attaching to processes is not supported on this platform ({0}); goroscope attach/core/run need Linux on x86-64")]
    Unsupported(String),
    /// ptrace / process_vm_readv refused.
    #[error("permission denied reading process {pid}: {detail}\n  fix: run as root or with CAP_SYS_PTRACE (`sudo goroscope attach {pid}`); \
as the target's own user this needs /proc/sys/kernel/yama/ptrace_scope = 0 (currently {scope}; 1 allows only your own children, \
e.g. `goroscope run -- CMD`); in Docker add `--cap-add SYS_PTRACE` and share the target's PID namespace (`--pid=container:NAME`), \
in Kubernetes add `securityContext.capabilities.add: [SYS_PTRACE]` with `shareProcessNamespace: true` or use `kubectl debug --target`")]
    Permission {
        pid: u32,
        scope: String,
        detail: String,
    },
    /// No such process.
    #[error("no process with pid {0} (it may have exited)")]
    NoProcess(u32),
    /// The process went away while being read.
    #[error("process {0} exited while goroscope was reading it; nothing to report")]
    Exited(u32),
    /// Not a Go program.
    #[error("{0} is not a Go program (no .gopclntab / .go.buildinfo section)")]
    NotGo(String),
    /// A Go release this build has no layout for.
    #[error("unsupported Go version: {0}")]
    UnsupportedGo(String),
    /// The binary is malformed or not what we expect.
    #[error("cannot read the Go binary: {0}")]
    BadBinary(String),
    /// Memory of the target did not hold what the runtime layout says.
    #[error("inconsistent target memory: {0}")]
    BadMemory(String),
    /// The core file is malformed.
    #[error("cannot read core file {path}: {message}")]
    BadCore { path: String, message: String },
    /// Starting or tracing a command failed.
    #[error("{0}")]
    Run(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

impl AttachError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        AttachError::Io {
            context: context.into(),
            source,
        }
    }
}
