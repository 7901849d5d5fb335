//! Processes the check starts: the service (`--start`) and the workload. Each runs in a
//! process group of its own, so stopping it reaches whatever it started too; the service is
//! stopped gracefully (SIGTERM, then SIGKILL after the grace period) however the check ends.

use crate::error::{CheckError, OutputTail};
use crate::options::ServiceOptions;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// Lines of a process's output shown in an error.
pub const TAIL_LINES: usize = 20;
const TAIL_BYTES: u64 = 4096;

/// How often a running child is looked at (exit, interrupt, deadline).
const LOOK: Duration = Duration::from_millis(20);

static SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    SIGNAL.store(sig, Ordering::SeqCst);
}

/// Makes SIGINT, SIGTERM and SIGHUP end a running check cleanly: the check notices within a
/// few tens of milliseconds, stops the workload and the service it started (which run in
/// process groups of their own, so a Ctrl-C does not reach them), and returns
/// [`CheckError::Interrupted`]. Call it once, before [`crate::check`]; without it those
/// signals end the process the default way (and a started service keeps running).
pub fn stop_on_signals() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: installs an async-signal-safe handler (one atomic store) with an
        // initialised sigaction; no other state is touched.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// The signal that interrupted the check, if any.
pub(crate) fn interrupted() -> Result<(), CheckError> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => Ok(()),
        s => Err(CheckError::Interrupted(signal_name(s))),
    }
}

/// Sleeps `d`, noticing an interrupt within [`LOOK`].
pub(crate) fn pause(d: Duration) -> Result<(), CheckError> {
    let end = Instant::now() + d;
    loop {
        interrupted()?;
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(LOOK));
    }
}

pub(crate) fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}

/// `exit status 3`, `signal 15 (SIGTERM)`.
pub(crate) fn describe_status(st: ExitStatus) -> String {
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("signal {s} ({})", signal_name(s)),
        _ => st.to_string(),
    }
}

fn signal_group(pgid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) on a process group this check created (its leader is our child).
    unsafe {
        libc::kill(-(pgid as libc::pid_t), sig);
    }
}

/// Live members of process group `pgid` (from /proc). Zombies are left out: they no longer
/// run, and a member whose parent is not the check (a service under a shell that died) is
/// reaped by init, whenever init gets to it.
pub(crate) fn group_members(pgid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp …: comm may hold spaces and parentheses.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut f = rest.split_whitespace();
        let (state, _ppid, pgrp) = (f.next(), f.next(), f.next());
        if state != Some("Z") && pgrp.and_then(|g| g.parse::<u32>().ok()) == Some(pgid) {
            out.push(pid);
        }
    }
    out.sort_unstable();
    out
}

/// The last lines of a file, control characters (but tab and newline) replaced by `?`.
pub(crate) fn tail(stream: &str, file: &Path) -> OutputTail {
    let text = read_tail(file).unwrap_or_else(|e| format!("(cannot read it: {e})"));
    OutputTail {
        stream: stream.to_string(),
        file: file.to_path_buf(),
        text,
    }
}

fn read_tail(file: &Path) -> io::Result<String> {
    let mut f = File::open(file)?;
    let len = f.metadata()?.len();
    let start = len.saturating_sub(TAIL_BYTES);
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    f.take(TAIL_BYTES).read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let mut lines: Vec<&str> = text.lines().collect();
    if start > 0 && !lines.is_empty() {
        lines.remove(0); // a partial first line
    }
    let keep = lines.len().saturating_sub(TAIL_LINES);
    Ok(lines[keep..]
        .iter()
        .map(|l| {
            l.chars()
                .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

/// How a started service ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stopped {
    pub by: &'static str,
    pub took: Duration,
    pub exit: String,
    pub left_behind: Vec<u32>,
}

/// A service started with `sh -c COMMAND` in its own process group. Dropping it stops it.
pub(crate) struct Service {
    child: Child,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    stop_timeout: Duration,
    status: Option<ExitStatus>,
    stopped: Option<Stopped>,
}

impl Service {
    pub fn start(opts: &ServiceOptions, dir: &Path) -> Result<Service, CheckError> {
        let stdout = dir.join("service.stdout");
        let stderr = dir.join("service.stderr");
        let create = |p: &Path| {
            File::create(p).map_err(|e| CheckError::io(format!("creating {}", p.display()), e))
        };
        let (out, err) = (create(&stdout)?, create(&stderr)?);
        let child = Command::new("sh")
            .arg("-c")
            .arg(&opts.command)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|source| CheckError::StartService { source })?;
        tracing::info!(
            "started the service: pid {} (output in {})",
            child.id(),
            dir.display()
        );
        Ok(Service {
            child,
            stdout,
            stderr,
            stop_timeout: opts.stop_timeout,
            status: None,
            stopped: None,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    pub fn output(&self) -> Vec<OutputTail> {
        vec![tail("stderr", &self.stderr), tail("stdout", &self.stdout)]
    }

    /// An error when the service has exited (`when`: `before it was ready`, `during run 2`).
    pub fn check_alive(&mut self, when: &str) -> Result<(), CheckError> {
        match self.exited() {
            None => Ok(()),
            Some(st) => Err(CheckError::ServiceExited {
                when: when.to_string(),
                status: describe_status(st),
                output: self.output(),
            }),
        }
    }

    /// Stops the whole process group: SIGTERM, then SIGKILL once the grace period is over.
    /// Returns how (once; later calls return the same).
    pub fn stop(&mut self) -> Stopped {
        if let Some(s) = &self.stopped {
            return s.clone();
        }
        let pgid = self.child.id();
        let start = Instant::now();
        let already = self.exited().is_some();
        let mut by = if already { "exited" } else { "sigterm" };
        if !already || !group_members(pgid).is_empty() {
            signal_group(pgid, libc::SIGTERM);
        }
        let deadline = start + self.stop_timeout;
        let gone = |s: &mut Service| s.exited().is_some() && group_members(pgid).is_empty();
        while !gone(self) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if !gone(self) {
            tracing::warn!(
                "the service did not stop within {:?} of SIGTERM: sending SIGKILL",
                self.stop_timeout
            );
            by = "sigkill";
            signal_group(pgid, libc::SIGKILL);
            if self.status.is_none() {
                self.status = self.child.wait().ok();
            }
            let end = Instant::now() + Duration::from_secs(5);
            while !group_members(pgid).is_empty() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let left_behind = group_members(pgid);
        if !left_behind.is_empty() {
            tracing::warn!(
                "processes of the service's group are still there after SIGKILL: {left_behind:?}"
            );
        }
        let s = Stopped {
            by,
            took: start.elapsed(),
            exit: self
                .status
                .map(describe_status)
                .unwrap_or_else(|| "unknown".into()),
            left_behind,
        };
        tracing::info!("stopped the service: {} ({:?})", s.exit, s.took);
        self.stopped = Some(s.clone());
        s
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

#[derive(Debug)]
/// One workload run's result.
pub(crate) struct Ran {
    pub took: Duration,
    /// Processes the workload left running in its group (stopped by the check).
    pub leftovers: usize,
}

/// Runs the workload once, in its own process group, its output (both streams) in
/// `dir/workload-run-N.log`. A non-zero exit, a failure to start, or the timeout is an error.
pub(crate) fn run_workload(
    command: &[OsString],
    run: u32,
    dir: &Path,
    timeout: Option<Duration>,
) -> Result<Ran, CheckError> {
    let log = dir.join(format!("workload-run-{run}.log"));
    let file =
        File::create(&log).map_err(|e| CheckError::io(format!("creating {}", log.display()), e))?;
    let err = file
        .try_clone()
        .map_err(|e| CheckError::io(format!("opening {}", log.display()), e))?;
    let program = command[0].to_string_lossy().into_owned();
    let start = Instant::now();
    let mut child = Command::new(&command[0])
        .args(&command[1..])
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|source| CheckError::WorkloadStart {
            program: program.clone(),
            source,
        })?;
    let pgid = child.id();
    let status = loop {
        if let Some(st) = child
            .try_wait()
            .map_err(|e| CheckError::io("waiting for the workload", e))?
        {
            break st;
        }
        if let Err(e) = interrupted() {
            kill_group(&mut child, pgid);
            return Err(e);
        }
        if let Some(t) = timeout {
            if start.elapsed() >= t {
                kill_group(&mut child, pgid);
                return Err(CheckError::WorkloadTimeout {
                    run,
                    timeout: t,
                    tail: tail("output", &log),
                });
            }
        }
        std::thread::sleep(LOOK);
    };
    let took = start.elapsed();
    // Whatever it left running in its group would keep loading the service.
    let leftovers = group_members(pgid).len();
    if leftovers > 0 {
        signal_group(pgid, libc::SIGTERM);
        let end = Instant::now() + Duration::from_secs(5);
        while !group_members(pgid).is_empty() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
        signal_group(pgid, libc::SIGKILL);
    }
    if !status.success() {
        return Err(CheckError::WorkloadFailed {
            run,
            status: describe_status(status),
            tail: tail("output", &log),
        });
    }
    Ok(Ran { took, leftovers })
}

/// SIGTERM to a workload's group, SIGKILL after two seconds, and reap.
fn kill_group(child: &mut Child, pgid: u32) {
    signal_group(pgid, libc::SIGTERM);
    let end = Instant::now() + Duration::from_secs(2);
    while Instant::now() < end {
        if let Ok(Some(_)) = child.try_wait() {
            if group_members(pgid).is_empty() {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    signal_group(pgid, libc::SIGKILL);
    let _ = child.wait();
}

/// Direct children of `pid` (every thread's `children` file).
pub(crate) fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(s.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_keep_the_last_lines_and_hide_controls() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out");
        let mut text = String::new();
        for i in 0..100 {
            text.push_str(&format!("line {i}\n"));
        }
        text.push_str("bell\u{7}\u{1b}[31mred\n");
        std::fs::write(&p, &text).unwrap();
        let t = tail("stderr", &p);
        let lines: Vec<&str> = t.text.lines().collect();
        assert_eq!(lines.len(), TAIL_LINES);
        assert_eq!(lines[0], "line 81");
        assert_eq!(lines[TAIL_LINES - 1], "bell??[31mred");
        // Bigger than the byte budget: the partial first line is dropped.
        std::fs::write(&p, "x".repeat(10_000) + "\nlast\n").unwrap();
        assert_eq!(tail("stdout", &p).text, "last");
        std::fs::write(&p, "").unwrap();
        assert!(tail("stdout", &p).to_string().contains("(empty)"));
        let missing = tail("stdout", &dir.path().join("nope"));
        assert!(missing.text.starts_with("(cannot read it:"), "{missing}");
    }

    #[test]
    fn a_stopped_service_leaves_no_process_behind() {
        let dir = tempfile::tempdir().unwrap();
        // A shell that starts a background child and ignores SIGTERM itself: the stop must
        // escalate to SIGKILL and take the child too.
        let opts = ServiceOptions {
            stop_timeout: Duration::from_millis(300),
            ..ServiceOptions::new("trap '' TERM; sleep 600 & echo started; wait")
        };
        let mut s = Service::start(&opts, dir.path()).unwrap();
        let pgid = s.pid();
        // Wait until the background sleep exists (looking, not sleeping a fixed time).
        let end = Instant::now() + Duration::from_secs(30);
        while group_members(pgid).len() < 2 {
            assert!(Instant::now() < end, "the shell never started its child");
            std::thread::sleep(Duration::from_millis(5));
        }
        let stopped = s.stop();
        // sleep dies of SIGTERM, the shell ignores it and is killed.
        assert_eq!(stopped.by, "sigkill", "{stopped:?}");
        assert!(stopped.left_behind.is_empty(), "{stopped:?}");
        assert!(group_members(pgid).is_empty());
        assert_eq!(s.stop(), stopped, "stop is idempotent");
    }

    #[test]
    fn a_service_that_exits_is_an_error_with_its_output() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Service::start(
            &ServiceOptions::new("echo listening failed >&2; echo hello; exit 3"),
            dir.path(),
        )
        .unwrap();
        let end = Instant::now() + Duration::from_secs(30);
        while s.exited().is_none() {
            assert!(Instant::now() < end);
            std::thread::sleep(Duration::from_millis(5));
        }
        let e = s
            .check_alive("before it was ready")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("the service exited before it was ready (exit status 3)"),
            "{e}"
        );
        assert!(e.contains("    listening failed"), "{e}");
        assert!(e.contains("    hello"), "{e}");
        assert_eq!(s.stop().by, "exited");
    }

    #[test]
    fn workloads_fail_with_their_output() {
        let dir = tempfile::tempdir().unwrap();
        let sh = |script: &str| -> Vec<OsString> { vec!["sh".into(), "-c".into(), script.into()] };
        let ok = run_workload(&sh("echo fine"), 1, dir.path(), None).unwrap();
        assert_eq!(ok.leftovers, 0);
        let e = run_workload(&sh("echo 503 from /order >&2; exit 4"), 2, dir.path(), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("the workload failed in run 2 (exit status 4)"),
            "{e}"
        );
        assert!(e.contains("503 from /order"), "{e}");
        assert!(e.contains("workload-run-2.log"), "{e}");
        let e = run_workload(&["/nonexistent/load-test".into()], 1, dir.path(), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("cannot start the workload `/nonexistent/load-test`"),
            "{e}"
        );
        let e = run_workload(
            &sh("echo slow; exec sleep 600"),
            3,
            dir.path(),
            Some(Duration::from_millis(200)),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("did not finish within 200ms in run 3"), "{e}");
        assert!(e.contains("slow"), "{e}");
    }

    #[test]
    fn statuses_read_well() {
        let st = ExitStatus::from_raw(3 << 8);
        assert_eq!(describe_status(st), "exit status 3");
        let st = ExitStatus::from_raw(libc::SIGTERM);
        assert_eq!(describe_status(st), "signal 15 (SIGTERM)");
    }
}
