//! `nil-chan`: a send or receive on a nil channel blocks forever.
use super::{Ctx, Finding, Rule};
use crate::report::Verdict;
use goroscope_model::WaitReason;

pub const RULE: Rule = Rule {
    id: "nil-chan",
    summary: "send or receive on a nil channel",
    why: "an operation on a nil channel can never proceed: nothing can send to or close a nil channel, so the goroutine is stuck for good",
    example: "fixtures/go/nil-chan/main.go: a struct's channel field is never initialised (`n.events <- \"started\"`)",
    fix: "initialise the channel (make(chan T)) before use, or guard the operation; in a select, a nil case is only fine if another case can fire",
    check,
};

fn check(cx: &Ctx<'_>) -> Option<Finding> {
    match cx.reason? {
        WaitReason::ChanReceiveNilChan | WaitReason::ChanSendNilChan => {
            Some(cx.basic_evidence(Finding::new(
                Verdict::Leak,
                format!(
                    "{} on a nil channel, which blocks forever",
                    cx.reason?.as_str().trim_end_matches(" (nil chan)")
                ),
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::testkit::*;
    use crate::Verdict;

    #[test]
    fn nil_send_and_receive_are_leaks() {
        for st in ["chan send (nil chan)", "chan receive (nil chan)"] {
            let g = one(&[G::new(st, &[("main.(*notifier).publish", "main.go", 12)]).times(3)]);
            assert_eq!(g.verdict, Verdict::Leak, "{st}");
            assert_eq!(g.pattern.as_deref(), Some("nil-chan"));
        }
        let g = one(&[G::new("chan send", &[("main.f", "main.go", 3)])]);
        assert_ne!(g.pattern.as_deref(), Some("nil-chan"));
    }
}
