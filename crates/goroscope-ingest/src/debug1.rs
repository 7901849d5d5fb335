//! pprof legacy text (`debug=1`), as `runtime/pprof` writes it for the `goroutine` and
//! `goroutineleak` profiles:
//!
//! ```text
//! (columns separated by tabs in Go's output)
//! goroutine profile: total 18
//! 3 @ 0x48c20a 0x419bce 0x419712 0x6b8ed1 0x493141
//! # labels: {"handler":"/api/orders", "tenant":"acme corp"}
//! #    0x6b8ed0    main.worker+0x30    example.com/gosamples/main.go:80
//!
//! ```
//!
//! One [`Record`] per `<count> @ <pc>…` block, with the stack taken from its `#` frame lines
//! (innermost first) and its labels from `# labels:` (Go-quoted keys and values). The columns
//! are aligned by a tabwriter; lines whose tabs became spaces (copied through a terminal or a
//! chat) read the same. An unresolved `#\t<pc>` line becomes a frame named by the PC.
//!
//! What the format lacks: goroutine ids, states, wait times and creators; and the runtime frames
//! at the top of each stack (`runtime.gopark`…), which Go hides from the `#` lines. The `@` PCs
//! are checked but not kept; a record with an empty `@` list (Go then prints a lone `#\t0x0`)
//! has an empty stack, as in the protobuf form.
//!
//! Inlined calls: Go prints them as separate frames whose `pc - offset` (the entry of the
//! function the code physically lives in) equals that of the next frame (older releases print
//! the very same PC). Every frame but the last of such a run is marked [`Frame::inlined`];
//! recursion (the same function twice) is not inlining.
//!
//! Several profiles concatenated give one snapshot each. A sum of counts that differs from the
//! header's total is a warning; an input that ends inside a line or short of the total is
//! marked [`Snapshot::truncated`]. A line that fits nowhere in the grammar is an error naming it.

use crate::detect::{debug1_header, trim_start};
use crate::readers::{Head, Input, Reader};
use crate::{ErrorKind, FormatHint, IngestError, Options, Result};
use goroscope_model::{
    Format, Frame, FrameId, Interner, ProfileKind, Record, Snapshot, Source, Sym, Warning,
};
use std::borrow::Cow;
use std::io::{self, BufRead};

/// The longest line accepted (a `@` line of a deep stack is a few KiB).
pub const MAX_LINE_BYTES: usize = 1 << 20;

pub(crate) static READER: Reader = Reader {
    name: "debug1",
    hint: Some(FormatHint::Debug1),
    detect: |h: &Head<'_>| debug1_header(trim_start(h.bytes)),
    read: |input: &Input<'_>, stream: &mut dyn std::io::Read| {
        read(
            input.name,
            std::io::BufReader::with_capacity(1 << 16, stream),
            input.opts,
        )
    },
};

/// Reads a `debug=1` profile (or several, concatenated).
pub fn read<R: BufRead>(name: &str, mut reader: R, opts: &Options) -> Result<Vec<Snapshot>> {
    let mut p = Parser {
        name,
        opts,
        done: Vec::new(),
        cur: None,
        rec: None,
    };
    let mut buf = Vec::new();
    let mut line_no: u64 = 0;
    loop {
        buf.clear();
        let got = read_line(&mut reader, &mut buf, MAX_LINE_BYTES)
            .map_err(|e| IngestError::io(name, "reading", e).at_line(line_no + 1))?;
        let complete = match got {
            LineRead::Eof => break,
            LineRead::TooLong => {
                return Err(IngestError::new(
                    ErrorKind::TooLarge {
                        limit: MAX_LINE_BYTES as u64,
                    },
                    name,
                    format!("line longer than {MAX_LINE_BYTES} bytes; not a debug=1 profile"),
                )
                .at_line(line_no + 1))
            }
            LineRead::Line { newline } => newline,
        };
        line_no += 1;
        let text = String::from_utf8_lossy(&buf);
        let line = text.strip_suffix('\r').unwrap_or(&text);
        match p.line(line, line_no) {
            Ok(()) => {}
            // A last line cut in the middle: keep what came before, say so.
            Err(_) if !complete && p.cur.is_some() => {
                p.truncated(line_no);
            }
            Err(e) => return Err(e),
        }
        if !complete {
            p.truncated(line_no);
        }
    }
    p.finish_snapshot(true);
    if p.done.is_empty() {
        return Err(IngestError::new(
            ErrorKind::Empty,
            name,
            "empty input: no `goroutine profile: total N` header",
        ));
    }
    Ok(p.done)
}

struct Parser<'a> {
    name: &'a str,
    opts: &'a Options,
    done: Vec<Snapshot>,
    cur: Option<Current>,
    rec: Option<RecordBuilder>,
}

struct Current {
    snap: Snapshot,
    header_line: u64,
    sum: u64,
    /// The line where the input was found cut, if it was.
    truncated_at: Option<u64>,
}

struct RecordBuilder {
    count: u64,
    labels: goroscope_model::LabelSetId,
    frames: Vec<RawFrame>,
    saw_frame: bool,
    /// The `@` list was empty: Go then prints a lone `#\t0x0`, which is no frame.
    no_pcs: bool,
}

struct RawFrame {
    pc: u64,
    /// `pc - offset`, when the line gave an offset.
    entry: Option<u64>,
    frame: Frame,
}

impl Parser<'_> {
    fn err(&self, line_no: u64, msg: impl Into<String>) -> IngestError {
        IngestError::syntax(self.name, msg).at_line(line_no)
    }

    fn line(&mut self, line: &str, line_no: u64) -> Result<()> {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            self.finish_record();
            return Ok(());
        }
        if let Some((kind_name, total)) = parse_header(trimmed) {
            let kind = match kind_name {
                "goroutine" => ProfileKind::Goroutine,
                "goroutineleak" => ProfileKind::GoroutineLeak,
                other => {
                    return Err(self.err(
                        line_no,
                        format!(
                            "this is a `{other}` profile, not a goroutine or goroutineleak profile"
                        ),
                    ))
                }
            };
            let total = total
                .ok_or_else(|| self.err(line_no, "the profile header's total is not a number"))?;
            self.finish_snapshot(false);
            let mut snap = Snapshot::new(Source {
                input: self.name.to_string(),
                index: self.done.len(),
                line: Some(line_no),
                format: Format::Debug1,
                kind: self.opts.kind.unwrap_or(kind),
            });
            snap.declared_total = Some(total);
            self.cur = Some(Current {
                snap,
                header_line: line_no,
                sum: 0,
                truncated_at: None,
            });
            return Ok(());
        }
        let Some(cur) = self.cur.as_mut() else {
            return Err(IngestError::not_a_dump(
                self.name,
                "not a debug=1 goroutine profile: expected a `goroutine profile: total N` header",
            )
            .at_line(line_no));
        };
        if let Some(rest) = trimmed.strip_prefix('#') {
            let Some(rec) = self.rec.as_mut() else {
                return Err(IngestError::syntax(
                    self.name,
                    "a `#` line outside a `<count> @ <pc>…` record",
                )
                .at_line(line_no));
            };
            if let Some(labels) = rest.strip_prefix(" labels:") {
                if rec.saw_frame {
                    return Err(IngestError::syntax(
                        self.name,
                        "`# labels:` after the record's frames",
                    )
                    .at_line(line_no));
                }
                let pairs = parse_labels(labels.trim()).map_err(|m| {
                    IngestError::syntax(self.name, format!("bad `# labels:` line: {m}"))
                        .at_line(line_no)
                })?;
                let interner = &mut cur.snap.interner;
                let syms: Vec<(Sym, Sym)> = pairs
                    .iter()
                    .map(|(k, v)| (interner.intern_str(k), interner.intern_str(v)))
                    .collect();
                rec.labels = if syms.is_empty() {
                    Interner::NO_LABELS
                } else {
                    interner.intern_labels(syms)
                };
                return Ok(());
            }
            let raw = parse_frame(rest, &mut cur.snap.interner).map_err(|m| {
                IngestError::syntax(self.name, format!("bad frame line: {m}")).at_line(line_no)
            })?;
            rec.saw_frame = true;
            if !(rec.no_pcs && raw.pc == 0 && raw.entry.is_none()) {
                rec.frames.push(raw);
            }
            return Ok(());
        }
        if let Some((count, pcs)) = trimmed.split_once(" @") {
            let count: u64 = count
                .trim()
                .parse()
                .map_err(|_| self.err(line_no, format!("bad record count `{}`", count.trim())))?;
            let mut no_pcs = true;
            for pc in pcs.split_whitespace() {
                if parse_hex(pc).is_none() {
                    return Err(self.err(line_no, format!("bad PC `{pc}` in the `@` list")));
                }
                no_pcs = false;
            }
            self.finish_record();
            self.rec = Some(RecordBuilder {
                count,
                labels: Interner::NO_LABELS,
                frames: Vec::new(),
                saw_frame: false,
                no_pcs,
            });
            return Ok(());
        }
        let shown: String = trimmed.chars().take(60).collect();
        Err(self.err(
            line_no,
            format!("unexpected line in a debug=1 profile: `{shown}`"),
        ))
    }

    fn truncated(&mut self, line_no: u64) {
        if let Some(cur) = self.cur.as_mut() {
            cur.truncated_at.get_or_insert(line_no);
        }
    }

    fn finish_record(&mut self) {
        let (Some(rec), Some(cur)) = (self.rec.take(), self.cur.as_mut()) else {
            return;
        };
        let mut ids: Vec<FrameId> = Vec::with_capacity(rec.frames.len());
        for (i, f) in rec.frames.iter().enumerate() {
            let mut frame = f.frame;
            if let Some(next) = rec.frames.get(i + 1) {
                let same_place = f.pc == next.pc || (f.entry.is_some() && f.entry == next.entry);
                frame.inlined = same_place && f.frame.function != next.frame.function;
            }
            ids.push(cur.snap.interner.intern_frame(frame));
        }
        let stack = cur.snap.interner.intern_stack(&ids);
        cur.sum = cur.sum.saturating_add(rec.count);
        cur.snap.records.push(Record {
            count: rec.count,
            stack,
            labels: rec.labels,
        });
    }

    fn finish_snapshot(&mut self, at_eof: bool) {
        self.finish_record();
        let Some(mut cur) = self.cur.take() else {
            return;
        };
        let total = cur.snap.declared_total.unwrap_or(0);
        if let Some(line) = cur.truncated_at {
            cur.snap.truncated = true;
            cur.snap.warnings.push(
                Warning::new(
                    "the input ends in the middle of a line: the last record may be incomplete",
                )
                .at_line(line),
            );
        } else if at_eof && cur.sum < total {
            cur.snap.truncated = true;
        }
        if cur.sum != total {
            let why = if at_eof && cur.sum < total {
                " (the input looks cut off)"
            } else {
                ""
            };
            cur.snap.warnings.push(
                Warning::new(format!(
                    "the records add up to {} goroutines but the header says total {total}{why}",
                    cur.sum
                ))
                .at_line(cur.header_line),
            );
        }
        self.done.push(cur.snap);
    }
}

/// `<name> profile: total <N>` → (name, N).
fn parse_header(line: &str) -> Option<(&str, Option<u64>)> {
    let (name, total) = line.split_once(" profile: total ")?;
    if name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
        return None;
    }
    Some((name, total.trim().parse().ok()))
}

fn parse_hex(s: &str) -> Option<u64> {
    let h = s.strip_prefix("0x")?;
    u64::from_str_radix(h, 16).ok()
}

/// The text after `#` of a frame line: `\t<pc>\t<func>+<off>\t<file>:<line>` (any run of tabs or
/// spaces between columns), or `\t<pc>` alone for an unresolved PC.
fn parse_frame(rest: &str, interner: &mut Interner) -> std::result::Result<RawFrame, String> {
    let rest = rest.trim();
    let (pc_text, after) = rest
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((rest, ""));
    let pc = parse_hex(pc_text).ok_or_else(|| format!("`{pc_text}` is not a hex PC"))?;
    let after = after.trim();
    if after.is_empty() {
        let function = interner.intern_str(&format!("{pc:#x}"));
        return Ok(RawFrame {
            pc,
            entry: None,
            frame: Frame {
                function,
                file: Interner::EMPTY,
                line: 0,
                offset: None,
                inlined: false,
            },
        });
    }
    // The function ends at the first `+0x<hex>` followed by white space; a function name never
    // contains that, while a file path may contain spaces.
    let (func, off, file_line) = split_function(after)
        .ok_or_else(|| "expected `<function>+0x<offset>` then `<file>:<line>`".to_string())?;
    let (file, line) = file_line
        .rsplit_once(':')
        .and_then(|(f, l)| Some((f, l.parse::<u32>().ok()?)))
        .ok_or_else(|| format!("`{file_line}` is not `<file>:<line>`"))?;
    Ok(RawFrame {
        pc,
        entry: pc.checked_sub(off),
        frame: Frame {
            function: interner.intern_str(func),
            file: interner.intern_str(file),
            line,
            offset: u32::try_from(off).ok(),
            inlined: false,
        },
    })
}

fn split_function(s: &str) -> Option<(&str, u64, &str)> {
    let mut from = 0;
    while let Some(i) = s[from..].find("+0x") {
        let start = from + i;
        let hex_start = start + 3;
        let hex_len = s[hex_start..]
            .bytes()
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        let end = hex_start + hex_len;
        let followed_by_space = s[end..].starts_with(|c: char| c.is_ascii_whitespace());
        if hex_len > 0 && followed_by_space && start > 0 {
            let off = u64::from_str_radix(&s[hex_start..end], 16).ok()?;
            return Some((&s[..start], off, s[end..].trim()));
        }
        from = hex_start;
    }
    None
}

/// `{"k":"v", "k2":"v2"}` (Go `%q` quoting) → pairs.
fn parse_labels(s: &str) -> std::result::Result<Vec<(String, String)>, String> {
    let inner = s
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .ok_or("expected `{…}`")?;
    let mut out = Vec::new();
    let mut rest = inner.trim_start();
    while !rest.is_empty() {
        let (k, r) = unquote(rest)?;
        let r = r
            .trim_start()
            .strip_prefix(':')
            .ok_or("expected `:` after a key")?;
        let (v, r) = unquote(r.trim_start())?;
        out.push((k, v));
        let r = r.trim_start();
        rest = match r.strip_prefix(',') {
            Some(r) => r.trim_start(),
            None if r.is_empty() => r,
            None => return Err(format!("expected `,` or `}}` at `{}`", short(r))),
        };
    }
    Ok(out)
}

fn short(s: &str) -> Cow<'_, str> {
    if s.len() <= 20 {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().take(20).collect::<String>() + "…")
    }
}

/// Reads one Go-quoted string (`strconv.Quote` syntax) from the start of `s`; returns it and
/// the rest. Byte escapes that do not form UTF-8 are replaced by U+FFFD.
fn unquote(s: &str) -> std::result::Result<(String, &str), String> {
    let body = s
        .strip_prefix('"')
        .ok_or_else(|| format!("expected a quoted string at `{}`", short(s)))?;
    let mut bytes: Vec<u8> = Vec::new();
    let mut it = body.char_indices();
    while let Some((i, c)) = it.next() {
        match c {
            '"' => return Ok((String::from_utf8_lossy(&bytes).into_owned(), &body[i + 1..])),
            '\\' => {
                let (_, e) = it.next().ok_or("unterminated escape")?;
                let simple = match e {
                    'a' => Some(0x07),
                    'b' => Some(0x08),
                    'f' => Some(0x0c),
                    'n' => Some(b'\n'),
                    'r' => Some(b'\r'),
                    't' => Some(b'\t'),
                    'v' => Some(0x0b),
                    '\\' => Some(b'\\'),
                    '"' => Some(b'"'),
                    '\'' => Some(b'\''),
                    _ => None,
                };
                if let Some(b) = simple {
                    bytes.push(b);
                    continue;
                }
                let digits = |n: usize, it: &mut std::str::CharIndices<'_>, radix: u32| {
                    let mut v: u32 = 0;
                    for _ in 0..n {
                        let (_, d) = it.next().ok_or("escape cut short")?;
                        v = v * radix + d.to_digit(radix).ok_or("bad digit in an escape")?;
                    }
                    Ok::<u32, &'static str>(v)
                };
                match e {
                    'x' => bytes.push(digits(2, &mut it, 16)? as u8),
                    '0'..='7' => {
                        let rest = digits(2, &mut it, 8)?;
                        let v = (e as u32 - '0' as u32) * 64 + rest;
                        bytes.push(u8::try_from(v).map_err(|_| "octal escape above \\377")?);
                    }
                    'u' | 'U' => {
                        let n = if e == 'u' { 4 } else { 8 };
                        let v = digits(n, &mut it, 16)?;
                        let ch = char::from_u32(v).unwrap_or(char::REPLACEMENT_CHARACTER);
                        let mut tmp = [0u8; 4];
                        bytes.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                    }
                    other => return Err(format!("unknown escape `\\{other}`")),
                }
            }
            _ => {
                let mut tmp = [0u8; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
            }
        }
    }
    Err("unterminated quoted string".into())
}

enum LineRead {
    Eof,
    Line { newline: bool },
    TooLong,
}

/// Reads one line (without its `\n`) into `buf`, refusing lines longer than `cap`.
fn read_line<R: BufRead>(r: &mut R, buf: &mut Vec<u8>, cap: usize) -> io::Result<LineRead> {
    let mut any = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(if any {
                LineRead::Line { newline: false }
            } else {
                LineRead::Eof
            });
        }
        any = true;
        match memchr::memchr(b'\n', avail) {
            Some(i) => {
                if buf.len() + i > cap {
                    return Ok(LineRead::TooLong);
                }
                buf.extend_from_slice(&avail[..i]);
                r.consume(i + 1);
                return Ok(LineRead::Line { newline: true });
            }
            None => {
                let n = avail.len();
                if buf.len() + n > cap {
                    return Ok(LineRead::TooLong);
                }
                buf.extend_from_slice(avail);
                r.consume(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_str(s: &str) -> Result<Vec<Snapshot>> {
        read("t", s.as_bytes(), &Options::default())
    }

    #[test]
    fn unquotes_go_strings() {
        assert_eq!(unquote(r#""a b" x"#).unwrap(), ("a b".into(), " x"));
        assert_eq!(
            unquote(r#""\"\\\t\x41\101\u00e9\U0001F600""#).unwrap().0,
            "\"\\\tAAé😀"
        );
        assert_eq!(unquote(r#""\xff""#).unwrap().0, "\u{fffd}");
        assert!(unquote(r#""abc"#).is_err());
        assert!(unquote(r#""\q""#).is_err());
    }

    #[test]
    fn parses_labels() {
        assert_eq!(
            parse_labels(r#"{"handler":"/api/orders", "tenant":"acme corp"}"#).unwrap(),
            vec![
                ("handler".into(), "/api/orders".into()),
                ("tenant".into(), "acme corp".into())
            ]
        );
        assert_eq!(parse_labels("{}").unwrap(), vec![]);
        assert_eq!(
            parse_labels(r#"{"a,b":"c:d\"}"}"#).unwrap(),
            vec![("a,b".into(), "c:d\"}".into())]
        );
        assert!(parse_labels(r#"{"a" "b"}"#).is_err());
        assert!(parse_labels(r#""a":"b""#).is_err());
    }

    #[test]
    fn frames_with_tabs_or_spaces_and_spaces_in_paths() {
        let mut i = Interner::new();
        let a = parse_frame(
            "\t0x6b8ed0\tmain.worker+0x30\texample.com/m/main.go:80",
            &mut i,
        )
        .unwrap();
        let b = parse_frame(
            " 0x6b8ed0   main.worker+0x30     example.com/m/main.go:80",
            &mut i,
        )
        .unwrap();
        assert_eq!(a.frame, b.frame);
        assert_eq!(i.str(a.frame.function), "main.worker");
        assert_eq!(a.frame.offset, Some(0x30));
        assert_eq!(a.entry, Some(0x6b8ea0));
        let c = parse_frame("\t0x10\tmain.f+0x4\t/home/me/My Project/main.go:7", &mut i).unwrap();
        assert_eq!(i.str(c.frame.file), "/home/me/My Project/main.go");
        assert_eq!(c.frame.line, 7);
        let d = parse_frame("\t0x4d197c", &mut i).unwrap();
        assert_eq!(i.str(d.frame.function), "0x4d197c");
        assert!(parse_frame("\tzz\tmain.f+0x1\tf.go:1", &mut i).is_err());
        assert!(parse_frame("\t0x1\tmain.f\tf.go:1", &mut i).is_err());
        assert!(parse_frame("\t0x1\tmain.f+0x1\tf.go", &mut i).is_err());
    }

    const TWO: &str = "goroutine profile: total 4
2 @ 0x1 0x2
# labels: {\"k\":\"v\"}
#\t0x6b888b\tinternal/sync.(*Mutex).Lock+0x2b\t\tinternal/sync/mutex.go:70
#\t0x6b8872\tsync.(*Mutex).Lock+0x12\t\t\tsync/mutex.go:46
#\t0x6b886e\tmain.leakMutex.func1+0xe\t\tmain.go:55
#\t0x6b8700\tmain.rec+0x10\t\tmain.go:5
#\t0x6b8700\tmain.rec+0x10\t\tmain.go:5

1 @ 0x3
#\t0x3

1 @
#\t0x0

goroutineleak profile: total 1
1 @ 0x4
#\t0x4\tmain.leak+0x1\tmain.go:9

";

    #[test]
    fn records_inlining_labels_and_concatenation() {
        let snaps = read_str(TWO).unwrap();
        assert_eq!(snaps.len(), 2);
        let s = &snaps[0];
        assert_eq!(s.source.kind, ProfileKind::Goroutine);
        assert_eq!(s.source.line, Some(1));
        assert_eq!(s.declared_total, Some(4));
        assert_eq!(s.total_goroutines(), 4);
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        assert!(!s.truncated);
        let st = s.stack(s.records[0].stack);
        let inl: Vec<bool> = st.iter().map(|&f| s.frame(f).inlined).collect();
        assert_eq!(inl, [true, true, false, false, false]);
        assert_eq!(
            s.labels(s.records[0].labels).collect::<Vec<_>>(),
            [("k", "v")]
        );
        assert_eq!(s.function(s.stack(s.records[1].stack)[0]), "0x3");
        // An empty `@` list is an empty stack, as in the protobuf form.
        assert!(s.stack(s.records[2].stack).is_empty());
        let l = &snaps[1];
        assert_eq!(l.source.kind, ProfileKind::GoroutineLeak);
        assert_eq!((l.source.index, l.source.line), (1, Some(16)));
        assert_eq!(l.total_goroutines(), 1);
    }

    #[test]
    fn mismatch_and_truncation() {
        let s = read_str("goroutine profile: total 5\n2 @ 0x1\n#\t0x1\tmain.f+0x1\tm.go:3\n\n")
            .unwrap();
        assert!(s[0].truncated);
        assert!(
            s[0].warnings[0].message.contains("add up to 2"),
            "{:?}",
            s[0].warnings
        );
        let s = read_str("goroutine profile: total 5\n5 @ 0x1\n#\t0x1\tmain.f+0x1\tm.g").unwrap();
        assert!(s[0].truncated);
        assert_eq!(s[0].warnings[0].line, Some(3));
        assert_eq!(s[0].total_goroutines(), 5);
        // Over the total is not a cut: only a warning.
        let s = read_str("goroutine profile: total 1\n2 @ 0x1\n#\t0x1\n\n").unwrap();
        assert!(!s[0].truncated);
        assert_eq!(s[0].warnings.len(), 1);
    }

    #[test]
    fn bad_lines_name_their_line() {
        let e = read_str("goroutine profile: total 1\n1 @ 0x1\nwhat is this\n").unwrap_err();
        assert_eq!(e.line(), Some(3));
        assert!(e.to_string().contains("unexpected line"), "{e}");
        let e = read_str("goroutine profile: total 1\nx @ 0x1\n").unwrap_err();
        assert_eq!(e.line(), Some(2));
        let e = read_str("goroutine profile: total 1\n#\t0x1\n").unwrap_err();
        assert!(e.to_string().contains("outside"), "{e}");
        let e = read_str("threadcreate profile: total 1\n").unwrap_err();
        assert!(e.to_string().contains("`threadcreate` profile"), "{e}");
        let e = read_str("hello\n").unwrap_err();
        assert_eq!(e.line(), Some(1));
        let e = read_str("goroutine profile: total 1\n1 @ 0x1\n# labels: {\"a\"}\n").unwrap_err();
        assert!(e.to_string().contains("bad `# labels:`"), "{e}");
        assert!(read_str("\n\n").is_err());
    }

    #[test]
    fn long_lines_are_refused() {
        let mut s = String::from("goroutine profile: total 1\n1 @");
        while s.len() <= MAX_LINE_BYTES + 100 {
            s.push_str(" 0x48c20a");
        }
        let e = read_str(&s).unwrap_err();
        assert!(e.to_string().contains("line longer"), "{e}");
        assert_eq!(e.line(), Some(2));
    }
}
