//! Built without the `ebpf` feature: there is no tracer to run.

use crate::error::TraceError;
use crate::plan::Plan;
use crate::state::State;
use crate::tracer::{TraceOptions, TraceOutcome};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;
use std::sync::Mutex;

pub(super) fn run(
    _pid: u32,
    _opts: &TraceOptions,
    _state: &Mutex<State>,
    _stop: &AtomicBool,
    _started: Sender<Plan>,
) -> Result<TraceOutcome, TraceError> {
    Err(TraceError::NotBuiltIn)
}
