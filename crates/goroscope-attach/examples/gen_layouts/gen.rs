//! The layout-table generator: builds a probe program with each installed Go toolchain, reads
//! the runtime's layout from its DWARF, and reads the wait-reason names and `FuncIDWrapper`
//! from that toolchain's own runtime source. Used by `main.rs` beside it (writes
//! `src/layouts_gen.rs`) and by `tests/layout_drift.rs` (regenerates and compares); not part of
//! the library.
#![allow(dead_code)]

use goroscope_attach::binary::GoBinary;
use goroscope_attach::layout::Layout;
use std::fmt::Write as _;
use std::path::Path;

pub use goroscope_fixtures::Toolchain;

/// Toolchains for the layout tables: `.toolchains` plus the directories in
/// `GOROSCOPE_EXTRA_TOOLCHAINS` (colon-separated, same `go-<version>/bin/go` shape), so
/// releases the tests do not run (1.22, 1.24, 1.26) can still get a table.
pub fn table_toolchains() -> Vec<Toolchain> {
    goroscope_fixtures::extra_toolchains()
}

/// Names of a Go `const ( X T = iota ...)` block starting at the line containing `first`.
fn iota_block(src: &str, first: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut on = false;
    for line in src.lines() {
        let l = line.split("//").next().unwrap_or("").trim();
        if !on {
            if l.starts_with(first) && l.contains("iota") {
                on = true;
                out.push(first.to_string());
            }
            continue;
        }
        if l.starts_with(')') {
            break;
        }
        if l.is_empty() {
            continue;
        }
        let name = l.split_whitespace().next().unwrap_or("");
        out.push(name.to_string());
    }
    out
}

/// `waitReasonStrings` of a runtime source tree, indexed by wait reason number.
pub fn wait_reasons(goroot: &Path) -> Result<(Vec<String>, Vec<String>), String> {
    let p = goroot.join("src/runtime/runtime2.go");
    let src = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    let names = iota_block(&src, "waitReasonZero");
    let start = src
        .find("var waitReasonStrings")
        .ok_or_else(|| format!("{}: no waitReasonStrings", p.display()))?;
    let body = &src[start..];
    let body = &body[..body.find("\n}").unwrap_or(body.len())];
    let mut strings = std::collections::HashMap::new();
    for line in body.lines() {
        let l = line.trim();
        if let Some((name, rest)) = l.split_once(':') {
            if let (Some(a), Some(b)) = (rest.find('"'), rest.rfind('"')) {
                if b > a {
                    strings.insert(name.trim().to_string(), rest[a + 1..b].to_string());
                }
            }
        }
    }
    let texts = names
        .iter()
        .map(|n| strings.get(n).cloned().unwrap_or_default())
        .collect();
    Ok((texts, names))
}

/// `abi.FuncIDWrapper` of a source tree.
pub fn funcid_wrapper(goroot: &Path) -> Result<u8, String> {
    let p = goroot.join("src/internal/abi/symtab.go");
    let src = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    iota_block(&src, "FuncIDNormal")
        .iter()
        .position(|n| n == "FuncIDWrapper")
        .map(|i| i as u8)
        .ok_or_else(|| format!("{}: no FuncIDWrapper", p.display()))
}

/// A program that uses every type whose layout the tables hold (the linker keeps only the
/// types a program uses in DWARF): channels and a select, `sync.Mutex`, `RWMutex`,
/// `WaitGroup` and `Cond`.
const PROBE: &str = r#"package main

import (
	"fmt"
	"sync"
)

func main() {
	var mu sync.Mutex
	var rw sync.RWMutex
	var wg sync.WaitGroup
	c := sync.NewCond(&mu)
	ch := make(chan int, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		rw.RLock()
		mu.Lock()
		c.Broadcast()
		mu.Unlock()
		rw.RUnlock()
		ch <- 1
	}()
	wg.Wait()
	select {
	case v := <-ch:
		fmt.Println("probe", v)
	}
}
"#;

/// One table row for a toolchain: offsets from a probe program's DWARF (read by the library's
/// own loader), wait reasons and `FuncIDWrapper` from the toolchain's runtime source.
pub fn layout_for(tc: &Toolchain, work: &Path) -> Result<Layout, String> {
    let root = tc.goroot();
    let dir = work.join(format!("probe-{}", tc.version));
    let io = |what: &str, e: std::io::Error| format!("{what} {}: {e}", dir.display());
    std::fs::create_dir_all(&dir).map_err(|e| io("creating", e))?;
    std::fs::write(dir.join("main.go"), PROBE).map_err(|e| io("writing a probe in", e))?;
    std::fs::write(dir.join("go.mod"), "module probe\n\ngo 1.21\n")
        .map_err(|e| io("writing a probe in", e))?;
    let exe = dir.join("probe");
    let st = goroscope_fixtures::go_command(tc)
        .current_dir(&dir)
        .args(["build", "-o"])
        .arg(&exe)
        .arg(".")
        .status()
        .map_err(|e| format!("running go {} build: {e}", tc.version))?;
    if !st.success() {
        return Err(format!("go {} build of the probe failed", tc.version));
    }
    let bytes = std::fs::read(&exe).map_err(|e| io("reading the probe in", e))?;
    let bin = GoBinary::from_bytes(exe.display().to_string(), &bytes).map_err(|e| e.to_string())?;
    if bin.layout_source != "DWARF" {
        return Err(format!("the probe of go{} has no DWARF", tc.version));
    }
    let mut l = bin.layout;
    l.funcid_wrapper = funcid_wrapper(&root)?;
    (l.wait_reasons, l.wait_reason_names) = wait_reasons(&root)?;
    Ok(l)
}

const HEADER: &str =
    "// @generated by `cargo run -p goroscope-attach --example gen_layouts`; do not edit.
// Offsets (StaticLayout::offsets order): g size, stack, m, sched, syscallsp, syscallpc,
// atomicstatus, goid, waitsince, waitreason, lockedm, parentGoid, gopc, startpc, labels,
// gobuf.sp, gobuf.pc, gobuf.bp, m.procid, m.curg, moduledata.gofunc.
// Mem (MemLayout::to_array order): g.waiting, sudog size, sudog.g, next, prev, elem, isSelect,
// waitlink, c, hchan.qcount, dataqsiz, closed, timer (0: none), recvq.first, sendq.first,
// semaRoot.treap, semaRoot size, notifyList.head, sync.Mutex sema, RWMutex writerSem,
// readerSem, WaitGroup sema, Cond notify, mheap.arenas, heapArena.spans, mspan.startAddr,
// mspan.elemsize.
pub static TABLES: &[StaticLayout] = &[
";

/// One table row (as Rust source) for a toolchain.
pub fn row(tc: &Toolchain, work: &Path) -> Result<String, String> {
    let l = layout_for(tc, work)?;
    let mut s = String::new();
    let _ = writeln!(s, "    // go{}", tc.version);
    s.push_str("    StaticLayout {\n");
    let _ = writeln!(s, "        minor: {},", l.minor);
    let _ = writeln!(s, "        offsets: {:?},", l.offsets());
    let mem = l
        .mem
        .ok_or_else(|| format!("the probe of go{} lacks a wait-object layout", tc.version))?;
    let _ = writeln!(s, "        mem: {:?},", mem.to_array());
    let _ = writeln!(s, "        funcid_wrapper: {},", l.funcid_wrapper);
    s.push_str("        wait_reasons: &[\n");
    for w in &l.wait_reasons {
        let _ = writeln!(s, "            {w:?},");
    }
    s.push_str("        ],\n        wait_reason_names: &[\n");
    for w in &l.wait_reason_names {
        let _ = writeln!(s, "            {w:?},");
    }
    s.push_str("        ],\n    },\n");
    Ok(s)
}

/// Splits a generated file into `(version, row text)`.
pub fn split_rows(text: &str) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(v) = line.trim().strip_prefix("// go") {
            if line.starts_with("    // go") {
                rows.push((v.to_string(), String::new()));
            }
        }
        if line == "];" {
            break;
        }
        if let Some(r) = rows.last_mut() {
            r.1.push_str(line);
            r.1.push('\n');
        }
    }
    rows
}

fn version_key(v: &str) -> Vec<u32> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// The whole file from rows (sorted by version; one row per minor, the newest patch wins).
pub fn render(mut rows: Vec<(String, String)>) -> String {
    rows.sort_by_key(|r| version_key(&r.0));
    let mut by_minor: std::collections::BTreeMap<u32, (String, String)> = Default::default();
    for r in rows {
        let minor = version_key(&r.0).get(1).copied().unwrap_or(0);
        by_minor.insert(minor, r);
    }
    let mut s = HEADER.to_string();
    for (_, (_, text)) in by_minor {
        s.push_str(&text);
    }
    s.push_str("];\n");
    s
}

/// Regenerates the rows of the installed toolchains and keeps the other rows of `existing`.
pub fn generate(tcs: &[Toolchain], work: &Path, existing: &str) -> Result<String, String> {
    let mut rows = split_rows(existing);
    for tc in tcs {
        let r = row(tc, work)?;
        rows.retain(|(v, _)| v != &tc.version);
        rows.push((tc.version.clone(), r));
    }
    Ok(render(rows))
}
