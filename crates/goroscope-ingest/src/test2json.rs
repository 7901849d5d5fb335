//! `go test -json` (test2json) streams, what CI systems and gotestsum keep: one JSON event a
//! line, with the test binary's output in the `Output` field of `"Action":"output"` events.
//!
//! The output of each package is one text stream (a test binary's stdout), but packages run in
//! parallel, so their events interleave. Each package's `Output` text is fed, line by line as
//! it arrives, to a text reader of its own ([`crate::text`]), which finds the dumps inside (a
//! test timeout's `panic: test timed out after …`, a crash, a `runtime.Stack` print); nothing is
//! held beyond what those readers keep. Every snapshot gets the [`Context::Test`] context
//! (unless the runtime declared a deadlock), and [`Snapshot::test`] the package and the tests
//! (the `running tests:` list of a timeout, else the `Test` of the event that started it).
//!
//! Lines and warnings refer to the lines of the JSON stream. Lines that are not events (`go
//! vet` and build output mixed in by `2>&1`) are read as plain text; events whose JSON does not
//! parse are skipped with a warning, as are lines longer than [`MAX_EVENT_BYTES`].

use crate::detect::{contains, trim_start};
use crate::readers::{Head, Input, Reader};
use crate::text::merge::Budget;
use crate::text::Push;
use crate::{FormatHint, IngestError, Result};
use goroscope_model::{Context, Snapshot, TestRun, Warning};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read};

pub(crate) static READER: Reader = Reader {
    name: "test2json",
    hint: Some(FormatHint::Test2Json),
    detect: is_test2json,
    read,
};

/// The longest event line read (test2json splits long output lines well below this).
pub const MAX_EVENT_BYTES: usize = 1 << 20;
/// Packages read at once; output of more packages is skipped with a warning.
pub const MAX_PACKAGES: usize = 4096;
/// Test names remembered per package.
const MAX_TEST_NAMES: usize = 1 << 16;
/// Bytes of an output line held while waiting for its end (longer lines are cut there).
const MAX_PENDING: usize = 1 << 20;
/// Goroutines a package's reader holds before moving them into snapshots.
const DRAIN_EVERY: usize = 4096;

/// The first non-blank line is a JSON object with an `Action`.
fn is_test2json(h: &Head<'_>) -> bool {
    let t = trim_start(h.bytes);
    let end = memchr::memchr(b'\n', t).unwrap_or(t.len()).min(8192);
    let first = &t[..end];
    first.starts_with(b"{") && contains(first, b"\"Action\":")
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "Action", borrow, default)]
    action: Option<Cow<'a, str>>,
    #[serde(rename = "Package", borrow, default)]
    package: Option<Cow<'a, str>>,
    #[serde(rename = "Test", borrow, default)]
    test: Option<Cow<'a, str>>,
    #[serde(rename = "Output", borrow, default)]
    output: Option<Cow<'a, str>>,
}

/// Output text of one line of the stream.
struct Piece<'a> {
    package: Option<Cow<'a, str>>,
    test: Option<Cow<'a, str>>,
    text: Cow<'a, [u8]>,
    /// It came from an event (not a line of plain text).
    event: bool,
}

/// The output a line carries: an `output` event's text, or the line itself when it is not an
/// event (build output mixed in); `None` for other events.
fn output_of(line: &[u8]) -> std::result::Result<Option<Piece<'_>>, serde_json::Error> {
    if !trim_start(line).starts_with(b"{") {
        let mut text = line.to_vec();
        text.push(b'\n');
        return Ok(Some(Piece {
            package: None,
            test: None,
            text: Cow::Owned(text),
            event: false,
        }));
    }
    let ev = serde_json::from_slice::<Event<'_>>(trim_start(line))?;
    if ev.action.as_deref().is_some_and(|a| a != "output") {
        return Ok(None);
    }
    Ok(ev.output.map(|o| Piece {
        package: ev.package,
        test: ev.test,
        text: match o {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        },
        event: true,
    }))
}

/// One package's output, read as text.
struct Stream<'a> {
    package: Option<String>,
    push: Push<'a>,
    /// Output text since the last newline.
    partial: Vec<u8>,
    /// Change points (output line, JSON line, test index): from `output line` on, output lines
    /// come from JSON lines `json line + (n - output line)` and from test `test index`.
    map: Vec<(u64, u64, u32)>,
    /// Output lines fed so far.
    lines: u64,
    tests: Vec<String>,
    test_index: HashMap<String, u32>,
}

/// No test (output of the package itself).
const NO_TEST: u32 = u32::MAX;

impl<'a> Stream<'a> {
    fn new(name: &'a str, package: Option<String>, budget: Budget) -> Self {
        Stream {
            package,
            push: Push::new(name, budget),
            partial: Vec::new(),
            map: Vec::new(),
            lines: 0,
            tests: Vec::new(),
            test_index: HashMap::new(),
        }
    }

    fn test_id(&mut self, test: Option<&str>) -> u32 {
        let Some(t) = test else {
            return NO_TEST;
        };
        if let Some(&i) = self.test_index.get(t) {
            return i;
        }
        if self.tests.len() >= MAX_TEST_NAMES {
            return NO_TEST;
        }
        let i = self.tests.len() as u32;
        self.tests.push(t.to_string());
        self.test_index.insert(t.to_string(), i);
        i
    }

    /// Output text from JSON line `json_line`, attributed to `test`.
    fn output(&mut self, text: &[u8], json_line: u64, test: u32) {
        let mut rest = text;
        while let Some(nl) = memchr::memchr(b'\n', rest) {
            let line = &rest[..=nl];
            self.lines += 1;
            self.note(json_line, test);
            if self.partial.is_empty() {
                self.push.feed(line);
            } else {
                self.partial.extend_from_slice(line);
                self.push.feed(&self.partial);
                self.partial.clear();
            }
            rest = &rest[nl + 1..];
        }
        if !rest.is_empty() {
            let room = MAX_PENDING.saturating_sub(self.partial.len());
            self.partial
                .extend_from_slice(&rest[..rest.len().min(room)]);
        }
        if self.push.pending() >= DRAIN_EVERY {
            self.push.drain();
        }
    }

    /// Records that output line `self.lines` ends on JSON line `json_line`, in `test`.
    fn note(&mut self, json_line: u64, test: u32) {
        let n = self.lines;
        let same = self
            .map
            .last()
            .is_some_and(|&(o, j, t)| t == test && j.checked_add(n - o) == Some(json_line));
        if !same {
            self.map.push((n, json_line, test));
        }
    }

    fn finish(mut self) -> Result<Vec<Snapshot>> {
        if !self.partial.is_empty() {
            let last = std::mem::take(&mut self.partial);
            self.lines += 1;
            self.push.feed(&last);
        }
        let Stream {
            package,
            push,
            map,
            tests,
            ..
        } = self;
        let mut snaps = push.finish()?;
        for s in &mut snaps {
            let (json, test) = s.source.line.map_or((0, NO_TEST), |l| locate(&map, l));
            if s.source.line.is_some() {
                s.source.line = Some(json);
            }
            for w in &mut s.warnings {
                w.line = w.line.map(|l| locate(&map, l).0);
            }
            if s.context.is_none_or(|c| c == Context::Crash) {
                s.context = Some(Context::Test);
            }
            let run = s.test.get_or_insert_with(TestRun::default);
            run.package = package.clone();
            if run.tests.is_empty() {
                if let Some(t) = tests.get(test as usize) {
                    run.tests.push(t.clone());
                }
            }
        }
        Ok(snaps)
    }
}

/// The JSON line and test of output line `n`, from the change points of [`Stream::map`].
fn locate(map: &[(u64, u64, u32)], n: u64) -> (u64, u32) {
    let i = map.partition_point(|&(o, _, _)| o <= n);
    match i.checked_sub(1).map(|i| map[i]) {
        Some((o, j, t)) => (j + (n - o), t),
        None => (n, NO_TEST),
    }
}

fn read(input: &Input<'_>, stream: &mut dyn Read) -> Result<Vec<Snapshot>> {
    let name = input.name;
    let budget = Budget::new(input.opts.max_snapshots);
    let mut r = BufReader::with_capacity(1 << 16, stream);
    let mut streams: Vec<Stream<'_>> = Vec::new();
    let mut by_package: HashMap<Option<String>, usize> = HashMap::new();
    let mut warnings: Vec<Warning> = Vec::new();
    let mut skipped_packages = 0u64;
    let mut bad_events = 0u64;
    let mut events = 0u64;
    let mut buf = Vec::new();
    let mut json_line = 0u64;
    loop {
        buf.clear();
        let got = read_line(&mut r, &mut buf, MAX_EVENT_BYTES)
            .map_err(|e| IngestError::io(name, "reading", e).at_line(json_line + 1))?;
        let Some(complete) = got else {
            break;
        };
        json_line += 1;
        if !complete && buf.len() >= MAX_EVENT_BYTES {
            warnings.push(
                Warning::new(format!(
                    "a line longer than {MAX_EVENT_BYTES} bytes was skipped"
                ))
                .at_line(json_line),
            );
            continue;
        }
        let line = buf.strip_suffix(b"\r").unwrap_or(&buf);
        let piece = match output_of(line) {
            Ok(Some(p)) => {
                events += u64::from(p.event);
                p
            }
            Ok(None) => {
                events += 1;
                continue;
            }
            Err(e) => {
                bad_events += 1;
                if bad_events <= 100 {
                    warnings.push(
                        Warning::new(format!(
                            "skipped a line that is not a test2json event ({e})"
                        ))
                        .at_line(json_line),
                    );
                }
                continue;
            }
        };
        let (package, test, output) = (piece.package, piece.test, piece.text);
        let key = package.map(Cow::into_owned);
        let idx = match by_package.get(&key) {
            Some(&i) => i,
            None => {
                if streams.len() >= MAX_PACKAGES {
                    skipped_packages += 1;
                    continue;
                }
                streams.push(Stream::new(name, key.clone(), budget.clone()));
                by_package.insert(key, streams.len() - 1);
                streams.len() - 1
            }
        };
        let s = &mut streams[idx];
        let t = s.test_id(test.as_deref());
        s.output(&output, json_line, t);
    }
    if bad_events > 100 {
        warnings.push(Warning::new(format!(
            "{} more lines that are not test2json events were skipped",
            bad_events - 100
        )));
    }
    if skipped_packages > 0 {
        warnings.push(Warning::new(format!(
            "output of more than {MAX_PACKAGES} packages: {skipped_packages} lines of the others were skipped"
        )));
    }
    let mut snaps = Vec::new();
    let mut found_none = None;
    for s in streams {
        match s.finish() {
            Ok(v) => snaps.extend(v),
            // A package without a dump is the usual case, not an error.
            Err(e) if *e.kind() == crate::ErrorKind::NotADump => {
                found_none.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    if snaps.is_empty() {
        let what = if events == 0 {
            "no test2json event in it"
        } else {
            "no `goroutine N [state]:` header in any Output event"
        };
        return Err(match found_none {
            // A race report or Delve listing in the output says more than "none found".
            Some(e) if !e.message().starts_with("no goroutine dump found") => e,
            _ => IngestError::not_a_dump(
                name,
                format!("no goroutine dump found in this `go test -json` output ({what})"),
            ),
        });
    }
    snaps.sort_by_key(|s| s.source.line);
    for (i, s) in snaps.iter_mut().enumerate() {
        s.source.index = i;
    }
    if let Some(last) = snaps.last_mut() {
        last.warnings.append(&mut warnings);
    }
    Ok(snaps)
}

/// Reads one line (without its `\n`) into `buf`, at most `cap` bytes of it (the rest of a
/// longer line is consumed and dropped). `None` at the end of the input; `Some(true)` when the
/// line ended with a newline.
fn read_line<R: BufRead>(r: &mut R, buf: &mut Vec<u8>, cap: usize) -> io::Result<Option<bool>> {
    let mut any = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(any.then_some(false));
        }
        any = true;
        let (take, used, done) = match memchr::memchr(b'\n', avail) {
            Some(i) => (i, i + 1, true),
            None => (avail.len(), avail.len(), false),
        };
        let room = cap.saturating_sub(buf.len());
        buf.extend_from_slice(&avail[..take.min(room)]);
        r.consume(used);
        if done {
            // A line cut at the cap reports itself as incomplete.
            return Ok(Some(take <= room));
        }
    }
}
