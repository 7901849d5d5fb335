//! The wire format: the header, event type numbers and how many arguments each event has.
//!
//! Numbers and argument lists follow `internal/trace/tracev2/events.go` (Go 1.25+) and
//! `internal/trace/event/go122` (Go 1.22–1.24); they did not change between releases, events
//! were only added.

use std::fmt;

/// The format version a trace's header names: `go 1.NN trace\0\0\0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// Go 1.22.
    Go122,
    /// Go 1.23 and 1.24: coroutine switches, goroutine status with a stack.
    Go123,
    /// Go 1.25: sync batches with a clock snapshot (and the flight recorder).
    Go125,
    /// Go 1.26 and later: an explicit end-of-generation signal.
    Go126,
}

impl Version {
    /// The minor release number in the header (22 for `go 1.22 trace`).
    pub fn minor(self) -> u32 {
        match self {
            Version::Go122 => 22,
            Version::Go123 => 23,
            Version::Go125 => 25,
            Version::Go126 => 26,
        }
    }

    /// The highest event type this version may contain (experimental events aside).
    pub(crate) fn max_event(self) -> u8 {
        match self {
            Version::Go122 => EV_USER_LOG,
            Version::Go123 => EV_EXPERIMENTAL_BATCH,
            Version::Go125 => EV_CLOCK_SNAPSHOT,
            Version::Go126 => EV_END_OF_GENERATION,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "go 1.{}", self.minor())
    }
}

/// Length of the header: `go 1.22 trace\0\0\0`.
pub const HEADER_LEN: usize = 16;

/// What a header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Header {
    /// A generation-based trace this crate reads.
    Supported(Version),
    /// The format of Go 1.5–1.21 (`go 1.NN trace`, NN ≤ 21).
    Old(u32),
    /// A newer (or unknown) generation-based version.
    Unknown(u32),
}

/// Parses the 16-byte header; `None` when it is not an execution trace header at all.
pub(crate) fn parse_header(b: &[u8]) -> Option<Header> {
    let b = b.get(..HEADER_LEN)?;
    let rest = b.strip_prefix(b"go 1.")?;
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || digits > 3 {
        return None;
    }
    let tail = &rest[digits..];
    // "go 1.5 trace\0\0\0\0" (old releases pad with one more NUL) or "go 1.22 trace\0\0\0".
    let tail = tail.strip_prefix(b" trace")?;
    if tail.is_empty() || tail.iter().any(|&c| c != 0) {
        return None;
    }
    let minor: u32 = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    Some(match minor {
        22 => Header::Supported(Version::Go122),
        23 => Header::Supported(Version::Go123),
        25 => Header::Supported(Version::Go125),
        26 => Header::Supported(Version::Go126),
        0..=21 => Header::Old(minor),
        n => Header::Unknown(n),
    })
}

// Structural events.
pub(crate) const EV_EVENT_BATCH: u8 = 1;
pub(crate) const EV_STACKS: u8 = 2;
pub(crate) const EV_STACK: u8 = 3;
pub(crate) const EV_STRINGS: u8 = 4;
pub(crate) const EV_STRING: u8 = 5;
pub(crate) const EV_CPU_SAMPLES: u8 = 6;
pub(crate) const EV_CPU_SAMPLE: u8 = 7;
pub(crate) const EV_FREQUENCY: u8 = 8;
// Procs.
pub(crate) const EV_PROCS_CHANGE: u8 = 9;
pub(crate) const EV_PROC_START: u8 = 10;
pub(crate) const EV_PROC_STOP: u8 = 11;
pub(crate) const EV_PROC_STEAL: u8 = 12;
pub(crate) const EV_PROC_STATUS: u8 = 13;
// Goroutines.
pub(crate) const EV_GO_CREATE: u8 = 14;
pub(crate) const EV_GO_CREATE_SYSCALL: u8 = 15;
pub(crate) const EV_GO_START: u8 = 16;
pub(crate) const EV_GO_DESTROY: u8 = 17;
pub(crate) const EV_GO_DESTROY_SYSCALL: u8 = 18;
pub(crate) const EV_GO_STOP: u8 = 19;
pub(crate) const EV_GO_BLOCK: u8 = 20;
pub(crate) const EV_GO_UNBLOCK: u8 = 21;
pub(crate) const EV_GO_SYSCALL_BEGIN: u8 = 22;
pub(crate) const EV_GO_SYSCALL_END: u8 = 23;
pub(crate) const EV_GO_SYSCALL_END_BLOCKED: u8 = 24;
pub(crate) const EV_GO_STATUS: u8 = 25;
// STW.
pub(crate) const EV_STW_BEGIN: u8 = 26;
pub(crate) const EV_STW_END: u8 = 27;
// GC.
pub(crate) const EV_GC_ACTIVE: u8 = 28;
pub(crate) const EV_GC_BEGIN: u8 = 29;
pub(crate) const EV_GC_END: u8 = 30;
pub(crate) const EV_GC_SWEEP_ACTIVE: u8 = 31;
pub(crate) const EV_GC_SWEEP_BEGIN: u8 = 32;
pub(crate) const EV_GC_SWEEP_END: u8 = 33;
pub(crate) const EV_GC_MARK_ASSIST_ACTIVE: u8 = 34;
pub(crate) const EV_GC_MARK_ASSIST_BEGIN: u8 = 35;
pub(crate) const EV_GC_MARK_ASSIST_END: u8 = 36;
pub(crate) const EV_HEAP_ALLOC: u8 = 37;
pub(crate) const EV_HEAP_GOAL: u8 = 38;
// Annotations.
pub(crate) const EV_GO_LABEL: u8 = 39;
pub(crate) const EV_USER_TASK_BEGIN: u8 = 40;
pub(crate) const EV_USER_TASK_END: u8 = 41;
pub(crate) const EV_USER_REGION_BEGIN: u8 = 42;
pub(crate) const EV_USER_REGION_END: u8 = 43;
pub(crate) const EV_USER_LOG: u8 = 44;
// Go 1.23.
pub(crate) const EV_GO_SWITCH: u8 = 45;
pub(crate) const EV_GO_SWITCH_DESTROY: u8 = 46;
pub(crate) const EV_GO_CREATE_BLOCKED: u8 = 47;
pub(crate) const EV_GO_STATUS_STACK: u8 = 48;
pub(crate) const EV_EXPERIMENTAL_BATCH: u8 = 49;
// Go 1.25.
pub(crate) const EV_SYNC: u8 = 50;
pub(crate) const EV_CLOCK_SNAPSHOT: u8 = 51;
// Go 1.26.
pub(crate) const EV_END_OF_GENERATION: u8 = 52;
// Experimental events (Go 1.23+, GOEXPERIMENT=allocheapprofile and friends): 128..=136.
pub(crate) const EV_EXPERIMENTAL_FIRST: u8 = 128;
pub(crate) const EV_EXPERIMENTAL_LAST: u8 = 136;

/// Largest batch the runtime writes (`tracev2.MaxBatchSize`).
pub(crate) const MAX_BATCH_SIZE: u64 = 64 << 10;
/// Largest stack (`tracev2.MaxFramesPerStack`).
pub(crate) const MAX_FRAMES_PER_STACK: u64 = 128;
/// Largest string (`tracev2.MaxEventTrailerDataSize`).
pub(crate) const MAX_STRING_SIZE: u64 = 1 << 10;

/// Number of arguments of a timed event, the timestamp delta included; `None` when `typ` is
/// not a timed event of `version`.
pub(crate) fn timed_args(typ: u8, version: Version) -> Option<usize> {
    if (EV_EXPERIMENTAL_FIRST..=EV_EXPERIMENTAL_LAST).contains(&typ) {
        if version < Version::Go123 {
            return None;
        }
        return Some(match typ - EV_EXPERIMENTAL_FIRST {
            0 | 1 => 4, // Span, SpanAlloc
            2 => 2,     // SpanFree
            3 | 4 => 3, // HeapObject, HeapObjectAlloc
            5 => 2,     // HeapObjectFree
            6 | 7 => 3, // GoroutineStack, GoroutineStackAlloc
            _ => 2,     // GoroutineStackFree
        });
    }
    if typ > version.max_event() {
        return None;
    }
    Some(match typ {
        EV_PROCS_CHANGE | EV_PROC_START | EV_PROC_STATUS => 3,
        EV_PROC_STOP => 1,
        EV_PROC_STEAL => 4,
        EV_GO_CREATE | EV_GO_CREATE_BLOCKED => 4,
        EV_GO_CREATE_SYSCALL => 2,
        EV_GO_START => 3,
        EV_GO_DESTROY | EV_GO_DESTROY_SYSCALL => 1,
        EV_GO_STOP | EV_GO_BLOCK => 3,
        EV_GO_UNBLOCK => 4,
        EV_GO_SYSCALL_BEGIN => 3,
        EV_GO_SYSCALL_END | EV_GO_SYSCALL_END_BLOCKED => 1,
        EV_GO_STATUS => 4,
        EV_STW_BEGIN => 3,
        EV_STW_END => 1,
        EV_GC_ACTIVE => 2,
        EV_GC_BEGIN => 3,
        EV_GC_END => 2,
        EV_GC_SWEEP_ACTIVE | EV_GC_SWEEP_BEGIN => 2,
        EV_GC_SWEEP_END => 3,
        EV_GC_MARK_ASSIST_ACTIVE | EV_GC_MARK_ASSIST_BEGIN => 2,
        EV_GC_MARK_ASSIST_END => 1,
        EV_HEAP_ALLOC | EV_HEAP_GOAL => 2,
        EV_GO_LABEL => 2,
        EV_USER_TASK_BEGIN => 5,
        EV_USER_TASK_END => 3,
        EV_USER_REGION_BEGIN | EV_USER_REGION_END => 4,
        EV_USER_LOG => 5,
        EV_GO_SWITCH | EV_GO_SWITCH_DESTROY => 3,
        EV_GO_STATUS_STACK => 5,
        EV_CLOCK_SNAPSHOT => 4,
        _ => return None,
    })
}

/// The name of an event type, for error messages.
pub(crate) fn event_name(typ: u8) -> &'static str {
    const NAMES: [&str; 53] = [
        "None",
        "EventBatch",
        "Stacks",
        "Stack",
        "Strings",
        "String",
        "CPUSamples",
        "CPUSample",
        "Frequency",
        "ProcsChange",
        "ProcStart",
        "ProcStop",
        "ProcSteal",
        "ProcStatus",
        "GoCreate",
        "GoCreateSyscall",
        "GoStart",
        "GoDestroy",
        "GoDestroySyscall",
        "GoStop",
        "GoBlock",
        "GoUnblock",
        "GoSyscallBegin",
        "GoSyscallEnd",
        "GoSyscallEndBlocked",
        "GoStatus",
        "STWBegin",
        "STWEnd",
        "GCActive",
        "GCBegin",
        "GCEnd",
        "GCSweepActive",
        "GCSweepBegin",
        "GCSweepEnd",
        "GCMarkAssistActive",
        "GCMarkAssistBegin",
        "GCMarkAssistEnd",
        "HeapAlloc",
        "HeapGoal",
        "GoLabel",
        "UserTaskBegin",
        "UserTaskEnd",
        "UserRegionBegin",
        "UserRegionEnd",
        "UserLog",
        "GoSwitch",
        "GoSwitchDestroy",
        "GoCreateBlocked",
        "GoStatusStack",
        "ExperimentalBatch",
        "Sync",
        "ClockSnapshot",
        "EndOfGeneration",
    ];
    match NAMES.get(typ as usize) {
        Some(n) => n,
        None if (EV_EXPERIMENTAL_FIRST..=EV_EXPERIMENTAL_LAST).contains(&typ) => "Experimental",
        None => "Invalid",
    }
}

/// Decodes an unsigned LEB128 varint (at most 10 bytes, as Go's `binary.Uvarint`) from `b`,
/// returning the value and the bytes used; `None` when `b` ends first or the value overflows.
#[inline]
pub(crate) fn uvarint(b: &[u8]) -> Option<(u64, usize)> {
    match b.first() {
        Some(&v) if v < 0x80 => return Some((v as u64, 1)),
        None => return None,
        _ => {}
    }
    let mut x: u64 = 0;
    let mut s: u32 = 0;
    for (i, &byte) in b.iter().enumerate() {
        if i == 10 {
            return None;
        }
        if byte < 0x80 {
            if i == 9 && byte > 1 {
                return None;
            }
            return Some((x | (byte as u64) << s, i + 1));
        }
        x |= ((byte & 0x7f) as u64) << s;
        s += 7;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        assert_eq!(
            parse_header(b"go 1.22 trace\0\0\0"),
            Some(Header::Supported(Version::Go122))
        );
        assert_eq!(
            parse_header(b"go 1.26 trace\0\0\0rest"),
            Some(Header::Supported(Version::Go126))
        );
        assert_eq!(parse_header(b"go 1.21 trace\0\0\0"), Some(Header::Old(21)));
        assert_eq!(parse_header(b"go 1.5 trace\0\0\0\0"), Some(Header::Old(5)));
        assert_eq!(
            parse_header(b"go 1.31 trace\0\0\0"),
            Some(Header::Unknown(31))
        );
        assert_eq!(parse_header(b"go 1.22 trace\0\0x"), None);
        assert_eq!(parse_header(b"go 1.22 trace"), None);
        assert_eq!(parse_header(b"goroutine 1 [running]:\n"), None);
    }

    #[test]
    fn varints() {
        assert_eq!(uvarint(&[0x00]), Some((0, 1)));
        assert_eq!(uvarint(&[0x96, 0x01]), Some((150, 2)));
        assert_eq!(uvarint(&[0x80]), None);
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(uvarint(&max), Some((u64::MAX, 10)));
        let over = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(uvarint(&over), None);
        assert_eq!(uvarint(&[0x80; 11]), None);
    }

    #[test]
    fn arg_counts_follow_versions() {
        assert_eq!(timed_args(EV_GO_CREATE, Version::Go122), Some(4));
        assert_eq!(timed_args(EV_GO_STATUS_STACK, Version::Go122), None);
        assert_eq!(timed_args(EV_GO_STATUS_STACK, Version::Go123), Some(5));
        assert_eq!(timed_args(EV_CLOCK_SNAPSHOT, Version::Go123), None);
        assert_eq!(timed_args(EV_STRINGS, Version::Go126), None);
        assert_eq!(timed_args(130, Version::Go125), Some(2));
        assert_eq!(timed_args(130, Version::Go122), None);
        assert_eq!(event_name(EV_GO_BLOCK), "GoBlock");
    }
}
