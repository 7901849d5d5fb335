//! The pprof `profile.proto` messages, decoded and encoded with `prost` derive macros (no
//! `protoc`, no build script), plus gzip handling.
//!
//! Go's `runtime/pprof` writes profiles gzipped; `go tool pprof` and most tools also accept them
//! raw. [`decode`] takes either, with a cap on the decompressed size so that a small hostile
//! file cannot make us allocate gigabytes. [`encode_gz`] writes what `go tool pprof` reads.
//!
//! Field numbers follow `github.com/google/pprof/proto/profile.proto`. One deliberate
//! difference: [`Profile::string_table`] holds bytes, not `String`s. Go strings (pprof label
//! values in particular) need not be UTF-8, and a `string` field would make prost reject the whole
//! profile for one bad byte. [`Profile::string`] converts lossily.
//!
//! ```
//! use goroscope_pprof::{decode, encode_gz, Profile, StringTable, ValueType};
//!
//! let mut strings = StringTable::new();
//! let p = Profile {
//!     sample_type: vec![ValueType { r#type: strings.index("goroutine"), unit: strings.index("count") }],
//!     string_table: strings.into_table(),
//!     ..Profile::default()
//! };
//! let back = decode(&encode_gz(&p)).unwrap();
//! assert_eq!(back.string(back.sample_type[0].r#type).as_deref(), Some("goroutine"));
//! ```

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
pub use prost::Message;
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{self, Read, Write};

/// The largest decompressed profile [`decode`] accepts (1 GiB). Real goroutine profiles of a
/// million goroutines are tens of MiB; anything near this is a decompression bomb.
pub const DEFAULT_MAX_DECODED_BYTES: u64 = 1 << 30;

/// A whole profile (`perftools.profiles.Profile`).
#[derive(Clone, PartialEq, Message)]
pub struct Profile {
    /// What each value of a sample measures (`goroutine`/`count`).
    #[prost(message, repeated, tag = "1")]
    pub sample_type: Vec<ValueType>,
    #[prost(message, repeated, tag = "2")]
    pub sample: Vec<Sample>,
    #[prost(message, repeated, tag = "3")]
    pub mapping: Vec<Mapping>,
    #[prost(message, repeated, tag = "4")]
    pub location: Vec<Location>,
    #[prost(message, repeated, tag = "5")]
    pub function: Vec<Function>,
    /// Every string the profile refers to by index; entry 0 is always `""`.
    #[prost(bytes = "vec", repeated, tag = "6")]
    pub string_table: Vec<Vec<u8>>,
    #[prost(int64, tag = "7")]
    pub drop_frames: i64,
    #[prost(int64, tag = "8")]
    pub keep_frames: i64,
    /// When the profile was collected, nanoseconds since the Unix epoch.
    #[prost(int64, tag = "9")]
    pub time_nanos: i64,
    /// The collection window; set by delta profiles (`?seconds=N`).
    #[prost(int64, tag = "10")]
    pub duration_nanos: i64,
    #[prost(message, optional, tag = "11")]
    pub period_type: Option<ValueType>,
    #[prost(int64, tag = "12")]
    pub period: i64,
    /// Free-form comments, as string indices.
    #[prost(int64, repeated, tag = "13")]
    pub comment: Vec<i64>,
    /// Index into the string table of the preferred sample type.
    #[prost(int64, tag = "14")]
    pub default_sample_type: i64,
    #[prost(int64, tag = "15")]
    pub doc_url: i64,
}

/// A sample type or period type: two string indices.
#[derive(Clone, Copy, PartialEq, Eq, Message)]
pub struct ValueType {
    #[prost(int64, tag = "1")]
    pub r#type: i64,
    #[prost(int64, tag = "2")]
    pub unit: i64,
}

/// One stack with its values and labels.
#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    /// Location ids, innermost (leaf) first.
    #[prost(uint64, repeated, tag = "1")]
    pub location_id: Vec<u64>,
    /// One value per [`Profile::sample_type`].
    #[prost(int64, repeated, tag = "2")]
    pub value: Vec<i64>,
    #[prost(message, repeated, tag = "3")]
    pub label: Vec<Label>,
}

/// A sample label: a string (`str`) or a number (`num`, with an optional unit).
#[derive(Clone, Copy, PartialEq, Eq, Message)]
pub struct Label {
    #[prost(int64, tag = "1")]
    pub key: i64,
    #[prost(int64, tag = "2")]
    pub str: i64,
    #[prost(int64, tag = "3")]
    pub num: i64,
    #[prost(int64, tag = "4")]
    pub num_unit: i64,
}

/// A mapped binary or library.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct Mapping {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(uint64, tag = "2")]
    pub memory_start: u64,
    #[prost(uint64, tag = "3")]
    pub memory_limit: u64,
    #[prost(uint64, tag = "4")]
    pub file_offset: u64,
    #[prost(int64, tag = "5")]
    pub filename: i64,
    #[prost(int64, tag = "6")]
    pub build_id: i64,
    #[prost(bool, tag = "7")]
    pub has_functions: bool,
    #[prost(bool, tag = "8")]
    pub has_filenames: bool,
    #[prost(bool, tag = "9")]
    pub has_line_numbers: bool,
    #[prost(bool, tag = "10")]
    pub has_inline_frames: bool,
}

/// A program counter with the source lines it stands for.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct Location {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(uint64, tag = "2")]
    pub mapping_id: u64,
    #[prost(uint64, tag = "3")]
    pub address: u64,
    /// Inlined calls expanded: `line[0]` is the innermost (inlined) function, the last entry the
    /// function the code physically belongs to.
    #[prost(message, repeated, tag = "4")]
    pub line: Vec<Line>,
    #[prost(bool, tag = "5")]
    pub is_folded: bool,
}

/// A function and line within a [`Location`].
#[derive(Clone, Copy, PartialEq, Eq, Message)]
pub struct Line {
    #[prost(uint64, tag = "1")]
    pub function_id: u64,
    #[prost(int64, tag = "2")]
    pub line: i64,
    #[prost(int64, tag = "3")]
    pub column: i64,
}

/// A function: names and file as string indices.
#[derive(Clone, Copy, PartialEq, Eq, Message)]
pub struct Function {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(int64, tag = "2")]
    pub name: i64,
    #[prost(int64, tag = "3")]
    pub system_name: i64,
    #[prost(int64, tag = "4")]
    pub filename: i64,
    #[prost(int64, tag = "5")]
    pub start_line: i64,
}

impl Profile {
    /// The string at `index` of the string table (lossily converted to UTF-8), or `None` when
    /// the index is out of range.
    pub fn string(&self, index: i64) -> Option<Cow<'_, str>> {
        let i = usize::try_from(index).ok()?;
        self.string_table.get(i).map(|b| String::from_utf8_lossy(b))
    }
}

/// Builds a string table: each distinct string once, `""` at index 0.
#[derive(Debug, Clone)]
pub struct StringTable {
    table: Vec<Vec<u8>>,
    index: HashMap<Vec<u8>, i64>,
}

impl Default for StringTable {
    fn default() -> Self {
        Self::new()
    }
}

impl StringTable {
    pub fn new() -> Self {
        let mut t = StringTable {
            table: Vec::new(),
            index: HashMap::new(),
        };
        t.index("");
        t
    }

    /// The index of `s`, adding it when new.
    pub fn index(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.index.get(s.as_bytes()) {
            return i;
        }
        let i = self.table.len() as i64;
        self.table.push(s.as_bytes().to_vec());
        self.index.insert(s.as_bytes().to_vec(), i);
        i
    }

    /// The finished table, for [`Profile::string_table`].
    pub fn into_table(self) -> Vec<Vec<u8>> {
        self.table
    }
}

/// Why bytes could not be decoded as a profile.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The gzip stream is corrupt or ends early.
    #[error("gzip data is corrupt or cut off ({0})")]
    Gzip(#[source] io::Error),
    /// Decompressing produced more than the limit.
    #[error(
        "the profile decompresses to more than {limit} bytes; refusing it (a decompression bomb?)"
    )]
    TooLarge { limit: u64 },
    /// The bytes are not a `profile.proto` message.
    #[error("not a valid pprof profile.proto message ({0})")]
    Protobuf(#[from] prost::DecodeError),
}

/// Whether `bytes` start with the gzip magic number.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Decodes a gzipped or raw profile, refusing more than [`DEFAULT_MAX_DECODED_BYTES`] of
/// decompressed data.
pub fn decode(bytes: &[u8]) -> Result<Profile, Error> {
    decode_with_limit(bytes, DEFAULT_MAX_DECODED_BYTES)
}

/// Decodes a gzipped or raw profile, refusing more than `limit` bytes of decompressed data (or
/// of raw data).
pub fn decode_with_limit(bytes: &[u8], limit: u64) -> Result<Profile, Error> {
    if is_gzip(bytes) {
        let raw = gunzip(bytes, limit)?;
        Ok(Profile::decode(raw.as_slice())?)
    } else {
        if bytes.len() as u64 > limit {
            return Err(Error::TooLarge { limit });
        }
        Ok(Profile::decode(bytes)?)
    }
}

/// Decompresses a gzip stream (all members), refusing more than `limit` bytes of output.
pub fn gunzip(bytes: &[u8], limit: u64) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(Error::Gzip)?;
    if out.len() as u64 > limit {
        return Err(Error::TooLarge { limit });
    }
    Ok(out)
}

/// Encodes a profile and gzips it, as Go's `runtime/pprof` does.
pub fn encode_gz(p: &Profile) -> Vec<u8> {
    gzip(&p.encode_to_vec())
}

/// Gzips bytes (default compression).
pub fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::with_capacity(raw.len() / 4 + 64), Default::default());
    enc.write_all(raw)
        .and_then(|()| enc.finish())
        .expect("gzip into a Vec cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_profile() -> Profile {
        let mut s = StringTable::new();
        let goroutine = s.index("goroutine");
        let count = s.index("count");
        let f = s.index("main.worker");
        let file = s.index("main.go");
        let k = s.index("handler");
        let v = s.index("/api");
        Profile {
            sample_type: vec![ValueType {
                r#type: goroutine,
                unit: count,
            }],
            period_type: Some(ValueType {
                r#type: goroutine,
                unit: count,
            }),
            period: 1,
            sample: vec![Sample {
                location_id: vec![1],
                value: vec![3],
                label: vec![Label {
                    key: k,
                    str: v,
                    ..Label::default()
                }],
            }],
            location: vec![Location {
                id: 1,
                address: 0x4000,
                line: vec![Line {
                    function_id: 1,
                    line: 80,
                    column: 0,
                }],
                ..Location::default()
            }],
            function: vec![Function {
                id: 1,
                name: f,
                system_name: f,
                filename: file,
                start_line: 79,
            }],
            string_table: s.into_table(),
            time_nanos: 1_700_000_000_000_000_000,
            ..Profile::default()
        }
    }

    #[test]
    fn round_trips_gzipped_and_raw() {
        let p = sample_profile();
        let gz = encode_gz(&p);
        assert!(is_gzip(&gz));
        assert_eq!(decode(&gz).unwrap(), p);
        assert_eq!(decode(&p.encode_to_vec()).unwrap(), p);
        assert_eq!(p.string(1).as_deref(), Some("goroutine"));
        assert_eq!(p.string(-1), None);
        assert_eq!(p.string(1000), None);
    }

    #[test]
    fn truncated_gzip_is_a_clear_error() {
        let gz = encode_gz(&sample_profile());
        let err = decode(&gz[..gz.len() / 2]).unwrap_err();
        assert!(matches!(err, Error::Gzip(_)), "{err:?}");
        assert!(err.to_string().contains("cut off"), "{err}");
    }

    #[test]
    fn decompression_is_capped() {
        // 8 MiB of zeros compress to a few KiB.
        let mut enc = GzEncoder::new(Vec::new(), Default::default());
        enc.write_all(&vec![0u8; 8 << 20]).unwrap();
        let bomb = enc.finish().unwrap();
        assert!(bomb.len() < 64 << 10);
        let err = decode_with_limit(&bomb, 1 << 20).unwrap_err();
        assert!(
            matches!(err, Error::TooLarge { limit } if limit == 1 << 20),
            "{err:?}"
        );
    }

    #[test]
    fn invalid_utf8_strings_survive() {
        let mut p = sample_profile();
        p.string_table.push(vec![b'a', 0xff, b'b']);
        let back = decode(&encode_gz(&p)).unwrap();
        let last = back.string_table.len() as i64 - 1;
        assert_eq!(back.string(last).as_deref(), Some("a\u{fffd}b"));
    }

    #[test]
    fn garbage_is_a_protobuf_error() {
        let err = decode(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]).unwrap_err();
        assert!(matches!(err, Error::Protobuf(_)), "{err:?}");
    }
}
