//! A buffered byte source that knows its offset, over a plain or gzipped stream.

use std::io::{self, Read};

/// The first two bytes of a gzip stream.
pub(crate) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Reads bytes one at a time or in runs, counting the offset in the (decompressed) stream.
pub(crate) struct Src<'a> {
    inner: Box<dyn Read + 'a>,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    /// Offset of `buf[0]` in the stream.
    base: u64,
    eof: bool,
}

/// What ended a read early.
#[derive(Debug)]
pub(crate) enum ReadErr {
    /// The input ended (cleanly, if no byte of the item was read yet).
    Eof,
    Io(io::Error),
}

impl From<io::Error> for ReadErr {
    fn from(e: io::Error) -> Self {
        ReadErr::Io(e)
    }
}

impl<'a> Src<'a> {
    const BUF: usize = 256 << 10;

    /// Wraps `r`, gunzipping it when it starts with the gzip magic.
    pub(crate) fn open(r: Box<dyn Read + 'a>) -> io::Result<Src<'a>> {
        let mut s = Src {
            inner: r,
            buf: vec![0; Self::BUF].into_boxed_slice(),
            pos: 0,
            end: 0,
            base: 0,
            eof: false,
        };
        s.fill_to(2)?;
        if s.end - s.pos >= 2 && s.buf[..2] == GZIP_MAGIC {
            // Hand the bytes read so far back in front of the rest, then decompress.
            let head = s.buf[..s.end].to_vec();
            let inner = std::mem::replace(&mut s.inner, Box::new(io::empty()));
            let chained = io::Cursor::new(head).chain(inner);
            let gz = flate2::read::MultiGzDecoder::new(chained);
            return Ok(Src {
                inner: Box::new(gz),
                buf: s.buf,
                pos: 0,
                end: 0,
                base: 0,
                eof: false,
            });
        }
        Ok(s)
    }

    /// The offset of the next byte.
    #[inline]
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Makes at least `n` bytes (n ≤ buffer size) available unless the input ends first.
    fn fill_to(&mut self, n: usize) -> io::Result<()> {
        debug_assert!(n <= self.buf.len());
        if self.end - self.pos >= n || self.eof {
            return Ok(());
        }
        if self.pos + n > self.buf.len() {
            self.buf.copy_within(self.pos..self.end, 0);
            self.base += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
        }
        while self.end - self.pos < n {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Whether the input has no more bytes.
    #[cfg(test)]
    pub(crate) fn at_eof(&mut self) -> io::Result<bool> {
        self.fill_to(1)?;
        Ok(self.pos == self.end)
    }

    /// Up to `n` bytes without consuming them.
    pub(crate) fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        self.fill_to(n)?;
        let k = n.min(self.end - self.pos);
        Ok(&self.buf[self.pos..self.pos + k])
    }

    #[inline]
    pub(crate) fn byte(&mut self) -> Result<u8, ReadErr> {
        if self.pos == self.end {
            self.fill_to(1)?;
            if self.pos == self.end {
                return Err(ReadErr::Eof);
            }
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(b)
    }

    /// A varint; `Ok(None)` when it is malformed (too long or overflowing).
    #[inline]
    pub(crate) fn uvarint(&mut self) -> Result<Option<u64>, ReadErr> {
        if self.end - self.pos < 10 {
            self.fill_to(10)?;
        }
        let avail = &self.buf[self.pos..self.end];
        match crate::wire::uvarint(avail) {
            Some((v, n)) => {
                self.pos += n;
                Ok(Some(v))
            }
            None if avail.len() >= 10 => Ok(None),
            None => {
                // The input ended inside the varint, unless it is malformed anyway.
                if avail.iter().all(|&b| b >= 0x80) {
                    self.pos = self.end;
                    Err(ReadErr::Eof)
                } else {
                    Ok(None)
                }
            }
        }
    }

    /// Appends exactly `n` bytes to `out`; on a short input appends what there was and
    /// returns `Eof`.
    pub(crate) fn read_into(&mut self, out: &mut Vec<u8>, mut n: usize) -> Result<(), ReadErr> {
        while n > 0 {
            if self.pos == self.end {
                self.fill_to(1)?;
                if self.pos == self.end {
                    return Err(ReadErr::Eof);
                }
            }
            let k = n.min(self.end - self.pos);
            out.extend_from_slice(&self.buf[self.pos..self.pos + k]);
            self.pos += k;
            n -= k;
        }
        Ok(())
    }

    /// Skips exactly `n` bytes.
    pub(crate) fn skip(&mut self, mut n: usize) -> Result<(), ReadErr> {
        while n > 0 {
            if self.pos == self.end {
                self.fill_to(1)?;
                if self.pos == self.end {
                    return Err(ReadErr::Eof);
                }
            }
            let k = n.min(self.end - self.pos);
            self.pos += k;
            n -= k;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn plain_and_gzip_read_the_same() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        for input in [data.clone(), gz] {
            let mut s = Src::open(Box::new(io::Cursor::new(input))).unwrap();
            let mut out = Vec::new();
            s.read_into(&mut out, 1000).unwrap();
            assert_eq!(s.offset(), 1000);
            s.skip(100_000).unwrap();
            assert_eq!(s.byte().unwrap(), data[101_000]);
            let rest = data.len() - 101_001;
            s.read_into(&mut out, rest).unwrap();
            assert!(s.at_eof().unwrap());
            assert!(matches!(s.byte(), Err(ReadErr::Eof)));
            assert_eq!(&out[..1000], &data[..1000]);
        }
    }

    #[test]
    fn varint_cut_by_the_end_is_eof() {
        let mut s = Src::open(Box::new(io::Cursor::new(vec![0x96, 0x01, 0x80]))).unwrap();
        assert_eq!(s.uvarint().unwrap(), Some(150));
        assert!(matches!(s.uvarint(), Err(ReadErr::Eof)));
        let mut s = Src::open(Box::new(io::Cursor::new(vec![0xff; 12]))).unwrap();
        assert_eq!(s.uvarint().unwrap(), None);
    }
}
