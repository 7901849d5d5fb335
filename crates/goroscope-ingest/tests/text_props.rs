//! Property tests of the text reader: any bytes are read or refused without a panic, cut-off
//! dumps keep what is complete and say so, log transformations do not change what is read.

use goroscope_ingest::{text, Options};
use goroscope_model::Snapshot;
use proptest::prelude::*;

const SAMPLES: &[&str] = &[
    include_str!("text_data/goroutine_debug2.txt"),
    include_str!("text_data/sigquit_default.txt"),
    include_str!("text_data/panic_gotraceback_all.txt"),
];

fn opts(threads: usize) -> Options {
    Options {
        threads,
        ..Options::default()
    }
}

fn digest(v: &[Snapshot]) -> Vec<String> {
    v.iter()
        .flat_map(|s| {
            s.goroutines.iter().map(move |g| {
                let frames: Vec<String> = s
                    .stack(g.stack)
                    .iter()
                    .map(|&f| s.frame_site(f).to_string())
                    .collect();
                let labels: Vec<String> = s
                    .labels(g.labels)
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                format!(
                    "{}:{}:{}:{:?}:{:?}:{:?}:{}",
                    s.source.index,
                    g.goid,
                    s.str(g.state),
                    labels,
                    g.created_by.map(|f| s.frame_site(f).to_string()),
                    g.creator_goid,
                    frames.join("|")
                )
            })
        })
        .collect()
}

/// Complete header lines (a header cut in the middle is not a goroutine).
fn headers(text: &str) -> usize {
    text.lines()
        .filter(|l| l.starts_with("goroutine ") && (l.ends_with("]:") || l.ends_with("}:")))
        .count()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048),
                             block in 64usize..512, threads in 1usize..3) {
        let _ = text::read_with_block("fuzz", &bytes[..], &opts(threads), block);
    }

    #[test]
    fn dump_shaped_noise_never_panics(parts in proptest::collection::vec(
        prop_oneof![
            Just("goroutine 1 [running]:\n".to_string()),
            Just("goroutine 7 gp=0x1 m=nil [chan receive (leaked), 3 minutes] {a: b, \"c d\": \"e\\\"}\"}:\n".to_string()),
            Just("main.f(0x1, {0x2?, ...})\n".to_string()),
            Just("\tmain.go:12 +0x1d fp=0x1 sp=0x2 pc=0x3\n".to_string()),
            Just("created by main.g in goroutine 1\n".to_string()),
            Just("[originating from goroutine 3]:\n".to_string()),
            Just("...12 frames elided...\n".to_string()),
            Just("\tgoroutine running on other thread; stack unavailable\n".to_string()),
            Just("panic: boom\n".to_string()),
            Just("SIGQUIT: quit\n".to_string()),
            Just("goroutine profile: total 3\n".to_string()),
            Just("runtime stack:\n".to_string()),
            Just("\n".to_string()),
            Just("\r\n".to_string()),
            Just("I1126 10:00:00.000001 1 x.go:1] ".to_string()),
            Just("WARNING: DATA RACE\n".to_string()),
            "[ -~]{0,40}\n",
        ], 0..60),
        block in 64usize..400, threads in 1usize..3) {
        let input: String = parts.concat();
        let r = text::read_with_block("fuzz", input.as_bytes(), &opts(threads), block);
        if let Ok(v) = r {
            let total: u64 = v.iter().map(|s| s.total_goroutines()).sum();
            prop_assert!(total as usize <= input.matches("goroutine ").count());
            for s in &v {
                prop_assert!(!s.goroutines.is_empty());
            }
        }
    }

    #[test]
    fn cuts_keep_what_is_complete(which in 0usize..SAMPLES.len(), frac in 0.0f64..1.0) {
        let full_text = SAMPLES[which];
        let full = text::read("s", full_text.as_bytes(), &opts(1)).unwrap();
        let full_count: usize = full.iter().map(|s| s.goroutines.len()).sum();
        let at = ((full_text.len() as f64) * frac) as usize;
        let cut = &full_text[..at];
        let r = text::read("s", cut.as_bytes(), &opts(1));
        let Ok(v) = r else {
            // Only a cut before the first header may find nothing.
            prop_assert_eq!(headers(cut), 0);
            return Ok(());
        };
        let count: usize = v.iter().map(|s| s.goroutines.len()).sum();
        prop_assert!(count <= full_count);
        prop_assert_eq!(count, headers(cut), "every header before the cut is kept");
        // The goroutines before the last one are exactly those of the full read.
        let d = digest(&v);
        let fd = digest(&full);
        if d.len() > 1 {
            prop_assert_eq!(&d[..d.len() - 1], &fd[..d.len() - 1]);
        }
        // A cut in the middle of a line of a goroutine's stack must be noticed, unless what is
        // left of the line still reads as a whole line (a cut inside the last number).
        let last_line = cut.rsplit('\n').next().unwrap_or("");
        let inside_stack = !cut.ends_with('\n')
            && (last_line.starts_with('\t') || last_line.ends_with(')') || last_line.starts_with("main."))
            && !last_line.chars().last().is_some_and(|c| c.is_ascii_hexdigit());
        let inside_header = !cut.ends_with('\n') && last_line.starts_with("goroutine ")
            && !(last_line.ends_with("]:") || last_line.ends_with("}:"));
        if inside_header {
            prop_assert!(v.last().unwrap().truncated, "cut inside a header at {}", at);
        }
        if inside_stack && count > 0 {
            let last = v.last().unwrap();
            let warned = last.warnings.iter().any(|w| w.message.contains("input ends inside"));
            prop_assert!(last.truncated || warned, "cut at {} ({:?}) not noticed", at, last_line);
        }
    }

    #[test]
    fn log_transformations_read_the_same(which in 0usize..SAMPLES.len(), kind in 0usize..6,
                                         block in 200usize..2000, threads in 1usize..3) {
        let src = SAMPLES[which];
        let want = digest(&text::read("s", src.as_bytes(), &opts(1)).unwrap());
        let input: String = match kind {
            0 => src.replace('\n', "\r\n"),
            1 => src.replace('\t', "    "),
            2 => src.lines().enumerate()
                .map(|(i, l)| format!("2026-11-26T10:00:{:02}.{:07}Z {l}\n", i % 60, i * 31 % 9_999_999))
                .collect(),
            3 => src.lines().enumerate()
                .map(|(i, l)| format!("I1126 10:00:00.{i:06}  1 f{}.go:{}] {l}\n", i % 7, i % 1000))
                .collect(),
            4 => src.lines().map(|l| format!("Nov 26 10:00:00 host app[42]: {}\n", l.replace('\t', "#011"))).collect(),
            _ => format!("some log text before the dump{src}"),
        };
        let got = text::read_with_block("s", input.as_bytes(), &opts(threads), block).unwrap();
        prop_assert_eq!(digest(&got), want);
    }
}

#[test]
fn overlong_lines_are_shortened_not_buffered() {
    // A 3 MiB line without a newline, read in 64 KiB blocks, then a dump glued to its end.
    let mut input = vec![b'x'; 3 << 20];
    input.extend_from_slice(b"goroutine 1 [running]:\nmain.main()\n\tmain.go:3 +0x1\n");
    for threads in [1, 2] {
        let v = text::read_with_block("long", &input[..], &opts(threads), 64 << 10).unwrap();
        assert_eq!(v[0].goroutines.len(), 1, "threads={threads}");
        assert!(
            v[0].warnings
                .iter()
                .any(|w| w.message.contains("was shortened")),
            "{:?}",
            v[0].warnings
        );
    }
}

#[test]
fn huge_ids_and_counts_do_not_overflow() {
    let input = "goroutine 18446744073709551615 [chan receive, 4294967295 minutes]:\nmain.f(...)\n\tmain.go:4294967295 +0xffffffffff\n...4294967296 frames elided...\n";
    let v = text::read("big", input.as_bytes(), &opts(1)).unwrap();
    assert_eq!(v[0].goroutines[0].goid.0, u64::MAX);
    let too_big = "goroutine 18446744073709551616 [running]:\nmain.f()\n\tmain.go:1\n";
    assert!(text::read("big", too_big.as_bytes(), &opts(1)).is_err());
}
