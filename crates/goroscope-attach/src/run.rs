//! `goroscope run -- CMD`: run a command under ptrace (following forks, clones and execs) and
//! snapshot each Go process at its `PTRACE_EVENT_EXIT` stop, when its memory is still there.
//!
//! Uses `waitpid(-1)`: the calling process should have no other children it waits for.

use crate::error::AttachError;
use crate::{AttachOptions, RunOutcome};
use std::collections::HashSet;
use std::ffi::OsString;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

fn tgid_of(tid: u32) -> Option<u32> {
    let s = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}

fn cont(tid: u32, sig: i32) {
    // SAFETY: PTRACE_CONT takes no pointers.
    unsafe { libc::ptrace(libc::PTRACE_CONT, tid as libc::pid_t, 0usize, sig as usize) };
}

pub fn run_and_snapshot(cmd: &[OsString], opts: &AttachOptions) -> Result<RunOutcome, AttachError> {
    let (prog, args) = cmd
        .split_first()
        .ok_or_else(|| AttachError::Run("no command given to run".into()))?;
    let mut c = Command::new(prog);
    c.args(args);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        c.pre_exec(|| {
            if libc::ptrace(libc::PTRACE_TRACEME, 0, 0usize, 0usize) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = c
        .spawn()
        .map_err(|e| AttachError::Run(format!("cannot start {}: {e}", prog.to_string_lossy())))?;
    let root = child.id();
    let mut status = 0;
    // SAFETY: waiting for our own child.
    if unsafe { libc::waitpid(root as libc::pid_t, &mut status, libc::__WALL) } < 0
        || !libc::WIFSTOPPED(status)
    {
        return Err(AttachError::Run(format!(
            "{} did not stop at exec under ptrace (is ptrace blocked by seccomp or already in use?)",
            prog.to_string_lossy()
        )));
    }
    let options = libc::PTRACE_O_TRACEEXIT
        | libc::PTRACE_O_TRACECLONE
        | libc::PTRACE_O_TRACEFORK
        | libc::PTRACE_O_TRACEVFORK
        | libc::PTRACE_O_TRACEEXEC
        | libc::PTRACE_O_EXITKILL;
    // SAFETY: PTRACE_SETOPTIONS takes the options in data.
    unsafe {
        libc::ptrace(
            libc::PTRACE_SETOPTIONS,
            root as libc::pid_t,
            0usize,
            options as usize,
        )
    };
    cont(root, 0);

    let mut out = RunOutcome {
        snapshots: Vec::new(),
        exit_code: 0,
        skipped: Vec::new(),
    };
    let mut done: HashSet<u32> = HashSet::new();
    loop {
        let mut status = 0;
        // SAFETY: status is a valid out-pointer.
        let tid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL) };
        if tid < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            break; // ECHILD: everything has exited.
        }
        let tid = tid as u32;
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            if tid == root {
                out.exit_code = if libc::WIFEXITED(status) {
                    libc::WEXITSTATUS(status)
                } else {
                    128 + libc::WTERMSIG(status)
                };
            }
            continue;
        }
        if !libc::WIFSTOPPED(status) {
            continue;
        }
        let sig = libc::WSTOPSIG(status);
        let event = (status >> 16) & 0xff;
        if sig == libc::SIGTRAP && event == libc::PTRACE_EVENT_EXIT {
            if let Some(pid) = tgid_of(tid) {
                let toolchain_cmd = crate::binary::peek_buildinfo(std::path::Path::new(&format!(
                    "/proc/{pid}/exe"
                )))
                .and_then(|(_, m)| crate::binary::main_path(&m).map(|p| p.starts_with("cmd/")))
                .unwrap_or(false);
                if toolchain_cmd && done.insert(pid) {
                    // The go command and its compilers/linkers are not what the user runs.
                    out.skipped
                        .push((pid, "Go toolchain command (cmd/...)".into()));
                } else if done.insert(pid) {
                    match crate::live::open(pid) {
                        Ok((bin, shown, bias)) => {
                            match crate::live::snapshot_pid(
                                pid,
                                &bin,
                                &shown,
                                bias,
                                opts,
                                Default::default(),
                            ) {
                                Ok(s) => out.snapshots.push(s),
                                Err(e) => out.skipped.push((pid, e.to_string())),
                            }
                        }
                        Err(e) => out.skipped.push((pid, e.to_string())),
                    }
                }
            }
            cont(tid, 0);
        } else if event != 0 || sig == libc::SIGTRAP || sig == libc::SIGSTOP {
            // fork/clone/exec events, new tracees' initial SIGSTOP, exec SIGTRAP.
            cont(tid, 0);
        } else {
            cont(tid, sig);
        }
    }
    Ok(out)
}
