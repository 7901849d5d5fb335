//! Names for what the probes report, from the target's own binary: `gopc` → the `go`
//! statement exactly as attach prints `created by` ([`goroscope_attach::walk::creator_site`]),
//! `startpc` → the goroutine's function, stack pcs → frames with inlined calls expanded.

use crate::state::{SiteKey, Symbolize};
use goroscope_attach::binary::GoBinary;
use goroscope_attach::walk::{creator_site, print_name};

/// Symbolizes runtime addresses of a process running `bin` at load bias `bias`.
pub struct BinarySymbols<'a> {
    pub bin: &'a GoBinary,
    pub bias: u64,
}

impl Symbolize for BinarySymbols<'_> {
    fn site(&mut self, gopc: u64) -> (SiteKey, bool) {
        match creator_site(self.bin, self.bias, gopc) {
            Some(c) => (
                SiteKey::GoStatement {
                    function: c.function,
                    file: c.file,
                    line: c.line,
                },
                c.visible,
            ),
            None => (SiteKey::Unknown, true),
        }
    }

    fn function(&mut self, pc: u64) -> Option<String> {
        let f = self.bin.pclntab.find(pc.wrapping_sub(self.bias))?;
        Some(print_name(self.bin.pclntab.name(&f), self.bin.minor).into_owned())
    }
}

impl BinarySymbols<'_> {
    /// A user stack (innermost first; the first pc is where the probe fired, the others are
    /// return addresses) as `(function, file, line)` frames, inlined calls expanded.
    pub fn frames(&self, pcs: &[u64]) -> Vec<(String, String, u32)> {
        let mut out = Vec::new();
        for (i, &pc) in pcs.iter().enumerate() {
            let link = pc.wrapping_sub(self.bias);
            let Some(f) = self.bin.pclntab.find(link) else {
                out.push((format!("{pc:#x}"), String::new(), 0));
                continue;
            };
            let sym_pc = if i > 0 && link > f.entry {
                link - 1
            } else {
                link
            };
            let bin = self.bin;
            for sf in bin
                .pclntab
                .frames_at(&f, sym_pc, &|off, ix| bin.inl_record(off, ix))
            {
                out.push((
                    print_name(&sf.name, bin.minor).into_owned(),
                    sf.file,
                    sf.line,
                ));
            }
        }
        out
    }
}
