//! Property tests: the pprof readers never panic, whatever the bytes. Bad input is an error or a
//! snapshot with warnings.

use goroscope_ingest::{debug1, proto, read_reader, FormatHint, Options};
use proptest::prelude::*;

mod pprof_common;
use pprof_common::samples_dir;

fn real(name: &str) -> Option<Vec<u8>> {
    std::fs::read(samples_dir()?.join(name)).ok()
}

/// Applies (position, byte) edits: overwrite, insert or delete, chosen by the byte.
fn mutate(mut data: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    for &(pos, op, b) in edits {
        if data.is_empty() {
            data.push(b);
            continue;
        }
        let i = pos % data.len();
        match op % 3 {
            0 => data[i] = b,
            1 => data.insert(i, b),
            _ => {
                data.remove(i);
            }
        }
    }
    data
}

/// Lines close to the debug=1 grammar, to get past the header check.
fn debug1_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("goroutine profile: total 3".to_string()),
        Just("goroutineleak profile: total 1".to_string()),
        Just(String::new()),
        "[0-9]{1,3} @( 0x[0-9a-f]{1,8}){0,4}",
        r#"# labels: \{("[a-z\\"]{0,4}":"[a-z \\"]{0,4}"(, )?){0,3}\}"#,
        "#\t0x[0-9a-f]{1,6}(\t[a-z./()*]{1,10}\\+0x[0-9a-f]{1,3}\t[a-z/ .]{0,8}:[0-9]{1,3})?",
        "# {0,3}0x[0-9a-f]{0,6} {1,4}[a-z.]{0,5}\\+0x[0-9a-f]{0,2} +[a-z/.:]{0,8}",
        ".{0,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn debug1_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = debug1::read("fuzz", bytes.as_slice(), &Options::default());
    }

    #[test]
    fn debug1_grammar_like_lines(lines in proptest::collection::vec(debug1_line(), 0..40), cut in any::<bool>()) {
        let mut text = lines.join("\n");
        if !cut {
            text.push('\n');
        }
        if let Ok(snaps) = debug1::read("fuzz", text.as_bytes(), &Options::default()) {
            for s in &snaps {
                // Whatever was read is consistent.
                for r in &s.records {
                    let _ = s.stack(r.stack);
                    let _ = s.labels(r.labels).count();
                }
            }
        }
    }

    #[test]
    fn debug1_mutated_real_profile(edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..16)) {
        let Some(base) = real("goroutine_debug1.txt") else { return Ok(()); };
        let data = mutate(base, &edits);
        let _ = debug1::read("fuzz", data.as_slice(), &Options::default());
    }

    #[test]
    fn proto_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = proto::read("fuzz", &bytes, &Options::default());
        let _ = read_reader("fuzz", bytes.as_slice(), &Options { format: Some(FormatHint::Proto), ..Options::default() });
    }

    #[test]
    fn proto_mutated_real_profile(edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..16)) {
        let Some(gz) = real("goroutine_debug0.pb.gz") else { return Ok(()); };
        let raw = goroscope_pprof::gunzip(&gz, 1 << 20).unwrap();
        let data = mutate(raw, &edits);
        let _ = proto::read("fuzz", &data, &Options::default());
        // Also through detection.
        let _ = read_reader("fuzz", data.as_slice(), &Options::default());
    }

    #[test]
    fn proto_mutated_gzip(edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8)) {
        let Some(gz) = real("goroutineleak_debug0.pb.gz") else { return Ok(()); };
        let data = mutate(gz, &edits);
        let _ = proto::read("fuzz", &data, &Options::default());
    }
}

#[test]
fn the_real_samples_are_there() {
    // The mutation tests above need the samples: missing ones fail here, loudly.
    assert!(samples_dir().is_some_and(|d| d.is_dir()));
}
