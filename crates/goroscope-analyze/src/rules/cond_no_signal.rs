//! `cond-no-signal`: sync.Cond.Wait with nobody left to Signal/Broadcast.
use super::{Ctx, Finding, Rule};
use crate::report::Verdict;
use goroscope_model::WaitReason;

pub const RULE: Rule = Rule {
    id: "cond-no-signal",
    summary: "goroutines blocked in sync.Cond.Wait",
    why: "Cond.Wait returns only after Signal or Broadcast; if the condition's owner never signals (or signalled before the wait), waiters stay forever",
    example: "fixtures/go/cond-no-signal/main.go: gate.wait() loops on cond.Wait() and nothing ever opens the gate",
    fix: "Broadcast on every state change (including shutdown), or replace the Cond with a channel that is closed",
    check,
};

fn check(cx: &Ctx<'_>) -> Option<Finding> {
    if cx.reason? != WaitReason::SyncCondWait || !cx.in_user_code() {
        return None;
    }
    Some(cx.basic_evidence(Finding::new(
        Verdict::Suspect,
        "waiting on a sync.Cond that may never be signalled",
    )))
}

#[cfg(test)]
mod tests {
    use crate::rules::testkit::*;

    #[test]
    fn cond_wait_is_suspect() {
        let gs = [G::new(
            "sync.Cond.Wait",
            &[
                ("sync.(*Cond).Wait", "cond.go", 71),
                ("main.(*gate).wait", "main.go", 20),
            ],
        )
        .times(5)];
        assert_eq!(
            undecided_live_leaked_at_exit(&gs).as_deref(),
            Some("cond-no-signal")
        );
        let g = one(&gs);
        assert_eq!(g.blocking_site.unwrap().function, "main.(*gate).wait");
    }
}
