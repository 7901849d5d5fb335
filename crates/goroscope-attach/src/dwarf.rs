//! Struct layouts and constants of the runtime from DWARF (`gimli`), for unstripped binaries and
//! for generating the per-release tables.

use crate::error::AttachError;
use object::{Object, ObjectSection};
use std::borrow::Cow;
use std::collections::HashMap;

/// What DWARF told us: `struct name -> (size, member -> offset)` and `constant -> value`.
#[derive(Debug, Default)]
pub struct DwarfFacts {
    pub structs: HashMap<String, (u64, HashMap<String, u64>)>,
    pub constants: HashMap<String, i64>,
}

const WANTED: &[&str] = &[
    "runtime.g",
    "runtime.gobuf",
    "runtime.m",
    "runtime.moduledata",
    "runtime.stack",
    "runtime.sudog",
    "runtime.hchan",
    "runtime.waitq",
    "runtime.semaRoot",
    "runtime.notifyList",
    "runtime.maybeTraceablePtr",
    "runtime.mheap",
    "runtime.heapArena",
    "runtime.mspan",
    "sync.Mutex",
    "internal/sync.Mutex",
    "sync.RWMutex",
    "sync.WaitGroup",
    "sync.Cond",
];

/// Compile units holding the structs of [`WANTED`].
const UNITS: &[&[u8]] = &[b"runtime", b"sync", b"internal/sync"];

impl DwarfFacts {
    /// Offset of `field` in `strukt`.
    pub fn member(&self, strukt: &str, field: &str) -> Option<u64> {
        self.structs.get(strukt)?.1.get(field).copied()
    }

    pub fn size(&self, strukt: &str) -> Option<u64> {
        self.structs.get(strukt).map(|s| s.0)
    }
}

/// Reads the runtime's structs and `runtime.*` constants. `Ok(None)` when there is no DWARF.
pub fn read(file: &object::File<'_>) -> Result<Option<DwarfFacts>, AttachError> {
    if file.section_by_name(".debug_info").is_none() {
        return Ok(None);
    }
    let load = |id: gimli::SectionId| -> Result<Cow<'_, [u8]>, gimli::Error> {
        Ok(match file.section_by_name(id.name()) {
            Some(s) => s.uncompressed_data().unwrap_or(Cow::Borrowed(&[])),
            None => Cow::Borrowed(&[]),
        })
    };
    let dwarf_cow = gimli::DwarfSections::load(load).map_err(dwarf_err)?;
    let dwarf = dwarf_cow.borrow(|s| gimli::EndianSlice::new(s, gimli::LittleEndian));
    let mut facts = DwarfFacts::default();
    let mut units = dwarf.units();
    while let Some(header) = units.next().map_err(dwarf_err)? {
        let unit = dwarf.unit(header).map_err(dwarf_err)?;
        // Go emits one compile unit per package: only `runtime` holds what we need.
        let wanted = unit
            .name
            .map(|n| UNITS.contains(&n.slice()))
            .unwrap_or(true);
        if !wanted {
            continue;
        }
        let mut entries = unit.entries();
        // Depth-first walk; remember the struct we are inside.
        let mut current: Option<(isize, String)> = None;
        let mut depth: isize = 0;
        while let Some((delta, entry)) = entries.next_dfs().map_err(dwarf_err)? {
            depth += delta;
            if let Some((d, _)) = &current {
                if depth <= *d {
                    current = None;
                }
            }
            let name = || -> Option<String> {
                let attr = entry.attr_value(gimli::DW_AT_name).ok()??;
                let s = dwarf.attr_string(&unit, attr).ok()?;
                Some(s.to_string_lossy().into_owned())
            };
            match entry.tag() {
                gimli::DW_TAG_structure_type => {
                    let Some(n) = name() else { continue };
                    if WANTED.contains(&n.as_str()) && !facts.structs.contains_key(&n) {
                        let size = entry
                            .attr_value(gimli::DW_AT_byte_size)
                            .ok()
                            .flatten()
                            .and_then(|v| v.udata_value())
                            .unwrap_or(0);
                        facts.structs.insert(n.clone(), (size, HashMap::new()));
                        current = Some((depth, n));
                    }
                }
                gimli::DW_TAG_member => {
                    if let Some((_, s)) = &current {
                        let (Some(n), Some(off)) = (
                            name(),
                            entry
                                .attr_value(gimli::DW_AT_data_member_location)
                                .ok()
                                .flatten()
                                .and_then(|v| v.udata_value()),
                        ) else {
                            continue;
                        };
                        if let Some(st) = facts.structs.get_mut(s) {
                            st.1.insert(n, off);
                        }
                    }
                }
                gimli::DW_TAG_constant => {
                    let Some(n) = name() else { continue };
                    if !n.starts_with("runtime.") {
                        continue;
                    }
                    if let Some(v) = entry
                        .attr_value(gimli::DW_AT_const_value)
                        .ok()
                        .flatten()
                        .and_then(|v| v.sdata_value().or(v.udata_value().map(|u| u as i64)))
                    {
                        facts.constants.insert(n, v);
                    }
                }
                _ => {}
            }
        }
    }
    Ok(Some(facts))
}

fn dwarf_err(e: gimli::Error) -> AttachError {
    AttachError::bad_binary(format!("DWARF: {e}"))
}

/// Builds a layout from DWARF facts. Wait reasons and `FuncIDWrapper` are not in DWARF: they
/// come from `base` (the table of the same or nearest release).
pub fn layout_from(
    facts: &DwarfFacts,
    minor: u32,
    base: Option<&crate::layout::Layout>,
) -> Result<crate::layout::Layout, AttachError> {
    let m = |s: &str, f: &str| {
        facts.member(s, f).ok_or_else(|| {
            AttachError::bad_binary(format!("DWARF has no member {f} in struct {s}"))
        })
    };
    let g = "runtime.g";
    Ok(crate::layout::Layout {
        minor,
        g_size: facts
            .size(g)
            .ok_or_else(|| AttachError::bad_binary("DWARF has no struct runtime.g"))?,
        g_stack: m(g, "stack")? + m("runtime.stack", "lo")?,
        g_m: m(g, "m")?,
        g_sched: m(g, "sched")?,
        g_syscallsp: m(g, "syscallsp")?,
        g_syscallpc: m(g, "syscallpc")?,
        g_atomicstatus: m(g, "atomicstatus")?,
        g_goid: m(g, "goid")?,
        g_waitsince: m(g, "waitsince")?,
        g_waitreason: m(g, "waitreason")?,
        g_lockedm: m(g, "lockedm")?,
        g_parent_goid: m(g, "parentGoid")?,
        g_gopc: m(g, "gopc")?,
        g_startpc: m(g, "startpc")?,
        g_labels: m(g, "labels")?,
        gobuf_sp: m("runtime.gobuf", "sp")?,
        gobuf_pc: m("runtime.gobuf", "pc")?,
        gobuf_bp: m("runtime.gobuf", "bp")?,
        m_procid: m("runtime.m", "procid")?,
        m_curg: m("runtime.m", "curg")?,
        moduledata_gofunc: m("runtime.moduledata", "gofunc")?,
        funcid_wrapper: base.map(|b| b.funcid_wrapper).unwrap_or(0),
        wait_reasons: match base {
            Some(b) if b.minor == minor => b.wait_reasons.clone(),
            // A release without a table: number the reasons with this binary's own DWARF
            // constants, named through the texts every known release uses for them.
            _ => wait_reasons_from_constants(facts)
                .or_else(|| base.map(|b| b.wait_reasons.clone()))
                .unwrap_or_default(),
        },
        wait_reason_names: match base {
            Some(b) if b.minor == minor => b.wait_reason_names.clone(),
            _ => Vec::new(),
        },
        mem: mem_layout_from(facts, base.and_then(|b| b.mem.as_ref())),
    })
}

/// The wait-object layout from DWARF; `None` when a runtime struct or member is missing (a
/// release that reshaped them: the snapshot then goes without memory facts rather than
/// misreading). The linker keeps only the types a program uses: a `sync` type (or the
/// runtime's `notifyList`, used only by `sync.Cond`) absent from DWARF is one nothing can wait
/// on, and its offsets come from `base` (the release's table) or the values every release from
/// Go 1.21 to 1.27 has.
pub fn mem_layout_from(
    facts: &DwarfFacts,
    base: Option<&crate::layout::MemLayout>,
) -> Option<crate::layout::MemLayout> {
    let m = |s: &str, f: &str| facts.member(s, f);
    let or = |v: Option<u64>, pick: fn(&crate::layout::MemLayout) -> u64, dflt: u64| {
        v.or(base.map(pick)).unwrap_or(dflt)
    };
    // Go 1.26+: `sudog.elem`/`c` are `maybeTraceablePtr`s whose `vu` word is the truth.
    let traceable = m("runtime.maybeTraceablePtr", "vu").unwrap_or(0);
    let (sudog, hchan) = ("runtime.sudog", "runtime.hchan");
    let first = m("runtime.waitq", "first").unwrap_or(0);
    // `sync.Mutex` wraps `internal/sync.Mutex` (field `mu`) from Go 1.24.
    let mutex_sema = match m("sync.Mutex", "mu") {
        Some(mu) => m("internal/sync.Mutex", "sema").map(|s| mu + s),
        None => m("sync.Mutex", "sema"),
    };
    Some(crate::layout::MemLayout {
        g_waiting: m("runtime.g", "waiting")?,
        sudog_size: facts.size(sudog)?,
        sudog_g: m(sudog, "g")?,
        sudog_next: m(sudog, "next")?,
        sudog_prev: m(sudog, "prev")?,
        sudog_elem: m(sudog, "elem")? + traceable,
        sudog_is_select: m(sudog, "isSelect")?,
        sudog_waitlink: m(sudog, "waitlink")?,
        sudog_c: m(sudog, "c")? + traceable,
        hchan_qcount: m(hchan, "qcount")?,
        hchan_dataqsiz: m(hchan, "dataqsiz")?,
        hchan_closed: m(hchan, "closed")?,
        hchan_timer: m(hchan, "timer").unwrap_or(0),
        hchan_recvq: m(hchan, "recvq")? + first,
        hchan_sendq: m(hchan, "sendq")? + first,
        semaroot_treap: m("runtime.semaRoot", "treap")?,
        semaroot_size: facts.size("runtime.semaRoot")?,
        notifylist_head: or(m("runtime.notifyList", "head"), |b| b.notifylist_head, 16),
        mutex_sema: or(mutex_sema, |b| b.mutex_sema, 4),
        rwmutex_writer_sem: or(m("sync.RWMutex", "writerSem"), |b| b.rwmutex_writer_sem, 8),
        rwmutex_reader_sem: or(m("sync.RWMutex", "readerSem"), |b| b.rwmutex_reader_sem, 12),
        waitgroup_sema: or(m("sync.WaitGroup", "sema"), |b| b.waitgroup_sema, 8),
        cond_notify: or(m("sync.Cond", "notify"), |b| b.cond_notify, 16),
        mheap_arenas: m("runtime.mheap", "arenas")?,
        heaparena_spans: m("runtime.heapArena", "spans")?,
        mspan_startaddr: m("runtime.mspan", "startAddr")?,
        mspan_elemsize: m("runtime.mspan", "elemsize")?,
    })
}
/// `waitReasonStrings` rebuilt from `runtime.waitReason*` DWARF constants.
fn wait_reasons_from_constants(facts: &DwarfFacts) -> Option<Vec<String>> {
    let mut v: Vec<String> = Vec::new();
    for (name, &n) in &facts.constants {
        let Some(short) = name.strip_prefix("runtime.waitReason") else {
            continue;
        };
        if !(0..256).contains(&n) {
            continue;
        }
        let n = n as usize;
        if v.len() <= n {
            v.resize(n + 1, String::new());
        }
        let full = format!("waitReason{short}");
        v[n] = crate::layout::wait_reason_text(&full)
            .map(str::to_string)
            .unwrap_or(full);
    }
    (!v.is_empty()).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn future_release_wait_reasons_come_from_its_own_constants() {
        let mut f = DwarfFacts::default();
        for (n, v) in [
            ("runtime.waitReasonChanReceive", 19),
            ("runtime.waitReasonSelect", 40),
            ("runtime.waitReasonBrandNewThing", 47),
            ("runtime._Gwaiting", 4),
        ] {
            f.constants.insert(n.to_string(), v);
        }
        let v = wait_reasons_from_constants(&f).unwrap();
        assert_eq!(v.len(), 48);
        assert_eq!(v[19], "chan receive");
        assert_eq!(v[40], "select");
        // Unknown to every table: kept by name (a WaitReason::Other in the model).
        assert_eq!(v[47], "waitReasonBrandNewThing");
        assert_eq!(v[4], "");
    }
}
