//! The analysis on real Go 1.27.3 dumps from `shared/research/go127-samples/` (made by the
//! generator there: leakRecv/leakSend/leakSelect/leakWG/leakMutex/nilChan leaks, a healthy
//! waiter on a global channel, labelled range workers, an HTTP server).

use goroscope_analyze::{analyze, diff, trend, Group, Options, Report, Verdict};
use goroscope_model::Snapshot;
use std::path::PathBuf;

fn samples_dir() -> Option<PathBuf> {
    shared_dir("research/go127-samples")
}

/// Always `Some`: goroscope-fixtures panics, naming where it looked, when the data is missing.
fn shared_dir(sub: &str) -> Option<PathBuf> {
    Some(goroscope_fixtures::shared_testdata(sub))
}

fn read(name: &str) -> Option<Vec<Snapshot>> {
    let Some(dir) = samples_dir() else {
        eprintln!("SKIPPED: shared/research/go127-samples not found beside the repository");
        return None;
    };
    let path = dir.join(name);
    match goroscope_ingest::read_input(path.to_str().unwrap(), &Default::default()) {
        Ok(s) => Some(s),
        Err(e) => panic!("reading {name}: {e}"),
    }
}

fn group<'a>(r: &'a Report, function: &str) -> &'a Group {
    r.groups
        .iter()
        .find(|g| {
            g.blocking_site
                .as_ref()
                .is_some_and(|b| b.function == function)
        })
        .unwrap_or_else(|| {
            panic!(
                "no group blocking in {function}: {:#?}",
                r.groups
                    .iter()
                    .map(|g| (&g.blocking_site, g.count))
                    .collect::<Vec<_>>()
            )
        })
}

#[test]
fn debug2_alone_flags_unambiguous_leaks_and_spares_the_healthy() {
    let Some(snaps) = read("goroutine_debug2.txt") else {
        return;
    };
    let r = &analyze(&snaps, &Options::default())[0];
    let nil = group(r, "main.nilChan.func1");
    assert_eq!(
        (nil.verdict, nil.pattern.as_deref()),
        (Verdict::Leak, Some("nil-chan"))
    );
    assert!(!nil.proven);
    // A dump of a running program (goroutine 1 is writing it): blocked alone is not
    // evidence, so the senders wait for a second sample — and say how to take one.
    assert_eq!(r.context.kind, "live");
    let send = group(r, "main.leakSend.func1");
    assert_eq!(send.verdict, Verdict::NeedMoreSamples);
    assert!(send.next_step.is_some());
    let wg = group(r, "main.leakWG.func1");
    assert_eq!(wg.pattern.as_deref(), Some("waitgroup-missing-done"));
    let mu = group(r, "main.leakMutex.func1");
    assert_eq!(mu.pattern.as_deref(), Some("mutex-never-unlocked"));
    // Receivers: five from one creator (pool shape) cannot be decided from one debug=2 dump.
    let recv = group(r, "main.leakRecv.func1");
    assert_eq!((recv.count, recv.verdict), (5, Verdict::NeedMoreSamples));
    // The labelled workers carry their labels.
    let w = group(r, "main.worker");
    assert_eq!(
        w.labels.get("tenant").map(|v| v.as_slice()),
        Some(&["acme corp".to_string()][..])
    );
    // The HTTP server's accept loop is benign.
    for g in &r.groups {
        if g.stack
            .iter()
            .any(|f| f.function == "net/http.(*Server).Serve")
        {
            assert_eq!(g.verdict, Verdict::Benign, "{g:#?}");
        }
    }
    assert_eq!(
        r.groups.iter().map(|g| g.count).sum::<u64>(),
        r.total_goroutines
    );
}

#[test]
fn goroutineleak_profile_proves_groups_of_the_dump() {
    let (Some(mut snaps), Some(leak)) = (
        read("goroutine_debug2.txt"),
        read("goroutineleak_debug1.txt"),
    ) else {
        return;
    };
    snaps.extend(leak);
    let reports = analyze(&snaps, &Options::default());
    assert_eq!(
        reports.len(),
        1,
        "the leak profile proves, it gets no report of its own"
    );
    let r = &reports[0];
    assert!(r.proof.available);
    let recv = group(r, "main.leakRecv.func1");
    assert_eq!(
        (recv.verdict, recv.proven),
        (Verdict::Leak, true),
        "{recv:#?}"
    );
    assert_eq!(recv.pattern.as_deref(), Some("chan-receive-no-sender"));
    // The waiter on a global channel is reachable: not proven, and not a leak.
    let healthy = group(r, "main.healthyWaiter.func1");
    assert!(!healthy.proven);
    assert_ne!(healthy.verdict, Verdict::Leak);
    assert!(r.summary.proven_leaks >= 5, "{:?}", r.summary);
}

#[test]
fn protobuf_form_infers_states_from_runtime_frames() {
    let Some(snaps) = read("goroutine_debug0.pb.gz") else {
        return;
    };
    let r = &analyze(&snaps, &Options::default())[0];
    let send = group(r, "main.leakSend.func1");
    assert!(send.state_inferred);
    assert_eq!(send.wait_reason.as_deref(), Some("chan send"));
    assert_eq!(send.pattern.as_deref(), Some("chan-send-receiver-gone"));
    let recv = group(r, "main.leakRecv.func1");
    // runtime.chanrecv1 is visible here: a plain receive; still one live moment.
    assert_eq!(
        (recv.verdict, recv.pattern.as_deref()),
        (Verdict::NeedMoreSamples, Some("chan-receive-no-sender"))
    );
    let w = group(r, "main.worker");
    assert_eq!(w.pattern.as_deref(), Some("range-never-closed"));
    let wg = group(r, "main.leakWG.func1");
    assert_eq!(wg.pattern.as_deref(), Some("waitgroup-missing-done"));
    // The parking line in runtime/chan.go tells a nil channel.
    let nil = group(r, "main.nilChan.func1");
    assert_eq!(
        (nil.verdict, nil.wait_reason.as_deref()),
        (Verdict::Leak, Some("chan receive (nil chan)"))
    );
}

#[test]
fn group_ids_agree_between_debug2_and_protobuf() {
    let (Some(a), Some(b)) = (read("goroutine_debug2.txt"), read("goroutine_debug0.pb.gz")) else {
        return;
    };
    let d = diff(&b[0], &a[0], &Options::default());
    let ra = &analyze(&a, &Options::default())[0];
    let id = &group(ra, "main.leakSend.func1").id;
    let rb = &analyze(&b, &Options::default())[0];
    // The state is read in one and inferred in the other; the signature matches anyway.
    assert_eq!(id, &group(rb, "main.leakSend.func1").id);
    assert!(
        !d.groups.iter().any(|g| g.group.id == *id),
        "{:#?}",
        d.groups
    );
    let t = trend(&[b[0].clone(), a[0].clone()], &Options::default());
    assert!(t
        .groups
        .iter()
        .any(|g| g.group.id == *id && g.counts == vec![2, 2]));
}

/// Third-party dumps (`shared/testdata/real-dumps/`): every readable one analyses with counts
/// that add up, and the known cases are judged as a reader would.
#[test]
fn real_dumps() {
    let Some(dir) = shared_dir("testdata/real-dumps") else {
        eprintln!("SKIPPED: shared/testdata/real-dumps not found beside the repository");
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut analysed = 0;
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "txt"))
    {
        let Ok(snaps) = goroscope_ingest::read_input(f.to_str().unwrap(), &Default::default())
        else {
            continue; // e.g. a race report: not a dump, the reader says so
        };
        for r in analyze(&snaps, &Options::default()) {
            analysed += 1;
            assert_eq!(
                r.groups.iter().map(|g| g.count).sum::<u64>(),
                r.total_goroutines,
                "{}",
                f.display()
            );
        }
    }
    assert!(analysed >= 10, "only {analysed} reports");
    let one = |name: &str| {
        let p = dir.join(name);
        analyze(
            &goroscope_ingest::read_input(p.to_str().unwrap(), &Default::default()).unwrap(),
            &Options::default(),
        )
        .remove(0)
    };
    // gVisor's stuck-task report: a crash (the watchdog panics); a goroutine stuck on the
    // sentry's own RWMutex is a lock wait one moment cannot judge.
    let r = one("009-syzkaller-gvisor-stuck-tasks.txt");
    assert_eq!(r.context.kind, "crash");
    let g = group(&r, "gvisor.dev/gvisor/pkg/sync.(*RWMutex).RLock");
    assert_eq!(
        (g.verdict, g.pattern.as_deref()),
        (Verdict::NeedMoreSamples, Some("mutex-never-unlocked"))
    );
    // go-profiler-notes: a live dump; the goroutine receiving "forever" (by its name) needs a
    // second sample; the HTTP server idles.
    let r = one("002-gostackparse-waitsince-go115.txt");
    assert_eq!(
        group(&r, "main.chanReceiveForever").verdict,
        Verdict::NeedMoreSamples
    );
    assert_eq!(
        group(&r, "net/http.(*connReader).Read").verdict,
        Verdict::Benign
    );
    // The main goroutine waiting for its WaitGroup is not a leak.
    let r = one("005-gostackparse-go121-createdby.txt");
    assert_eq!(group(&r, "main.main").verdict, Verdict::Benign);
}

/// The debug=1 and protobuf profiles of one process (the same 18 goroutines): debug=1 hides
/// the runtime frames, so a plain channel wait has no known state there while the protobuf
/// form infers it. Diff and trend still match every group, both ways.
#[test]
fn debug1_and_protobuf_of_one_process_match_group_for_group() {
    let (Some(d1), Some(pb)) = (read("goroutine_debug1.txt"), read("goroutine_debug0.pb.gz"))
    else {
        return;
    };
    let (d1, pb) = (&d1[0], &pb[0]);
    assert_eq!(d1.total_goroutines(), pb.total_goroutines());
    let o = Options::default();
    // The state is unknown in debug=1 for some groups, known in protobuf: the case at hand.
    let r1 = &analyze(std::slice::from_ref(d1), &o)[0];
    assert!(r1.groups.iter().any(|g| g.status == "unknown"), "{r1:#?}");
    for (before, after) in [(pb, d1), (d1, pb)] {
        let d = diff(before, after, &o);
        assert!(
            d.groups.is_empty(),
            "{} → {}: {:#?}",
            before.source.input,
            after.source.input,
            d.groups
                .iter()
                .map(|g| (g.change, g.delta, &g.group.blocking_site))
                .collect::<Vec<_>>()
        );
        assert!(d.unchanged > 0);
    }
    let t = trend(&[pb.clone(), d1.clone(), pb.clone()], &o);
    for g in &t.groups {
        assert!(
            g.counts[0] > 0 && g.counts.iter().all(|&c| c == g.counts[0]),
            "{:?} {:?}",
            g.counts,
            g.group.blocking_site
        );
    }
    let recv = t
        .groups
        .iter()
        .find(|g| {
            g.group
                .blocking_site
                .as_ref()
                .is_some_and(|b| b.function == "main.leakRecv.func1")
        })
        .expect("the receivers");
    assert_eq!(recv.counts, vec![5, 5, 5]);
}
