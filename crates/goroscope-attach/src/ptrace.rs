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

fn ptrace(req: libc::c_uint, tid: u32, data: usize) -> io::Result<()> {
    // SAFETY: requests used here take no pointer (or data is a valid pointer, see getregs).
    let r = unsafe { libc::ptrace(req, tid as libc::pid_t, 0usize, data) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn getregs(tid: u32) -> Option<(u64, u64)> {
    // SAFETY: user_regs_struct is plain data; the kernel fills it.
    let mut regs: libc::user_regs_struct = unsafe { std::mem::zeroed() };
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_GETREGS,
            tid as libc::pid_t,
            0usize,
            &mut regs as *mut _ as usize,
        )
    };
    (r >= 0).then_some((regs.rip, regs.rsp))
}

impl ThreadLock {
    /// Seizes and interrupts every thread of `pid`.
    pub fn stop_all(pid: u32) -> Result<ThreadLock, AttachError> {
        let mut lock = ThreadLock {
            pid,
            threads: BTreeMap::new(),
        };
        for _round in 0..100 {
            let list = tids(pid).map_err(|_| AttachError::NoProcess(pid))?;
            let new: Vec<u32> = list
                .into_iter()
                .filter(|t| !lock.threads.contains_key(t))
                .collect();
            if new.is_empty() {
                return Ok(lock);
            }
            for tid in new {
                match ptrace(libc::PTRACE_SEIZE, tid, 0) {
                    Ok(()) => {}
                    // The thread exited between listing and seizing.
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => continue,
                    Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                        if lock.threads.is_empty() {
                            return Err(crate::live::permission(
                                pid,
                                format!("PTRACE_SEIZE: {e} (already traced by a debugger?)"),
                            ));
                        }
                        continue;
                    }
                    Err(e) => return Err(AttachError::io(format!("PTRACE_SEIZE thread {tid}"), e)),
                }
                lock.threads.insert(tid, (0, None));
                if ptrace(libc::PTRACE_INTERRUPT, tid, 0).is_err() {
                    continue;
                }
                // Wait for the stop: a PTRACE_EVENT_STOP, or a signal-delivery stop (kept and
                // re-delivered on detach).
                let mut status = 0;
                loop {
                    // SAFETY: status is a valid out-pointer.
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
            let _ = ptrace(libc::PTRACE_DETACH, tid, sig as usize);
        }
    }
}
