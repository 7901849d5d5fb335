//! The checked-in per-release layout tables (`src/layouts_gen.rs`, used for stripped binaries)
//! must equal what the generator derives from the installed toolchains today. On a failure,
//! regenerate with `cargo run -p goroscope-attach --example gen_layouts` and review the diff.

mod common;

#[test]
fn layout_tables_match_installed_toolchains() {
    let tcs = common::installed();
    assert!(
        !tcs.is_empty(),
        "no Go toolchains installed: run scripts/install-go.sh"
    );
    let work = std::env::temp_dir().join(format!("goroscope-layout-drift-{}", std::process::id()));
    let fresh = goroscope_attach::gen::generate(&tcs, &work).expect("generate layouts");
    let checked_in = include_str!("../src/layouts_gen.rs");
    if fresh != checked_in {
        let diff: Vec<String> = fresh
            .lines()
            .zip(checked_in.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(10)
            .map(|(i, (a, b))| format!("line {}: generated {a:?}, checked in {b:?}", i + 1))
            .collect();
        panic!(
            "src/layouts_gen.rs drifted from the toolchains ({} vs {} lines):\n{}\nregenerate: cargo run -p goroscope-attach --example gen_layouts",
            fresh.lines().count(),
            checked_in.lines().count(),
            diff.join("\n")
        );
    }
    // Every table agrees with the offsets measured by hand in the research (spot checks).
    let t21 = goroscope_attach::layout::table_for(21);
    if let Some(t) = t21 {
        assert_eq!((t.g_goid, t.g_gopc, t.funcid_wrapper), (152, 280, 21));
        assert_eq!(t.wait_reason(14), Some("chan receive"));
    }
    if let Some(t) = goroscope_attach::layout::table_for(27) {
        assert_eq!((t.g_goid, t.g_gopc, t.funcid_wrapper), (152, 288, 23));
        assert_eq!(t.wait_reason(19), Some("chan receive"));
    }
}
