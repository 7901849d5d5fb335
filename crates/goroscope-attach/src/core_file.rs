//! Core files: memory from PT_LOAD segments (falling back to the executable for read-only data
//! the kernel did not dump), thread registers from NT_PRSTATUS, the fatal signal from
//! NT_SIGINFO/NT_PRSTATUS, the executable's path and load address from NT_FILE and NT_AUXV.
//!
//! The core is never read whole: headers and notes are read once, memory on demand with
//! positional reads checked against the file's length (a core of gigabytes costs what the
//! goroutines need, and a file truncated or cut short gives errors, never a crash). Every count
//! and offset in it is bounded by the bytes present, with checked arithmetic.
//!
//! Before any goroutine is read, the executable is checked against the core: its entry point
//! against the core's `AT_ENTRY`, its load address against NT_FILE, and its build-id notes
//! against the copy of its first page the core holds.

use crate::binary::GoBinary;
use crate::error::AttachError;
use crate::memory::{ProcessMemory, Unmapped};
use crate::walk::WalkOptions;
use crate::AttachOptions;
use goroscope_model::{Context, Format, ProcessInfo, ProfileKind, Snapshot, Source};
use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Random access to the bytes of a core: a file (positional reads) or, in tests, a slice.
pub(crate) trait CoreBytes {
    fn len(&self) -> u64;
    /// Fills `buf` from offset `off`; `false` when any of it lies past the end.
    fn read_at(&self, off: u64, buf: &mut [u8]) -> bool;
}

impl CoreBytes for [u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
    fn read_at(&self, off: u64, buf: &mut [u8]) -> bool {
        let Ok(o) = usize::try_from(off) else {
            return false;
        };
        match o.checked_add(buf.len()).and_then(|e| self.get(o..e)) {
            Some(src) => {
                buf.copy_from_slice(src);
                true
            }
            None => false,
        }
    }
}

/// A core file opened for positional reads.
pub(crate) struct CoreFileBytes {
    file: std::fs::File,
    len: u64,
}

impl CoreBytes for CoreFileBytes {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&self, off: u64, buf: &mut [u8]) -> bool {
        // Checked against the length taken at open, and the read itself fails (instead of a
        // SIGBUS, as a mapping would give) if the file shrank since.
        off.checked_add(buf.len() as u64)
            .is_some_and(|end| end <= self.len)
            && self.file.read_exact_at(buf, off).is_ok()
    }
}

/// One PT_LOAD segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Load {
    pub vaddr: u64,
    pub memsz: u64,
    pub offset: u64,
    pub filesz: u64,
}

/// Memory of a core file.
pub(crate) struct CoreMemory<'a, B: CoreBytes + ?Sized> {
    bytes: &'a B,
    /// Sorted by vaddr.
    loads: Vec<Load>,
    exe: Option<&'a GoBinary>,
    /// Load bias of a PIE executable (runtime address = link address + bias).
    bias: u64,
}

impl<B: CoreBytes + ?Sized> CoreMemory<'_, B> {
    /// Where `addr` is served from: the segment's file bytes (`Ok(file offset)`), or the
    /// executable (`Err(())`), and how many bytes on from there; `None` when nothing has it.
    fn locate(&self, addr: u64) -> Option<(Result<u64, ()>, u64)> {
        let i = self.loads.partition_point(|l| l.vaddr <= addr);
        if i > 0 {
            let l = self.loads[i - 1];
            let o = addr - l.vaddr;
            if o < l.filesz {
                let off = l.offset.checked_add(o)?;
                // Bytes past the end of a truncated file are not there.
                let n = (l.filesz - o).min(self.bytes.len().checked_sub(off)?);
                return (n > 0).then_some((Ok(off), n));
            }
            if o < l.memsz {
                // Not dumped (read-only file-backed pages): the executable has them.
                let n = (l.memsz - o).min(self.exe_len(addr));
                return (n > 0).then_some((Err(()), n));
            }
        }
        let n = self.exe_len(addr);
        (n > 0).then_some((Err(()), n))
    }

    fn exe_len(&self, addr: u64) -> u64 {
        self.exe
            .map(|b| b.static_len(addr.wrapping_sub(self.bias)))
            .unwrap_or(0)
    }

    /// Copies what one segment (or the executable) has at `addr`; returns the bytes copied.
    fn read_some(&self, addr: u64, buf: &mut [u8]) -> usize {
        let Some((from, n)) = self.locate(addr) else {
            return 0;
        };
        let n = n.min(buf.len() as u64) as usize;
        let ok = match from {
            Ok(off) => self.bytes.read_at(off, &mut buf[..n]),
            Err(()) => match self
                .exe
                .and_then(|b| b.read_static(addr.wrapping_sub(self.bias), n))
            {
                Some(src) => {
                    buf[..n].copy_from_slice(src);
                    true
                }
                None => false,
            },
        };
        if ok {
            n
        } else {
            0
        }
    }
}

impl<B: CoreBytes + ?Sized> ProcessMemory for CoreMemory<'_, B> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Unmapped> {
        let err = Unmapped {
            addr,
            len: buf.len(),
        };
        let mut done = 0;
        while done < buf.len() {
            let at = addr.checked_add(done as u64).ok_or(err.clone())?;
            let n = self.read_some(at, &mut buf[done..]);
            if n == 0 {
                return Err(err);
            }
            done += n;
        }
        Ok(())
    }

    fn readable_len(&self, addr: u64, max: usize) -> usize {
        let mut done: u64 = 0;
        while done < max as u64 {
            let Some(at) = addr.checked_add(done) else {
                break;
            };
            match self.locate(at) {
                Some((_, n)) => done = done.saturating_add(n),
                None => break,
            }
        }
        done.min(max as u64) as usize
    }
}

/// What the core's headers and notes say.
#[derive(Debug, Default)]
pub(crate) struct CoreFacts {
    pub loads: Vec<Load>,
    /// tid → (rip, rsp)
    pub threads: HashMap<u64, (u64, u64)>,
    /// NT_FILE: `(start, end, file offset, path)` of every mapped file, in the note's order.
    pub files: Vec<(u64, u64, u64, String)>,
    /// NT_AUXV `AT_ENTRY`: the executable's entry point in the process.
    pub at_entry: Option<u64>,
    /// The signal that made the dump (NT_SIGINFO `si_signo`, else the first thread's
    /// `pr_cursig`); 0 or `None` for a dump of a running process (gcore).
    pub signal: Option<i32>,
    pub pid: Option<u32>,
    /// The file offset the segments need (the end of the last one's bytes).
    pub need: u64,
    /// Malformed notes that were skipped.
    pub notes_skipped: Vec<String>,
}

impl CoreFacts {
    /// The executable: the first file mapped from its offset 0, and where.
    pub fn exe(&self) -> Option<(&str, u64)> {
        self.files
            .iter()
            .find(|f| f.2 == 0)
            .map(|f| (f.3.as_str(), f.0))
    }
}

const ET_CORE: u16 = 4;
const EM_X86_64: u16 = 62;
const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const NT_PRSTATUS: u32 = 1;
const NT_AUXV: u32 = 6;
const NT_SIGINFO: u32 = 0x5349_4749;
const NT_FILE: u32 = 0x4649_4c45;
const AT_ENTRY: u64 = 9;
/// Notes of one segment read at most (a core's notes are a few MiB even for big processes).
const NOTES_CAP: u64 = 256 << 20;
/// `elf_prstatus` up to the end of `pr_reg` on x86-64.
const PRSTATUS_LEN: usize = 112 + 27 * 8;

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"))
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"))
}
fn get_u64(b: &[u8], o: usize) -> Option<u64> {
    b.get(o..o.checked_add(8)?)
        .map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes")))
}

/// Reads the ELF header, program headers and notes of a core.
pub(crate) fn parse<B: CoreBytes + ?Sized>(path: &str, src: &B) -> Result<CoreFacts, AttachError> {
    let bad = |m: &str| AttachError::BadCore {
        path: path.to_string(),
        message: m.to_string(),
    };
    let mut eh = [0u8; 64];
    if !src.read_at(0, &mut eh) || &eh[..4] != b"\x7fELF" {
        return Err(bad("not an ELF file"));
    }
    if eh[4] != 2 || eh[5] != 1 {
        return Err(AttachError::unsupported(format!(
            "{path}: a core that is not 64-bit little-endian"
        )));
    }
    if u16_at(&eh, 16) != ET_CORE {
        return Err(bad("not a core file (ELF type is not ET_CORE)"));
    }
    if u16_at(&eh, 18) != EM_X86_64 {
        return Err(AttachError::unsupported(format!(
            "{path}: core of a non-x86-64 process"
        )));
    }
    let phoff = u64_at(&eh, 32);
    let shoff = u64_at(&eh, 40);
    let phentsize = u16_at(&eh, 54) as u64;
    let mut phnum = u16_at(&eh, 56) as u64;
    if phnum == 0xffff {
        // PN_XNUM: the real count is in section header 0's sh_info.
        let mut sh = [0u8; 64];
        if !src.read_at(shoff, &mut sh) {
            return Err(bad(
                "more than 65534 segments and no section header 0 to count them",
            ));
        }
        phnum = u32_at(&sh, 44) as u64;
    }
    if phentsize < 56 {
        return Err(bad("program headers shorter than 56 bytes"));
    }
    // A few million segments at most (a process has 65,530 mappings by default).
    const TABLE_CAP: u64 = 256 << 20;
    let table_len = phnum
        .checked_mul(phentsize)
        .filter(|&n| n <= TABLE_CAP)
        .filter(|&n| phoff.checked_add(n).is_some_and(|end| end <= src.len()))
        .ok_or_else(|| bad("program headers lie past the end of the file (truncated?)"))?;
    let mut table = vec![0u8; table_len as usize];
    if !src.read_at(phoff, &mut table) {
        return Err(bad("cannot read the program headers"));
    }
    let mut facts = CoreFacts::default();
    for ph in table.chunks_exact(phentsize as usize) {
        let (offset, vaddr, filesz, memsz) = (
            u64_at(ph, 8),
            u64_at(ph, 16),
            u64_at(ph, 32),
            u64_at(ph, 40),
        );
        match u32_at(ph, 0) {
            PT_LOAD => {
                let end = offset
                    .checked_add(filesz)
                    .ok_or_else(|| bad("a segment's file range overflows"))?;
                facts.need = facts.need.max(end);
                facts.loads.push(Load {
                    vaddr,
                    memsz: memsz.max(filesz),
                    offset,
                    filesz,
                });
            }
            PT_NOTE => {
                // What is there of it: a truncated file still has its first notes.
                let n = filesz.min(NOTES_CAP).min(src.len().saturating_sub(offset));
                let mut notes = vec![0u8; n as usize];
                if n > 0 && src.read_at(offset, &mut notes) {
                    read_notes(&notes, &mut facts);
                }
                facts.need = facts.need.max(offset.saturating_add(filesz));
            }
            _ => {}
        }
    }
    facts.loads.sort_unstable();
    Ok(facts)
}

/// Walks one PT_NOTE segment: `namesz, descsz, type, name, desc`, each padded to 4 bytes.
fn read_notes(notes: &[u8], facts: &mut CoreFacts) {
    let mut p = 0usize;
    let pad = |n: usize| n.checked_add(3).map(|v| v & !3);
    while let Some(h) = notes.get(p..p + 12) {
        let (namesz, descsz, ty) = (u32_at(h, 0) as usize, u32_at(h, 4) as usize, u32_at(h, 8));
        let Some(name_end) = pad(namesz).and_then(|n| (p + 12).checked_add(n)) else {
            break;
        };
        let Some(desc_end) = (name_end).checked_add(descsz) else {
            break;
        };
        let (Some(name), Some(desc)) = (
            notes.get(p + 12..p + 12 + namesz),
            notes.get(name_end..desc_end),
        ) else {
            facts
                .notes_skipped
                .push(format!("a note at offset {p} runs past its segment"));
            break;
        };
        if name.split(|&b| b == 0).next() == Some(b"CORE") {
            read_note(ty, desc, facts);
        }
        match pad(desc_end) {
            Some(next) if next > p => p = next,
            _ => break,
        }
    }
}

fn read_note(ty: u32, desc: &[u8], facts: &mut CoreFacts) {
    match ty {
        NT_PRSTATUS if desc.len() >= PRSTATUS_LEN => {
            let tid = u32_at(desc, 32);
            if facts.pid.is_none() {
                facts.pid = Some(tid);
                let cursig = u16_at(desc, 12) as i32;
                facts.signal.get_or_insert(cursig);
            }
            let rip = u64_at(desc, 112 + 16 * 8);
            let rsp = u64_at(desc, 112 + 19 * 8);
            facts.threads.insert(tid as u64, (rip, rsp));
        }
        // The first thread's siginfo is the dump's signal; it wins over pr_cursig.
        NT_SIGINFO if desc.len() >= 4 && facts.threads.len() <= 1 => {
            facts.signal = Some(i32::from_le_bytes(desc[..4].try_into().expect("4")));
        }
        NT_AUXV => {
            for kv in desc.chunks_exact(16) {
                if u64_at(kv, 0) == AT_ENTRY {
                    facts.at_entry = Some(u64_at(kv, 8));
                }
            }
        }
        NT_FILE if facts.files.is_empty() => match nt_file(desc) {
            Some(files) => facts.files = files,
            None => facts
                .notes_skipped
                .push("a malformed NT_FILE note (file mappings)".into()),
        },
        _ => {}
    }
}

/// NT_FILE: `count, page size, count × (start, end, page offset), count NUL-terminated names`.
/// The count is bounded by the bytes present (a count that does not fit is malformed).
fn nt_file(desc: &[u8]) -> Option<Vec<(u64, u64, u64, String)>> {
    let count = usize::try_from(get_u64(desc, 0)?).ok()?;
    let page = get_u64(desc, 8)?;
    let fits = desc.len().checked_sub(16)? / 24;
    if count > fits {
        return None;
    }
    let names_at = 16 + count * 24;
    let mut names = desc[names_at..].split(|&b| b == 0);
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let e = 16 + i * 24;
        let name = names.next()?;
        out.push((
            u64_at(desc, e),
            u64_at(desc, e + 8),
            u64_at(desc, e + 16).checked_mul(page)?,
            String::from_utf8_lossy(name).into_owned(),
        ));
    }
    Some(out)
}

/// Signals whose default action dumps core: a core made by one of them is a crash (Go's
/// `GOTRACEBACK=crash` raises SIGABRT).
fn is_crash_signal(sig: i32) -> bool {
    matches!(sig, 3 | 4 | 5 | 6 | 7 | 8 | 11 | 24 | 25 | 31)
}

/// The load bias of `bin` in the core's process, after checking that `bin` is the program
/// that wrote the core. `Ok` also when the core holds nothing to check against.
fn match_executable<B: CoreBytes + ?Sized>(
    core: &str,
    src: &B,
    facts: &CoreFacts,
    bin: &GoBinary,
) -> Result<u64, AttachError> {
    let mismatch = |why: String| AttachError::Mismatch {
        core: core.to_string(),
        exe: bin.path.clone(),
        why,
        named: facts.exe().map(|e| e.0.to_string()),
    };
    let from_files = facts
        .exe()
        .map(|(_, start)| start.wrapping_sub(bin.base_vaddr));
    let bias = match (bin.pie, facts.at_entry) {
        (false, Some(at)) if at != bin.entry => {
            return Err(mismatch(format!(
                "the core's process started at {at:#x}, this executable's entry point is {:#x}",
                bin.entry
            )))
        }
        (false, _) => 0,
        (true, Some(at)) => {
            let bias = at.wrapping_sub(bin.entry);
            if bias & 0xfff != 0 || from_files.is_some_and(|b| b != bias) {
                return Err(mismatch(format!(
                    "the core's process started at {at:#x}, which is not this position-independent executable's entry point ({:#x}) at its load address",
                    bin.entry
                )));
            }
            bias
        }
        (true, None) => from_files.ok_or_else(|| AttachError::BadCore {
            path: core.to_string(),
            message: format!(
                "{} is position-independent and the core does not say where it was loaded (no NT_FILE or NT_AUXV note)",
                bin.path
            ),
        })?,
    };
    // The build ids, where the core holds a copy of the page they are in (never from the
    // executable itself).
    let dumped = CoreMemory {
        bytes: src,
        loads: facts.loads.clone(),
        exe: None,
        bias,
    };
    for (addr, want) in &bin.build_ids {
        let mut got = vec![0u8; want.len()];
        if dumped.read(addr.wrapping_add(bias), &mut got).is_ok() && &got != want {
            return Err(mismatch(format!(
                "its build id differs from the one in the core ({})",
                printable(&got)
            )));
        }
    }
    Ok(bias)
}

/// A build-id note as text: the Go build id is printable, a GNU one is shown in hex.
fn printable(note: &[u8]) -> String {
    let desc = note.get(16..).unwrap_or(note);
    let text: String = desc
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_graphic()) {
        text
    } else {
        desc.iter().map(|b| format!("{b:02x}")).collect()
    }
}

pub fn read_core(
    core: &Path,
    exe: Option<&Path>,
    opts: &AttachOptions,
) -> Result<Snapshot, AttachError> {
    let name = core.display().to_string();
    let file = std::fs::File::open(core)
        .map_err(|e| AttachError::io(format!("opening core file {name}"), e))?;
    let len = file
        .metadata()
        .map_err(|e| AttachError::io(format!("reading core file {name}"), e))?
        .len();
    let src = CoreFileBytes { file, len };
    let facts = parse(&name, &src)?;
    // A core cut short: whatever fails to read below is said to be because of that.
    let truncated = facts.need > len;
    let cut = |e: AttachError| match e {
        AttachError::BadCore { message, .. } if truncated => AttachError::Truncated {
            path: name.clone(),
            have: len,
            need: facts.need,
            reading: Some(message),
        },
        e @ AttachError::BadMemory { .. } if truncated => AttachError::Truncated {
            path: name.clone(),
            have: len,
            need: facts.need,
            reading: Some(e.to_string()),
        },
        e => e,
    };
    let exe_path = match (exe, facts.exe()) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some((p, _))) => PathBuf::from(p),
        (None, None) => {
            return Err(cut(AttachError::BadCore {
                path: name.clone(),
                message:
                    "the core does not name its executable (no NT_FILE note); pass --exe BINARY"
                        .into(),
            }))
        }
    };
    let bin = GoBinary::load(&exe_path).map_err(|e| match (e, exe) {
        (AttachError::Io { source, .. }, None) => AttachError::Io {
            context: format!(
                "opening {}, the executable core file {name} names (pass --exe BINARY if it moved)",
                exe_path.display()
            ),
            source,
        },
        (e, _) => e,
    })?;
    let bias = match_executable(&name, &src, &facts, &bin).map_err(cut)?;
    let mem = CoreMemory {
        bytes: &src,
        loads: facts.loads.clone(),
        exe: Some(&bin),
        bias,
    };
    let wopts = WalkOptions {
        system: opts.system,
        retries: 0,
        now_nanos: None,
        threads: facts.threads.clone(),
        ..WalkOptions::default()
    };
    let source = Source {
        input: name.clone(),
        index: 0,
        line: None,
        format: Format::Core,
        kind: ProfileKind::Goroutine,
    };
    let mut snap = crate::snapshot_from_memory(&bin, &mem, bias, wopts, source).map_err(cut)?;
    snap.taken_at = std::fs::metadata(core).and_then(|m| m.modified()).ok();
    snap.context = Some(match facts.signal {
        Some(sig) if is_crash_signal(sig) => Context::Crash,
        _ => Context::Live,
    });
    snap.process = Some(ProcessInfo {
        pid: facts.pid,
        executable: Some(exe_path.display().to_string()),
        args: Vec::new(),
    });
    if truncated {
        snap.warnings.push(goroscope_model::Warning::new(format!(
            "core file is truncated ({len} of {} bytes): goroutines whose memory was cut off are missing or incomplete",
            facts.need
        )));
    }
    for n in &facts.notes_skipped {
        snap.warnings.push(goroscope_model::Warning::new(format!(
            "core file: skipped {n}"
        )));
    }
    snap.warnings.push(goroscope_model::Warning::new(
        "core file: wait durations are not computed (the time of the dump is unknown)",
    ));
    Ok(snap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An ELF64 core header with the given program headers (already 56 bytes each) appended.
    fn core_with(phdrs: &[[u8; 56]], tail: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[6] = 1;
        b[16..18].copy_from_slice(&ET_CORE.to_le_bytes());
        b[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[52..54].copy_from_slice(&64u16.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&(phdrs.len() as u16).to_le_bytes());
        for p in phdrs {
            b.extend_from_slice(p);
        }
        b.extend_from_slice(tail);
        b
    }

    fn phdr(ty: u32, offset: u64, vaddr: u64, filesz: u64, memsz: u64) -> [u8; 56] {
        let mut p = [0u8; 56];
        p[..4].copy_from_slice(&ty.to_le_bytes());
        p[8..16].copy_from_slice(&offset.to_le_bytes());
        p[16..24].copy_from_slice(&vaddr.to_le_bytes());
        p[32..40].copy_from_slice(&filesz.to_le_bytes());
        p[40..48].copy_from_slice(&memsz.to_le_bytes());
        p
    }

    fn note(ty: u32, desc: &[u8]) -> Vec<u8> {
        let mut n = Vec::new();
        n.extend_from_slice(&5u32.to_le_bytes());
        n.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        n.extend_from_slice(&ty.to_le_bytes());
        n.extend_from_slice(b"CORE\0\0\0\0");
        n.extend_from_slice(desc);
        while n.len() % 4 != 0 {
            n.push(0);
        }
        n
    }

    /// Issue 7, item 5: the 172-byte core whose NT_FILE count times 24 wraps around made the
    /// reader spin forever (a release build) or panic (a debug build).
    #[test]
    fn nt_file_count_that_wraps_is_refused_at_once() {
        let mut desc = Vec::new();
        // 24 × this count wraps to 8 in 64 bits.
        desc.extend_from_slice(&0x0aaa_aaaa_aaaa_aaabu64.to_le_bytes());
        desc.extend_from_slice(&4096u64.to_le_bytes());
        desc.extend_from_slice(&[0u8; 16]);
        let notes = note(NT_FILE, &desc);
        let b = core_with(&[phdr(PT_NOTE, 120, 0, notes.len() as u64, 0)], &notes);
        assert_eq!(b.len(), 172);
        let facts = parse("crafted", &b[..]).unwrap();
        assert!(facts.files.is_empty());
        assert_eq!(facts.notes_skipped.len(), 1, "{:?}", facts.notes_skipped);
    }

    #[test]
    fn notes_give_threads_signal_files_and_entry() {
        let mut pr = vec![0u8; PRSTATUS_LEN];
        pr[12..14].copy_from_slice(&6u16.to_le_bytes());
        pr[32..36].copy_from_slice(&4242u32.to_le_bytes());
        pr[112 + 16 * 8..112 + 17 * 8].copy_from_slice(&0x401000u64.to_le_bytes());
        pr[112 + 19 * 8..112 + 20 * 8].copy_from_slice(&0xc000_1000u64.to_le_bytes());
        let mut files = Vec::new();
        for v in [1u64, 4096, 0x400000, 0x401000, 0] {
            files.extend_from_slice(&v.to_le_bytes());
        }
        files.extend_from_slice(b"/bin/prog\0");
        let mut auxv = Vec::new();
        for v in [AT_ENTRY, 0x401234, 0, 0] {
            auxv.extend_from_slice(&v.to_le_bytes());
        }
        let notes = [
            note(NT_PRSTATUS, &pr),
            note(NT_FILE, &files),
            note(NT_AUXV, &auxv),
        ]
        .concat();
        let data_off = 64 + 2 * 56 + notes.len() as u64;
        let mut tail = notes.clone();
        tail.extend_from_slice(&[0xab; 16]);
        let b = core_with(
            &[
                phdr(PT_NOTE, 64 + 2 * 56, 0, notes.len() as u64, 0),
                phdr(PT_LOAD, data_off, 0x1000, 16, 32),
            ],
            &tail,
        );
        let f = parse("ok", &b[..]).unwrap();
        assert_eq!(f.pid, Some(4242));
        assert_eq!(f.signal, Some(6));
        assert!(is_crash_signal(f.signal.unwrap()));
        assert_eq!(f.threads[&4242], (0x401000, 0xc000_1000));
        assert_eq!(f.exe(), Some(("/bin/prog", 0x400000)));
        assert_eq!(f.at_entry, Some(0x401234));
        let mem = CoreMemory {
            bytes: &b[..],
            loads: f.loads.clone(),
            exe: None,
            bias: 0,
        };
        assert_eq!(mem.read_u64(0x1008).unwrap(), 0xabab_abab_abab_abab);
        // Past the dumped bytes (memsz > filesz) with no executable: unmapped.
        assert!(mem.read_u64(0x1010).is_err());
        assert_eq!(mem.readable_len(0x1004, 100), 12);
        // Cut the file inside the segment: what remains reads, the rest is unmapped.
        let cut = &b[..b.len() - 8];
        let f = parse("cut", cut).unwrap();
        assert!(f.need > cut.len() as u64);
        let mem = CoreMemory {
            bytes: cut,
            loads: f.loads.clone(),
            exe: None,
            bias: 0,
        };
        assert!(mem.read_u64(0x1000).is_ok());
        assert!(mem.read_u64(0x1008).is_err());
    }

    fn read_everything(b: &[u8]) {
        if let Ok(f) = parse("fuzz", b) {
            let mem = CoreMemory {
                bytes: b,
                loads: f.loads.clone(),
                exe: None,
                bias: 0,
            };
            for l in f.loads.iter().take(8) {
                let mut buf = vec![0u8; mem.readable_len(l.vaddr, 4096)];
                let _ = mem.read(l.vaddr, &mut buf);
                let _ = mem.read_u64(l.vaddr.wrapping_add(l.memsz).wrapping_sub(4));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Any bytes: an error or facts, never a panic, a hang or a huge allocation.
        #[test]
        fn any_bytes_parse_without_panic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            read_everything(&b);
        }

        /// A valid core with some bytes changed.
        #[test]
        fn mutated_cores_parse_without_panic(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..24),
        ) {
            let mut pr = vec![0u8; PRSTATUS_LEN];
            pr[32..36].copy_from_slice(&7u32.to_le_bytes());
            let mut files = Vec::new();
            for v in [2u64, 4096, 0x400000, 0x401000, 0, 0x500000, 0x501000, 1] {
                files.extend_from_slice(&v.to_le_bytes());
            }
            files.extend_from_slice(b"/a\0/b\0");
            let notes = [note(NT_PRSTATUS, &pr), note(NT_FILE, &files), note(NT_SIGINFO, &[6, 0, 0, 0])].concat();
            let off = 64 + 3 * 56 + notes.len() as u64;
            let mut tail = notes.clone();
            tail.extend_from_slice(&[1u8; 64]);
            let mut b = core_with(&[
                phdr(PT_NOTE, 64 + 3 * 56, 0, notes.len() as u64, 0),
                phdr(PT_LOAD, off, 0x1000, 32, 64),
                phdr(PT_LOAD, off + 32, u64::MAX - 16, 32, u64::MAX),
            ], &tail);
            for (i, v) in edits {
                let i = i.index(b.len());
                b[i] = v;
            }
            read_everything(&b);
        }
    }
}
