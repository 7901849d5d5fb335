//! The layout-table generator: builds a probe program with each installed Go toolchain, reads
//! the runtime's layout from its DWARF, and reads the wait-reason names and `FuncIDWrapper`
//! from that toolchain's own runtime source. Used by `examples/gen_layouts.rs` (writes
//! `src/layouts_gen.rs`) and by the drift test (regenerates and compares).

use crate::binary::{go_minor, GoBinary};
use crate::error::AttachError;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A toolchain found under `.toolchains/go-<version>/bin/go`.
#[derive(Debug, Clone)]
pub struct Toolchain {
    pub version: String,
    pub go: PathBuf,
}

/// Installed toolchains in `<repo>/.toolchains`, oldest first.
pub fn toolchains(repo: &Path) -> Vec<Toolchain> {
    let mut v: Vec<Toolchain> = std::fs::read_dir(repo.join(".toolchains"))
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().to_str()?.to_string();
            let version = name.strip_prefix("go-")?.to_string();
            let go = e.path().join("bin/go");
            go.exists().then_some(Toolchain { version, go })
        })
        .collect();
    v.sort_by_key(|t| {
        t.version
            .split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0))
            .collect::<Vec<_>>()
    });
    v
}

/// Runs `go` with a private cache and no network.
pub fn go_cmd(go: &Path) -> Command {
    let mut c = Command::new(go);
    let tmp = std::env::temp_dir().join("goroscope-attach-gocache");
    c.env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("GOCACHE", tmp.join("cache"))
        .env("GOPATH", tmp.join("gopath"))
        .env("CGO_ENABLED", "0");
    c
}

fn goroot(go: &Path) -> Result<PathBuf, AttachError> {
    let out = go_cmd(go)
        .args(["env", "GOROOT"])
        .output()
        .map_err(|e| AttachError::io(format!("running {}", go.display()), e))?;
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
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
pub fn wait_reasons(goroot: &Path) -> Result<Vec<String>, AttachError> {
    let p = goroot.join("src/runtime/runtime2.go");
    let src =
        std::fs::read_to_string(&p).map_err(|e| AttachError::io(p.display().to_string(), e))?;
    let names = iota_block(&src, "waitReasonZero");
    let start = src
        .find("var waitReasonStrings")
        .ok_or_else(|| AttachError::BadBinary(format!("{}: no waitReasonStrings", p.display())))?;
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
    Ok(names
        .iter()
        .map(|n| strings.get(n).cloned().unwrap_or_default())
        .collect())
}

/// `abi.FuncIDWrapper` of a source tree.
pub fn funcid_wrapper(goroot: &Path) -> Result<u8, AttachError> {
    let p = goroot.join("src/internal/abi/symtab.go");
    let src =
        std::fs::read_to_string(&p).map_err(|e| AttachError::io(p.display().to_string(), e))?;
    iota_block(&src, "FuncIDNormal")
        .iter()
        .position(|n| n == "FuncIDWrapper")
        .map(|i| i as u8)
        .ok_or_else(|| AttachError::BadBinary(format!("{}: no FuncIDWrapper", p.display())))
}

const PROBE: &str = "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"probe\") }\n";

/// One table row for a toolchain.
pub fn layout_for(tc: &Toolchain, work: &Path) -> Result<crate::layout::Layout, AttachError> {
    let root = goroot(&tc.go)?;
    let dir = work.join(format!("probe-{}", tc.version));
    std::fs::create_dir_all(&dir).map_err(|e| AttachError::io("creating probe dir", e))?;
    std::fs::write(dir.join("main.go"), PROBE).map_err(|e| AttachError::io("writing probe", e))?;
    std::fs::write(dir.join("go.mod"), "module probe\n\ngo 1.21\n")
        .map_err(|e| AttachError::io("writing probe", e))?;
    let exe = dir.join("probe");
    let st = go_cmd(&tc.go)
        .current_dir(&dir)
        .args(["build", "-o"])
        .arg(&exe)
        .arg(".")
        .status()
        .map_err(|e| AttachError::io("go build", e))?;
    if !st.success() {
        return Err(AttachError::Run(format!(
            "go {} build of the probe failed",
            tc.version
        )));
    }
    let bytes = std::fs::read(&exe).map_err(|e| AttachError::io("reading probe", e))?;
    let file = object::File::parse(&*bytes).map_err(|e| AttachError::BadBinary(e.to_string()))?;
    let facts = crate::dwarf::read(&file)?
        .ok_or_else(|| AttachError::BadBinary("probe has no DWARF".into()))?;
    let minor = go_minor(&format!("go{}", tc.version)).unwrap_or(0);
    let mut l = crate::dwarf::layout_from(&facts, minor, None)?;
    l.funcid_wrapper = funcid_wrapper(&root)?;
    l.wait_reasons = wait_reasons(&root)?;
    // Cross-check: the binary's own loader must accept it.
    let _ = GoBinary::from_bytes(exe.display().to_string(), &bytes)?;
    Ok(l)
}

/// The text of `src/layouts_gen.rs` for these toolchains.
pub fn generate(tcs: &[Toolchain], work: &Path) -> Result<String, AttachError> {
    let mut s = String::new();
    s.push_str(
        "// @generated by `cargo run -p goroscope-attach --example gen_layouts`; do not edit.\n",
    );
    s.push_str("// Offsets (StaticLayout::offsets order): g size, stack, m, sched, syscallsp, syscallpc,\n");
    s.push_str("// atomicstatus, goid, waitsince, waitreason, lockedm, parentGoid, gopc, startpc, labels,\n");
    s.push_str("// gobuf.sp, gobuf.pc, gobuf.bp, m.procid, m.curg, moduledata.gofunc.\n");
    s.push_str("pub static TABLES: &[StaticLayout] = &[\n");
    for tc in tcs {
        let l = layout_for(tc, work)?;
        let _ = writeln!(s, "    // go{}", tc.version);
        s.push_str("    StaticLayout {\n");
        let _ = writeln!(s, "        minor: {},", l.minor);
        let _ = writeln!(s, "        offsets: {:?},", l.offsets());
        let _ = writeln!(s, "        funcid_wrapper: {},", l.funcid_wrapper);
        s.push_str("        wait_reasons: &[\n");
        for w in &l.wait_reasons {
            let _ = writeln!(s, "            {w:?},");
        }
        s.push_str("        ],\n    },\n");
    }
    s.push_str("];\n");
    Ok(s)
}
