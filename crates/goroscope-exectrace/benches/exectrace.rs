//! Throughput of the execution-trace reader, in bytes per second: the ordered event stream
//! alone ([`Reader`]) and the whole analysis ([`read`]: lifecycles, sites, snapshot), over the
//! real traces in `tests/data` and, when present, the large trace `bench/exectrace.sh` writes
//! (`bench/data/exectrace-100000000.trace`). The comparison with the runtime's own parser is
//! `bench/exectrace.sh`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use goroscope_exectrace::{read, Options, Reader};
use std::io::Cursor;
use std::path::PathBuf;

fn traces() -> Vec<(String, Vec<u8>)> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut v = Vec::new();
    for name in ["seed-go1.22.trace", "seed-go1.27.trace"] {
        v.push((
            name.to_owned(),
            std::fs::read(manifest.join("tests/data").join(name)).unwrap(),
        ));
    }
    let big = manifest.join("../../bench/data/exectrace-100000000.trace");
    match std::fs::read(&big) {
        Ok(b) => v.push(("exectrace-100MB".to_owned(), b)),
        Err(_) => eprintln!(
            "SKIPPED the 100 MB trace: {} missing (bench/exectrace.sh writes it)",
            big.display()
        ),
    }
    v
}

fn bench(c: &mut Criterion) {
    for (name, bytes) in traces() {
        let mut g = c.benchmark_group(format!("exectrace/{name}"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        if bytes.len() > 10 << 20 {
            g.sample_size(10);
        }
        g.bench_function("events", |b| {
            b.iter(|| {
                let mut r = Reader::new(Cursor::new(bytes.clone())).unwrap();
                let mut n = 0u64;
                while r.next_event().unwrap().is_some() {
                    n += 1;
                }
                n
            })
        });
        g.bench_function("analysis", |b| {
            b.iter(|| read(Cursor::new(bytes.clone()), &Options::default()).unwrap())
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
