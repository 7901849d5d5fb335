//! Errors, each naming what is missing or what refused, and the fix where there is one.

use goroscope_attach::AttachError;

/// Why tracing could not start or go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// This goroscope was built without the eBPF tracer (cargo feature `ebpf`).
    #[error("eBPF tracing is not built into this goroscope\n  fix: rebuild with the cargo feature `ebpf` (`cargo install --path crates/goroscope --features ebpf`; it needs clang, libelf-dev, zlib1g-dev and pkg-config at build time)")]
    NotBuiltIn,
    /// The machine or this process lacks what uprobes and BPF need.
    #[error("cannot trace on this machine: {}", missing.iter().map(|m| m.to_string()).collect::<Vec<_>>().join("; "))]
    Missing {
        missing: Vec<crate::preflight::Missing>,
    },
    /// The target could not be opened (no such process, not Go, no permission…).
    #[error("cannot open the target")]
    Target {
        #[source]
        source: AttachError,
    },
    /// No instruction the kernel emulates to probe in a runtime function.
    #[error("cannot place a probe in {function}: {reason}")]
    Placement { function: String, reason: String },
    /// Loading the BPF program or attaching a probe failed.
    #[error("{what}: {detail}")]
    Bpf { what: String, detail: String },
    /// Reading the target's goroutines (the live set's seed, the report's end snapshot) failed.
    #[error("reading the goroutines of process {pid}")]
    Snapshot {
        pid: u32,
        #[source]
        source: AttachError,
    },
}
