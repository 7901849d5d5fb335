//! The checked-in per-release layout tables (`src/layouts_gen.rs`, used for stripped binaries)
//! must equal what the generator derives from the installed toolchains today. On a failure,
//! regenerate with `cargo run -p goroscope-attach --example gen_layouts` and review the diff.

#[path = "../examples/gen_layouts/gen.rs"]
mod gen;

#[test]
fn layout_tables_match_installed_toolchains() {
    let work = std::env::temp_dir().join(format!("goroscope-layout-drift-{}", std::process::id()));
    let checked_in = include_str!("../src/layouts_gen.rs");
    let rows = gen::split_rows(checked_in);
    assert_eq!(
        gen::render(rows.clone()),
        checked_in,
        "src/layouts_gen.rs is not in generated form"
    );
    // Panics (loudly) when no toolchain is installed.
    let _ = goroscope_fixtures::toolchains();
    let tcs = gen::table_toolchains();
    for tc in &tcs {
        let fresh = gen::row(tc, &work).expect("generate a row");
        let minor = tc.version.split('.').nth(1).unwrap();
        let Some((v, old)) = rows
            .iter()
            .find(|(v, _)| v.split('.').nth(1) == Some(minor))
        else {
            panic!("no table row for go{} in src/layouts_gen.rs; regenerate: cargo run -p goroscope-attach --example gen_layouts", tc.version);
        };
        if v != &tc.version {
            eprintln!(
                "note: table row for go1.{minor} was generated from go{v}, checked against go{}",
                tc.version
            );
        }
        let (a, b): (Vec<&str>, Vec<&str>) = (
            fresh.lines().skip(1).collect(),
            old.lines().skip(1).collect(),
        );
        assert!(
            a == b,
            "table row for go1.{minor} drifted (generated from go{}):\n{fresh}\nchecked in:\n{old}\nregenerate: cargo run -p goroscope-attach --example gen_layouts",
            tc.version
        );
    }
    for (v, _) in &rows {
        if !tcs
            .iter()
            .any(|t| t.version.split('.').nth(1) == v.split('.').nth(1))
        {
            eprintln!("not verified here: table row for go{v} (toolchain not installed; set GOROSCOPE_EXTRA_TOOLCHAINS)");
        }
    }
    // Every table agrees with the offsets measured by hand in the research (spot checks).
    let t21 = goroscope_attach::layout::table_for(21);
    if let Some(t) = t21 {
        assert_eq!((t.g_goid, t.g_gopc, t.funcid_wrapper), (152, 280, 21));
        assert_eq!(t.wait_reason(14), Some("chan receive"));
        // The wait structures: g.waiting as measured in the research; no timer in hchan yet.
        let m = t.mem.unwrap();
        assert_eq!((m.g_waiting, m.hchan_timer, m.sudog_c), (312, 0, 80));
    }
    if let Some(t) = goroscope_attach::layout::table_for(27) {
        assert_eq!((t.g_goid, t.g_gopc, t.funcid_wrapper), (152, 288, 23));
        assert_eq!(t.wait_reason(19), Some("chan receive"));
        // sudog.c is a maybeTraceableChan from Go 1.26: its `vu` word, 8 bytes in.
        let m = t.mem.unwrap();
        assert_eq!((m.g_waiting, m.hchan_timer, m.sudog_c), (320, 32, 96));
    }
}
