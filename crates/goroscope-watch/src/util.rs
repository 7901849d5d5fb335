//! Small helpers: times as text, the watcher's own resource use, the file-descriptor limit.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Unix seconds as RFC 3339 (UTC, milliseconds).
pub fn rfc3339(secs: f64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs_f64(secs.max(0.0));
    humantime::format_rfc3339_millis(t).to_string()
}

pub fn rfc3339_now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// Unix seconds of a time.
pub fn secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Parses a time: `now`, `latest`, RFC 3339, unix seconds, or `-1h`/`1h ago` (relative to now).
pub fn parse_time(s: &str) -> Result<SystemTime, String> {
    let s = s.trim();
    if s.is_empty() || s == "now" || s == "latest" {
        return Ok(SystemTime::now());
    }
    if let Some(rel) = s.strip_prefix('-').or_else(|| s.strip_suffix(" ago")) {
        let d = crate::config::parse_duration(rel)?;
        return SystemTime::now()
            .checked_sub(d)
            .ok_or_else(|| format!("`{s}` is before the epoch"));
    }
    if let Ok(n) = s.parse::<f64>() {
        if n.is_finite() && n >= 0.0 {
            return Ok(UNIX_EPOCH + Duration::from_secs_f64(n));
        }
    }
    humantime::parse_rfc3339_weak(s).map_err(|_| {
        format!(
            "`{s}` is not a time: use now, -1h, RFC 3339 (2026-01-02T15:04:05Z) or unix seconds"
        )
    })
}

/// The watcher's own resource use.
#[derive(Debug, Clone, Copy, Default)]
pub struct SelfStats {
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
    pub open_fds: u64,
    pub threads: u64,
    pub start_time: f64,
}

/// Reads `/proc/self` (zeros elsewhere).
pub fn self_stats() -> SelfStats {
    let mut s = SelfStats::default();
    // SAFETY: sysconf has no memory-safety preconditions.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    // SAFETY: as above.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        if let Some(i) = stat.rfind(')') {
            let f: Vec<&str> = stat[i + 2..].split(' ').collect();
            let num = |n: usize| f.get(n).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
            s.cpu_seconds = (num(11) + num(12)) / tick;
            s.threads = num(17) as u64;
            s.rss_bytes = num(21) as u64 * page;
            let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|p| {
                p.lines().find_map(|l| {
                    l.strip_prefix("btime ")
                        .and_then(|v| v.trim().parse::<f64>().ok())
                })
            });
            if let Some(b) = boot {
                s.start_time = b + num(19) / tick;
            }
        }
    }
    if let Ok(d) = std::fs::read_dir("/proc/self/fd") {
        s.open_fds = d.count() as u64;
    }
    s
}

/// Caps glibc's malloc arenas: with a pool of blocking threads each poll may land on another
/// thread, and one arena per thread keeps freed memory resident (RSS grows for nothing).
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before the threads start.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Raises the soft open-files limit to the hard limit: one watcher keeps a connection to each
/// of its targets.
pub fn raise_fd_limit() {
    #[cfg(unix)]
    {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit write/read the struct we pass.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
                r.rlim_cur = r.rlim_max.min(1 << 20);
                let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(rfc3339(0.0), "1970-01-01T00:00:00.000Z");
        let t = parse_time("2026-01-02T15:04:05Z").unwrap();
        assert_eq!(secs(t), 1_767_366_245.0);
        assert!(parse_time("-1h").unwrap() < SystemTime::now());
        assert_eq!(secs(parse_time("1000").unwrap()), 1000.0);
        assert!(parse_time("yesterday-ish").is_err());
        let s = self_stats();
        assert!(s.rss_bytes > 0 && s.threads > 0);
    }
}
