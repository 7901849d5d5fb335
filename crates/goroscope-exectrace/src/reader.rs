//! The streaming reader: generations in, ordered events out.

use crate::event::*;
use crate::generation::{Broken, ClockSnapshot, GenErr, GenRead, GenReader, Generation};
use crate::input::Src;
use crate::order::{Ordering, Raw};
use crate::wire::{self, Header, Version};
use goroscope_model::{Frame, FrameId, Interner, StackId, Sym, Warning};
use rustc_hash::FxHashMap;
use std::io::{self, Read};

/// Why a trace could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input does not start with an execution trace header.
    #[error("not a Go execution trace (it does not start with `go 1.NN trace`)")]
    NotATrace,
    /// A trace written by Go 1.21 or older, in the format before generations.
    #[error(
        "this execution trace was written by Go 1.{0} or older (`go 1.{0} trace`), in the format \
         Go 1.5–1.21 wrote; goroscope reads the format of Go 1.22 and later. `go tool trace` of \
         Go 1.21 (or of any later release, which convert it) reads it"
    )]
    OldFormat(u32),
    /// A header of a version this build does not know.
    #[error(
        "unsupported execution trace version `go 1.{0} trace` (goroscope reads 1.22, 1.23, \
         1.25 and 1.26, written by Go 1.22 to 1.27); a newer goroscope may read it"
    )]
    UnsupportedVersion(u32),
    /// The trace is inconsistent before its first complete generation.
    #[error("byte {offset}: {generation}{message}", generation = match .generation { Some(g) => format!("generation {g}: "), None => String::new() })]
    Malformed {
        /// Offset in the (decompressed) stream.
        offset: u64,
        generation: Option<u64>,
        message: String,
    },
    #[error("reading the trace: {0}")]
    Io(#[from] io::Error),
}

/// A frame cursor over one thread's batches.
struct Cursor {
    m_idx: usize,
    batch: usize,
    off: usize,
    last_ts: i64,
    ev: Raw,
}

/// Reads an execution trace and hands out its events in the runtime parser's order.
///
/// ```no_run
/// # fn main() -> Result<(), goroscope_exectrace::Error> {
/// use goroscope_exectrace::{EventKind, Reader};
/// let mut r = Reader::new(std::fs::File::open("trace.out")?)?;
/// while let Some(ev) = r.next_event()? {
///     if let EventKind::Goroutine(t) = ev.kind {
///         println!("{} g{} {:?} -> {:?} {}", ev.time, t.goid, t.from, t.to, r.string(t.reason));
///     }
/// }
/// for w in r.warnings() {
///     eprintln!("warning: {w}");
/// }
/// # Ok(()) }
/// ```
pub struct Reader<'a> {
    src: Src<'a>,
    gens: GenReader,
    version: Version,
    gen: Generation,
    /// Whether `gen` holds a generation whose events are being handed out.
    gen_live: bool,
    frontier: Vec<Cursor>,
    cpu_next: usize,
    order: Ordering,
    last_ts: i64,
    syncs: u64,
    done: bool,
    warnings: Vec<Warning>,
    generations: u64,
    first_time: Option<i64>,
    /// Interned frames by program counter (stable across generations of one process).
    frames_by_pc: FxHashMap<u64, FrameId>,
    /// The current generation's stacks, interned.
    stacks: FxHashMap<u64, StackId>,
    /// The current generation's strings, interned.
    syms: FxHashMap<u64, Sym>,
    last_clock: Option<(ClockSnapshot, f64)>,
    last_complete: Option<u64>,
}

/// The largest generation the reader buffers by default (bytes).
pub const DEFAULT_MAX_GENERATION_BYTES: u64 = 1 << 30;

impl<'a> Reader<'a> {
    /// Opens a trace (gzipped or not) and reads its header.
    pub fn new<R: Read + 'a>(r: R) -> Result<Reader<'a>, Error> {
        Self::with_limit(r, DEFAULT_MAX_GENERATION_BYTES)
    }

    /// [`Reader::new`], refusing generations larger than `max_generation_bytes`.
    pub fn with_limit<R: Read + 'a>(r: R, max_generation_bytes: u64) -> Result<Reader<'a>, Error> {
        let mut src = Src::open(Box::new(r))?;
        let head = src.peek(wire::HEADER_LEN)?.to_vec();
        let version = match wire::parse_header(&head) {
            Some(Header::Supported(v)) => v,
            Some(Header::Old(v)) => return Err(Error::OldFormat(v)),
            Some(Header::Unknown(v)) => return Err(Error::UnsupportedVersion(v)),
            None => return Err(Error::NotATrace),
        };
        src.skip(wire::HEADER_LEN).map_err(|_| Error::NotATrace)?;
        Ok(Reader {
            src,
            gens: GenReader::new(version, max_generation_bytes),
            version,
            gen: Generation::default(),
            gen_live: false,
            frontier: Vec::new(),
            cpu_next: 0,
            order: Ordering::new(),
            last_ts: 0,
            syncs: 0,
            done: false,
            warnings: Vec::new(),
            generations: 0,
            first_time: None,
            frames_by_pc: FxHashMap::default(),
            stacks: FxHashMap::default(),
            syms: FxHashMap::default(),
            last_clock: None,
            last_complete: None,
        })
    }

    /// The format version of the header.
    pub fn version(&self) -> Version {
        self.version
    }

    /// What the reader noticed but read past (a cut-off end, a broken generation after good
    /// ones).
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// Takes the warnings.
    pub fn take_warnings(&mut self) -> Vec<Warning> {
        std::mem::take(&mut self.warnings)
    }

    /// Generations whose every event was handed out.
    pub fn generations(&self) -> u64 {
        self.generations
    }

    /// The number of the generation whose events are being handed out.
    pub fn generation(&self) -> Option<u64> {
        self.gen_live.then_some(self.gen.gen)
    }

    /// The latest clock snapshot (Go 1.25+): the wall clock at a trace time, in nanoseconds.
    pub fn wall_clock(&self) -> Option<(i64, std::time::SystemTime)> {
        let (c, freq) = self.last_clock?;
        let t = (c.ticks as f64 * freq) as i64;
        let wall = std::time::UNIX_EPOCH
            + std::time::Duration::new(c.sec, (c.nsec % 1_000_000_000) as u32);
        Some((t, wall))
    }

    /// The time of the first event.
    pub fn first_time(&self) -> Option<i64> {
        self.first_time
    }

    /// The stream offset reached (in the decompressed stream).
    pub fn offset(&self) -> u64 {
        self.src.offset()
    }

    /// A string of the current generation (`""` for an unknown id).
    pub fn string(&self, s: StrRef) -> &str {
        self.gen.string(s.0).unwrap_or("")
    }

    /// Interns a string of the current generation.
    pub fn intern_string(&mut self, s: StrRef, interner: &mut Interner) -> Sym {
        if s.0 == 0 {
            return Interner::EMPTY;
        }
        if let Some(&sym) = self.syms.get(&s.0) {
            return sym;
        }
        let sym = interner.intern_str(self.gen.string(s.0).unwrap_or(""));
        self.syms.insert(s.0, sym);
        sym
    }

    /// Interns a stack of the current generation (innermost frame first); `None` for no
    /// stack or an id missing from the generation's table.
    pub fn intern_stack(&mut self, s: StackRef, interner: &mut Interner) -> Option<StackId> {
        if s.0 == 0 {
            return None;
        }
        if let Some(&id) = self.stacks.get(&s.0) {
            return Some(id);
        }
        let pcs = self.gen.stack(s.0)?;
        let mut frames = Vec::with_capacity(pcs.len());
        for &pc in pcs {
            let id = match self.frames_by_pc.get(&pc) {
                Some(&f) => f,
                None => {
                    let raw = self.gen.frames.get(&pc).copied();
                    let (func, file, line) = match raw {
                        Some(r) => (
                            self.gen.string(r.func).unwrap_or("?"),
                            self.gen.string(r.file).unwrap_or(""),
                            r.line,
                        ),
                        None => ("?", "", 0),
                    };
                    let frame = Frame {
                        function: interner.intern_str(func),
                        file: interner.intern_str(file),
                        line: u32::try_from(line).unwrap_or(u32::MAX),
                        offset: None,
                        inlined: false,
                    };
                    let f = interner.intern_frame(frame);
                    self.frames_by_pc.insert(pc, f);
                    f
                }
            };
            frames.push(id);
        }
        let id = interner.intern_stack(&frames);
        self.stacks.insert(s.0, id);
        Some(id)
    }

    /// The function names of a stack of the current generation, innermost first.
    pub fn stack_functions(&self, s: StackRef) -> impl Iterator<Item = &str> + '_ {
        self.gen
            .stack(s.0)
            .unwrap_or(&[])
            .iter()
            .map(|pc| match self.gen.frames.get(pc) {
                Some(f) => self.gen.string(f.func).unwrap_or("?"),
                None => "?",
            })
    }

    fn warn(&mut self, offset: u64, msg: String) {
        self.warnings.push(Warning::new(msg).at_offset(offset));
    }

    fn sync_event(&mut self, time: i64) -> Event {
        self.syncs += 1;
        Event {
            time,
            g: NONE,
            p: NONE,
            m: NONE,
            kind: EventKind::Sync { n: self.syncs },
        }
    }

    /// Makes timestamps strictly increasing, as the runtime's parser does.
    fn finish(&mut self, mut ev: Event) -> Event {
        if ev.time <= self.last_ts {
            ev.time = self.last_ts.saturating_add(1);
        }
        self.last_ts = ev.time;
        if self.first_time.is_none() {
            self.first_time = Some(ev.time);
        }
        ev
    }

    /// Ends the trace after a problem in a generation: a hard error when nothing was read
    /// yet, otherwise a warning and the end.
    fn stop(&mut self, b: Broken) -> Result<Option<Event>, Error> {
        // Inside a generation's events, or reading the next one.
        let during = self.gen_live.then_some(self.gen.gen);
        if let Some((msg, off)) = self.gens.take_pending_cut() {
            // The generation was taken as complete because the input ended where the next
            // could have begun; it was not.
            self.warn(off, self.cut_message(&msg));
            return self.end();
        }
        if self.generations == 0 {
            return Err(Error::Malformed {
                offset: b.offset,
                generation: during.or((self.gen.gen != 0).then_some(self.gen.gen)),
                message: b.message,
            });
        }
        let at = match during {
            Some(g) => format!("generation {g}"),
            None => format!("after generation {}", self.generations_done_label()),
        };
        self.warn(
            b.offset,
            format!(
                "{at}: {}; the trace is read up to generation {}",
                b.message,
                self.generations_done_label()
            ),
        );
        self.end()
    }

    fn generations_done_label(&self) -> String {
        match self.last_complete {
            Some(g) => g.to_string(),
            None => "none".into(),
        }
    }

    fn end(&mut self) -> Result<Option<Event>, Error> {
        self.done = true;
        self.gen_live = false;
        self.frontier.clear();
        self.order.queue.clear();
        if self.syncs == 0 {
            return Ok(None);
        }
        let t = self.last_ts;
        let ev = self.sync_event(t);
        Ok(Some(self.finish(ev)))
    }

    fn cut_message(&self, msg: &str) -> String {
        format!(
            "the trace is cut off: {msg}; read {} complete generation(s), the incomplete one is left out",
            self.generations
        )
    }

    /// Reads the next generation and returns its opening sync event.
    fn next_generation(&mut self) -> Result<Option<Event>, Error> {
        if self.gen_live {
            // Every event of the current generation was handed out.
            self.generations += 1;
            self.last_complete = Some(self.gen.gen);
        }
        self.gen_live = false;
        match self.gens.read(&mut self.src, &mut self.gen) {
            Ok(GenRead::Complete) => {}
            Ok(GenRead::End) => return self.end(),
            Ok(GenRead::Truncated(msg, off)) => {
                let m = self.cut_message(&msg);
                self.warn(off, m);
                return self.end();
            }
            Err(GenErr::Broken(b)) => return self.stop(b),
            Err(GenErr::Io(e)) => return Err(Error::Io(e)),
        }
        self.gen_live = true;
        self.stacks.clear();
        self.syms.clear();
        self.cpu_next = 0;
        if let Some(c) = self.gen.clock {
            self.last_clock = Some((c, self.gen.freq));
        }
        self.frontier.clear();
        for m_idx in 0..self.gen.ms.len() {
            let mut c = Cursor {
                m_idx,
                batch: 0,
                off: 0,
                last_ts: 0,
                ev: Raw::default(),
            };
            match advance_cursor(&self.gen, self.version, &mut c) {
                Ok(true) => heap_insert(&mut self.frontier, c),
                Ok(false) => {}
                Err(b) => return self.stop(b),
            }
        }
        let t = self.gen.ns(self.gen.min_ts);
        let ev = self.sync_event(t);
        Ok(Some(self.finish(ev)))
    }

    /// The next event, or `None` at the end of the trace.
    pub fn next_event(&mut self) -> Result<Option<Event>, Error> {
        if self.done {
            return Ok(None);
        }
        if let Some(ev) = self.order.queue.pop_front() {
            return Ok(Some(self.finish(ev)));
        }
        let cpu_left = self.gen_live && self.cpu_next < self.gen.cpu_times.len();
        if self.frontier.is_empty() && !cpu_left {
            return self.next_generation();
        }
        if cpu_left {
            let t = self.gen.cpu_times[self.cpu_next];
            if self.frontier.is_empty() || t < self.frontier[0].ev.time {
                self.cpu_next += 1;
                let ev = Event {
                    time: t,
                    g: NONE,
                    p: NONE,
                    m: NONE,
                    kind: EventKind::Other {
                        typ: wire::EV_CPU_SAMPLE,
                    },
                };
                return Ok(Some(self.finish(ev)));
            }
        }
        match self.try_advance(0) {
            Err(b) => return self.stop(b),
            Ok(true) => {}
            Ok(false) => {
                // Rare: take the others in timestamp order. (A sorted heap is still a heap.)
                self.frontier.sort_by_key(|c| c.ev.time);
                let mut ok = false;
                for i in 1..self.frontier.len() {
                    match self.try_advance(i) {
                        Err(b) => return self.stop(b),
                        Ok(true) => {
                            ok = true;
                            break;
                        }
                        Ok(false) => {}
                    }
                }
                if !ok {
                    let c = &self.frontier[0];
                    let mb = &self.gen.ms[c.m_idx];
                    let off = mb
                        .batches
                        .get(c.batch)
                        .map_or(0, |b| b.offset + c.off as u64);
                    let b = Broken {
                        offset: off,
                        message: format!(
                            "no thread's next event can follow the events before it (thread {} waits with {} at {})",
                            mb.m as i64,
                            wire::event_name(c.ev.typ),
                            c.ev.time
                        ),
                    };
                    return self.stop(b);
                }
            }
        }
        match self.order.queue.pop_front() {
            Some(ev) => Ok(Some(self.finish(ev))),
            None => self.next_event(),
        }
    }

    fn try_advance(&mut self, i: usize) -> Result<bool, Broken> {
        let (m, ev, at) = {
            let c = &self.frontier[i];
            let mb = &self.gen.ms[c.m_idx];
            let at = mb
                .batches
                .get(c.batch)
                .map_or(0, |b| b.offset + c.off as u64);
            (mb.m, c.ev, at)
        };
        match self.order.advance(&ev, m, self.gen.gen) {
            Ok(false) => return Ok(false),
            Ok(true) => {}
            Err(msg) => {
                return Err(Broken {
                    offset: at,
                    message: format!("thread {}: {}: {msg}", m as i64, wire::event_name(ev.typ)),
                })
            }
        }
        let more = advance_cursor(&self.gen, self.version, &mut self.frontier[i])?;
        if more {
            heap_update(&mut self.frontier, i);
        } else {
            heap_remove(&mut self.frontier, i);
        }
        Ok(true)
    }
}

/// Decodes the cursor's next event; `Ok(false)` when its batches are exhausted.
fn advance_cursor(gen: &Generation, version: Version, c: &mut Cursor) -> Result<bool, Broken> {
    let mb = &gen.ms[c.m_idx];
    while c.batch < mb.batches.len() && mb.batches[c.batch].len == c.off {
        c.batch += 1;
        c.off = 0;
        c.last_ts = 0;
    }
    let Some(b) = mb.batches.get(c.batch) else {
        return Ok(false);
    };
    if c.last_ts == 0 {
        c.last_ts = gen.ns(b.time);
    }
    let data = &gen.data[b.start + c.off..b.start + b.len];
    let at = b.offset + c.off as u64;
    let bad = |msg: String| Broken {
        offset: at,
        message: format!("thread {}: {msg}", mb.m as i64),
    };
    let typ = data[0];
    let Some(nargs) = wire::timed_args(typ, version) else {
        return Err(bad(format!(
            "event type {typ} ({}) is not a timed event of {}",
            wire::event_name(typ),
            version
        )));
    };
    let mut n = 1;
    let mut args = [0u64; 5];
    for (i, a) in args.iter_mut().take(nargs).enumerate() {
        let Some((v, k)) = wire::uvarint(&data[n..]) else {
            return Err(bad(format!(
                "malformed or cut-off argument {i} of {}",
                wire::event_name(typ)
            )));
        };
        *a = v;
        n += k;
    }
    c.ev = Raw {
        typ,
        time: gen.ns(args[0]).saturating_add(c.last_ts),
        args: [args[1], args[2], args[3], args[4]],
    };
    c.last_ts = c.ev.time;
    c.off += n;
    Ok(true)
}

// The runtime parser's min-heap of cursors, by next event time, kept operation for operation
// so that equal timestamps come out in the same order.

fn heap_insert(h: &mut Vec<Cursor>, c: Cursor) {
    h.push(c);
    let n = h.len() - 1;
    sift_up(h, n);
}

fn heap_update(h: &mut [Cursor], i: usize) {
    if sift_up(h, i) != i {
        return;
    }
    sift_down(h, i);
}

fn heap_remove(h: &mut Vec<Cursor>, mut i: usize) {
    while i > 0 {
        h.swap((i - 1) / 2, i);
        i = (i - 1) / 2;
    }
    let last = h.len() - 1;
    h.swap(0, last);
    h.pop();
    sift_down(h, 0);
}

fn sift_up(h: &mut [Cursor], mut i: usize) -> usize {
    while i > 0 && h[(i - 1) / 2].ev.time > h[i].ev.time {
        h.swap((i - 1) / 2, i);
        i = (i - 1) / 2;
    }
    i
}

fn sift_down(h: &mut [Cursor], mut i: usize) {
    loop {
        let mut m = i;
        let mut t = if i < h.len() { h[i].ev.time } else { i64::MAX };
        for j in [2 * i + 1, 2 * i + 2] {
            if j < h.len() && h[j].ev.time < t {
                t = h[j].ev.time;
                m = j;
            }
        }
        if m == i {
            return;
        }
        h.swap(i, m);
        i = m;
    }
}

/// Whether `bytes` start like an execution trace (any version, the old format included, so
/// that the caller can give the old-format error), gzipped or not.
pub fn is_exec_trace(bytes: &[u8]) -> bool {
    if bytes.starts_with(&crate::input::GZIP_MAGIC) {
        // Decompress just the header.
        let mut head = [0u8; wire::HEADER_LEN];
        let mut gz = flate2::read::GzDecoder::new(bytes);
        let mut n = 0;
        while n < head.len() {
            match gz.read(&mut head[n..]) {
                Ok(0) | Err(_) => break,
                Ok(k) => n += k,
            }
        }
        return wire::parse_header(&head[..n]).is_some();
    }
    wire::parse_header(bytes).is_some()
}
