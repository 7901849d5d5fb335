//! `waitgroup-missing-done`: a WaitGroup.Wait that never returns.
use super::{Ctx, Finding, Rule};
use crate::report::Verdict;
use goroscope_model::WaitReason;

pub const RULE: Rule = Rule {
    id: "waitgroup-missing-done",
    summary: "a goroutine blocked in sync.WaitGroup.Wait",
    why: "Wait returns when the counter reaches zero; a worker that returns on an early path without Done (or an Add that is never matched) keeps the waiter blocked forever",
    example: "fixtures/go/waitgroup-missing-done/main.go: wg.Add(2) but one worker returns without wg.Done()",
    fix: "call `defer wg.Done()` as the first statement of every worker, and Add before the go statement",
    check,
};

fn check(cx: &Ctx<'_>) -> Option<Finding> {
    let r = cx.reason?;
    // Before Go 1.25 a WaitGroup wait is printed as plain `semacquire`: the frames tell.
    let wg = r == WaitReason::SyncWaitGroupWait
        || (r == WaitReason::Semacquire && cx.has_function("sync.(*WaitGroup).Wait"));
    if !wg || !cx.in_user_code() {
        return None;
    }
    Some(cx.basic_evidence(Finding::new(
        Verdict::Suspect,
        "waiting for a WaitGroup whose counter may never reach zero",
    )))
}

#[cfg(test)]
mod tests {
    use crate::rules::testkit::*;

    #[test]
    fn waitgroup_wait_in_user_code_is_suspect_in_every_form() {
        let go125 = G::new(
            "sync.WaitGroup.Wait",
            &[
                ("sync.(*WaitGroup).Wait", "waitgroup.go", 118),
                ("main.fanOut.func3", "main.go", 21),
            ],
        );
        let go121 = G::new(
            "semacquire",
            &[
                ("runtime.gopark", "proc.go", 1),
                ("sync.runtime_Semacquire", "sema.go", 62),
                ("sync.(*WaitGroup).Wait", "waitgroup.go", 116),
                ("main.fanOut.func3", "main.go", 21),
            ],
        );
        let debug1 = G::new(
            "",
            &[
                ("sync.runtime_SemacquireWaitGroup", "sema.go", 114),
                ("sync.(*WaitGroup).Wait", "waitgroup.go", 118),
                ("main.fanOut.func3", "main.go", 21),
            ],
        );
        for g in [go125, go121, debug1] {
            let gs = [g.times(9)];
            assert_eq!(
                undecided_live_leaked_at_exit(&gs).as_deref(),
                Some("waitgroup-missing-done"),
            );
            let g = one(&gs);
            assert_eq!(
                g.blocking_site.as_ref().unwrap().function,
                "main.fanOut.func3"
            );
        }
    }
}
