//! Frame argument words (`main.stage(0xc00001c0c0, 0xc00001c120)`): what the text reader keeps
//! of them, checked against a slow, obvious reading of the same text (`text_common`) on real
//! dumps of Go 1.27 and of other projects, and on generated dumps read in tiny blocks by
//! several threads (the frame cache, the one-step path and the parallel merge).

#[path = "pprof_common/mod.rs"]
mod pprof_common;
mod text_common;

use goroscope_ingest::{text, Options};
use proptest::prelude::*;
use text_common::{check_args, naive_is_method, reader_args, Kept};

fn read(name: &str, bytes: &[u8], threads: usize, block: usize) -> Vec<goroscope_model::Snapshot> {
    let opts = Options {
        threads,
        ..Options::default()
    };
    text::read_with_block(name, bytes, &opts, block).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn real_go127_dumps_keep_the_words_printed() {
    let Some(dir) = pprof_common::samples_dir() else {
        eprintln!("SKIPPED: shared/research/go127-samples is absent");
        return;
    };
    let mut frames = 0;
    for name in [
        "goroutine_debug2.txt",
        "goroutineleak_debug2.txt",
        "goroutineleak_debug2_abspaths.txt",
        "panic_gotraceback_all.txt",
        "panic_gotraceback_all_nolabels.txt",
        "runtime_stack_all_after_leakgc.txt",
        "sigquit_default.txt",
        "sigquit_tracebackancestors.txt",
        "fatal_deadlock.txt",
        "synctest_leak.txt",
        "wait_61s_2gc_debug2.txt",
    ] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for (threads, block) in [(1, 1 << 20), (2, 256)] {
            frames += check_args(name, &text, &read(name, &bytes, threads, block));
        }
    }
    assert!(frames > 100, "{frames} frames with words");
}

#[test]
fn a_chan_send_keeps_the_channel_and_deeper_methods_their_receiver() {
    // (A `?` receiver is not kept: `main.(*S).hold(0x0?)` would tie it to no object.)
    // From a Go 1.21 GOTRACEBACK=crash SIGQUIT dump: runtime frames print their arguments.
    let text = "\
goroutine 8 [chan send]:
runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)
\t/usr/local/go/src/runtime/proc.go:398 +0xce fp=0xc000039f10 sp=0xc000039ef0 pc=0x43d68e
runtime.chansend(0xc00006e120, 0x4b32a8, 0x1, 0x0?)
\t/usr/local/go/src/runtime/chan.go:259 +0x3a5 fp=0xc000039f80 sp=0xc000039f10 pc=0x408a25
runtime.chansend1(0x0?, 0x0?)
\t/usr/local/go/src/runtime/chan.go:145 +0x17 fp=0xc000039fb0 sp=0xc000039f80 pc=0x408677
main.(*S).hold(0xc000012345, 0x0?)
\t/tmp/p/main.go:12 +0x4c fp=0xc000039fc8 sp=0xc000039fb0 pc=0x48e54c
main.S.outer({0x1, 0x2}, ...)
\t/tmp/p/main.go:30 +0x4c
main.leaf(...)
\t/tmp/p/main.go:31
main.main.func1(0xc000099999)
\t/tmp/p/main.go:21 +0x4c
created by main.main in goroutine 1
\t/tmp/p/main.go:21 +0x13d
";
    let s = &read("t.txt", text.as_bytes(), 1, 1 << 20)[0];
    let g = &s.goroutines[0];
    let kept = reader_args(s, g);
    let k = |frame: usize, words: &[u64], unc: &[bool], more: bool| Kept {
        frame,
        words: words.to_vec(),
        uncertain: unc.to_vec(),
        more,
    };
    assert_eq!(
        kept,
        [
            // runtime.gopark is skipped: the two innermost frames after it, two words each.
            k(1, &[0xc00006e120, 0x4b32a8], &[false, false], true),
            k(2, &[0, 0], &[true, true], false),
            // The caller that blocks (the first frame outside runtime, sync and internal/),
            // two words like an innermost frame; deeper, the receivers of methods printed for
            // sure (value receivers too), nothing of functions and inlined frames.
            k(3, &[0xc000012345, 0], &[false, true], false),
            k(4, &[1], &[false], true),
        ]
    );
    assert_eq!(s.frame_args(g).count(), 4);
    let chansend = s.frame_args(g).find(|f| f.frame == 1).unwrap();
    assert_eq!(
        s.function(s.stack(g.stack)[chansend.frame]),
        "runtime.chansend"
    );
}

#[test]
fn deeper_receivers_are_capped_and_a_recursion_on_one_object_kept_once() {
    let mut text = String::from("goroutine 7 [chan receive]:\n");
    text.push_str(
        "main.a(0x1)\n\t/m.go:1 +0x1\nmain.b(0x2)\n\t/m.go:2 +0x1\nmain.c(0x3)\n\t/m.go:3 +0x1\n",
    );
    // A recursion on one object, an uncertain receiver, then other objects.
    for (i, recv) in ["0xa0", "0xa0", "0xa0", "0x0?", "0xb0", "0xc0", "0xd0"]
        .iter()
        .enumerate()
    {
        text.push_str(&format!(
            "main.(*T).walk({recv}, 0x{i})\n\t/m.go:{} +0x1\n",
            10 + i
        ));
    }
    text.push('\n');
    let s = &read("r.txt", text.as_bytes(), 1, 1 << 20)[0];
    let kept: Vec<(usize, Vec<u64>)> = reader_args(s, &s.goroutines[0])
        .into_iter()
        .map(|k| (k.frame, k.words))
        .collect();
    // main.c is a plain function past the two innermost frames: nothing kept of it.
    assert_eq!(
        kept,
        [(0, vec![1]), (1, vec![2]), (3, vec![0xa0]), (7, vec![0xb0])]
    );
    check_args("receivers", &text, std::slice::from_ref(s));
}

#[test]
fn third_party_dumps_keep_the_words_printed() {
    let Some(dir) = pprof_common::real_dumps_dir() else {
        eprintln!("SKIPPED: shared/testdata/real-dumps is absent");
        return;
    };
    let mut checked = 0;
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        // Dumps with log prefixes, glued headers or tabs turned into spaces are not what the
        // naive reading understands; race reports and debug=1 have no goroutine headers.
        if !name.ends_with(".txt")
            || ["008-", "010-", "046-", "047-", "009-"]
                .iter()
                .any(|p| name.starts_with(p))
        {
            continue;
        }
        let bytes = std::fs::read(e.path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        check_args(&name, &text, &read(&name, &bytes, 2, 512));
        checked += 1;
    }
    assert!(checked >= 5, "{checked} files checked");
}

#[test]
fn method_names() {
    for m in [
        "main.(*S).hold",
        "main.T.M",
        "x/y.(*L[...]).Push",
        "a/b%2ev2.C.V",
    ] {
        assert!(naive_is_method(m), "{m}");
    }
    for f in [
        "main.main",
        "main.f.func1",
        "main.T.M.func2",
        "main.f.gowrap1",
    ] {
        assert!(!naive_is_method(f), "{f}");
    }
}

/// A generated frame: (function index, arguments as (form, value, printed with `?`)).
type GenFrame = (u8, Vec<(u8, u64, bool)>);

/// One generated goroutine: frames with argument lists of every printed form.
fn goroutine_text(goid: u64, frames: &[GenFrame]) -> String {
    let names = [
        "runtime.gopark",
        "runtime.chanrecv",
        "main.(*Sim).Update",
        "main.Obj.Wait",
        "main.run.func1",
        "sync.(*Mutex).Lock",
        "main.worker",
        "main.(*List[...]).Push",
    ];
    let mut t = format!("goroutine {goid} [chan receive]:\n");
    for (i, (name, args)) in frames.iter().enumerate() {
        let mut list = Vec::new();
        for (form, v, unsure) in args {
            let q = if *unsure { "?" } else { "" };
            list.push(match form % 6 {
                0 | 1 => format!("{v:#x}{q}"),
                2 => format!("{{{v:#x}{q}, 0x{:x}}}", v / 3),
                3 => "...".to_string(),
                4 => "_".to_string(),
                _ => "{}".to_string(),
            });
        }
        let name = names[*name as usize % names.len()];
        t.push_str(&format!(
            "{name}({})\n\t/src/m{}.go:{} +0x{:x}\n",
            list.join(", "),
            name.len(),
            10 + i,
            i + 1
        ));
    }
    t.push('\n');
    t
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn generated_dumps_keep_what_the_slow_reading_keeps(
        gs in prop::collection::vec(
            prop::collection::vec(
                (0u8..8, prop::collection::vec((0u8..6, any::<u64>(), any::<bool>()), 0..7)),
                1..12,
            ),
            1..40,
        ),
        // Blocks longer than any generated line (a longer line is shortened, by design).
        block in 512usize..4096,
        threads in 1usize..3,
    ) {
        let text: String = gs
            .iter()
            .enumerate()
            .map(|(i, frames)| goroutine_text(i as u64 + 1, frames))
            .collect();
        let snaps = read("gen", text.as_bytes(), threads, block);
        check_args("generated", &text, &snaps);
    }
}
