//! Text tracebacks: `debug=2`, `runtime.Stack`, panics, `fatal error:`, SIGQUIT and test-timeout
//! dumps, also inside log files.
//!
//! The input is streamed in large blocks cut at line boundaries, never held whole. A block cut
//! just before a goroutine header (after a blank line) can be parsed on its own, so such blocks
//! go to worker threads, each with its own [`parse::Parser`] and interner; other blocks (a dump
//! inside a log, where no clean cut point was found) continue the previous block's parser on the
//! merging thread. The merger ([`merge::Merger`]) takes parser outputs in input order and splits
//! them into one snapshot per dump.

mod line;
mod merge;
mod parse;

use crate::{IngestError, Options, Result};
use goroscope_model::Snapshot;
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// Bytes read per block.
pub const BLOCK_BYTES: usize = 8 << 20;
/// What is kept of a line longer than a whole block: its end, where a glued header would be.
const LONG_LINE_TAIL: usize = 4096;
/// How many `\n\ngoroutine ` candidates are tried when looking for a clean cut.
const CUT_TRIES: usize = 64;

/// Reads every dump in a text stream: one snapshot per dump found.
pub fn read<R: Read>(name: &str, reader: R, opts: &Options) -> Result<Vec<Snapshot>> {
    read_with_block(name, reader, opts, BLOCK_BYTES)
}

/// [`read`] with a chosen block size (tests use tiny blocks to exercise the cuts).
#[doc(hidden)]
pub fn read_with_block<R: Read>(
    name: &str,
    reader: R,
    opts: &Options,
    block: usize,
) -> Result<Vec<Snapshot>> {
    let block = block.max(64);
    let mut chunker = Chunker::new(reader, block);
    let first = chunker.next().map_err(|e| IngestError::io(name, e))?;
    let mut merger = merge::Merger::new(name);
    // Asking for the core count reads cgroup files each time: only ask when there is more than
    // one block to share out (a small dump is one block).
    let threads = match opts.threads {
        _ if first.last => 1,
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    if threads <= 1 {
        // One parser over every block; what it finished is moved out after each block, so
        // goroutines are never held twice.
        let mut p = parse::Parser::new();
        let mut chunk = first;
        let mut fresh = true;
        loop {
            if let Some(w) = chunk.warn.take() {
                p.warn_next_line(w);
            }
            p.feed(&chunk.buf);
            if chunk.last {
                break;
            }
            merger.drain_part(&mut p, fresh);
            fresh = false;
            chunker.spare = Some(std::mem::take(&mut chunk.buf));
            chunk = chunker.next().map_err(|e| IngestError::io(name, e))?;
        }
        p.finish_eof();
        merger.drain_part(&mut p, fresh);
        merger.end_parser(&p);
        return merger.finish();
    }
    parallel(name, chunker, first, threads, merger)
}

/// A block of whole lines.
struct Chunk {
    buf: Vec<u8>,
    /// The next block starts at a goroutine header after a blank line.
    next_clean: bool,
    /// The end of the input.
    last: bool,
    /// A warning about the block's first line (an overlong line was shortened).
    warn: Option<String>,
}

/// Reads blocks and cuts them at line boundaries, preferring cuts before goroutine headers.
struct Chunker<R> {
    r: R,
    carry: Vec<u8>,
    block: usize,
    eof: bool,
    /// Buffers handed back after parsing, reused so big blocks are not faulted in again.
    recycled: Option<mpsc::Receiver<Vec<u8>>>,
    /// A buffer handed back by a single-threaded caller.
    spare: Option<Vec<u8>>,
}

impl<R: Read> Chunker<R> {
    fn new(r: R, block: usize) -> Self {
        Chunker {
            r,
            carry: Vec::new(),
            block,
            eof: false,
            recycled: None,
            spare: None,
        }
    }

    fn next(&mut self) -> io::Result<Chunk> {
        let mut warn = None;
        loop {
            let reuse = self
                .spare
                .take()
                .or_else(|| self.recycled.as_ref().and_then(|r| r.try_recv().ok()));
            let mut buf = match reuse {
                Some(mut b) => {
                    b.clear();
                    b.extend_from_slice(&self.carry);
                    b
                }
                None => {
                    let mut b = Vec::with_capacity(self.block + self.block / 2);
                    b.extend_from_slice(&self.carry);
                    b
                }
            };
            self.carry.clear();
            if !self.eof {
                // Always read at least half a block, so every call makes progress.
                let want = self.block.saturating_sub(buf.len()).max(self.block / 2);
                buf.reserve(want);
                let want = want as u64;
                let got = read_up_to(&mut self.r, &mut buf, want)?;
                if got < want {
                    self.eof = true;
                }
            }
            if self.eof {
                return Ok(Chunk {
                    buf,
                    next_clean: false,
                    last: true,
                    warn,
                });
            }
            if let Some(cut) = clean_cut(&buf) {
                self.carry.extend_from_slice(&buf[cut..]);
                buf.truncate(cut);
                return Ok(Chunk {
                    buf,
                    next_clean: true,
                    last: false,
                    warn,
                });
            }
            match memchr::memrchr(b'\n', &buf) {
                Some(nl) => {
                    self.carry.extend_from_slice(&buf[nl + 1..]);
                    buf.truncate(nl + 1);
                    return Ok(Chunk {
                        buf,
                        next_clean: false,
                        last: false,
                        warn,
                    });
                }
                None => {
                    // One line longer than a block: keep only its end.
                    let keep = LONG_LINE_TAIL.min(self.block / 4).min(buf.len());
                    self.carry.extend_from_slice(&buf[buf.len() - keep..]);
                    warn = Some(format!(
                        "a line longer than {} bytes was shortened to its last {LONG_LINE_TAIL} bytes",
                        self.block
                    ));
                }
            }
        }
    }
}

/// Reads until `want` bytes were appended or the input ended; returns how many were read.
fn read_up_to<R: Read>(r: &mut R, buf: &mut Vec<u8>, want: u64) -> io::Result<u64> {
    let before = buf.len();
    let mut t = r.take(want);
    loop {
        match t.read_to_end(buf) {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok((buf.len() - before) as u64)
}

/// The start of the last line of `buf` that is a goroutine header following a blank line that
/// follows a file line: a point where no parser state carries over.
fn clean_cut(buf: &[u8]) -> Option<usize> {
    let finder = memchr::memmem::FinderRev::new(b"\ngoroutine ");
    let mut end = buf.len();
    for _ in 0..CUT_TRIES {
        let i = finder.rfind(&buf[..end])?;
        end = i;
        let start = i + 1;
        if !buf.get(start + 10).is_some_and(|c| c.is_ascii_digit()) {
            continue;
        }
        // The header line must be complete inside the block.
        if memchr::memchr(b'\n', &buf[start..]).is_none() {
            continue;
        }
        // A blank line before it (`\n\n` or `\n\r\n`).
        let blank_end = if i >= 1 && buf[i - 1] == b'\n' {
            i - 1
        } else if i >= 2 && buf[i - 1] == b'\r' && buf[i - 2] == b'\n' {
            i - 2
        } else {
            continue;
        };
        // …and before that a file line (indented), so no report marker sits in between.
        let prev_start = memchr::memrchr(b'\n', &buf[..blank_end]).map_or(0, |p| p + 1);
        if matches!(buf.get(prev_start), Some(b'\t' | b' ')) && prev_start > 0 {
            return Some(start);
        }
    }
    None
}

/// Drains a parser, first applying a report marker left over at the end of the previous one
/// (`panic: …` in one block, its first goroutine header starting the next), then keeping this
/// parser's own leftover marker for the next.
fn drain(
    merger: &mut merge::Merger<'_>,
    p: &mut parse::Parser,
    carried: &mut Option<(String, u64)>,
) {
    if let Some((text, line)) = carried.take() {
        if !p.goroutines.is_empty() && !p.starts_with_marker() {
            merger.carried_marker(text, line);
        }
    }
    let base = merger.base_line;
    let left = p.take_candidates();
    merger.drain(p);
    *carried = left
        .into_iter()
        .find(|c| c.fits_unprefixed_header())
        .map(|c| (c.text, base + c.line));
}

enum Msg {
    /// A block parsed by a worker from a fresh state.
    Parsed(Box<parse::Parser>),
    /// A block that continues the previous block's state; parsed by the merger.
    Raw(Chunk),
    Failed(io::Error),
}

fn parallel<R: Read>(
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
        for _ in 0..threads {
            let rx = Arc::clone(&work_rx);
            let tx = res_tx.clone();
            let pool = pool_tx.clone();
            s.spawn(move || loop {
                let job = { rx.lock().map(|r| r.recv()) };
                let Ok(Ok((seq, mut chunk))) = job else {
                    return;
                };
                let mut p = parse::Parser::new();
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
            let mut waiting: BTreeMap<usize, Msg> = BTreeMap::new();
            let mut next = 0usize;
            let mut open: Option<Box<parse::Parser>> = None;
            let mut carried: Option<(String, u64)> = None;
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
                match msg {
                    Msg::Parsed(p) => {
                        if let Some(mut prev) = open.take() {
                            prev.close_at_cut();
                            drain(&mut merger, &mut prev, &mut carried);
                        }
                        open = Some(p);
                    }
                    Msg::Raw(mut chunk) => {
                        let p = open.get_or_insert_with(|| Box::new(parse::Parser::new()));
                        if let Some(w) = chunk.warn.take() {
                            p.warn_next_line(w);
                        }
                        p.feed(&chunk.buf);
                        let _ = pool.send(chunk.buf);
                    }
                    Msg::Failed(e) => return Err(IngestError::io(name, e)),
                }
            }
            // Every sender is gone: the input ended.
            if let Some(mut p) = open.take() {
                p.finish_eof();
                drain(&mut merger, &mut p, &mut carried);
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
                        let _ = reader_tx.send((seq, Msg::Failed(e)));
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
