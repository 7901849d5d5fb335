//! Finding runtime globals in a binary without symbols: `runtime.allgs` (scan `.bss` of the
//! target for a slice header `{ptr, len, cap}` whose first element is a `g` with `goid == 1`
//! and a sane stack), `runtime.semtable` (the `.bss` address both `semacquire1` and
//! `semrelease1`, found by name in `.gopclntab`, load with a RIP-relative `lea`) and
//! `runtime.mheap_.arenas` (the word `findObject` loads with a RIP-relative `mov`).

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

/// RIP-relative `lea` targets (`REX.W 8D /r` with `mod = 00, rm = 101`) in a function's code,
/// by count.
fn lea_targets(code: &[u8], at: u64) -> std::collections::BTreeMap<u64, u32> {
    rip_targets(code, at, 0x8d)
}

/// RIP-relative operands of 64-bit instructions with opcode `opcode` (`REX.W op /r`, `mod =
/// 00, rm = 101`): `8D` is `lea`, `8B` a load.
fn rip_targets(code: &[u8], at: u64, opcode: u8) -> std::collections::BTreeMap<u64, u32> {
    let mut out = std::collections::BTreeMap::new();
    for i in 0..code.len().saturating_sub(6) {
        let (rex, op, modrm) = (code[i], code[i + 1], code[i + 2]);
        if rex & 0xf8 != 0x48 || op != opcode || modrm & 0xc7 != 0x05 {
            continue;
        }
        let disp = i32::from_le_bytes(code[i + 3..i + 7].try_into().expect("4 bytes"));
        let next = at.wrapping_add(i as u64 + 7);
        *out.entry(next.wrapping_add(disp as i64 as u64))
            .or_insert(0) += 1;
    }
    out
}

/// `runtime.semtable` of a binary without symbols: the `.bss` address that both
/// `runtime.semacquire1` and `runtime.semrelease1` load with a RIP-relative `lea` (each takes
/// `&semtable` to find a semaphore's root), the most used one when several are shared.
pub fn find_semtable(bin: &GoBinary) -> Option<u64> {
    let in_bss = |a: u64| bin.bss.iter().any(|&(lo, hi)| a >= lo && a < hi);
    let mut common: Option<std::collections::BTreeMap<u64, u32>> = None;
    for name in ["runtime.semacquire1", "runtime.semrelease1"] {
        let f = bin.pclntab.find_by_name(name)?;
        let len = usize::try_from(f.end.checked_sub(f.entry)?)
            .ok()?
            .min(64 << 10);
        let code = bin.read_static(f.entry, len)?;
        let t: std::collections::BTreeMap<u64, u32> = lea_targets(code, f.entry)
            .into_iter()
            .filter(|(a, _)| in_bss(*a))
            .collect();
        common = Some(match common {
            None => t,
            Some(c) => c
                .into_iter()
                .filter_map(|(a, n)| t.get(&a).map(|m| (a, n + m)))
                .collect(),
        });
    }
    let c = common?;
    let best = c.values().copied().max()?;
    let mut top = c.iter().filter(|(_, &n)| n == best);
    let (&a, _) = top.next()?;
    // Two addresses used equally often: not sure which, so neither.
    top.next().is_none().then_some(a)
}

/// `&runtime.mheap_.arenas` of a binary without symbols: the `.bss` word `runtime.findObject`
/// loads with a RIP-relative `mov` to find a pointer's span (`spanOf`), the most used one.
pub fn find_mheap_arenas(bin: &GoBinary) -> Option<u64> {
    let f = bin.pclntab.find_by_name("runtime.findObject")?;
    let len = usize::try_from(f.end.checked_sub(f.entry)?)
        .ok()?
        .min(64 << 10);
    let code = bin.read_static(f.entry, len)?;
    let in_bss = |a: u64| bin.bss.iter().any(|&(lo, hi)| a >= lo && a < hi);
    let t: Vec<(u64, u32)> = rip_targets(code, f.entry, 0x8b)
        .into_iter()
        .filter(|(a, _)| in_bss(*a) && a % 8 == 0)
        .collect();
    let best = t.iter().map(|x| x.1).max()?;
    let mut top = t.iter().filter(|x| x.1 == best);
    let first = top.next()?.0;
    top.next().is_none().then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rip_relative_leas() {
        // lea 0x10(%rip),%rax ; nop ; lea 0x10(%rip),%rdx (REX.W+R) ; a non-matching mov
        let code = [
            0x48, 0x8d, 0x05, 0x10, 0, 0, 0, 0x90, 0x4c, 0x8d, 0x15, 0x09, 0, 0, 0, 0x48, 0x8b,
            0x05, 1, 0, 0, 0,
        ];
        let t = lea_targets(&code, 0x1000);
        assert_eq!(
            t.into_iter().collect::<Vec<_>>(),
            vec![(0x1000 + 7 + 0x10, 1), (0x1000 + 15 + 0x9, 1)]
        );
    }
}
