//! Follow every goroutine's birth and death in a running Go process with eBPF uprobes — no
//! code change, no restart — so that a leak shows up as a creation site whose live count only
//! grows, and every goroutine's lifetime is known (which no dump carries).
//!
//! * [`plan`]: where the probes go, resolved from the binary (stripped ones too), each on an
//!   instruction the kernel emulates; never a uretprobe.
//! * [`Tracer`]: loads the BPF program (`src/bpf/trace.bpf.c`, compiled by clang at build time
//!   with the `ebpf` feature), attaches the probes to one pid, seeds the live set with an attach
//!   snapshot, and keeps per-site births, deaths, lifetimes and the live set ([`state`]) in a
//!   thread of its own until [`Tracer::stop`], which detaches everything.
//! * [`preflight`]: what the machine must offer, named in one error when missing.
//!
//! # Feature flags
//!
//! * `ebpf` (off by default): the tracer itself. Without it [`Tracer::start`] returns
//!   [`TraceError::NotBuiltIn`]; planning, the state and the views still build and are tested.
//!
//! ```no_run
//! use goroscope_trace::{Tracer, TraceOptions};
//! let t = Tracer::start(1234, &TraceOptions::default())?;
//! std::thread::sleep(std::time::Duration::from_secs(5));
//! for s in t.site_counts() {
//!     println!("{}: {} born, {} ended, {} live", s.site, s.born, s.ended, s.live);
//! }
//! let outcome = t.stop()?;
//! println!("{} events, {} lost", outcome.state.events, outcome.state.counters.lost());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
pub mod event;
pub mod plan;
pub mod preflight;
pub mod report;
pub mod signals;
pub mod state;
pub mod symbols;
mod tracer;
pub mod view;

pub use error::TraceError;
pub use tracer::{SiteCount, TraceOptions, TraceOutcome, Tracer, BUILT_IN};
