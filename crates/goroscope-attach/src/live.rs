//! Live processes: `/proc/PID/exe`, `process_vm_readv`, and the optional ptrace pause.

use crate::binary::GoBinary;
use crate::error::AttachError;
use crate::memory::LiveMemory;
use crate::walk::WalkOptions;
use crate::AttachOptions;
use goroscope_model::{Format, ProcessInfo, ProfileKind, Snapshot, Source};
use std::collections::HashMap;
use std::io;

fn ptrace_scope() -> String {
    std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "not set (no Yama)".into())
}

pub(crate) fn permission(pid: u32, detail: impl Into<String>) -> AttachError {
    AttachError::Permission {
        pid,
        scope: ptrace_scope(),
        detail: detail.into(),
        privilege: crate::error::Privilege::current(),
    }
}

pub(crate) fn alive(pid: u32) -> bool {
    // Not a zombie and still there.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rsplit_once(") ")
            .map(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// CLOCK_MONOTONIC now, which is what Go's `nanotime` reads.
pub(crate) fn monotonic_nanos() -> i64 {
    use nix::time::{clock_gettime, ClockId};
    clock_gettime(ClockId::CLOCK_MONOTONIC)
        .map(|ts| ts.tv_sec() * 1_000_000_000 + ts.tv_nsec())
        .unwrap_or(0)
}

/// What `/proc/PID/stat` says about a process that has no readable executable: a kernel
/// thread (no memory map at all) or a zombie.
fn why_no_exe(pid: u32) -> Option<AttachError> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (head, rest) = stat.rsplit_once(") ")?;
    let name = head.split_once(" (").map(|(_, n)| n).unwrap_or("?");
    let mut f = rest.split_whitespace();
    let state = f.next()?;
    let ppid: u32 = f.next()?.parse().ok()?;
    if state.starts_with('Z') || state.starts_with('X') {
        return Some(AttachError::Zombie {
            pid,
            parent: (ppid != 0).then_some(ppid),
        });
    }
    // PF_KTHREAD (0x00200000) in the flags field (the 9th, 7 after state and ppid).
    let flags: u64 = f.nth(5)?.parse().ok()?;
    if flags & 0x0020_0000 != 0 || ppid == 2 || pid == 2 {
        return Some(AttachError::KernelThread {
            pid,
            name: name.to_string(),
        });
    }
    None
}

/// The load bias of a PIE executable from `/proc/PID/maps` (0 for fixed-address executables).
fn load_bias(pid: u32, bin: &GoBinary) -> u64 {
    if !bin.pie {
        return 0;
    }
    let Ok(maps) = std::fs::read_to_string(format!("/proc/{pid}/maps")) else {
        return 0;
    };
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
    for line in maps.lines() {
        let mut it = line.split_whitespace();
        let (Some(range), Some(_perm), Some(off)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let path = it.nth(2).unwrap_or("");
        if off.trim_start_matches('0').is_empty() && exe == std::path::Path::new(path) {
            if let Some((lo, _)) = range.split_once('-') {
                let start = u64::from_str_radix(lo, 16).unwrap_or(0);
                return start.wrapping_sub(bin.base_vaddr);
            }
        }
    }
    0
}

/// Opens the target: its binary and a permission probe.
pub(crate) fn open(pid: u32) -> Result<(GoBinary, String, u64), AttachError> {
    if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
        return Err(AttachError::NoProcess { pid });
    }
    if let Some(e) = why_no_exe(pid) {
        return Err(e);
    }
    let exe_link = format!("/proc/{pid}/exe");
    let shown = std::fs::read_link(&exe_link)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| exe_link.clone());
    let bin = match GoBinary::load(std::path::Path::new(&exe_link)) {
        Ok(b) => b,
        Err(AttachError::Io { source, .. }) if source.kind() == io::ErrorKind::PermissionDenied => {
            return Err(permission(pid, format!("cannot open {exe_link}: {source}")))
        }
        Err(AttachError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
            return Err(why_no_exe(pid).unwrap_or(AttachError::NoProcess { pid }))
        }
        Err(AttachError::NotGo { .. }) => {
            return Err(AttachError::NotGo {
                what: format!("process {pid} ({shown})"),
            })
        }
        Err(e) => return Err(e),
    };
    let bias = load_bias(pid, &bin);
    // Probe one read to turn EPERM/ESRCH into clear errors.
    let (lo, _) = bin.pclntab.text_range();
    let mut b = [0u8; 8];
    let probe = LiveMemory { pid }.try_read(lo.wrapping_add(bias), &mut b);
    if let Err(e) = probe {
        use nix::errno::Errno;
        return Err(match e {
            Errno::EPERM | Errno::EACCES => {
                permission(pid, format!("process_vm_readv: {}", e.desc()))
            }
            Errno::ESRCH => why_no_exe(pid).unwrap_or(AttachError::NoProcess { pid }),
            Errno::ENOSYS => AttachError::unsupported(
                "process_vm_readv (blocked by a seccomp profile, or missing in this kernel)",
            ),
            e => AttachError::io(format!("reading process {pid}"), io::Error::from(e)),
        });
    }
    Ok((bin, shown, bias))
}

pub(crate) fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn snapshot_pid(
    pid: u32,
    bin: &GoBinary,
    shown: &str,
    bias: u64,
    opts: &AttachOptions,
    threads: HashMap<u64, (u64, u64)>,
) -> Result<Snapshot, AttachError> {
    let mem = LiveMemory { pid };
    let wopts = WalkOptions {
        system: opts.system,
        retries: opts.retries,
        now_nanos: Some(monotonic_nanos()),
        threads,
        ..WalkOptions::default()
    };
    let source = Source {
        input: format!("pid {pid}"),
        index: 0,
        line: None,
        format: Format::Attach,
        kind: ProfileKind::Goroutine,
    };
    let res = crate::snapshot_from_memory(bin, &mem, bias, wopts, source);
    if !alive(pid) {
        return Err(AttachError::Exited { pid });
    }
    let mut snap = res?;
    // A running process (`run` overrides this for a process at its exit stop).
    snap.context = Some(goroscope_model::Context::Live);
    snap.process = Some(ProcessInfo {
        pid: Some(pid),
        executable: Some(shown.to_string()),
        args: cmdline(pid),
    });
    Ok(snap)
}

pub fn attach_pid(pid: u32, opts: &AttachOptions) -> Result<Snapshot, AttachError> {
    attach_pid_with_stats(pid, opts).map(|(s, _)| s)
}

pub fn attach_pid_with_stats(
    pid: u32,
    opts: &AttachOptions,
) -> Result<(Snapshot, crate::AttachStats), AttachError> {
    let t0 = std::time::Instant::now();
    let (bin, shown, bias) = open(pid)?;
    let mut stats = crate::AttachStats {
        load: t0.elapsed(),
        ..Default::default()
    };
    let t1 = std::time::Instant::now();
    let snap = if !opts.pause {
        snapshot_pid(pid, &bin, &shown, bias, opts, HashMap::new())?
    } else {
        // Stopped only while copying the memory a snapshot needs; unwinding and symbolizing
        // run after the target has been resumed, over the copy.
        let live = LiveMemory { pid };
        let rec = crate::memory::RecordingMemory::new(&live);
        let t_prep = std::time::Instant::now();
        // Copy every goroutine while the target runs; while it is stopped only the `g`s and
        // the stacks of goroutines whose `g` changed since are read.
        let pre = if opts.precopy {
            crate::walk::Walker::new(&bin, &live, bias, WalkOptions::default())
                .pre_read()
                .ok()
        } else {
            None
        };
        // Touch the buffers the copy will need before stopping anything: g prefixes (with the
        // gaps between them) and the stacks' used parts (at most what the copy before read,
        // plus room for stacks that grew, else a generous 2 KiB a goroutine).
        if let Ok((_, n)) =
            crate::walk::Walker::new(&bin, &live, bias, WalkOptions::default()).allgs()
        {
            let n = n as usize;
            let stacks = match &pre {
                Some(p) => p.stack_bytes_len() + p.stack_bytes_len() / 8 + (1 << 20),
                None => n * 2048 + (1 << 20),
            };
            rec.prepare(&[n * bin.layout.g_size as usize + (64 << 10), stacks]);
        }
        stats.prepare = t_prep.elapsed();
        let t1 = std::time::Instant::now();
        let lock = crate::ptrace::ThreadLock::stop_all(pid)?;
        stats.threads = lock.thread_count();
        let threads = lock.registers();
        let wopts = WalkOptions {
            system: opts.system,
            retries: 0,
            now_nanos: Some(monotonic_nanos()),
            threads: threads.clone(),
            ..WalkOptions::default()
        };
        // Runtime goroutines' stacks are copied as well (a few more reads): telling them apart
        // looks up every goroutine's start function, which can wait until the target runs.
        let pre_opts = WalkOptions {
            system: true,
            ..wopts.clone()
        };
        let fetched =
            crate::walk::Walker::new(&bin, &rec, bias, pre_opts).prefetch_with(pre.as_ref());
        drop(lock);
        stats.paused = Some(t1.elapsed());
        let reused = fetched?;
        if let Some(pre) = &pre {
            for &i in &reused {
                if let Some((sp, buf, off, n)) = pre.stack(i) {
                    rec.record_if_absent(sp, buf, off, n);
                }
            }
        }
        stats.stacks_reused = reused.len();
        rec.start_replay();
        let source = Source {
            input: format!("pid {pid}"),
            index: 0,
            line: None,
            format: Format::Attach,
            kind: ProfileKind::Goroutine,
        };
        let mut snap = crate::snapshot_from_memory(&bin, &rec, bias, wopts, source)?;
        snap.context = Some(goroscope_model::Context::Live);
        snap.process = Some(ProcessInfo {
            pid: Some(pid),
            executable: Some(shown.to_string()),
            args: cmdline(pid),
        });
        snap
    };
    stats.read = t1.elapsed();
    stats.goroutines = snap.goroutines.len();
    Ok((snap, stats))
}
