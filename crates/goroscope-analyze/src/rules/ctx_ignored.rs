//! `ctx-ignored`: copies of a worker sleeping or waiting past their caller's context.
use super::{Ctx, Finding, Rule};
use crate::report::Verdict;
use goroscope_model::WaitReason;

pub const RULE: Rule = Rule {
    id: "ctx-ignored",
    summary: "several copies of one worker asleep in user code, outliving their callers",
    why: "a worker that sleeps or polls without watching ctx.Done() keeps running after its caller gave up; one per call accumulates",
    example: "fixtures/go/ctx-ignored/main.go: slowWorker takes ctx but calls time.Sleep(time.Hour) instead of selecting on ctx.Done()",
    fix: "replace time.Sleep with `select { case <-time.After(d): case <-ctx.Done(): return ctx.Err() }` and check ctx between steps",
    check,
};

/// One sleeping goroutine is an ordinary background poller (benign); several started by the
/// same `go` statement are one per call: `suspect`.
fn check(cx: &Ctx<'_>) -> Option<Finding> {
    if cx.reason? != WaitReason::Sleep || !cx.blocks_in_user_code() || cx.count < 2 {
        return None;
    }
    Some(cx.basic_evidence(Finding::new(
        Verdict::Suspect,
        "several copies of one worker sleep in user code: each call started one that does not stop when its caller's context ends",
    )))
}

#[cfg(test)]
mod tests {
    use crate::rules::testkit::*;
    use crate::Verdict;

    #[test]
    fn several_sleepers_are_suspect_one_is_not() {
        let st = [
            ("time.Sleep", "time.go", 300),
            ("main.slowWorker", "main.go", 15),
        ];
        let seven = [G::new("sleep", &st)
            .by(("main.fetch", "main.go", 24))
            .creator(1)
            .times(7)];
        assert_eq!(
            undecided_live_leaked_at_exit(&seven).as_deref(),
            Some("ctx-ignored")
        );
        let g = one(&[G::new("sleep", &st)
            .by(("main.fetch", "main.go", 24))
            .creator(1)]);
        assert_eq!(g.verdict, Verdict::Benign);
    }
}
