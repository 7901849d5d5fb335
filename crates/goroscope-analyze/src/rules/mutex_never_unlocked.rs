//! `mutex-never-unlocked`: goroutines queued on a Mutex/RWMutex whose holder never unlocks.
use super::{Ctx, Finding, Rule};
use crate::report::Verdict;
use goroscope_model::WaitReason;

pub const RULE: Rule = Rule {
    id: "mutex-never-unlocked",
    summary: "goroutines blocked acquiring a sync.Mutex or RWMutex",
    why: "a path that returns while holding the lock (an early error return without Unlock) blocks every later Lock forever",
    example: "fixtures/go/mutex-never-unlocked/main.go: refresh() returns an error without c.mu.Unlock()",
    fix: "`mu.Lock(); defer mu.Unlock()` so every path releases the lock",
    check,
};

/// `Lock`/`RLock` of any mutex type: `sync.(*Mutex).Lock`, and wrappers such as
/// `gvisor.dev/gvisor/pkg/sync.(*RWMutex).RLock` that print plain `semacquire`.
fn is_lock_method(f: &str) -> bool {
    (f.contains("Mutex).Lock") || f.contains("Mutex).RLock") || f.contains("Mutex).lockSlow"))
        && !f.contains("Unlock")
}

fn check(cx: &Ctx<'_>) -> Option<Finding> {
    let r = cx.reason?;
    let lock = matches!(
        r,
        WaitReason::SyncMutexLock | WaitReason::SyncRwMutexLock | WaitReason::SyncRwMutexRLock
    ) || (r == WaitReason::Semacquire && cx.functions().any(is_lock_method));
    if !lock || !cx.in_user_code() {
        return None;
    }
    Some(cx.basic_evidence(Finding::new(
        Verdict::Suspect,
        "waiting for a lock that its holder may never release",
    )))
}

#[cfg(test)]
mod tests {
    use crate::rules::testkit::*;
    use crate::Verdict;

    #[test]
    fn lock_waits_are_suspect() {
        for st in ["sync.Mutex.Lock", "sync.RWMutex.RLock"] {
            let gs = [G::new(st, &[("main.(*cache).get", "main.go", 27)]).times(6)];
            assert_eq!(
                undecided_live_leaked_at_exit(&gs).as_deref(),
                Some("mutex-never-unlocked")
            );
        }
        // Go 1.21 prints semacquire; the frames say it is a Mutex.
        let g = one(&[G::new(
            "semacquire",
            &[
                ("sync.runtime_SemacquireMutex", "sema.go", 77),
                ("sync.(*Mutex).lockSlow", "mutex.go", 171),
                ("sync.(*Mutex).Lock", "mutex.go", 90),
                ("main.(*cache).get", "main.go", 27),
            ],
        )]);
        assert_eq!(g.pattern.as_deref(), Some("mutex-never-unlocked"));
        // A library's own RWMutex (gVisor's stuck-task reports) parks in plain semacquire.
        let g = one(&[G::new(
            "semacquire",
            &[
                ("sync.runtime_SemacquireMutex", "sema.go", 71),
                (
                    "gvisor.dev/gvisor/pkg/sync.(*RWMutex).RLock",
                    "rwmutex_unsafe.go",
                    76,
                ),
                (
                    "gvisor.dev/gvisor/pkg/sentry/mm.(*MemoryManager).HandleUserFault",
                    "fault.go",
                    40,
                ),
            ],
        )]);
        assert_eq!(
            (g.verdict, g.pattern.as_deref()),
            (Verdict::NeedMoreSamples, Some("mutex-never-unlocked"))
        );
        let g = one(&[G::new(
            "semacquire",
            &[
                ("sync.runtime_Semacquire", "sema.go", 62),
                ("main.waitTokens", "main.go", 5),
            ],
        )]);
        assert_ne!(g.pattern.as_deref(), Some("mutex-never-unlocked"));
    }
}
