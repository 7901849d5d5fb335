//! Read every goroutine of a live Go process or a core file from memory — no pprof endpoint,
//! no code change — into the same [`Snapshot`] every other goroscope reader produces.
//!
//! * [`attach_pid`]: a running process (non-blocking by default; [`AttachOptions::pause`]
//!   stops every thread with `PTRACE_SEIZE` + `PTRACE_INTERRUPT` for a consistent read).
//! * [`read_core`]: a core file (`GOTRACEBACK=crash` or `gcore`), with its executable.
//! * [`run_and_snapshot`]: run a command under ptrace and snapshot each Go process as it exits.
//!
//! How: buildinfo gives the Go version; our own `.gopclntab` decoder gives functions, lines and
//! inline trees; runtime struct layouts come from DWARF (`gimli`) or, for stripped binaries,
//! from per-release tables ([`layout`]); `runtime.allgs` comes from the symbol table or a `.bss`
//! scan; stacks are unwound with the `pcsp` tables exactly like the runtime's unwinder, and
//! frames are hidden the way the runtime's traceback hides them. The target is only ever read.
//!
//! Linux on x86-64 only; elsewhere every entry point returns [`AttachError::Unsupported`].
//!
//! Everything read from a target, a core or an executable is untrusted input. One overflow
//! policy holds across the crate: arithmetic on such a value is checked (`checked_add`; an
//! overflow is an unreadable address or a malformed table, never a panic, also in debug
//! builds) or explicitly wrapping where addresses are modular (the load bias of a PIE); counts
//! are bounded by the bytes present before anything is allocated for them; a runtime layout is
//! checked once ([`layout::Layout::check`]) so that no field is read outside its struct. The
//! property tests (`tests/fuzz.rs`, `core_file.rs`) hold the code to it.

pub mod binary;
mod dwarf;
pub mod error;
mod labels;
pub mod layout;
pub mod memory;
pub mod pclntab;
pub mod stripped;
pub mod walk;

#[cfg(target_os = "linux")]
mod core_file;
#[cfg(target_os = "linux")]
mod live;
#[cfg(target_os = "linux")]
pub mod ptrace;
#[cfg(target_os = "linux")]
mod run;

pub use error::AttachError;
pub use memory::{FakeMemory, ProcessMemory};

use goroscope_model::Snapshot;
use std::ffi::OsString;
use std::path::Path;

/// How to read a target.
#[derive(Debug, Clone)]
pub struct AttachOptions {
    /// Stop every thread while reading (consistent stacks, running goroutines' stacks from
    /// registers); always resumed and detached afterwards, even on error.
    pub pause: bool,
    /// Include runtime goroutines and runtime frames, like `GOTRACEBACK=system`.
    pub system: bool,
    /// Re-reads of a goroutine that changed while being read (non-blocking mode).
    pub retries: u32,
    /// `--pause` only: copy every goroutine before stopping the target, and while it is
    /// stopped read the `g`s again and only the stacks of goroutines whose `g` changed (a much
    /// shorter stop; unchanged stacks are read once, before). `false`: every stack is copied
    /// while the target is stopped.
    pub precopy: bool,
}

impl Default for AttachOptions {
    fn default() -> Self {
        AttachOptions {
            pause: false,
            system: false,
            retries: 3,
            precopy: true,
        }
    }
}

/// What [`run_and_snapshot`] saw.
#[derive(Debug)]
pub struct RunOutcome {
    /// One snapshot per Go process that exited (taken at its exit stop), in exit order.
    pub snapshots: Vec<Snapshot>,
    /// The command's exit code, or `128 + signal` when it was killed by a signal.
    pub exit_code: i32,
    /// Processes that exited but could not be read (not Go, or unreadable), with why.
    pub skipped: Vec<(u32, String)>,
}

/// Timings of one attach (for `-v` output and benchmarks).
#[derive(Debug, Clone, Default)]
pub struct AttachStats {
    /// Reading and analysing the executable (buildinfo, pclntab, DWARF or table).
    pub load: std::time::Duration,
    /// Reading every goroutine (g structs, stacks, unwinding, symbolizing).
    pub read: std::time::Duration,
    /// `--pause` only: preparing buffers before stopping the target.
    pub prepare: std::time::Duration,
    /// How long the target was stopped (`--pause` only): from the first PTRACE_SEIZE to the
    /// last detach.
    pub paused: Option<std::time::Duration>,
    /// `--pause` only: stacks copied before the stop that were still valid while it lasted
    /// (their goroutine's `g` had not changed), so not read again while the target was stopped.
    pub stacks_reused: usize,
    /// Threads stopped (`--pause` only).
    pub threads: usize,
    pub goroutines: usize,
}

/// Like [`attach_pid`], with timings.
pub fn attach_pid_with_stats(
    pid: u32,
    opts: &AttachOptions,
) -> Result<(Snapshot, AttachStats), AttachError> {
    #[cfg(target_os = "linux")]
    {
        live::attach_pid_with_stats(pid, opts)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (pid, opts);
        Err(AttachError::unsupported(std::env::consts::OS))
    }
}

/// A live Go process opened for reading: its executable, analysed, and its load bias.
pub struct OpenProcess {
    pub pid: u32,
    /// The executable as `/proc/PID/exe` names it (for messages).
    pub exe: String,
    pub binary: binary::GoBinary,
    /// Runtime address = link-time address + `bias` (non-zero for a PIE).
    pub bias: u64,
}

/// Opens process `pid` for reading: loads and analyses its executable, finds its load bias,
/// and checks with one read that its memory can be read (clear errors for a missing process,
/// a zombie, a kernel thread, no permission, not Go). What the eBPF tracer starts from.
pub fn open_process(pid: u32) -> Result<OpenProcess, AttachError> {
    #[cfg(target_os = "linux")]
    {
        let (binary, exe, bias) = live::open(pid)?;
        Ok(OpenProcess {
            pid,
            exe,
            binary,
            bias,
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        Err(AttachError::unsupported(std::env::consts::OS))
    }
}

/// Snapshots an opened process (non-blocking; [`AttachOptions::pause`] is ignored), without
/// loading its executable again.
pub fn snapshot_process(p: &OpenProcess, opts: &AttachOptions) -> Result<Snapshot, AttachError> {
    #[cfg(target_os = "linux")]
    {
        live::snapshot_pid(
            p.pid,
            &p.binary,
            &p.exe,
            p.bias,
            opts,
            std::collections::HashMap::new(),
        )
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (p, opts);
        Err(AttachError::unsupported(std::env::consts::OS))
    }
}

/// Snapshots the goroutines of process `pid`.
pub fn attach_pid(pid: u32, opts: &AttachOptions) -> Result<Snapshot, AttachError> {
    #[cfg(target_os = "linux")]
    {
        live::attach_pid(pid, opts)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (pid, opts);
        Err(AttachError::unsupported(std::env::consts::OS))
    }
}

/// Reads the goroutines of a core file. `exe` is the program that dumped it (default: the
/// path recorded in the core's file notes).
pub fn read_core(
    core: &Path,
    exe: Option<&Path>,
    opts: &AttachOptions,
) -> Result<Snapshot, AttachError> {
    #[cfg(target_os = "linux")]
    {
        core_file::read_core(core, exe, opts)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (core, exe, opts);
        Err(AttachError::unsupported(std::env::consts::OS))
    }
}

/// Runs `cmd` under ptrace, following its children, and snapshots every Go process when it is
/// about to exit (what is still alive then has leaked past the end of the program).
pub fn run_and_snapshot(cmd: &[OsString], opts: &AttachOptions) -> Result<RunOutcome, AttachError> {
    #[cfg(target_os = "linux")]
    {
        run::run_and_snapshot(cmd, opts)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (cmd, opts);
        Err(AttachError::unsupported(std::env::consts::OS))
    }
}

/// Builds a snapshot from any memory: the shared core of every entry point (and of tests with
/// a [`FakeMemory`]).
pub fn snapshot_from_memory(
    bin: &binary::GoBinary,
    mem: &dyn ProcessMemory,
    bias: u64,
    wopts: walk::WalkOptions,
    source: goroscope_model::Source,
) -> Result<Snapshot, AttachError> {
    let mut snap = Snapshot::new(source);
    snap.go_version = Some(bin.go_version.clone());
    snap.taken_at = Some(std::time::SystemTime::now());
    let mut w = walk::Walker::new(bin, mem, bias, wopts);
    w.snapshot_into(&mut snap)?;
    for n in &bin.notes {
        snap.warnings.push(goroscope_model::Warning::new(n.clone()));
    }
    for n in w.warnings {
        snap.warnings.push(goroscope_model::Warning::new(n));
    }
    Ok(snap)
}
