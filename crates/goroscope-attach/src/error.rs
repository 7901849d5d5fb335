//! Errors, each saying what the target is (or is not) and, where there is one, the fix.
//!
//! A variant that wraps another error keeps it as its `source` and never repeats its text in
//! its own message: printed with its chain (`{:#}` in `anyhow`), every cause appears once.

use std::fmt;
use std::io;

/// Who is asking, for a permission error: the fix differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Privilege {
    /// An ordinary user.
    User,
    /// Root (effective uid 0) with `CAP_SYS_PTRACE`: the kernel still refused (Yama
    /// `ptrace_scope` 3, a Linux security module, or the target is in another user namespace).
    RootWithCap,
    /// Root without `CAP_SYS_PTRACE` (a container that dropped it).
    RootWithoutCap,
}

impl Privilege {
    /// This process's privilege, from its effective uid and capability set.
    pub fn current() -> Privilege {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_string())
        };
        let euid_root = field("Uid:")
            .and_then(|v| v.split_whitespace().nth(1).map(|e| e == "0"))
            .unwrap_or(false);
        if !euid_root {
            return Privilege::User;
        }
        const CAP_SYS_PTRACE: u32 = 19;
        let has_cap = field("CapEff:")
            .and_then(|v| u64::from_str_radix(&v, 16).ok())
            .is_some_and(|caps| caps & (1 << CAP_SYS_PTRACE) != 0);
        if has_cap {
            Privilege::RootWithCap
        } else {
            Privilege::RootWithoutCap
        }
    }
}

/// Why a process or core could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttachError {
    /// This platform cannot attach (only Linux on x86-64 is supported).
    #[error("{what}: not supported; goroscope attach, run and --core need Linux on x86-64")]
    Unsupported { what: String },
    /// No such process.
    #[error(
        "no process with pid {pid}\n  fix: check the pid (`pgrep -f NAME` lists a program's pids)"
    )]
    NoProcess { pid: u32 },
    /// A kernel thread (pid 2, `kthreadd` and its children): no program, no user memory.
    #[error("process {pid} ({name}) is a kernel thread: it runs no program and has no memory to read\n  fix: give the pid of a Go program (`pgrep -f NAME`)")]
    KernelThread { pid: u32, name: String },
    /// A zombie: exited, waiting for its parent to collect the status.
    #[error("process {pid} is a zombie: it has exited (its parent{} has not collected its status yet) and its memory is gone\n  fix: attach while it runs, or start it with `goroscope run -- CMD`, which reads it as it exits", parent.map(|p| format!(", pid {p},")).unwrap_or_default())]
    Zombie { pid: u32, parent: Option<u32> },
    /// The process went away while being read.
    #[error("process {pid} exited while goroscope was reading it; nothing to report")]
    Exited { pid: u32 },
    /// ptrace / process_vm_readv refused.
    #[error("{}", permission_message(*pid, scope, detail, *privilege))]
    Permission {
        pid: u32,
        /// `/proc/sys/kernel/yama/ptrace_scope`, or a note that there is no Yama.
        scope: String,
        /// What refused (`process_vm_readv: EPERM`).
        detail: String,
        privilege: Privilege,
    },
    /// Not a Go program.
    #[error("{what} is not a Go program (no .gopclntab / .go.buildinfo section)")]
    NotGo { what: String },
    /// A Go release this build cannot read.
    #[error("unsupported Go version: {message}")]
    UnsupportedGo { message: String },
    /// The executable is malformed or not what we expect.
    #[error("cannot read the Go binary: {message}")]
    BadBinary { message: String },
    /// Memory of the target did not hold what the runtime layout says.
    #[error("inconsistent target memory: {message}")]
    BadMemory { message: String },
    /// The core file is malformed.
    #[error("cannot read core file {path}: {message}")]
    BadCore { path: String, message: String },
    /// The core file ends before the memory its headers describe.
    #[error("core file {path} is truncated: its headers describe {need} bytes, the file has {have}{}\n  fix: the dump was cut short (disk full, a core size limit such as `ulimit -c`, or a copy still being written); dump it again", match reading { Some(m) => format!(" ({m})"), None => String::new() })]
    Truncated {
        path: String,
        have: u64,
        need: u64,
        /// What could not be read because of it, when the read failed.
        reading: Option<String>,
    },
    /// The executable is not the program that wrote the core.
    #[error("{exe} is not the program that wrote core file {core}: {why}\n  fix: pass the exact binary that was running with --exe (the core names {})", named.as_deref().unwrap_or("no executable"))]
    Mismatch {
        core: String,
        exe: String,
        why: String,
        /// The executable path the core itself records, if any.
        named: Option<String>,
    },
    /// A command given to `run` could not be started.
    #[error("cannot start {program}")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },
    /// Tracing a command failed.
    #[error("{message}")]
    Run { message: String },
    /// A file or system call failed.
    #[error("{context}")]
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

    pub(crate) fn bad_memory(message: impl Into<String>) -> Self {
        AttachError::BadMemory {
            message: message.into(),
        }
    }

    pub(crate) fn bad_binary(message: impl Into<String>) -> Self {
        AttachError::BadBinary {
            message: message.into(),
        }
    }

    pub(crate) fn unsupported(what: impl Into<String>) -> Self {
        AttachError::Unsupported { what: what.into() }
    }

    pub(crate) fn run(message: impl Into<String>) -> Self {
        AttachError::Run {
            message: message.into(),
        }
    }
}

fn permission_message(pid: u32, scope: &str, detail: &str, who: Privilege) -> String {
    let mut s = String::new();
    let w = &mut s as &mut dyn fmt::Write;
    let _ = write!(
        w,
        "permission denied reading process {pid}: {detail}\n  fix: "
    );
    let container = "in Docker add `--cap-add SYS_PTRACE` and share the target's PID namespace \
(`--pid=container:NAME`); in Kubernetes add `securityContext.capabilities.add: [SYS_PTRACE]` with \
`shareProcessNamespace: true`, or use `kubectl debug --target`";
    let _ = match who {
        Privilege::User => write!(
            w,
            "run as root or with CAP_SYS_PTRACE (`sudo goroscope attach {pid}`); as the target's \
own user this needs /proc/sys/kernel/yama/ptrace_scope = 0 (currently {scope}; 1 allows only your \
own children, e.g. `goroscope run -- CMD`); {container}"
        ),
        Privilege::RootWithoutCap => write!(
            w,
            "you are root but without CAP_SYS_PTRACE (a container that drops it?): {container}"
        ),
        Privilege::RootWithCap => write!(
            w,
            "you are root with CAP_SYS_PTRACE and the kernel still refused: Yama ptrace_scope 3 \
forbids every attach (currently {scope}; it can only be lowered by a reboot), a security module \
(SELinux, AppArmor) may deny ptrace, or the target runs in another user namespace (attach from \
inside its container, where {container})"
        ),
    };
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn io_errors_print_their_cause_once() {
        let e = AttachError::io(
            "reading core file x",
            io::Error::from(io::ErrorKind::NotFound),
        );
        let top = e.to_string();
        let cause = e.source().unwrap().to_string();
        assert_eq!(top, "reading core file x");
        assert!(!top.contains(&cause), "{top}");
    }

    #[test]
    fn root_is_never_told_to_run_as_root() {
        for who in [Privilege::RootWithCap, Privilege::RootWithoutCap] {
            let m = permission_message(7, "1", "EPERM", who);
            assert!(!m.contains("run as root") && !m.contains("sudo"), "{m}");
            assert!(m.contains("you are root"), "{m}");
        }
        let m = permission_message(7, "1", "EPERM", Privilege::User);
        assert!(m.contains("sudo goroscope attach 7"), "{m}");
    }
}
