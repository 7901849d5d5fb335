//! Everything static about a Go executable: its Go version (buildinfo), function table
//! (`.gopclntab`), runtime layout (DWARF or table), and where `runtime.allgs` lives.

use crate::dwarf;
use crate::error::AttachError;
use crate::layout::{self, Layout};
use crate::pclntab::Pclntab;
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol};
use std::path::Path;

/// A loaded Go executable.
pub struct GoBinary {
    pub path: String,
    /// `go1.27.3` as recorded in buildinfo.
    pub go_version: String,
    pub minor: u32,
    pub layout: Layout,
    /// Where the layout came from: `"DWARF"` or `"table go1.N"`.
    pub layout_source: String,
    pub pclntab: Pclntab,
    /// `runtime.allgs` and `runtime.allglen` (link-time addresses), when symbols are present.
    pub allgs: Option<u64>,
    pub allglen: Option<u64>,
    /// `runtime.semtable` (link-time), from the symbol table or, stripped, from the code that
    /// addresses it ([`crate::stripped::find_semtable`]).
    pub semtable: Option<u64>,
    /// `&runtime.mheap_.arenas` (link-time), to find the heap object a pointer is in: from the
    /// symbol `runtime.mheap_` and the layout, or, stripped, from the code of `findObject`.
    pub mheap_arenas: Option<u64>,
    /// `moduledata.gofunc`: base of funcdata offsets.
    pub gofunc: u64,
    /// `[start, end)` of `.bss` and `.noptrbss` (for finding allgs in stripped binaries).
    pub bss: Vec<(u64, u64)>,
    /// PT_LOAD segments: `(vaddr, file bytes)`, to serve read-only data without the target.
    segments: Vec<(u64, Vec<u8>)>,
    /// PT_LOAD segments: `(vaddr, file offset, file size)`, for [`GoBinary::file_offset`].
    file_ranges: Vec<(u64, u64, u64)>,
    /// Notes for the snapshot (e.g. a layout borrowed from a neighbouring release).
    pub notes: Vec<String>,
    /// ELF type is `ET_DYN` (PIE): addresses need the load bias.
    pub pie: bool,
    /// Lowest PT_LOAD address (the link-time base the load bias is measured from).
    pub base_vaddr: u64,
    /// ELF entry point (link-time), matched against a core's `AT_ENTRY`.
    pub entry: u64,
    /// Build-id notes (`.note.go.buildid`, `.note.gnu.build-id`): link-time address and bytes,
    /// matched against the copy a core holds of the executable's first pages.
    pub build_ids: Vec<(u64, Vec<u8>)>,
}

/// Decodes `.go.buildinfo` (Go 1.18+ inline-string form): returns `(go version, modinfo)`.
pub fn parse_buildinfo(data: &[u8]) -> Option<(String, String)> {
    const MAGIC: &[u8] = b"\xff Go buildinf:";
    if data.len() < 32 || !data.starts_with(MAGIC) {
        return None;
    }
    let flags = data[15];
    if flags & 2 == 0 {
        return None; // pre-1.18 pointer form
    }
    let mut p = 32;
    let mut take = || -> Option<String> {
        let mut n: u64 = 0;
        let mut shift = 0;
        loop {
            let b = *data.get(p)?;
            p += 1;
            n |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 35 {
                return None;
            }
        }
        let s = data.get(p..p.checked_add(n as usize)?)?;
        p += n as usize;
        Some(String::from_utf8_lossy(s).into_owned())
    };
    let version = take()?;
    let modinfo = take().unwrap_or_default();
    Some((version, modinfo))
}

/// The main package path recorded in buildinfo (`path\t…` line of modinfo), e.g. `cmd/go`.
pub fn main_path(modinfo: &str) -> Option<&str> {
    // The first line starts after a 16-byte binary sentinel.
    modinfo
        .lines()
        .find_map(|l| l.split_once("path\t").filter(|(pre, _)| pre.len() <= 64))
        .map(|(_, p)| p.trim())
}

/// Reads only `.go.buildinfo` of an executable: `(go version, modinfo)`, or `None` when it is
/// not a Go program.
pub fn peek_buildinfo(path: &Path) -> Option<(String, String)> {
    let bytes = std::fs::read(path).ok()?;
    let file = object::File::parse(&*bytes).ok()?;
    let s = file.section_by_name(".go.buildinfo")?;
    parse_buildinfo(s.data().ok()?)
}

/// `go1.27.3` → 27.
pub fn go_minor(version: &str) -> Option<u32> {
    let rest = version.strip_prefix("go1.")?;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

impl GoBinary {
    /// Loads and analyses an executable.
    pub fn load(path: &Path) -> Result<GoBinary, AttachError> {
        let name = path.display().to_string();
        let bytes =
            std::fs::read(path).map_err(|e| AttachError::io(format!("reading {name}"), e))?;
        Self::from_bytes(name, &bytes)
    }

    pub fn from_bytes(name: String, bytes: &[u8]) -> Result<GoBinary, AttachError> {
        let file = object::File::parse(bytes)
            .map_err(|e| AttachError::bad_binary(format!("{name}: not an ELF executable: {e}")))?;
        if file.architecture() != object::Architecture::X86_64 {
            return Err(AttachError::unsupported(format!(
                "{name} is built for {:?}; only x86-64 targets are supported so far",
                file.architecture()
            )));
        }
        let section = |n: &str| file.section_by_name(n);
        let pcln_sec = section(".gopclntab")
            .or_else(|| section(".data.rel.ro.gopclntab"))
            .ok_or_else(|| AttachError::NotGo { what: name.clone() })?;
        let (go_version, _modinfo) = section(".go.buildinfo")
            .and_then(|s| s.data().ok())
            .and_then(parse_buildinfo)
            .ok_or_else(|| AttachError::NotGo {
                what: format!("{name} (no readable .go.buildinfo)"),
            })?;
        let minor = go_minor(&go_version).ok_or_else(|| AttachError::UnsupportedGo {
            message: format!("cannot parse Go version {go_version:?}"),
        })?;
        if minor < 21 {
            return Err(AttachError::UnsupportedGo {
                message: format!(
                    "{name} was built with {go_version}; goroscope reads Go 1.21 and later"
                ),
            });
        }
        let file_ranges: Vec<(u64, u64, u64)> = file
            .segments()
            .map(|s| {
                let (off, size) = s.file_range();
                (s.address(), off, size)
            })
            .collect();
        let segments: Vec<(u64, Vec<u8>)> = file
            .segments()
            .filter_map(|s| Some((s.address(), s.data().ok()?.to_vec())))
            .collect();
        let sym = |n: &str| {
            file.symbols()
                .find(|s| s.name() == Ok(n))
                .map(|s| s.address())
        };
        let mut notes = Vec::new();

        // Layout: DWARF first, then the table of this release.
        let table = layout::table_for(minor);
        let (layout, layout_source) = match dwarf::read(&file)? {
            Some(facts) => {
                let base = table.clone().or_else(|| {
                    let near = layout::table_minors().into_iter().filter(|&m| m <= minor).max()?;
                    notes.push(format!(
                        "no layout table for go1.{minor}: offsets and wait reasons from its DWARF, the wrapper function id assumed as in go1.{near}"
                    ));
                    layout::table_for(near)
                });
                (
                    dwarf::layout_from(&facts, minor, base.as_ref())?,
                    "DWARF".to_string(),
                )
            }
            None => match table {
                Some(t) => (t, format!("table go1.{minor}")),
                None => {
                    return Err(AttachError::UnsupportedGo { message: format!(
                        "{name} was built with {go_version} and has no DWARF; this build has runtime layouts for {} \
                         (rebuild without -ldflags=-w, or update goroscope)",
                        layout::table_minors()
                            .iter()
                            .map(|m| format!("go1.{m}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ) })
                }
            },
        };

        layout.check().map_err(|m| {
            AttachError::bad_binary(format!(
                "{name}: implausible runtime layout ({layout_source}): {m}"
            ))
        })?;

        // moduledata: symbol, `.go.module` (1.26+), or a `.noptrdata` word equal to the pclntab address.
        let pcln_addr = pcln_sec.address();
        let read_static = |addr: u64, n: usize| -> Option<&[u8]> {
            segments.iter().find_map(|(va, d)| {
                let o = addr.checked_sub(*va)? as usize;
                d.get(o..o.checked_add(n)?)
            })
        };
        let moduledata = sym("runtime.firstmoduledata")
            .or_else(|| section(".go.module").map(|s| s.address()))
            .or_else(|| {
                let s = section(".noptrdata")?;
                let d = s.data().ok()?;
                (0..d.len().saturating_sub(8))
                    .step_by(8)
                    .find(|&o| u64::from_le_bytes(d[o..o + 8].try_into().unwrap()) == pcln_addr)
                    .and_then(|o| s.address().checked_add(o as u64))
            });
        let md_word = |off: u64| -> Option<u64> {
            let md = moduledata?;
            read_static(md.checked_add(off)?, 8).map(|b| u64::from_le_bytes(b.try_into().unwrap()))
        };
        let text_start = md_word(176)
            .filter(|&t| t != 0)
            .or_else(|| sym("runtime.text"))
            .or_else(|| section(".text").map(|s| s.address()))
            .unwrap_or(0);
        let gofunc = sym("go:func.*")
            .or_else(|| md_word(layout.moduledata_gofunc))
            .ok_or_else(|| {
                AttachError::bad_binary(format!(
                    "{name}: cannot find moduledata.gofunc (inline trees)"
                ))
            })?;
        let pcln_data = pcln_sec
            .uncompressed_data()
            .map_err(|e| AttachError::bad_binary(format!("{name}: .gopclntab: {e}")))?
            .into_owned();
        let pclntab = Pclntab::parse(pcln_data, pcln_addr, text_start)?;
        let bss = [".bss", ".noptrbss"]
            .iter()
            .filter_map(|n| section(n).map(|s| (s.address(), s.address().saturating_add(s.size()))))
            .collect();
        let build_ids = [".note.go.buildid", ".note.gnu.build-id"]
            .iter()
            .filter_map(|n| {
                let s = section(n)?;
                Some((s.address(), s.data().ok()?.to_vec()))
            })
            .filter(|(_, d)| !d.is_empty())
            .collect();
        let semtable = sym("runtime.semtable");
        let mheap_arenas = sym("runtime.mheap_")
            .zip(layout.mem)
            .and_then(|(h, m)| h.checked_add(m.mheap_arenas));
        let mut bin = GoBinary {
            entry: file.entry(),
            build_ids,
            path: name,
            go_version,
            minor,
            layout,
            layout_source,
            pclntab,
            allgs: sym("runtime.allgs"),
            allglen: sym("runtime.allglen"),
            gofunc,
            bss,
            pie: file.kind() == object::ObjectKind::Dynamic,
            base_vaddr: segments.iter().map(|s| s.0).min().unwrap_or(0) & !0xfff,
            segments,
            file_ranges,
            notes,
            semtable,
            mheap_arenas,
        };
        if bin.semtable.is_none() {
            bin.semtable = crate::stripped::find_semtable(&bin);
        }
        if bin.mheap_arenas.is_none() && bin.layout.mem.is_some() {
            bin.mheap_arenas = crate::stripped::find_mheap_arenas(&bin);
        }
        Ok(bin)
    }

    /// Reads link-time static data from the file (text, rodata, initialised data).
    pub fn read_static(&self, addr: u64, n: usize) -> Option<&[u8]> {
        self.segments.iter().find_map(|(va, d)| {
            let o = addr.checked_sub(*va)? as usize;
            d.get(o..o.checked_add(n)?)
        })
    }

    /// The offset in the executable's file of the byte at link-time address `addr` (what a
    /// uprobe is placed by), when a segment holds it in the file.
    pub fn file_offset(&self, addr: u64) -> Option<u64> {
        self.file_ranges.iter().find_map(|&(va, off, size)| {
            let o = addr.checked_sub(va)?;
            (o < size).then(|| off.checked_add(o)).flatten()
        })
    }

    /// How many bytes of link-time static data the file has from `addr` on, in one segment.
    pub fn static_len(&self, addr: u64) -> u64 {
        self.segments
            .iter()
            .find_map(|(va, d)| {
                let o = addr.checked_sub(*va)?;
                (o < d.len() as u64).then(|| d.len() as u64 - o)
            })
            .unwrap_or(0)
    }

    /// An `inlinedCall` record of the inline tree at `gofunc + off`, index `ix`.
    pub fn inl_record(&self, off: u32, ix: i32) -> Option<[u8; 16]> {
        if ix < 0 {
            return None;
        }
        let a = self
            .gofunc
            .checked_add(off as u64)?
            .checked_add(ix as u64 * 16)?;
        self.read_static(a, 16).map(|b| b.try_into().unwrap())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_package_path() {
        let m = "\u{fffd}0w\u{fffd}path\tcmd/compile\nbuild\t-buildmode=exe\n";
        assert_eq!(main_path(m), Some("cmd/compile"));
        assert_eq!(main_path("mod\tx\n"), None);
    }

    #[test]
    fn buildinfo_and_minor() {
        let mut d = b"\xff Go buildinf:".to_vec();
        d.push(8);
        d.push(2);
        d.resize(32, 0);
        d.push(9);
        d.extend_from_slice(b"go1.27.3x");
        d.push(3);
        d.extend_from_slice(b"mod");
        let (v, m) = parse_buildinfo(&d).unwrap();
        assert_eq!((v.as_str(), m.as_str()), ("go1.27.3x", "mod"));
        assert_eq!(go_minor("go1.21.13"), Some(21));
        assert_eq!(go_minor("go1.27rc1"), Some(27));
        assert_eq!(go_minor("devel"), None);
        assert!(parse_buildinfo(b"\xff Go buildinf:short").is_none());
        d.truncate(40);
        assert!(parse_buildinfo(&d).is_none());
    }
}
