//! Ingest hot paths with byte throughput: the text reader (`debug=2`) on a ~50 MB dump, serial
//! and on every core, and on the real Go 1.27 samples; the `debug=1` and protobuf readers.
//!
//! Data, in order of preference:
//! * dumps from the generator (`bench/gen`, written to `bench/data/` by `bench/run.sh` or by
//!   hand, or the folder named by `GOROSCOPE_BENCH_DATA`);
//! * the Go 1.27 samples (`shared/research/go127-samples` beside the repository, or the folder
//!   named by `GOROSCOPE_GO127_SAMPLES`);
//! * a ~50 MB `debug=2` dump synthesized in-process from the samples' goroutines, so the text
//!   reader's throughput is measured even on a machine without generated data.
//!
//! Whatever is missing is skipped with a message on stderr. Run with
//! `cargo bench -p goroscope-ingest --bench ingest` (add `-- text` to run one group).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use goroscope_ingest::{read_reader, FormatHint, Options};
use std::fs;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The size the big text benchmark aims for.
const TEXT_TARGET_BYTES: usize = 50 << 20;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn data_dir() -> PathBuf {
    std::env::var_os("GOROSCOPE_BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("bench/data"))
}

fn samples_dir() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("GOROSCOPE_GO127_SAMPLES").map(PathBuf::from),
        Some(repo_root().join("../shared/research/go127-samples")),
        Some(PathBuf::from("/work/shared/research/go127-samples")),
    ];
    candidates.into_iter().flatten().find(|p| p.is_dir())
}

/// Generated files of one form (`debug2.txt`, `debug1.txt`, `pb.gz`), smallest count first.
fn generated(suffix: &str) -> Vec<(u64, PathBuf)> {
    let mut found: Vec<(u64, PathBuf)> = fs::read_dir(data_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n = name.strip_prefix("goroutines-")?.strip_suffix(suffix)?;
            let n = n.strip_suffix('.').unwrap_or(n).parse().ok()?;
            Some((n, e.path()))
        })
        .collect();
    found.sort();
    found
}

/// The first `target` bytes of a `debug=2` dump, cut before a goroutine header so the prefix is
/// itself a complete dump.
fn prefix_at_goroutine(mut bytes: Vec<u8>, target: usize) -> Vec<u8> {
    if bytes.len() <= target {
        return bytes;
    }
    let cut = memchr::memmem::rfind(&bytes[..target], b"\n\ngoroutine ")
        .map(|i| i + 2)
        .unwrap_or(target);
    bytes.truncate(cut);
    bytes
}

/// A ~`target`-byte `debug=2` dump made by repeating the goroutines of a real one with fresh ids.
fn synthesize_debug2(sample: &str, target: usize) -> Vec<u8> {
    let blocks: Vec<&str> = sample
        .split("\n\n")
        .filter(|b| b.starts_with("goroutine ") && !b.contains("# [trimmed"))
        .collect();
    let mut out = Vec::with_capacity(target + 4096);
    let mut goid = 1u64;
    'fill: loop {
        for b in &blocks {
            let Some(rest) = b.strip_prefix("goroutine ") else {
                continue;
            };
            let Some(sp) = rest.find(' ') else { continue };
            out.extend_from_slice(format!("goroutine {goid}").as_bytes());
            out.extend_from_slice(&rest.as_bytes()[sp..]);
            out.extend_from_slice(b"\n\n");
            goid += 1;
            if out.len() >= target {
                break 'fill;
            }
        }
        if blocks.is_empty() {
            break;
        }
    }
    out
}

fn total(name: &str, bytes: &[u8], opts: &Options) -> u64 {
    match read_reader(name, bytes, opts) {
        Ok(snaps) => snaps.iter().map(|s| s.total_goroutines()).sum(),
        Err(e) => panic!("{name}: {e}"),
    }
}

/// Reads `bytes` once outside the timer; returns false (with a message) if the reader rejects it,
/// so a reader that is not built yet skips its benchmarks instead of failing the run.
fn readable(name: &str, bytes: &[u8], opts: &Options) -> bool {
    match read_reader(name, bytes, opts) {
        Ok(snaps) => {
            let n: u64 = snaps.iter().map(|s| s.total_goroutines()).sum();
            eprintln!(
                "ingest bench: {name}: {} bytes, {n} goroutines",
                bytes.len()
            );
            true
        }
        Err(e) => {
            eprintln!("ingest bench: skipping {name}: {e}");
            false
        }
    }
}

fn text(c: &mut Criterion) {
    let mut g = c.benchmark_group("text");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(15));

    let big = match generated("debug2.txt")
        .into_iter()
        .find(|(n, _)| *n >= 40_000)
    {
        Some((_, path)) => match fs::read(&path) {
            Ok(b) => Some(("gen-50MB", prefix_at_goroutine(b, TEXT_TARGET_BYTES))),
            Err(e) => {
                eprintln!("ingest bench: cannot read {}: {e}", path.display());
                None
            }
        },
        None => {
            eprintln!(
                "ingest bench: no generated debug=2 dump of 40k+ goroutines in {} \
                 (run bench/run.sh or bench/gen); using a synthesized one",
                data_dir().display()
            );
            None
        }
    };
    let big = big.or_else(|| {
        let sample = fs::read_to_string(samples_dir()?.join("goroutine_debug2.txt")).ok()?;
        Some(("synth-50MB", synthesize_debug2(&sample, TEXT_TARGET_BYTES)))
    });
    match big {
        Some((label, bytes)) => {
            g.throughput(Throughput::Bytes(bytes.len() as u64));
            for threads in [1usize, 0] {
                let opts = Options {
                    format: Some(FormatHint::Text),
                    threads,
                    ..Options::default()
                };
                let id = BenchmarkId::new(
                    label,
                    if threads == 0 {
                        "all-cores".to_string()
                    } else {
                        format!("{threads}-thread")
                    },
                );
                if readable(label, &bytes, &opts) {
                    g.bench_with_input(id, &bytes, |b, bytes| {
                        b.iter(|| black_box(total(label, bytes, &opts)))
                    });
                }
            }
        }
        None => {
            eprintln!("ingest bench: no debug=2 data at all: skipping the 50 MB text benchmark")
        }
    }

    match samples_dir() {
        Some(dir) => {
            for name in [
                "goroutine_debug2.txt",
                "goroutineleak_debug2.txt",
                "sigquit_default.txt",
                "sigquit_tracebackancestors.txt",
                "panic_gotraceback_all.txt",
                "fatal_deadlock.txt",
            ] {
                let Ok(bytes) = fs::read(dir.join(name)) else {
                    eprintln!("ingest bench: {name} missing from {}", dir.display());
                    continue;
                };
                let opts = Options::default();
                if readable(name, &bytes, &opts) {
                    g.throughput(Throughput::Bytes(bytes.len() as u64));
                    g.bench_with_input(BenchmarkId::new("go127", name), &bytes, |b, bytes| {
                        b.iter(|| black_box(total(name, bytes, &opts)))
                    });
                }
            }
        }
        None => eprintln!("ingest bench: Go 1.27 samples not found: skipping them"),
    }
    g.finish();
}

/// One benchmark per generated file of `suffix` (largest first, at most two) and per sample.
fn aggregated(c: &mut Criterion, group: &str, suffix: &str, samples: &[&str]) {
    let mut g = c.benchmark_group(group);
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    let gen = generated(suffix);
    if gen.is_empty() {
        eprintln!(
            "ingest bench: no generated *.{suffix} in {}: skipping",
            data_dir().display()
        );
    }
    for (n, path) in gen.iter().rev().take(2) {
        let Ok(bytes) = fs::read(path) else { continue };
        let label = format!("gen-{n}");
        if readable(&label, &bytes, &Options::default()) {
            g.throughput(Throughput::Bytes(bytes.len() as u64));
            g.bench_with_input(BenchmarkId::new("gen", n), &bytes, |b, bytes| {
                b.iter(|| black_box(total(&label, bytes, &Options::default())))
            });
        }
    }
    if let Some(dir) = samples_dir() {
        for name in samples {
            let Ok(bytes) = fs::read(dir.join(name)) else {
                continue;
            };
            if readable(name, &bytes, &Options::default()) {
                g.throughput(Throughput::Bytes(bytes.len() as u64));
                g.bench_with_input(BenchmarkId::new("go127", name), &bytes, |b, bytes| {
                    b.iter(|| black_box(total(name, bytes, &Options::default())))
                });
            }
        }
    }
    g.finish();
}

fn debug1(c: &mut Criterion) {
    aggregated(
        c,
        "debug1",
        "debug1.txt",
        &["goroutine_debug1.txt", "goroutineleak_debug1.txt"],
    );
}

fn proto(c: &mut Criterion) {
    aggregated(
        c,
        "proto",
        "pb.gz",
        &[
            "goroutine_debug0.pb.gz",
            "goroutineleak_debug0.pb.gz",
            "http_goroutine_delta_1s.pb.gz",
        ],
    );
}

criterion_group!(benches, text, debug1, proto);
criterion_main!(benches);
