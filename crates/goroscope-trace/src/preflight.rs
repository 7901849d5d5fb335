//! What tracing needs from the machine, checked before anything is loaded, so that a machine
//! without it gets one message naming everything missing.
//!
//! * privileges: root, or `CAP_BPF` + `CAP_PERFMON` (kernels ≥ 5.8; `CAP_SYS_ADMIN` covers
//!   both), to load BPF programs and open uprobe perf events;
//! * uprobes: the kernel's `uprobe` perf event source (`/sys/bus/event_source/devices/uprobe`),
//!   or, failing that, tracefs' `uprobe_events` (libbpf's legacy path);
//! * a kernel ≥ 5.15: BPF ring buffers (5.8), `bpf_get_ns_current_pid_tgid` (5.7) and attach
//!   cookies for uprobes (5.15).
//!
//! Kernel BTF is not needed: the BPF program reads Go structures at offsets computed in user
//! space, never kernel structures, so it has no CO-RE relocations.

use std::fmt;
use std::path::Path;

/// One missing requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// Neither root nor the capabilities.
    Privileges { have: String },
    /// No uprobe event source.
    Uprobes,
    /// Kernel too old.
    Kernel { release: String },
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Missing::Privileges { have } => write!(
                f,
                "CAP_BPF and CAP_PERFMON (or root) are needed to load BPF programs and open uprobes; this process has {have} (run with sudo, or give the binary the capabilities: `setcap cap_bpf,cap_perfmon,cap_sys_ptrace+ep goroscope`; in a container add them with --cap-add)"
            ),
            Missing::Uprobes => write!(
                f,
                "the kernel offers no uprobes (neither /sys/bus/event_source/devices/uprobe nor tracefs uprobe_events; a kernel built with CONFIG_UPROBE_EVENTS is needed)"
            ),
            Missing::Kernel { release } => write!(
                f,
                "kernel {release} is too old: BPF ring buffers and uprobe attach cookies need Linux 5.15 or later"
            ),
        }
    }
}

/// What the checks look at, gathered from the machine (or made up in tests).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub euid_root: bool,
    /// Effective capabilities (`CapEff` of `/proc/self/status`).
    pub cap_eff: u64,
    pub uprobe_pmu: bool,
    pub tracefs_uprobes: bool,
    /// `uname -r`.
    pub release: String,
}

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

impl Facts {
    /// This machine and process.
    pub fn gather() -> Facts {
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
        let cap_eff = field("CapEff:")
            .and_then(|v| u64::from_str_radix(&v, 16).ok())
            .unwrap_or(0);
        let tracefs_uprobes = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
            .iter()
            .any(|d| Path::new(d).join("uprobe_events").exists());
        Facts {
            euid_root,
            cap_eff,
            uprobe_pmu: Path::new("/sys/bus/event_source/devices/uprobe/type").exists(),
            tracefs_uprobes,
            release: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
        }
    }

    fn has(&self, cap: u32) -> bool {
        self.cap_eff & (1u64 << cap) != 0
    }

    /// Everything missing (empty: tracing can be tried).
    pub fn missing(&self) -> Vec<Missing> {
        let mut out = Vec::new();
        let caps = self.has(CAP_SYS_ADMIN) || (self.has(CAP_BPF) && self.has(CAP_PERFMON));
        if !caps {
            let names: Vec<&str> = [
                (CAP_SYS_ADMIN, "CAP_SYS_ADMIN"),
                (CAP_BPF, "CAP_BPF"),
                (CAP_PERFMON, "CAP_PERFMON"),
            ]
            .iter()
            .filter(|(c, _)| self.has(*c))
            .map(|(_, n)| *n)
            .collect();
            let have = match (self.euid_root, names.is_empty()) {
                (true, true) => {
                    "uid 0 without those capabilities (a container that dropped them?)".to_string()
                }
                (true, false) => format!("uid 0 with only {}", names.join(", ")),
                (false, true) => "no capabilities (not root)".to_string(),
                (false, false) => format!("only {}", names.join(", ")),
            };
            out.push(Missing::Privileges { have });
        }
        if !self.uprobe_pmu && !self.tracefs_uprobes {
            out.push(Missing::Uprobes);
        }
        if let Some((maj, min)) = kernel_version(&self.release) {
            if (maj, min) < (5, 15) {
                out.push(Missing::Kernel {
                    release: self.release.clone(),
                });
            }
        }
        out
    }
}

/// `6.18.44-fc-v1300` → (6, 18).
fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut it = release.split(|c: char| !c.is_ascii_digit());
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// Checks this machine; an error names everything missing.
pub fn check() -> Result<(), crate::TraceError> {
    let missing = Facts::gather().missing();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(crate::TraceError::Missing { missing })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> Facts {
        Facts {
            euid_root: true,
            cap_eff: u64::MAX >> 23,
            uprobe_pmu: true,
            tracefs_uprobes: true,
            release: "6.18.44-fc".into(),
        }
    }

    #[test]
    fn root_with_everything_may_trace() {
        assert_eq!(root().missing(), vec![]);
        // CAP_BPF + CAP_PERFMON without CAP_SYS_ADMIN is enough.
        let f = Facts {
            euid_root: false,
            cap_eff: (1 << CAP_BPF) | (1 << CAP_PERFMON),
            ..root()
        };
        assert_eq!(f.missing(), vec![]);
        // tracefs alone (no uprobe PMU) is libbpf's legacy path.
        let f = Facts {
            uprobe_pmu: false,
            ..root()
        };
        assert_eq!(f.missing(), vec![]);
    }

    #[test]
    fn every_missing_thing_is_named() {
        let f = Facts {
            euid_root: false,
            cap_eff: 1 << CAP_BPF,
            uprobe_pmu: false,
            tracefs_uprobes: false,
            release: "5.10.0-27-amd64".into(),
        };
        let m = f.missing();
        assert_eq!(m.len(), 3, "{m:?}");
        let text: Vec<String> = m.iter().map(|m| m.to_string()).collect();
        assert!(
            text[0].contains("CAP_PERFMON") && text[0].contains("only CAP_BPF"),
            "{}",
            text[0]
        );
        assert!(text[1].contains("uprobe"), "{}", text[1]);
        assert!(
            text[2].contains("5.10.0-27-amd64") && text[2].contains("5.15"),
            "{}",
            text[2]
        );
        let f = Facts {
            cap_eff: 0,
            ..root()
        };
        assert!(f.missing()[0].to_string().contains("uid 0 without"));
    }

    #[test]
    fn kernel_releases() {
        assert_eq!(kernel_version("6.18.44-fc-v1300"), Some((6, 18)));
        assert_eq!(kernel_version("5.4.0"), Some((5, 4)));
        assert_eq!(kernel_version("weird"), None);
    }
}
