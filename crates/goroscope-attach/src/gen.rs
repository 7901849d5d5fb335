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
    toolchains_in(&[repo.join(".toolchains")])
}

/// Toolchains for the layout tables: `.toolchains` plus the directories in
/// `GOROSCOPE_EXTRA_TOOLCHAINS` (colon-separated, same `go-<version>/bin/go` shape), so
/// releases the tests do not run (1.22, 1.24, 1.26) can still get a table.
pub fn table_toolchains(repo: &Path) -> Vec<Toolchain> {
    let mut dirs = vec![repo.join(".toolchains")];
    if let Ok(extra) = std::env::var("GOROSCOPE_EXTRA_TOOLCHAINS") {
        dirs.extend(
            extra
                .split(':')
                .filter(|d| !d.is_empty())
                .map(PathBuf::from),
        );
    }
    toolchains_in(&dirs)
}

fn toolchains_in(dirs: &[PathBuf]) -> Vec<Toolchain> {
    let mut v: Vec<Toolchain> = dirs
        .iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten())
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
pub fn wait_reasons(goroot: &Path) -> Result<(Vec<String>, Vec<String>), AttachError> {
    let p = goroot.join("src/runtime/runtime2.go");
    let src =
        std::fs::read_to_string(&p).map_err(|e| AttachError::io(p.display().to_string(), e))?;
    let names = iota_block(&src, "waitReasonZero");
    let start = src
        .find("var waitReasonStrings")
        .ok_or_else(|| AttachError::bad_binary(format!("{}: no waitReasonStrings", p.display())))?;
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
pub fn funcid_wrapper(goroot: &Path) -> Result<u8, AttachError> {
    let p = goroot.join("src/internal/abi/symtab.go");
    let src =
        std::fs::read_to_string(&p).map_err(|e| AttachError::io(p.display().to_string(), e))?;
    iota_block(&src, "FuncIDNormal")
        .iter()
        .position(|n| n == "FuncIDWrapper")
        .map(|i| i as u8)
        .ok_or_else(|| AttachError::bad_binary(format!("{}: no FuncIDWrapper", p.display())))
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
        return Err(AttachError::run(format!(
            "go {} build of the probe failed",
            tc.version
        )));
    }
    let bytes = std::fs::read(&exe).map_err(|e| AttachError::io("reading probe", e))?;
    let file = object::File::parse(&*bytes).map_err(|e| AttachError::bad_binary(e.to_string()))?;
    let facts =
        crate::dwarf::read(&file)?.ok_or_else(|| AttachError::bad_binary("probe has no DWARF"))?;
    let minor = go_minor(&format!("go{}", tc.version)).unwrap_or(0);
    let mut l = crate::dwarf::layout_from(&facts, minor, None)?;
    l.funcid_wrapper = funcid_wrapper(&root)?;
    (l.wait_reasons, l.wait_reason_names) = wait_reasons(&root)?;
    // Cross-check: the binary's own loader must accept it.
    let _ = GoBinary::from_bytes(exe.display().to_string(), &bytes)?;
    Ok(l)
}

const HEADER: &str =
    "// @generated by `cargo run -p goroscope-attach --example gen_layouts`; do not edit.
// Offsets (StaticLayout::offsets order): g size, stack, m, sched, syscallsp, syscallpc,
// atomicstatus, goid, waitsince, waitreason, lockedm, parentGoid, gopc, startpc, labels,
// gobuf.sp, gobuf.pc, gobuf.bp, m.procid, m.curg, moduledata.gofunc.
pub static TABLES: &[StaticLayout] = &[
";

/// One table row (as Rust source) for a toolchain.
pub fn row(tc: &Toolchain, work: &Path) -> Result<String, AttachError> {
    let l = layout_for(tc, work)?;
    let mut s = String::new();
    let _ = writeln!(s, "    // go{}", tc.version);
    s.push_str("    StaticLayout {\n");
    let _ = writeln!(s, "        minor: {},", l.minor);
    let _ = writeln!(s, "        offsets: {:?},", l.offsets());
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
pub fn generate(tcs: &[Toolchain], work: &Path, existing: &str) -> Result<String, AttachError> {
    let mut rows = split_rows(existing);
    for tc in tcs {
        let r = row(tc, work)?;
        rows.retain(|(v, _)| v != &tc.version);
        rows.push((tc.version.clone(), r));
    }
    Ok(render(rows))
}
