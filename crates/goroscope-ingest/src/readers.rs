//! The reader table: every input format is one [`Reader`] entry (how to recognise it from
//! the first bytes, how to read it), so a new format is one module and one line in
//! [`READERS`].
//!
//! [`read_stream`] reads a head of up to [`HEAD_BYTES`] (looping over short reads from pipes
//! and sockets), picks an entry, and hands it the head chained with the rest of the stream:
//! nothing is read twice and nothing is held whole unless the format needs it (protobuf).
//!
//! Detection looks past heads it cannot judge: a head that is only blank lines, or one line
//! longer than the head (a long JSON log line), goes to the text reader, which streams on and
//! finds a dump behind it; only when that finds none does the error say what the head looked
//! like.

use crate::detect::{self, Detected};
use crate::{debug1, exectrace, gzip, proto, test2json, text};
use crate::{ErrorKind, FormatHint, IngestError, Options, Result, HEAD_BYTES};
use goroscope_model::Snapshot;
use std::io::{self, Read};

/// The first bytes of an input.
#[derive(Debug, Clone, Copy)]
pub struct Head<'a> {
    pub bytes: &'a [u8],
    /// The head is the whole input.
    pub eof: bool,
}

/// What a reader is given besides the stream.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The input's name, for errors and [`goroscope_model::Source::input`].
    pub name: &'a str,
    pub opts: &'a Options,
    /// How many containers (gzip) the stream was already taken out of.
    pub depth: u8,
}

impl<'a> Input<'a> {
    pub fn new(name: &'a str, opts: &'a Options) -> Self {
        Input {
            name,
            opts,
            depth: 0,
        }
    }
}

/// One format: how to recognise it and how to read it.
pub struct Reader {
    /// The format's name (in `-v` logs and errors).
    pub name: &'static str,
    /// What `--format` calls it; `None` for containers, which hold another format.
    pub hint: Option<FormatHint>,
    /// Whether the head is this format (containers are checked even when a format is forced).
    pub detect: fn(&Head<'_>) -> bool,
    /// Reads the whole stream (the head included).
    pub read: fn(&Input<'_>, &mut dyn Read) -> Result<Vec<Snapshot>>,
}

/// Every reader, most specific first; the last one (text, which finds dumps inside any text)
/// takes whatever none of the others and no refusal in [`detect`] claimed.
pub static READERS: &[&Reader] = &[
    &gzip::READER,
    &exectrace::READER,
    &proto::READER,
    &debug1::READER,
    &test2json::READER,
    &text::READER,
];

/// The entry that reads `hint`.
pub fn reader_for(hint: FormatHint) -> &'static Reader {
    READERS
        .iter()
        .find(|r| r.hint == Some(hint))
        .expect("every FormatHint has a reader in READERS")
}

/// Reads an input through the entry its head (or [`Options::format`]) picks.
pub fn read_stream(input: &Input<'_>, stream: &mut dyn Read) -> Result<Vec<Snapshot>> {
    let mut head = Vec::with_capacity(HEAD_BYTES);
    read_head(stream, &mut head).map_err(|e| IngestError::io(input.name, "reading", e))?;
    let h = Head {
        bytes: &head,
        eof: head.len() < HEAD_BYTES,
    };
    let reader: &Reader = match (gzip::READER.detect)(&h) {
        true => &gzip::READER,
        false => match input.opts.format {
            Some(f) => reader_for(f),
            None => match detect::detect_head(&h) {
                Detected::Format(f) => reader_for(f),
                Detected::Compressed => &gzip::READER,
                Detected::Empty => {
                    return Err(IngestError::new(
                        ErrorKind::Empty,
                        input.name,
                        "empty input: no goroutine dump",
                    ))
                }
                Detected::NotADump(why) => {
                    return Err(IngestError::not_a_dump(input.name, why).at_offset(0))
                }
            },
        },
    };
    let looked_like = detect::what_it_looks_like(&h);
    let mut chained = io::Cursor::new(head).chain(stream);
    let result = (reader.read)(input, &mut chained);
    match result {
        // The text reader streamed past a head detection could not judge and found nothing:
        // say what the head looked like.
        Err(e) if *e.kind() == ErrorKind::NotADump && reader.hint == Some(FormatHint::Text) => {
            match looked_like {
                Some(what) => Err(e.with_message(what)),
                None => Err(e),
            }
        }
        other => other,
    }
}

/// Reads up to [`HEAD_BYTES`], looping over short reads.
fn read_head(stream: &mut dyn Read, head: &mut Vec<u8>) -> io::Result<()> {
    let mut limited = stream.take(HEAD_BYTES as u64);
    loop {
        match limited.read_to_end(head) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hint_has_one_reader_and_text_comes_last() {
        for h in [
            FormatHint::Text,
            FormatHint::Debug1,
            FormatHint::Proto,
            FormatHint::Test2Json,
            FormatHint::ExecTrace,
        ] {
            assert_eq!(READERS.iter().filter(|r| r.hint == Some(h)).count(), 1);
            assert_eq!(reader_for(h).hint, Some(h));
        }
        assert_eq!(READERS.last().map(|r| r.name), Some("text"));
    }
}
