//! gzip-compressed inputs: a `.pb.gz` profile, but also a gzipped text dump, log or
//! `go test -json` stream. The stream is decompressed as it is read (never held whole), its
//! own first bytes detected again, and the format inside read by its entry of the reader table
//! (a format forced with `--format` applies to what is inside).
//!
//! Limits: gzip inside gzip is read, one level deeper is refused; at most
//! [`MAX_DECOMPRESSED_BYTES`] come out of one input (a decompression bomb is an error, not a
//! day of work). A stream cut short keeps what was read before the cut, with a warning, like a
//! cut text file.

use crate::readers::{read_stream, Head, Input, Reader};
use crate::{ErrorKind, IngestError, Result};
use goroscope_model::{Snapshot, Warning};
use std::io::{self, Read};

pub(crate) static READER: Reader = Reader {
    name: "gzip",
    hint: None,
    detect: is_gzip,
    read,
};

/// How many gzip layers are taken off one input.
pub const MAX_DEPTH: u8 = 2;

/// The most bytes decompressed from one input (16 GiB: ten of the largest dumps measured).
pub const MAX_DECOMPRESSED_BYTES: u64 = 16 << 30;

fn is_gzip(h: &Head<'_>) -> bool {
    h.bytes.starts_with(&[0x1f, 0x8b])
}

fn read(input: &Input<'_>, stream: &mut dyn Read) -> Result<Vec<Snapshot>> {
    if input.depth >= MAX_DEPTH {
        return Err(IngestError::new(
            ErrorKind::TooLarge {
                limit: u64::from(MAX_DEPTH),
            },
            input.name,
            format!("gzip nested more than {MAX_DEPTH} deep; refusing to decompress further"),
        ));
    }
    let mut dec = Decoder {
        inner: flate2::read::MultiGzDecoder::new(stream),
        out: 0,
        limit: MAX_DECOMPRESSED_BYTES,
        cut: None,
        over: false,
    };
    let inner = Input {
        depth: input.depth + 1,
        ..*input
    };
    let result = read_stream(&inner, &mut dec);
    if dec.over {
        return Err(IngestError::new(
            ErrorKind::TooLarge { limit: dec.limit },
            input.name,
            format!(
                "decompresses to more than {} bytes; refusing it (a decompression bomb?)",
                dec.limit
            ),
        ));
    }
    // A cut stream whose beginning cannot be read either (a protobuf needs all its bytes).
    let mut snaps = result.map_err(|e| match &dec.cut {
        Some(why) => IngestError::syntax(
            input.name,
            format!(
                "the gzip data is corrupt or cut off ({why}), and what came before the cut cannot be read: {}",
                e.message()
            ),
        ),
        None => e,
    })?;
    if let Some(why) = dec.cut {
        if let Some(last) = snaps.last_mut() {
            last.truncated = true;
            last.warnings.push(Warning::new(format!(
                "the gzip stream ends early ({why}): the input was cut, the last dump may be incomplete"
            )));
        }
    }
    Ok(snaps)
}

/// Decompresses, counting what comes out; a stream cut short ends the data (and is noted)
/// instead of failing what was read before it.
struct Decoder<R: Read> {
    inner: flate2::read::MultiGzDecoder<R>,
    out: u64,
    limit: u64,
    cut: Option<String>,
    over: bool,
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cut.is_some() {
            return Ok(0);
        }
        match self.inner.read(buf) {
            Ok(n) => {
                self.out += n as u64;
                if self.out > self.limit {
                    self.over = true;
                    return Err(io::Error::other("decompressed size limit reached"));
                }
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                self.cut = Some(e.to_string());
                Ok(0)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput
                ) =>
            {
                Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("corrupt gzip data ({e})"),
                ))
            }
            Err(e) => Err(e),
        }
    }
}
