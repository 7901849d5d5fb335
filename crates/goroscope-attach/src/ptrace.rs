//! Stopping every thread of a process with `PTRACE_SEIZE` + `PTRACE_INTERRUPT` (looping until
//! no new thread appears), and always detaching. If goroscope dies while holding the lock
//! (Ctrl-C, SIGKILL), the kernel detaches the seized threads and they carry on.

use crate::error::AttachError;
use std::collections::{BTreeMap, HashMap};
use std::io;

/// Every thread of a process, stopped; resumed on drop.
pub struct ThreadLock {
    pid: u32,
    /// tid → signal to re-deliver on detach (0 for none), and registers `(rip, rsp)`.
    threads: BTreeMap<u32, (i32, Option<(u64, u64)>)>,
}

fn tids(pid: u32) -> io::Result<Vec<u32>> {
    let mut v: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    v.sort_unstable();
    Ok(v)
}

fn pid(tid: u32) -> nix::unistd::Pid {
    nix::unistd::Pid::from_raw(tid as i32)
}

/// Detaches, re-delivering `sig` (0: none). Raw, because `sig` may be a real-time signal that
/// `nix`'s `Signal` cannot name.
fn detach(tid: u32, sig: i32) {
    // SAFETY: PTRACE_DETACH reads no memory of ours: addr is ignored, data is a signal number.
    unsafe {
        libc::ptrace(
            libc::PTRACE_DETACH,
            tid as libc::pid_t,
            0usize,
            sig as usize,
        )
    };
}

fn getregs(tid: u32) -> Option<(u64, u64)> {
    nix::sys::ptrace::getregs(pid(tid))
        .ok()
        .map(|r| (r.rip, r.rsp))
}

impl ThreadLock {
    /// Seizes and interrupts every thread of `pid`.
    pub fn stop_all(pid: u32) -> Result<ThreadLock, AttachError> {
        let mut lock = ThreadLock {
            pid,
            threads: BTreeMap::new(),
        };
        for _round in 0..100 {
            let list = tids(pid).map_err(|_| AttachError::NoProcess { pid })?;
            let new: Vec<u32> = list
                .into_iter()
                .filter(|t| !lock.threads.contains_key(t))
                .collect();
            if new.is_empty() {
                return Ok(lock);
            }
            for tid in new {
                use nix::errno::Errno;
                match nix::sys::ptrace::seize(self::pid(tid), nix::sys::ptrace::Options::empty()) {
                    Ok(()) => {}
                    // The thread exited between listing and seizing.
                    Err(Errno::ESRCH) => continue,
                    Err(Errno::EPERM) => {
                        if lock.threads.is_empty() {
                            return Err(crate::live::permission(
                                pid,
                                "PTRACE_SEIZE: operation not permitted (already traced by a debugger?)",
                            ));
                        }
                        continue;
                    }
                    Err(e) => {
                        return Err(AttachError::io(
                            format!("PTRACE_SEIZE thread {tid}"),
                            io::Error::from(e),
                        ))
                    }
                }
                lock.threads.insert(tid, (0, None));
                if nix::sys::ptrace::interrupt(self::pid(tid)).is_err() {
                    continue;
                }
                // Wait for the stop: a PTRACE_EVENT_STOP, or a signal-delivery stop (kept and
                // re-delivered on detach).
                let mut status = 0;
                loop {
                    // SAFETY: status is a valid out-pointer (a local). Raw, not nix's waitpid:
                    // a stop by a real-time signal must be seen, not turned into an error.
                    let r = unsafe { libc::waitpid(tid as libc::pid_t, &mut status, libc::__WALL) };
                    if r < 0 {
                        let e = io::Error::last_os_error();
                        if e.kind() == io::ErrorKind::Interrupted {
                            continue;
                        }
                        break;
                    }
                    if libc::WIFSTOPPED(status) {
                        let sig = libc::WSTOPSIG(status);
                        let event = (status >> 16) & 0xff;
                        let entry = lock.threads.get_mut(&tid).unwrap();
                        if event == 0 && sig != libc::SIGTRAP {
                            entry.0 = sig;
                        }
                        entry.1 = getregs(tid);
                    } else {
                        // Exited.
                        lock.threads.remove(&tid);
                    }
                    break;
                }
            }
        }
        Ok(lock)
    }

    /// `(rip, rsp)` of every stopped thread, by thread id (= `m.procid`).
    pub fn registers(&self) -> HashMap<u64, (u64, u64)> {
        self.threads
            .iter()
            .filter_map(|(&t, &(_, r))| Some((t as u64, r?)))
            .collect()
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn thread_count(&self) -> usize {
        self.threads.len()
    }
}

impl Drop for ThreadLock {
    fn drop(&mut self) {
        for (&tid, &(sig, _)) in &self.threads {
            detach(tid, sig);
        }
    }
}
