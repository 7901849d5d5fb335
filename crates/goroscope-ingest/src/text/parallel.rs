//! Parsing blocks on worker threads and merging their outputs in input order.

use super::chunk::{Chunk, Chunker};
use super::{merge, parse};
use crate::{IngestError, Result};
use goroscope_model::{ArgStore, Snapshot};
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// The parser that later blocks without a clean cut continue, and whether it was drained
/// before.
struct Open {
    p: Box<parse::Parser>,
    drained: bool,
}

/// Moves what an open parser finished so far into snapshots (it goes on with the next raw
/// block), so a long run of blocks without a clean cut never piles up in it. The first drain
/// applies the report marker left over by the parser before it.
fn drain_some(merger: &mut merge::Merger<'_>, o: &mut Open, carried: &mut Option<merge::Marker>) {
    if !o.drained {
        apply_carried(merger, &o.p, carried);
    }
    merger.drain_part(&mut o.p, !o.drained);
    o.drained = true;
}

/// Drains a finished parser, first applying a report marker left over at the end of the
/// previous one (`panic: …` in one block, its first goroutine header starting the next), then
/// keeping this parser's own leftover marker for the next.
fn drain(
    merger: &mut merge::Merger<'_>,
    mut o: Open,
    carried: &mut Option<merge::Marker>,
) -> ArgStore {
    if !o.drained {
        apply_carried(merger, &o.p, carried);
    }
    let base = merger.base_line;
    let left = o.p.take_candidates();
    merger.drain_part(&mut o.p, !o.drained);
    merger.end_parser(&o.p);
    *carried = left
        .into_iter()
        .find(|c| c.fits_unprefixed_header())
        .map(|c| merge::Marker {
            text: c.text,
            line: base + c.line,
            continues: c.continues,
            tests: c.tests,
        });
    // Emptied by the merge, with its allocation: for a worker's next block.
    std::mem::take(&mut o.p.args)
}

fn apply_carried(
    merger: &mut merge::Merger<'_>,
    p: &parse::Parser,
    carried: &mut Option<merge::Marker>,
) {
    if let Some(m) = carried.take() {
        if !p.goroutines.is_empty() && !p.starts_with_marker() {
            merger.carried_marker(m);
        }
    }
}

/// Goroutines an open parser holds before they are moved into snapshots.
const DRAIN_OPEN_AT: usize = 8192;

enum Msg {
    /// A block parsed by a worker from a fresh state.
    Parsed(Box<parse::Parser>),
    /// A block that continues the previous block's state; parsed by the merger.
    Raw(Chunk),
    Failed(io::Error),
}

pub(super) fn parallel<R: Read>(
    name: &str,
    mut chunker: Chunker<R>,
    first: Chunk,
    threads: usize,
    mut merger: merge::Merger<'_>,
) -> Result<Vec<Snapshot>> {
    std::thread::scope(|s| -> Result<Vec<Snapshot>> {
        let (work_tx, work_rx) = mpsc::sync_channel::<(usize, Chunk)>(threads);
        let work_rx = Arc::new(Mutex::new(work_rx));
        let (res_tx, res_rx) = mpsc::sync_channel::<(usize, Msg)>(threads * 2 + 2);
        let (pool_tx, pool_rx) = mpsc::channel::<Vec<u8>>();
        chunker.recycled = Some(pool_rx);
        // Blocks read but not yet merged, counted with tokens: the reader takes one per block
        // (waiting when all are out), the merger gives it back once the block is merged in
        // order. Without them, blocks read while a worker is still on an earlier one pile up
        // out of order with no bound (a whole input without clean cuts, held in memory).
        let (tokens_tx, tokens_rx) = mpsc::sync_channel::<()>(threads * 2 + 2);
        // Argument stores of merged blocks, for the workers' next ones: a block's store grows
        // to a few hundred KiB, which a fresh one would fault in again for every block.
        let stores: Arc<Mutex<Vec<ArgStore>>> = Arc::default();
        for _ in 0..threads {
            let rx = Arc::clone(&work_rx);
            let tx = res_tx.clone();
            let pool = pool_tx.clone();
            let stores = Arc::clone(&stores);
            s.spawn(move || loop {
                let job = { rx.lock().map(|r| r.recv()) };
                let Ok(Ok((seq, mut chunk))) = job else {
                    return;
                };
                let mut p = parse::Parser::new();
                if let Some(store) = stores.lock().ok().and_then(|mut v| v.pop()) {
                    p.args = store;
                }
                if let Some(w) = chunk.warn.take() {
                    p.warn_next_line(w);
                }
                p.feed(&chunk.buf);
                let _ = pool.send(chunk.buf);
                if tx.send((seq, Msg::Parsed(Box::new(p)))).is_err() {
                    return;
                }
            });
        }
        drop(work_rx);
        // Merge in order, on its own thread: the reader must stay on this one.
        let merging = s.spawn(move || -> Result<Vec<Snapshot>> {
            let pool = pool_tx;
            let recycle = |store: ArgStore| {
                if let Ok(mut v) = stores.lock() {
                    if v.len() < threads {
                        v.push(store);
                    }
                }
            };
            let mut waiting: BTreeMap<usize, Msg> = BTreeMap::new();
            let mut next = 0usize;
            let mut open: Option<Open> = None;
            let mut carried: Option<merge::Marker> = None;
            loop {
                let msg = match waiting.remove(&next) {
                    Some(m) => m,
                    None => match res_rx.recv() {
                        Ok((seq, m)) if seq == next => m,
                        Ok((seq, m)) => {
                            waiting.insert(seq, m);
                            continue;
                        }
                        Err(_) => break,
                    },
                };
                next += 1;
                // Give back the message's token (taken before it was sent).
                let _ = tokens_rx.recv();
                match msg {
                    Msg::Parsed(p) => {
                        if let Some(mut prev) = open.take() {
                            prev.p.close_at_cut();
                            recycle(drain(&mut merger, prev, &mut carried));
                        }
                        open = Some(Open { p, drained: false });
                    }
                    Msg::Raw(mut chunk) => {
                        let o = open.get_or_insert_with(|| Open {
                            p: Box::new(parse::Parser::new()),
                            drained: false,
                        });
                        if let Some(w) = chunk.warn.take() {
                            o.p.warn_next_line(w);
                        }
                        o.p.feed(&chunk.buf);
                        let _ = pool.send(chunk.buf);
                        if o.p.goroutines.len() >= DRAIN_OPEN_AT {
                            drain_some(&mut merger, o, &mut carried);
                        }
                    }
                    Msg::Failed(e) => return Err(IngestError::io(name, "reading", e)),
                }
            }
            // Every sender is gone: the input ended.
            if let Some(mut o) = open.take() {
                o.p.finish_eof();
                drain(&mut merger, o, &mut carried);
            }
            drop(res_rx);
            merger.finish()
        });
        let reader_tx = res_tx;
        {
            let (work_tx, reader_tx) = (work_tx, reader_tx);
            let mut seq = 0usize;
            let mut chunk = first;
            let mut clean = true;
            loop {
                let last = chunk.last;
                let next_clean = chunk.next_clean;
                if tokens_tx.send(()).is_err() {
                    break;
                }
                let sent = if clean {
                    work_tx.send((seq, chunk)).is_ok()
                } else {
                    reader_tx.send((seq, Msg::Raw(chunk))).is_ok()
                };
                if !sent || last {
                    break;
                }
                seq += 1;
                clean = next_clean;
                chunk = match chunker.next() {
                    Ok(c) => c,
                    Err(e) => {
                        if tokens_tx.send(()).is_ok() {
                            let _ = reader_tx.send((seq, Msg::Failed(e)));
                        }
                        break;
                    }
                };
            }
        }

        merging
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}
