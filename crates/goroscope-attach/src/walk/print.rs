//! Printing like the runtime: physical frames → logical frames (inline trees expanded), hidden
//! the way `traceback` hides them (unexported `runtime.` frames, wrappers, the 50 + 50 elision),
//! named the way `printFuncName` names them.

use super::{Walker, INNER_FRAMES, OUTER_FRAMES};
use goroscope_model::{ArgRole, Elision, Frame, FrameId};
use std::rc::Rc;

/// One logical frame, symbolized once per physical pc.
#[derive(Debug, Clone, Copy)]
pub(super) struct Logical {
    id: FrameId,
    /// Name has a dot and is not an unexported `runtime.` function.
    visible_by_name: bool,
    gopanic: bool,
    /// `runtime.runFinalizers` / `runtime.runCleanups`: always shown.
    always: bool,
    wrapper: bool,
    /// `gopanic`, `sigpanic`, `panicwrap`: a wrapper calling these is shown.
    panicky: bool,
    /// Inlined into its physical frame: printed with `(...)`.
    inlined: bool,
    /// What its argument words are to the keep policy (a method: its first word is the
    /// receiver).
    role: ArgRole,
}

/// A frame the runtime prints.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shown {
    pub id: FrameId,
    /// Index of its physical frame.
    pub phys: u32,
    pub inlined: bool,
    pub role: ArgRole,
}

/// The frames the runtime prints, with elision.
pub(super) struct Printed {
    pub frames: Vec<Shown>,
    pub elided: Elision,
}

impl Walker<'_> {
    pub(super) fn logical(&mut self, pc: u64, trap: bool) -> Rc<[Logical]> {
        if let Some(v) = self.cache.get(&(pc, trap)) {
            return v.clone();
        }
        let Some(f) = self.find(pc) else {
            return Rc::from(Vec::new());
        };
        let link_pc = pc.wrapping_sub(self.bias);
        let sym_pc = if !trap && link_pc > f.entry {
            link_pc - 1
        } else {
            link_pc
        };
        let bin = self.bin;
        let frames = bin
            .pclntab
            .frames_at(&f, sym_pc, &|off, ix| bin.inl_record(off, ix));
        let n = frames.len();
        let wrapper_id = bin.layout.funcid_wrapper;
        let v: Rc<[Logical]> = frames
            .into_iter()
            .enumerate()
            .map(|(i, sf)| {
                let physical = i + 1 == n;
                let printed = print_name(&sf.name, bin.minor);
                let role = ArgRole::of(printed.as_bytes());
                let function = self.interner.intern_str(&printed);
                let file = self.interner.intern_str(&sf.file);
                let id = self.interner.intern_frame(Frame {
                    function,
                    file,
                    line: sf.line,
                    offset: physical
                        .then(|| link_pc.saturating_sub(f.entry) as u32)
                        .filter(|&o| o > 0),
                    inlined: !physical,
                });
                let name = sf.name.as_str();
                Logical {
                    id,
                    visible_by_name: visible_name(name),
                    gopanic: name == "runtime.gopanic",
                    always: name == "runtime.runFinalizers" || name == "runtime.runCleanups",
                    wrapper: sf.func_id == wrapper_id && wrapper_id != 0,
                    panicky: matches!(
                        name,
                        "runtime.gopanic" | "runtime.sigpanic" | "runtime.panicwrap"
                    ),
                    inlined: !physical,
                    role,
                }
            })
            .collect();
        self.cache.insert((pc, trap), v.clone());
        v
    }

    /// The frames the runtime would print, with elision.
    pub(super) fn printed(&mut self, phys: &[super::unwind::Phys]) -> Printed {
        let mut all: Vec<(Logical, u32)> = Vec::new();
        for (k, p) in phys.iter().enumerate() {
            for l in self.logical(p.pc, p.trap).iter() {
                all.push((*l, k as u32));
            }
        }
        let pick = |show_runtime: bool| -> Vec<Shown> {
            let mut out: Vec<Shown> = Vec::new();
            let mut callee_panicky = false;
            for (l, k) in &all {
                let callee = callee_panicky;
                callee_panicky = l.panicky;
                let show = show_runtime
                    || if l.wrapper && !callee {
                        false
                    } else {
                        l.always || (l.gopanic && !out.is_empty()) || l.visible_by_name
                    };
                if show {
                    out.push(Shown {
                        id: l.id,
                        phys: *k,
                        inlined: l.inlined,
                        role: l.role,
                    });
                }
            }
            out
        };
        let mut shown = pick(self.opts.system);
        if shown.is_empty() {
            shown = pick(true);
        }
        if shown.len() > INNER_FRAMES + OUTER_FRAMES {
            let elided = shown.len() - INNER_FRAMES - OUTER_FRAMES;
            shown.drain(INNER_FRAMES..shown.len() - OUTER_FRAMES);
            return Printed {
                frames: shown,
                elided: Elision::Count(elided as u32),
            };
        }
        Printed {
            frames: shown,
            elided: Elision::None,
        }
    }
}

/// A function name the way the runtime prints it (`printFuncName`): `runtime.gopanic` is
/// `panic`, and generic shapes become `[...]` (Go 1.26+ keeps the method name of a generic
/// method of a generic type between two `[...]`).
pub fn print_name(name: &str, minor: u32) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    if name == "runtime.gopanic" {
        return Cow::Borrowed("panic");
    }
    let Some(i) = name.find('[') else {
        return Cow::Borrowed(name);
    };
    let Some(j) = name.rfind(']') else {
        return Cow::Borrowed(name);
    };
    if j <= i {
        return Cow::Borrowed(name);
    }
    let interior = &name[i + 1..j];
    if minor < 26 || !interior.contains('[') {
        return Cow::Owned(format!("{}[...]{}", &name[..i], &name[j + 1..]));
    }
    let (mut depth, mut rbr, mut lbr) = (1i32, None, None);
    for (k, c) in interior.char_indices() {
        if c == '[' {
            depth += 1;
            if depth != 1 {
                continue;
            }
            lbr = Some(k);
            break;
        }
        if c == ']' {
            depth -= 1;
            if depth < 0 {
                break;
            }
            if depth != 0 {
                continue;
            }
            rbr = Some(k);
        }
    }
    if depth == 1 {
        match (rbr, lbr) {
            (Some(r), Some(l)) if l > r => {
                return Cow::Owned(format!(
                    "{}[...]{}[...]{}",
                    &name[..i],
                    &interior[r + 1..l],
                    &name[j + 1..]
                ))
            }
            (None, None) => return Cow::Owned(format!("{}[...]{}", &name[..i], &name[j + 1..])),
            _ => {}
        }
    }
    Cow::Borrowed(name)
}

/// `showfuncinfo`'s name test: a dot, and not an unexported `runtime.` function.
pub fn visible_name(name: &str) -> bool {
    if !name.contains('.') {
        return false;
    }
    match name.strip_prefix("runtime.") {
        Some(rest) => rest.starts_with(|c: char| c.is_ascii_uppercase()),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_print_like_print_func_name() {
        assert_eq!(print_name("runtime.gopanic", 27), "panic");
        assert_eq!(print_name("main.f[go.shape.int]", 21), "main.f[...]");
        assert_eq!(
            print_name("main.(*T[go.shape.int]).m", 27),
            "main.(*T[...]).m"
        );
        assert_eq!(
            print_name("main.(*T[go.shape.int]).m[go.shape.string]", 27),
            "main.(*T[...]).m[...]"
        );
        assert_eq!(
            print_name("main.(*T[go.shape.int]).m[go.shape.string]", 25),
            "main.(*T[...]"
        );
        assert_eq!(print_name("main.plain", 27), "main.plain");
        assert_eq!(print_name("weird]name[", 27), "weird]name[");
    }

    #[test]
    fn runtime_frames_are_hidden_like_showfuncinfo() {
        assert!(visible_name("main.main"));
        assert!(visible_name("runtime.Gosched"));
        assert!(!visible_name("runtime.gopark"));
        assert!(!visible_name("runtime.goexit"));
        assert!(visible_name("runtime/pprof.writeGoroutine"));
        assert!(!visible_name("nodot"));
    }
}
