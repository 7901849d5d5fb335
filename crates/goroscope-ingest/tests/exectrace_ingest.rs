//! Execution traces through the ingest door: detected like every other input (raw or
//! gzipped), read into the snapshot of the window's end with its lifecycles, and every error
//! naming the input and, where it can, the byte. The traces are the execution-trace reader's
//! seeds (`crates/goroscope-exectrace/tests/data`, written by Go 1.22, 1.23, 1.25 and 1.27).

use goroscope_ingest::{read_reader, FormatHint, Options};
use goroscope_model::Format;
use std::io::Write;
use std::path::PathBuf;

fn seeds() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../goroscope-exectrace/tests/data");
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "trace"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    assert_eq!(v.len(), 4, "the four seeds in {}", dir.display());
    v
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

#[test]
fn traces_are_detected_and_read_with_their_window_raw_or_gzipped() {
    for (name, bytes) in seeds() {
        let snaps = read_reader(&name, bytes.as_slice(), &Options::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(snaps.len(), 1, "{name}");
        let s = &snaps[0];
        assert_eq!(s.source.format, Format::ExecTrace, "{name}");
        assert_eq!(s.source.input, name);
        let lc = s.lifecycle.as_deref().expect("a window");
        lc.validate().unwrap();
        assert!(lc.window_ns > 0, "{name}");
        assert!(lc.sites.iter().any(|x| x.born > 0), "{name}: births seen");
        assert_eq!(lc.goroutines.len(), s.goroutines.len(), "{name}");
        let z = read_reader(&name, gzip(&bytes).as_slice(), &Options::default()).unwrap();
        assert_eq!(z[0].lifecycle, snaps[0].lifecycle, "{name}: gzipped");
        assert_eq!(z[0].goroutines.len(), s.goroutines.len(), "{name}: gzipped");
    }
}

#[test]
fn errors_name_the_input_and_where() {
    let (_, bytes) = seeds().pop().unwrap();
    // Cut inside the first generation: nothing complete to read.
    let e = read_reader("cut.trace", &bytes[..200], &Options::default()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with("cut.trace (byte ") && msg.contains("no complete generation"),
        "{msg}"
    );
    assert!(e.offset().is_some(), "{msg}");
    // Cut after complete generations: those are read, with a warning.
    let s = &read_reader("cut.trace", &bytes[..bytes.len() - 10], &Options::default())
        .unwrap_or_else(|e| panic!("{e}"))[0];
    assert!(s.truncated && !s.warnings.is_empty(), "{:?}", s.warnings);
    // The old format: the release that reads it.
    let mut old = b"go 1.21 trace\0\0\0".to_vec();
    old.extend_from_slice(&[0; 64]);
    let msg = read_reader("old.trace", old.as_slice(), &Options::default())
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with("old.trace: ") && msg.contains("Go 1.21"),
        "{msg}"
    );
    // Forced on something else.
    let opts = Options {
        format: Some(FormatHint::ExecTrace),
        ..Options::default()
    };
    let msg = read_reader(
        "dump.txt",
        &b"goroutine 1 [running]:\nmain.main()\n"[..],
        &opts,
    )
    .unwrap_err()
    .to_string();
    assert!(
        msg.contains("dump.txt") && msg.contains("not a Go execution trace"),
        "{msg}"
    );
}
