//! `chan-send-receiver-gone`: a send nobody will receive (the receiver returned early).
use super::{Ctx, Finding, Rule};
use crate::report::Verdict;
use goroscope_model::WaitReason;

pub const RULE: Rule = Rule {
    id: "chan-send-receiver-gone",
    summary: "a goroutine blocked sending on a channel whose receiver has gone",
    why: "an unbuffered send waits for a receiver; when the caller stopped listening (a timeout or error path in a select), the worker blocks on its result send forever",
    example: "fixtures/go/chan-send-receiver-gone/main.go: `result <- v` after the caller's select took `<-ctx.Done()`",
    fix: "give the result channel a buffer of 1 (make(chan T, 1)) so the send completes, or select on ctx.Done() beside the send",
    check,
};

fn check(cx: &Ctx<'_>) -> Option<Finding> {
    if cx.reason? != WaitReason::ChanSend || !cx.blocks_in_user_code() {
        return None;
    }
    Some(cx.basic_evidence(Finding::new(
        Verdict::Suspect,
        "blocked sending on a channel nobody receives from any more",
    )))
}

#[cfg(test)]
mod tests {
    use crate::rules::testkit::*;

    #[test]
    fn labels_of_every_goroutine_are_collected() {
        let st = [("main.send.func1", "main.go", 3)];
        let r = report(&[
            G::new("chan send", &st)
                .label("tenant", "b")
                .label("job", "x")
                .times(2),
            G::new("chan send", &st).label("tenant", "a"),
            G::new("chan send", &st),
        ]);
        assert_eq!(r.groups.len(), 1, "labels do not split groups");
        let g = &r.groups[0];
        assert_eq!(g.count, 4);
        assert_eq!(g.labels["tenant"], vec!["a", "b"]);
        assert_eq!(g.labels["job"], vec!["x"]);
    }

    #[test]
    fn user_send_is_suspect() {
        let gs = [G::new("chan send", &[("main.query.func1", "main.go", 28)])
            .by(("main.query", "main.go", 25))
            .creator(1)
            .times(10)];
        assert_eq!(
            undecided_live_leaked_at_exit(&gs).as_deref(),
            Some("chan-send-receiver-gone")
        );
        let g = one(&gs);
        assert!(g.explanation.is_some() && g.fix.is_some());
    }
}
