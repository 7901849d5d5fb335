//! One generation of a trace: its event batches (buffered, per thread), string and stack
//! tables, timestamp frequency and clock snapshot.
//!
//! A generation is the unit the runtime writes: every string and stack an event of the
//! generation refers to is in its own tables (which the runtime writes at its end), so a
//! generation is read whole before any of its events is interpreted, and dropped after. Memory
//! is bounded by the largest generation, not the trace.

use crate::input::{ReadErr, Src};
use crate::wire::*;
use rustc_hash::FxHashMap;
use std::io;

/// Where one event batch's payload lies in [`Generation::data`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchRef {
    pub time: u64,
    pub start: usize,
    pub len: usize,
    /// Stream offset of the payload, for error messages.
    pub offset: u64,
}

/// The event batches of one thread (M), in file order.
#[derive(Debug, Default)]
pub(crate) struct MBatches {
    pub m: u64,
    pub batches: Vec<BatchRef>,
}

/// One frame of the stack table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawFrame {
    pub func: u64,
    pub file: u64,
    pub line: u64,
}

/// A generation's clock snapshot (Go 1.25+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockSnapshot {
    /// The trace clock's reading, in raw ticks.
    pub ticks: u64,
    /// The monotonic clock, in nanoseconds.
    pub mono: u64,
    /// The wall clock: seconds and nanoseconds since the Unix epoch.
    pub sec: u64,
    pub nsec: u64,
}

/// Everything the reader keeps of one generation.
#[derive(Debug, Default)]
pub(crate) struct Generation {
    pub gen: u64,
    /// Stream offset of the generation's first batch.
    pub offset: u64,
    /// Nanoseconds per tick, computed exactly as the runtime's parser does.
    pub freq: f64,
    pub min_ts: u64,
    pub data: Vec<u8>,
    pub ms: Vec<MBatches>,
    m_index: FxHashMap<u64, usize>,
    pub strings: FxHashMap<u64, Box<str>>,
    pub stacks: FxHashMap<u64, (u32, u32)>,
    pub stack_pcs: Vec<u64>,
    pub frames: FxHashMap<u64, RawFrame>,
    /// CPU sample times (ns), sorted: they take part in the runtime parser's timestamp
    /// ordering, so they do in ours.
    pub cpu_times: Vec<i64>,
    pub has_freq: bool,
    pub clock: Option<ClockSnapshot>,
    /// Bytes of the generation in the stream.
    pub bytes: u64,
}

impl Generation {
    fn reset(&mut self) {
        self.gen = 0;
        self.offset = 0;
        self.freq = 0.0;
        self.min_ts = 0;
        self.data.clear();
        self.ms.clear();
        self.m_index.clear();
        self.strings.clear();
        self.stacks.clear();
        self.stack_pcs.clear();
        self.frames.clear();
        self.cpu_times.clear();
        self.has_freq = false;
        self.clock = None;
        self.bytes = 0;
    }

    /// Converts raw ticks to nanoseconds, as `frequency.mul` does.
    #[inline]
    pub fn ns(&self, ticks: u64) -> i64 {
        (ticks as f64 * self.freq) as i64
    }

    /// The frames (program counters) of a stack; `None` for an unknown id, empty for 0.
    pub fn stack(&self, id: u64) -> Option<&[u64]> {
        if id == 0 {
            return Some(&[]);
        }
        let &(s, n) = self.stacks.get(&id)?;
        Some(&self.stack_pcs[s as usize..(s + n) as usize])
    }

    /// A string of the table; `None` for an unknown id, `""` for 0.
    pub fn string(&self, id: u64) -> Option<&str> {
        if id == 0 {
            return Some("");
        }
        self.strings.get(&id).map(|s| &**s)
    }
}

/// A batch header.
struct BatchHead {
    kind: u8,
    exp: u8,
    gen: u64,
    m: u64,
    time: u64,
    size: usize,
    /// Offset of the batch's first byte.
    offset: u64,
}

/// How reading a generation ended.
pub(crate) enum GenRead {
    /// A complete generation (there may be more).
    Complete,
    /// The input ended cleanly: no more generations.
    End,
    /// The input ended inside the generation (a cut-off trace); what it had is dropped.
    Truncated(String, u64),
}

/// An end noticed while reading ahead.
enum Pending {
    Truncated(String, u64),
    Broken(Broken),
}

/// A batch read ahead: the first batch of the next generation (traces before Go 1.26 mark a
/// generation's end only by the next one's start).
pub(crate) struct Spill {
    head: BatchHead,
    payload: Vec<u8>,
}

/// A broken trace: what went wrong and where.
#[derive(Debug)]
pub(crate) struct Broken {
    pub offset: u64,
    pub message: String,
}

pub(crate) enum GenErr {
    Broken(Broken),
    Io(io::Error),
}

fn broken(offset: u64, message: impl Into<String>) -> GenErr {
    GenErr::Broken(Broken {
        offset,
        message: message.into(),
    })
}

/// Reads generations from a source.
pub(crate) struct GenReader {
    pub version: Version,
    spill: Option<Spill>,
    scratch: Vec<u8>,
    /// What ended the input after a complete generation (traces before Go 1.26, whose
    /// generations end only where the next begins): reported on the next read.
    pending: Option<Pending>,
    /// The largest generation accepted, in bytes.
    pub max_generation_bytes: u64,
}

impl GenReader {
    pub fn new(version: Version, max_generation_bytes: u64) -> Self {
        GenReader {
            version,
            spill: None,
            scratch: Vec::new(),
            pending: None,
            max_generation_bytes,
        }
    }

    /// A cut noticed while reading ahead, if any: the likelier cause of a generation that
    /// turns out inconsistent.
    pub fn take_pending_cut(&mut self) -> Option<(String, u64)> {
        match self.pending.take() {
            Some(Pending::Truncated(m, o)) => Some((m, o)),
            other => {
                self.pending = other;
                None
            }
        }
    }

    /// Reads one batch header; `Ok(None)` at a clean end of input.
    fn head(&self, src: &mut Src<'_>) -> Result<Option<BatchHead>, (ReadErr, u64)> {
        let offset = src.offset();
        let kind = match src.byte() {
            Ok(b) => b,
            Err(ReadErr::Eof) => return Ok(None),
            Err(e) => return Err((e, offset)),
        };
        let mut h = BatchHead {
            kind,
            exp: 0,
            gen: 0,
            m: 0,
            time: 0,
            size: 0,
            offset,
        };
        if kind == EV_END_OF_GENERATION && self.version >= Version::Go126 {
            return Ok(Some(h));
        }
        if kind != EV_EVENT_BATCH
            && !(kind == EV_EXPERIMENTAL_BATCH && self.version >= Version::Go123)
        {
            return Err((
                ReadErr::Io(io::Error::other(format!(
                    "expected a batch, found event type {kind} ({})",
                    event_name(kind)
                ))),
                offset,
            ));
        }
        let err = |e: ReadErr| (e, offset);
        if kind == EV_EXPERIMENTAL_BATCH {
            h.exp = src.byte().map_err(err)?;
        }
        let mut field = |what: &str| -> Result<u64, (ReadErr, u64)> {
            match src.uvarint() {
                Ok(Some(v)) => Ok(v),
                Ok(None) => Err((
                    ReadErr::Io(io::Error::other(format!(
                        "malformed varint in batch {what}"
                    ))),
                    offset,
                )),
                Err(e) => Err((e, offset)),
            }
        };
        h.gen = field("generation")?;
        h.m = field("thread id")?;
        h.time = field("timestamp")?;
        let size = field("size")?;
        if size > MAX_BATCH_SIZE {
            return Err((
                ReadErr::Io(io::Error::other(format!(
                    "batch size {size} exceeds the maximum {MAX_BATCH_SIZE}"
                ))),
                offset,
            ));
        }
        h.size = size as usize;
        Ok(Some(h))
    }

    /// Reads the next generation into `g`.
    pub fn read(&mut self, src: &mut Src<'_>, g: &mut Generation) -> Result<GenRead, GenErr> {
        g.reset();
        g.offset = src.offset();
        match self.pending.take() {
            Some(Pending::Truncated(msg, off)) => return Ok(GenRead::Truncated(msg, off)),
            Some(Pending::Broken(b)) => return Err(GenErr::Broken(b)),
            None => {}
        }
        let mut any = false;
        if let Some(sp) = self.spill.take() {
            g.gen = sp.head.gen;
            g.offset = sp.head.offset;
            g.min_ts = sp.head.time;
            any = true;
            self.add(g, &sp.head, Payload::Owned(sp.payload))?;
        }
        loop {
            let head = match self.head(src) {
                Ok(Some(h)) => h,
                Ok(None) => {
                    if !any {
                        return Ok(GenRead::End);
                    }
                    if self.version >= Version::Go126 {
                        return Ok(GenRead::Truncated(
                            "the input ended before the generation's end-of-generation marker"
                                .into(),
                            src.offset(),
                        ));
                    }
                    break;
                }
                Err((ReadErr::Eof, off)) => {
                    let msg = "the input ended inside a batch header".to_owned();
                    if any && self.version < Version::Go126 {
                        // It may be the next generation's first batch, as the runtime's parser
                        // assumes: keep what this one has, and report the cut after it.
                        self.pending = Some(Pending::Truncated(msg, off));
                        break;
                    }
                    return Ok(GenRead::Truncated(msg, off));
                }
                Err((ReadErr::Io(e), off)) => {
                    if e.kind() != io::ErrorKind::Other {
                        return Err(GenErr::Io(e));
                    }
                    if any && self.version < Version::Go126 {
                        self.pending = Some(Pending::Broken(Broken {
                            offset: off,
                            message: e.to_string(),
                        }));
                        break;
                    }
                    return Err(broken(off, e.to_string()));
                }
            };
            if head.kind == EV_END_OF_GENERATION {
                if !any {
                    return Err(broken(
                        head.offset,
                        "end-of-generation marker before any batch of the generation",
                    ));
                }
                break;
            }
            if head.gen == 0 {
                return Err(broken(head.offset, "batch of generation 0 (never written)"));
            }
            if !any {
                g.gen = head.gen;
                g.offset = head.offset;
                any = true;
            } else if head.gen != g.gen {
                if self.version < Version::Go126 && head.gen == g.gen.wrapping_add(1) {
                    // The next generation starts: keep its first batch for later.
                    let mut payload = Vec::with_capacity(head.size);
                    match src.read_into(&mut payload, head.size) {
                        Ok(()) => {}
                        Err(ReadErr::Eof) => {
                            // The trace ends inside the next generation's first batch: the
                            // current one is still complete.
                            self.spill = None;
                            self.pending = Some(Pending::Truncated(
                                "the input ended inside a batch".into(),
                                head.offset,
                            ));
                            break;
                        }
                        Err(ReadErr::Io(e)) => return Err(GenErr::Io(e)),
                    }
                    self.spill = Some(Spill { head, payload });
                    break;
                }
                return Err(broken(
                    head.offset,
                    format!(
                        "batch of generation {} inside generation {}: generations out of order or interleaved",
                        head.gen, g.gen
                    ),
                ));
            }
            if g.min_ts == 0 || head.time < g.min_ts {
                // Sync batches carry a time too; the runtime's parser takes every batch's.
                g.min_ts = head.time;
            }
            let start = g.data.len();
            let payload_offset = src.offset();
            if head.exp == 0 {
                // Read into the arena, then classify by the first byte.
                match src.read_into(&mut g.data, head.size) {
                    Ok(()) => {}
                    Err(ReadErr::Eof) => {
                        return Ok(GenRead::Truncated(
                            format!("the input ended inside a batch of {} bytes", head.size),
                            head.offset,
                        ))
                    }
                    Err(ReadErr::Io(e)) => return Err(GenErr::Io(e)),
                }
                g.bytes = src.offset() - g.offset;
                if g.bytes > self.max_generation_bytes {
                    return Err(broken(
                        head.offset,
                        format!(
                            "generation {} is larger than the limit of {} bytes",
                            g.gen, self.max_generation_bytes
                        ),
                    ));
                }
                self.add(
                    g,
                    &head,
                    Payload::Arena {
                        start,
                        offset: payload_offset,
                    },
                )?;
            } else {
                // Experimental data: nothing goroscope interprets.
                match src.skip(head.size) {
                    Ok(()) => {}
                    Err(ReadErr::Eof) => {
                        return Ok(GenRead::Truncated(
                            "the input ended inside an experimental batch".into(),
                            head.offset,
                        ))
                    }
                    Err(ReadErr::Io(e)) => return Err(GenErr::Io(e)),
                }
            }
        }
        if !g.has_freq {
            return Ok(GenRead::Truncated(
                format!("generation {} has no frequency event", g.gen),
                g.offset,
            ));
        }
        if self.version >= Version::Go125 && g.clock.is_none() {
            return Ok(GenRead::Truncated(
                format!("generation {} has no clock snapshot", g.gen),
                g.offset,
            ));
        }
        let freq = g.freq;
        for t in &mut g.cpu_times {
            // Stored as raw ticks until the frequency is known.
            *t = (*t as u64 as f64 * freq) as i64;
        }
        g.cpu_times.sort_unstable();
        Ok(GenRead::Complete)
    }

    /// Files one batch.
    fn add(
        &mut self,
        g: &mut Generation,
        head: &BatchHead,
        payload: Payload,
    ) -> Result<(), GenErr> {
        let (first, offset) = match &payload {
            Payload::Arena { start, offset } => (g.data.get(*start).copied(), *offset),
            Payload::Owned(v) => (v.first().copied(), head.offset),
        };
        let is_sync = match first {
            Some(EV_FREQUENCY) => self.version < Version::Go125,
            Some(EV_SYNC) => self.version >= Version::Go125,
            _ => false,
        };
        let special = matches!(first, Some(EV_STRINGS | EV_STACKS | EV_CPU_SAMPLES)) || is_sync;
        if !special {
            // An event batch: keep it for the thread.
            let (start, len) = match payload {
                Payload::Arena { start, .. } => (start, g.data.len() - start),
                Payload::Owned(v) => {
                    let start = g.data.len();
                    g.data.extend_from_slice(&v);
                    (start, v.len())
                }
            };
            let idx = match g.m_index.get(&head.m) {
                Some(&i) => i,
                None => {
                    g.ms.push(MBatches {
                        m: head.m,
                        batches: Vec::new(),
                    });
                    g.m_index.insert(head.m, g.ms.len() - 1);
                    g.ms.len() - 1
                }
            };
            g.ms[idx].batches.push(BatchRef {
                time: head.time,
                start,
                len,
                offset,
            });
            return Ok(());
        }
        // A table batch: parse it from a scratch copy and drop it from the arena.
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        match payload {
            Payload::Arena { start, .. } => {
                scratch.extend_from_slice(&g.data[start..]);
                g.data.truncate(start);
            }
            Payload::Owned(v) => scratch.extend_from_slice(&v),
        }
        let r = match first {
            Some(EV_STRINGS) => parse_strings(g, &scratch, offset),
            Some(EV_STACKS) => parse_stacks(g, &scratch, offset),
            Some(EV_CPU_SAMPLES) => parse_cpu_samples(g, &scratch, offset),
            _ => parse_sync(g, &scratch, offset, head.time, self.version),
        };
        self.scratch = scratch;
        r
    }
}

enum Payload {
    Arena { start: usize, offset: u64 },
    Owned(Vec<u8>),
}

/// A cursor over a table batch's bytes.
struct Bytes<'a> {
    b: &'a [u8],
    pos: usize,
    base: u64,
}

impl<'a> Bytes<'a> {
    fn at(&self) -> u64 {
        self.base + self.pos as u64
    }
    fn done(&self) -> bool {
        self.pos >= self.b.len()
    }
    fn byte(&mut self) -> Result<u8, GenErr> {
        let v = *self
            .b
            .get(self.pos)
            .ok_or_else(|| broken(self.at(), "batch ends inside an event"))?;
        self.pos += 1;
        Ok(v)
    }
    fn var(&mut self, what: &str) -> Result<u64, GenErr> {
        match uvarint(&self.b[self.pos.min(self.b.len())..]) {
            Some((v, n)) => {
                self.pos += n;
                Ok(v)
            }
            None => Err(broken(
                self.at(),
                format!("malformed or cut-off varint ({what})"),
            )),
        }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], GenErr> {
        if self.b.len() - self.pos < n {
            return Err(broken(self.at(), "batch ends inside a string"));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
}

fn parse_strings(g: &mut Generation, b: &[u8], base: u64) -> Result<(), GenErr> {
    let mut r = Bytes { b, pos: 1, base };
    while !r.done() {
        let at = r.at();
        let ev = r.byte()?;
        if ev != EV_STRING {
            return Err(broken(
                at,
                format!("expected a string, found event type {ev}"),
            ));
        }
        let id = r.var("string id")?;
        let len = r.var("string length")?;
        if len > MAX_STRING_SIZE {
            return Err(broken(
                at,
                format!("string of {len} bytes exceeds the maximum {MAX_STRING_SIZE}"),
            ));
        }
        let s = String::from_utf8_lossy(r.take(len as usize)?).into_owned();
        if id == 0 || g.strings.insert(id, s.into_boxed_str()).is_some() {
            return Err(broken(at, format!("string id {id} defined twice (or 0)")));
        }
    }
    Ok(())
}

fn parse_stacks(g: &mut Generation, b: &[u8], base: u64) -> Result<(), GenErr> {
    let mut r = Bytes { b, pos: 1, base };
    while !r.done() {
        let at = r.at();
        let ev = r.byte()?;
        if ev != EV_STACK {
            return Err(broken(
                at,
                format!("expected a stack, found event type {ev}"),
            ));
        }
        let id = r.var("stack id")?;
        let n = r.var("frame count")?;
        if n > MAX_FRAMES_PER_STACK {
            return Err(broken(
                at,
                format!("stack of {n} frames exceeds the maximum {MAX_FRAMES_PER_STACK}"),
            ));
        }
        let start = g.stack_pcs.len();
        for _ in 0..n {
            let pc = r.var("frame pc")?;
            let func = r.var("frame function")?;
            let file = r.var("frame file")?;
            let line = r.var("frame line")?;
            g.stack_pcs.push(pc);
            g.frames.entry(pc).or_insert(RawFrame { func, file, line });
        }
        if id == 0 || g.stacks.insert(id, (start as u32, n as u32)).is_some() {
            return Err(broken(at, format!("stack id {id} defined twice (or 0)")));
        }
    }
    Ok(())
}

fn parse_cpu_samples(g: &mut Generation, b: &[u8], base: u64) -> Result<(), GenErr> {
    let mut r = Bytes { b, pos: 1, base };
    while !r.done() {
        let at = r.at();
        let ev = r.byte()?;
        if ev != EV_CPU_SAMPLE {
            return Err(broken(
                at,
                format!("expected a CPU sample, found event type {ev}"),
            ));
        }
        let ts = r.var("sample time")?;
        for what in [
            "sample thread",
            "sample proc",
            "sample goroutine",
            "sample stack",
        ] {
            r.var(what)?;
        }
        g.cpu_times.push(ts as i64);
    }
    Ok(())
}

fn parse_sync(
    g: &mut Generation,
    b: &[u8],
    base: u64,
    batch_time: u64,
    version: Version,
) -> Result<(), GenErr> {
    let mut r = Bytes {
        b,
        pos: usize::from(version >= Version::Go125),
        base,
    };
    let mut last = batch_time;
    while !r.done() {
        let at = r.at();
        match r.byte()? {
            EV_FREQUENCY => {
                if g.has_freq {
                    return Err(broken(at, "two frequency events in one generation"));
                }
                let f = r.var("frequency")?;
                if f == 0 {
                    return Err(broken(at, "timestamp frequency of 0"));
                }
                g.freq = 1.0 / (f as f64 / 1e9);
                g.has_freq = true;
            }
            EV_CLOCK_SNAPSHOT if version >= Version::Go125 => {
                if g.clock.is_some() {
                    return Err(broken(at, "two clock snapshots in one generation"));
                }
                let dt = r.var("clock snapshot time")?;
                last = last.wrapping_add(dt);
                let mono = r.var("monotonic clock")?;
                let sec = r.var("wall clock seconds")?;
                let nsec = r.var("wall clock nanoseconds")?;
                g.clock = Some(ClockSnapshot {
                    ticks: last,
                    mono,
                    sec,
                    nsec,
                });
            }
            ev => {
                return Err(broken(
                    at,
                    format!("expected a frequency or clock snapshot, found event type {ev}"),
                ))
            }
        }
    }
    Ok(())
}
