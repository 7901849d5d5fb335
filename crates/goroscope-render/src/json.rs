//! JSON: the report types serialized as they are (see `docs/json-schema.md`).
//!
//! `analyze` prints one document when there is one report (one snapshot) and a JSON array of
//! documents, in input order, when there are several (several inputs, or one input holding
//! several dumps) or none (`[]`). `diff` and `trend` print one document. Every document ends
//! with a newline.

use crate::{RenderOptions, Renderer, Subject};
use goroscope_analyze::{DiffReport, Report, TrendReport};
use goroscope_model::Snapshot;
use serde::Serialize;
use std::io::{self, Write};

pub(crate) struct Json;

impl Renderer for Json {
    fn name(&self) -> &'static str {
        "json"
    }
    fn supports(&self, _: Subject) -> bool {
        true
    }
    fn about(&self, _: Subject) -> &'static str {
        "documented in docs/json-schema.md"
    }
    fn report(
        &self,
        w: &mut dyn Write,
        r: &[Report],
        _snapshots: &[Snapshot],
        opts: &RenderOptions,
    ) -> io::Result<()> {
        reports(w, r, opts)
    }
    fn diff(
        &self,
        w: &mut dyn Write,
        diff: &DiffReport,
        _snapshots: &[Snapshot],
        opts: &RenderOptions,
    ) -> io::Result<()> {
        one(w, diff, opts)
    }
    fn trend(
        &self,
        w: &mut dyn Write,
        trend: &TrendReport,
        _snapshots: &[Snapshot],
        opts: &RenderOptions,
    ) -> io::Result<()> {
        one(w, trend, opts)
    }
}

pub fn reports(w: &mut dyn Write, reports: &[Report], opts: &RenderOptions) -> io::Result<()> {
    match reports {
        [one] => self::one(w, one, opts),
        many => self::one(w, &many, opts),
    }
}

pub fn one<T: Serialize + ?Sized>(
    w: &mut dyn Write,
    value: &T,
    opts: &RenderOptions,
) -> io::Result<()> {
    let mut buf = io::BufWriter::new(&mut *w);
    if opts.json_pretty {
        let mut ser = serde_json::Serializer::with_formatter(
            &mut buf,
            Safe(serde_json::ser::PrettyFormatter::new()),
        );
        value.serialize(&mut ser)
    } else {
        let mut ser = serde_json::Serializer::with_formatter(
            &mut buf,
            Safe(serde_json::ser::CompactFormatter),
        );
        value.serialize(&mut ser)
    }
    .map_err(into_io)?;
    buf.write_all(b"\n")?;
    buf.flush()
}

/// A formatter that also writes the control characters serde_json leaves raw (C1 controls such
/// as CSI, DEL, bidirectional overrides: see [`crate::escape::is_control`]) as `\uXXXX`, so a
/// JSON document from a hostile dump is safe to `cat`; the JSON means the same.
struct Safe<F>(F);

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for Safe<F> {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut rest = fragment;
        while let Some((i, c)) = rest
            .char_indices()
            .find(|&(_, c)| crate::escape::is_control(c))
        {
            w.write_all(&rest.as_bytes()[..i])?;
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                write!(w, "\\u{u:04x}")?;
            }
            rest = &rest[i + c.len_utf8()..];
        }
        w.write_all(rest.as_bytes())
    }
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// serde_json wraps the writer's error; give the caller the io error back (a closed pipe must
/// stay recognisable as `BrokenPipe`).
fn into_io(e: serde_json::Error) -> io::Error {
    match e.io_error_kind() {
        Some(kind) => io::Error::new(kind, e),
        None => io::Error::new(io::ErrorKind::InvalidData, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c1_controls_and_bidi_overrides_are_escaped_and_the_json_means_the_same() {
        let value = vec!["a\u{9b}31m\u{202e}b\u{1b}c", "plain é"];
        for pretty in [true, false] {
            let mut out = Vec::new();
            let opts = RenderOptions {
                json_pretty: pretty,
                ..RenderOptions::default()
            };
            one(&mut out, &value, &opts).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(
                text.contains("a\\u009b31m\\u202eb\\u001bc") && text.contains("plain é"),
                "{text}"
            );
            let back: Vec<String> = serde_json::from_str(&text).unwrap();
            assert_eq!(back, value);
        }
    }
}
