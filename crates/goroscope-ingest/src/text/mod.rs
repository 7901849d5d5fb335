//! Text tracebacks: `debug=2`, `runtime.Stack`, panics, `fatal error:`, SIGQUIT and test-timeout
//! dumps, also inside log files.
//!
//! The input is streamed in large blocks cut at line boundaries, never held whole. A block cut
//! just before a goroutine header (after a blank line) can be parsed on its own, so such blocks
//! go to worker threads, each with its own [`parse::Parser`] and interner; other blocks (a dump
//! inside a log, where no clean cut point was found) continue the previous block's parser on the
//! merging thread. The merger ([`merge::Merger`]) takes parser outputs in input order and splits
//! them into one snapshot per dump.
//!
//! Files: [`chunk`] cuts blocks, [`parallel`] runs the workers and the in-order merge (with a
//! bound on the blocks read ahead), [`parse`] is the line state machine, [`merge`] makes the
//! snapshots, [`line`] recognises each kind of line.

mod chunk;
mod line;
pub(crate) mod merge;
mod parallel;
mod parse;

use crate::readers::{Input, Reader};
use crate::{FormatHint, IngestError, Options, Result};
use chunk::Chunker;
use goroscope_model::Snapshot;
use parallel::parallel;
use std::io::Read;

/// Bytes read per block.
pub const BLOCK_BYTES: usize = 8 << 20;

pub(crate) static READER: Reader = Reader {
    name: "text",
    hint: Some(FormatHint::Text),
    // The last entry: whatever no other reader claimed.
    detect: |_| true,
    read: |input: &Input<'_>, stream: &mut dyn Read| read(input.name, stream, input.opts),
};

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
    let first = chunker
        .next()
        .map_err(|e| IngestError::io(name, "reading", e))?;
    let merger = merge::Merger::new(name, merge::Budget::new(opts.max_snapshots));
    // Asking for the core count reads cgroup files each time: only ask when there is more than
    // one block to share out (a small dump is one block).
    let threads = match opts.threads {
        _ if first.last => 1,
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    if threads <= 1 {
        let mut push = Push::with_merger(merger);
        let mut chunk = first;
        loop {
            if let Some(w) = chunk.warn.take() {
                push.p.warn_next_line(w);
            }
            push.feed(&chunk.buf);
            if chunk.last {
                break;
            }
            push.drain();
            chunker.spare = Some(std::mem::take(&mut chunk.buf));
            chunk = chunker
                .next()
                .map_err(|e| IngestError::io(name, "reading", e))?;
        }
        return push.finish();
    }
    parallel(name, chunker, first, threads, merger)
}

/// A text reader fed whole lines by its caller, on one thread: one parser over every line,
/// whose finished goroutines move to their snapshots at each [`Push::drain`] (so they are
/// never held twice). Used for blocks read on one thread and for the dumps inside other
/// formats (`go test -json` output).
pub(crate) struct Push<'a> {
    p: parse::Parser,
    merger: merge::Merger<'a>,
    fresh: bool,
}

impl<'a> Push<'a> {
    pub fn new(name: &'a str, budget: merge::Budget) -> Self {
        Self::with_merger(merge::Merger::new(name, budget))
    }

    fn with_merger(merger: merge::Merger<'a>) -> Self {
        Push {
            p: parse::Parser::new(),
            merger,
            fresh: true,
        }
    }

    /// Feeds whole lines (`buf` ends with `\n` unless it is the end of the input).
    pub fn feed(&mut self, buf: &[u8]) {
        self.p.feed(buf);
    }

    /// Goroutines parsed and not yet moved into snapshots.
    pub fn pending(&self) -> usize {
        self.p.goroutines.len()
    }

    /// Moves what was parsed so far into snapshots.
    pub fn drain(&mut self) {
        self.merger.drain_part(&mut self.p, self.fresh);
        self.fresh = false;
    }

    /// The input ended: the snapshots, or why there are none.
    pub fn finish(mut self) -> Result<Vec<Snapshot>> {
        self.p.finish_eof();
        self.merger.drain_part(&mut self.p, self.fresh);
        self.merger.end_parser(&self.p);
        self.merger.finish()
    }
}
