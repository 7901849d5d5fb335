//! Reading the target's memory: one trait for a live process, a core file and a test fake.
//! Nothing here ever writes to the target.

use std::collections::BTreeMap;
use std::rc::Rc;

/// A read failed: the address is not mapped (or the process is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmapped {
    pub addr: u64,
    pub len: usize,
}

/// Splits `out` into one slice per range, consecutively (`ranges[i].1` bytes each). A range that
/// does not fit in what is left of `out`, or whose end overflows the address space, gets
/// `None`: it cannot be read, and nothing is ever written outside `out`.
pub fn split_out<'a>(ranges: &[(u64, usize)], out: &'a mut [u8]) -> Vec<Option<&'a mut [u8]>> {
    let mut rest = out;
    ranges
        .iter()
        .map(|&(a, n)| {
            if n > rest.len() || a.checked_add(n as u64).is_none() {
                // Nothing is taken: the ranges after it keep their places only if they fit.
                return None;
            }
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(n);
            rest = tail;
            Some(head)
        })
        .collect()
}

/// Read access to a target's address space.
pub trait ProcessMemory {
    /// Fills `buf` from `addr`, all or nothing.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Unmapped>;

    /// Reads many ranges into consecutive slices of `out` (`out.len()` should be the sum of
    /// the lengths); returns, per range, whether it was read whole. A range that does not fit
    /// in `out` is not read (`false`). Live processes batch these into few system calls.
    fn read_batch(&self, ranges: &[(u64, usize)], out: &mut [u8]) -> Vec<bool> {
        split_out(ranges, out)
            .into_iter()
            .zip(ranges)
            .map(|(b, &(a, _))| b.is_some_and(|b| self.read(a, b).is_ok()))
            .collect()
    }

    /// Reads ranges into one new shared buffer (consecutive, like [`Self::read_batch`]).
    /// Recording memories keep the buffer instead of copying it.
    fn read_blocks(&self, ranges: &[(u64, usize)]) -> (Rc<Vec<u8>>, Vec<bool>) {
        let mut buf = vec![0u8; ranges.iter().map(|r| r.1).sum()];
        let ok = self.read_batch(ranges, &mut buf);
        (Rc::new(buf), ok)
    }

    fn read_u64(&self, addr: u64) -> Result<u64, Unmapped> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// How many bytes (at most `max`) can be read from `addr` on, when the memory knows its
    /// own extent (cores, fakes); `max` when it cannot tell without reading (live processes).
    /// Used to size buffers by what is there rather than by a length read from the target.
    fn readable_len(&self, addr: u64, max: usize) -> usize {
        let _ = addr;
        max
    }
}

/// An in-memory address space for tests: non-overlapping regions.
#[derive(Debug, Default, Clone)]
pub struct FakeMemory {
    regions: BTreeMap<u64, Vec<u8>>,
}

impl FakeMemory {
    pub fn new() -> Self {
        Self::default()
    }

    /// Maps `data` at `addr`.
    pub fn map(&mut self, addr: u64, data: Vec<u8>) {
        self.regions.insert(addr, data);
    }

    /// Writes bytes into an already mapped region (test setup only).
    pub fn poke(&mut self, addr: u64, bytes: &[u8]) {
        let (&base, data) = self
            .regions
            .range_mut(..=addr)
            .next_back()
            .expect("poke outside any region");
        let o = (addr - base) as usize;
        data[o..o + bytes.len()].copy_from_slice(bytes); // test setup: a bad poke panics
    }
}

impl ProcessMemory for FakeMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Unmapped> {
        if buf.is_empty() {
            return Ok(());
        }
        let err = Unmapped {
            addr,
            len: buf.len(),
        };
        let (&base, data) = self.regions.range(..=addr).next_back().ok_or(err.clone())?;
        let o = usize::try_from(addr - base).map_err(|_| err.clone())?;
        let src = o
            .checked_add(buf.len())
            .and_then(|end| data.get(o..end))
            .ok_or(err)?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn readable_len(&self, addr: u64, max: usize) -> usize {
        let Some((&base, data)) = self.regions.range(..=addr).next_back() else {
            return 0;
        };
        usize::try_from(addr - base)
            .ok()
            .and_then(|o| data.len().checked_sub(o))
            .unwrap_or(0)
            .min(max)
    }
}

/// A live process, read with `process_vm_readv` (batched iovecs). The local side of every
/// transfer is built from `&mut [u8]` slices (`nix`'s `IoSliceMut`), so the kernel can only
/// write into buffers this process owns, within their lengths.
#[cfg(target_os = "linux")]
pub struct LiveMemory {
    pub pid: u32,
}

#[cfg(target_os = "linux")]
impl LiveMemory {
    /// `IOV_MAX` on Linux.
    const IOV: usize = 1024;

    /// One read, with the kernel's error (for telling EPERM, ESRCH and ENOSYS apart).
    pub fn try_read(&self, addr: u64, buf: &mut [u8]) -> Result<usize, nix::Error> {
        use nix::sys::uio::{process_vm_readv, RemoteIoVec};
        let remote = [RemoteIoVec {
            base: addr as usize,
            len: buf.len(),
        }];
        process_vm_readv(self.pid(), &mut [std::io::IoSliceMut::new(buf)], &remote)
    }

    fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.pid as i32)
    }
}

#[cfg(target_os = "linux")]
impl ProcessMemory for LiveMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Unmapped> {
        if buf.is_empty() {
            return Ok(());
        }
        match self.try_read(addr, buf) {
            Ok(n) if n == buf.len() => Ok(()),
            _ => Err(Unmapped {
                addr,
                len: buf.len(),
            }),
        }
    }

    fn read_batch(&self, ranges: &[(u64, usize)], out: &mut [u8]) -> Vec<bool> {
        use nix::sys::uio::{process_vm_readv, RemoteIoVec};
        let mut slices = split_out(ranges, out);
        let mut ok: Vec<bool> = slices
            .iter()
            .map(|s| s.as_ref().is_some_and(|s| s.is_empty()))
            .collect();
        // The ranges that need a transfer, in order.
        let todo: Vec<usize> = (0..ranges.len())
            .filter(|&k| slices[k].as_ref().is_some_and(|s| !s.is_empty()))
            .collect();
        let mut i = 0;
        while i < todo.len() {
            let end = (i + Self::IOV).min(todo.len());
            let chunk = &todo[i..end];
            let remote: Vec<RemoteIoVec> = chunk
                .iter()
                .map(|&k| RemoteIoVec {
                    base: ranges[k].0 as usize,
                    len: ranges[k].1,
                })
                .collect();
            // Indices in `chunk` are increasing, so each slice is borrowed once.
            let mut local: Vec<std::io::IoSliceMut<'_>> = Vec::with_capacity(chunk.len());
            let mut next = chunk.iter().copied().peekable();
            let (first, last) = (chunk[0], chunk[chunk.len() - 1]);
            for (k, s) in (first..=last).zip(slices[first..=last].iter_mut()) {
                if next.peek() == Some(&k) {
                    next.next();
                    local.push(std::io::IoSliceMut::new(
                        s.as_deref_mut()
                            .expect("todo holds only ranges with a slice"),
                    ));
                }
            }
            let got = process_vm_readv(self.pid(), &mut local, &remote);
            drop(local);
            let Ok(got) = got else {
                // The first range failed outright: skip it and go on.
                i += 1;
                continue;
            };
            // A partial transfer stops at the first range that failed.
            let mut left = got;
            let mut j = i;
            while j < end && left >= ranges[todo[j]].1 {
                left -= ranges[todo[j]].1;
                ok[todo[j]] = true;
                j += 1;
            }
            i = if j == end { end } else { j + 1 };
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_memory_reads_inside_regions_only() {
        let mut m = FakeMemory::new();
        m.map(0x1000, vec![1, 2, 3, 4]);
        let mut b = [0u8; 2];
        m.read(0x1001, &mut b).unwrap();
        assert_eq!(b, [2, 3]);
        assert!(m.read(0x1003, &mut b).is_err());
        assert!(m.read(0x10, &mut b).is_err());
        let mut out = [0u8; 4];
        assert_eq!(
            m.read_batch(&[(0x1000, 2), (0x2000, 2)], &mut out),
            vec![true, false]
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn live_batch_reads_own_memory_and_skips_holes() {
        let data: Vec<u8> = (0..100u8).collect();
        let mem = LiveMemory {
            pid: std::process::id(),
        };
        let a = data.as_ptr() as u64;
        let ranges = [(a, 10), (8, 4), (a + 50, 5)];
        let mut out = vec![0u8; 19];
        assert_eq!(mem.read_batch(&ranges, &mut out), vec![true, false, true]);
        assert_eq!(&out[..10], &data[..10]);
        assert_eq!(&out[14..], &data[50..55]);
    }

    /// Issue 7, item 4: lengths larger than the output buffer are refused, never written past
    /// it (the kernel used to get raw iovecs built from the requested lengths).
    #[cfg(target_os = "linux")]
    #[test]
    fn live_batch_never_writes_past_the_buffer() {
        let data: Vec<u8> = (0..200u8).collect();
        let mem = LiveMemory {
            pid: std::process::id(),
        };
        let a = data.as_ptr() as u64;
        let mut big = vec![0xeeu8; 300];
        let (out, guard) = big.split_at_mut(10);
        let ok = mem.read_batch(&[(a, 4), (a + 4, 100), (a, 6)], out);
        // The second range does not fit in what is left (6 bytes): not read; the third does.
        assert_eq!(ok, vec![true, false, true]);
        assert_eq!(&out[..4], &data[..4]);
        assert_eq!(&out[4..10], &data[..6]);
        assert!(
            guard.iter().all(|&b| b == 0xee),
            "bytes written past the buffer"
        );
        // The same through the trait's default and the fake.
        let mut f = FakeMemory::new();
        f.map(0x1000, data.clone());
        let mut small = [0u8; 3];
        assert_eq!(
            f.read_batch(&[(0x1000, 8), (0x1000, 3)], &mut small),
            vec![false, true]
        );
        // A range whose end overflows the address space is unreadable, not a panic.
        assert_eq!(
            f.read_batch(&[(u64::MAX - 1, 3)], &mut [0u8; 3]),
            vec![false]
        );
        assert!(f.read(u64::MAX, &mut [0u8; 2]).is_err());
    }
}

/// Remembers every successful read of an inner memory (while a target is stopped), then serves
/// later reads from what it saw, falling back to the inner memory for anything else.
pub struct RecordingMemory<'a> {
    inner: &'a dyn ProcessMemory,
    /// Start address → (shared buffer, offset, length).
    #[allow(clippy::type_complexity)]
    seen: std::cell::RefCell<BTreeMap<u64, (Rc<Vec<u8>>, usize, usize)>>,
    /// Serve recorded bytes first (replay) instead of recording.
    replay: std::cell::Cell<bool>,
    /// Buffers touched in advance (see [`RecordingMemory::prepare`]).
    pool: std::cell::RefCell<Vec<Vec<u8>>>,
    /// Batches read but not yet indexed in `seen`: indexing 100k ranges takes tens of
    /// milliseconds, so it waits until [`RecordingMemory::start_replay`] (after the target has
    /// been resumed).
    #[allow(clippy::type_complexity)]
    pending: std::cell::RefCell<Vec<(Rc<Vec<u8>>, Vec<(u64, usize)>, Vec<bool>)>>,
}

impl<'a> RecordingMemory<'a> {
    pub fn new(inner: &'a dyn ProcessMemory) -> Self {
        RecordingMemory {
            inner,
            seen: Default::default(),
            replay: std::cell::Cell::new(false),
            pool: Default::default(),
            pending: Default::default(),
        }
    }

    /// Allocates and touches buffers of these sizes now, so that reading into them later (while
    /// the target is stopped) costs no page faults.
    pub fn prepare(&self, sizes: &[usize]) {
        let mut pool = self.pool.borrow_mut();
        for &n in sizes {
            let mut v = vec![0u8; n];
            // Writing (not zeroing, which may be elided for fresh zeroed memory) faults the
            // pages in.
            v.fill(0xa5);
            std::hint::black_box(&mut v);
            pool.push(v);
        }
    }

    fn buffer(&self, n: usize) -> Vec<u8> {
        let mut pool = self.pool.borrow_mut();
        match pool.iter().position(|b| b.capacity() >= n) {
            Some(i) => {
                // Every byte is overwritten by the read (or the range is marked unread), so the
                // buffer is only cut to length, not cleared: clearing 25 MB would happen while
                // the target is stopped.
                let mut v = pool.swap_remove(i);
                if v.len() >= n {
                    v.truncate(n);
                } else {
                    v.resize(n, 0);
                }
                v
            }
            None => vec![0u8; n],
        }
    }

    /// From now on, answer from the recording where it covers the request.
    pub fn start_replay(&self) {
        self.index_pending();
        self.replay.set(true);
    }

    /// Adds bytes read earlier (elsewhere) for `[addr, addr + len)`, unless a read of this
    /// recording starts at `addr` already (those are newer).
    pub fn record_if_absent(&self, addr: u64, buf: Rc<Vec<u8>>, off: usize, len: usize) {
        self.index_pending();
        self.seen
            .borrow_mut()
            .entry(addr)
            .or_insert((buf, off, len));
    }

    /// Indexes the batches read since the last call. A later read of the same start address
    /// replaces an earlier one only when it is longer.
    fn index_pending(&self) {
        let mut seen = self.seen.borrow_mut();
        for (buf, ranges, ok) in self.pending.borrow_mut().drain(..) {
            let mut pos = 0;
            for (i, &(a, n)) in ranges.iter().enumerate() {
                if ok[i] && n > 0 && seen.get(&a).is_none_or(|v| v.2 < n) {
                    seen.insert(a, (buf.clone(), pos, n));
                }
                pos += n;
            }
        }
    }

    /// Bytes recorded.
    pub fn recorded_bytes(&self) -> usize {
        self.index_pending();
        self.seen.borrow().values().map(|v| v.2).sum()
    }

    fn lookup(&self, addr: u64, buf: &mut [u8]) -> bool {
        let seen = self.seen.borrow();
        if let Some((&base, (data, off, len))) = seen.range(..=addr).next_back() {
            let Ok(o) = usize::try_from(addr - base) else {
                return false;
            };
            if o.checked_add(buf.len()).is_none_or(|end| end > *len) {
                return false;
            }
            if let Some(src) = data.get(off + o..off + o + buf.len()) {
                buf.copy_from_slice(src);
                return true;
            }
        }
        false
    }
}

impl ProcessMemory for RecordingMemory<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Unmapped> {
        if self.replay.get() && self.lookup(addr, buf) {
            return Ok(());
        }
        self.inner.read(addr, buf)?;
        if !self.replay.get() {
            let n = buf.len();
            self.seen
                .borrow_mut()
                .insert(addr, (Rc::new(buf.to_vec()), 0, n));
        }
        Ok(())
    }

    fn read_batch(&self, ranges: &[(u64, usize)], out: &mut [u8]) -> Vec<bool> {
        if self.replay.get() {
            return split_out(ranges, out)
                .into_iter()
                .zip(ranges)
                .map(|(b, &(a, _))| {
                    b.is_some_and(|b| self.lookup(a, b) || self.inner.read(a, b).is_ok())
                })
                .collect();
        }
        let (buf, mut ok) = self.read_blocks(ranges);
        let mut pos = 0;
        for (i, b) in split_out(ranges, out).into_iter().enumerate() {
            let n = ranges[i].1;
            match b {
                Some(b) => b.copy_from_slice(&buf[pos..pos + n]),
                None => ok[i] = false,
            }
            pos += n;
        }
        ok
    }

    fn read_blocks(&self, ranges: &[(u64, usize)]) -> (Rc<Vec<u8>>, Vec<bool>) {
        if self.replay.get() {
            let mut buf = vec![0u8; ranges.iter().map(|r| r.1).sum()];
            let ok = self.read_batch(ranges, &mut buf);
            return (Rc::new(buf), ok);
        }
        let mut buf = self.buffer(ranges.iter().map(|r| r.1).sum());
        let ok = self.inner.read_batch(ranges, &mut buf);
        let buf = Rc::new(buf);
        self.pending
            .borrow_mut()
            .push((buf.clone(), ranges.to_vec(), ok.clone()));
        (buf, ok)
    }
}

/// Like [`ProcessMemory::read_batch`], but ranges closer than `gap` bytes are merged into one
/// read first (a process's `g`s sit next to each other in heap spans: 100k goroutines become a
/// few thousand reads instead of 100k). A merged block that fails is retried range by range.
pub fn read_coalesced(
    mem: &dyn ProcessMemory,
    ranges: &[(u64, usize)],
    out: &mut [u8],
    gap: u64,
) -> Vec<bool> {
    let mut slices = split_out(ranges, out);
    let mut ok = vec![false; ranges.len()];
    visit_coalesced(mem, ranges, gap, |i, bytes| {
        if let Some(dst) = slices[i].as_deref_mut() {
            dst.copy_from_slice(bytes);
            ok[i] = true;
        }
    });
    ok
}

/// Reads ranges like [`read_coalesced`] and hands each range that was read to `f(index,
/// bytes)` straight from the merged blocks (no second copy, no output buffer).
pub fn visit_coalesced(
    mem: &dyn ProcessMemory,
    ranges: &[(u64, usize)],
    gap: u64,
    mut f: impl FnMut(usize, &[u8]),
) {
    // Ranges whose end overflows the address space can never be read.
    let mut order: Vec<usize> = (0..ranges.len())
        .filter(|&i| ranges[i].1 > 0 && ranges[i].0.checked_add(ranges[i].1 as u64).is_some())
        .collect();
    order.sort_unstable_by_key(|&i| ranges[i].0);
    // Blocks: (start, end, members).
    let mut blocks: Vec<(u64, u64, Vec<usize>)> = Vec::new();
    for i in order {
        let (a, n) = ranges[i];
        let end = a.saturating_add(n as u64);
        match blocks.last_mut() {
            Some(b) if a <= b.1.saturating_add(gap) && end.saturating_sub(b.0) <= 1 << 20 => {
                b.1 = b.1.max(end);
                b.2.push(i);
            }
            _ => blocks.push((a, end, vec![i])),
        }
    }
    let breqs: Vec<(u64, usize)> = blocks.iter().map(|b| (b.0, (b.1 - b.0) as usize)).collect();
    let (bbuf, bok) = mem.read_blocks(&breqs);
    for (i, r) in ranges.iter().enumerate() {
        if r.1 == 0 {
            f(i, &[]);
        }
    }
    let mut bpos = 0;
    let mut retry = Vec::new();
    for (k, b) in blocks.iter().enumerate() {
        if bok[k] {
            for &i in &b.2 {
                let (a, n) = ranges[i];
                let o = bpos + (a - b.0) as usize;
                if let Some(bytes) = bbuf.get(o..o + n) {
                    f(i, bytes);
                }
            }
        } else {
            retry.extend(b.2.iter().copied());
        }
        bpos += breqs[k].1;
    }
    if !retry.is_empty() {
        let rreqs: Vec<(u64, usize)> = retry.iter().map(|&i| ranges[i]).collect();
        // Only what the memory says is there is allocated (cores and fakes know their
        // extent): overlapping ranges of a hostile image cannot multiply an allocation.
        let rreqs: Vec<(u64, usize)> = rreqs
            .into_iter()
            .map(|(a, n)| (a, mem.readable_len(a, n)))
            .collect();
        let mut rbuf = vec![0u8; rreqs.iter().map(|r| r.1).sum()];
        let rok = mem.read_batch(&rreqs, &mut rbuf);
        let mut p = 0;
        for (j, &i) in retry.iter().enumerate() {
            let n = rreqs[j].1;
            if rok[j] && n == ranges[i].1 {
                f(i, &rbuf[p..p + n]);
            }
            p += n;
        }
    }
}

#[cfg(test)]
mod coalesce_tests {
    use super::*;

    #[test]
    fn coalesced_reads_equal_plain_reads_and_survive_holes() {
        let mut m = FakeMemory::new();
        m.map(0x1000, (0..=255u8).cycle().take(4096).collect());
        m.map(0x3000, vec![7; 64]);
        let ranges = [
            (0x1010, 8),
            (0x1000, 4),
            (0x1800, 16),
            (0x2ff8, 16),
            (0x3008, 8),
            (0, 0),
        ];
        let mut a = vec![0u8; 52];
        let mut b = vec![0u8; 52];
        let oka = m.read_batch(&ranges, &mut a);
        let okb = read_coalesced(&m, &ranges, &mut b, 4096);
        assert_eq!(oka, okb);
        assert_eq!(okb, vec![true, true, true, false, true, true]);
        // Ranges that failed are left zeroed in both.
        assert_eq!(a, b);
    }
}
