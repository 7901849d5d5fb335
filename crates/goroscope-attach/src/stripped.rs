//! Finding `runtime.allgs` in a binary without symbols: scan `.bss` of the target for a slice
//! header `{ptr, len, cap}` whose first element is a `g` with `goid == 1` and a sane stack.

use crate::binary::GoBinary;
use crate::error::AttachError;
use crate::memory::ProcessMemory;

/// Returns `(address of allgs, address of a word holding its length)`. Without symbols the
/// slice's own `len` field is used (read right after the pointer) instead of `allglen`.
pub fn find_allgs(
    bin: &GoBinary,
    mem: &dyn ProcessMemory,
    bias: u64,
) -> Result<(u64, u64), AttachError> {
    let l = &bin.layout;
    let mut found = Vec::new();
    for &(lo, hi) in &bin.bss {
        let n = mem.readable_len(
            lo.wrapping_add(bias),
            hi.saturating_sub(lo).min(64 << 20) as usize,
        );
        let lo = lo.wrapping_add(bias);
        let mut data = vec![0u8; n];
        if mem.read(lo, &mut data).is_err() {
            continue;
        }
        let w = |o: usize| u64::from_le_bytes(data[o..o + 8].try_into().unwrap());
        let mut o = 0;
        while o + 24 <= n {
            let (ptr, len, cap) = (w(o), w(o + 8), w(o + 16));
            if ptr != 0 && ptr % 8 == 0 && len > 0 && len <= cap && cap < 1 << 28 {
                if let Ok(g0) = mem.read_u64(ptr) {
                    let mut gb = vec![0u8; l.g_size as usize];
                    if g0 != 0 && mem.read(g0, &mut gb).is_ok() {
                        let rd = |off: u64| {
                            u64::from_le_bytes(
                                gb[off as usize..off as usize + 8].try_into().unwrap(),
                            )
                        };
                        let (slo, shi) = (rd(l.g_stack), rd(l.g_stack + 8));
                        let size = shi.wrapping_sub(slo);
                        if rd(l.g_goid) == 1 && shi > slo && size.is_power_of_two() && size >= 2048
                        {
                            found.push((lo.wrapping_add(o as u64), g0, len));
                        }
                    }
                }
            }
            o += 8;
        }
    }
    // The GC keeps a copy of the slice while it marks (`work.stackRoots = allGsSnapshot()`):
    // the same array, a prefix of it at most. Slices whose first `g` is the same are views of
    // one list, and `allgs` itself (append-only) is the longest.
    if found.len() > 1 && found.iter().all(|f| f.1 == found[0].1) {
        found.sort_by_key(|f| std::cmp::Reverse(f.2));
        found.truncate(1);
    }
    let found: Vec<u64> = found.into_iter().map(|f| f.0).collect();
    match found.as_slice() {
        [one] => Ok((*one, one.wrapping_add(8))),
        [] => Err(AttachError::bad_memory(format!(
            "{}: no symbols and no slice in .bss looks like runtime.allgs (layout {})",
            bin.path, bin.layout_source
        ))),
        many => Err(AttachError::bad_memory(format!(
            "{}: no symbols and {} candidates for runtime.allgs in .bss",
            bin.path,
            many.len()
        ))),
    }
}
