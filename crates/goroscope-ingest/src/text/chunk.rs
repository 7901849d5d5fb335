//! Cutting a stream into blocks of whole lines, preferring cuts right before a goroutine
//! header that follows a blank line: a point where no parser state carries over, so the block
//! after it can be parsed on its own.

use std::io::{self, Read};
use std::sync::mpsc;

/// What is kept of a line longer than a whole block: its end, where a glued header would be.
const LONG_LINE_TAIL: usize = 4096;
/// How many `\n\ngoroutine ` candidates are tried when looking for a clean cut.
const CUT_TRIES: usize = 64;

/// A block of whole lines.
pub(crate) struct Chunk {
    pub buf: Vec<u8>,
    /// The next block starts at a goroutine header after a blank line.
    pub next_clean: bool,
    /// The end of the input.
    pub last: bool,
    /// A warning about the block's first line (an overlong line was shortened).
    pub warn: Option<String>,
}

/// Reads blocks and cuts them at line boundaries, preferring cuts before goroutine headers.
pub(crate) struct Chunker<R> {
    r: R,
    carry: Vec<u8>,
    block: usize,
    eof: bool,
    /// Buffers handed back after parsing, reused so big blocks are not faulted in again.
    pub recycled: Option<mpsc::Receiver<Vec<u8>>>,
    /// A buffer handed back by a single-threaded caller.
    pub spare: Option<Vec<u8>>,
}

impl<R: Read> Chunker<R> {
    pub fn new(r: R, block: usize) -> Self {
        Chunker {
            r,
            carry: Vec::new(),
            block,
            eof: false,
            recycled: None,
            spare: None,
        }
    }

    pub fn next(&mut self) -> io::Result<Chunk> {
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
