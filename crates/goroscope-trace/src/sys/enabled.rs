//! The tracer thread: loads the BPF program, attaches the probes to one pid, seeds the live
//! set, folds ring-buffer events into the shared state, and detaches everything when asked to
//! stop (or when it unwinds: the links are dropped either way).
//!
//! Nothing outlives goroscope: the probes are perf-event links held by this process's file
//! descriptors (no tracefs entries, no pinned maps), so even a SIGKILL of goroscope makes the
//! kernel remove them and put the target's instructions back.

#[allow(
    clippy::all,
    clippy::pedantic,
    unsafe_op_in_unsafe_fn,
    dead_code,
    non_camel_case_types
)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/trace.skel.rs"));
}

use crate::error::TraceError;
use crate::event::{Counters, Event};
use crate::plan::{Plan, Role};
use crate::state::State;
use crate::symbols::BinarySymbols;
use crate::tracer::{TraceOptions, TraceOutcome};
use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags, RingBufferBuilder, UprobeOpts};
use skel::TraceSkelBuilder;
use std::cell::RefCell;
use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::os::unix::fs::MetadataExt;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Mutex;
use std::time::{Duration, Instant};

fn bpf(what: impl Into<String>) -> impl FnOnce(libbpf_rs::Error) -> TraceError {
    let what = what.into();
    move |e| {
        let mut detail = e.to_string();
        if matches!(e.kind(), libbpf_rs::ErrorKind::PermissionDenied) {
            detail.push_str(" (needs CAP_BPF and CAP_PERFMON, or root)");
        }
        TraceError::Bpf { what, detail }
    }
}

/// CLOCK_MONOTONIC now, the clock of `bpf_ktime_get_ns` and of Go's `nanotime`.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The process is gone or a zombie (its probes went with its memory).
fn exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rsplit_once(") ")
            .is_none_or(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
        Err(_) => true,
    }
}

fn read_counters(map: &dyn MapCore) -> Counters {
    let mut slots = Vec::new();
    for i in 0..8u32 {
        let sum = map
            .lookup_percpu(&i.to_ne_bytes(), MapFlags::ANY)
            .ok()
            .flatten()
            .map(|cpus| {
                cpus.iter()
                    .filter_map(|b| {
                        b.get(..8)
                            .map(|b| u64::from_ne_bytes(b.try_into().unwrap()))
                    })
                    .sum()
            })
            .unwrap_or(0);
        slots.push(sum);
    }
    Counters::from_slots(&slots)
}

pub(super) fn run(
    pid: u32,
    opts: &TraceOptions,
    shared: &Mutex<State>,
    stop: &AtomicBool,
    started: Sender<Plan>,
) -> Result<TraceOutcome, TraceError> {
    let t_start = Instant::now();
    let target =
        goroscope_attach::open_process(pid).map_err(|source| TraceError::Target { source })?;
    let plan = crate::plan::plan(&target.binary, opts.park)?;
    let ns = std::fs::metadata("/proc/self/ns/pid").map_err(|e| TraceError::Bpf {
        what: "reading this process's pid namespace (/proc/self/ns/pid)".into(),
        detail: e.to_string(),
    })?;

    let ring = opts.ring_bytes.max(4096).next_power_of_two();
    let mut storage = MaybeUninit::uninit();
    let mut open = TraceSkelBuilder::default()
        .open(&mut storage)
        .map_err(bpf("opening the BPF program"))?;
    {
        let ro = open
            .maps
            .rodata_data
            .as_deref_mut()
            .expect("the BPF program has read-only settings");
        ro.target_tgid = pid;
        ro.pidns_dev = ns.dev();
        ro.pidns_ino = ns.ino();
        ro.goid_off = plan.offsets.goid;
        ro.parent_goid_off = plan.offsets.parent_goid;
        ro.gopc_off = plan.offsets.gopc;
        ro.startpc_off = plan.offsets.startpc;
        ro.park_sample = opts.park_sample.max(1);
        ro.want_stacks = opts.stacks as u8;
        ro.want_park = opts.park as u8;
        // A quarter of the ring: the reader wakes by itself every 50 ms meanwhile.
        ro.wakeup_bytes = u64::from(ring / 4);
    }
    open.maps
        .events
        .set_max_entries(ring)
        .map_err(bpf("sizing the ring buffer"))?;
    if opts.stacks {
        open.maps
            .stacks
            .set_max_entries(8192)
            .map_err(bpf("sizing the stack map"))?;
    }
    if opts.park {
        open.maps
            .parked
            .set_max_entries(65536)
            .map_err(bpf("sizing the park map"))?;
    }
    let skel = open.load().map_err(bpf("loading the BPF program"))?;

    // Attach: each probe on its emulated instruction, in this pid only, the g register as the
    // cookie. Links are dropped (probes removed) on every way out of this function.
    let exe = format!("/proc/{pid}/exe");
    let mut links = Vec::new();
    for p in &plan.probes {
        let prog = match p.role {
            Role::Create => &skel.progs.goroscope_create,
            Role::Exit => &skel.progs.goroscope_exit,
            Role::Park => &skel.progs.goroscope_park,
            Role::Resume => &skel.progs.goroscope_resume,
        };
        let link = prog
            .attach_uprobe_with_opts(
                pid as i32,
                &exe,
                p.file_offset as usize,
                UprobeOpts {
                    cookie: p.g_reg.pt_regs_index(),
                    retprobe: false,
                    ..Default::default()
                },
            )
            .map_err(bpf(format!(
                "attaching the {} probe at {}+{:#x} ({})",
                p.role.as_str(),
                p.function,
                p.offset,
                p.instruction
            )))?;
        links.push(link);
    }
    let start_ns = monotonic_ns();

    // Seed: the goroutines alive now (read after the probes were in place, so none is missed;
    // one seen both here and born in an event counts as born).
    let seed = if opts.seed {
        let aopts = goroscope_attach::AttachOptions {
            system: true,
            ..Default::default()
        };
        Some(
            goroscope_attach::snapshot_process(&target, &aopts)
                .map_err(|source| TraceError::Snapshot { pid, source })?,
        )
    } else {
        None
    };
    {
        let mut st = shared.lock().unwrap_or_else(|p| p.into_inner());
        *st = State::new(start_ns);
        st.series_points = opts.series_points;
        st.park_sample = if opts.park {
            opts.park_sample.max(1)
        } else {
            1
        };
        if let Some(s) = &seed {
            st.seed(s);
        }
    }
    let _ = started.send(plan.clone());

    let pending: Rc<RefCell<Vec<Event>>> = Rc::default();
    let mut rb = RingBufferBuilder::new();
    {
        let pending = pending.clone();
        rb.add(&skel.maps.events, move |data: &[u8]| {
            if let Some(e) = Event::decode(data) {
                pending.borrow_mut().push(e);
            }
            0
        })
        .map_err(bpf("reading the ring buffer"))?;
    }
    let rb = rb.build().map_err(bpf("reading the ring buffer"))?;
    let mut sym = BinarySymbols {
        bin: &target.binary,
        bias: target.bias,
    };
    let mut events_out = match &opts.events {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| TraceError::Bpf {
                what: format!("creating the events file {}", path.display()),
                detail: e.to_string(),
            })?,
        )),
        None => None,
    };
    let mut apply = |sym: &mut BinarySymbols, st: &mut State| {
        use std::io::Write;
        for e in pending.borrow_mut().drain(..) {
            let site = st.apply(&e, sym);
            if let Some(w) = events_out.as_mut() {
                let _ = writeln!(
                    w,
                    "{}",
                    crate::event::json_line(&e, site.map(|i| &st.sites[i]))
                );
            }
        }
    };
    let mut next_tick = Instant::now() + opts.tick;
    let mut target_exited = false;
    loop {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        // EINTR (a signal to goroscope) is not an error: poll again. The BPF program wakes
        // this poll only once a quarter of the ring is full; what is waiting below that is
        // drained here after the timeout.
        let _ = rb.poll(Duration::from_millis(50));
        let _ = rb.consume();
        if !pending.borrow().is_empty() {
            let mut st = shared.lock().unwrap_or_else(|p| p.into_inner());
            apply(&mut sym, &mut st);
        }
        if Instant::now() >= next_tick {
            next_tick += opts.tick;
            let c = read_counters(&skel.maps.counters);
            let mut st = shared.lock().unwrap_or_else(|p| p.into_inner());
            st.counters = c;
            st.tick(monotonic_ns());
            if exited(pid) {
                target_exited = true;
                break;
            }
        }
    }
    // The goroutines alive at the end, read while the probes are still in place (the
    // window ends when they go).
    let end = if opts.end_snapshot && !target_exited {
        let aopts = goroscope_attach::AttachOptions::default();
        goroscope_attach::snapshot_process(&target, &aopts).ok()
    } else {
        None
    };
    // Detach first: after this no event is produced, so draining gets all of them.
    drop(links);
    let _ = rb.consume();
    let counters = read_counters(&skel.maps.counters);
    let mut stacks = HashMap::new();
    let mut stack_frames = HashMap::new();
    let state = {
        let mut st = shared.lock().unwrap_or_else(|p| p.into_inner());
        apply(&mut sym, &mut st);
        st.counters = counters;
        st.tick(monotonic_ns());
        if opts.stacks {
            let ids: Vec<u32> = st
                .create_stacks
                .keys()
                .chain(st.park_stacks.keys())
                .map(|k| k.1)
                .collect();
            for id in ids {
                if stacks.contains_key(&id) {
                    continue;
                }
                if let Ok(Some(b)) = skel.maps.stacks.lookup(&id.to_ne_bytes(), MapFlags::ANY) {
                    let pcs: Vec<u64> = b
                        .chunks_exact(8)
                        .map(|w| u64::from_ne_bytes(w.try_into().unwrap()))
                        .take_while(|&pc| pc != 0)
                        .collect();
                    stack_frames.insert(id, sym.frames(&pcs));
                    stacks.insert(id, pcs);
                }
            }
        }
        st.clone()
    };
    let wait_reasons = target.binary.layout.wait_reasons.clone();
    let end = end.map(|mut snap| {
        let lc = crate::report::lifecycles(&state, &mut snap, &wait_reasons);
        snap.lifecycle = Some(Box::new(lc));
        snap
    });
    Ok(TraceOutcome {
        end,
        wait_reasons,
        state,
        plan,
        exe: target.exe.clone(),
        seed,
        stacks,
        stack_frames,
        target_exited,
        window: t_start.elapsed(),
    })
}
