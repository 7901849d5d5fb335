//! `range-never-closed`: `for v := range ch` over a channel whose producer never closes it.
use super::chan_receive_no_sender::receive_verdict;
use super::{Ctx, Finding, Rule};
use goroscope_model::WaitReason;

pub const RULE: Rule = Rule {
    id: "range-never-closed",
    summary: "a `for range` over a channel that is never closed",
    why: "a range over a channel ends only when the channel is closed; a producer that returns without close(ch) leaves every consumer waiting forever",
    example: "fixtures/go/range-never-closed/main.go: pipeline() sends three values and returns without close(in)",
    fix: "the producer (the only writer) closes the channel when done: `defer close(out)`",
    check,
};

/// Needs `runtime.chanrecv2` on the stack (a range loop or `v, ok := <-ch`), so only forms that
/// keep runtime frames (debug=2 before Go 1.27, protobuf) can name this pattern; elsewhere the
/// group is reported as `chan-receive-no-sender`.
fn check(cx: &Ctx<'_>) -> Option<Finding> {
    if cx.reason? != WaitReason::ChanReceive || !cx.blocks_in_user_code() || !cx.facts.recv2 {
        return None;
    }
    let (v, why) = receive_verdict(cx, false);
    Some(
        cx.basic_evidence(Finding::new(
            v,
            "a range (or comma-ok receive) over a channel that is not closed",
        ))
        .with("runtime.chanrecv2 on the stack: a `for range` or `v, ok := <-ch`")
        .with(why),
    )
}

#[cfg(test)]
mod tests {
    use crate::rules::testkit::*;
    use crate::Verdict;

    #[test]
    fn range_receivers_from_one_creator_need_samples() {
        let st = [
            ("runtime.gopark", "proc.go", 1),
            ("runtime.chanrecv", "chan.go", 2),
            ("runtime.chanrecv2", "chan.go", 3),
            ("main.consume", "main.go", 9),
        ];
        let g = one(&[G::new("chan receive", &st)
            .by(("main.pipeline", "main.go", 19))
            .creator(1)
            .times(8)]);
        assert_eq!(
            (g.verdict, g.pattern.as_deref()),
            (Verdict::NeedMoreSamples, Some("range-never-closed"))
        );
        let single = [G::new("chan receive", &st)
            .by(("main.pipeline", "main.go", 19))
            .creator(1)];
        assert_eq!(
            undecided_live_leaked_at_exit(&single).as_deref(),
            Some("range-never-closed")
        );
        // Proven by the runtime: a leak.
        let g = one(&[G::new("chan receive (leaked)", &st)
            .by(("main.pipeline", "main.go", 19))
            .creator(1)
            .times(8)]);
        assert_eq!((g.verdict, g.proven), (Verdict::Leak, true));
    }
}
