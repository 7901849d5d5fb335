//! Our own decoder for Go's `.gopclntab` (format of Go 1.20+, magic `0xfffffff1`): the function
//! table, pc-value tables (`pcsp`, `pcfile`, `pcln`, pcdata), file names and inline trees,
//! read the way `src/runtime/symtab.go` and `symtabinl.go` read them.

use crate::error::AttachError;

/// `pcHeader.magic` for Go 1.20 and later.
pub const MAGIC_GO120: u32 = 0xffff_fff1;
const PCDATA_INL_TREE_INDEX: usize = 2;
/// `abi.PCDATA_StackMapIndex`.
pub const PCDATA_STACK_MAP_INDEX: usize = 1;
/// `abi.PCDATA_ArgLiveIndex` (the same in Go 1.21 to 1.27).
pub const PCDATA_ARG_LIVE_INDEX: usize = 3;
const FUNCDATA_INL_TREE: usize = 3;
/// `abi.FUNCDATA_ArgsPointerMaps`: the GC's maps of live pointer slots among a frame's
/// arguments (register arguments' spill slots included).
pub const FUNCDATA_ARGS_POINTER_MAPS: usize = 0;
/// `abi.FUNCDATA_LocalsPointerMaps`: the GC's maps of live pointer slots among a frame's locals.
pub const FUNCDATA_LOCALS_POINTER_MAPS: usize = 1;
/// `abi.FUNCDATA_ArgInfo`: how `printArgs` prints the arguments.
pub const FUNCDATA_ARG_INFO: usize = 5;
/// `abi.FUNCDATA_ArgLiveInfo`: which register-argument spill slots are live at a pc.
pub const FUNCDATA_ARG_LIVE_INFO: usize = 6;
/// `abi.FuncFlagTopFrame`: the outermost frame of a stack (`runtime.goexit`, `mstart`, …).
pub const FUNC_FLAG_TOP_FRAME: u8 = 1;

/// A decoded `.gopclntab`.
pub struct Pclntab {
    data: Vec<u8>,
    /// Link-time address of the table (for moduledata searches).
    pub addr: u64,
    nfunc: usize,
    /// Address the function entry offsets are relative to (`moduledata.text`).
    pub text_start: u64,
    funcname: usize,
    cutab: usize,
    filetab: usize,
    pctab: usize,
    pcln: usize,
    min_lc: u64,
}

/// One function of the table.
#[derive(Debug, Clone, Copy)]
pub struct Func {
    pub entry: u64,
    /// First pc after the function.
    pub end: u64,
    off: usize,
    pub name_off: i32,
    pcsp: u32,
    pcfile: u32,
    pcln: u32,
    npcdata: u32,
    cu_offset: u32,
    pub func_id: u8,
    pub flag: u8,
    nfuncdata: u8,
}

/// One logical frame of a physical pc: the function itself or one inlined into it.
#[derive(Debug, Clone)]
pub struct SrcFrame {
    pub name: String,
    pub file: String,
    pub line: u32,
    pub func_id: u8,
    pub inlined: bool,
}

fn bad(msg: impl Into<String>) -> AttachError {
    AttachError::bad_binary(format!(".gopclntab: {}", msg.into()))
}

impl Pclntab {
    /// Parses the header. `text_start` is used when the header's own field is 0 (Go 1.26+).
    pub fn parse(data: Vec<u8>, addr: u64, text_start: u64) -> Result<Pclntab, AttachError> {
        if data.len() < 72 {
            return Err(bad("shorter than its header"));
        }
        let magic = u32::from_le_bytes(data[0..4].try_into().unwrap());
        if magic != MAGIC_GO120 {
            return Err(AttachError::UnsupportedGo {
                message: format!(
                    "pclntab magic {magic:#x}: only Go 1.20+ tables (0xfffffff1) are supported"
                ),
            });
        }
        if data[7] != 8 {
            return Err(bad(format!(
                "pointer size {} (only 64-bit targets)",
                data[7]
            )));
        }
        let word = |i: usize| u64::from_le_bytes(data[8 + i * 8..16 + i * 8].try_into().unwrap());
        let nfunc = word(0) as usize;
        let header_text = word(2);
        let t = Pclntab {
            nfunc,
            text_start: if header_text != 0 {
                header_text
            } else {
                text_start
            },
            funcname: word(3) as usize,
            cutab: word(4) as usize,
            filetab: word(5) as usize,
            pctab: word(6) as usize,
            pcln: word(7) as usize,
            min_lc: data[6].max(1) as u64,
            addr,
            data,
        };
        let need = nfunc
            .checked_add(1)
            .and_then(|n| n.checked_mul(8))
            .and_then(|n| t.pcln.checked_add(n));
        if need.is_none_or(|n| n > t.data.len())
            || [t.funcname, t.cutab, t.filetab, t.pctab]
                .iter()
                .any(|&o| o > t.data.len())
        {
            return Err(bad("header offsets point outside the table"));
        }
        Ok(t)
    }

    fn u32_at(&self, off: usize) -> Option<u32> {
        self.data
            .get(off..off + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
    }

    fn cstr(&self, off: usize) -> &str {
        let Some(tail) = self.data.get(off..) else {
            return "?";
        };
        let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
        std::str::from_utf8(&tail[..end]).unwrap_or("?")
    }

    /// Number of functions.
    pub fn len(&self) -> usize {
        self.nfunc
    }

    pub fn is_empty(&self) -> bool {
        self.nfunc == 0
    }

    fn ftab(&self, i: usize) -> (u32, u32) {
        let o = self.pcln + i * 8;
        (self.u32_at(o).unwrap_or(0), self.u32_at(o + 4).unwrap_or(0))
    }

    /// Text range covered by the table.
    pub fn text_range(&self) -> (u64, u64) {
        (
            self.text_start.saturating_add(self.ftab(0).0 as u64),
            self.text_start
                .saturating_add(self.ftab(self.nfunc).0 as u64),
        )
    }

    /// The `i`th function.
    pub fn func(&self, i: usize) -> Option<Func> {
        if i >= self.nfunc {
            return None;
        }
        let (entry_off, func_off) = self.ftab(i);
        let end_off = self.ftab(i + 1).0;
        let off = self.pcln + func_off as usize;
        let f = |k: usize| self.u32_at(off + 4 * k);
        let fixed = self.data.get(off + 40..off + 44)?;
        Some(Func {
            entry: self.text_start.checked_add(f(0)? as u64)?,
            end: self.text_start.checked_add(end_off as u64)?,
            off,
            name_off: f(1)? as i32,
            pcsp: f(4)?,
            pcfile: f(5)?,
            pcln: f(6)?,
            npcdata: f(7)?,
            cu_offset: f(8)?,
            func_id: fixed[0],
            flag: fixed[1],
            nfuncdata: fixed[3],
        })
        .filter(|fu| Some(fu.entry) == self.text_start.checked_add(entry_off as u64))
    }

    /// The function containing `pc`.
    pub fn find(&self, pc: u64) -> Option<Func> {
        let (lo, hi) = self.text_range();
        if pc < lo || pc >= hi {
            return None;
        }
        let Ok(off) = u32::try_from(pc - self.text_start) else {
            return None;
        };
        // Largest i with ftab[i].entry <= off.
        let (mut a, mut b) = (0usize, self.nfunc);
        while b - a > 1 {
            let m = (a + b) / 2;
            if self.ftab(m).0 <= off {
                a = m;
            } else {
                b = m;
            }
        }
        self.func(a)
    }

    /// Looks a function up by exact name (linear; used a few times per binary).
    pub fn find_by_name(&self, name: &str) -> Option<Func> {
        (0..self.nfunc)
            .filter_map(|i| self.func(i))
            .find(|f| self.name_at(f.name_off) == name)
    }

    /// A function name by `nameOff`.
    pub fn name_at(&self, name_off: i32) -> &str {
        if name_off < 0 {
            return "?";
        }
        self.cstr(self.funcname + name_off as usize)
    }

    pub fn name(&self, f: &Func) -> &str {
        self.name_at(f.name_off)
    }

    /// Runs a pc-value table; returns the value at `target`, or `None` when the table has no
    /// entry for it (or is malformed).
    pub fn pcvalue(&self, f: &Func, table: u32, target: u64) -> Option<i32> {
        if table == 0 {
            return None;
        }
        let mut p = self.pctab + table as usize;
        let mut pc = f.entry;
        let mut val: i32 = -1;
        let mut first = true;
        loop {
            let (uvdelta, n) = self.varint(p)?;
            p += n;
            if uvdelta == 0 && !first {
                return None;
            }
            first = false;
            let vdelta = if uvdelta & 1 != 0 {
                !(uvdelta >> 1) as i32
            } else {
                (uvdelta >> 1) as i32
            };
            val = val.wrapping_add(vdelta);
            let (pcdelta, n) = self.varint(p)?;
            p += n;
            pc = pc.checked_add(pcdelta as u64 * self.min_lc)?;
            if target < pc {
                return Some(val);
            }
            if pc >= f.end {
                return None;
            }
        }
    }

    fn varint(&self, mut p: usize) -> Option<(u32, usize)> {
        let start = p;
        let mut v: u32 = 0;
        let mut shift = 0;
        loop {
            let b = *self.data.get(p)?;
            p += 1;
            v |= ((b & 0x7f) as u32).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some((v, p - start));
            }
            shift += 7;
            if shift > 28 {
                return None;
            }
        }
    }

    /// Stack-pointer delta at `pc` (`funcspdelta`).
    pub fn sp_delta(&self, f: &Func, pc: u64) -> Option<i32> {
        self.pcvalue(f, f.pcsp, pc)
    }

    /// File and line of `pc` in the physical function `f` (`funcline1`).
    pub fn file_line(&self, f: &Func, pc: u64) -> (String, u32) {
        let file = self
            .pcvalue(f, f.pcfile, pc)
            .and_then(|fno| {
                if fno < 0 {
                    return None;
                }
                let o = self.u32_at(self.cutab + 4 * (f.cu_offset as usize + fno as usize))?;
                if o == u32::MAX {
                    return None;
                }
                Some(self.cstr(self.filetab + o as usize).to_string())
            })
            .unwrap_or_else(|| "?".to_string());
        let line = self.pcvalue(f, f.pcln, pc).unwrap_or(0).max(0) as u32;
        (file, line)
    }

    fn pcdata_table(&self, f: &Func, i: usize) -> Option<u32> {
        if i >= f.npcdata as usize {
            return None;
        }
        self.u32_at(f.off + 44 + 4 * i)
    }

    /// `pcdatavalue`: the value of pcdata table `i` at `pc`, -1 when the function has no such
    /// table or it has no entry for `pc`.
    pub fn pcdata_value(&self, f: &Func, i: usize, pc: u64) -> i32 {
        match self.pcdata_table(f, i) {
            Some(t) if t != 0 => self.pcvalue(f, t, pc).unwrap_or(-1),
            _ => -1,
        }
    }

    /// The funcdata offset (relative to `moduledata.gofunc`) of slot `i`.
    pub fn funcdata_off(&self, f: &Func, i: usize) -> Option<u32> {
        if i >= f.nfuncdata as usize {
            return None;
        }
        let o = self.u32_at(f.off + 44 + 4 * f.npcdata as usize + 4 * i)?;
        (o != u32::MAX).then_some(o)
    }

    /// Every logical frame at `pc` (`symPC`, already backed up into the call), innermost first,
    /// expanding the inline tree as `runtime.newInlineUnwinder` does. `inl_tree` reads the
    /// 16-byte `inlinedCall` records at a `gofunc`-relative offset.
    pub fn frames_at(
        &self,
        f: &Func,
        pc: u64,
        inl_tree: &dyn Fn(u32, i32) -> Option<[u8; 16]>,
    ) -> Vec<SrcFrame> {
        let mut out = Vec::new();
        let tree = self.funcdata_off(f, FUNCDATA_INL_TREE);
        let table = self.pcdata_table(f, PCDATA_INL_TREE_INDEX);
        let mut cur = pc;
        let index_at = |p: u64| match (tree, table) {
            (Some(_), Some(t)) => self.pcvalue(f, t, p).unwrap_or(-1),
            _ => -1,
        };
        let mut ix = index_at(cur);
        // An inline tree is a forest of parents; bound the walk anyway.
        for _ in 0..256 {
            let (file, line) = self.file_line(f, cur);
            if ix < 0 {
                out.push(SrcFrame {
                    name: self.name(f).to_string(),
                    file,
                    line,
                    func_id: f.func_id,
                    inlined: false,
                });
                return out;
            }
            let Some(rec) = tree.and_then(|t| inl_tree(t, ix)) else {
                // Cannot read the tree: fall back to the physical function.
                out.push(SrcFrame {
                    name: self.name(f).to_string(),
                    file,
                    line,
                    func_id: f.func_id,
                    inlined: false,
                });
                return out;
            };
            let func_id = rec[0];
            let name_off = i32::from_le_bytes(rec[4..8].try_into().unwrap());
            let parent_pc = i32::from_le_bytes(rec[8..12].try_into().unwrap());
            out.push(SrcFrame {
                name: self.name_at(name_off).to_string(),
                file,
                line,
                func_id,
                inlined: true,
            });
            cur = f.entry.wrapping_add(parent_pc as i64 as u64);
            ix = index_at(cur);
        }
        out
    }
}
