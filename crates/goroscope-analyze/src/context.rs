//! The snapshot's context: what the moment it was taken means for the goroutines in it.
//!
//! Stated by the reader where it knows ([`Snapshot::context`]: a runtime-declared deadlock, a
//! crash header, a process's exit, a URL or an attach), given by the user (`--context`), or
//! inferred here from what the dump shows, in this order:
//!
//! 1. `--context` ([`crate::Options::context`]);
//! 2. the reader's [`Snapshot::context`];
//! 3. the crash header ([`Snapshot::reason`]): `all goroutines are asleep - deadlock!` →
//!    `deadlock`; `panic: test timed out` → `test`; any other `panic:`, `fatal error:` or
//!    signal header → `crash`;
//! 4. test frames (`testing.tRunner`, `testing.(*M).Run`, a `_test.go` file) → `test`;
//! 5. the form: a URL or an attach → `live`, a core → `crash`;
//! 6. otherwise `live`: a plain dump with no marker of an exit, crash or test is most likely
//!    taken from a running service, and `live` is the cautious reading (it asks for evidence
//!    before it convicts).

use goroscope_model::{Context, Format, Snapshot};
use serde::{Deserialize, Serialize};

/// The context a report was judged in, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextInfo {
    /// `live`, `exit`, `test`, `crash` or `deadlock`.
    pub kind: String,
    /// Why this context: who stated it, or what it was inferred from.
    pub why: String,
    /// Whether it was inferred by the analysis (not stated by the reader or the user).
    pub inferred: bool,
}

/// The effective context of `snap`, with the reason shown in reports.
pub fn effective(snap: &Snapshot, given: Option<Context>) -> (Context, ContextInfo) {
    let (c, why, inferred) = decide(snap, given);
    (
        c,
        ContextInfo {
            kind: c.as_str().to_string(),
            why,
            inferred,
        },
    )
}

const DEADLOCK: &str = "all goroutines are asleep - deadlock";
/// `testing/synctest` (Go 1.24+): the runtime's deadlock verdicts for a bubble.
const BUBBLE_DEADLOCK: &[&str] = &[
    "deadlock: main bubble goroutine has exited but blocked goroutines remain",
    "deadlock: all goroutines in bubble are blocked",
];

fn decide(snap: &Snapshot, given: Option<Context>) -> (Context, String, bool) {
    if let Some(c) = given {
        return (c, "given with --context".into(), false);
    }
    if let Some(c) = snap.context {
        let why = match c {
            Context::Deadlock => "the runtime declared `all goroutines are asleep - deadlock!`",
            Context::Test => "a test binary's dump (a `go test` timeout or test output)",
            Context::Crash => "a crash dump (panic, fatal error or signal)",
            Context::Exit => "taken as the process exited",
            Context::Live => match snap.source.format {
                Format::Attach => "read from the memory of a running process",
                Format::Core => "a core file of a running process",
                Format::ExecTrace => "the end of an execution trace's window of a running program",
                _ => "read from a running service",
            },
        };
        return (c, why.into(), false);
    }
    if let Some(r) = snap.reason.as_deref() {
        if r.contains(DEADLOCK) {
            return (
                Context::Deadlock,
                "the runtime declared `all goroutines are asleep - deadlock!`".into(),
                true,
            );
        }
        if let Some(b) = BUBBLE_DEADLOCK.iter().find(|b| r.contains(**b)) {
            return (
                Context::Deadlock,
                format!("the runtime declared a testing/synctest bubble deadlocked (`{b}`)"),
                true,
            );
        }
        if r.starts_with("panic: test timed out") {
            return (
                Context::Test,
                format!("a `go test` timeout (`{}`)", short(r)),
                true,
            );
        }
        if r.starts_with("panic:") || r.starts_with("fatal error:") || r.starts_with("SIG") {
            return (
                Context::Crash,
                format!("a crash dump (`{}`)", short(r)),
                true,
            );
        }
    }
    if let Some(f) = test_frame(snap) {
        return (
            Context::Test,
            format!("a test binary (frame `{f}`): what is still blocked after its test returned is leaked"),
            true,
        );
    }
    match snap.source.format {
        Format::Attach => {
            return (
                Context::Live,
                "read from the memory of a running process".into(),
                true,
            )
        }
        Format::Core => return (Context::Crash, "a core file".into(), true),
        _ => {}
    }
    if is_url(&snap.source.input) {
        return (Context::Live, "read from a running service".into(), true);
    }
    (
        Context::Live,
        "no sign of an exit, crash or test: judged as a running service (--context exit|test if it was taken at exit)".into(),
        true,
    )
}

fn is_url(input: &str) -> bool {
    input.starts_with("http://") || input.starts_with("https://")
}

fn short(r: &str) -> &str {
    let end = r
        .char_indices()
        .nth(80)
        .map_or(r.len(), |(i, _)| i)
        .min(r.find('\n').unwrap_or(r.len()));
    &r[..end]
}

/// A frame that only a test binary runs, if any (checked once per distinct stack).
fn test_frame(snap: &Snapshot) -> Option<String> {
    let mut seen = rustc_hash::FxHashSet::default();
    let stacks = snap
        .goroutines
        .iter()
        .map(|g| g.stack)
        .chain(snap.records.iter().map(|r| r.stack));
    for st in stacks {
        if !seen.insert(st) {
            continue;
        }
        for &f in snap.stack(st) {
            let s = snap.frame_site(f);
            if s.function == "testing.tRunner"
                || s.function == "testing.(*M).Run"
                || s.file.ends_with("_test.go")
            {
                return Some(s.function.to_string());
            }
        }
        if seen.len() > 10_000 {
            break; // a test binary's dump shows its harness within the first stacks
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testkit::*;
    use goroscope_model::ProfileKind;

    fn snap_with(reason: Option<&str>, frames: &[(&'static str, &'static str, u32)]) -> Snapshot {
        let mut s = snapshot(&[G::new("chan receive", frames)], ProfileKind::Goroutine);
        s.reason = reason.map(String::from);
        s
    }

    #[test]
    fn order_of_evidence() {
        let user = [("main.f", "/src/main.go", 3)];
        let s = snap_with(
            Some("fatal error: all goroutines are asleep - deadlock!"),
            &user,
        );
        assert_eq!(effective(&s, None).0, Context::Deadlock);
        // --context wins over everything.
        assert_eq!(effective(&s, Some(Context::Live)).0, Context::Live);
        // The reader's word wins over inference.
        let mut r = s.clone();
        r.context = Some(Context::Exit);
        assert_eq!(effective(&r, None).0, Context::Exit);
        let s = snap_with(Some("panic: test timed out after 10m0s"), &user);
        assert_eq!(effective(&s, None).0, Context::Test);
        let s = snap_with(Some("panic: runtime error: index out of range"), &user);
        assert_eq!(effective(&s, None).0, Context::Crash);
        let s = snap_with(Some("SIGQUIT: quit"), &user);
        assert_eq!(effective(&s, None).0, Context::Crash);
        let s = snap_with(
            Some("panic: deadlock: main bubble goroutine has exited but blocked goroutines remain [recovered, repanicked]"),
            &user,
        );
        assert_eq!(effective(&s, None).0, Context::Deadlock);
        let s = snap_with(
            None,
            &[
                ("main.f", "/src/x_test.go", 3),
                ("testing.tRunner", "testing.go", 1),
            ],
        );
        let (c, info) = effective(&s, None);
        assert_eq!(c, Context::Test);
        assert!(
            info.inferred && info.why.contains("`main.f`"),
            "{}",
            info.why
        );
        let s = snap_with(None, &user);
        let (c, info) = effective(&s, None);
        assert_eq!((c, info.inferred), (Context::Live, true));
        let mut u = s.clone();
        u.source.input = "http://127.0.0.1:6060/debug/pprof/goroutine".into();
        assert_eq!(effective(&u, None).1.why, "read from a running service");
    }
}
