//! Never harm the target: 200 attach/detach cycles on a fixture service under load give 0
//! failed requests and 0 crashes; while attached the probed instructions are breakpoints in the
//! target (the probes are really there), after each detach they hold the executable's own bytes
//! again, and tracefs lists no probe. Needs the `ebpf` feature and root; SKIPPED otherwise.
#![cfg(feature = "ebpf")]

mod common;

use common::*;
use goroscope_attach::memory::LiveMemory;
use goroscope_fixtures::toolchains;
use goroscope_trace::{TraceOptions, Tracer};

/// The bytes at each probe's address in the target (runtime address = link + bias).
fn probed_bytes(pid: u32, bias: u64, plan: &goroscope_trace::plan::Plan) -> Vec<Vec<u8>> {
    let mem = LiveMemory { pid };
    plan.probes
        .iter()
        .map(|p| {
            let mut b = vec![0u8; p.bytes.len()];
            mem.try_read(p.addr.wrapping_add(bias), &mut b)
                .expect("reading the target's code");
            b
        })
        .collect()
}

#[test]
fn two_hundred_attach_detach_cycles_under_load() {
    if let Some(why) = cannot_trace() {
        eprintln!("SKIPPED two_hundred_attach_detach_cycles_under_load: {why}");
        return;
    }
    let tc = toolchains().pop().unwrap();
    let mut svc = Service::start(&tc);
    let before = tracefs_uprobes();
    let bias = goroscope_attach::open_process(svc.pid()).unwrap().bias;
    // Load for longer than the cycles take; stopped (and read) after them.
    let load = svc.load("/work", 4, 600.0, Some(400.0));
    let opts = TraceOptions {
        seed: false,
        ..Default::default()
    };
    let mut events = 0;
    for i in 0..200 {
        let t = Tracer::start(svc.pid(), &opts).unwrap_or_else(|e| panic!("cycle {i}: {e}"));
        let plan = t.plan().clone();
        for (p, b) in plan.probes.iter().zip(probed_bytes(svc.pid(), bias, &plan)) {
            assert_eq!(
                b[0], 0xcc,
                "cycle {i}: no breakpoint at {p:?} while attached"
            );
        }
        let out = t.stop().unwrap_or_else(|e| panic!("cycle {i}: {e}"));
        events += out.state.events;
        for (p, b) in plan.probes.iter().zip(probed_bytes(svc.pid(), bias, &plan)) {
            assert_eq!(b, p.bytes, "cycle {i}: {p:?} not restored after detaching");
        }
        assert_eq!(
            tracefs_uprobes(),
            before,
            "cycle {i}: a probe left in tracefs"
        );
        assert!(svc.alive(), "cycle {i}: the service died");
    }
    let r = load.stop();
    assert_eq!(r.failures, 0, "{r:?}");
    assert!(r.requests > 1000, "{r:?}");
    assert!(svc.alive(), "the service died");
    eprintln!("200 cycles: {events} events; load {r:?}");
    assert!(events > 0, "200 cycles under load saw no event");
}
