//! `chan-receive-no-sender`: user code blocked receiving from a channel nobody sends on.
use super::{Ctx, Finding, Rule};
use crate::report::Verdict;
use goroscope_model::WaitReason;

pub const RULE: Rule = Rule {
    id: "chan-receive-no-sender",
    summary: "a goroutine blocked receiving from a channel no one will send on or close",
    why: "a receive waits until a sender arrives or the channel is closed; when the only sender returned early (an error path, a timeout) or was never started, the receiver and everything it references stay forever",
    example: "fixtures/go/chan-receive-no-sender/main.go: `go func() { <-ch }()` where nothing ever sends on ch",
    fix: "make every path that abandons the channel close it (defer close(ch)), or select on ctx.Done()/a done channel beside the receive",
    check,
};

/// The verdict of a user-code receive: `suspect` for a plain `<-ch` (runtime.chanrecv1
/// visible) or a few goroutines from many creators; `need-more-samples` for the worker-pool
/// shape (several goroutines from one `go` statement and one creator), which one snapshot
/// cannot tell from a loop of leaks. Minutes are reported, not used: an idle pool waits for
/// minutes too.
pub(super) fn receive_verdict(cx: &Ctx<'_>, plain_receive: bool) -> (Verdict, &'static str) {
    if plain_receive {
        (
            Verdict::Suspect,
            "a plain `<-ch` statement (runtime.chanrecv1), not a loop waiting for work",
        )
    } else if cx.pool_shape() {
        (
            Verdict::NeedMoreSamples,
            "several goroutines from one go statement and one creator wait alike: a worker pool or a loop of leaks; a trend or a goroutineleak profile (--prove) decides",
        )
    } else {
        (Verdict::Suspect, "blocked receiving in user code")
    }
}

fn check(cx: &Ctx<'_>) -> Option<Finding> {
    if cx.reason? != WaitReason::ChanReceive || !cx.blocks_in_user_code() {
        return None;
    }
    if cx.facts.recv2 {
        return None; // range-never-closed
    }
    let plain = cx.runtime_frames_visible() && cx.has_function("runtime.chanrecv1");
    let (v, why) = receive_verdict(cx, plain);
    Some(
        cx.basic_evidence(Finding::new(
            v,
            "blocked receiving from a channel that no goroutine may ever send on or close",
        ))
        .with(why),
    )
}

#[cfg(test)]
mod tests {
    use crate::rules::testkit::*;

    #[test]
    fn receives_in_user_code_need_samples_live_and_leak_at_exit() {
        let rt = [
            ("runtime.gopark", "proc.go", 1),
            ("runtime.chanrecv", "chan.go", 2),
            ("runtime.chanrecv1", "chan.go", 3),
            ("main.leakRecv.func1", "main.go", 24),
        ];
        // A plain `<-ch` (runtime.chanrecv1 visible), the pool shape (Go 1.27 debug=2: no
        // runtime frames, 10 goroutines from one creator), a single one, or one each from many
        // creators: one live snapshot decides none of them; at exit all are leaked.
        let plain = [G::new("chan receive", &rt)
            .by(("main.leakRecv", "main.go", 20))
            .creator(1)
            .times(10)];
        let pool = [G::new("chan receive", &rt[3..])
            .by(("main.leakRecv", "main.go", 20))
            .creator(1)
            .times(10)];
        let single = [G::new("chan receive", &rt[3..])
            .by(("main.handle", "main.go", 20))
            .creator(7)];
        let many: Vec<G> = (0..4)
            .map(|i| {
                G::new("chan receive", &rt[3..])
                    .by(("main.handle", "main.go", 20))
                    .creator(100 + i)
            })
            .collect();
        for gs in [&plain[..], &pool[..], &single[..], &many[..]] {
            assert_eq!(
                undecided_live_leaked_at_exit(gs).as_deref(),
                Some("chan-receive-no-sender")
            );
        }
        let g = one(&plain);
        assert!(
            g.evidence.iter().any(|e| e.contains("plain `<-ch`")),
            "{g:#?}"
        );
        assert_eq!(one(&many).count, 4);
        // Standard library receives are not this rule's business.
        let g = one(&[G::new(
            "chan receive",
            &[("net/http.(*Server).Shutdown", "server.go", 1)],
        )]);
        assert_ne!(g.pattern.as_deref(), Some("chan-receive-no-sender"));
    }
}
