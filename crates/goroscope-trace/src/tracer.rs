//! The tracer's public face: start tracing a pid, read per-site counters while it runs, stop.
//!
//! Everything that touches BPF runs in one thread of the tracer's own (`sys/enabled.rs`): it
//! loads the program, attaches the probes, seeds the live set, then polls the ring buffer and
//! folds events into the shared [`State`] until [`Tracer::stop`] (or drop), when it drains the
//! buffer, reads the counters and detaches every probe. Without the `ebpf` feature
//! (`sys/disabled.rs`) starting says so.

use crate::error::TraceError;
use crate::plan::Plan;
use crate::state::{SiteKey, State};
use goroscope_model::Snapshot;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

#[cfg_attr(feature = "ebpf", path = "sys/enabled.rs")]
#[cfg_attr(not(feature = "ebpf"), path = "sys/disabled.rs")]
mod imp;

/// Whether this build has the eBPF tracer (the `ebpf` feature).
pub const BUILT_IN: bool = cfg!(feature = "ebpf");

/// How to trace.
#[derive(Debug, Clone)]
pub struct TraceOptions {
    /// Also trace parks (`gopark`) and the next run of each parked goroutine (`execute`):
    /// blocked time per site and wait reason. A probe hit per park and per schedule: opt-in.
    pub park: bool,
    /// With `park`: follow the parks of one goroutine in this many (by goid), scaling the
    /// blocked time back up.
    pub park_sample: u32,
    /// Take the user stack at each creation (and sampled park) into a stack map.
    pub stacks: bool,
    /// Ring buffer size in bytes (a power of two, at least a page).
    pub ring_bytes: u32,
    /// Seed the live set with an attach snapshot of the goroutines alive at the start.
    pub seed: bool,
    /// How often the state is ticked (alive series, rates) and the counters read.
    pub tick: Duration,
    /// Write every event as a JSON line to this file.
    pub events: Option<std::path::PathBuf>,
    /// Snapshot the goroutines alive at the end (attach, before the probes are detached):
    /// the snapshot the report analyses, with the window's lifecycles.
    pub end_snapshot: bool,
    /// Most points kept in each site's alive series (one a tick); `None`: the whole window.
    /// A tracer that runs for days (`goroscope watch --trace`) keeps a few.
    pub series_points: Option<usize>,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            park: false,
            park_sample: 10,
            stacks: false,
            ring_bytes: 16 << 20,
            seed: true,
            tick: Duration::from_secs(1),
            events: None,
            end_snapshot: false,
            series_points: None,
        }
    }
}

/// One site's counters, for a live view or `goroscope watch`'s metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteCount {
    pub site: SiteKey,
    /// The function its goroutines run.
    pub entry: Option<String>,
    /// The runtime's own goroutines.
    pub system: bool,
    pub born: u64,
    pub ended: u64,
    pub live: u64,
    pub existed_at_start: u64,
}

/// What a finished trace saw.
#[derive(Debug)]
pub struct TraceOutcome {
    pub state: State,
    pub plan: Plan,
    /// The executable as `/proc/PID/exe` named it.
    pub exe: String,
    /// The attach snapshot the live set was seeded with.
    pub seed: Option<Snapshot>,
    /// User stacks by stack id (runtime addresses, innermost first), with `stacks`.
    pub stacks: HashMap<u32, Vec<u64>>,
    /// Symbolized stacks by stack id: `(function, file, line)` innermost first.
    pub stack_frames: HashMap<u32, Vec<(String, String, u32)>>,
    /// The goroutines alive at the end, with the window's lifecycles attached
    /// ([`crate::report::lifecycles`]), with [`TraceOptions::end_snapshot`].
    pub end: Option<Snapshot>,
    /// The release's wait reason texts, by number.
    pub wait_reasons: Vec<String>,
    /// The target exited while traced.
    pub target_exited: bool,
    /// Wall time of the window.
    pub window: Duration,
}

/// A running trace of one process.
pub struct Tracer {
    pid: u32,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    worker: Option<JoinHandle<Result<TraceOutcome, TraceError>>>,
    plan: Plan,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer").field("pid", &self.pid).finish()
    }
}

impl Tracer {
    /// Starts tracing process `pid`: checks the machine, opens the target, plans and attaches
    /// the probes, seeds the live set. Returns once events are flowing (or with the error).
    pub fn start(pid: u32, opts: &TraceOptions) -> Result<Tracer, TraceError> {
        if !BUILT_IN {
            return Err(TraceError::NotBuiltIn);
        }
        crate::preflight::check()?;
        let state = Arc::new(Mutex::new(State::new(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let worker = {
            let (state, stop, opts) = (state.clone(), stop.clone(), opts.clone());
            std::thread::Builder::new()
                .name(format!("goroscope-trace-{pid}"))
                .spawn(move || imp::run(pid, &opts, &state, &stop, tx))
                .map_err(|e| TraceError::Bpf {
                    what: "starting the tracer thread".into(),
                    detail: e.to_string(),
                })?
        };
        match rx.recv() {
            Ok(plan) => Ok(Tracer {
                pid,
                state,
                stop,
                worker: Some(worker),
                plan,
            }),
            // The worker ended before it started tracing: its result is the error.
            Err(_) => match worker.join() {
                Ok(Err(e)) => Err(e),
                Ok(Ok(_)) => Err(TraceError::Bpf {
                    what: "the tracer".into(),
                    detail: "ended before it started".into(),
                }),
                Err(_) => Err(TraceError::Bpf {
                    what: "the tracer thread".into(),
                    detail: "panicked while starting".into(),
                }),
            },
        }
    }

    /// The traced pid.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The probes in place.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// A copy of the state as of the last batch of events.
    pub fn state(&self) -> State {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Per-site births, deaths and live counts so far (what `goroscope watch --trace` exports).
    pub fn site_counts(&self) -> Vec<SiteCount> {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.sites
            .iter()
            .map(|s| SiteCount {
                site: s.key.clone(),
                entry: s.entry.clone(),
                system: s.system,
                born: s.born,
                ended: s.ended,
                live: s.live,
                existed_at_start: s.existed_at_start,
            })
            .collect()
    }

    /// The BPF program's counters as of the last tick: events delivered and lost.
    pub fn counters(&self) -> crate::event::Counters {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .counters
    }

    /// Whether the tracer stopped by itself (the target exited, or an error).
    pub fn finished(&self) -> bool {
        self.worker.as_ref().is_none_or(|w| w.is_finished())
    }

    /// Stops: drains the events still in the ring buffer, reads the counters, detaches every
    /// probe, and returns what the trace saw.
    pub fn stop(mut self) -> Result<TraceOutcome, TraceError> {
        self.stop.store(true, Ordering::SeqCst);
        let w = self.worker.take().expect("a running tracer has its worker");
        w.join().unwrap_or_else(|_| {
            Err(TraceError::Bpf {
                what: "the tracer thread".into(),
                detail: "panicked (the probes were detached as it unwound)".into(),
            })
        })
    }
}

impl Drop for Tracer {
    /// Detaches everything, also when the tracer is dropped without [`Tracer::stop`].
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}
