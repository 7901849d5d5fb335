//! pprof labels behind `g.labels`: a `map[string]string` before Go 1.24, a slice of
//! `{key, value string}` pairs from 1.24 on.

use crate::memory::ProcessMemory;

const MAX_LABELS: u64 = 1024;
const MAX_STR: u64 = 64 * 1024;

fn read_string(mem: &dyn ProcessMemory, hdr: &[u8]) -> Result<String, String> {
    let ptr = u64::from_le_bytes(hdr[0..8].try_into().unwrap());
    let len = u64::from_le_bytes(hdr[8..16].try_into().unwrap());
    if len == 0 {
        return Ok(String::new());
    }
    if len > MAX_STR {
        return Err(format!("label string of {len} bytes"));
    }
    let mut b = vec![0u8; len as usize];
    mem.read(ptr, &mut b)
        .map_err(|_| format!("string at {ptr:#x} unmapped"))?;
    Ok(String::from_utf8_lossy(&b).into_owned())
}

/// Go 1.24+: `*labelMap` → `{list []Label}` with `Label{Key, Value string}`.
pub fn read_slice(mem: &dyn ProcessMemory, p: u64) -> Result<Vec<(String, String)>, String> {
    let mut h = [0u8; 24];
    mem.read(p, &mut h)
        .map_err(|_| format!("labelMap at {p:#x} unmapped"))?;
    let ptr = u64::from_le_bytes(h[0..8].try_into().unwrap());
    let len = u64::from_le_bytes(h[8..16].try_into().unwrap());
    if len > MAX_LABELS {
        return Err(format!("{len} labels"));
    }
    let mut b = vec![0u8; len as usize * 32];
    mem.read(ptr, &mut b)
        .map_err(|_| format!("label list at {ptr:#x} unmapped"))?;
    b.chunks_exact(32)
        .map(|c| Ok((read_string(mem, &c[..16])?, read_string(mem, &c[16..])?)))
        .collect()
}

/// Go 1.21–1.23: `*labelMap` = `map[string]string` (classic `hmap` with 8-slot buckets of
/// `tophash[8], keys[8]string, elems[8]string, overflow`).
pub fn read_map(mem: &dyn ProcessMemory, p: u64) -> Result<Vec<(String, String)>, String> {
    // labelMap is a named map type: the g field points at a variable holding the *hmap.
    let hmap = mem
        .read_u64(p)
        .map_err(|_| format!("labelMap at {p:#x} unmapped"))?;
    if hmap == 0 {
        return Ok(Vec::new());
    }
    let mut h = [0u8; 48];
    mem.read(hmap, &mut h)
        .map_err(|_| format!("hmap at {hmap:#x} unmapped"))?;
    let count = u64::from_le_bytes(h[0..8].try_into().unwrap());
    let b = h[9] as u32;
    let buckets = u64::from_le_bytes(h[16..24].try_into().unwrap());
    if count > MAX_LABELS || b > 10 {
        return Err(format!("implausible label map (count {count}, B {b})"));
    }
    const BUCKET: usize = 8 + 8 * 16 + 8 * 16 + 8;
    let mut out = Vec::new();
    let mut visited = 0;
    for i in 0..(1u64 << b) {
        let mut addr = buckets.wrapping_add(i * BUCKET as u64);
        while addr != 0 {
            visited += 1;
            if visited > 4096 {
                return Err("label map bucket chain too long".into());
            }
            let mut bk = [0u8; BUCKET];
            mem.read(addr, &mut bk)
                .map_err(|_| format!("map bucket at {addr:#x} unmapped"))?;
            for slot in 0..8 {
                // tophash < minTopHash (5): empty or evacuated.
                if bk[slot] < 5 {
                    continue;
                }
                let k = 8 + slot * 16;
                let v = 8 + 128 + slot * 16;
                out.push((
                    read_string(mem, &bk[k..k + 16])?,
                    read_string(mem, &bk[v..v + 16])?,
                ));
            }
            addr = u64::from_le_bytes(bk[BUCKET - 8..].try_into().unwrap());
        }
    }
    Ok(out)
}
