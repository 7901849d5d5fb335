//! `background-loop`: copies of one background loop whose owners were dropped without stopping them.
use super::{Ctx, Finding, Rule};
use crate::report::Verdict;
use goroscope_model::WaitReason;

pub const RULE: Rule = Rule {
    id: "background-loop",
    summary: "several copies of one select loop in user code (a ticker/flush loop per owner)",
    why: "a loop that exits only when its owner closes a stop channel runs for the life of the process when the owner is dropped without Close; one leaks per owner",
    example: "fixtures/go/background-loop/main.go: newBatcher starts flushLoop; nothing ever closes b.stop",
    fix: "give the owner a Close/Stop that closes the stop channel (or cancels a context) and call it; tie the loop to a context",
    check,
};

/// A single select loop is a normal background task (benign); several from one `go`
/// statement are one per owner: `suspect`.
fn check(cx: &Ctx<'_>) -> Option<Finding> {
    if cx.reason? != WaitReason::Select || !cx.blocks_in_user_code() || cx.count < 2 {
        return None;
    }
    Some(cx.basic_evidence(Finding::new(
        Verdict::Suspect,
        "several copies of one select loop: each owner started one and none stopped it",
    )))
}

#[cfg(test)]
mod tests {
    use crate::rules::testkit::*;
    use crate::Verdict;

    #[test]
    fn several_loops_are_suspect() {
        let st = [("main.(*batcher).flushLoop", "main.go", 21)];
        let five = [G::new("select", &st)
            .by(("main.newBatcher", "main.go", 33))
            .creator(1)
            .times(5)];
        assert_eq!(
            undecided_live_leaked_at_exit(&five).as_deref(),
            Some("background-loop")
        );
        let g = one(&[G::new("select", &st)
            .by(("main.newBatcher", "main.go", 33))
            .creator(1)]);
        assert_eq!(g.verdict, Verdict::Benign);
    }
}
