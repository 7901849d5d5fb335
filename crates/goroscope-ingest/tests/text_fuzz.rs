//! The fuzz harnesses of `fuzz/` (`cargo fuzz run text` and `any`, nightly) on stable: every
//! corpus input and a few thousand deterministic mutations of them go through the same checks;
//! the `any` harness also gets the inputs gzipped (once, twice, three times), wrapped in
//! `go test -json` events and behind heads longer than format detection reads.

#[path = "../fuzz/src/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&[u8]] = &[
    b"goroutine ",
    b"goroutine 1 [running]:\n",
    b" gp=0x1 m=nil mp=0x2",
    b" [chan receive (leaked), 3 minutes, locked to thread]",
    b" {k: v, \"a b\": \"c\\\"d\"}:",
    b"main.f(0x1, {0x2?, ...})\n",
    b"(...)\n",
    b"\tmain.go:12 +0x1d",
    b" fp=0x1 sp=0x2 pc=0x3",
    b"created by main.g in goroutine 1\n",
    b"[originating from goroutine 3]:\n",
    b"...additional frames elided...\n",
    b"...7 frames elided...\n",
    b"\tgoroutine running on other thread; stack unavailable\n",
    b"panic: boom\n",
    b"SIGQUIT: quit\n",
    b"goroutine profile: total 3\n",
    b"runtime stack:\n",
    b"WARNING: DATA RACE\n",
    b"#011",
    b"\r\n",
    b"\n\n",
    b"I1126 10:00:00.000001 1 x.go:1] ",
    b"\xff\xfe\x00",
];

fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(7) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                v.splice(at..at, t.iter().copied());
            }
            2 => {
                let end = (at + rng.below(200)).min(v.len());
                v.drain(at..end);
            }
            3 => {
                let end = (at + rng.below(400)).min(v.len());
                let dup = v[at..end].to_vec();
                v.splice(at..at, dup);
            }
            4 => v.truncate(at),
            5 => {
                let o = rng.below(other.len() + 1);
                v.truncate(at);
                v.extend_from_slice(&other[o..]);
            }
            _ => {
                // Rewrite a line ending or a tab.
                if let Some(i) = v.iter().skip(at).position(|&c| c == b'\n' || c == b'\t') {
                    let i = at + i;
                    let with: &[u8] = if v[i] == b'\n' { b"\r\n" } else { b"    " };
                    v.splice(i..i + 1, with.iter().copied());
                }
            }
        }
    }
    v
}

fn corpus() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![here.join("fuzz/corpus/text")];
    dirs.push(goroscope_fixtures::shared_testdata("testdata/real-dumps"));
    for d in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&d)
            .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "txt" || e == "json"))
            .collect();
        files.sort();
        for f in files {
            out.push(std::fs::read(Path::new(&f)).unwrap());
        }
    }
    assert!(out.len() >= 3, "the committed corpus is there");
    out
}

#[test]
fn corpus_inputs_pass_the_harness() {
    for input in corpus() {
        harness::text_one(&input);
    }
}

#[test]
fn mutated_inputs_pass_the_harness() {
    let inputs = corpus();
    let iterations: usize = std::env::var("GOROSCOPE_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..iterations {
        let a = &inputs[rng.below(inputs.len())];
        let b = &inputs[rng.below(inputs.len())];
        let m = mutate(&mut rng, a, b);
        let r = std::panic::catch_unwind(|| harness::text_one(&m));
        if r.is_err() {
            let path = std::env::temp_dir().join(format!("goroscope-text-fuzz-{i}.txt"));
            std::fs::write(&path, &m).unwrap();
            panic!("iteration {i} failed; input saved to {}", path.display());
        }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Lines as `go test -json` output events (JSON-escaped by hand, as test2json does).
fn as_test2json(bytes: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, line) in bytes.split_inclusive(|&c| c == b'\n').enumerate() {
        let mut esc = String::new();
        for c in String::from_utf8_lossy(line).chars() {
            match c {
                '"' => esc.push_str("\\\""),
                '\\' => esc.push_str("\\\\"),
                '\n' => esc.push_str("\\n"),
                '\t' => esc.push_str("\\t"),
                c if (c as u32) < 0x20 => esc.push_str(&format!("\\u{:04x}", c as u32)),
                c => esc.push(c),
            }
        }
        let pkg = ["p/a", "p/b"][rng.below(2)];
        out.extend_from_slice(
            format!(
                "{{\"Action\":\"output\",\"Package\":\"{pkg}\",\"Test\":\"T{}\",\"Output\":\"{esc}\"}}\n",
                i % 3
            )
            .as_bytes(),
        );
    }
    out
}

/// An input in one of the containers and heads the `any` harness must see through.
fn wrap(rng: &mut Rng, input: Vec<u8>) -> Vec<u8> {
    match rng.below(6) {
        0 => gzip(&input),
        1 => gzip(&gzip(&input)),
        2 => gzip(&gzip(&gzip(&input))),
        3 => as_test2json(&input, rng),
        4 => {
            let mut v = vec![b'\n'; goroscope_ingest::HEAD_BYTES + rng.below(100)];
            v.extend_from_slice(&input);
            v
        }
        _ => input,
    }
}

#[test]
fn corpus_inputs_pass_the_any_harness() {
    let mut rng = Rng(0x51ED_2701_F00D_CAFE);
    for input in corpus() {
        harness::any_one(&input);
        for _ in 0..4 {
            harness::any_one(&wrap(&mut rng, input.clone()));
        }
    }
}

#[test]
fn mutated_wrapped_inputs_pass_the_any_harness() {
    let inputs = corpus();
    let iterations: usize = std::env::var("GOROSCOPE_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for i in 0..iterations {
        let a = &inputs[rng.below(inputs.len())];
        let b = &inputs[rng.below(inputs.len())];
        let m = mutate(&mut rng, a, b);
        let w = wrap(&mut rng, m);
        // Mutate the wrapped bytes too, sometimes (corrupt gzip, broken JSON).
        let w = if rng.below(3) == 0 {
            mutate(&mut rng, &w, b)
        } else {
            w
        };
        let r = std::panic::catch_unwind(|| harness::any_one(&w));
        if r.is_err() {
            let path = std::env::temp_dir().join(format!("goroscope-any-fuzz-{i}.bin"));
            std::fs::write(&path, &w).unwrap();
            panic!("iteration {i} failed; input saved to {}", path.display());
        }
    }
}
