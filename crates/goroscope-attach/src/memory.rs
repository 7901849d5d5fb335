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

/// Read access to a target's address space.
pub trait ProcessMemory {
    /// Fills `buf` from `addr`, all or nothing.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Unmapped>;

    /// Reads many ranges into consecutive slices of `out` (`out.len()` = sum of lengths);
    /// returns, per range, whether it was read whole. Live processes batch these into few
    /// system calls.
    fn read_batch(&self, ranges: &[(u64, usize)], out: &mut [u8]) -> Vec<bool> {
        let mut pos = 0;
        ranges
            .iter()
            .map(|&(a, n)| {
                let ok = self.read(a, &mut out[pos..pos + n]).is_ok();
                pos += n;
                ok
            })
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
        data[o..o + bytes.len()].copy_from_slice(bytes);
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
        let o = (addr - base) as usize;
        let src = data.get(o..o + buf.len()).ok_or(err)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// A live process, read with `process_vm_readv` (batched iovecs).
#[cfg(target_os = "linux")]
pub struct LiveMemory {
    pub pid: u32,
}

#[cfg(target_os = "linux")]
impl LiveMemory {
    /// `IOV_MAX` on Linux.
    const IOV: usize = 1024;

    fn readv(&self, local: &[libc::iovec], remote: &[libc::iovec]) -> isize {
        // SAFETY: the local iovecs point into buffers we own for the duration of the call;
        // remote iovecs are only read by the kernel on the target's side.
        unsafe {
            libc::process_vm_readv(
                self.pid as libc::pid_t,
                local.as_ptr(),
                local.len() as libc::c_ulong,
                remote.as_ptr(),
                remote.len() as libc::c_ulong,
                0,
            )
        }
    }
}

#[cfg(target_os = "linux")]
impl ProcessMemory for LiveMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Unmapped> {
        if buf.is_empty() {
            return Ok(());
        }
        let local = [libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        }];
        let remote = [libc::iovec {
            iov_base: addr as *mut libc::c_void,
            iov_len: buf.len(),
        }];
        if self.readv(&local, &remote) == buf.len() as isize {
            Ok(())
        } else {
            Err(Unmapped {
                addr,
                len: buf.len(),
            })
        }
    }

    fn read_batch(&self, ranges: &[(u64, usize)], out: &mut [u8]) -> Vec<bool> {
        let mut ok = vec![false; ranges.len()];
        let mut offsets = Vec::with_capacity(ranges.len());
        let mut pos = 0;
        for &(_, n) in ranges {
            offsets.push(pos);
            pos += n;
        }
        let mut i = 0;
        while i < ranges.len() {
            let end = (i + Self::IOV).min(ranges.len());
            let base = out.as_mut_ptr();
            let local: Vec<libc::iovec> = (i..end)
                .map(|k| libc::iovec {
                    // SAFETY: offsets[k] + len <= out.len() by construction.
                    iov_base: unsafe { base.add(offsets[k]) }.cast(),
                    iov_len: ranges[k].1,
                })
                .collect();
            let remote: Vec<libc::iovec> = (i..end)
                .map(|k| libc::iovec {
                    iov_base: ranges[k].0 as *mut libc::c_void,
                    iov_len: ranges[k].1,
                })
                .collect();
            let got = self.readv(&local, &remote);
            if got < 0 {
                // The first range failed outright: skip it and go on.
                i += 1;
                continue;
            }
            // A partial transfer stops at the first range that failed.
            let mut left = got as usize;
            let mut k = i;
            while k < end && left >= ranges[k].1 {
                left -= ranges[k].1;
                ok[k] = true;
                k += 1;
            }
            i = if k == end { end } else { k + 1 };
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
            let o = (addr - base) as usize;
            if o + buf.len() > *len {
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
            let mut pos = 0;
            return ranges
                .iter()
                .map(|&(a, n)| {
                    let b = &mut out[pos..pos + n];
                    pos += n;
                    self.lookup(a, b) || self.inner.read(a, b).is_ok()
                })
                .collect();
        }
        let (buf, ok) = self.read_blocks(ranges);
        out.copy_from_slice(&buf);
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
    let mut offsets = Vec::with_capacity(ranges.len());
    let mut pos = 0;
    for &(_, n) in ranges {
        offsets.push(pos);
        pos += n;
    }
    let mut ok = vec![false; ranges.len()];
    visit_coalesced(mem, ranges, gap, |i, bytes| {
        out[offsets[i]..offsets[i] + bytes.len()].copy_from_slice(bytes);
        ok[i] = true;
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
    let mut order: Vec<usize> = (0..ranges.len()).filter(|&i| ranges[i].1 > 0).collect();
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
                f(i, &bbuf[o..o + n]);
            }
        } else {
            retry.extend(b.2.iter().copied());
        }
        bpos += breqs[k].1;
    }
    if !retry.is_empty() {
        let rreqs: Vec<(u64, usize)> = retry.iter().map(|&i| ranges[i]).collect();
        let mut rbuf = vec![0u8; rreqs.iter().map(|r| r.1).sum()];
        let rok = mem.read_batch(&rreqs, &mut rbuf);
        let mut p = 0;
        for (j, &i) in retry.iter().enumerate() {
            let n = ranges[i].1;
            if rok[j] {
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
