//! `goroscope run -- CMD`: run a command under ptrace (following forks, clones and execs) and
//! snapshot each Go process at its `PTRACE_EVENT_EXIT` stop, when its memory is still there.
//!
//! * Waits only for its own children and tracees: the command is started, traced and waited
//!   for from a thread of its own, with `__WNOTHREAD`, so the caller's other children are never
//!   reaped here.
//! * SIGINT, SIGTERM and SIGHUP sent to goroscope are forwarded to the command (once: a Ctrl-C
//!   that reached the whole process group is not delivered twice), and tracing goes on until
//!   it exits, so its own shutdown runs and is read.
//! * A child that shares its parent's memory (Go's pidfd probe: a `clone(CLONE_VM|CLONE_VFORK)`
//!   that exits without exec) is not read as a process of its own.

use crate::error::AttachError;
use crate::{AttachOptions, RunOutcome};
use goroscope_model::Context;
use nix::sys::ptrace::{self, Options};
use nix::unistd::Pid;
use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const OPTIONS: Options = Options::PTRACE_O_TRACEEXIT
    .union(Options::PTRACE_O_TRACECLONE)
    .union(Options::PTRACE_O_TRACEFORK)
    .union(Options::PTRACE_O_TRACEVFORK)
    .union(Options::PTRACE_O_TRACEEXEC)
    .union(Options::PTRACE_O_EXITKILL);

fn tgid_of(tid: u32) -> Option<u32> {
    status_field(tid, "Tgid:")
}

fn status_field(pid: u32, key: &str) -> Option<u32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().parse().ok())
}

/// Resumes a stopped tracee, delivering `sig` (0: none). Raw, because `sig` may be a real-time
/// signal (glibc's in cgo programs) that `nix`'s `Signal` cannot name.
fn cont(tid: u32, sig: i32) {
    // SAFETY: PTRACE_CONT reads no memory of ours: addr is ignored and data is a signal number.
    unsafe { libc::ptrace(libc::PTRACE_CONT, tid as libc::pid_t, 0usize, sig as usize) };
}

/// Whether process `pid` shares its memory with its parent (a `CLONE_VM` child such as Go's
/// pidfd probe, or a vfork child before its exec): reading it would read the parent again.
fn shares_parent_memory(pid: u32) -> Option<bool> {
    let ppid = status_field(pid, "PPid:")?;
    const KCMP_VM: libc::c_long = 1;
    // SAFETY: kcmp(KCMP_VM) compares two tasks' memory descriptors; it takes no pointers.
    let r = unsafe {
        libc::syscall(
            libc::SYS_kcmp,
            pid as libc::c_long,
            ppid as libc::c_long,
            KCMP_VM,
            0 as libc::c_long,
            0 as libc::c_long,
        )
    };
    (r >= 0).then_some(r == 0)
}

pub fn run_and_snapshot(cmd: &[OsString], opts: &AttachOptions) -> Result<RunOutcome, AttachError> {
    run_with(cmd, opts, OPTIONS)
}

/// [`run_and_snapshot`] with the ptrace options to set (tests give bad ones to check that a
/// refusal is an error).
pub(crate) fn run_with(
    cmd: &[OsString],
    opts: &AttachOptions,
    options: Options,
) -> Result<RunOutcome, AttachError> {
    if cmd.is_empty() {
        return Err(AttachError::run("no command given to run"));
    }
    // Signal forwarding is process-wide: one run at a time.
    static ONE: Mutex<()> = Mutex::new(());
    let _one = ONE.lock().unwrap_or_else(|p| p.into_inner());
    std::thread::scope(|s| {
        s.spawn(|| trace(cmd, opts, options))
            .join()
            .unwrap_or_else(|_| Err(AttachError::run("the tracing thread panicked")))
    })
}

fn trace(
    cmd: &[OsString],
    opts: &AttachOptions,
    options: Options,
) -> Result<RunOutcome, AttachError> {
    let (prog, args) = cmd.split_first().expect("checked non-empty");
    let mut c = Command::new(prog);
    c.args(args);
    // SAFETY: the closure runs between fork and exec and only makes one system call
    // (ptrace(PTRACE_TRACEME)), which is async-signal-safe; it allocates nothing.
    unsafe {
        c.pre_exec(|| ptrace::traceme().map_err(io::Error::from));
    }
    let forward = Forwarding::install();
    let child = c.spawn().map_err(|source| AttachError::Spawn {
        program: prog.to_string_lossy().into_owned(),
        source,
    })?;
    let root = child.id();
    let mut status = 0;
    // SAFETY: waitpid writes the status into a local we own.
    let r = unsafe {
        libc::waitpid(
            root as libc::pid_t,
            &mut status,
            libc::__WALL | libc::__WNOTHREAD,
        )
    };
    if r < 0 || !libc::WIFSTOPPED(status) {
        return Err(AttachError::run(format!(
            "{} did not stop at exec under ptrace (is ptrace blocked by seccomp or already in use?)",
            prog.to_string_lossy()
        )));
    }
    if let Err(e) = ptrace::setoptions(Pid::from_raw(root as i32), options) {
        // Without the options nothing would be read at exit: stop here, and take the command
        // down with us rather than leave it stopped.
        let _ = nix::sys::signal::kill(Pid::from_raw(root as i32), nix::sys::signal::SIGKILL);
        cont(root, 0);
        // SAFETY: as above; reaps the killed child.
        unsafe {
            libc::waitpid(
                root as libc::pid_t,
                &mut status,
                libc::__WALL | libc::__WNOTHREAD,
            )
        };
        return Err(AttachError::run(format!(
            "cannot trace {}: PTRACE_SETOPTIONS failed: {}",
            prog.to_string_lossy(),
            e.desc()
        )));
    }
    forward.set_target(root);
    cont(root, 0);

    let mut out = RunOutcome {
        snapshots: Vec::new(),
        exit_code: 0,
        skipped: Vec::new(),
    };
    let mut done: HashSet<u32> = HashSet::new();
    let mut dedup: HashMap<i32, Dedup> = HashMap::new();
    loop {
        let mut status = 0;
        // SAFETY: status is a valid out-pointer. __WNOTHREAD: only this thread's children
        // and tracees.
        let tid = unsafe { libc::waitpid(-1, &mut status, libc::__WALL | libc::__WNOTHREAD) };
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
                forward.set_target(0);
            }
            continue;
        }
        if !libc::WIFSTOPPED(status) {
            continue;
        }
        let sig = libc::WSTOPSIG(status);
        let event = (status >> 16) & 0xff;
        if sig == libc::SIGTRAP && event == libc::PTRACE_EVENT_EXIT {
            // Threads exit on their own (a locked goroutine that returns ends its thread):
            // only the thread group leader's exit stop is the process exiting.
            if let Some(pid) = tgid_of(tid).filter(|&p| p == tid) {
                if done.insert(pid) {
                    match read_exiting(pid, opts) {
                        Ok(s) => out.snapshots.push(s),
                        Err(why) => out.skipped.push((pid, why)),
                    }
                }
            }
            cont(tid, 0);
        } else if event != 0 || sig == libc::SIGTRAP || sig == libc::SIGSTOP {
            // fork/clone/exec events, new tracees' initial SIGSTOP, exec SIGTRAP.
            cont(tid, 0);
        } else {
            let deliver = match forward.index(sig) {
                Some(k) if tgid_of(tid) == Some(root) => {
                    let d = dedup.entry(sig).or_default();
                    forward.sync(k, d);
                    d.on_child_stop(origin_of(tid), Instant::now())
                }
                _ => true,
            };
            cont(tid, if deliver { sig } else { 0 });
        }
    }
    drop(forward);
    Ok(out)
}

/// Snapshots a process at its exit stop, or says why not.
fn read_exiting(pid: u32, opts: &AttachOptions) -> Result<goroscope_model::Snapshot, String> {
    if shares_parent_memory(pid) == Some(true) {
        return Err("shares its parent's memory (a CLONE_VM child such as Go's pidfd probe): its goroutines are the parent's".into());
    }
    let toolchain_cmd =
        crate::binary::peek_buildinfo(std::path::Path::new(&format!("/proc/{pid}/exe")))
            .and_then(|(_, m)| crate::binary::main_path(&m).map(|p| p.starts_with("cmd/")))
            .unwrap_or(false);
    if toolchain_cmd {
        // The go command and its compilers/linkers are not what the user runs.
        return Err("Go toolchain command (cmd/...)".into());
    }
    let (bin, shown, bias) = crate::live::open(pid).map_err(|e| e.to_string())?;
    let mut s = crate::live::snapshot_pid(pid, &bin, &shown, bias, opts, Default::default())
        .map_err(|e| e.to_string())?;
    // Taken as the process exits: whatever is still blocked can never be woken.
    s.context = Some(Context::Exit);
    Ok(s)
}

/// Who sent a signal, as far as its `siginfo` tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The kernel (a terminal's Ctrl-C reaches the whole foreground process group this way).
    Kernel,
    /// `kill()` from this process id.
    Pid(i32),
    Other,
}

impl Origin {
    fn encode(self) -> i64 {
        match self {
            Origin::Kernel => -1,
            Origin::Other => -2,
            Origin::Pid(p) => p as i64,
        }
    }
    fn decode(v: i64) -> Origin {
        match v {
            -1 => Origin::Kernel,
            v if v >= 0 => Origin::Pid(v as i32),
            _ => Origin::Other,
        }
    }
    fn from_code(code: i32, pid: i32) -> Origin {
        if code == libc::SI_KERNEL {
            Origin::Kernel
        } else if code == libc::SI_USER || code == libc::SI_QUEUE || code == libc::SI_TKILL {
            Origin::Pid(pid)
        } else {
            Origin::Other
        }
    }
}

fn origin_of(tid: u32) -> Origin {
    match ptrace::getsiginfo(Pid::from_raw(tid as i32)) {
        Ok(info) => {
            let pid = if matches!(
                info.si_code,
                libc::SI_USER | libc::SI_QUEUE | libc::SI_TKILL
            ) {
                // SAFETY: for these codes the kernel filled the `kill` member of the union.
                unsafe { info.si_pid() }
            } else {
                0
            };
            Origin::from_code(info.si_code, pid)
        }
        Err(_) => Origin::Other,
    }
}

/// Delivers each signal goroscope received to the command exactly once: the copy goroscope
/// forwarded and a copy the command got straight from the same sender (a Ctrl-C or a `kill`
/// of the whole process group) are one signal. Both pass through the tracer as
/// signal-delivery stops, in either order; the first is delivered, the second suppressed.
#[derive(Debug, Default)]
pub(crate) struct Dedup {
    /// The last receipt by goroscope: its sender, and whether one copy was delivered.
    pending: Option<(Origin, bool)>,
    /// The command's last copy straight from a sender, before goroscope's own receipt was
    /// known (the two race): `(sender, when)`.
    recent: Option<(Origin, Instant)>,
}

/// How long a copy that reached the command first waits to be paired with goroscope's.
const PAIR_WINDOW: Duration = Duration::from_secs(2);

impl Dedup {
    /// goroscope received the signal from `from` (and forwarded it).
    pub(crate) fn on_receipt(&mut self, from: Origin, now: Instant) {
        let already = self
            .recent
            .take()
            .is_some_and(|(o, t)| o == from && now.duration_since(t) < PAIR_WINDOW);
        self.pending = Some((from, already));
    }

    /// The command stopped with the signal from `from` (`Origin::Pid(goroscope)` for the
    /// forwarded copy): whether to deliver it.
    pub(crate) fn on_child_stop(&mut self, from: Origin, now: Instant) -> bool {
        let ours = from == Origin::Pid(std::process::id() as i32);
        match &mut self.pending {
            Some((sender, delivered)) if ours || from == *sender => {
                if *delivered {
                    self.pending = None;
                    false
                } else {
                    *delivered = true;
                    true
                }
            }
            _ => {
                if !ours {
                    self.recent = Some((from, now));
                }
                true
            }
        }
    }
}

/// The forwarded signals, and what the handler saw of each (read by the tracing loop).
const FORWARDED: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];
static TARGET: AtomicI32 = AtomicI32::new(0);
static RECEIPTS: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];
static SENDERS: [AtomicI64; 3] = [AtomicI64::new(0), AtomicI64::new(0), AtomicI64::new(0)];

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    let Some(k) = FORWARDED.iter().position(|&s| s == sig) else {
        return;
    };
    let from = if info.is_null() {
        Origin::Other
    } else {
        // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo; si_pid is read only for
        // the codes whose union member carries it.
        unsafe {
            let code = (*info).si_code;
            let pid = if matches!(code, libc::SI_USER | libc::SI_QUEUE | libc::SI_TKILL) {
                (*info).si_pid()
            } else {
                0
            };
            Origin::from_code(code, pid)
        }
    };
    SENDERS[k].store(from.encode(), Ordering::SeqCst);
    RECEIPTS[k].fetch_add(1, Ordering::SeqCst);
    let target = TARGET.load(Ordering::SeqCst);
    if target > 0 {
        // kill(2) is async-signal-safe.
        let _ = nix::sys::signal::kill(
            Pid::from_raw(target),
            nix::sys::signal::Signal::try_from(sig).ok(),
        );
    }
}

/// Handlers for SIGINT, SIGTERM and SIGHUP while a command runs; the previous ones come back
/// on drop.
struct Forwarding {
    old: Vec<(nix::sys::signal::Signal, nix::sys::signal::SigAction)>,
    /// Receipts of each signal already passed to the dedup state.
    seen: [std::cell::Cell<u64>; 3],
}

impl Forwarding {
    fn install() -> Forwarding {
        use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
        TARGET.store(0, Ordering::SeqCst);
        let action = SigAction::new(
            SigHandler::SigAction(on_signal),
            SaFlags::SA_SIGINFO | SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        let mut old = Vec::new();
        let seen: [std::cell::Cell<u64>; 3] = Default::default();
        for (k, &s) in FORWARDED.iter().enumerate() {
            seen[k].set(RECEIPTS[k].load(Ordering::SeqCst));
            let sig = Signal::try_from(s).expect("a standard signal");
            // SAFETY: the handler only touches atomics and calls kill(2), which is
            // async-signal-safe; the previous action is restored on drop.
            if let Ok(prev) = unsafe { sigaction(sig, &action) } {
                old.push((sig, prev));
            }
        }
        Forwarding { old, seen }
    }

    fn set_target(&self, pid: u32) {
        TARGET.store(pid as i32, Ordering::SeqCst);
    }

    fn index(&self, sig: i32) -> Option<usize> {
        FORWARDED.iter().position(|&s| s == sig)
    }

    /// Brings `d` up to date with receipts of signal `k` since the last look.
    fn sync(&self, k: usize, d: &mut Dedup) {
        let n = RECEIPTS[k].load(Ordering::SeqCst);
        // Several receipts between two stops of the command collapse into the last, like
        // pending signals do.
        if n > self.seen[k].replace(n) {
            d.on_receipt(
                Origin::decode(SENDERS[k].load(Ordering::SeqCst)),
                Instant::now(),
            );
        }
    }
}

impl Drop for Forwarding {
    fn drop(&mut self) {
        TARGET.store(0, Ordering::SeqCst);
        for (sig, prev) in &self.old {
            // SAFETY: restores the action that was in place before `install`.
            let _ = unsafe { nix::sys::signal::sigaction(*sig, prev) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_delivery_per_signal_in_either_order() {
        let me = Origin::Pid(std::process::id() as i32);
        let t = Instant::now();
        // Ctrl-C: goroscope's receipt first, then its forwarded copy, then the group copy.
        let mut d = Dedup::default();
        d.on_receipt(Origin::Kernel, t);
        assert!(d.on_child_stop(me, t));
        assert!(!d.on_child_stop(Origin::Kernel, t));
        // The group copy reached the command before goroscope's handler ran.
        let mut d = Dedup::default();
        assert!(d.on_child_stop(Origin::Kernel, t));
        d.on_receipt(Origin::Kernel, t);
        assert!(!d.on_child_stop(me, t));
        // Only goroscope was signalled (`kill PID`): the forwarded copy is delivered.
        let mut d = Dedup::default();
        d.on_receipt(Origin::Pid(77), t);
        assert!(d.on_child_stop(me, t));
        // A second, later signal from the same sender is delivered again.
        d.on_receipt(Origin::Pid(77), t);
        assert!(d.on_child_stop(me, t));
        // Signals for the command alone are never held back.
        let mut d = Dedup::default();
        assert!(d.on_child_stop(Origin::Pid(5), t));
        assert!(d.on_child_stop(Origin::Pid(5), t));
        // An old copy does not pair with a much later receipt.
        let mut d = Dedup::default();
        assert!(d.on_child_stop(Origin::Kernel, t));
        d.on_receipt(Origin::Kernel, t + PAIR_WINDOW * 2);
        assert!(d.on_child_stop(me, t + PAIR_WINDOW * 2));
    }

    /// Issue 7, item 6: a refused PTRACE_SETOPTIONS is an error (it used to be ignored and
    /// the run then reported nothing), and the command is not left behind.
    #[test]
    fn refused_setoptions_is_an_error() {
        let bogus = Options::from_bits_retain(1 << 30);
        let e = run_with(&["/bin/true".into()], &AttachOptions::default(), bogus).unwrap_err();
        let m = e.to_string();
        assert!(m.contains("PTRACE_SETOPTIONS failed"), "{m}");
    }
}
