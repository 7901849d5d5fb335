//! pprof protobuf (`debug=0`): goroutine and goroutineleak profiles, gzipped or raw.
//!
//! Go writes one sample per distinct (stack, label set) with a single value, the number of
//! goroutines; each sample becomes one [`Record`]. What the format has and lacks:
//!
//! * stacks are complete (runtime frames such as `runtime.gopark` included, `runtime.goexit`
//!   not), with inlined calls expanded: a location's `line[0]` is the innermost function and
//!   every line but the last is marked [`Frame::inlined`];
//! * no goroutine ids, states, wait times or creators;
//! * labels are `Sample.label`: string values as they are, numeric values as the decimal
//!   number (followed by a space and the unit when the label has one);
//! * `time_nanos` becomes [`Snapshot::taken_at`], `duration_nanos` (set by `?seconds=N` delta
//!   profiles) [`Snapshot::duration_nanos`].
//!
//! Delta profiles hold growth, which can be negative. We keep every sample as a record whose
//! `count` is `max(0, value)` (so totals count only goroutines that appeared) and put the signed
//! values, one per record, in [`Snapshot::delta_counts`]. A profile is treated as a delta when
//! it has a duration or any negative value.
//!
//! The kind comes from the sample type Go writes (`goroutine/count` or `goroutineleak/count`);
//! [`Options::kind`] overrides it, and the input's name (`…goroutineleak…`) is the fallback for
//! profiles whose sample type says neither.
//!
//! Bad profiles never panic: an index into the string table, a location or a function that does
//! not exist is an error naming the sample, location or function.

use crate::detect::{is_control, looks_binary};
use crate::readers::{Head, Input, Reader};
use crate::{ErrorKind, FormatHint, IngestError, Options, Result};
use goroscope_model::{
    Format, Frame, FrameId, Interner, ProfileKind, Record, Snapshot, Source, Sym, Warning,
};
use goroscope_pprof::{Location, Profile};
use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

/// The largest profile read (compressed or raw).
pub const MAX_PROFILE_BYTES: u64 = 1 << 30;

/// The largest decompressed profile accepted (a decompression bomb is refused with an error).
pub const MAX_DECODED_BYTES: u64 = goroscope_pprof::DEFAULT_MAX_DECODED_BYTES;

/// Reads a gzipped or raw profile.proto.
pub fn read(name: &str, bytes: &[u8], opts: &Options) -> Result<Snapshot> {
    let profile = goroscope_pprof::decode_with_limit(bytes, MAX_DECODED_BYTES).map_err(|e| {
        use goroscope_pprof::Error as E;
        match e {
            E::Gzip(io) => {
                IngestError::syntax(name, "the gzip data is corrupt or cut off").with_source(io)
            }
            E::TooLarge { limit } => {
                IngestError::new(ErrorKind::TooLarge { limit }, name, e.to_string())
            }
            E::Protobuf(d) => {
                IngestError::syntax(name, "not a valid pprof profile.proto message").with_source(d)
            }
            other => IngestError::syntax(name, other.to_string()),
        }
    })?;
    from_profile(name, &profile, opts)
}

pub(crate) static READER: Reader = Reader {
    name: "proto",
    hint: Some(FormatHint::Proto),
    detect: is_proto,
    read: read_stream,
};

/// A raw profile.proto: Go starts it with field 11 (period_type), others with field 1
/// (sample_type, 0x0a); either way a run of well-formed protobuf fields with binary lengths
/// and numbers among them. (Printable text can parse as protobuf fields too: a line of `Z`s is
/// field 11 over and over; it is never taken for one.)
fn is_proto(h: &Head<'_>) -> bool {
    let head = h.bytes;
    let binary_start = head.iter().take(64).any(|&c| is_control(c));
    (head.first() == Some(&0x0a) && looks_binary(head))
        || (binary_start && looks_like_raw_profile(head))
}

/// Reads the whole profile (at most [`MAX_PROFILE_BYTES`]) and decodes it.
fn read_stream(input: &Input<'_>, stream: &mut dyn std::io::Read) -> Result<Vec<Snapshot>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    stream
        .take(MAX_PROFILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| IngestError::io(input.name, "reading", e))?;
    if bytes.len() as u64 > MAX_PROFILE_BYTES {
        return Err(IngestError::new(
            ErrorKind::TooLarge {
                limit: MAX_PROFILE_BYTES,
            },
            input.name,
            format!("pprof profile larger than {MAX_PROFILE_BYTES} bytes"),
        ));
    }
    read(input.name, &bytes, input.opts).map(|s| vec![s])
}

/// Turns a decoded profile into a snapshot (see the module docs for what is kept).
pub fn from_profile(name: &str, p: &Profile, opts: &Options) -> Result<Snapshot> {
    let err = |msg: String| IngestError::syntax(name, msg);
    let (value_index, kind) = pick_sample_type(name, p, opts)?;

    let mut snap = Snapshot::new(Source {
        input: name.to_string(),
        index: 0,
        line: None,
        format: Format::Proto,
        kind,
    });
    if p.time_nanos > 0 {
        snap.taken_at = UNIX_EPOCH.checked_add(Duration::from_nanos(p.time_nanos as u64));
    }
    if p.duration_nanos != 0 {
        snap.duration_nanos = Some(p.duration_nanos);
    }

    let mut conv = Converter::new(name, p)?;
    let mut stack: Vec<FrameId> = Vec::new();
    let mut signed: Vec<i64> = Vec::with_capacity(p.sample.len());
    for (si, sample) in p.sample.iter().enumerate() {
        let Some(&value) = sample.value.get(value_index) else {
            return Err(err(format!(
                "sample {si} has {} values but the profile declares {} sample types",
                sample.value.len(),
                p.sample_type.len()
            )));
        };
        stack.clear();
        for &loc_id in &sample.location_id {
            let frames = conv
                .location_frames(loc_id, &mut snap.interner)
                .map_err(|m| err(format!("sample {si}: {m}")))?;
            stack.extend_from_slice(frames);
        }
        let stack_id = snap.interner.intern_stack(&stack);
        let mut pairs = Vec::with_capacity(sample.label.len());
        for (li, l) in sample.label.iter().enumerate() {
            let key = conv
                .sym(l.key, &mut snap.interner)
                .map_err(|m| err(format!("sample {si}, label {li}: key {m}")))?;
            let value = if l.str == 0 && (l.num != 0 || l.num_unit != 0) {
                let unit = conv
                    .string(l.num_unit)
                    .map_err(|m| err(format!("sample {si}, label {li}: unit {m}")))?;
                let text = if unit.is_empty() {
                    l.num.to_string()
                } else {
                    format!("{} {unit}", l.num)
                };
                snap.interner.intern_str(&text)
            } else {
                conv.sym(l.str, &mut snap.interner)
                    .map_err(|m| err(format!("sample {si}, label {li}: value {m}")))?
            };
            pairs.push((key, value));
        }
        let labels = if pairs.is_empty() {
            Interner::NO_LABELS
        } else {
            snap.interner.intern_labels(pairs)
        };
        snap.records.push(Record {
            count: value.max(0) as u64,
            stack: stack_id,
            labels,
        });
        signed.push(value);
    }
    if snap.duration_nanos.is_some() || signed.iter().any(|&v| v < 0) {
        snap.delta_counts = signed;
    }
    if conv.unsymbolized > 0 {
        snap.warnings.push(Warning::new(format!(
            "{} location(s) have no function or line information; they are shown as addresses",
            conv.unsymbolized
        )));
    }
    Ok(snap)
}

/// Which value of each sample is the goroutine count, and which kind of profile this is.
fn pick_sample_type(name: &str, p: &Profile, opts: &Options) -> Result<(usize, ProfileKind)> {
    let type_name = |i: usize| -> String {
        p.sample_type
            .get(i)
            .and_then(|t| p.string(t.r#type))
            .map(|s| s.into_owned())
            .unwrap_or_default()
    };
    for i in 0..p.sample_type.len() {
        let kind = match type_name(i).as_str() {
            "goroutine" => ProfileKind::Goroutine,
            "goroutineleak" => ProfileKind::GoroutineLeak,
            _ => continue,
        };
        return Ok((i, opts.kind.unwrap_or(kind)));
    }
    if p.sample_type.is_empty() {
        return Err(IngestError::not_a_dump(
            name,
            "the pprof profile declares no sample type: not a goroutine profile",
        ));
    }
    // A profile whose sample type says neither: accept it only when the user or the name says
    // what it is.
    let forced = opts.kind.or_else(|| {
        if name.contains("goroutineleak") {
            Some(ProfileKind::GoroutineLeak)
        } else if name.contains("goroutine") {
            Some(ProfileKind::Goroutine)
        } else {
            None
        }
    });
    match forced {
        Some(kind) => {
            let i = usize::try_from(p.default_sample_type)
                .ok()
                .and_then(|s| {
                    let wanted = p.string(s as i64)?;
                    (0..p.sample_type.len()).find(|&i| type_name(i) == wanted)
                })
                .unwrap_or(0);
            Ok((i, kind))
        }
        None => {
            let types: Vec<String> = (0..p.sample_type.len()).map(type_name).collect();
            Err(IngestError::not_a_dump(
                name,
                format!(
                    "this pprof profile measures {}, not goroutines (want sample type `goroutine` or `goroutineleak`)",
                    types.join(", ")
                ),
            ))
        }
    }
}

/// Whether `head` (the first bytes of an input) reads as a raw, uncompressed profile.proto: a run
/// of well-formed top-level fields with the numbers and wire types `Profile` uses (Go writes
/// `period_type`, field 11, first). Raw profiles are mostly strings, so "looks binary" alone
/// misses them; text fails this within a field or two.
pub fn looks_like_raw_profile(head: &[u8]) -> bool {
    fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *b.get(*pos)?;
            *pos += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    let mut pos = 0;
    let mut fields = 0;
    while pos < head.len() {
        let Some(key) = varint(head, &mut pos) else {
            return fields >= 3;
        };
        let (field, wire) = (key >> 3, key & 7);
        let ok = match field {
            1..=6 | 11 => wire == 2,
            7..=10 | 12 | 14 | 15 => wire == 0,
            13 => wire == 0 || wire == 2,
            _ => false,
        };
        if !ok {
            return false;
        }
        if wire == 0 {
            if varint(head, &mut pos).is_none() {
                return fields >= 3;
            }
        } else {
            let Some(len) = varint(head, &mut pos) else {
                return fields >= 3;
            };
            match pos.checked_add(len as usize) {
                Some(end) if end <= head.len() => pos = end,
                // The field goes on past the head: fine when enough fields made sense already.
                _ => return fields >= 3,
            }
        }
        fields += 1;
    }
    fields >= 2
}

/// Position of each id in its table. Go numbers locations and functions 1, 2, 3…, which is
/// looked up by subtraction; other producers get a hash map.
enum IdIndex {
    Dense(usize),
    Map(HashMap<u64, usize>),
}

impl IdIndex {
    /// Fails with the first id defined twice.
    fn new(ids: impl ExactSizeIterator<Item = u64> + Clone) -> std::result::Result<Self, u64> {
        let n = ids.len();
        if ids.clone().enumerate().all(|(i, id)| id == i as u64 + 1) {
            return Ok(IdIndex::Dense(n));
        }
        let mut map = HashMap::with_capacity(n);
        for (i, id) in ids.enumerate() {
            if map.insert(id, i).is_some() {
                return Err(id);
            }
        }
        Ok(IdIndex::Map(map))
    }

    fn get(&self, id: u64) -> Option<usize> {
        match self {
            IdIndex::Dense(n) => (id >= 1 && id <= *n as u64).then(|| id as usize - 1),
            IdIndex::Map(m) => m.get(&id).copied(),
        }
    }
}

/// Converts locations to interned frames, once per location.
struct Converter<'p> {
    p: &'p Profile,
    location_index: IdIndex,
    function_index: IdIndex,
    /// Frames per location index, filled lazily.
    frames: Vec<Option<Box<[FrameId]>>>,
    /// Interned strings per string-table index, filled lazily.
    syms: Vec<Option<Sym>>,
    unsymbolized: usize,
}

impl<'p> Converter<'p> {
    fn new(name: &str, p: &'p Profile) -> Result<Self> {
        let location_index = IdIndex::new(p.location.iter().map(|l| l.id)).map_err(|id| {
            IngestError::syntax(name, format!("location id {id} is defined twice"))
        })?;
        let function_index = IdIndex::new(p.function.iter().map(|f| f.id)).map_err(|id| {
            IngestError::syntax(name, format!("function id {id} is defined twice"))
        })?;
        Ok(Converter {
            p,
            location_index,
            function_index,
            frames: vec![None; p.location.len()],
            syms: vec![None; p.string_table.len()],
            unsymbolized: 0,
        })
    }

    fn string(&self, index: i64) -> Result<std::borrow::Cow<'p, str>, String> {
        self.p.string(index).ok_or_else(|| {
            format!(
                "string index {index} is out of range (the string table has {} entries)",
                self.p.string_table.len()
            )
        })
    }

    fn sym(&mut self, index: i64, interner: &mut Interner) -> Result<Sym, String> {
        if let Some(Some(sym)) = usize::try_from(index).ok().and_then(|i| self.syms.get(i)) {
            return Ok(*sym);
        }
        let s = self.string(index)?;
        let slot = &mut self.syms[index as usize];
        Ok(*slot.get_or_insert_with(|| interner.intern_str(&s)))
    }

    fn location_frames(
        &mut self,
        loc_id: u64,
        interner: &mut Interner,
    ) -> Result<&[FrameId], String> {
        let Some(li) = self.location_index.get(loc_id) else {
            return Err(format!(
                "location id {loc_id} is not defined by the profile"
            ));
        };
        if self.frames[li].is_none() {
            let loc = &self.p.location[li];
            let frames = self
                .convert(loc, interner)
                .map_err(|m| format!("location id {loc_id}: {m}"))?;
            self.frames[li] = Some(frames);
        }
        Ok(self.frames[li].as_deref().unwrap_or(&[]))
    }

    fn convert(
        &mut self,
        loc: &Location,
        interner: &mut Interner,
    ) -> Result<Box<[FrameId]>, String> {
        if loc.line.is_empty() {
            self.unsymbolized += 1;
            let function = interner.intern_str(&format!("{:#x}", loc.address));
            return Ok(Box::new([interner.intern_frame(Frame {
                function,
                file: Interner::EMPTY,
                line: 0,
                offset: None,
                inlined: false,
            })]));
        }
        let last = loc.line.len() - 1;
        let mut out = Vec::with_capacity(loc.line.len());
        for (i, line) in loc.line.iter().enumerate() {
            let Some(fi) = self.function_index.get(line.function_id) else {
                return Err(format!(
                    "line {i} refers to function id {}, which the profile does not define",
                    line.function_id
                ));
            };
            let f = self.p.function[fi];
            let function = self
                .sym(f.name, interner)
                .map_err(|m| format!("function id {}: name {m}", f.id))?;
            let file = self
                .sym(f.filename, interner)
                .map_err(|m| format!("function id {}: file name {m}", f.id))?;
            out.push(interner.intern_frame(Frame {
                function,
                file,
                line: u32::try_from(line.line).unwrap_or(0),
                offset: None,
                inlined: i < last,
            }));
        }
        Ok(out.into_boxed_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use goroscope_pprof::{Function, Label, Line, Sample, StringTable, ValueType};

    fn profile(kind: &str, values: &[i64]) -> Profile {
        let mut s = StringTable::new();
        let t = s.index(kind);
        let count = s.index("count");
        let inner = s.index("sync.(*Mutex).Lock");
        let outer = s.index("main.worker");
        let file = s.index("main.go");
        let k = s.index("handler");
        let unit = s.index("bytes");
        Profile {
            sample_type: vec![ValueType {
                r#type: t,
                unit: count,
            }],
            sample: values
                .iter()
                .map(|&v| Sample {
                    location_id: vec![7],
                    value: vec![v],
                    label: vec![Label {
                        key: k,
                        num: 42,
                        num_unit: unit,
                        ..Label::default()
                    }],
                })
                .collect(),
            location: vec![Location {
                id: 7,
                address: 0x1000,
                line: vec![
                    Line {
                        function_id: 1,
                        line: 46,
                        column: 0,
                    },
                    Line {
                        function_id: 2,
                        line: 80,
                        column: 0,
                    },
                ],
                ..Location::default()
            }],
            function: vec![
                Function {
                    id: 1,
                    name: inner,
                    system_name: inner,
                    filename: file,
                    start_line: 1,
                },
                Function {
                    id: 2,
                    name: outer,
                    system_name: outer,
                    filename: file,
                    start_line: 1,
                },
            ],
            string_table: s.into_table(),
            ..Profile::default()
        }
    }

    #[test]
    fn inlined_lines_expand_innermost_first() {
        let snap = from_profile("x.pb", &profile("goroutine", &[3]), &Options::default()).unwrap();
        assert_eq!(snap.source.kind, ProfileKind::Goroutine);
        let r = snap.records[0];
        assert_eq!(r.count, 3);
        let st = snap.stack(r.stack);
        assert_eq!(snap.function(st[0]), "sync.(*Mutex).Lock");
        assert!(snap.frame(st[0]).inlined);
        assert_eq!(snap.function(st[1]), "main.worker");
        assert!(!snap.frame(st[1]).inlined);
        assert_eq!(
            snap.frame_site(st[1]).to_string(),
            "main.worker (main.go:80)"
        );
        let labels: Vec<_> = snap.labels(r.labels).collect();
        assert_eq!(labels, vec![("handler", "42 bytes")]);
        assert!(snap.delta_counts.is_empty());
    }

    #[test]
    fn kind_from_sample_type_or_forced() {
        let p = profile("goroutineleak", &[1]);
        let snap = from_profile("x", &p, &Options::default()).unwrap();
        assert_eq!(snap.source.kind, ProfileKind::GoroutineLeak);
        let opts = Options {
            kind: Some(ProfileKind::Goroutine),
            ..Options::default()
        };
        assert_eq!(
            from_profile("x", &p, &opts).unwrap().source.kind,
            ProfileKind::Goroutine
        );
        let heap = profile("alloc_objects", &[1]);
        let e = from_profile("heap.pb.gz", &heap, &Options::default()).unwrap_err();
        assert!(e.to_string().contains("measures alloc_objects"), "{e}");
        let by_name = from_profile("goroutineleak.pb.gz", &heap, &Options::default()).unwrap();
        assert_eq!(by_name.source.kind, ProfileKind::GoroutineLeak);
    }

    #[test]
    fn negative_delta_values_are_kept_signed() {
        let snap = from_profile("d", &profile("goroutine", &[4, -2]), &Options::default()).unwrap();
        assert_eq!(
            snap.records.iter().map(|r| r.count).collect::<Vec<_>>(),
            [4, 0]
        );
        assert_eq!(snap.delta_counts, [4, -2]);
        assert_eq!(snap.total_goroutines(), 4);
    }

    #[test]
    fn raw_profiles_are_recognised_and_text_is_not() {
        use goroscope_pprof::Message;
        let raw = profile("goroutine", &[1, 2]).encode_to_vec();
        assert!(looks_like_raw_profile(&raw));
        assert!(!looks_like_raw_profile(
            b"\ngoroutine 1 [running]:\nmain.main()\n"
        ));
        assert!(!looks_like_raw_profile(
            b"\n\n\ngoroutine profile: total 1\n"
        ));
        assert!(!looks_like_raw_profile(b""));
        assert!(!looks_like_raw_profile(&[0x0a, 0x05, 1]));
        assert!(!looks_like_raw_profile(b"Zoo"));
    }

    #[test]
    fn bad_indices_are_errors_not_panics() {
        let mut p = profile("goroutine", &[1]);
        p.function[1].name = 999;
        let e = from_profile("x", &p, &Options::default()).unwrap_err();
        assert!(
            e.to_string().contains(
                "sample 0: location id 7: function id 2: name string index 999 is out of range"
            ),
            "{e}"
        );
        let mut p = profile("goroutine", &[1]);
        p.sample[0].location_id.push(8);
        let e = from_profile("x", &p, &Options::default()).unwrap_err();
        assert!(
            e.to_string().contains("location id 8 is not defined"),
            "{e}"
        );
        let mut p = profile("goroutine", &[1]);
        p.sample[0].label[0].key = -3;
        let e = from_profile("x", &p, &Options::default()).unwrap_err();
        assert!(
            e.to_string()
                .contains("sample 0, label 0: key string index -3"),
            "{e}"
        );
        let mut p = profile("goroutine", &[1]);
        let dup = p.location[0].clone();
        p.location.push(dup);
        let e = from_profile("x", &p, &Options::default()).unwrap_err();
        assert!(
            e.to_string().contains("location id 7 is defined twice"),
            "{e}"
        );
        let mut p = profile("goroutine", &[1]);
        p.sample[0].value.clear();
        let e = from_profile("x", &p, &Options::default()).unwrap_err();
        assert!(e.to_string().contains("sample 0 has 0 values"), "{e}");
    }
}
