//! Reads Go execution traces (`runtime/trace`, `/debug/pprof/trace?seconds=N`, `go test
//! -trace`, `trace.FlightRecorder`): when each goroutine was created and by which stack, when
//! it ran, when and why it blocked and for how long, when it ended — and the goroutines still
//! alive at the end of the window, as a [`goroscope_model::Snapshot`].
//!
//! # The format
//!
//! Go 1.22 replaced the execution trace format with a generation-based one (headers `go 1.22
//! trace`, `go 1.23 trace` for 1.23–1.24, `go 1.25 trace`, `go 1.26 trace` for 1.26 and 1.27).
//! A trace is a sequence of *generations*; each holds per-thread batches of events plus the
//! string and stack tables those events refer to (written at the generation's end). This crate
//! reads one generation at a time — memory is bounded by the largest generation, never the
//! whole trace — and puts the threads' events into one order with the same partial-order
//! algorithm as the runtime's own parser (`internal/trace`), so that times and states agree
//! with what `go tool trace` shows. Gzipped input is decompressed on the fly. A trace from Go
//! 1.21 or older gets [`Error::OldFormat`], naming the release that reads it.
//!
//! A trace that begins mid-stream (a flight-recorder snapshot, a `?seconds=` window) is read
//! from its first generation: goroutines that already existed appear with their state at the
//! window's start. A trace cut off at the end is read up to its last complete generation, with
//! a warning.
//!
//! # Layers
//!
//! - [`Reader`]: ordered [`Event`]s, generation by generation, for any consumer.
//! - [`read`] / [`read_path`]: an [`Analysis`] — per-goroutine [`Lifecycle`]s, per creation
//!   site [`SiteStats`] (born, ended, alive at the end, lifetime percentiles, blocked time by
//!   reason, an alive series over the window) and the [`Snapshot`](goroscope_model::Snapshot)
//!   of the goroutines alive at the end (format
//!   [`ExecTrace`](goroscope_model::Format::ExecTrace)). The snapshot carries the window in the
//!   model's terms ([`Snapshot::lifecycle`](goroscope_model::Snapshot::lifecycle), the same
//!   sites in the same order, times from the window's start): what the analysis and the
//!   reports read, so that they need no reader crate. Its context is `live` (a window of a
//!   running program), except for a test binary's trace (`go test -trace`: frames of the
//!   `testing` package), which is left for the analysis to infer (`test`).
//! - [`is_exec_trace`]: a cheap check of the first bytes, for format detection.
//!
//! # Example
//!
//! ```no_run
//! use goroscope_exectrace::{read_path, Options};
//!
//! let a = read_path("trace.out".as_ref(), &Options::default())?;
//! println!("{} ms, {} goroutines alive at the end", a.window.duration().as_millis(),
//!          a.snapshot.goroutines.len());
//! for s in &a.sites {
//!     println!("{:>6} born {:>6} ended {:>6} alive  {}", s.born, s.ended, s.alive_at_end,
//!              a.site_name(s));
//! }
//! for w in &a.snapshot.warnings {
//!     eprintln!("warning: {w}");
//! }
//! # Ok::<(), goroscope_exectrace::Error>(())
//! ```
//!
//! # What a trace cannot say
//!
//! Stacks in a trace are those the runtime recorded at each event: a goroutine blocked in a
//! channel operation shows `runtime.chansend1` and its caller, not `runtime.gopark`; a running
//! goroutine's stack is the last one recorded for it. pprof labels are not in traces. The
//! runtime records a coarser block reason than a dump's wait reason (`sync` for every mutex and
//! wait group); the dump's wording is recovered from the stack ([`dump_wait_reason`]).

mod event;
mod generation;
mod input;
mod lifecycle;
mod order;
mod reader;
mod reason;
mod stats;
mod wire;

pub use event::{Event, EventKind, GoState, GoTransition, ProcState, StackRef, StrRef, NONE};
pub use generation::ClockSnapshot;
pub use lifecycle::{
    read, read_path, AlivePoint, Analysis, Blocked, Creation, EndState, Lifecycle, Lifetimes,
    Options, SiteKey, SiteStats, Window,
};
pub use reader::{is_exec_trace, Error, Reader, DEFAULT_MAX_GENERATION_BYTES};
pub use reason::dump_wait_reason;
pub use stats::Histogram;
pub use wire::Version;
