//! Inputs that used to be refused, misread or blow up: a dump behind a head detection cannot
//! judge (a long JSON log line, many blank lines, printable text that parses as protobuf), gzip
//! around text, gzip around gzip, too many dumps in one input, and what errors say (kinds,
//! locations, each cause once).

use goroscope_ingest::{read_input, read_reader, ErrorKind, FormatHint, Options, HEAD_BYTES};
use goroscope_model::Context;
use std::error::Error as _;
use std::io::Write;

const DUMP: &str = include_str!("text_data/goroutine_debug2.txt");
const SIGQUIT: &str = include_str!("text_data/sigquit_default.txt");

fn headers(text: &str) -> u64 {
    text.lines()
        .filter(|l| l.starts_with("goroutine ") && l.ends_with(':'))
        .count() as u64
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn total(input: &[u8], opts: &Options) -> u64 {
    read_reader("in", input, opts)
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|s| s.total_goroutines())
        .sum()
}

#[test]
fn a_dump_behind_a_head_detection_cannot_judge() {
    let want = headers(DUMP);
    let o = Options::default();
    // A JSON log line longer than the head, then the dump.
    let mut json = format!(
        "{{\"level\":\"error\",\"msg\":\"{}\"}}\n",
        "x".repeat(HEAD_BYTES + 10)
    );
    json.push_str(DUMP);
    assert_eq!(total(json.as_bytes(), &o), want);
    // More blank lines than the head holds, then the dump.
    let blank = "\n".repeat(HEAD_BYTES + 1) + DUMP;
    let snaps = read_reader("in", blank.as_bytes(), &o).unwrap();
    assert_eq!(snaps[0].total_goroutines(), want);
    assert_eq!(snaps[0].source.line, Some(HEAD_BYTES as u64 + 2));
    // A long line of printable text whose bytes parse as protobuf fields ('Z': field 11).
    let z = "Z".repeat(HEAD_BYTES + 5) + "\n" + DUMP;
    assert_eq!(total(z.as_bytes(), &o), want);
}

#[test]
fn what_is_not_a_dump_is_named_even_behind_a_long_head() {
    let o = Options::default();
    let json = format!("{{\"msg\":\"{}\"}}\n", "x".repeat(HEAD_BYTES + 10));
    let e = read_reader("log.json", json.as_bytes(), &o).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NotADump);
    assert!(e.to_string().contains("looks like JSON"), "{e}");
    let blank = "\n".repeat(HEAD_BYTES + 10);
    let e = read_reader("blank.txt", blank.as_bytes(), &o).unwrap_err();
    assert!(e.to_string().contains("blank lines"), "{e}");
    let e = read_reader("empty", &b""[..], &o).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Empty);
    let e = read_reader("small.json", &b"{\"a\": 1}\n"[..], &o).unwrap_err();
    assert_eq!((e.kind(), e.offset()), (&ErrorKind::NotADump, Some(0)));
}

#[test]
fn gzipped_text_is_read_as_text() {
    let want = headers(SIGQUIT);
    let gz = gzip(SIGQUIT.as_bytes());
    let snaps = read_reader("dump.txt.gz", &gz[..], &Options::default()).unwrap();
    assert_eq!(snaps.len(), 1);
    assert_eq!(snaps[0].total_goroutines(), want);
    assert_eq!(snaps[0].reason.as_deref(), Some("SIGQUIT: quit"));
    assert_eq!(snaps[0].context, Some(Context::Crash));
    // A forced format applies to what is inside.
    let forced = Options {
        format: Some(FormatHint::Text),
        ..Options::default()
    };
    assert_eq!(total(&gz, &forced), want);
    // gzip inside gzip is read; a third layer is refused.
    let gz2 = gzip(&gz);
    assert_eq!(total(&gz2, &Options::default()), want);
    let e = read_reader("x.gz.gz.gz", &gzip(&gz2)[..], &Options::default()).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::TooLarge { .. }), "{e}");
    assert!(e.to_string().contains("nested"), "{e}");
}

#[test]
fn a_cut_gzip_keeps_what_came_before_the_cut() {
    let big: String = (0..200)
        .map(|i| DUMP.replace("goroutine ", &format!("goroutine {i}0")))
        .collect::<Vec<_>>()
        .join("\n");
    let gz = gzip(big.as_bytes());
    let cut = &gz[..gz.len() * 2 / 3];
    let snaps = read_reader("cut.gz", cut, &Options::default()).unwrap();
    let last = snaps.last().unwrap();
    assert!(last.truncated);
    assert!(
        last.warnings
            .iter()
            .any(|w| w.message.contains("gzip stream ends early")),
        "{:?}",
        last.warnings
    );
    // Corrupt bytes in the middle are an error naming the input, of kind Syntax.
    let mut bad = gz.clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 64] {
        *b ^= 0x5a;
    }
    if let Err(e) = read_reader("bad.gz", &bad[..], &Options::default()) {
        assert!(e.to_string().starts_with("bad.gz"), "{e}");
        assert!(matches!(e.kind(), ErrorKind::Syntax { .. }), "{e:?}");
    }
}

#[test]
fn too_many_dumps_keep_the_first_and_say_what_was_skipped() {
    // 20,000 bare headers: each repeats goroutine 1, so each is a dump of its own.
    let text = "goroutine 1 [running]:\n".repeat(20_000);
    let o = Options {
        max_snapshots: 100,
        threads: 2,
        ..Options::default()
    };
    let snaps =
        goroscope_ingest::text::read_with_block("bare.txt", text.as_bytes(), &o, 4096).unwrap();
    assert_eq!(snaps.len(), 100);
    let w = snaps[99]
        .warnings
        .iter()
        .find(|w| w.message.contains("more dumps than the 100 kept"))
        .unwrap_or_else(|| panic!("{:?}", snaps[99].warnings));
    assert!(
        w.message.contains("19900 more dumps (19900 goroutines)"),
        "{w}"
    );
    assert_eq!(w.line, Some(101));
    // The default cap applies to every reader entry (here through detection).
    let snaps = read_reader("bare.txt", text.as_bytes(), &Options::default()).unwrap();
    assert_eq!(snaps.len(), goroscope_ingest::MAX_SNAPSHOTS);
}

#[test]
fn errors_have_kinds_and_name_their_cause_once() {
    let e = read_input("/nonexistent/goroscope/dump.txt", &Options::default()).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Io);
    let mut chain = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(c) = cur {
        chain.push(c.to_string());
        cur = c.source();
    }
    let all = chain.join(": ");
    let os = std::io::Error::from(std::io::ErrorKind::NotFound).to_string();
    assert_eq!(chain.len(), 2, "{all}");
    assert_eq!(all.matches("No such file").count(), 1, "{all} ({os})");
    assert!(
        all.starts_with("/nonexistent/goroscope/dump.txt: cannot open"),
        "{all}"
    );
    let dir = std::env::temp_dir();
    let e = read_input(dir.to_str().unwrap(), &Options::default()).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NotADump);
    let e = read_reader(
        "p.txt",
        &b"goroutine profile: total 1\n1 @ 0x1\n# bad\n"[..],
        &Options::default(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Syntax { line: Some(3) });
    assert_eq!(e.line(), Some(3));
    let e = read_input("ftp://h/", &Options::default()).unwrap_err();
    assert_eq!(
        e.kind(),
        &ErrorKind::Io,
        "not a URL: a path that does not exist"
    );
    let e = read_input("http:///x", &Options::default()).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::BadUrl);
}
