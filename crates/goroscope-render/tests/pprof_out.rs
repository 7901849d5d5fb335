//! pprof protobuf out, opened by the real `go tool pprof` of the installed Go 1.27 toolchain.

use goroscope_model::{
    Format, Frame, Goid, Goroutine, Interner, ProfileKind, Record, Snapshot, Source, StateText,
};
use goroscope_render::{render, OutputFormat, RenderOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Go 1.27.3, found by goroscope-fixtures (which panics, naming the fix, when it is missing).
fn go() -> Option<PathBuf> {
    Some(goroscope_fixtures::toolchain("1.27.3").go)
}

/// Runs `go tool pprof <args> <file>` and returns stdout, failing the test on a non-zero exit.
fn pprof(go: &Path, args: &[&str], file: &Path) -> String {
    let tmp = std::env::temp_dir().join("goroscope-render-pprof-home");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = Command::new(go)
        .arg("tool")
        .arg("pprof")
        .args(args)
        .arg("-symbolize=none")
        .arg(file)
        .env("GOTOOLCHAIN", "local")
        .env("HOME", &tmp)
        .env("PPROF_TMPDIR", &tmp)
        .env("GOCACHE", tmp.join("gocache"))
        .output()
        .expect("run go tool pprof");
    assert!(
        out.status.success(),
        "go tool pprof {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn write_profile(snaps: &[Snapshot], name: &str) -> PathBuf {
    let mut buf = Vec::new();
    render(
        &mut buf,
        OutputFormat::PPROF,
        &[],
        snaps,
        &RenderOptions::default(),
    )
    .unwrap();
    assert_eq!(&buf[..2], &[0x1f, 0x8b], "gzipped like runtime/pprof");
    let dir = std::env::temp_dir().join(format!("goroscope-render-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, &buf).unwrap();
    path
}

/// `Showing nodes accounting for N, 100% of N total` → N.
fn top_total(top: &str) -> u64 {
    let line = top
        .lines()
        .find(|l| l.starts_with("Showing nodes accounting for"))
        .unwrap_or_else(|| panic!("no totals line in:\n{top}"));
    let total = line.rsplit(" of ").next().unwrap();
    total
        .trim_end_matches(" total")
        .replace(',', "")
        .parse()
        .unwrap()
}

/// `Showing nodes accounting for N, …` → N: what a focus kept.
fn shown(top: &str) -> u64 {
    let line = top
        .lines()
        .find(|l| l.starts_with("Showing nodes accounting for"))
        .unwrap_or_else(|| panic!("no totals line in:\n{top}"));
    line["Showing nodes accounting for ".len()..]
        .split(',')
        .next()
        .unwrap()
        .replace(',', "")
        .trim()
        .parse()
        .unwrap()
}

fn hand_built() -> Snapshot {
    let mut s = Snapshot::new(Source {
        input: "hand".into(),
        index: 0,
        line: None,
        format: Format::Debug2,
        kind: ProfileKind::Goroutine,
    });
    let mut fr = |name: &str, line, inlined| {
        let function = s.interner.intern_str(name);
        let file = s.interner.intern_str("/src/app/main.go");
        s.interner.intern_frame(Frame {
            function,
            file,
            line,
            offset: None,
            inlined,
        })
    };
    let a = fr("main.helper", 5, true);
    let b = fr("main.worker", 10, false);
    let c = fr("main.main.func1", 20, false);
    let d = fr("main.F[go.shape.struct { a int; b <script> }]", 30, false);
    let st = s.interner.intern_stack(&[a, b, c]);
    let st2 = s.interner.intern_stack(&[d]);
    let k = s.interner.intern_str("handler");
    let v = s.interner.intern_str("/api/orders");
    let labels = s.interner.intern_labels(vec![(k, v)]);
    for i in 0..7 {
        let mut g = Goroutine::new(Goid(i), st);
        g.set_state(
            &StateText::parse("chan receive, 3 minutes"),
            &mut s.interner,
        );
        g.labels = labels;
        s.goroutines.push(g);
    }
    s.records.push(Record {
        count: 5,
        stack: st2,
        labels: Interner::NO_LABELS,
    });
    s
}

#[test]
fn go_tool_pprof_reads_our_profile() {
    let Some(go) = go() else { return };
    let path = write_profile(&[hand_built()], "hand.pb.gz");
    let top = pprof(&go, &["-top"], &path);
    assert_eq!(top_total(&top), 12, "{top}");
    assert!(
        top.contains("main.helper (inline)"),
        "inlined frame kept:\n{top}"
    );
    assert!(
        top.contains("main.F[go.shape.struct { a int; b <script> }]"),
        "{top}"
    );
    let tags = pprof(&go, &["-tags"], &path);
    assert!(tags.contains("/api/orders"), "{tags}");
    assert!(tags.contains("chan receive"), "state label:\n{tags}");
    let raw = pprof(&go, &["-raw"], &path);
    assert!(raw.contains("PeriodType: goroutine count"), "{raw}");
    assert!(raw.contains("/src/app/main.go:10"), "{raw}");
}

/// A file of `shared/research/go127-samples`: beside the repository (as CI lays it out), or the
/// workplace's copy.
fn sample(name: &str) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        manifest.join("../../../shared/research/go127-samples"),
        manifest.join("../../shared/research/go127-samples"),
        PathBuf::from("/work/shared/research/go127-samples"),
    ]
    .into_iter()
    .find(|d| d.is_dir())
    .unwrap_or_else(|| PathBuf::from("shared/research/go127-samples (not found)"))
    .join(name)
}

#[test]
fn real_profiles_survive_the_round_trip() {
    let Some(go) = go() else { return };
    for name in [
        "goroutine_debug0.pb.gz",
        "goroutineleak_debug0.pb.gz",
        "goroutine_debug1.txt",
    ] {
        let input = sample(name);
        if !input.exists() {
            eprintln!("SKIP: {} is missing", input.display());
            continue;
        }
        let snaps = goroscope_ingest::read_input(
            input.to_str().unwrap(),
            &goroscope_ingest::Options::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let declared: u64 = snaps.iter().map(|s| s.total_goroutines()).sum();
        let path = write_profile(&snaps, &format!("{name}.out.pb.gz"));
        let top = pprof(&go, &["-top"], &path);
        assert_eq!(top_total(&top), declared, "{name}:\n{top}");
        if name.ends_with(".pb.gz") {
            // The same total as go tool pprof reads from the original.
            let orig = pprof(&go, &["-top"], &input);
            assert_eq!(top_total(&orig), declared, "{name}");
        }
    }
}

/// The README's dump: 7 proven leaks (14 goroutines), 1 suspect, 3 benign groups.
fn example_dump() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/dumps/leaky-go127.debug2.txt")
}

fn analysed_profile(name: &str) -> (PathBuf, Vec<goroscope_analyze::Report>) {
    let input = example_dump();
    let snaps = goroscope_ingest::read_input(
        input.to_str().unwrap(),
        &goroscope_ingest::Options::default(),
    )
    .unwrap();
    let reports = goroscope_analyze::analyze(&snaps, &Default::default());
    let mut buf = Vec::new();
    render(
        &mut buf,
        OutputFormat::PPROF,
        &reports,
        &snaps,
        &RenderOptions::default(),
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("goroscope-render-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, &buf).unwrap();
    (path, reports)
}

#[test]
fn verdicts_are_labels_go_tool_pprof_can_focus_on() {
    let Some(go) = go() else { return };
    let (path, reports) = analysed_profile("verdicts.pb.gz");
    let s = &reports[0].summary;
    assert_eq!(s.proven_leaks, 7);
    let leaks = pprof(&go, &["-top", "-tagfocus", "verdict=leak"], &path);
    assert_eq!(shown(&leaks), 14, "the 14 leaked goroutines:\n{leaks}");
    assert_eq!(s.leaked_goroutines, 14);
    let benign: u64 = reports[0]
        .groups
        .iter()
        .filter(|g| g.verdict == goroscope_analyze::Verdict::Benign)
        .map(|g| g.count)
        .sum();
    let focused = pprof(&go, &["-top", "-tagfocus", "verdict=benign"], &path);
    assert_eq!(shown(&focused), benign, "{focused}");
    let tags = pprof(&go, &["-tags"], &path);
    for want in [
        "verdict",
        "leak",
        "benign",
        "pattern",
        "chan-receive-no-sender",
        "proof",
        "(leaked) markers",
        "group",
    ] {
        assert!(tags.contains(want), "{want} in:\n{tags}");
    }
    // The program's own labels are still there.
    assert!(tags.contains("/api/orders"), "{tags}");
}

#[test]
fn a_profile_read_back_keeps_the_proven_leaks_and_hides_goroscope_s_labels() {
    let (path, _) = analysed_profile("roundtrip.pb.gz");
    let snaps = goroscope_ingest::read_input(
        path.to_str().unwrap(),
        &goroscope_ingest::Options::default(),
    )
    .unwrap();
    let reports = goroscope_analyze::analyze(&snaps, &Default::default());
    let r = &reports[0];
    assert_eq!(r.summary.leaks, 7, "{:#?}", r.summary);
    assert_eq!(r.summary.proven_leaks, 7);
    assert_eq!(r.summary.leaked_goroutines, 14);
    assert!(r.proof.available, "{:?}", r.proof);
    for g in &r.groups {
        for own in goroscope_analyze::OWN_LABELS {
            assert!(
                !g.labels.contains_key(*own),
                "{own} shown as a label: {g:#?}"
            );
        }
    }
    assert!(
        r.groups.iter().any(|g| g.labels.contains_key("handler")),
        "the program's labels stay"
    );
}
