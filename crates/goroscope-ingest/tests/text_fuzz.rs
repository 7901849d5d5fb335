//! The fuzz harness of `fuzz/` (`cargo fuzz run text`, nightly) on stable: every corpus input
//! and a few thousand deterministic mutations of them go through the same checks.

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
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
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
