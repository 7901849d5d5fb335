//! Core files: memory from PT_LOAD segments (falling back to the executable for read-only data
//! the kernel did not dump), thread registers from NT_PRSTATUS, the executable's path from
//! NT_FILE.

use crate::binary::GoBinary;
use crate::error::AttachError;
use crate::memory::{ProcessMemory, Unmapped};
use crate::walk::WalkOptions;
use crate::AttachOptions;
use goroscope_model::{Format, ProcessInfo, ProfileKind, Snapshot, Source};
use object::elf;
use object::read::elf::{FileHeader, ProgramHeader};
use object::Endianness;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Memory of a core file.
pub struct CoreMemory<'a> {
    data: &'a [u8],
    /// `(vaddr, memsz, file offset, filesz)`, sorted by vaddr.
    loads: Vec<(u64, u64, u64, u64)>,
    exe: Option<&'a GoBinary>,
    /// Load bias of a PIE executable (runtime address = link address + bias).
    bias: u64,
}

impl CoreMemory<'_> {
    /// Copies what one segment (or the executable) has at `addr`; returns the bytes copied.
    fn read_some(&self, addr: u64, buf: &mut [u8]) -> usize {
        let i = self.loads.partition_point(|l| l.0 <= addr);
        if i > 0 {
            let (va, memsz, off, filesz) = self.loads[i - 1];
            let o = addr - va;
            if o < filesz {
                let n = (filesz - o).min(buf.len() as u64) as usize;
                let s = (off + o) as usize;
                if let Some(src) = self.data.get(s..s + n) {
                    buf[..n].copy_from_slice(src);
                    return n;
                }
            } else if o < memsz {
                // Not dumped (read-only file-backed pages): the executable has them.
                let n = (memsz - o).min(buf.len() as u64) as usize;
                if let Some(src) = self
                    .exe
                    .and_then(|b| b.read_static(addr.wrapping_sub(self.bias), n))
                {
                    buf[..n].copy_from_slice(src);
                    return n;
                }
                return 0;
            }
        }
        match self
            .exe
            .and_then(|b| b.read_static(addr.wrapping_sub(self.bias), buf.len()))
        {
            Some(src) => {
                buf.copy_from_slice(src);
                buf.len()
            }
            None => 0,
        }
    }
}

impl ProcessMemory for CoreMemory<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Unmapped> {
        let mut done = 0;
        while done < buf.len() {
            let n = self.read_some(addr + done as u64, &mut buf[done..]);
            if n == 0 {
                return Err(Unmapped {
                    addr,
                    len: buf.len(),
                });
            }
            done += n;
        }
        Ok(())
    }
}

struct CoreFacts {
    loads: Vec<(u64, u64, u64, u64)>,
    /// tid → (rip, rsp)
    threads: HashMap<u64, (u64, u64)>,
    /// Path of the first file mapped at offset 0 (the executable).
    exe: Option<PathBuf>,
    /// Where that file's offset 0 was mapped (the load address of a PIE executable).
    exe_start: Option<u64>,
    pid: Option<u32>,
}

fn parse(path: &str, data: &[u8]) -> Result<CoreFacts, AttachError> {
    let bad = |m: String| AttachError::BadCore {
        path: path.to_string(),
        message: m,
    };
    let hdr = elf::FileHeader64::<Endianness>::parse(data)
        .map_err(|e| bad(format!("not an ELF file: {e}")))?;
    let endian = hdr.endian().map_err(|e| bad(e.to_string()))?;
    if hdr.e_type(endian) != elf::ET_CORE {
        return Err(bad("not a core file (ELF type is not ET_CORE)".into()));
    }
    if hdr.e_machine(endian) != elf::EM_X86_64 {
        return Err(AttachError::Unsupported(format!(
            "{path}: core of a non-x86-64 process"
        )));
    }
    let phdrs = hdr
        .program_headers(endian, data)
        .map_err(|e| bad(e.to_string()))?;
    let mut facts = CoreFacts {
        loads: Vec::new(),
        threads: HashMap::new(),
        exe: None,
        exe_start: None,
        pid: None,
    };
    for ph in phdrs {
        match ph.p_type(endian) {
            elf::PT_LOAD => facts.loads.push((
                ph.p_vaddr(endian),
                ph.p_memsz(endian),
                ph.p_offset(endian),
                ph.p_filesz(endian),
            )),
            elf::PT_NOTE => {
                let Ok(Some(mut notes)) = ph.notes(endian, data) else {
                    continue;
                };
                while let Ok(Some(note)) = notes.next() {
                    let desc = note.desc();
                    match note.n_type(endian) {
                        elf::NT_PRSTATUS if desc.len() >= 112 + 27 * 8 => {
                            let w =
                                |o: usize| u64::from_le_bytes(desc[o..o + 8].try_into().unwrap());
                            let tid = u32::from_le_bytes(desc[32..36].try_into().unwrap());
                            facts.pid.get_or_insert(tid);
                            facts
                                .threads
                                .insert(tid as u64, (w(112 + 16 * 8), w(112 + 19 * 8)));
                        }
                        elf::NT_FILE if facts.exe.is_none() && desc.len() >= 16 => {
                            let w = |o: usize| {
                                desc.get(o..o + 8)
                                    .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
                            };
                            let count = w(0).unwrap_or(0) as usize;
                            let names_at = 16 + count.saturating_mul(24);
                            if let Some(names) = desc.get(names_at..) {
                                let first_zero_off =
                                    (0..count).find(|&i| w(16 + i * 24 + 16) == Some(0));
                                if let Some(k) = first_zero_off {
                                    facts.exe_start = w(16 + k * 24);
                                    if let Some(n) = names.split(|&b| b == 0).nth(k) {
                                        facts.exe = Some(PathBuf::from(
                                            String::from_utf8_lossy(n).into_owned(),
                                        ));
                                    }
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    facts.loads.sort_unstable();
    Ok(facts)
}

pub fn read_core(
    core: &Path,
    exe: Option<&Path>,
    opts: &AttachOptions,
) -> Result<Snapshot, AttachError> {
    let name = core.display().to_string();
    let data =
        std::fs::read(core).map_err(|e| AttachError::io(format!("reading core file {name}"), e))?;
    let facts = parse(&name, &data)?;
    let exe_path = match (exe, &facts.exe) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(p)) => p.clone(),
        (None, None) => {
            return Err(AttachError::BadCore {
                path: name,
                message:
                    "the core does not name its executable (no NT_FILE note); pass --exe BINARY"
                        .into(),
            })
        }
    };
    let bin = GoBinary::load(&exe_path).map_err(|e| match e {
        AttachError::Io { source, .. } => AttachError::BadCore {
            path: name.clone(),
            message: format!(
                "cannot open its executable {}: {source}; pass --exe BINARY",
                exe_path.display()
            ),
        },
        other => other,
    })?;
    let bias = match (bin.pie, facts.exe_start) {
        (false, _) => 0,
        (true, Some(start)) => start.wrapping_sub(bin.base_vaddr),
        (true, None) => {
            return Err(AttachError::BadCore {
                path: name,
                message: format!(
                    "{} is position-independent and the core does not say where it was loaded (no NT_FILE note)",
                    exe_path.display()
                ),
            })
        }
    };
    let mem = CoreMemory {
        data: &data,
        loads: facts.loads,
        exe: Some(&bin),
        bias,
    };
    let wopts = WalkOptions {
        system: opts.system,
        retries: 0,
        now_nanos: None,
        threads: facts.threads,
        ..WalkOptions::default()
    };
    let source = Source {
        input: name,
        index: 0,
        line: None,
        format: Format::Core,
        kind: ProfileKind::Goroutine,
    };
    let mut snap = crate::snapshot_from_memory(&bin, &mem, bias, wopts, source)?;
    snap.taken_at = std::fs::metadata(core).and_then(|m| m.modified()).ok();
    snap.process = Some(ProcessInfo {
        pid: facts.pid,
        executable: Some(exe_path.display().to_string()),
        args: Vec::new(),
    });
    snap.warnings.push(goroscope_model::Warning::new(
        "core file: wait durations are not computed (the time of the dump is unknown)",
    ));
    Ok(snap)
}
